"""Contact sync: keeping the provider's lists current with the workspace's contacts.

A connection whose adapter `has_lists` carries its sync settings: the lists chosen (`sync_lists`, from the
provider's own `lists()`), the events that sync (`sync_events`), the field map (`field_map`: contact field ->
the provider's field name) and the tags sent (`sync_tags`: names of the contact's tags, "*" for all).

- On contact.created / contact.updated / tag.added (`core.events`), `queue_for_event` writes one SyncRecord
  per chosen list of each connected connection of the workspace whose triggers include the event, and
  enqueues `app.integrations.tasks.sync_contact` for it. A contact without an e-mail is logged as skipped.
- `push(record_id)` (the job's work) pushes the contact as a `Subscriber` built through the field map with
  `call(connection, "subscribe", ...)`. A retryable ProviderError (timeout, 5xx, 429) is raised again so RQ
  retries the job (60/120/240 s; attempts counted on the record); a refusal, or the last attempt, marks the
  record failed with what the provider answered. Safe to run twice: only a queued record is pushed.
- "Sync all now" (`start_sync_all`, then `run_sync_all` in a tracked job) pushes every contact with an
  e-mail in batches, with the job's progress; interrupted, it goes on after the contacts it has done.
"""
import logging
import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.core import audit, events, jobs
from app.core.errors import ConflictError, ValidationError
from app.crm.models import Contact, CustomField
from app.extensions import db
from app.integrations import connections, interest
from app.integrations.models import SYNC_STATUSES, Connection, SyncRecord
from app.integrations.providers.base import ListInfo, ProviderError, Subscriber

log = logging.getLogger(__name__)

SYNC_EVENTS = {"contact.created": "A contact is created",
               "contact.updated": "A contact is changed",
               "tag.added": "A tag is added to a contact"}
BASE_FIELDS = (("first_name", "First name"), ("last_name", "Last name"), ("phone", "Phone"),
               ("company", "Company"), ("street", "Street"), ("city", "City"), ("region", "Region or state"),
               ("postal_code", "Postal code"), ("country", "Country"), ("source", "Source"))
CUSTOM_PREFIX = "custom."
ALL_TAGS = "*"
MAX_LISTS = 20
MAX_TAGS = 50
TAG_MAX = 50
PROVIDER_FIELD_MAX = 100
BATCH_SIZE = 100
STOP_AFTER_UNANSWERED = 5  # "sync all" pauses (its job retried later) after this many provider failures in a row
SYNC_ALL_KIND = "integration_sync_all:"  # + the connection's id: the Job kind of a connection's "sync all"


# ---- settings -----------------------------------------------------------------------------------------------

def can_sync(connection: Connection) -> bool:
    cls = connections.provider_class(connection.provider)
    return cls is not None and cls.has_lists


def contact_fields(account) -> list[tuple[str, str]]:
    """(key, label) of the contact's fields a field map may send: the standard ones, then the custom fields
    (`custom.<key>`) in their order."""
    custom = db.session.execute(select(CustomField.key, CustomField.label).where(
        CustomField.account_id == account.id).order_by(CustomField.position, CustomField.label)).all()
    return list(BASE_FIELDS) + [(f"{CUSTOM_PREFIX}{key}", label) for key, label in custom]


def parse_tags(raw) -> list[str]:
    """Tag names from a comma-separated text or a list: trimmed, without duplicates (case-insensitive)."""
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    names, seen = [], set()
    for item in items:
        if not isinstance(item, str):
            raise ValidationError("Tag names must be text.", field="tags")
        name = item.strip()
        if not name or name.lower() in seen:
            continue
        if len(name) > TAG_MAX or "\x00" in name:
            raise ValidationError(f"A tag name has at most {TAG_MAX} characters.", field="tags")
        seen.add(name.lower())
        names.append(name)
    if len(names) > MAX_TAGS:
        raise ValidationError(f"Send at most {MAX_TAGS} tags.", field="tags")
    if ALL_TAGS in names and len(names) > 1:
        raise ValidationError("Use * alone to send all of the contact's tags.", field="tags")
    return names


