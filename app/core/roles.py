"""Roles and the one decorator that checks them.

viewer reads; user edits; admin also manages the team, integrations and API keys;
owner also deletes the workspace.
"""
from functools import wraps

from flask import abort, redirect, url_for
from flask_login import current_user

from app.core.tenancy import current_membership
from app.extensions import login_manager

ROLES = ("viewer", "user", "admin", "owner")  # lowest first

ROLE_LABELS = {
    "viewer": "Viewer — reads everything, changes nothing",
    "user": "User — creates and edits",
    "admin": "Admin — also manages the team, integrations and API keys",
    "owner": "Owner — also deletes the workspace",
}


def role_at_least(role: str | None, minimum: str) -> bool:
    return role is not None and ROLES.index(role) >= ROLES.index(minimum)


def can(minimum: str) -> bool:
    """True when the current member has at least this role (used in templates too)."""
    membership = current_membership()
    return membership is not None and role_at_least(membership.role, minimum)


def role_required(minimum: str):
    """Refuse (403) a request from a member below `minimum` in the current workspace.

    Also the check that someone is logged in and has a workspace (redirects otherwise)."""
    if minimum not in ROLES:
        raise ValueError(f"unknown role {minimum!r}")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_membership() is None:
                if not current_user.is_authenticated:
                    return login_manager.unauthorized()
                return redirect(url_for("auth.new_workspace"))
            if not can(minimum):
                abort(403, description=f"This needs the {minimum} role or higher.")
            return view(*args, **kwargs)

        wrapped.required_role = minimum
        return wrapped

    return decorator
