"""Notes on a company or a deal page: add, edit and delete, answering the notes block (htmx) or the page."""
from flask import abort, flash, request
from flask_login import current_user
from flask_wtf import FlaskForm

from app.core.errors import ServiceError
from app.core.forms import apply_error
from app.core.tenancy import current_account, current_membership, get_or_404
from app.core.web import redirect_to, render, wants_fragment
from app.crm.forms import NoteForm
from app.crm.models import Note
from app.crm.services import notes as notes_service
from app.extensions import db

NOTES_BLOCK = "crm/companies/_notes.html"


def note_on(note_id, target_field: str) -> Note:
    """The account's note with this id attached to a record of that kind ("company_id", "deal_id"), or 404."""
    note = get_or_404(Note, note_id)
    if getattr(note, target_field) is None:
        abort(404)
    return note


def add_note(record, target_field: str, context_of, page_template: str, page_url: str):
    """Add the posted note to `record` (target_field: "company_id" or "deal_id").

    context_of(record, note_form=...) builds the page's context; the notes block is one of its parts."""
    form = NoteForm()
    if form.validate_on_submit():
        try:
            notes_service.create(current_account(), {"body": form.body.data or "", target_field: str(record.id)},
                                 actor=current_user)
        except ServiceError as error:
            db.session.rollback()
            apply_error(form, error)
        else:
            if wants_fragment():
                return render(NOTES_BLOCK, **context_of(record))
            flash("Note added.", "success")
            return redirect_to(page_url)
    context = context_of(db.session.get(type(record), record.id), note_form=form)
    if wants_fragment():
        return render(NOTES_BLOCK, status=422, **context)
    return render(page_template, status=422, **context)


def edit_note(record, note, context_of, page_template: str, page_url: str):
    """Save the posted text of a note (its author or an admin); a bad text re-renders the page (422)
    with the error and what was typed under the note."""
    body = request.form.get("body", "")
    if not FlaskForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    try:
        notes_service.update(current_account(), note, body, current_user, current_membership().role)
    except ServiceError as error:
        db.session.rollback()
        if error.status == 403:
            abort(403, description=error.message)
        context = context_of(db.session.get(type(record), record.id))
        context.update(note_errors={note.id: error.message}, note_drafts={note.id: body})
        return render(NOTES_BLOCK if wants_fragment() else page_template, status=422, **context)
    if wants_fragment():
        return render(NOTES_BLOCK, **context_of(record))
    flash("Note saved.", "success")
    return redirect_to(page_url)


def delete_note(note, page_url: str):
    """Delete a note (its author or an admin), then back to the record's page."""
    if not FlaskForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    try:
        notes_service.delete(current_account(), note, current_user, current_membership().role)
    except ServiceError as error:
        abort(error.status, description=error.message)
    flash("Note deleted.", "success")
    return redirect_to(page_url)
