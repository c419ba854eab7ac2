"""What core.jobs runs for integrations (each takes ids, loads, calls a service, and is safe to run twice),
and the schedules integrations registers."""
from app.integrations import channel  # noqa: F401  (registers the workspace's mail channel with core.mail)

# -- contact sync (connections) --

def sync_contact(record_id: str) -> None:
    """Push one queued SyncRecord's contact to its list (`sync.push`). A retryable provider failure is raised so
    RQ runs it again (60/120/240 s); a record already done is left as it is, so running twice is safe."""
    from app.integrations import sync

    sync.push(record_id)


def sync_all(job_id: str, connection_id: str) -> dict:
    """Tracked job: push every contact with an e-mail to the connection's chosen lists (`sync.run_sync_all`),
    with progress; run again, it goes on after the contacts it has done."""
    from app.integrations import sync

    return sync.run_sync_all(job_id, connection_id)


# -- SMS --

def send_sms(sms_id: str) -> str:
    """Send one queued SmsMessage (`sms.deliver`). A timeout, 5xx or 429 is raised again so RQ retries (60/120/
    240 s) until its last attempt, which marks the SMS failed with the reason; an SMS already sent is not sent
    again, so running twice is safe."""
    from app.integrations import sms

    return sms.deliver(sms_id, final_attempt=_retries_left() == 0)


def _retries_left() -> int:
    """How many more times RQ will run the current job after a failure (0 outside RQ: no retry to wait for)."""
    try:
        from rq import get_current_job

        rq_job = get_current_job()
    except Exception:  # no Redis connection in this process: not an RQ job
        return 0
    return (rq_job.retries_left or 0) if rq_job is not None else 0


# -- outgoing webhooks --

from app.core.schedule import scheduled  # noqa: E402
from app.integrations import webhooks  # noqa: E402  (its subscriber of every event fans out the messages)


def deliver_webhook(message_id: str, trigger: str = "auto") -> str:
    """One attempt of an outgoing webhook message (`webhooks.deliver`): skipped unless it is due (a manual
    redelivery is due at once) and no other run holds it; a failure schedules the next attempt itself (no RQ
    retry), so running twice is safe."""
    return webhooks.deliver(message_id, trigger)


@scheduled("webhooks-due", "* * * * *")
def webhooks_due() -> int:
    """Start the webhook messages whose next attempt is due and that no queued job holds (a lost job's)."""
    return webhooks.enqueue_due()
