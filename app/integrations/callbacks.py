"""Provider callbacks: the addresses a provider calls back, and what its calls change.

A connection's callback address carries a token, `URLSafeSerializer(SECRET_KEY, salt).dumps(connection id)`:
it names the connection without a guessable id and without a stored secret (a token not made with the app's
SECRET_KEY is an unknown address, 404). What the provider sends is then checked with its own signature scheme
(the adapters' `read_status_callback`; SendGrid's signed Event Webhook here). Every call to a known address
is logged as an InboundCall (the provider's key, the status answered, what it changed or why it was refused,
the first 2 KB of the body).

- SMS delivery status: `/api/v1/hooks/sms/<token>` (salt "sms-callback"), handled by `app.integrations.sms`.
- SendGrid's Event Webhook: `/api/v1/hooks/sendgrid/<token>` (salt "sendgrid-events"): bounces, dropped
  bounced addresses, spam reports and unsubscribes set the workspace's contacts' `email_status` and add a line
  to their timeline (`receive_sendgrid_events`).
"""
import base64
import binascii
import json
import logging
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from app.auth.models import Account
from app.core.errors import ForbiddenError, NotFoundError, ServiceError
from app.crm.models import Contact
from app.crm.services import timeline
from app.extensions import db
from app.integrations.models import Connection, InboundCall
from app.integrations.providers.sendgrid import event_webhook_key

log = logging.getLogger(__name__)

SMS_SALT = "sms-callback"
SENDGRID_SALT = "sendgrid-events"
EXCERPT = 2048

# A contact's e-mail status only moves up this order: a later "unsubscribe" does not hide a spam complaint.
EMAIL_STATUS_RANK = {"subscribed": 0, "unsubscribed": 1, "bounced": 2, "complained": 3}
DROPPED_REASONS = {"bounced address": "bounced", "unsubscribed address": "unsubscribed",
                   "spam reporting address": "complained"}
STATUS_WORDS = {"bounced": "bounced", "complained": "marked as spam", "unsubscribed": "unsubscribed"}


# ---- addresses ----------------------------------------------------------------------------------------------

def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def token_for(connection: Connection, salt: str) -> str:
    return _serializer(salt).dumps(str(connection.id))


def absolute(path: str) -> str:
    """The address a provider is given: BASE_URL + path (also the URL its signatures are checked against)."""
    return current_app.config["BASE_URL"].rstrip("/") + path


def sms_status_url(connection: Connection) -> str:
    """Where an SMS connection's provider reports delivery (given per message, or pasted into the provider's
    settings where it has no per-message address: Bandwidth's application callback URL)."""
    return absolute(f"/api/v1/hooks/sms/{token_for(connection, SMS_SALT)}")


def sendgrid_events_url(connection: Connection) -> str:
    """The HTTP POST URL to paste into SendGrid's Mail Settings > Event Webhook for this connection."""
    return absolute(f"/api/v1/hooks/sendgrid/{token_for(connection, SENDGRID_SALT)}")


def connection_for(token: str, salt: str) -> Connection:
    """The connection a callback token names; NotFoundError for a token this app did not make, or whose
    connection is gone."""
    try:
        connection_id = uuid.UUID(str(_serializer(salt).loads(token)))
    except (BadSignature, ValueError, TypeError):
        raise NotFoundError("Not found.") from None
    connection = db.session.get(Connection, connection_id)
    if connection is None:
        raise NotFoundError("Not found.")
    return connection


# ---- the log ------------------------------------------------------------------------------------------------

def record(connection: Connection, status_code: int, outcome: str, body: bytes, ip: str | None = None,
           contact_id=None) -> InboundCall:
    """Log a provider's call to this connection's address (committed at once, whatever happens next)."""
    call = InboundCall(account_id=connection.account_id, connection_id=connection.id, source=connection.provider,
                       status_code=status_code, outcome=outcome[:300], contact_id=contact_id,
                       body_excerpt=(body or b"")[:EXCERPT].decode("utf-8", "replace"), ip_address=(ip or None))
    db.session.add(call)
    db.session.commit()
    return call


def refuse(connection: Connection, error: ServiceError, body: bytes, ip: str | None) -> ServiceError:
    """Log the refusal, then hand back the error for the caller to raise."""
    record(connection, error.status, f"Refused: {error.message}", body, ip)
    log.info("provider callback refused", extra={"provider": connection.provider, "status": error.status,
                                                  "connection": str(connection.id)})
    return error


# ---- SendGrid's Event Webhook -------------------------------------------------------------------------------