def save_settings(account, user, connection: Connection, *, list_ids, sync_events, field_map: dict, tags,
                  available: list[ListInfo] | None) -> Connection:
    """Store the sync settings after checking them. `available`: the provider's lists as fetched now (None when
    the provider could not be asked: the lists already chosen may then be kept or dropped, no other added)."""
    if not can_sync(connection):
        raise ValidationError(f"{connection.name} has no lists to sync.")
    errors: dict = {}
    choosable = {str(item.id): item.name for item in available} if available is not None else {
        str(item["id"]): item.get("name", "") for item in connection.sync_lists or []}
    chosen = []
    for list_id in dict.fromkeys(str(value) for value in list_ids or []):
        if list_id not in choosable:
            errors["lists"] = "Choose lists the provider offers."
            break
        chosen.append({"id": list_id, "name": choosable[list_id]})
    if len(chosen) > MAX_LISTS:
        errors["lists"] = f"Choose at most {MAX_LISTS} lists."
    triggers = list(dict.fromkeys(sync_events or []))
    if any(event not in SYNC_EVENTS for event in triggers):
        errors["events"] = "Choose the events among those offered."
    known = dict(contact_fields(account))
    clean_map = {}
    for contact_field, provider_field in (field_map or {}).items():
        if contact_field not in known:
            errors[f"map_{contact_field}"] = "This workspace has no such contact field."
            continue
        name = (provider_field or "").strip() if isinstance(provider_field, str) else None
        if name is None:
            errors[f"map_{contact_field}"] = "The provider's field name must be text."
        elif len(name) > PROVIDER_FIELD_MAX or any(ord(char) < 32 for char in name):
            errors[f"map_{contact_field}"] = f"A field name has at most {PROVIDER_FIELD_MAX} characters, on one line."
        elif name:
            clean_map[contact_field] = name
    try:
        tag_names = parse_tags(tags)
    except ValidationError as error:
        errors.update(error.fields)
        tag_names = []
    if "tag.added" in triggers and not tag_names and "tags" not in errors:
        errors["tags"] = "Name the tags to send (or * for all) so that adding one has something to sync."
    if errors:
        raise ValidationError("Check the sync settings.", fields=errors)
    connection.sync_lists, connection.sync_events = chosen, triggers
    connection.field_map, connection.sync_tags = clean_map, tag_names
    audit.record("integration.sync_settings", connection, f"Contact sync of “{connection.name}” changed",
                 account=account, user=user,
                 details={"lists": [item["id"] for item in chosen], "events": triggers, "fields": sorted(clean_map)})
    db.session.commit()
    return connection


# ---- what is sent -------------------------------------------------------------------------------------------

def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    return str(value)


def contact_values(contact: Contact) -> dict:
    """The contact's values by field key (as the field map names them), as text."""
    values = {"first_name": contact.first_name, "last_name": contact.last_name, "phone": contact.phone,
              "company": contact.company.name if contact.company is not None else "", "street": contact.street,
              "city": contact.city, "region": contact.region, "postal_code": contact.postal_code,
              "country": contact.country, "source": contact.source}
    for key, value in (contact.custom_fields or {}).items():
        values[f"{CUSTOM_PREFIX}{key}"] = value
    return {key: _text(value) for key, value in values.items()}


def tags_sent(connection: Connection, contact: Contact) -> list[str]:
    wanted = connection.sync_tags or []
    if ALL_TAGS in wanted:
        return [tag.name for tag in contact.tags]
    names = {name.lower() for name in wanted}
    return [tag.name for tag in contact.tags if tag.name.lower() in names]


def subscriber_for(connection: Connection, contact: Contact) -> Subscriber:
    """The contact as the provider receives it: e-mail, name and phone, the mapped fields (provider field ->
    value, empty values left out) and the tags sent."""
    values = contact_values(contact)
    fields = {provider_field: values[contact_field] for contact_field, provider_field in
              (connection.field_map or {}).items() if values.get(contact_field)}
    return Subscriber(email=contact.email or "", first_name=contact.first_name or "",
                      last_name=contact.last_name or "", phone=contact.phone or "", fields=fields,
                      tags=tags_sent(connection, contact))


