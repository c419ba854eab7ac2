"""Outgoing webhooks: the workspace's events sent to the URLs it chose, as the Standard Webhooks specification
says (https://www.standardwebhooks.com).

- **Catalogue.** `EVENT_GROUPS` lists every domain event an endpoint may subscribe to (each with a label and
  a group for the form); a new domain event is offered by adding it there. `webhook.test` is the test event.
- **Endpoints.** `create_endpoint`, `update_endpoint`, `set_active`, `delete_endpoint`: the URL must be
  https:// (http:// only for WEBHOOK_DEV_HOSTS), carry no credentials and resolve to public addresses only
  (`app.integrations.safehttp`; checked again at every connection). The signing secret is "whsec_" + base64
  of 24 random bytes, stored encrypted (`app.core.crypto`). `rotate_secret` makes a new one; the old one keeps
  signing for 24 hours, both signatures sent in webhook-signature (space-separated).
- **Fan-out.** A subscriber of every event (`on_event`) makes, for each active endpoint of the event's
  workspace that subscribed to it, a `WebhookMessage` (webhook_id "msg_...", the same over every attempt)
  whose payload is `{"type", "timestamp", "data"}`, and enqueues `tasks.deliver_webhook`. `data` carries the
  event's own values (ids as strings, see the publishers) with `account_id` left out, plus a small snapshot of
  each record the event names: `contact` (id, names, e-mail, phone, source, company_id, owner_id, country,
  tags, email_status, created_at, updated_at), `deal` (id, title, value_cents, currency, pipeline_id,
  stage_id, stage, status, contact_id), `order` (id, number, status, currency, subtotal/discount/total/
  refunded cents, email, names, contact_id, funnel_id, paid_at, created_at), `funnel` (id, name, slug,
  status), `note` (id, text, first 1,000 characters), `activity` (id, type, subject, status, due_at,
  completed_at), `asset` (id, filename, content_type, size). A record deleted by then is left out.
- **Delivery** (`deliver`, run by the job): one POST per run with the headers webhook-id, webhook-timestamp,
  webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>" per live secret), the body exactly as
  signed, WEBHOOK_TIMEOUT seconds; redirects are not followed (a 3xx is a failure saying where it pointed).
  Every attempt is a `WebhookAttempt`. 2xx: delivered. Otherwise retried after 1, 2, 4, 30 minutes, 2, 5, 10
  and 10 hours (RETRY_DELAYS: nine attempts over about 27.6 hours), or later when the receiver's Retry-After
  asks (seconds or an HTTP date, at most 6 hours); then failed. 410 Gone disables the endpoint at once; an
  endpoint failing for 24 hours with nothing delivered meanwhile is disabled too, and its creator and the
  workspace's owners are told (a notification and an e-mail). Disabling fails its waiting messages.
- **Once.** A run takes the message's row lock (`FOR UPDATE SKIP LOCKED`: a second run of the same message
  skips it) and sends only when the message is due, so a message is sent at most once per run and never twice
  at the same time; a receiver may still see a webhook-id again after a lost answer (dedupe by webhook-id).
  A job waiting for a message "holds" it (a Redis key, in-process without Redis); the `webhooks-due` schedule
  enqueues every due message no job holds, so a lost job is a late webhook, not a lost one.
- **Manual**: `redeliver` (a new attempt of the same message, same webhook-id, trigger "manual"), `send_test`.
- **Figures**: `delivery_stats(account, days=30)`, `endpoint_stats(account, endpoint_ids, days=30)`.

Tests and benchmarks may shorten the schedule with the config key WEBHOOK_RETRY_DELAYS (a list of seconds).
"""
import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.core import audit, crypto, events, jobs
from app.core.db import utcnow
from app.core.errors import ConflictError, ValidationError
from app.core.tenancy import scoped
from app.core.validation import FieldErrors, text_value
from app.extensions import db
from app.integrations import interest, safehttp
from app.integrations.models import MESSAGE_STATUSES, WebhookAttempt, WebhookEndpoint, WebhookMessage

log = logging.getLogger(__name__)

