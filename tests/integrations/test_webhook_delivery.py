"""Delivering outgoing webhooks to receivers (local stand-ins): Standard Webhooks signatures checked with the
`standardwebhooks` package, retries and their delays, Retry-After, timeouts, 410, a day of failures,
redirects and private addresses refused, secret rotation, manual redelivery, test events, and once-only
bookkeeping under concurrency and a flaky receiver."""
import hashlib
import http.server
import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from app.core import events, jobs, schedule
from app.core.models import Notification
from app.extensions import db
from app.integrations import safehttp, tasks, webhooks
from app.integrations.models import WebhookEndpoint, WebhookMessage
from tests import factories
from tests.conftest import run_jobs
from tests.integrations.webhook_support import (  # noqa: F401 (receiver_fixture: the `receiver` fixture)
    attempts_of,
    body,
    make_endpoint,
    messages_of,
    receiver_fixture,
    signatures,
    verified,
)


@pytest.fixture
def workspace(owner):
    user, account = owner
    admin = factories.add_member(account, "admin", email="ada@example.com", name="Ada Admin")
    return account, admin, user


def scheduled_delays(queue) -> list[float]:
    """Seconds from now of each delivery job waiting in RQ's scheduled registry."""
    registry = ScheduledJobRegistry(queue=queue)
    now = datetime.now(UTC)
    return sorted((registry.get_scheduled_time(job_id) - now).total_seconds() for job_id in registry.get_job_ids())


def one_message(endpoint) -> WebhookMessage:
    (message,) = messages_of(endpoint)
    return message


# ---- a delivery -----------------------------------------------------------------------------------------

