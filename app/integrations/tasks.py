"""What core.jobs runs for integrations (each takes ids, loads, calls a service, and is safe to run twice),
and the schedules integrations registers."""

# -- contact sync (connections) --

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