# ---- on the contact events ----------------------------------------------------------------------------------

def _syncing(account_id, event: str) -> list[Connection]:
    rows = db.session.execute(select(Connection).where(
        Connection.account_id == account_id, Connection.status == "connected")).scalars().all()
    return [row for row in rows if event in (row.sync_events or []) and row.sync_lists and can_sync(row)]


def queue_for_event(event: str, account_id, contact_id, tag: str | None = None) -> list[SyncRecord]:
    """Log and queue the pushes an event calls for; returns the records written (queued or skipped). A contact
    already waiting for the same list (not yet started) is not queued twice: its push sends the latest state."""
    account_id, contact_id = uuid.UUID(str(account_id)), uuid.UUID(str(contact_id))
    targets = _syncing(account_id, event)
    if not targets:
        return []
    contact = db.session.execute(select(Contact).where(
        Contact.account_id == account_id, Contact.id == contact_id)).scalar_one_or_none()
    if contact is None or contact.deleted_at is not None:
        return []
    records, to_push = [], []
    for connection in targets:
        if event == "tag.added" and ALL_TAGS not in connection.sync_tags and (tag or "").lower() not in {
                name.lower() for name in connection.sync_tags or []}:
            continue  # a tag this connection does not send
        for item in connection.sync_lists:
            list_id = str(item["id"])
            if contact.email:
                waiting = db.session.execute(select(SyncRecord.id).where(
                    SyncRecord.connection_id == connection.id, SyncRecord.contact_id == contact.id,
                    SyncRecord.list_id == list_id, SyncRecord.status == "queued", SyncRecord.attempts == 0,
                ).limit(1)).scalar_one_or_none()
                if waiting is not None:
                    continue
            record = SyncRecord(account_id=account_id, connection_id=connection.id, contact_id=contact.id,
                                email=contact.email or "", list_id=list_id, trigger=event)
            if not contact.email:
                record.status, record.error = "skipped", "The contact has no e-mail address."
            else:
                to_push.append(record)
            db.session.add(record)
            records.append(record)
    if records:
        db.session.commit()
    for record in to_push:
        _enqueue_push(record)
    return records


def _enqueue_push(record: SyncRecord) -> None:
    from app.integrations import tasks

    try:
        jobs.enqueue(tasks.sync_contact, record.id)
    except Exception as exc:  # the queue is down: the log says so rather than waiting forever
        log.exception("sync job not queued", extra={"sync_record": str(record.id)})
        record.status, record.error = "failed", f"Could not be queued: {type(exc).__name__}"
        db.session.commit()


@events.subscribe("contact.created")
@events.subscribe("contact.updated")
@events.subscribe("tag.added")
def on_contact_event(name: str, payload: dict) -> None:
    if payload.get("account_id") and payload.get("contact_id") and interest.wants(payload["account_id"], name):
        queue_for_event(name, payload["account_id"], payload["contact_id"], tag=payload.get("tag"))


# ---- pushing one contact ------------------------------------------------------------------------------------

def _last_attempt() -> bool:
    """True unless RQ will run this job again after a failure (no RQ job: this is the only attempt)."""
    if current_app.config.get("JOBS_MODE") != "rq":
        return True
    try:
        from rq import get_current_job

        rq_job = get_current_job()
    except Exception:
        return True
    return rq_job is None or not (rq_job.retries_left or 0)


def _contact_of(record: SyncRecord) -> tuple[Contact | None, str | None]:
    """The record's contact, or why it is skipped."""
    contact = db.session.execute(select(Contact).options(selectinload(Contact.tags)).where(
        Contact.account_id == record.account_id, Contact.id == record.contact_id)).scalar_one_or_none() \
        if record.contact_id else None
    if contact is None or contact.deleted_at is not None:
        return None, "The contact was deleted."
    if not contact.email:
        return None, "The contact has no e-mail address."
    return contact, None