def test_an_event_reaches_the_receiver_signed_as_standard_webhooks_says(app, workspace, receiver):
    account, admin, _ = workspace
    receiver.expect("POST", "/hooks", 200, json={"received": True})
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks", ["contact.created", "tag.added"])
    secret = webhooks.secret_of(endpoint)
    assert secret.startswith("whsec_") and len(Webhook(secret)._whsecret) == 24

    contact = factories.make_contact(account, admin, first_name="Rosa", last_name="Park", email="rosa@example.com")
    run_jobs(app)

    (request,) = receiver.received("POST", "/hooks")
    payload = verified(request, secret)  # the receiver's own check passes
    message = one_message(endpoint)
    assert request.headers["webhook-id"] == message.webhook_id and message.webhook_id.startswith("msg_")
    assert abs(int(request.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 30
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("Leadforge-Webhooks/")
    assert request.body == webhooks.body_bytes(message.payload)  # the bytes signed are the bytes sent
    assert payload["type"] == "contact.created" and payload["timestamp"].endswith("Z")
    datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
    assert payload["data"]["contact_id"] == str(contact.id) and "account_id" not in payload["data"]
    assert payload["data"]["contact"]["email"] == "rosa@example.com"
    assert payload["data"]["contact"]["first_name"] == "Rosa"

    assert (message.status, message.attempts, message.last_status_code) == ("delivered", 1, 200)
    assert message.delivered_at is not None and message.next_attempt_at is None
    (attempt,) = attempts_of(message)
    assert (attempt.ok, attempt.status_code, attempt.trigger, attempt.number) == (True, 200, "auto", 1)
    assert attempt.response_excerpt == '{"received": true}'
    assert attempt.request_headers["webhook-signature"] == request.headers["webhook-signature"]
    assert attempt.duration_ms >= 0 and attempt.url == endpoint.url
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).last_delivery_at is not None


def test_a_receiver_answering_500_is_retried_with_growing_delays_then_given_up(app, workspace, receiver):
    account, admin, _ = workspace
    receiver.expect("POST", "/hooks", 500, body="boom " * 1000)
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
    factories.make_contact(account, admin, email="retry@example.com")
    run_jobs(app)

    message = one_message(endpoint)
    (attempt,) = attempts_of(message)
    assert (message.status, message.last_status_code) == ("retrying", 500)
    assert message.last_error == "The receiver answered 500 Internal Server Error."
    assert len(attempt.response_excerpt) == 2048 and not attempt.ok
    assert message.next_attempt_at == attempt.created_at + timedelta(seconds=60)
    delays = scheduled_delays(jobs.queue())
    assert len(delays) == 1 and 55 <= delays[0] <= 60  # the next try waits in RQ's scheduled registry
    assert jobs.queue().count == 0

    # Time goes on: each try when it is due (passing `now`), the next one later each time.
    seen = []
    for _ in range(len(webhooks.RETRY_DELAYS)):
        due = message.next_attempt_at
        assert webhooks.deliver(message.id, now=due - timedelta(seconds=1)) == "skipped"  # not yet
        outcome = webhooks.deliver(message.id, now=due)
        db.session.expire_all()
        message = db.session.get(WebhookMessage, message.id)
        if outcome == "retrying":
            seen.append((message.next_attempt_at - due).total_seconds())
    assert seen == [120, 240, 1800, 7200, 18000, 36000, 36000]
    assert (message.status, message.attempts, message.next_attempt_at) == ("failed", 9, None)
    assert len(receiver.received("POST", "/hooks")) == 9
    assert {request.headers["webhook-id"] for request in receiver.requests} == {message.webhook_id}


@pytest.mark.parametrize("retry_after, expected", [
    ("600", 600),                 # later than the schedule's 60 s: the receiver's wait
    ("5", 60),                    # sooner: the schedule's
    ("86400", 6 * 3600),          # a day: capped at 6 hours
    ("date+7200", 7200),          # an HTTP date two hours ahead
    ("soon", 60),                 # unreadable: ignored
])
def test_retry_after_is_honoured(app, workspace, receiver, retry_after, expected):
    account, admin, _ = workspace
    make_endpoint(account, admin, f"{receiver.url}/hooks")
    now = datetime.now(UTC).replace(microsecond=0)
    if retry_after.startswith("date+"):
        retry_after = format_datetime(now + timedelta(seconds=int(retry_after[5:])), usegmt=True)
    receiver.expect("POST", "/hooks", 429, headers={"Retry-After": retry_after})
    (message_id,) = webhooks.fan_out("contact.created", {"account_id": str(account.id)}, now=now)
    assert webhooks.deliver(message_id, now=now) == "retrying"
    message = db.session.get(WebhookMessage, message_id)
    assert (message.next_attempt_at - now).total_seconds() == expected


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(app, workspace, receiver, monkeypatch):
    account, admin, _ = workspace
    monkeypatch.setitem(app.config, "WEBHOOK_TIMEOUT", 1)
    receiver.expect("POST", "/hooks", 200, delay=2.5)
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
    factories.make_contact(account, admin, email="slow@example.com")
    run_jobs(app)
    message = one_message(endpoint)
    (attempt,) = attempts_of(message)
    assert message.status == "retrying" and attempt.status_code is None
    assert attempt.error == "No answer within 1 seconds (timed out)."
    assert 900 <= attempt.duration_ms < 2400


def test_a_410_disables_the_endpoint_at_once_and_tells_its_people(app, workspace, receiver, outbox):
    account, admin, owner_user = workspace
    receiver.expect("POST", "/hooks", 410, body="gone")
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
    now = datetime.now(UTC)
    first, second = (webhooks.fan_out("contact.created", {"account_id": str(account.id)}, now=now)[0]
                     for _ in range(2))
    jobs.queue().empty()
    assert webhooks.deliver(first, now=now) == "failed"
    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert not endpoint.is_active and "410 Gone" in endpoint.disabled_reason
    untried = db.session.get(WebhookMessage, second)
    assert (untried.status, untried.attempts) == ("failed", 0)
    assert untried.last_error == "Not sent: the endpoint was disabled."
    assert webhooks.deliver(second, now=now) == "skipped"
    assert len(receiver.requests) == 1
    assert webhooks.fan_out("contact.created", {"account_id": str(account.id)}) == []  # no longer sent to

    told = db.session.execute(select(Notification.user_id, Notification.title, Notification.url)).all()
    path = f"/integrations/webhooks/{endpoint.id}"
    assert sorted(told) == sorted([(admin.id, "Webhook endpoint disabled", path),
                                   (owner_user.id, "Webhook endpoint disabled", path)])
    run_jobs(app)  # the e-mails (queued as jobs, or sent at once)
    mails = {message["To"]: message for message in outbox}
    assert set(mails) == {admin.email, owner_user.email}
    text = mails[admin.email].get_body(("plain",)).get_content()
    assert endpoint.url in text and "410 Gone" in text and path in text


def test_a_day_of_failures_disables_the_endpoint_and_a_success_ends_a_streak(app, workspace, receiver, outbox):
    account, admin, owner_user = workspace
    failing = receiver.expect("POST", "/hooks", 500)
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
    start = datetime.now(UTC)

    def attempt_at(moment):
        (message_id,) = webhooks.fan_out("contact.created", {"account_id": str(account.id)}, now=moment)
        outcome = webhooks.deliver(message_id, now=moment)
        db.session.expire_all()
        return outcome, db.session.get(WebhookEndpoint, endpoint.id)

    outcome, state = attempt_at(start)
    assert outcome == "retrying" and state.failing_since == start and state.is_active
    outcome, state = attempt_at(start + timedelta(hours=23))
    assert state.failing_since == start and state.is_active
    # A success ends the streak...
    failing.times = 0
    receiver.expect("POST", "/hooks", 204, times=1)
    outcome, state = attempt_at(start + timedelta(hours=23, minutes=30))
    assert outcome == "delivered" and state.failing_since is None and state.is_active
    # ... so a failure after 24 hours starts a new one instead of disabling.
    receiver.expect("POST", "/hooks", 500)
    outcome, state = attempt_at(start + timedelta(hours=25))
    assert state.is_active and state.failing_since == start + timedelta(hours=25)
    assert not db.session.execute(select(Notification)).first()
    # 24 hours of failures after that, nothing delivered meanwhile: disabled, people told.
    outcome, state = attempt_at(start + timedelta(hours=49, minutes=1))
    assert outcome == "failed" and not state.is_active
    assert "failed for more than 24 hours" in state.disabled_reason
    assert {n.user_id for n in db.session.execute(select(Notification)).scalars()} == {admin.id, owner_user.id}
    waiting = [m for m in messages_of(endpoint) if m.status in ("pending", "retrying")]
    assert waiting == []  # what waited was failed with the endpoint
    run_jobs(app)
    assert {message["To"] for message in outbox} == {admin.email, owner_user.email}


def test_a_redirect_is_a_failure_and_is_not_followed(app, workspace, receiver):
    account, admin, _ = workspace
    with safehttp_standin() as target:
        receiver.expect("POST", "/hooks", 302, headers={"Location": f"{target.url}/internal"})
        endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
        factories.make_contact(account, admin, email="redirect@example.com")
        run_jobs(app)
        message = one_message(endpoint)
        assert message.status == "retrying" and message.last_status_code == 302
        assert message.last_error.startswith(f"Redirected to {target.url}/internal: not followed")
        assert target.requests == []


def safehttp_standin():
    from tests.integrations.standin import StandIn

    return StandIn()


@pytest.mark.parametrize("resolved", [["127.0.0.1"], ["10.0.0.3"], ["169.254.169.254"], ["::1"],
                                      ["::ffff:127.0.0.1"]])
def test_a_name_that_resolves_to_a_private_address_at_delivery_is_refused(app, workspace, monkeypatch, resolved):
    """DNS rebinding: public when saved, private when sent. No request leaves; the attempt says why."""
    account, admin, _ = workspace
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: ["93.184.215.14"])
    endpoint = make_endpoint(account, admin, "https://hooks.example.com/in")
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: resolved)
    connects = []
    monkeypatch.setattr(safehttp.GuardedBackend, "connect_tcp", _spy(connects, safehttp.GuardedBackend.connect_tcp))
    factories.make_contact(account, admin, email="rebind@example.com")
    run_jobs(app)
    message = one_message(endpoint)
    (attempt,) = attempts_of(message)
    assert message.status == "retrying" and attempt.status_code is None
    assert attempt.error.startswith(f"hooks.example.com resolves to {resolved[0]}, which is a")
    assert "requests to private networks are refused" in attempt.error
    assert connects == [("hooks.example.com", 443)]