TEST_EVENT = "webhook.test"
EVENT_GROUPS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("contacts", "Contacts", (
        ("contact.created", "Contact created"), ("contact.updated", "Contact updated"),
        ("contact.deleted", "Contact deleted"), ("tag.added", "Tag added to a contact"),
        ("tag.removed", "Tag removed from a contact"))),
    ("activity", "Notes and tasks", (
        ("note.created", "Note added"), ("activity.completed", "Task or activity completed"))),
    ("deals", "Deals", (
        ("deal.created", "Deal created"), ("deal.stage_changed", "Deal moved to another stage"),
        ("deal.won", "Deal won"), ("deal.lost", "Deal lost"))),
    ("forms", "Forms", (("form.submitted", "Form submitted on a published page"),)),
    ("orders", "Orders", (
        ("order.created", "Order started at checkout"), ("order.paid", "Order paid"),
        ("order.failed", "Payment failed"), ("order.refunded", "Order refunded (fully or partly)"),
        ("order.abandoned", "Checkout abandoned"), ("order.cancelled", "Order cancelled"),
        ("order.fulfilled", "Order fulfilled"), ("order.updated", "Offer added to an order"),
        ("order.disputed", "Payment disputed"))),
    ("funnels", "Funnels and pages", (
        ("funnel.created", "Funnel created"), ("funnel.published", "Funnel published"),
        ("funnel.unpublished", "Funnel unpublished"), ("page.published", "Page published"),
        ("page.unpublished", "Page unpublished"), ("split_test.deleted", "Split test deleted"))),
    ("assets", "Images", (("asset.uploaded", "Image uploaded"), ("asset.deleted", "Image deleted"))),
)
EVENTS: dict[str, str] = {name: label for _, _, items in EVENT_GROUPS for name, label in items}
EVENT_GROUP: dict[str, str] = {name: key for key, _, items in EVENT_GROUPS for name, _ in items}
GROUP_EVENTS: dict[str, list[str]] = {key: [name for name, _ in items] for key, _, items in EVENT_GROUPS}
EVENT_TYPES = (*EVENTS, TEST_EVENT)  # what a message's event_type may be

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
PREVIOUS_SECRET_LIFETIME = timedelta(hours=24)
RETRY_DELAYS = (60, 120, 240, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_RETRY_AFTER = 6 * 3600
FAILING_LIMIT = timedelta(hours=24)
EXCERPT_BYTES = 2048
HOLD_GRACE = 15 * 60  # a job not started this long after its time no longer holds its message
SUCCESS_WRITE_INTERVAL = timedelta(seconds=60)  # last_delivery_at is kept to the minute (fewer row writes)
DUE_BATCH = 1000
USER_AGENT = "Leadforge-Webhooks/1.0 (+https://www.standardwebhooks.com)"
PENDING = ("pending", "retrying")


# ---- endpoints -----------------------------------------------------------------------------------------

def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_of(endpoint: WebhookEndpoint) -> str:
    """The endpoint's signing secret in the clear (shown to its admins on request; never logged)."""
    return crypto.decrypt(endpoint.secret_encrypted)


def secret_hint(endpoint: WebhookEndpoint) -> str:
    return SECRET_PREFIX + crypto.hint(secret_of(endpoint))


def previous_secret_active(endpoint: WebhookEndpoint, now: datetime | None = None) -> bool:
    return bool(endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at
                and endpoint.previous_secret_expires_at > (now or utcnow()))


def signing_secrets(endpoint: WebhookEndpoint, now: datetime | None = None) -> list[str]:
    """The secrets that sign a request now: the current one, and the one before it for 24 h after a rotation."""
    found = [secret_of(endpoint)]
    if previous_secret_active(endpoint, now):
        found.append(crypto.decrypt(endpoint.previous_secret_encrypted))
    return found


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One Standard Webhooks signature: "v1," + base64(HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}"))."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signature_header(endpoint: WebhookEndpoint, webhook_id: str, timestamp: int, body: bytes,
                     now: datetime | None = None) -> str:
    return " ".join(sign(secret, webhook_id, timestamp, body) for secret in signing_secrets(endpoint, now))


def _clean_url(data: dict) -> str:
    url = text_value(data, "url", "URL", safehttp.MAX_URL_LENGTH, required=True)
    try:
        return str(safehttp.check_destination(url))
    except safehttp.UnsafeURL as error:
        raise ValidationError(error.message, field="url") from None


def _clean_events(data: dict) -> list[str]:
    value = data.get("events")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(name, str) for name in value):
        raise ValidationError("Choose the events to send.", field="events")
    names = list(dict.fromkeys(name.strip() for name in value if name.strip()))
    unknown = [name for name in names if name not in EVENTS]
    if unknown:
        raise ValidationError(f"Unknown event{'s' if len(unknown) > 1 else ''}: {', '.join(unknown[:5])[:200]}.",
                              field="events")
    if not names:
        raise ValidationError("Choose at least one event.", field="events")
    return [name for name in EVENTS if name in names]  # the catalogue's order


def _clean_active(data: dict) -> bool:
    value = data.get("is_active")
    if not isinstance(value, bool):
        raise ValidationError("Active must be true or false.", field="is_active")
    return value