def _subscribe(connection: Connection, record: SyncRecord, contact: Contact) -> None:
    subscriber = subscriber_for(connection, contact)
    record.email = contact.email
    connections.call(connection, "subscribe", lambda adapter: adapter.subscribe(record.list_id, subscriber))


def push(record_id) -> str | None:
    """Push a queued record's contact to its list (the work of `tasks.sync_contact`); returns the status
    reached. Raises the ProviderError of a retryable failure when RQ will try again."""
    record = db.session.get(SyncRecord, uuid.UUID(str(record_id)))
    if record is None or record.status != "queued":
        return record.status if record is not None else None  # deleted, or done by an earlier run
    connection = db.session.get(Connection, record.connection_id)
    record.attempts += 1
    db.session.commit()  # the attempt counts even if the worker dies during the call
    contact, skipped = _contact_of(record)
    if skipped:
        record.status, record.error = "skipped", skipped
        db.session.commit()
        return record.status
    try:
        _subscribe(connection, record, contact)
    except ProviderError as error:
        if error.retryable and not _last_attempt():
            record.error = f"Attempt {record.attempts} failed, trying again: {error.message}"[:500]
            db.session.commit()
            raise
        record.status, record.error = "failed", error.message[:500]
    except Exception as exc:
        if not _last_attempt():
            db.session.rollback()
            raise
        log.exception("contact sync failed", extra={"sync_record": str(record.id)})
        db.session.rollback()
        record = db.session.get(SyncRecord, uuid.UUID(str(record_id)))
        record.status, record.error = "failed", f"Unexpected error ({type(exc).__name__})."
    else:
        record.status, record.error = "synced", None
    db.session.commit()
    return record.status


# ---- sync all now -------------------------------------------------------------------------------------------

def sync_all_kind(connection: Connection) -> str:
    return f"{SYNC_ALL_KIND}{connection.id}"


def latest_sync_all(connection: Connection):
    """The connection's most recent "sync all" job (its progress on the page), or None."""
    from app.core.models import Job

    return db.session.execute(select(Job).where(
        Job.account_id == connection.account_id, Job.kind == sync_all_kind(connection))
        .order_by(Job.created_at.desc()).limit(1)).scalar_one_or_none()


def start_sync_all(account, user, connection: Connection):
    """Start pushing every contact with an e-mail to the chosen lists; returns the tracked Job. Refused when the
    connection cannot sync, is not connected, has no list chosen, or a sync of it is already running."""
    from app.integrations import tasks

    if not can_sync(connection):
        raise ValidationError(f"{connection.name} has no lists to sync.")
    if connection.status != "connected":
        raise ValidationError("Test the connection first: only a connected provider is synced.")
    if not connection.sync_lists:
        raise ValidationError("Choose the lists to sync first.")
    running = latest_sync_all(connection)
    if running is not None and not running.done:
        raise ConflictError("A sync of this connection is already running.")
    job = jobs.create_job(account, sync_all_kind(connection), f"Sync all contacts to {connection.name}", user=user)
    audit.record("integration.sync_all", connection, f"All contacts synced to “{connection.name}”",
                 account=account, user=user)
    db.session.commit()
    jobs.enqueue(tasks.sync_all, connection.id, job=job)
    return job


@dataclass
class SyncAllCounts:
    total: int = 0
    done: int = 0
    synced: int = 0
    failed: int = 0
    retrying: int = 0

    def message(self) -> str:
        text = f"{self.done:,} of {self.total:,} contacts: {self.synced:,} synced, {self.failed:,} failed"
        return text + (f", {self.retrying:,} to try again" if self.retrying else "")


