"""Notes on the contact, company and deal pages: one panel (templates/crm/_notes.html) and one set of helpers
for the three kinds of record. The routes stay with their record (crm.contact_note_*, crm.company_note_*,
crm.deal_note_*); each calls these helpers with the record and a function that draws its whole page.

After a change the panel answers itself (an htmx swap of #record-notes) or, without JavaScript, the page
(a redirect when it went well, the page with the message under the note when it did not). A refusal to edit
or delete another member's note (ForbiddenError) is left to the app's error handler (403)."""
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import flash, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.core.errors import NotFoundError, ServiceError
from app.core.forms import apply_error, refusal
from app.core.pagination import Page, paginate, parse_page_args
from app.core.roles import can
from app.core.tenancy import current_account, current_membership, get_or_404, scoped
from app.core.web import redirect_to, render, wants_fragment
from app.crm.forms import NoteForm
from app.crm.models import Company, Contact, Deal, Note
from app.crm.services import notes as notes_service

PANEL = "crm/_notes.html"
PAGE_SIZE = 10
PAGE_FIELD = "notes_page"
CONTACT_CHANGED = "contactChanged"  # htmx event: the contact's timeline reloads its first page


@dataclass(frozen=True)
class NoteRoutes:
    """Where the notes of one kind of record are read and changed."""

    field: str  # the note's column naming the record, also the URL parameter of the record's routes
    page: str  # the record's page
    add: str
    edit: str
    delete: str
    nested: bool = False  # the edit and delete URLs name the record as well as the note
    timeline: bool = False  # a change shows in the record's timeline (contacts)


ROUTES = {
    Contact: NoteRoutes("contact_id", "crm.contact_detail", "crm.contact_note_create", "crm.contact_note_update",
                        "crm.contact_note_delete", nested=True, timeline=True),
    Company: NoteRoutes("company_id", "crm.company_detail", "crm.company_note_add", "crm.company_note_edit",
                        "crm.company_note_delete"),
    Deal: NoteRoutes("deal_id", "crm.deal_detail", "crm.deal_note_add", "crm.deal_note_edit", "crm.deal_note_delete"),
}


@dataclass
class NotesPanel:
    """What the notes panel of a record shows: a page of its notes (newest first), the add form, and the
    message and text typed under a note whose edit was refused."""

    record: Contact | Company | Deal
    page: Page
    form: NoteForm
    errors: dict = field(default_factory=dict)  # note id -> message
    drafts: dict = field(default_factory=dict)  # note id -> the text typed

    @property
    def routes(self) -> NoteRoutes:
        return ROUTES[type(self.record)]

    @property
    def editable(self) -> bool:
        """Notes may be added (and edited by their author or an admin): not on a contact in the trash."""
        return can("user") and getattr(self.record, "deleted_at", None) is None

    @property
    def timeline(self) -> bool:
        return self.routes.timeline

    @property
    def add_url(self) -> str:
        return url_for(self.routes.add, **{self.routes.field: self.record.id})

    def _note_args(self, note: Note) -> dict:
        return {self.routes.field: self.record.id, "note_id": note.id} if self.routes.nested else {"note_id": note.id}

    def edit_url(self, note: Note) -> str:
        return url_for(self.routes.edit, **self._note_args(note))

    def delete_url(self, note: Note) -> str:
        return url_for(self.routes.delete, **self._note_args(note))

    def may_change(self, note: Note) -> bool:
        return self.editable and notes_service.can_edit(note, current_user, current_membership().role)

    @staticmethod
    def text(note: Note) -> str:
        """What the edit box of a note shows."""
        return notes_service.editable_text(note.body_html)

    @property
    def page_url(self) -> str:
        return url_for(self.routes.page, **{self.routes.field: self.record.id})

    @property
    def pager(self) -> list[tuple[str, str, str]]:
        """(label, url, rel) of the links to the newer and older pages of notes."""
        links = []
        for label, number, rel, shown in (("← Newer", self.page.page - 1, "prev", self.page.has_prev),
                                          ("Older →", self.page.page + 1, "next", self.page.has_next)):
            if shown:
                links.append((label, url_for(self.routes.page, **{self.routes.field: self.record.id,
                                                                 PAGE_FIELD: number}) + "#record-notes", rel))
        return links


def notes_panel(record, form: NoteForm | None = None, errors: dict | None = None, drafts: dict | None = None,
                page_number: int | None = None) -> NotesPanel:
    """The notes panel of a contact, company or deal (the page of notes the request asks for, else the first)."""
    if page_number is None:
        page_number = parse_page_args(request.args, page_field=PAGE_FIELD)[0] if request.method == "GET" else 1
    column = getattr(Note, ROUTES[type(record)].field)
    query = (scoped(Note).where(column == record.id).options(selectinload(Note.author))
             .order_by(Note.created_at.desc(), Note.id))
    page = paginate(query, page_number, PAGE_SIZE)
    return NotesPanel(record=record, page=page, form=form or NoteForm(formdata=None), errors=errors or {},
                      drafts=drafts or {})


def note_of(record, note_id) -> Note:
    """The account's note with this id on this record, or 404."""
    note = get_or_404(Note, note_id)
    if getattr(note, ROUTES[type(record)].field) != record.id:
        raise NotFoundError("Not found.")
    return note


def note_on(note_id, model) -> Note:
    """The account's note with this id attached to a record of this kind (Company, Deal), or 404."""
    note = get_or_404(Note, note_id)
    if getattr(note, ROUTES[model].field) is None:
        raise NotFoundError("Not found.")
    return note


PageRenderer = Callable[..., object]  # page(status, notes=NotesPanel) -> the record's whole page


def _answer(panel: NotesPanel, page: PageRenderer, status: int = 200, message: str | None = None):
    if wants_fragment():
        body, code, headers = render(PANEL, status=status, notes=panel)
        if status == 200 and panel.timeline:
            headers = {**headers, "HX-Trigger": CONTACT_CHANGED}
        return body, code, headers
    if status == 200:
        if message:
            flash(message, "success")
        return redirect_to(panel.page_url + "#record-notes")
    return page(status, notes=panel)


def add_note(record, page: PageRenderer):
    """Add the posted note to the record."""
    form = NoteForm()
    if form.validate_on_submit():
        try:
            notes_service.create(current_account(), {"body": form.body.data or "",
                                                     ROUTES[type(record)].field: str(record.id)}, actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            return _answer(notes_panel(record), page, message="Note added.")
    return _answer(notes_panel(record, form=form), page, 422)


def edit_note(record, note: Note, page: PageRenderer):
    """Save the posted text of a note (its author or an admin); a refused text comes back under the note
    with what was typed."""
    body = request.form.get("body", "")
    with refusal() as refused:
        notes_service.update(current_account(), note, body, current_user, current_membership().role)
    if refused:
        if refused.error.status == 403:
            raise refused.error  # not the author: the app's 403 page, not a message under the note
        errors = {note.id: refused.error.message}
        return _answer(notes_panel(record, errors=errors, drafts={note.id: body}), page, 422)
    return _answer(notes_panel(record), page, message="Note saved.")


def delete_note(record, note: Note):
    """Delete a note (its author or an admin), then back to the record's page."""
    notes_service.delete(current_account(), note, current_user, current_membership().role)
    flash("Note deleted.", "success")
    return redirect_to(url_for(ROUTES[type(record)].page, **{ROUTES[type(record)].field: record.id})
                       + "#record-notes")
