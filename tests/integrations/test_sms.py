"""Sending an SMS: the checks, the job that calls the provider (a stand-in), its retries and final failure, and
the delivery status the provider reports back to the connection's secret address."""
import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from app.core import jobs
from app.core.errors import NotFoundError, ValidationError
from app.crm.models import TimelineEntry
from app.extensions import db
from app.integrations import callbacks, connections, sms
from app.integrations.models import Connection, InboundCall, ProviderCall, SmsMessage
from tests import factories
from tests.conftest import run_jobs
from tests.integrations.standin import StandIn

MESSAGES = "/2010-04-01/Accounts/AC123/Messages.json"


@pytest.fixture
def server(app, monkeypatch):
    with StandIn() as standin:
        monkeypatch.setitem(app.config, "PROVIDER_BASE_URLS", {
            "twilio": standin.url, "messagebird": standin.url, "telnyx": standin.url})
        monkeypatch.setitem(app.config, "PROVIDER_TIMEOUT", 2)
        yield standin


def make_connection(account, provider="twilio", secrets=None, settings=None, name="Twilio") -> Connection:
    connection = Connection(account_id=account.id, kind="sms", provider=provider, name=name,
                            settings=settings if settings is not None else {"account_sid": "AC123",
                                                                             "from_number": "+15005550006"})
    connections.store_credentials(connection, secrets if secrets is not None else {"auth_token": "tw-token"})
    db.session.add(connection)
    db.session.commit()
    return connection


@pytest.fixture
def workspace(owner):
    user, account = owner
    return user, account, make_connection(account)


def queued_count() -> int:
    return jobs.queue().count


def scheduled_retries() -> list[str]:
    return ScheduledJobRegistry(queue=jobs.queue()).get_job_ids()


def run_retry_now(app, final: bool = False):
    """Run the retry RQ scheduled (60 s away) now; `final`: as its last attempt."""
    (job_id,) = scheduled_retries()
    queue = jobs.queue()
    rq_job = queue.fetch_job(job_id)
    ScheduledJobRegistry(queue=queue).remove(rq_job)
    if final:
        rq_job.retries_left = 0
        rq_job.save()
    queue.enqueue_job(rq_job)
    run_jobs(app)
    db.session.expire_all()


# -- sending --

def test_send_queues_a_job_that_sends_through_the_provider(app, server, workspace):
    user, account, connection = workspace
    contact = factories.make_contact(account, user, email="ann@example.com", phone="+14155550123")
    server.expect("POST", MESSAGES, status=201, json={"sid": "SM100", "status": "queued"})

    message = sms.send(account, connection, "+1 415 555 0123", "Your order shipped!", contact_id=contact.id)
    assert (message.status, message.to, message.provider_message_id) == ("queued", "+14155550123", None)
    assert queued_count() == 1 and server.requests == []
    run_jobs(app)
    db.session.expire_all()

    (request,) = server.requests
    assert request.method == "POST" and request.path == MESSAGES
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"AC123:tw-token").decode()
    assert request.form == {"To": "+14155550123", "From": "+15005550006", "Body": "Your order shipped!",
                            "StatusCallback": callbacks.sms_status_url(connection)}
    sent = db.session.get(SmsMessage, message.id)
    assert (sent.status, sent.provider_message_id, sent.error) == ("queued", "SM100", None)
    call = db.session.execute(select(ProviderCall)).scalar_one()
    assert (call.operation, call.ok, call.connection_id) == ("send_sms", True, connection.id)
    entry = db.session.execute(select(TimelineEntry).where(TimelineEntry.contact_id == contact.id,
                                                           TimelineEntry.kind == "sms.queued")).scalar_one()
    assert "Your order shipped!" in entry.summary

    # Run again (a duplicate job, a worker restarted): the SMS is not sent twice.
    jobs.enqueue(sms_task(), message.id)
    run_jobs(app)
    assert len(server.requests) == 1


def sms_task():
    from app.integrations import tasks

    return tasks.send_sms


def test_the_callback_address_is_absolute_and_names_no_id(app, workspace):
    _, _, connection = workspace
    url = callbacks.sms_status_url(connection)
    assert url.startswith(app.config["BASE_URL"].rstrip("/") + "/api/v1/hooks/sms/")
    assert str(connection.id) not in url and connection.id.hex not in url