def _clean(data: dict, partial: bool) -> dict:
    fields = FieldErrors(data, partial)
    fields.add("url", lambda: _clean_url(data))
    fields.add("description", lambda: text_value(data, "description", "description", 200) or "")
    fields.add("events", lambda: _clean_events(data))
    if "is_active" in data:
        fields.add("is_active", lambda: _clean_active(data))
    return fields.values_or_raise("Check the endpoint's fields.")


def create_endpoint(account, data: dict, actor=None) -> WebhookEndpoint:
    """A new endpoint (active unless `is_active` is false) with a new signing secret (`secret_of`)."""
    values = _clean(data, partial=False)
    active = values.pop("is_active", True)
    endpoint = WebhookEndpoint(account_id=account.id, secret_encrypted=crypto.encrypt(new_secret()),
                               is_active=active, created_by_id=actor.id if actor is not None else None,
                               disabled_reason=None if active else _disabled_by(actor), **values)
    db.session.add(endpoint)
    db.session.flush()
    audit.record("webhook_endpoint.created", endpoint, f"Webhook endpoint {endpoint.url} added",
                 {"events": endpoint.events}, account=account, user=actor)
    db.session.commit()
    return endpoint


def update_endpoint(account, endpoint: WebhookEndpoint, data: dict, actor=None,
                    partial: bool = False) -> WebhookEndpoint:
    """Change the URL, description and events (only those sent when `partial`), and `is_active` if sent."""
    values = _clean(data, partial)
    active = values.pop("is_active", None)
    changed = sorted(name for name, value in values.items() if getattr(endpoint, name) != value)
    for name, value in values.items():
        setattr(endpoint, name, value)
    if changed:
        audit.record("webhook_endpoint.updated", endpoint, f"Webhook endpoint {endpoint.url} changed",
                     {"fields": changed}, account=account, user=actor)
    db.session.commit()
    if active is not None and active != endpoint.is_active:
        set_active(account, endpoint, active, actor)
    return endpoint


def _disabled_by(actor) -> str:
    who = getattr(actor, "display_name", None) or getattr(actor, "email", None)
    return f"Disabled by {who}." if who else "Disabled by hand."


def set_active(account, endpoint: WebhookEndpoint, active: bool, actor=None) -> WebhookEndpoint:
    """Enable (the failure streak forgotten) or disable (its waiting messages failed) the endpoint."""
    if active == endpoint.is_active:
        return endpoint
    endpoint.is_active = active
    if active:
        endpoint.disabled_reason, endpoint.failing_since = None, None
    else:
        endpoint.disabled_reason = _disabled_by(actor)
        _fail_waiting(endpoint.id, "Not sent: the endpoint was disabled.")
    verb = "enabled" if active else "disabled"
    audit.record(f"webhook_endpoint.{verb}", endpoint, f"Webhook endpoint {endpoint.url} {verb}",
                 account=account, user=actor)
    db.session.commit()
    return endpoint


def rotate_secret(account, endpoint: WebhookEndpoint, actor=None, now: datetime | None = None) -> str:
    """A new signing secret; the current one keeps signing (a second signature) for 24 hours. Returns it."""
    now = now or utcnow()
    secret = new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = now + PREVIOUS_SECRET_LIFETIME
    endpoint.secret_encrypted = crypto.encrypt(secret)
    audit.record("webhook_endpoint.secret_rotated", endpoint,
                 f"Signing secret of {endpoint.url} rotated (the old one signs until "
                 f"{endpoint.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC)", account=account, user=actor)
    db.session.commit()
    return secret


def delete_endpoint(account, endpoint: WebhookEndpoint, actor=None) -> None:
    """Delete the endpoint with its delivery history."""
    audit.record("webhook_endpoint.deleted", endpoint, f"Webhook endpoint {endpoint.url} deleted",
                 account=account, user=actor)
    db.session.delete(endpoint)
    db.session.commit()


def event_label(name: str) -> str:
    return "Test event" if name == TEST_EVENT else EVENTS.get(name, name)


# ---- the messages: fan-out -------------------------------------------------------------------------------