def _spy(calls, method):
    def spy(self, host, port, **kwargs):
        calls.append((host, port))
        return method(self, host, port, **kwargs)

    return spy


# ---- secrets ------------------------------------------------------------------------------------------

def test_after_a_rotation_both_secrets_sign_for_24_hours(app, workspace, receiver):
    account, admin, _ = workspace
    receiver.expect("POST", "/hooks", 200)
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
    old = webhooks.secret_of(endpoint)
    rotated_at = datetime.now(UTC)
    new = webhooks.rotate_secret(account, endpoint, admin, now=rotated_at)
    assert new != old and new == webhooks.secret_of(endpoint)

    # Now: both signatures, each verified by a receiver that knows only one of the secrets.
    factories.make_contact(account, admin, email="rotate@example.com")
    run_jobs(app)
    (request,) = receiver.requests
    assert len(signatures(request)) == 2
    assert verified(request, old)["type"] == verified(request, new)["type"] == "contact.created"

    def signed_at(moment):
        receiver.reset()
        receiver.expect("POST", "/hooks", 200)
        (message_id,) = webhooks.fan_out("contact.created", {"account_id": str(account.id)}, now=moment)
        webhooks.deliver(message_id, now=moment)
        (sent,) = receiver.requests
        message = db.session.get(WebhookMessage, message_id)
        expected = {name: Webhook(secret).sign(message.webhook_id, moment, sent.body)
                    for name, secret in (("old", old), ("new", new))}
        return {name for name, signature in expected.items() if signature in signatures(sent)}, len(signatures(sent))

    assert signed_at(rotated_at + timedelta(hours=23, minutes=59)) == ({"old", "new"}, 2)
    assert signed_at(rotated_at + timedelta(hours=24, minutes=1)) == ({"new"}, 1)  # the old one has expired