@pytest.mark.parametrize("to,body,field", [
    ("", "Hello", "to"), ("not a number", "Hello", "to"), ("+1 555", "Hello", "to"),
    ("+14155550123", "", "body"), ("+14155550123", "   ", "body"), ("+14155550123", "x" * 1601, "body"),
])
def test_a_bad_number_or_text_is_refused_and_nothing_is_queued(workspace, to, body, field):
    _, account, connection = workspace
    with pytest.raises(ValidationError) as refused:
        sms.send(account, connection, to, body)
    assert field in refused.value.fields
    assert db.session.execute(select(func.count(SmsMessage.id))).scalar() == 0
    assert queued_count() == 0


def test_the_longest_text_is_accepted_and_a_local_number_takes_the_workspace_country(workspace):
    _, account, connection = workspace
    message = sms.send(account, connection, "(415) 555-0123", "y" * 1600)
    assert (message.to, len(message.body)) == ("+14155550123", 1600)


def test_another_workspaces_connection_or_contact_is_not_found(workspace):
    user, account, connection = workspace
    other_user = factories.make_user("other@example.com")
    other = factories.make_account(other_user, "Other")
    theirs = make_connection(other, name="Theirs")
    their_contact = factories.make_contact(other, other_user, email="them@example.com")
    with pytest.raises(NotFoundError):
        sms.send(account, theirs, "+14155550123", "Hi")
    with pytest.raises(NotFoundError):
        sms.send(account, connection, "+14155550123", "Hi", contact_id=their_contact.id)
    assert db.session.execute(select(func.count(SmsMessage.id))).scalar() == 0


def test_an_email_connection_does_not_send_sms(owner):
    _, account = owner
    mail = Connection(account_id=account.id, kind="email", provider="sendgrid", name="SendGrid")
    db.session.add(mail)
    db.session.commit()
    with pytest.raises(ValidationError):
        sms.send(account, mail, "+14155550123", "Hi")


# -- retries and failure --

def test_a_failing_provider_is_retried_then_the_sms_fails_with_the_reason(app, server, workspace):
    _, account, connection = workspace
    server.expect("POST", MESSAGES, status=503, json={"code": 20500, "message": "Service unavailable"})
    message = sms.send(account, connection, "+14155550123", "Hello")
    run_jobs(app)
    db.session.expire_all()
    retrying = db.session.get(SmsMessage, message.id)
    assert retrying.status == "queued"
    assert retrying.error == "Twilio answered 503: Service unavailable (trying again)"
    assert len(scheduled_retries()) == 1  # RQ runs it again in 60 s

    run_retry_now(app)
    assert db.session.get(SmsMessage, message.id).status == "queued" and len(server.requests) == 2
    run_retry_now(app, final=True)
    failed = db.session.get(SmsMessage, message.id)
    assert (failed.status, failed.error) == ("failed", "Twilio answered 503: Service unavailable")
    assert len(server.requests) == 3 and scheduled_retries() == []
    assert db.session.get(Connection, connection.id).last_error == "Twilio answered 503: Service unavailable"


def test_a_timeout_is_retried_and_a_later_attempt_can_succeed(app, server, workspace, monkeypatch):
    _, account, connection = workspace
    monkeypatch.setitem(app.config, "PROVIDER_TIMEOUT", 0.3)
    server.expect("POST", MESSAGES, status=201, json={"sid": "SMlate", "status": "queued"}, delay=1, times=1)
    server.expect("POST", MESSAGES, status=201, json={"sid": "SM200", "status": "sent"})
    message = sms.send(account, connection, "+14155550123", "Hello")
    run_jobs(app)
    db.session.expire_all()
    assert db.session.get(SmsMessage, message.id).error == "Twilio did not answer within 0.3 seconds. (trying again)"
    run_retry_now(app)
    done = db.session.get(SmsMessage, message.id)
    assert (done.status, done.provider_message_id, done.error) == ("sent", "SM200", None)