def run_sync_all(job_id: str, connection_id) -> dict:
    """The tracked job's work: every contact with an e-mail (not deleted), by id, in batches of BATCH_SIZE
    (one commit and a progress report each). Contacts this job has logged already are passed over, so a
    job run again goes on where it stopped."""
    job_uuid = uuid.UUID(str(job_id))
    connection = db.session.get(Connection, uuid.UUID(str(connection_id)))
    if connection is None:
        return {"message": "The connection was deleted."}
    if not connection.sync_lists:
        return {"message": "No list is chosen: nothing to sync."}
    account_id, lists = connection.account_id, [str(item["id"]) for item in connection.sync_lists]
    base = select(Contact).where(Contact.account_id == account_id, Contact.deleted_at.is_(None),
                                 Contact.email.is_not(None), Contact.email != "")
    counts = SyncAllCounts(total=db.session.execute(
        select(func.count()).select_from(base.subquery())).scalar_one())
    done_ids = set(db.session.execute(select(SyncRecord.contact_id).where(
        SyncRecord.account_id == account_id, SyncRecord.job_id == job_uuid).distinct()).scalars())
    for status, number in db.session.execute(select(SyncRecord.status, func.count()).where(
            SyncRecord.account_id == account_id, SyncRecord.job_id == job_uuid).group_by(SyncRecord.status)):
        if status == "synced":
            counts.synced += number
        elif status == "failed":
            counts.failed += number
    counts.done = len(done_ids)
    last_id, unanswered, reason = None, 0, ""
    while True:
        query = base.options(selectinload(Contact.tags), selectinload(Contact.company)).order_by(Contact.id)
        if last_id is not None:
            query = query.where(Contact.id > last_id)
        batch = db.session.execute(query.limit(BATCH_SIZE)).scalars().all()
        if not batch:
            break
        last_id = batch[-1].id
        handed_on = []
        for contact in batch:
            if contact.id in done_ids:
                continue
            for list_id in lists:
                record = SyncRecord(account_id=account_id, connection_id=connection.id, contact_id=contact.id,
                                    email=contact.email, list_id=list_id, trigger="sync_all", job_id=job_uuid,
                                    attempts=1)
                db.session.add(record)
                try:
                    _subscribe(connection, record, contact)
                except ProviderError as error:
                    if error.status_code in (401, 403):
                        record.status, record.error = "failed", error.message[:500]
                        connection.status, connection.status_message = "failed", error.message[:500]
                        db.session.commit()
                        return {"message": f"Stopped: {error.message}"[:255]}
                    if error.retryable:
                        unanswered, reason = unanswered + 1, error.message
                        record.error = f"Attempt 1 failed, trying again: {error.message}"[:500]
                        handed_on.append(record)
                        counts.retrying += 1
                    else:
                        record.status, record.error = "failed", error.message[:500]
                        counts.failed += 1
                else:
                    unanswered = 0
                    record.status = "synced"
                    counts.synced += 1
            counts.done += 1
            if unanswered >= STOP_AFTER_UNANSWERED:  # the provider is down: RQ runs the job again later
                db.session.commit()
                for waiting in handed_on:
                    _enqueue_push(waiting)
                raise ProviderError(f"Paused after {unanswered} failures in a row: {reason}", retryable=True)
        db.session.commit()
        for waiting in handed_on:
            _enqueue_push(waiting)
        jobs.progress(job_id, counts.done * 100 // max(counts.total, 1), counts.message())
    return {"message": counts.message()[:255]}


# ---- the sync log -------------------------------------------------------------------------------------------

def records_query(connection: Connection, status: str | None = None):
    """The connection's sync log, newest first, optionally of one status."""
    query = select(SyncRecord).where(SyncRecord.account_id == connection.account_id,
                                     SyncRecord.connection_id == connection.id) \
        .order_by(SyncRecord.created_at.desc(), SyncRecord.id)
    if status in SYNC_STATUSES:
        query = query.where(SyncRecord.status == status)
    return query


def status_counts(connection: Connection) -> dict:
    """How many records of the log are in each status."""
    found = dict(db.session.execute(select(SyncRecord.status, func.count()).where(
        SyncRecord.account_id == connection.account_id, SyncRecord.connection_id == connection.id)
        .group_by(SyncRecord.status)).all())
    return {status: found.get(status, 0) for status in SYNC_STATUSES}