# ---- by hand ------------------------------------------------------------------------------------------

def test_a_manual_redelivery_is_a_new_attempt_with_the_same_webhook_id(app, workspace, receiver, client, login):
    account, admin, _ = workspace
    receiver.expect("POST", "/hooks", 200)
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
    factories.make_contact(account, admin, email="again@example.com")
    run_jobs(app)
    message = one_message(endpoint)
    webhooks.redeliver(account, message, admin)
    run_jobs(app)
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == message.webhook_id
    assert first.body == second.body
    verified(second, webhooks.secret_of(endpoint))
    attempts = attempts_of(message)
    assert [(a.number, a.trigger, a.ok) for a in attempts] == [(1, "auto", True), (2, "manual", True)]
    assert one_message(endpoint).status == "delivered"


def test_redelivering_a_failed_message_gives_it_another_try(app, workspace, receiver):
    account, admin, _ = workspace
    receiver.expect("POST", "/hooks", 500, times=1)
    receiver.expect("POST", "/hooks", 200)
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
    now = datetime.now(UTC)
    (message_id,) = webhooks.fan_out("contact.created", {"account_id": str(account.id)}, now=now)
    message = db.session.get(WebhookMessage, message_id)
    message.status, message.next_attempt_at = "failed", None  # its retries used up
    db.session.commit()
    jobs.queue().empty()
    webhooks.redeliver(account, message, admin)
    assert one_message(endpoint).status == "pending"
    run_jobs(app)
    assert len(receiver.requests) == 1 and one_message(endpoint).status == "retrying"  # failed: retried later
    webhooks.redeliver(account, one_message(endpoint), admin)
    run_jobs(app)
    assert one_message(endpoint).status == "delivered"


def test_redelivery_to_a_disabled_endpoint_is_refused(app, workspace, receiver):
    from app.core.errors import ConflictError

    account, admin, _ = workspace
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
    (message_id,) = webhooks.fan_out("contact.created", {"account_id": str(account.id)})
    webhooks.set_active(account, endpoint, False, admin)
    with pytest.raises(ConflictError, match="disabled"):
        webhooks.redeliver(account, db.session.get(WebhookMessage, message_id), admin)


def test_a_test_event_is_sent_once_and_leaves_the_endpoint_health_alone(app, workspace, receiver):
    account, admin, _ = workspace
    receiver.expect("POST", "/hooks", 500)
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
    message = webhooks.send_test(account, endpoint, admin)
    run_jobs(app)
    (request,) = receiver.requests
    payload = verified(request, webhooks.secret_of(endpoint))
    assert payload["type"] == "webhook.test" and payload["data"]["endpoint_id"] == str(endpoint.id)
    db.session.expire_all()
    message = db.session.get(WebhookMessage, message.id)
    assert message.is_test and message.status == "failed"  # not retried
    assert [a.trigger for a in attempts_of(message)] == ["test"]
    assert db.session.get(WebhookEndpoint, endpoint.id).failing_since is None
    assert scheduled_delays(jobs.queue()) == []


# ---- once ----------------------------------------------------------------------------------------------

def test_two_runs_of_one_message_at_once_send_it_once(app, workspace, receiver):
    account, admin, _ = workspace
    receiver.expect("POST", "/hooks", 200, delay=0.5)
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
    (message_id,) = webhooks.fan_out("contact.created", {"account_id": str(account.id)})
    outcomes = []
    barrier = threading.Barrier(3)

    def run():
        with app.app_context():
            barrier.wait()
            outcomes.append(tasks.deliver_webhook(str(message_id)))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["delivered", "skipped", "skipped"]
    assert len(receiver.requests) == 1
    run_jobs(app)  # the job the fan-out queued finds it delivered
    assert len(receiver.requests) == 1 and len(attempts_of(one_message(endpoint))) == 1