def test_a_refusal_fails_at_once_without_retrying(app, server, workspace):
    _, account, connection = workspace
    server.expect("POST", MESSAGES, status=400, json={"code": 21211, "message": "The 'To' number is not valid."})
    message = sms.send(account, connection, "+14155550123", "Hello")
    run_jobs(app)
    db.session.expire_all()
    failed = db.session.get(SmsMessage, message.id)
    assert (failed.status, failed.error) == ("failed", "Twilio answered 400: The 'To' number is not valid.")
    assert scheduled_retries() == []


def test_wrong_credentials_fail_with_what_the_provider_said(app, server, workspace):
    _, account, connection = workspace
    server.expect("POST", MESSAGES, status=401, json={"code": 20003, "message": "Authenticate"})
    message = sms.send(account, connection, "+14155550123", "Hello")
    run_jobs(app)
    db.session.expire_all()
    assert db.session.get(SmsMessage, message.id).error == "Twilio refused the credentials (401): Authenticate"


# -- status callbacks --

def sent_sms(account, connection, provider_id="SM1", status="sent", to="+14155550123") -> SmsMessage:
    message = SmsMessage(account_id=account.id, connection_id=connection.id, to=to, body="Hello",
                         provider_message_id=provider_id, status=status)
    db.session.add(message)
    db.session.commit()
    return message


def twilio_post(client, connection, params: dict, token="tw-token", url=None):
    url = url or callbacks.sms_status_url(connection)
    signed = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    signature = base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    return client.post(urlsplit(url).path, data=params, headers={"X-Twilio-Signature": signature})