def new_webhook_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def timestamp_text(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds: 2026-05-01T12:30:00.123Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@events.subscribe(events.ALL)
def on_event(name: str, payload: dict) -> None:
    """Every published event: a message for each endpoint of its workspace that asked for it."""
    account_id = _uuid_or_none(payload.get("account_id"))
    if name in EVENTS and account_id is not None and interest.wants(account_id, name):
        fan_out(name, payload)


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def fan_out(name: str, payload: dict, now: datetime | None = None) -> list[uuid.UUID]:
    """Store a message of the event for each subscribed active endpoint and start their jobs; their ids.

    It works in a session of its own, so the publisher's session (its objects, anything it has not
    committed) is neither flushed, committed nor expired by it."""
    account_id = uuid.UUID(str(payload["account_id"]))
    now = now or utcnow()
    with Session(db.engine, expire_on_commit=False) as session:
        endpoints = session.execute(select(WebhookEndpoint.id, WebhookEndpoint.events).where(
            WebhookEndpoint.account_id == account_id, WebhookEndpoint.is_active.is_(True))).all()
        targets = [endpoint_id for endpoint_id, names in endpoints if name in (names or [])]
        if not targets:
            return []
        body = {"type": name, "timestamp": timestamp_text(now), "data": event_data(session, payload)}
        messages = [WebhookMessage(id=uuid.uuid4(), account_id=account_id, endpoint_id=endpoint_id,
                                   webhook_id=new_webhook_id(), event_type=name, payload=body, status="pending",
                                   next_attempt_at=now, created_at=now) for endpoint_id in targets]
        session.add_all(messages)
        session.commit()
        ids = [message.id for message in messages]
    start(ids)
    return ids


def _plain(value):
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _iso(value):
    return value.isoformat() if value is not None else None


def _contact(session, contact_id):
    from app.crm.models import Contact

    contact = session.get(Contact, contact_id)
    if contact is None:
        return None
    return {"id": str(contact.id), "first_name": contact.first_name, "last_name": contact.last_name,
            "email": contact.email, "phone": contact.phone, "source": contact.source,
            "company_id": _plain(contact.company_id), "owner_id": _plain(contact.owner_id),
            "country": contact.country, "tags": [tag.name for tag in contact.tags],
            "email_status": contact.email_status, "deleted": contact.deleted_at is not None,
            "created_at": _iso(contact.created_at), "updated_at": _iso(contact.updated_at)}


def _deal(session, deal_id):
    from app.crm.models import Deal

    deal = session.get(Deal, deal_id)
    if deal is None:
        return None
    return {"id": str(deal.id), "title": deal.title, "value_cents": deal.value_cents, "currency": deal.currency,
            "pipeline_id": str(deal.pipeline_id), "stage_id": str(deal.stage_id), "stage": deal.stage.name,
            "status": deal.status, "contact_id": _plain(deal.contact_id)}


def _order(session, order_id):
    from app.orders.models import Order

    order = session.get(Order, order_id)
    if order is None:
        return None
    return {"id": str(order.id), "number": order.number, "status": order.status, "currency": order.currency,
            "subtotal_cents": order.subtotal_cents, "discount_cents": order.discount_cents,
            "total_cents": order.total_cents, "refunded_cents": order.refunded_cents, "email": order.email,
            "first_name": order.first_name, "last_name": order.last_name, "contact_id": _plain(order.contact_id),
            "funnel_id": _plain(order.funnel_id), "paid_at": _iso(order.paid_at),
            "created_at": _iso(order.created_at)}


def _funnel(session, funnel_id):
    from app.funnels.models import Funnel

    funnel = session.get(Funnel, funnel_id)
    if funnel is None:
        return None
    return {"id": str(funnel.id), "name": funnel.name, "slug": funnel.slug, "status": funnel.status}


def _note(session, note_id):
    import re
    from html import unescape

    from app.crm.models import Note

    note = session.get(Note, note_id)
    if note is None:
        return None
    text = unescape(re.sub(r"<[^>]+>", " ", note.body_html or ""))
    return {"id": str(note.id), "text": " ".join(text.split())[:1000]}


def _activity(session, activity_id):
    from app.crm.models import Activity

    activity = session.get(Activity, activity_id)
    if activity is None:
        return None
    return {"id": str(activity.id), "type": activity.activity_type, "subject": activity.subject,
            "status": activity.status, "due_at": _iso(activity.due_at), "completed_at": _iso(activity.completed_at)}


def _asset(session, asset_id):
    from app.assets.models import Asset

    asset = session.get(Asset, asset_id)
    if asset is None:
        return None
    return {"id": str(asset.id), "filename": asset.filename, "content_type": asset.content_type, "size": asset.size}


SNAPSHOTS = {"contact_id": ("contact", _contact), "deal_id": ("deal", _deal), "order_id": ("order", _order),
             "funnel_id": ("funnel", _funnel), "note_id": ("note", _note), "activity_id": ("activity", _activity),
             "asset_id": ("asset", _asset)}


def event_data(session, payload: dict) -> dict:
    """The `data` of a message: the event's values (not its account_id) and a snapshot of each record it names."""
    data = {key: _plain(value) for key, value in payload.items() if key != "account_id"}
    for key, (name, loader) in SNAPSHOTS.items():
        value = payload.get(key)
        if not value or name in data:
            continue
        try:
            record_id = uuid.UUID(str(value))
        except ValueError:
            continue
        snapshot = loader(session, record_id)
        if snapshot is not None:
            data[name] = snapshot
    return data


# ---- starting jobs, and who holds a message ----------------------------------------------------------------

_local_holds: dict[str, float] = {}
_local_lock = threading.Lock()
HOLD_KEY = "webhooks:held:"


def _uses_redis() -> bool:
    return current_app.config["JOBS_MODE"] == "rq"


def _hold(message_ids: list[str], seconds: float) -> None:
    if _uses_redis():
        pipe = jobs.redis_connection().pipeline(transaction=False)
        for message_id in message_ids:
            pipe.set(HOLD_KEY + message_id, 1, ex=max(1, int(seconds) + 1))
        pipe.execute()
    else:
        with _local_lock:
            until = time.monotonic() + seconds
            _local_holds.update({message_id: until for message_id in message_ids})


def _release(message_id: str) -> None:
    if _uses_redis():
        jobs.redis_connection().delete(HOLD_KEY + message_id)
    else:
        with _local_lock:
            _local_holds.pop(message_id, None)


def held(message_ids: list[str]) -> set[str]:
    """Those of the messages that a queued or scheduled job will take."""
    if not message_ids:
        return set()
    if _uses_redis():
        values = jobs.redis_connection().mget([HOLD_KEY + message_id for message_id in message_ids])
        return {message_id for message_id, value in zip(message_ids, values) if value is not None}
    with _local_lock:
        moment = time.monotonic()
        return {message_id for message_id in message_ids if _local_holds.get(message_id, 0) > moment}


def _job_timeout() -> int:
    return int(current_app.config.get("WEBHOOK_TIMEOUT", 15)) * 4 + 60


def start(message_ids, delay: float = 0, trigger: str = "auto") -> int:
    """Enqueue the delivery job of each message (after `delay` seconds). A queue that refuses (Redis down) is
    logged: the messages stay due and the `webhooks-due` schedule starts them later. Returns how many."""
    from app.integrations import tasks

    ids = [str(message_id) for message_id in message_ids]
    if not ids:
        return 0
    started = 0
    try:
        _hold(ids, delay + HOLD_GRACE)
        for message_id in ids:
            jobs.enqueue(tasks.deliver_webhook, message_id, trigger, retry=False, timeout=_job_timeout(),
                         delay=delay)
            started += 1
    except Exception:  # the queue is down: the schedule will find them
        log.exception("webhook delivery not enqueued", extra={"messages": len(ids) - started})
        for message_id in ids[started:]:
            try:
                _release(message_id)
            except Exception:
                break
    return started


def enqueue_due(now: datetime | None = None, limit: int = DUE_BATCH) -> int:
    """The sweeper: start every due message (pending or retrying, its time come) that no job holds."""
    now = now or utcnow()
    due = [str(message_id) for message_id in db.session.execute(
        select(WebhookMessage.id).where(WebhookMessage.status.in_(PENDING), WebhookMessage.next_attempt_at <= now)
        .order_by(WebhookMessage.next_attempt_at).limit(limit)).scalars()]
    db.session.commit()
    waiting = held(due)
    return start([message_id for message_id in due if message_id not in waiting])


# ---- delivery ----------------------------------------------------------------------------------------------

@dataclass
class Answer:
    """What one POST came to."""

    status_code: int | None = None
    excerpt: str = ""
    error: str | None = None
    duration_ms: int = 0
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_bytes(payload: dict) -> bytes:
    """The JSON bytes that are signed and sent (compact, UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header's wait: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=now.tzinfo)
    return max(0.0, (when - now).total_seconds())


def post(url: str, body: bytes, headers: dict, now: datetime) -> Answer:
    """POST the body through the guarded client; read at most EXCERPT_BYTES of the answer."""
    timeout = float(current_app.config.get("WEBHOOK_TIMEOUT", 15))
    answer = Answer()
    started = time.monotonic()
    try:
        with safehttp.client(timeout=timeout) as client, \
                client.stream("POST", url, content=body, headers=headers) as response:
            answer.status_code = response.status_code
            chunks, size = [], 0
            for chunk in response.iter_raw():
                chunks.append(chunk)
                size += len(chunk)
                if size >= EXCERPT_BYTES:
                    break
            answer.excerpt = b"".join(chunks)[:EXCERPT_BYTES].decode("utf-8", "replace")
            if response.is_redirect or 300 <= response.status_code < 400:
                target = response.headers.get("location", "(no Location)")
                answer.error = (f"Redirected to {target[:300]}: not followed. Give the endpoint the URL that "
                                f"answers itself.")
            elif not answer.ok:
                answer.error = f"The receiver answered {response.status_code} {response.reason_phrase}".strip() + "."
                answer.retry_after = retry_after_seconds(response.headers.get("retry-after"), now)
    except safehttp.UnsafeURL as error:
        answer.error = error.message
    except httpx.TimeoutException:
        answer.error = f"No answer within {timeout:g} seconds (timed out)."
    except httpx.HTTPError as error:
        answer.error = f"Could not reach the receiver: {error or type(error).__name__}"
    answer.duration_ms = int((time.monotonic() - started) * 1000)
    return answer


def retry_delays() -> tuple[float, ...]:
    # WEBHOOK_RETRY_DELAYS is a knob for tests and benchmarks only, on purpose not in app/config.py nor
    # .env.example: the retry schedule is part of what receivers are promised (RETRY_DELAYS).
    return tuple(current_app.config.get("WEBHOOK_RETRY_DELAYS") or RETRY_DELAYS)


def next_delay(attempts: int, retry_after: float | None = None) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones; None when the schedule is used up."""
    delays = retry_delays()
    if attempts > len(delays):
        return None
    delay = float(delays[attempts - 1])
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def deliver(message_id, trigger: str = "auto", now: datetime | None = None) -> str:
    """One attempt of the message, if it is due (any time for a manual redelivery) and no other run holds it.

    Returns what happened: "delivered", "retrying", "failed" or "skipped"."""
    now = now or utcnow()
    message_id = str(message_id)
    _release(message_id)
    found = db.session.execute(
        select(WebhookMessage, WebhookEndpoint).join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
        .where(WebhookMessage.id == uuid.UUID(message_id))
        .with_for_update(of=WebhookMessage, skip_locked=trigger != "manual")
        .execution_options(populate_existing=True)).first()
    message, endpoint = found if found is not None else (None, None)
    if message is None or message.status not in PENDING or (trigger != "manual" and (
            message.next_attempt_at is None or message.next_attempt_at > now)):
        db.session.rollback()
        return "skipped"
    if not endpoint.is_active and not message.is_test:
        message.status, message.next_attempt_at = "failed", None
        message.last_error = "Not sent: the endpoint is disabled."
        db.session.commit()
        return "failed"

    body = body_bytes(message.payload)
    timestamp = int(now.timestamp())
    headers = {"webhook-id": message.webhook_id, "webhook-timestamp": str(timestamp),
               "webhook-signature": signature_header(endpoint, message.webhook_id, timestamp, body, now),
               "content-type": "application/json", "user-agent": USER_AGENT}
    answer = post(endpoint.url, body, headers, now)

    number = message.attempts + 1
    db.session.add(WebhookAttempt(
        account_id=message.account_id, message_id=message.id, endpoint_id=endpoint.id, number=number,
        trigger="manual" if trigger == "manual" else ("test" if message.is_test else "auto"), url=endpoint.url,
        request_headers=headers, status_code=answer.status_code, response_excerpt=answer.excerpt,
        error=(answer.error or None) and answer.error[:500], duration_ms=answer.duration_ms, ok=answer.ok,
        created_at=now))
    message.attempts, message.last_status_code = number, answer.status_code
    message.last_error = answer.error[:500] if answer.error else None
    disabled_reason, delay = None, None
    if answer.ok:
        message.status, message.delivered_at, message.next_attempt_at = "delivered", now, None
        if not message.is_test and (endpoint.failing_since is not None or endpoint.last_delivery_at is None
                                    or endpoint.last_delivery_at < now - SUCCESS_WRITE_INTERVAL):
            _endpoint_succeeded(endpoint.id, now)
    elif answer.status_code == 410 and not message.is_test:
        message.status, message.next_attempt_at = "failed", None
        disabled_reason = (f"The receiver answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC: it asked for no more "
                           f"deliveries. Enable the endpoint again once it accepts them.")
    else:
        delay = None if message.is_test else next_delay(number, answer.retry_after)
        if delay is None:
            message.status, message.next_attempt_at = "failed", None
        else:
            message.status, message.next_attempt_at = "retrying", now + timedelta(seconds=delay)
        if not message.is_test:
            disabled_reason = _endpoint_failed(endpoint.id, now)
    disabled = disabled_reason is not None and _disable(endpoint.id, disabled_reason, now)
    if disabled:
        message.status, message.next_attempt_at = "failed", None
    outcome = message.status
    db.session.commit()
    if delay is not None and not disabled:
        start([message_id], delay=delay)
    if disabled:
        _tell_disabled(endpoint.id, disabled_reason)
    return outcome


def _endpoint_succeeded(endpoint_id, now: datetime) -> None:
    db.session.execute(
        update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, (
            WebhookEndpoint.failing_since.is_not(None) | WebhookEndpoint.last_delivery_at.is_(None)
            | (WebhookEndpoint.last_delivery_at < now - SUCCESS_WRITE_INTERVAL)))
        .values(failing_since=None, last_delivery_at=now).execution_options(synchronize_session=False))


