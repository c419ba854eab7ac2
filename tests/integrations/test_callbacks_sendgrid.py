"""SendGrid's signed Event Webhook: bounces, dropped bounced addresses, spam reports and unsubscribes mark the
workspace's contacts, with a line on their timeline; a bad signature, a missing key and a body that is not
JSON are refused and logged; another workspace's contacts are never touched."""
import base64
import json
import time
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from app.crm.models import Contact, TimelineEntry
from app.extensions import db
from app.integrations import callbacks
from app.integrations.models import Connection, InboundCall
from tests import factories


@pytest.fixture(scope="module")
def keys():
    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(private.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).decode()
    return private, public


def sendgrid_connection(account, public_key: str | None) -> Connection:
    settings = {"from_email": "news@example.com"}
    if public_key is not None:
        settings["event_webhook_public_key"] = public_key
    connection = Connection(account_id=account.id, kind="email", provider="sendgrid", name="SendGrid",
                            settings=settings)
    db.session.add(connection)
    db.session.commit()
    return connection


def signed_headers(private, body: bytes, timestamp: str | None = None) -> dict:
    timestamp = timestamp or str(int(time.time()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp, "Content-Type": "application/json"}


def post(client, connection, body: bytes, headers: dict):
    return client.post(urlsplit(callbacks.sendgrid_events_url(connection)).path, data=body, headers=headers)


def event(kind: str, email: str, **extra) -> dict:
    return {"email": email, "timestamp": 1700000000, "event": kind, "sg_event_id": f"{kind}-{email}",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", **extra}


@pytest.fixture
def workspace(owner, keys):
    user, account = owner
    people = {name: factories.make_contact(account, user, first_name=name.title(), email=f"{name}@example.com")
              for name in ("ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal")}
    return user, account, sendgrid_connection(account, keys[1]), people


def status_of(contact) -> str:
    return db.session.get(Contact, contact.id).email_status


def timeline_kinds(contact) -> list[str]:
    return db.session.execute(select(TimelineEntry.kind).where(
        TimelineEntry.contact_id == contact.id, TimelineEntry.kind.like("email.%"))).scalars().all()


def test_signed_events_mark_the_contacts_and_add_timeline_lines(client, workspace, keys):
    _, account, connection, people = workspace
    events = [
        event("bounce", "ann@example.com", type="bounce", reason="550 5.1.1 The email account does not exist"),
        event("dropped", "bob@example.com", reason="Bounced Address"),
        event("spamreport", "cat@example.com"),
        event("unsubscribe", "dan@example.com"),
        event("group_unsubscribe", "EVE@example.com", asm_group_id=7),
        event("delivered", "fay@example.com"),
        event("bounce", "gus@example.com", type="blocked", reason="temporarily deferred"),
        event("dropped", "hal@example.com", reason="Invalid SMTPAPI header"),
        event("bounce", "stranger@example.com", type="bounce"),
    ]
    body = json.dumps(events).encode()
    response = post(client, connection, body, signed_headers(keys[0], body))
    assert response.status_code == 200

    assert {name: status_of(contact) for name, contact in people.items()} == {
        "ann": "bounced", "bob": "bounced", "cat": "complained", "dan": "unsubscribed", "eve": "unsubscribed",
        "fay": "subscribed", "gus": "subscribed", "hal": "subscribed"}
    assert timeline_kinds(people["ann"]) == ["email.bounced"]
    assert timeline_kinds(people["cat"]) == ["email.complained"]
    assert timeline_kinds(people["fay"]) == []
    line = db.session.execute(select(TimelineEntry).where(TimelineEntry.contact_id == people["ann"].id,
                                                          TimelineEntry.kind == "email.bounced")).scalar_one()
    assert line.summary == ("E-mail to ann@example.com bounced (SendGrid: bounce, "
                            "550 5.1.1 The email account does not exist)")
    call = db.session.execute(select(InboundCall)).scalar_one()
    assert (call.source, call.status_code, call.connection_id, call.account_id) == (
        "sendgrid", 200, connection.id, account.id)
    assert call.outcome == ("9 event(s): 5 contact(s) changed, 1 address(es) not in the workspace, "
                            "3 without an effect")


def test_the_same_events_again_change_nothing_and_a_complaint_is_not_undone(client, workspace, keys):
    _, _, connection, people = workspace
    body = json.dumps([event("spamreport", "cat@example.com")]).encode()
    assert post(client, connection, body, signed_headers(keys[0], body)).status_code == 200
    assert post(client, connection, body, signed_headers(keys[0], body)).status_code == 200  # SendGrid retried
    later = json.dumps([event("unsubscribe", "cat@example.com")]).encode()
    assert post(client, connection, later, signed_headers(keys[0], later)).status_code == 200
    assert status_of(people["cat"]) == "complained"
    assert timeline_kinds(people["cat"]) == ["email.complained"]


def test_contacts_of_another_workspace_are_untouched(client, workspace, keys):
    _, _, connection, people = workspace
    other_user = factories.make_user("other@example.com")
    other = factories.make_account(other_user, "Other")
    theirs = factories.make_contact(other, other_user, email="ann@example.com")
    body = json.dumps([event("bounce", "ann@example.com", type="bounce")]).encode()
    assert post(client, connection, body, signed_headers(keys[0], body)).status_code == 200
    assert status_of(people["ann"]) == "bounced"
    assert status_of(theirs) == "subscribed" and timeline_kinds(theirs) == []


def test_a_bad_signature_is_403_and_nothing_changes(client, workspace, keys):
    _, _, connection, people = workspace
    body = json.dumps([event("unsubscribe", "dan@example.com")]).encode()
    other_key = ec.generate_private_key(ec.SECP256R1())
    attempts = [
        (body, signed_headers(other_key, body)),  # signed by someone else
        (body.replace(b"dan@", b"ann@"), signed_headers(keys[0], body)),  # body changed after signing
        (body, {**signed_headers(keys[0], body), "X-Twilio-Email-Event-Webhook-Timestamp": "1"}),  # timestamp
        (body, {"Content-Type": "application/json"}),  # not signed
    ]
    for sent, headers in attempts:
        response = post(client, connection, sent, headers)
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"
    assert status_of(people["dan"]) == "subscribed" and status_of(people["ann"]) == "subscribed"
    logged = db.session.execute(select(InboundCall.status_code, InboundCall.outcome)).all()
    assert len(logged) == 4 and all(code == 403 and outcome.startswith("Refused:") for code, outcome in logged)


def test_without_a_verification_key_events_are_refused_and_the_log_says_why(client, owner, keys):
    user, account = owner
    contact = factories.make_contact(account, user, email="dan@example.com")
    connection = sendgrid_connection(account, None)
    body = json.dumps([event("unsubscribe", "dan@example.com")]).encode()
    response = post(client, connection, body, signed_headers(keys[0], body))
    assert response.status_code == 403
    assert "no Event Webhook verification key" in response.get_json()["error"]["message"]
    assert status_of(contact) == "subscribed"
    call = db.session.execute(select(InboundCall)).scalar_one()
    assert call.status_code == 403 and "no Event Webhook verification key" in call.outcome


@pytest.mark.parametrize("body,reason", [(b"email=dan@example.com&event=unsubscribe", "The body is not JSON"),
                                         (b'{"event": "unsubscribe"}', "not a JSON array")])
def test_a_body_that_is_not_json_is_400_with_the_reason(client, workspace, keys, body, reason):
    _, _, connection, people = workspace
    response = post(client, connection, body, signed_headers(keys[0], body))
    assert response.status_code == 400
    assert reason in response.get_json()["error"]["message"]
    call = db.session.execute(select(InboundCall)).scalar_one()
    assert call.status_code == 400 and reason in call.outcome
    assert call.body_excerpt == body.decode()
    assert status_of(people["dan"]) == "subscribed"


def test_unknown_or_wrong_kind_addresses_are_404(client, workspace, keys, owner):
    _, account, connection, _ = workspace
    body = b"[]"
    headers = signed_headers(keys[0], body)
    sms_token = callbacks.token_for(connection, callbacks.SMS_SALT)  # made for the other kind of address
    assert client.post(f"/api/v1/hooks/sendgrid/{sms_token}", data=body, headers=headers).status_code == 404
    assert client.post("/api/v1/hooks/sendgrid/garbled", data=body, headers=headers).status_code == 404
    twilio = Connection(account_id=account.id, kind="sms", provider="twilio", name="Twilio")
    db.session.add(twilio)
    db.session.commit()
    wrong = callbacks.token_for(twilio, callbacks.SENDGRID_SALT)
    assert client.post(f"/api/v1/hooks/sendgrid/{wrong}", data=body, headers=headers).status_code == 404
    assert db.session.execute(select(func.count(InboundCall.id))).scalar() == 0


def test_a_large_excerpt_is_cut_at_2_kb(client, workspace, keys):
    _, _, connection, _ = workspace
    body = json.dumps([event("delivered", f"person{i}@example.com") for i in range(100)]).encode()
    assert post(client, connection, body, signed_headers(keys[0], body)).status_code == 200
    assert len(db.session.execute(select(InboundCall.body_excerpt)).scalar_one()) == 2048
