"""Notes: sanitised rich text (1 to 10,000 characters) on contacts, companies and deals."""
import html

import bleach

from app.core import audit, events
from app.core.errors import ForbiddenError, ValidationError
from app.core.roles import role_at_least
from app.core.sanitize import sanitize_html as sanitize
from app.core.validation import row_of_account
from app.crm.models import Company, Contact, Deal, Note
from app.crm.services import timeline
from app.extensions import db

MAX_LENGTH = 10_000


def _clean_body(body) -> str:
    if not isinstance(body, str):
        raise ValidationError("The note must be text.", field="body")
    text_only = bleach.clean(body, tags=[], strip=True).strip()
    if not text_only:
        raise ValidationError("Write something in the note.", field="body")
    if len(body) > MAX_LENGTH:
        raise ValidationError(f"A note has at most {MAX_LENGTH:,} characters ({len(body):,} now).", field="body")
    if "<" not in body:  # plain text: keep the line breaks
        body = "<p>" + bleach.clean(body).replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>"
    return sanitize(body)


def create(account, data: dict, actor=None) -> Note:
    body = _clean_body(data.get("body"))
    targets = {name: getattr(row_of_account(model, account, data.get(name), name, label), "id", None)
               for name, model, label in (("contact_id", Contact, "contact"), ("company_id", Company, "company"),
                                          ("deal_id", Deal, "deal"))}
    if not any(targets.values()):
        raise ValidationError("A note belongs to a contact, a company or a deal.", field="body")
    note = Note(account_id=account.id, body_html=body, author_id=getattr(actor, "id", None), **targets)
    db.session.add(note)
    db.session.flush()
    if note.contact_id:
        # Block ends and line breaks become spaces, so that words of two lines do not run together.
        spaced = body.replace("<br>", " ").replace("</p>", "</p> ").replace("</li>", "</li> ")
        preview = html.unescape(" ".join(bleach.clean(spaced, tags=[], strip=True).split()))[:120]
        timeline.add(account, note.contact_id, "note.created", f"Note: {preview}", actor, note)
    audit.record("note.created", note, "Note added", account=account, user=actor)
    db.session.commit()
    events.publish("note.created", account_id=account.id, note_id=note.id, contact_id=note.contact_id)
    return note


def editable_text(body_html: str) -> str:
    """What an edit box shows: plain text for a note of paragraphs and line breaks, else its HTML."""
    import html

    text = body_html.replace("</p><p>", "\n\n").replace("<br>", "\n").removeprefix("<p>").removesuffix("</p>")
    return body_html if "<" in text or ">" in text else html.unescape(text)


def can_edit(note: Note, user, role: str) -> bool:
    return note.author_id == getattr(user, "id", None) or role_at_least(role, "admin")


def update(account, note: Note, body, actor, role: str) -> Note:
    if not can_edit(note, actor, role):
        raise ForbiddenError("Only the author or an admin can edit this note.")
    note.body_html = _clean_body(body)
    db.session.commit()
    return note


def delete(account, note: Note, actor, role: str) -> None:
    if not can_edit(note, actor, role):
        raise ForbiddenError("Only the author or an admin can delete this note.")
    audit.record("note.deleted", note, "Note deleted", account=account, user=actor)
    db.session.delete(note)
    db.session.commit()
