"""Glue between service errors and what the person sees: a message next to the field (`apply_error`) or a
flash message (`flashed_refusal`). Either way the refused operation's changes are discarded here, the one
place views roll back (a ServiceError no view answers is rolled back by the app's error handler)."""
from contextlib import contextmanager

from flask import flash
from flask_wtf import FlaskForm

from app.core.errors import ServiceError
from app.extensions import db


class ActionForm(FlaskForm):
    """A form with nothing but the CSRF token, for buttons that post."""


def discard_changes() -> None:
    """Forget what a refused operation may have left in the session, before the page is drawn again
    (so nothing half-done is shown, or flushed by the queries of the re-rendering)."""
    db.session.rollback()


def apply_error(form, error: ServiceError) -> None:
    """A refused operation: its changes discarded, its message next to the field it names (or on the
    form as a whole)."""
    discard_changes()
    placed = False
    for name, message in error.fields.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [message]
            placed = True
    if not placed:
        form.form_errors.append(error.message)


class Refusal:
    """What `flashed_refusal` saw: `error` is the ServiceError, or None when the operation went through."""

    error: ServiceError | None = None

    def __bool__(self) -> bool:
        return self.error is not None


@contextmanager
def flashed_refusal():
    """Run a service call whose refusal is shown as a flash message (its changes discarded):

        with flashed_refusal() as refused:
            service.delete(account, record)
            flash("Deleted.", "success")
        return redirect_to(...)
    """
    refusal = Refusal()
    try:
        yield refusal
    except ServiceError as error:
        discard_changes()
        flash(error.message, "error")
        refusal.error = error
