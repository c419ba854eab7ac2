"""The app's e-mail is queued by the request and sent by a job through the workspace's channel: the app's own SMTP
server (MAIL_*), or the workspace's chosen SMTP or SendGrid connection; every attempt counted, failures retried then
marked failed with the reason, the bodies erased once done, and a slow mail server never slows a request."""
import socket
import threading
import time
from datetime import timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update

from app.core import jobs, mail, tasks
from app.core.db import utcnow
from app.core.models import MailMessage
from app.extensions import db
from app.integrations import channel, connections
from app.integrations.models import Connection, ProviderCall
from tests import factories
from tests.conftest import run_jobs
from tests.integrations.standin import StandIn
from tests.support import free_port


def messages() -> list[MailMessage]:
    db.session.expire_all()
    return list(db.session.execute(select(MailMessage).order_by(MailMessage.created_at)).scalars())


def only_message() -> MailMessage:
    [message] = messages()
    return message


def scheduled_retries(app) -> list[float]:
    """Seconds from now until each retry RQ has scheduled."""
    registry = ScheduledJobRegistry(queue=jobs.queue())
    now = utcnow()
    return [(registry.get_scheduled_time(job_id) - now).total_seconds() for job_id in registry.get_job_ids()]


def sending_connection(account, provider: str, settings: dict, secrets: dict, status="connected",
                       chosen=True) -> Connection:
    connection = Connection(account_id=account.id, kind="email", provider=provider, name=f"Our {provider}",
                            settings=settings, status=status, is_sending_channel=chosen)
    connections.store_credentials(connection, secrets)
    db.session.add(connection)
    db.session.commit()
    return connection


@pytest.fixture
def sendgrid(app, monkeypatch):
    with StandIn() as server:
        monkeypatch.setitem(app.config, "PROVIDER_BASE_URLS", {"sendgrid": server.url})
        yield server