def test_a_signed_status_callback_moves_the_status_forward_only(client, workspace):
    _, account, connection = workspace
    message = sent_sms(account, connection)
    response = twilio_post(client, connection, {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+1415"})
    assert response.status_code == 200 and response.get_json()["ok"] is True
    assert db.session.get(SmsMessage, message.id).status == "delivered"
    # A late "sent" (callbacks arrive out of order) does not move a delivered SMS back.
    assert twilio_post(client, connection, {"MessageSid": "SM1", "MessageStatus": "sent"}).status_code == 200
    assert db.session.get(SmsMessage, message.id).status == "delivered"
    logged = db.session.execute(select(InboundCall).order_by(InboundCall.created_at)).scalars().all()
    assert [(c.source, c.status_code, c.connection_id) for c in logged] == [("twilio", 200, connection.id)] * 2
    assert logged[0].outcome == "SM1: delivered (the message is delivered)"
    assert "MessageStatus=delivered" in logged[0].body_excerpt


def test_an_undelivered_report_records_why(client, workspace):
    _, account, connection = workspace
    message = sent_sms(account, connection)
    twilio_post(client, connection, {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"})
    changed = db.session.get(SmsMessage, message.id)
    assert changed.status == "undelivered" and "undelivered" in changed.error


@pytest.mark.parametrize("token", ["garbled", "eyJhIjoxfQ.bad-signature", None])
def test_an_unknown_address_is_404_and_logs_nothing(client, workspace, token):
    _, account, connection = workspace
    if token is None:  # a real token of the SendGrid kind is not an SMS address
        token = callbacks.token_for(connection, callbacks.SENDGRID_SALT)
    response = client.post(f"/api/v1/hooks/sms/{token}", data={"MessageSid": "SM1", "MessageStatus": "failed"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert db.session.execute(select(func.count(InboundCall.id))).scalar() == 0


def test_the_address_of_a_deleted_connection_is_404(client, workspace):
    _, _, connection = workspace
    path = urlsplit(callbacks.sms_status_url(connection)).path
    db.session.delete(connection)
    db.session.commit()
    assert client.post(path, data={"MessageSid": "SM1"}).status_code == 404


def test_a_bad_signature_is_403_changes_nothing_and_is_logged(client, workspace):
    _, account, connection = workspace
    message = sent_sms(account, connection)
    response = twilio_post(client, connection, {"MessageSid": "SM1", "MessageStatus": "failed"}, token="guessed")
    assert response.status_code == 403
    assert "X-Twilio-Signature" in response.get_json()["error"]["message"]
    assert db.session.get(SmsMessage, message.id).status == "sent"
    call = db.session.execute(select(InboundCall)).scalar_one()
    assert (call.status_code, call.source) == (403, "twilio") and call.outcome.startswith("Refused:")


def test_a_status_for_an_unknown_message_is_200_and_changes_nothing(client, workspace):
    _, account, connection = workspace
    message = sent_sms(account, connection)
    response = twilio_post(client, connection, {"MessageSid": "SMother", "MessageStatus": "failed"})
    assert response.status_code == 200
    assert db.session.get(SmsMessage, message.id).status == "sent"
    assert "not a message of this connection" in db.session.execute(select(InboundCall)).scalar_one().outcome


def test_another_workspaces_sms_is_not_touched(client, workspace):
    _, account, connection = workspace
    other_user = factories.make_user("other@example.com")
    other = factories.make_account(other_user, "Other")
    # Their connection even has the same auth token; their SMS the same provider id.
    theirs = sent_sms(other, make_connection(other, name="Theirs"), provider_id="SM1")
    ours = sent_sms(account, connection, provider_id="SM2")
    response = twilio_post(client, connection, {"MessageSid": "SM1", "MessageStatus": "failed"})
    assert response.status_code == 200
    assert db.session.get(SmsMessage, theirs.id).status == "sent"
    assert db.session.get(SmsMessage, ours.id).status == "sent"
    assert db.session.execute(select(InboundCall)).scalar_one().account_id == account.id


def test_a_messagebird_report_by_get_with_its_jwt(client, owner):
    _, account = owner
    connection = make_connection(account, "messagebird", {"access_key": "live", "signing_key": "sign-key"},
                                 {"originator": "Acme"}, name="MessageBird")
    message = sent_sms(account, connection, provider_id="e8077d80")
    url = callbacks.sms_status_url(connection) + "?" + urlencode({"id": "e8077d80", "status": "delivered",
                                                                   "reference": "leadforge"})

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    head = b64url(b'{"alg":"HS256","typ":"JWT"}')
    claims = b64url(json.dumps({"iss": "MessageBird", "nbf": now, "exp": now + 60,
                                "url_hash": hashlib.sha256(url.encode()).hexdigest()}).encode())
    signature = b64url(hmac.new(b"sign-key", f"{head}.{claims}".encode(), hashlib.sha256).digest())
    split = urlsplit(url)
    jwt = {"MessageBird-Signature-JWT": f"{head}.{claims}.{signature}"}
    assert client.get(f"{split.path}?{split.query}", headers=jwt).status_code == 200
    assert db.session.get(SmsMessage, message.id).status == "delivered"
    # The same report for another URL (the query changed on the way) is refused.
    forged = client.get(f"{split.path}?{split.query.replace('delivered', 'expired')}", headers=jwt)
    assert forged.status_code == 403


def test_a_telnyx_webhook_signed_with_the_portal_key(client, owner):
    _, account = owner
    private = Ed25519PrivateKey.generate()
    public = base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    connection = make_connection(account, "telnyx", {"api_key": "KEY"}, {"from_number": "+18445550001",
                                                                         "public_key": public}, name="Telnyx")
    message = sent_sms(account, connection, provider_id="40385f64")
    body = json.dumps({"data": {"event_type": "message.finalized", "payload": {
        "id": "40385f64", "direction": "outbound", "to": [{"status": "delivery_failed"}]}}}).encode()
    timestamp = str(int(time.time()))
    headers = {"telnyx-timestamp": timestamp, "Content-Type": "application/json",
               "telnyx-signature-ed25519": base64.b64encode(private.sign(timestamp.encode() + b"|" + body)).decode()}
    path = urlsplit(callbacks.sms_status_url(connection)).path
    assert client.post(path, data=body.replace(b"delivery_failed", b"delivered"), headers=headers).status_code == 403
    assert db.session.get(SmsMessage, message.id).status == "sent"
    assert client.post(path, data=body, headers=headers).status_code == 200
    assert db.session.get(SmsMessage, message.id).status == "undelivered"


def test_callbacks_are_rate_limited_per_address(app, client, workspace, monkeypatch):
    _, account, connection = workspace
    sent_sms(account, connection)
    monkeypatch.setitem(app.config, "PROVIDER_CALLBACK_RATE_LIMIT", "2 per minute")
    codes = [twilio_post(client, connection, {"MessageSid": "SM1", "MessageStatus": "sent"}).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]