def test_the_sweeper_starts_due_messages_that_no_job_holds(app, workspace, receiver):
    account, admin, _ = workspace
    assert schedule.REGISTRY["webhooks-due"].cron == "* * * * *"
    receiver.expect("POST", "/hooks", 200)
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")
    (message_id,) = webhooks.fan_out("contact.created", {"account_id": str(account.id)})
    assert webhooks.held([str(message_id)]) == {str(message_id)}
    assert webhooks.enqueue_due() == 0  # its job is queued: not twice
    jobs.queue().empty()  # the job is lost...
    assert webhooks.enqueue_due() == 0  # ... but its hold lasts until it should have run
    jobs.redis_connection().delete(webhooks.HOLD_KEY + str(message_id))  # that time has passed
    assert tasks.webhooks_due() == 1
    run_jobs(app)
    assert one_message(endpoint).status == "delivered" and len(receiver.requests) == 1


def test_a_queue_that_is_down_loses_no_webhook(app, workspace, receiver, monkeypatch):
    account, admin, _ = workspace
    receiver.expect("POST", "/hooks", 200)
    endpoint = make_endpoint(account, admin, f"{receiver.url}/hooks")

    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    with monkeypatch.context() as patched:
        patched.setattr(jobs, "enqueue", down)
        factories.make_contact(account, admin, email="down@example.com")  # the publisher does not fail
    message = one_message(endpoint)
    assert message.status == "pending" and webhooks.held([str(message.id)]) == set()
    assert webhooks.enqueue_due() == 1
    run_jobs(app)
    assert one_message(endpoint).status == "delivered"


# ---- a flaky receiver under load ----------------------------------------------------------------------------

class FlakyReceiver:
    """Verifies each request's signature; fails the first try of one webhook-id in three (500, or 503 with
    Retry-After), and counts the requests it accepted per webhook-id — its idempotency count."""

    def __init__(self, secret: str):
        self.webhook = Webhook(secret)
        self.lock = threading.Lock()
        self.tries, self.accepted, self.bad = Counter(), Counter(), []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = outer.answer(data, dict(self.headers.items()))
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def answer(self, data: bytes, headers: dict) -> int:
        try:
            self.webhook.verify(data, headers)
        except Exception as error:
            self.bad.append(str(error))
            return 400
        webhook_id = headers["webhook-id"]
        with self.lock:
            self.tries[webhook_id] += 1
            first = self.tries[webhook_id] == 1
            flaky = int(hashlib.sha256(webhook_id.encode()).hexdigest(), 16) % 3 == 0
            if first and flaky:
                return 503 if len(webhook_id) % 2 else 500
            self.accepted[webhook_id] += 1
            return 200

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_300_events_against_a_flaky_receiver_are_each_accepted_exactly_once(app, workspace, monkeypatch):
    from rq.scheduler import RQScheduler

    account, admin, _ = workspace
    monkeypatch.setitem(app.config, "WEBHOOK_DEV_HOSTS", "127.0.0.1")
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_DELAYS", [0.2] * 8)
    contacts = [factories.make_contact(account, admin, email=f"load{n}@example.com") for n in range(5)]
    endpoint = make_endpoint(account, admin, "http://127.0.0.1:9/placeholder", ["tag.added"])
    with FlakyReceiver(webhooks.secret_of(endpoint)) as flaky:
        webhooks.update_endpoint(account, endpoint, {"url": flaky.url}, admin, partial=True)
        for n in range(300):
            events.publish("tag.added", account_id=account.id, contact_id=contacts[n % 5].id, tag=f"t{n}")
        scheduler = RQScheduler([jobs.queue()], connection=jobs.redis_connection())
        scheduler.acquire_locks()
        for _ in range(40):
            run_jobs(app)
            left = db.session.execute(select(WebhookMessage.id).where(
                WebhookMessage.status != "delivered")).all()
            if not left:
                break
            threading.Event().wait(0.25)
            scheduler.enqueue_scheduled_jobs()  # what the worker's RQ scheduler does each second
        ids = {message.webhook_id for message in messages_of(endpoint)}
        assert len(ids) == 300 and {m.status for m in messages_of(endpoint)} == {"delivered"}
        assert flaky.bad == []
        assert set(flaky.accepted) == ids and set(flaky.accepted.values()) == {1}  # each exactly once
        retried = [webhook_id for webhook_id, tries in flaky.tries.items() if tries > 1]
        assert 50 < len(retried) < 150 and all(flaky.tries[webhook_id] == 2 for webhook_id in retried)
        tags = sorted(json.loads(json.dumps(m.payload))["data"]["tag"] for m in messages_of(endpoint))
        assert tags == sorted(f"t{n}" for n in range(300))
