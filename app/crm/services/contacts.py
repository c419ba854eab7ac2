"""Contacts: create, update, soft delete and restore, search and filters, segments, bulk actions."""
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, String, cast, func, select

from app.auth.models import User
from app.auth.services import member_user_id, normalize_email
from app.core import audit, events
from app.core.dates import zone
from app.core.db import like_pattern, utcnow
from app.core.errors import ConflictError, ValidationError
from app.core.tenancy import scoped
from app.core.validation import FieldErrors, as_uuid, choice_value, row_of_account, text_value, uuid_or_none
from app.crm.models import CONTACT_SOURCES, Company, Contact, Segment, Tag, contact_tags
from app.crm.services import custom_fields, tags, timeline
from app.crm.services.phones import normalize_phone
from app.extensions import db

RESTORE_DAYS = 30
SORTS = {
    "name": (func.lower(Contact.first_name), func.lower(Contact.last_name)),
    "-name": (func.lower(Contact.first_name).desc(), func.lower(Contact.last_name).desc()),
    "email": (Contact.email,),
    "created": (Contact.created_at,),
    "-created": (Contact.created_at.desc(),),
    "updated": (Contact.updated_at,),
    "-updated": (Contact.updated_at.desc(),),
}
FIELDS = ("first_name", "last_name", "email", "phone", "company_id", "owner_id", "source", "street", "city",
          "region", "postal_code", "country")


class DuplicateContact(ConflictError):
    """The e-mail belongs to another contact of the account; `existing` is that contact."""

    def __init__(self, existing: Contact):
        super().__init__(f"{existing.name} already has this e-mail.", field="email")
        self.existing = existing


def default_country(account) -> str:
    """The country for phone numbers typed without +: from the workspace's time zone, else US."""
    by_zone = {"Europe/London": "GB", "Europe/Paris": "FR", "Europe/Berlin": "DE", "Europe/Madrid": "ES",
               "Europe/Rome": "IT", "Europe/Amsterdam": "NL", "Australia/Sydney": "AU", "America/Toronto": "CA",
               "Asia/Tokyo": "JP", "Asia/Kolkata": "IN", "America/Sao_Paulo": "BR", "America/Mexico_City": "MX"}
    return by_zone.get(account.timezone, "US")


def search_text_of(contact: Contact) -> str:
    parts = [contact.first_name, contact.last_name, contact.email or "", contact.phone or "",
             (contact.phone or "").lstrip("+"), contact.company.name if contact.company else ""]
    return " ".join(p for p in parts if p).lower()


def find_by_email(account, email: str, exclude_id=None) -> Contact | None:
    query = scoped(Contact, account).where(Contact.email == email.lower(), Contact.deleted_at.is_(None))
    if exclude_id is not None:
        query = query.where(Contact.id != exclude_id)
    return db.session.execute(query).scalar_one_or_none()


def _clean(account, data: dict, contact: Contact | None, partial: bool) -> dict:
    """Validated values for the fields present in `data` (all fields when not partial)."""
    fields = FieldErrors(data, partial)
    attempt = fields.add
    attempt("first_name", lambda: text_value(data, "first_name", "first name", 80) or "")
    attempt("last_name", lambda: text_value(data, "last_name", "last name", 80) or "")
    attempt("email", lambda: normalize_email(data["email"]) if (data.get("email") or "").strip() else None)
    attempt("phone", lambda: normalize_phone(data.get("phone"), default_country(account)))
    attempt("company_id", lambda: getattr(row_of_account(Company, account, data.get("company_id"),
                                                         "company_id", "company"), "id", None))
    attempt("owner_id", lambda: member_user_id(account, data.get("owner_id")))
    attempt("source", lambda: choice_value(data, "source", "source", CONTACT_SOURCES,
                                           default=contact.source if contact else "manual"))
    for name, label, size in (("street", "street", 200), ("city", "city", 100), ("region", "region", 100),
                              ("postal_code", "postal code", 20)):
        attempt(name, lambda n=name, lab=label, sz=size: text_value(data, n, lab, sz))
    attempt("country", lambda: clean_country(data.get("country")))
    attempt("custom_fields", lambda: custom_fields.clean_values(
        account, data.get("custom_fields") or {}, contact.custom_fields if contact else {}, partial))
    values = fields.values_or_raise()
    merged = {name: values.get(name, getattr(contact, name, None))
              for name in ("first_name", "last_name", "email", "phone")}
    if not any(merged.values()):
        raise ValidationError("Enter at least a name, an e-mail or a phone number.", field="first_name")
    if values.get("email"):
        existing = find_by_email(account, values["email"], exclude_id=contact.id if contact else None)
        if existing is not None:
            raise DuplicateContact(existing)
    return values