def _endpoint_failed(endpoint_id, now: datetime) -> str | None:
    """Start (or go on with) the endpoint's failure streak; the reason to disable it when the streak has
    lasted FAILING_LIMIT with nothing delivered meanwhile, else None."""
    since, last = db.session.execute(
        update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        .values(failing_since=func.coalesce(WebhookEndpoint.failing_since, now))
        .returning(WebhookEndpoint.failing_since, WebhookEndpoint.last_delivery_at)
        .execution_options(synchronize_session=False)).one()
    if since is None or since > now - FAILING_LIMIT or (last is not None and last >= since):
        return None
    return (f"Every delivery failed for more than 24 hours (since {since:%Y-%m-%d %H:%M} UTC) and nothing was "
            f"delivered meanwhile. Fix the receiver, then enable the endpoint again.")


def _disable(endpoint_id, reason: str, now: datetime) -> bool:
    """Disable the endpoint if it is still active (once, whoever races) and fail its waiting messages."""
    done = db.session.execute(
        update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.is_active.is_(True))
        .values(is_active=False, disabled_reason=reason[:300], updated_at=now)
        .returning(WebhookEndpoint.id).execution_options(synchronize_session=False)).first()
    if done is None:
        return False
    _fail_waiting(endpoint_id, "Not sent: the endpoint was disabled.")
    return True


