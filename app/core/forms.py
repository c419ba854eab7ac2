"""Glue between service errors and what the person sees. A service that refuses raises a ServiceError;
the view catches it with one of these, which discard what the refused operation left in the session
before anything is drawn again (nothing half-done is shown, or flushed by the queries of the page):

- `apply_error(form, error)`: the message next to the field it names (or on the form);
- `with refusal() as refused:` a message the view places itself (`refused.error`), e.g. on a panel;
- `with flashed_refusal() as refused:` a flash message, for actions that redirect.

They are the one place views roll back; a ServiceError no view answers is rolled back by the app's
error handler (app/core/errorpages.py). No view calls `db.session.rollback()` itself."""
from contextlib import contextmanager

from flask import abort, flash
from flask_wtf import FlaskForm

from app.core.errors import ServiceError
from app.extensions import db


class ActionForm(FlaskForm):
    """A form with nothing but the CSRF token, for buttons that post."""


def checked_action() -> None:
    """A button's post must carry a valid CSRF token: otherwise the 400 page says what to do."""
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")


def _discard_changes() -> None:
    db.session.rollback()


def apply_error(form, error: ServiceError) -> None:
    """A refused operation: its changes discarded, its message next to the field it names (or on the
    form as a whole)."""
    _discard_changes()
    placed = False
    for name, message in error.fields.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [message]
            placed = True
    if not placed:
        form.form_errors.append(error.message)


class Refusal:
    """What `refusal` saw: `error` is the ServiceError, or None when the operation went through."""

    error: ServiceError | None = None

    def __bool__(self) -> bool:
        return self.error is not None


@contextmanager
def refusal(flashed: bool = False):
    """Run service calls; a ServiceError they raise is caught, its changes discarded, and kept in the
    Refusal the block gets (flashed as an error message too when `flashed`):

        with refusal() as refused:
            service.move(account, deal, stage_id)
        if refused:
            return render(..., error=refused.error.message, status=422)
    """
    outcome = Refusal()
    try:
        yield outcome
    except ServiceError as error:
        _discard_changes()
        if flashed:
            flash(error.message, "error")
        outcome.error = error


def flashed_refusal():
    """`refusal` whose message is flashed, for actions that redirect back:

        with flashed_refusal():
            service.delete(account, record)
            flash("Deleted.", "success")
        return redirect_to(...)
    """
    return refusal(flashed=True)