def clean_country(raw) -> str | None:
    """The two-letter country code (upper-cased), None when empty, or a 422 on "country"."""
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or len(raw.strip()) != 2 or not raw.strip().isalpha():
        raise ValidationError("Use the two-letter country code, e.g. US or FR.", field="country")
    return raw.strip().upper()


def create(account, data: dict, actor=None, source: str | None = None, commit: bool = True) -> Contact:
    values = _clean(account, data, None, partial=False)
    if source:
        values["source"] = source
    contact = Contact(account_id=account.id, **values)
    db.session.add(contact)
    db.session.flush()
    contact.search_text = search_text_of(contact)
    tag_names = data.get("tags") or []
    for name in tag_names if isinstance(tag_names, list) else []:
        tags.tag_contact(account, contact, tags.get_or_create(account, str(name)), actor)
    timeline.add(account, contact.id, "contact.created", f"Contact created ({contact.source})", actor, contact)
    audit.record("contact.created", contact, f"Contact {contact.name} created", account=account, user=actor)
    if commit:
        db.session.commit()
        events.publish("contact.created", account_id=account.id, contact_id=contact.id)
    return contact


def update(account, contact: Contact, data: dict, actor=None, partial: bool = False, commit: bool = True) -> Contact:
    values = _clean(account, data, contact, partial=partial)
    changed = {name: [str(getattr(contact, name)), str(value)] for name, value in values.items()
               if getattr(contact, name) != value}
    for name, value in values.items():
        setattr(contact, name, value)
    db.session.flush()
    db.session.refresh(contact, ["company"])
    contact.search_text = search_text_of(contact)
    if changed:
        fields = ", ".join(name.replace("_id", "").replace("_", " ") for name in changed)
        timeline.add(account, contact.id, "contact.updated", f"Changed {fields}", actor, contact,
                     details={k: v for k, v in changed.items() if k != "custom_fields"})
        audit.record("contact.updated", contact, f"Contact {contact.name} updated", account=account, user=actor)
    if commit:
        db.session.commit()
        if changed:
            events.publish("contact.updated", account_id=account.id, contact_id=contact.id, fields=sorted(changed))
    return contact


def upsert(account, data: dict, actor=None, source: str = "api") -> tuple[Contact, bool]:
    """Match by e-mail: update the contact found (True = created)."""
    email = normalize_email(data.get("email") or "")
    existing = find_by_email(account, email)
    if existing is None:
        return create(account, data, actor, source=source), True
    return update(account, existing, {k: v for k, v in data.items() if k != "tags"}, actor, partial=True), False


def soft_delete(account, contact: Contact, actor=None, commit: bool = True) -> None:
    contact.deleted_at = utcnow()
    audit.record("contact.deleted", contact, f"Contact {contact.name} deleted (restorable for {RESTORE_DAYS} days)",
                 account=account, user=actor)
    if commit:
        db.session.commit()
        events.publish("contact.deleted", account_id=account.id, contact_id=contact.id)


def restore(account, contact: Contact, actor=None) -> Contact:
    if contact.deleted_at is None:
        return contact
    if contact.deleted_at < utcnow() - timedelta(days=RESTORE_DAYS):
        raise ConflictError(f"Deleted more than {RESTORE_DAYS} days ago: it can no longer be restored.")
    if contact.email and find_by_email(account, contact.email):
        raise ConflictError("Another contact now has this e-mail: change or delete it first.", field="email")
    contact.deleted_at = None
    timeline.add(account, contact.id, "contact.restored", "Contact restored", actor, contact)
    audit.record("contact.restored", contact, f"Contact {contact.name} restored", account=account, user=actor)
    db.session.commit()
    return contact


def purge_deleted(account=None) -> int:
    """Remove contacts deleted more than RESTORE_DAYS ago (a scheduled job calls this)."""
    query = select(Contact).where(Contact.deleted_at < utcnow() - timedelta(days=RESTORE_DAYS))
    if account is not None:
        query = query.where(Contact.account_id == account.id)
    rows = db.session.execute(query).scalars().all()
    for contact in rows:
        db.session.delete(contact)
    db.session.commit()
    return len(rows)