def verify_sendgrid(public_key: str, signature: str, timestamp: str, body: bytes) -> None:
    """SendGrid's signed Event Webhook: an ECDSA (P-256, SHA-256) signature, base64, of timestamp + raw body.
    ForbiddenError when the key is missing or unusable, or the signature does not match."""
    if not (public_key or "").strip():
        raise ForbiddenError("This SendGrid connection has no Event Webhook verification key, so its events "
                             "cannot be verified: turn on Signed Event Webhook Requests in SendGrid and paste "
                             "the verification key into the connection.")
    try:
        key = event_webhook_key(public_key)
    except ValueError:
        raise ForbiddenError("The Event Webhook verification key of this connection is not a valid public key.") \
            from None
    if not signature or not timestamp:
        raise ForbiddenError("The request is not signed (no X-Twilio-Email-Event-Webhook-Signature).")
    try:
        key.verify(base64.b64decode(signature, validate=True), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        raise ForbiddenError("The X-Twilio-Email-Event-Webhook-Signature does not match this connection's "
                             "verification key.") from None


def status_of(event: dict) -> str | None:
    """The e-mail status a SendGrid event gives its address, or None for events that change nothing
    (delivered, open, a temporary block...)."""
    kind = event.get("event")
    if kind == "bounce":
        return None if str(event.get("type", "")).lower() == "blocked" else "bounced"  # blocked: temporary
    if kind == "dropped":
        return DROPPED_REASONS.get(str(event.get("reason", "")).strip().lower())
    if kind == "spamreport":
        return "complained"
    if kind in ("unsubscribe", "group_unsubscribe"):
        return "unsubscribed"
    return None


def _summary(address: str, status: str, event: dict) -> str:
    reason = str(event.get("reason") or event.get("type") or "").strip()
    summary = f"E-mail to {address} {STATUS_WORDS[status]} (SendGrid: {event.get('event')}"
    return summary + (f", {reason})" if reason else ")")


def apply_sendgrid_events(connection: Connection, events: list) -> dict:
    """Set the e-mail status of the workspace's contacts the events name (only ever up EMAIL_STATUS_RANK),
    with a timeline line for each change. Returns counts: {"events", "changed", "unknown", "ignored"}."""
    wanted = []
    for event in events:
        status = status_of(event) if isinstance(event, dict) else None
        address = str(event.get("email") or "").strip().lower() if isinstance(event, dict) else ""
        if status and address:
            wanted.append((address, status, event))
    counts = {"events": len(events), "changed": 0, "unknown": 0, "ignored": len(events) - len(wanted)}
    if not wanted:
        return counts
    contacts = {}
    for contact in db.session.execute(select(Contact).where(
            Contact.account_id == connection.account_id, Contact.deleted_at.is_(None),
            Contact.email.in_({address for address, _, _ in wanted}))).scalars():  # stored lower-cased
        contacts.setdefault(contact.email, []).append(contact)
    account = db.session.get(Account, connection.account_id)
    for address, status, event in wanted:
        matched = contacts.get(address)
        if not matched:
            counts["unknown"] += 1
            continue
        for contact in matched:
            if EMAIL_STATUS_RANK[status] <= EMAIL_STATUS_RANK.get(contact.email_status, 0):
                continue
            contact.email_status = status
            counts["changed"] += 1
            timeline.add(account, contact.id, f"email.{status}", _summary(address, status, event), obj=connection,
                         details={"provider": "sendgrid", "event": event.get("event"),
                                  "reason": str(event.get("reason") or "")[:300],
                                  "sg_event_id": str(event.get("sg_event_id") or "")})
    return counts


def receive_sendgrid_events(token: str, *, headers: dict, body: bytes, ip: str | None = None) -> str:
    """A POST of SendGrid's Event Webhook: verified, applied, logged; returns what it changed. NotFoundError
    (unknown address), ForbiddenError (no key, bad signature) or ServiceError (not JSON, 400) otherwise; the
    refusals are logged too."""
    connection = connection_for(token, SENDGRID_SALT)
    if connection.provider != "sendgrid":
        raise NotFoundError("Not found.")
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        verify_sendgrid((connection.settings or {}).get("event_webhook_public_key") or "",
                        lowered.get("x-twilio-email-event-webhook-signature", ""),
                        lowered.get("x-twilio-email-event-webhook-timestamp", ""), body)
    except ForbiddenError as error:
        raise refuse(connection, error, body, ip) from None
    try:
        events = json.loads(body)
    except ValueError as exc:
        raise refuse(connection, ServiceError(f"The body is not JSON: {exc}."), body, ip) from None
    if not isinstance(events, list):
        raise refuse(connection, ServiceError("The body is not a JSON array of events."), body, ip)
    counts = apply_sendgrid_events(connection, events)
    outcome = (f"{counts['events']} event(s): {counts['changed']} contact(s) changed, {counts['unknown']} "
               f"address(es) not in the workspace, {counts['ignored']} without an effect")
    record(connection, 200, outcome, body, ip)  # commits the contacts' changes with the log
    return outcome
