"""Sending SMS through a workspace's SMS connection, and the delivery status its provider reports back.

`send(account, connection, to, body, contact_id=None)` checks the number (E.164, in the workspace's default
country when typed without "+") and the text (1 to 1,600 characters), stores an SmsMessage ("queued") and
enqueues `tasks.send_sms`, which calls the provider through `connections.call` (`deliver`). A timeout, a 5xx
or a 429 is retried by the job queue (60, 120, 240 s); the last failure, or a refusal (wrong credentials, a
number the provider rejects), marks the SMS failed with the provider's reason. An SMS that has left is never
sent again.

Providers report delivery to `callbacks.sms_status_url(connection)`; `receive_status_callback` checks the
provider's signature (the adapter's `read_status_callback`) and `apply_status` moves the SMS's status
forward only (queued -> sent -> undelivered/failed or delivered; nothing moves a delivered SMS).
"""
import uuid

from sqlalchemy import select

from app.auth.models import Account
from app.core import jobs
from app.core.errors import ForbiddenError, NotFoundError, ServiceError, ValidationError
from app.core.tenancy import get_or_404
from app.crm.models import Contact
from app.crm.services import timeline
from app.crm.services.contacts import default_country
from app.crm.services.phones import format_phone, normalize_phone
from app.extensions import db
from app.integrations import callbacks, connections, providers
from app.integrations.models import SMS_STATUSES, Connection, SmsMessage
from app.integrations.providers.base import ProviderError

BODY_MAX = 1600  # what Twilio and the others accept in one request (split into segments by the provider)
# Statuses only move up this order: a late "sent" does not undo "delivered", nor a "queued" undo "failed".
RANK = {"queued": 0, "sent": 1, "undelivered": 2, "failed": 2, "delivered": 3}
STATUS_LABELS = {"queued": "Queued", "sent": "Sent", "delivered": "Delivered", "undelivered": "Undelivered",
                 "failed": "Failed"}


def status_callback_url(connection: Connection) -> str:
    return callbacks.sms_status_url(connection)


def send(account, connection: Connection, to: str, body: str, contact_id=None) -> SmsMessage:
    """Queue an SMS to `to` through `connection` (the workspace's own SMS connection); returns it (queued).
    ValidationError for a bad number or text, NotFoundError for another workspace's connection or contact."""
    if connection is None or connection.account_id != account.id:
        raise NotFoundError("Not found.")
    if connection.kind != "sms" or connection.provider not in providers.REGISTRY:
        raise ValidationError("This connection does not send SMS.", field="connection")
    errors = {}
    number = None
    try:
        number = normalize_phone(to, default_country(account), field="to")
        if number is None:
            errors["to"] = "Enter the number to send to."
    except ValidationError as error:
        errors.update(error.fields)
    text = body if isinstance(body, str) else ""
    if not text.strip():
        errors["body"] = "Write the message."
    elif len(text) > BODY_MAX:
        errors["body"] = f"A text message has at most {BODY_MAX:,} characters ({len(text):,} now)."
    if errors:
        raise ValidationError(next(iter(errors.values())), fields=errors)
    contact = get_or_404(Contact, contact_id, account) if contact_id else None
    if contact is not None and contact.deleted_at is not None:
        raise NotFoundError("Not found.")
    message = SmsMessage(account_id=account.id, connection_id=connection.id, contact_id=contact.id if contact else None,
                         to=number, body=text, status="queued")
    db.session.add(message)
    db.session.flush()
    if contact is not None:
        preview = text if len(text) <= 80 else text[:79] + "…"
        timeline.add(account, contact.id, "sms.queued", f"Text message to {format_phone(number)}: “{preview}”",
                     obj=message, details={"connection": connection.name, "provider": connection.provider})
    db.session.commit()
    from app.integrations import tasks  # tasks imports this module

    jobs.enqueue(tasks.send_sms, message.id)
    return message