def _fail_waiting(endpoint_id, reason: str) -> None:
    db.session.execute(
        update(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint_id, WebhookMessage.status.in_(PENDING),
                                     WebhookMessage.is_test.is_(False))
        .values(status="failed", next_attempt_at=None, last_error=reason)
        .execution_options(synchronize_session=False))


def _tell_disabled(endpoint_id, reason: str) -> None:
    """The endpoint's creator (if still a member) and the workspace's owners: a notification and an e-mail."""
    import smtplib

    from app.auth.models import Account, Membership, User
    from app.core import mail, notifications

    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    account = db.session.get(Account, endpoint.account_id)
    members = db.session.execute(select(Membership).where(Membership.account_id == account.id)).scalars().all()
    wanted = {m.user_id for m in members if m.role == "owner" or m.user_id == endpoint.created_by_id}
    path = f"/integrations/webhooks/{endpoint.id}"
    url = f"{current_app.config.get('BASE_URL', '').rstrip('/')}{path}"
    for user in db.session.execute(select(User).where(User.id.in_(wanted))).scalars():
        notifications.notify(user.id, account.id, "Webhook endpoint disabled", f"{endpoint.url}: {reason}", path)
        try:
            mail.send_template(user.email, "A webhook endpoint was disabled", "webhook_disabled",
                               account_id=account.id, user=user, account=account, endpoint=endpoint, reason=reason,
                               url=url)
        except (smtplib.SMTPException, OSError) as error:
            log.warning("webhook-disabled e-mail not sent: %s", error, extra={"endpoint": str(endpoint.id)})