# ---- search, filters, segments ---------------------------------------------------------------------

FILTER_KEYS = ("q", "tag", "owner", "company", "source", "created_from", "created_to", "cf", "cf_value")


def clean_filters(raw) -> dict:
    """Only known, non-empty filter values, as strings (what a segment stores)."""
    return {key: str(raw.get(key)).strip()[:200] for key in FILTER_KEYS
            if raw.get(key) not in (None, "") and str(raw.get(key)).strip()}


def _day(value: str, field: str):
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError("Use a date like 2026-01-31.", field=field) from exc


def filtered(account, filters: dict, deleted: bool = False) -> Select:
    """SELECT of the account's contacts matching the filters (see FILTER_KEYS)."""
    query = scoped(Contact, account).where(
        Contact.deleted_at.is_not(None) if deleted else Contact.deleted_at.is_(None))
    q = (filters.get("q") or "").strip().lower()
    if q:
        # Trigram-indexed on PostgreSQL (ix_crm_contacts_search_trgm); digits also match phone numbers.
        query = query.where(Contact.search_text.like(like_pattern(q), escape="\\"))
    if filters.get("tag"):
        tag_id = as_uuid(filters["tag"], "tag", "tag")
        query = query.where(Contact.id.in_(select(contact_tags.c.contact_id).where(contact_tags.c.tag_id == tag_id)))
    if filters.get("owner") == "none":
        query = query.where(Contact.owner_id.is_(None))
    elif filters.get("owner"):
        query = query.where(Contact.owner_id == as_uuid(filters["owner"], "owner", "owner"))
    if filters.get("company"):
        query = query.where(Contact.company_id == as_uuid(filters["company"], "company", "company"))
    if filters.get("source"):
        query = query.where(Contact.source == filters["source"])
    workspace_zone = zone(account.timezone)
    if filters.get("created_from"):
        start = _midnight_utc(_day(filters["created_from"], "created_from"), workspace_zone)
        if start is not None:
            query = query.where(Contact.created_at >= start)
    if filters.get("created_to"):
        end = _midnight_utc(_day(filters["created_to"], "created_to"), workspace_zone, next_day=True)
        if end is not None:
            query = query.where(Contact.created_at < end)
    if filters.get("cf"):
        query = query.where(_custom_field_matches(filters["cf"], filters.get("cf_value", "")))
    return query


def _midnight_utc(day: date, day_zone, next_day: bool = False):
    """Midnight (of the next day) in the workspace's zone, in UTC; None at the ends of the calendar (year 1 or
    9999 bound nothing, and the arithmetic would overflow)."""
    try:
        return datetime.combine(day + timedelta(days=1) if next_day else day, time.min, day_zone).astimezone(UTC)
    except OverflowError:
        return None


def _custom_field_matches(key: str, value: str):
    element = Contact.custom_fields[key]
    if value == "":
        return element.is_not(None)
    return func.lower(cast(element.as_string(), String)) == value.strip().lower()


def sorted_query(query: Select, sort: str | None) -> Select:
    return query.order_by(*SORTS.get(sort or "-created", SORTS["-created"]), Contact.id)


def save_segment(account, name: str, filters: dict, actor=None) -> Segment:
    name = text_value({"name": name}, "name", "segment name", 80, required=True)
    filters = clean_filters(filters)
    if not filters:
        raise ValidationError("Set at least one filter before saving a segment.", field="name")
    filtered(account, filters)  # raises on bad values
    segment = Segment(account_id=account.id, name=name, filters=filters,
                      created_by_id=getattr(actor, "id", None))
    db.session.add(segment)
    db.session.flush()
    audit.record("segment.created", segment, f"Segment “{name}” saved", account=account, user=actor)
    db.session.commit()
    return segment


def delete_segment(account, segment: Segment, actor=None) -> None:
    """The saved filter goes; its contacts are not changed."""
    audit.record("segment.deleted", segment, f"Segment “{segment.name}” deleted", account=account, user=actor)
    db.session.delete(segment)
    db.session.commit()


def segment_contacts(account, segment: Segment) -> Select:
    """The contacts of a saved segment, for campaigns and automation."""
    return filtered(account, segment.filters)