def deliver(sms_id, final_attempt: bool = True) -> str:
    """Send a queued SMS to its provider (the job's work); returns what happened. A retryable ProviderError
    (timeout, 5xx, 429) is raised again unless this is the final attempt, so the queue retries; a refusal or
    the final failure marks the SMS failed with the provider's reason. Run twice, an SMS that left is not sent
    again (the row is locked while it is being sent)."""
    message = db.session.execute(select(SmsMessage).where(SmsMessage.id == uuid.UUID(str(sms_id)))
                                 .with_for_update()).scalar_one_or_none()
    if message is None:
        db.session.rollback()
        return "The message no longer exists."
    if message.status != "queued" or message.provider_message_id:
        db.session.rollback()
        return "Already sent."
    connection = db.session.get(Connection, message.connection_id)
    callback = status_callback_url(connection)
    try:
        sent = connections.call(connection, "send_sms", lambda adapter: adapter.send_sms(
            message.to, message.body, callback if adapter.has_status_callbacks else None))
    except ProviderError as error:
        if error.retryable and not final_attempt:
            message.error = f"{error.message} (trying again)"[:500]
            db.session.commit()
            raise
        message.status, message.error = "failed", error.message[:500]
        db.session.commit()
        return f"Failed: {error.message}"
    message.provider_message_id = sent.provider_message_id
    status = sent.status if sent.status in SMS_STATUSES else "sent"
    # Without an id from the provider, "queued" would let a second run send it again.
    message.status = "sent" if status == "queued" and not sent.provider_message_id else status
    message.error = None
    db.session.commit()
    return f"Sent ({message.status})."


def apply_status(connection: Connection, provider_message_id: str, status: str) -> SmsMessage | None:
    """Move the connection's SMS with this provider id to `status` if that is forward (RANK); None when the
    connection has sent no such message. Commits."""
    if status not in SMS_STATUSES:
        raise ValueError(f"unknown SMS status {status!r}")
    message = db.session.execute(select(SmsMessage).where(
        SmsMessage.account_id == connection.account_id, SmsMessage.connection_id == connection.id,
        SmsMessage.provider_message_id == provider_message_id).with_for_update()).scalar_one_or_none()
    if message is None:
        db.session.rollback()
        return None
    if RANK[status] > RANK.get(message.status, 0):
        message.status = status
        if status in ("undelivered", "failed") and not message.error:
            message.error = f"{connection.name} reported the message {status}."
    db.session.commit()
    return message


def receive_status_callback(token: str, *, url: str, headers: dict, body: bytes, ip: str | None = None) -> str:
    """A provider's delivery report to `url` (as the provider called it): verified by the adapter, applied,
    logged; returns what it changed. NotFoundError for an unknown address, ForbiddenError (403) for a bad
    signature, ServiceError (400) for a report that cannot be read; refusals are logged too. A report about
    a message this connection never sent changes nothing and is answered 200, so the provider stops retrying."""
    connection = callbacks.connection_for(token, callbacks.SMS_SALT)
    if connection.kind != "sms" or connection.provider not in providers.REGISTRY:
        raise NotFoundError("Not found.")
    try:
        message_id, status = connections.adapter_for(connection).read_status_callback(
            url=url, headers=headers, body=body)
    except ProviderError as error:
        refusal = {403: ForbiddenError, 404: NotFoundError}.get(error.status_code, ServiceError)(error.message)
        raise callbacks.refuse(connection, refusal, body, ip) from None
    if status is None:
        outcome = f"{message_id}: no delivery status in this call; nothing changed"
        contact_id = None
    else:
        message = apply_status(connection, message_id, status)
        if message is None:
            outcome = f"{message_id}: not a message of this connection; nothing changed"
            contact_id = None
        else:
            outcome = f"{message_id}: {status} (the message is {message.status})"
            contact_id = message.contact_id
    callbacks.record(connection, 200, outcome, body, ip, contact_id=contact_id)
    return outcome


def messages_query(account: Account, connection: Connection | None = None):
    """The workspace's SMS, newest first (of one connection when given), for a paginated list."""
    query = select(SmsMessage).where(SmsMessage.account_id == account.id)
    if connection is not None:
        query = query.where(SmsMessage.connection_id == connection.id)
    return query.order_by(SmsMessage.created_at.desc(), SmsMessage.id)