# ---- by hand ----------------------------------------------------------------------------------------------

def redeliver(account, message: WebhookMessage, actor=None, now: datetime | None = None) -> WebhookMessage:
    """Send the message again now (same webhook-id), as a job: a new attempt with trigger "manual". If it
    fails, the message is retried on the usual schedule from where its attempts left off (a message whose
    retries are used up is failed again)."""
    now = now or utcnow()
    endpoint = message.endpoint
    if not endpoint.is_active and not message.is_test:
        raise ConflictError("This endpoint is disabled: enable it before redelivering its messages.")
    message.status, message.next_attempt_at = "pending", now
    audit.record("webhook_message.redelivered", endpoint, f"Message {message.webhook_id} redelivered to "
                 f"{endpoint.url}", {"message": message.webhook_id}, account=account, user=actor)
    db.session.commit()
    start([message.id], trigger="manual")
    return message


def send_test(account, endpoint: WebhookEndpoint, actor=None, now: datetime | None = None) -> WebhookMessage:
    """A `webhook.test` message to the endpoint (even a disabled one): sent once, not retried, and leaving
    the endpoint's health as it is."""
    now = now or utcnow()
    payload = {"type": TEST_EVENT, "timestamp": timestamp_text(now), "data": {
        "message": "A test event from Leadforge: your endpoint receives and verifies our webhooks.",
        "endpoint_id": str(endpoint.id), "account_id": str(account.id), "workspace": account.name}}
    message = WebhookMessage(account_id=account.id, endpoint_id=endpoint.id, webhook_id=new_webhook_id(),
                             event_type=TEST_EVENT, payload=payload, status="pending", next_attempt_at=now,
                             is_test=True, created_at=now)
    db.session.add(message)
    audit.record("webhook_endpoint.tested", endpoint, f"Test event sent to {endpoint.url}", account=account,
                 user=actor)
    db.session.commit()
    start([message.id])
    return message


