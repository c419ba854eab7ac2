"""The contact timeline: everything that happened to a contact, newest first."""
from sqlalchemy import select

from app.core.pagination import paginate
from app.crm.models import TimelineEntry
from app.extensions import db


def add(account, contact_id, kind: str, summary: str, actor=None, obj=None, details: dict | None = None,
        when=None) -> TimelineEntry:
    """Add an entry (committed with the change it describes)."""
    entry = TimelineEntry(
        account_id=account.id, contact_id=contact_id, kind=kind, summary=summary[:300], details=details or {},
        actor_id=getattr(actor, "id", None), object_type=type(obj).__name__ if obj is not None else None,
        object_id=str(obj.id) if obj is not None else None)
    if when is not None:
        entry.created_at = when
    db.session.add(entry)
    return entry


def page(account, contact_id, page_number: int, page_size: int = 20):
    query = (select(TimelineEntry)
             .where(TimelineEntry.account_id == account.id, TimelineEntry.contact_id == contact_id)
             .order_by(TimelineEntry.created_at.desc(), TimelineEntry.id.desc()))
    return paginate(query, page_number, page_size)
