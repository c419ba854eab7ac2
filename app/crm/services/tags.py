"""Tags: create, rename (merging into an existing tag of that name), colour, delete; counts."""
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.exc import IntegrityError

from app.core import audit, events
from app.core.errors import ValidationError
from app.core.tenancy import scoped
from app.core.validation import choice_value, text_value
from app.crm.models import TAG_COLORS, Contact, Tag, company_tags, contact_tags
from app.extensions import db


def find_by_name(account, name: str) -> Tag | None:
    return db.session.execute(
        scoped(Tag, account).where(func.lower(Tag.name) == name.strip().lower())).scalar_one_or_none()


def get_or_create(account, name: str, color: str = "gray") -> Tag:
    name = text_value({"name": name}, "name", "tag name", 50, required=True)
    tag = find_by_name(account, name)
    if tag is None:
        try:
            with db.session.begin_nested():  # two visitors' forms may make the same new tag at once
                tag = Tag(account_id=account.id, name=name, color=color)
                db.session.add(tag)
        except IntegrityError:
            tag = find_by_name(account, name)
    return tag


def create(account, data: dict) -> Tag:
    name = text_value(data, "name", "tag name", 50, required=True)
    color = choice_value(data, "color", "colour", TAG_COLORS, default="gray")
    if find_by_name(account, name):
        raise ValidationError("A tag with this name exists already.", field="name")
    tag = Tag(account_id=account.id, name=name, color=color)
    db.session.add(tag)
    db.session.flush()
    audit.record("tag.created", tag, f"Tag “{name}” created", account=account)
    db.session.commit()
    return tag


@dataclass
class TagChange:
    """What `update` did. `tag` is the tag that remains: the other one when this one was merged into it (its
    `moved` contacts now carry it, `total` in all); `old_name` was the name before."""

    tag: Tag
    old_name: str
    merged: bool = False
    moved: int = 0
    total: int = 0

    @property
    def renamed(self) -> bool:
        return self.tag.name != self.old_name


def update(account, tag: Tag, data: dict) -> TagChange:
    """Rename and recolour. Renaming to the name of another tag merges this one into it: its contacts and
    companies get the other tag, and this one is deleted."""
    name = text_value(data, "name", "tag name", 50, required=True)
    color = choice_value(data, "color", "colour", TAG_COLORS, default=tag.color)
    old = tag.name
    other = find_by_name(account, name)
    if other is not None and other.id != tag.id:
        moved = contact_count(tag)
        merge(tag, other)
        audit.record("tag.merged", other, f"Tag “{tag.name}” merged into “{other.name}”", account=account)
        db.session.delete(tag)
        db.session.commit()
        return TagChange(tag=other, old_name=old, merged=True, moved=moved, total=contact_count(other))
    tag.name, tag.color = name, color
    if old != name:
        audit.record("tag.renamed", tag, f"Tag “{old}” renamed to “{name}”", account=account)
    db.session.commit()
    return TagChange(tag=tag, old_name=old)


def merge(source: Tag, target: Tag) -> None:
    for table, key in ((contact_tags, "contact_id"), (company_tags, "company_id")):
        owners = select(table.c[key]).where(table.c.tag_id == target.id)
        db.session.execute(
            insert(table).from_select([key, "tag_id"], select(table.c[key], literal(target.id)).where(
                table.c.tag_id == source.id, table.c[key].not_in(owners))))
        db.session.execute(delete(table).where(table.c.tag_id == source.id))


def delete_tag(account, tag: Tag) -> None:
    audit.record("tag.deleted", tag, f"Tag “{tag.name}” deleted", account=account)
    db.session.delete(tag)
    db.session.commit()


def with_counts_query(account):
    """SELECT (Tag, live contact count) for every tag of the account, by name (for paginate)."""
    counts = (select(contact_tags.c.tag_id, func.count().label("n"))
              .join(Contact, Contact.id == contact_tags.c.contact_id)
              .where(Contact.deleted_at.is_(None)).group_by(contact_tags.c.tag_id).subquery())
    return (select(Tag, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.tag_id == Tag.id)
            .where(Tag.account_id == account.id).order_by(func.lower(Tag.name), Tag.id))


def contact_count(tag: Tag) -> int:
    """How many live contacts carry the tag."""
    return db.session.execute(
        select(func.count()).select_from(contact_tags).join(Contact, Contact.id == contact_tags.c.contact_id)
        .where(contact_tags.c.tag_id == tag.id, Contact.deleted_at.is_(None))).scalar_one()


def tag_contact(account, contact: Contact, tag: Tag, actor=None) -> bool:
    """Add the tag; False if the contact had it already."""
    from app.crm.services import timeline

    if tag in contact.tags:
        return False
    contact.tags.append(tag)
    timeline.add(account, contact.id, "tag.added", f"Tagged “{tag.name}”", actor, tag)
    return True


def untag_contact(account, contact: Contact, tag: Tag, actor=None) -> bool:
    from app.crm.services import timeline

    if tag not in contact.tags:
        return False
    contact.tags.remove(tag)
    timeline.add(account, contact.id, "tag.removed", f"Tag “{tag.name}” removed", actor, tag)
    return True


def publish_tag_change(account, contact_id, tag: Tag, added: bool) -> None:
    events.publish("tag.added" if added else "tag.removed", account_id=account.id, contact_id=contact_id,
                   tag_id=tag.id, tag=tag.name)