# ---- reading ----------------------------------------------------------------------------------------------

def endpoints_query(account):
    return scoped(WebhookEndpoint, account).order_by(WebhookEndpoint.created_at.desc(), WebhookEndpoint.id)


def messages_query(account, endpoint: WebhookEndpoint, status: str | None = None, event_type: str | None = None):
    """The endpoint's messages, newest first, optionally of one status and event type."""
    query = scoped(WebhookMessage, account).where(WebhookMessage.endpoint_id == endpoint.id)
    if status in MESSAGE_STATUSES:
        query = query.where(WebhookMessage.status == status)
    if event_type:
        query = query.where(WebhookMessage.event_type == event_type)
    return query.order_by(WebhookMessage.created_at.desc(), WebhookMessage.id.desc())


def attempts_of(message: WebhookMessage) -> list[WebhookAttempt]:
    return list(db.session.execute(select(WebhookAttempt).where(WebhookAttempt.message_id == message.id)
                                   .order_by(WebhookAttempt.number, WebhookAttempt.created_at)).scalars())


def _rate(delivered: int, failed: int) -> float | None:
    return delivered / (delivered + failed) if delivered + failed else None


def delivery_stats(account, days: int = 30, now: datetime | None = None) -> dict:
    """The workspace's deliveries of the last `days` days (test events left out): messages by outcome, the
    success rate (delivered / (delivered + failed); None when none has finished), and the attempts."""
    since = (now or utcnow()) - timedelta(days=days)
    counts = dict(db.session.execute(
        select(WebhookMessage.status, func.count()).where(
            WebhookMessage.account_id == account.id, WebhookMessage.is_test.is_(False),
            WebhookMessage.created_at >= since).group_by(WebhookMessage.status)).all())
    attempts, ok_attempts = db.session.execute(
        select(func.count(), func.count().filter(WebhookAttempt.ok.is_(True))).select_from(WebhookAttempt)
        .join(WebhookMessage, WebhookMessage.id == WebhookAttempt.message_id)
        .where(WebhookAttempt.account_id == account.id, WebhookMessage.is_test.is_(False),
               WebhookAttempt.created_at >= since)).one()
    delivered, failed = counts.get("delivered", 0), counts.get("failed", 0)
    waiting = counts.get("pending", 0) + counts.get("retrying", 0)
    return {"days": days, "messages": delivered + failed + waiting, "delivered": delivered, "failed": failed,
            "waiting": waiting, "success_rate": _rate(delivered, failed), "attempts": attempts,
            "failed_attempts": attempts - ok_attempts,
            "attempt_success_rate": ok_attempts / attempts if attempts else None}


def endpoint_stats(account, endpoint_ids, days: int = 30, now: datetime | None = None) -> dict:
    """{endpoint id: {"delivered", "failed", "waiting", "success_rate"}} over the last `days` days."""
    since = (now or utcnow()) - timedelta(days=days)
    stats = {endpoint_id: {"delivered": 0, "failed": 0, "waiting": 0, "success_rate": None}
             for endpoint_id in endpoint_ids}
    if not stats:
        return stats
    rows = db.session.execute(
        select(WebhookMessage.endpoint_id, WebhookMessage.status, func.count()).where(
            WebhookMessage.account_id == account.id, WebhookMessage.endpoint_id.in_(list(stats)),
            WebhookMessage.is_test.is_(False), WebhookMessage.created_at >= since)
        .group_by(WebhookMessage.endpoint_id, WebhookMessage.status)).all()
    for endpoint_id, status, count in rows:
        key = "waiting" if status in PENDING else status
        stats[endpoint_id][key] += count
    for figures in stats.values():
        figures["success_rate"] = _rate(figures["delivered"], figures["failed"])
    return stats
