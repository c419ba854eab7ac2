"""The current account and queries scoped to it.

Every read of a tenant table goes through `scoped()` or `get_or_404()`, so that a row of another
account is simply not found (NotFoundError: a 404 page, or a 404 JSON error in the API), never forbidden.
"""
import uuid

from flask import g
from sqlalchemy import Select, select

from app.core.errors import NotFoundError
from app.extensions import db


def current_account():
    """The account of this request (from the session's workspace or the API key), or None."""
    return g.get("account")


def current_membership():
    return g.get("membership")


def current_actor():
    """The user acting in this request: the logged-in user, or the API key's user."""
    return g.get("actor")


def set_current(account, membership, actor) -> None:
    g.account = account
    g.membership = membership
    g.actor = actor


def scoped(model, account=None) -> Select:
    """SELECT model rows of the current account (or the one given)."""
    account = account or current_account()
    if account is None:
        raise NotFoundError("Not found.")
    return select(model).where(model.account_id == account.id)


def get_or_404(model, object_id, account=None):
    """The row of the current account with this id; 404 for anything else (bad id included)."""
    try:
        object_id = object_id if isinstance(object_id, uuid.UUID) else uuid.UUID(str(object_id))
    except ValueError:
        raise NotFoundError("Not found.") from None
    row = db.session.execute(scoped(model, account).where(model.id == object_id)).scalar_one_or_none()
    if row is None:
        raise NotFoundError("Not found.")
    return row