# ---- bulk actions --------------------------------------------------------------------------------

BULK_ACTIONS = ("add_tag", "remove_tag", "assign_owner", "delete")
NOTHING_SELECTED = "Select at least one contact (tick its box), or all the contacts matching the filter."


@dataclass
class BulkResult:
    """What a bulk action did: `changed` of the `selected` contacts changed (a tag they had already, an owner
    they had already: not changed); the tag added or removed, or the new owner (None: nobody)."""

    action: str
    selected: int
    changed: int
    tag: Tag | None = None
    owner: User | None = None


def selection(account, filters: dict, ids: list, everything: bool = False) -> Select:
    """The contacts a bulk action or an export applies to: every contact matching `filters` (everything),
    else the live contacts among `ids` (values that are not ids, and other workspaces' ids, match nothing).
    ValidationError when nothing is chosen, or for a bad filter value."""
    chosen = [found for found in (uuid_or_none(value) for value in ids) if found is not None]
    if not everything and not chosen:
        raise ValidationError(NOTHING_SELECTED, field="ids")
    query = filtered(account, filters if everything else {})
    return query if everything else query.where(Contact.id.in_(chosen))


def bulk_targets(query: Select, action: str) -> list[uuid.UUID]:
    """The ids a bulk action will change (ask before deleting them): ValidationError for an unknown action
    or when the selection holds no contact."""
    if action not in BULK_ACTIONS:
        raise ValidationError("Choose what to do with the selected contacts.", field="action")
    ids = list(db.session.execute(query.with_only_columns(Contact.id)).scalars())
    if not ids:
        raise ValidationError(NOTHING_SELECTED, field="ids")
    return ids


def bulk(account, ids: list, action: str, value=None, actor=None) -> BulkResult:
    """Apply one action to the account's live contacts with these ids: add_tag (value: a tag name, created if
    new), remove_tag (value: a tag id), assign_owner (value: a member's user id, or empty for nobody), delete
    (to the trash)."""
    if action not in BULK_ACTIONS:
        raise ValidationError("Choose what to do with the selected contacts.", field="action")
    contacts = db.session.execute(
        scoped(Contact, account).where(Contact.id.in_(ids), Contact.deleted_at.is_(None))).scalars().all()
    result = BulkResult(action=action, selected=len(ids), changed=0)
    published = []
    if action in ("add_tag", "remove_tag"):
        tag = (tags.get_or_create(account, value) if action == "add_tag"
               else db.session.execute(scoped(Tag, account).where(
                   Tag.id == as_uuid(value, "value", "tag"))).scalar_one_or_none())
        if tag is None:
            raise ValidationError("Choose a tag.", field="value")
        result.tag = tag
        for contact in contacts:
            done = (tags.tag_contact if action == "add_tag" else tags.untag_contact)(account, contact, tag, actor)
            if done:
                result.changed += 1
                published.append((contact.id, tag))
    elif action == "assign_owner":
        owner_id = member_user_id(account, value, "value")
        result.owner = db.session.get(User, owner_id) if owner_id else None
        for contact in contacts:
            if contact.owner_id != owner_id:
                contact.owner_id = owner_id
                result.changed += 1
    else:
        for contact in contacts:
            soft_delete(account, contact, actor, commit=False)
            result.changed += 1
    audit.record(f"contact.bulk_{action}", None,
                 f"{action.replace('_', ' ').capitalize()} on {result.changed} contacts", account=account,
                 user=actor, details={"value": str(value) if value else None, "count": result.changed})
    db.session.commit()
    for contact_id, tag in published:
        tags.publish_tag_change(account, contact_id, tag, added=action == "add_tag")
    if action == "delete":
        for contact in contacts:
            events.publish("contact.deleted", account_id=account.id, contact_id=contact.id)
    return result


def add_tag(account, contact: Contact, name: str, actor=None) -> Tag:
    tag = tags.get_or_create(account, name)
    added = tags.tag_contact(account, contact, tag, actor)
    db.session.commit()
    if added:
        tags.publish_tag_change(account, contact.id, tag, added=True)
    return tag


def remove_tag(account, contact: Contact, tag: Tag, actor=None) -> None:
    removed = tags.untag_contact(account, contact, tag, actor)
    db.session.commit()
    if removed:
        tags.publish_tag_change(account, contact.id, tag, added=False)