class HangingServer:
    """A TCP server that accepts connections and never says a word (an SMTP server that hangs)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


# ---- queued in the request, sent by the job ----------------------------------------------------------------

def test_the_request_queues_the_mail_and_the_job_sends_it_over_the_default_smtp(app, client, outbox):
    factories.make_user("bob@example.com")
    response = client.post("/forgot-password", data={"email": "bob@example.com"})
    assert response.status_code == 200 and "If an account exists for" in response.text
    assert outbox == []  # nothing sent inside the request
    message = only_message()
    assert message.status == "queued" and message.attempts == 0 and message.account_id is None
    assert message.to == "bob@example.com" and message.template == "password_reset"
    assert "/reset-password/" in message.text_body and "/reset-password/" in message.html_body
    assert jobs.queue().count == 1

    run_jobs(app)
    [sent] = outbox
    assert sent["To"] == "bob@example.com" and sent["Subject"] == "Reset your Leadforge password"
    assert sent["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert "/reset-password/" in sent.get_body(preferencelist=("plain",)).get_content()
    message = only_message()
    assert (message.status, message.channel, message.attempts, message.last_error) == ("sent", "default", 1, None)
    assert message.sent_at is not None
    # the reset link does not stay in the database
    assert message.text_body == "" and message.html_body is None
    assert message.subject == "Reset your Leadforge password"  # what the log shows stays


def test_a_hanging_smtp_server_never_slows_the_request_and_the_job_fails_with_the_reason(app, client, outbox,
                                                                                      monkeypatch):
    factories.make_user("bob@example.com")
    hanging = HangingServer()
    monkeypatch.setitem(app.config, "MAIL_PORT", hanging.port)
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 2)
    try:
        started = time.monotonic()
        response = client.post("/forgot-password", data={"email": "bob@example.com"})
        elapsed = time.monotonic() - started
        assert response.status_code == 200 and "If an account exists for" in response.text
        assert elapsed < 1.0, f"the request took {elapsed:.2f} s"
        assert only_message().status == "queued"

        started = time.monotonic()
        run_jobs(app)  # the job waits for the server, up to MAIL_TIMEOUT
        assert time.monotonic() - started >= 2
    finally:
        hanging.close()
    message = only_message()
    assert message.status == "queued" and message.attempts == 1  # waiting for RQ's retry
    assert message.last_error == f"The mail server 127.0.0.1:{hanging.port} did not answer within 2 seconds."
    assert "/reset-password/" in message.text_body  # kept for the retry
    [delay] = scheduled_retries(app)
    assert 50 < delay <= 60  # the first retry in 60 s (core.jobs: 60, 120, 240)
    assert outbox == []


def test_failures_are_retried_then_the_last_marks_it_failed_with_the_reason(app, outbox, monkeypatch):
    monkeypatch.setattr(jobs, "RETRY_INTERVALS", [0, 0, 0])  # RQ retries at once, so one burst runs them all
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
    mail.send("someone@example.com", "Hello", "Plain body", "<p>HTML body</p>")
    run_jobs(app)
    message = only_message()
    assert message.status == "failed" and message.attempts == mail.MAX_ATTEMPTS == 4
    assert message.last_error.startswith(f"Could not connect to the mail server 127.0.0.1:{app.config['MAIL_PORT']}")
    assert message.text_body == "" and message.html_body is None  # never to be sent: nothing kept
    assert message.sent_at is None and outbox == []
    assert scheduled_retries(app) == [] and jobs.queue().count == 0


def test_a_refusal_that_no_retry_changes_fails_at_once(app, outbox):
    class Refusing:
        """An SMTP server answering 550 to the recipient."""

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 5.1.1 No such user here"

    from aiosmtpd.controller import Controller

    controller = Controller(Refusing(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        app.config["MAIL_PORT"], port = controller.port, app.config["MAIL_PORT"]
        mail.send("nobody@example.com", "Hello", "Plain body")
        run_jobs(app)
    finally:
        app.config["MAIL_PORT"] = port
        controller.stop()
    message = only_message()
    assert message.status == "failed" and message.attempts == 1
    assert "refused the recipient (550): 5.1.1 No such user here" in message.last_error
    assert scheduled_retries(app) == []


def test_a_job_run_twice_sends_once(app, outbox):
    queued = mail.send("someone@example.com", "Once", "Only once")
    run_jobs(app)
    assert tasks.send_mail(str(queued.id)) is None  # a second run (an RQ retry, the requeue schedule) does nothing
    assert mail.deliver_now(queued.id) is None
    assert len(outbox) == 1 and only_message().attempts == 1


def test_two_runs_at_once_send_once(app, outbox):
    """The claim (queued -> sending) is one UPDATE: of two workers running the job together, one sends."""
    user = factories.make_user("owner@example.com")
    account = factories.make_account(user, "Olive's Agency")
    delivered = []

    def slow(message):
        time.sleep(0.3)
        delivered.append(message.id)

    mail.channel_resolver(lambda account_id: mail.Channel("test", "Test", slow))
    try:
        queued = mail.send("someone@example.com", "Once", "Only once", account_id=account.id)
        results = []

        def run():
            with app.app_context():
                results.append(mail.deliver_now(queued.id))

        workers = [threading.Thread(target=run) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(5)
    finally:
        mail.channel_resolver(channel.workspace_channel)
    assert sorted(results, key=str) == [None, "sent"] and len(delivered) == 1
    assert only_message().attempts == 1 and only_message().channel == "test"


def test_a_lost_job_is_started_again_by_the_schedule(app, client, outbox, monkeypatch):
    factories.make_user("bob@example.com")

    def queue_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(jobs, "enqueue", queue_down)
    response = client.post("/forgot-password", data={"email": "bob@example.com"})
    assert response.status_code == 200 and "If an account exists for" in response.text  # not a 500
    assert only_message().status == "queued" and jobs.queue().count == 0
    monkeypatch.undo()

    assert mail.requeue_stalled() == 0  # too fresh: its job may still be on its way
    assert mail.requeue_stalled(now=utcnow() + timedelta(minutes=16)) == 1
    run_jobs(app)
    assert only_message().status == "sent" and [m["To"] for m in outbox] == ["bob@example.com"]
    assert mail.requeue_stalled(now=utcnow() + timedelta(minutes=16)) == 0  # sent: never again


def test_a_message_left_sending_by_a_dead_worker_is_sent_again_later(app, client, outbox):
    factories.make_user("bob@example.com")
    client.post("/forgot-password", data={"email": "bob@example.com"})
    db.session.execute(update(MailMessage).values(status="sending", attempts=1, claimed_at=utcnow()))
    db.session.commit()  # as a worker leaves it when it dies in the middle of an attempt
    jobs.queue().empty()

    assert mail.requeue_stalled(now=utcnow() + timedelta(minutes=16)) == 0  # may still be sending
    assert only_message().status == "sending"
    assert mail.requeue_stalled(now=utcnow() + timedelta(minutes=21)) == 1  # past the job's timeout as well
    run_jobs(app)
    assert only_message().status == "sent" and only_message().attempts == 2
    assert [m["To"] for m in outbox] == ["bob@example.com"]


# ---- through the workspace's channel --------------------------------------------------------------------------

def test_an_invitation_goes_through_the_workspaces_sendgrid_connection(app, client, owner, login, outbox, sendgrid):
    user, account = owner
    connection = sending_connection(account, "sendgrid", {"from_email": "hello@olive.example", "from_name": "Olive"},
                                    {"api_key": "SG.secret-key"})
    sendgrid.expect("POST", "/v3/mail/send", 202, headers={"X-Message-Id": "msg-1"})
    login(user, account)
    assert client.post("/settings/team/invite", data={"email": "new@example.com", "role": "user"}).status_code == 303
    assert sendgrid.requests == []  # not in the request
    run_jobs(app)

    [request] = sendgrid.received("POST", "/v3/mail/send")
    assert request.headers["Authorization"] == "Bearer SG.secret-key"
    body = request.json
    assert body["personalizations"] == [{"to": [{"email": "new@example.com"}]}]
    assert body["from"] == {"email": "hello@olive.example", "name": "Olive"}
    assert body["subject"] == "You are invited to Olive's Agency on Leadforge"
    assert [part["type"] for part in body["content"]] == ["text/plain", "text/html"]
    assert "/invitations/" in body["content"][0]["value"] and "/invitations/" in body["content"][1]["value"]
    assert outbox == []  # not through the app's own server
    message = only_message()
    assert (message.status, message.channel, message.attempts, message.account_id) == ("sent", "sendgrid", 1,
                                                                                        account.id)
    assert message.text_body == "" and message.html_body is None
    [call] = db.session.execute(select(ProviderCall)).scalars().all()
    assert (call.connection_id, call.operation, call.ok) == (connection.id, "send_email", True)


def test_a_receipt_goes_through_the_workspaces_smtp_connection(app, owner, outbox, smtp_server):
    user, account = owner
    sending_connection(account, "smtp", {"host": "127.0.0.1", "port": smtp_server[0].port, "security": "none",
                                         "from_email": "shop@olive.example", "from_name": "Olive's Shop"}, {})
    mail.send_template("buyer@example.com", "Your receipt", "export_ready", account_id=account.id, user=user,
                       job=None, url="https://example.com/x", account=account, hours=24)
    run_jobs(app)
    [sent] = outbox
    assert sent["From"] == "Olive's Shop <shop@olive.example>" and sent["To"] == "buyer@example.com"
    assert (only_message().status, only_message().channel) == ("sent", "smtp")


def test_a_provider_refusal_fails_at_once_and_a_5xx_is_retried(app, owner, outbox, sendgrid):
    user, account = owner
    connection = sending_connection(account, "sendgrid", {"from_email": "hello@olive.example"}, {"api_key": "SG.bad"})
    sendgrid.expect("POST", "/v3/mail/send", 401, json={"errors": [{"message": "The provided authorization grant is "
                                                                    "invalid, expired, or revoked"}]}, times=1)
    sendgrid.expect("POST", "/v3/mail/send", 503, json={"errors": [{"message": "Service unavailable"}]})
    mail.send("a@example.com", "First", "Refused", account_id=account.id)
    run_jobs(app)
    refused = only_message()
    assert refused.status == "failed" and refused.attempts == 1
    assert refused.last_error.startswith("Our sendgrid: SendGrid refused the credentials (401): The provided "
                                         "authorization grant is invalid")
    assert scheduled_retries(app) == []

    mail.send("b@example.com", "Second", "Unavailable", account_id=account.id)
    run_jobs(app)
    unavailable = messages()[1]
    assert unavailable.status == "queued" and unavailable.attempts == 1  # retried by RQ
    assert "SendGrid answered 503: Service unavailable" in unavailable.last_error
    assert len(scheduled_retries(app)) == 1
    db.session.refresh(connection)
    assert "503" in connection.last_error and outbox == []


@pytest.mark.parametrize("status, chosen", [("failed", True), ("untested", True), ("connected", False)])
def test_a_connection_not_chosen_or_not_connected_is_not_used(app, owner, outbox, sendgrid, status, chosen):
    user, account = owner
    sending_connection(account, "sendgrid", {"from_email": "hello@olive.example"}, {"api_key": "SG.k"},
                       status=status, chosen=chosen)
    mail.send("a@example.com", "Hello", "Body", account_id=account.id)
    run_jobs(app)
    assert sendgrid.requests == [] and len(outbox) == 1 and only_message().channel == "default"


def test_a_password_reset_uses_the_apps_channel_even_when_the_users_workspace_has_one(app, client, owner, outbox,
                                                                                      sendgrid):
    user, account = owner
    sending_connection(account, "sendgrid", {"from_email": "hello@olive.example"}, {"api_key": "SG.k"})
    client.post("/forgot-password", data={"email": user.email})
    run_jobs(app)
    assert sendgrid.requests == [] and [m["To"] for m in outbox] == [user.email]
    assert only_message().account_id is None and only_message().channel == "default"


def test_a_receipt_names_its_workspace_so_its_channel_is_used(app, owner, outbox, sendgrid):
    from app.orders.services import receipts

    user, account = owner
    sending_connection(account, "sendgrid", {"from_email": "shop@olive.example"}, {"api_key": "SG.k"})
    sendgrid.expect("POST", "/v3/mail/send", 202)
    _, price = factories.make_product(account, "Course")
    with db.session.no_autoflush:
        order = factories.make_order(account, [(price, "main")], email="buyer@example.com")
    receipts.send_receipt(order)
    assert only_message().account_id == account.id and only_message().template == "receipt"
    run_jobs(app)
    [request] = sendgrid.received("POST", "/v3/mail/send")
    assert request.json["personalizations"] == [{"to": [{"email": "buyer@example.com"}]}]
    assert f"#{order.number}" in request.json["subject"] and outbox == []


def test_without_a_mail_server_the_job_writes_to_the_outbox(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    monkeypatch.setitem(app.config, "OUTBOX_DIR", str(tmp_path))
    mail.send("dev@example.com", "Dev mail", "Read me in the outbox")
    assert mail.outbox_messages() == []
    run_jobs(app)
    assert [m["subject"] for m in mail.outbox_messages()] == ["Dev mail"]
    assert (only_message().status, only_message().channel) == ("sent", "outbox")
