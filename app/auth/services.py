"""Accounts and access: sign-up, log-in, password reset, workspaces, team, API keys.

Plain functions: they take models and plain values, validate, change the database, and raise
ServiceError subclasses (with the offending field) for anything a person must correct.
"""
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager

from app.auth.models import ROLES, Account, ApiKey, Invitation, Membership, User
from app.core import audit, events, mail
from app.core.db import utcnow
from app.core.errors import ConflictError, ForbiddenError, ValidationError
from app.core.formatting import CURRENCIES, is_valid_timezone
from app.core.security import (
    DUMMY_HASH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    TokenError,
    hash_password,
    random_token,
    sha256_hex,
    sign,
    unsign,
    verify_password,
)
from app.core.validation import as_uuid, uuid_or_none
from app.extensions import db

RESET_SALT = "password-reset"
API_KEY_PREFIX = "lf_"


# ---- validation shared by the forms and the API -------------------------------------------

def normalize_email(email: str, field: str = "email") -> str:
    email = (email or "").strip()
    if not email:
        raise ValidationError("Enter an e-mail address.", field=field)
    if len(email) > 254:
        raise ValidationError("An e-mail address has at most 254 characters.", field=field)
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationError(f"Enter a valid e-mail address ({exc}).", field=field) from exc


def check_password(password: str, field: str = "password") -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"Use at least {MIN_PASSWORD_LENGTH} characters.", field=field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"Use at most {MAX_PASSWORD_LENGTH} characters.", field=field)
    return password


def check_text(value: str | None, field: str, label: str, max_length: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError(f"Enter a {label}.", field=field)
    if len(value) > max_length:
        raise ValidationError(f"The {label} has at most {max_length} characters.", field=field)
    return value


def check_role(role: str, field: str = "role") -> str:
    if role not in ROLES:
        raise ValidationError(f"Choose one of: {', '.join(ROLES)}.", field=field)
    return role


def user_by_email(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


# ---- sign-up, log-in, passwords ------------------------------------------------------------

def register(email: str, password: str, name: str, workspace_name: str) -> User:
    """Create a user and their first workspace, which they own."""
    email = normalize_email(email)
    name = check_text(name, "name", "name", 120)
    workspace_name = check_text(workspace_name, "workspace_name", "workspace name", 120)
    check_password(password)
    if user_by_email(email):
        raise ConflictError("An account with this e-mail already exists. Log in instead.", field="email")
    user = User(email=email, name=name, password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    account = create_workspace(user, workspace_name, commit=False)
    audit.record("user.signed_up", user, f"{user.email} signed up", account=account, user=user)
    db.session.commit()
    events.publish("workspace.created", account_id=account.id, user_id=user.id)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None; takes the same time for an unknown e-mail."""
    user = user_by_email(email or "")
    if user is None:
        verify_password(DUMMY_HASH, password or "")
        return None
    if not verify_password(user.password_hash, password or ""):
        return None
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def request_password_reset(email: str, reset_url_for) -> bool:
    """E-mail a reset link if the address belongs to a user (queued: a job sends it through the app's own
    channel, so a slow mail server never slows the request). Says nothing either way to the caller."""
    user = user_by_email(email or "")
    if user is None:
        return False
    token = sign({"uid": str(user.id), "fp": user.session_fingerprint}, RESET_SALT)
    mail.send_template(user.email, "Reset your Leadforge password", "password_reset",
                       user=user, reset_url=reset_url_for(token),
                       minutes=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60)
    return True


def user_for_reset_token(token: str) -> User:
    data = unsign(token, RESET_SALT, current_app.config["PASSWORD_RESET_MAX_AGE"])
    user = db.session.get(User, uuid_or_none(data.get("uid"))) if isinstance(data, dict) else None
    if user is None or data.get("fp") != user.session_fingerprint:
        raise TokenError("This link has already been used or is no longer valid.")
    return user


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    check_password(new_password)
    user.password_hash = hash_password(new_password)
    for membership in user.memberships:
        audit.record("user.password_reset", user, f"{user.email} reset their password by e-mail link",
                     account=membership.account, user=user)
    db.session.commit()
    return user


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current_password or ""):
        raise ValidationError("That is not your current password.", field="current_password")
    check_password(new_password, field="new_password")
    user.password_hash = hash_password(new_password)
    db.session.commit()


def update_profile(user: User, name: str, timezone: str) -> User:
    user.name = check_text(name, "name", "name", 120)
    if not is_valid_timezone(timezone):
        raise ValidationError("Choose a time zone from the list.", field="timezone")
    user.timezone = timezone
    db.session.commit()
    return user


# ---- workspaces ------------------------------------------------------------------------------

def create_workspace(user: User, name: str, timezone: str | None = None, currency: str = "USD",
                     commit: bool = True) -> Account:
    name = check_text(name, "name", "workspace name", 120)
    timezone = timezone or user.timezone or "UTC"
    if not is_valid_timezone(timezone):
        raise ValidationError("Choose a time zone from the list.", field="timezone")
    account = Account(name=name, timezone=timezone, currency=check_currency(currency))
    db.session.add(account)
    db.session.flush()
    db.session.add(Membership(account_id=account.id, user_id=user.id, role="owner"))
    audit.record("workspace.created", account, f"Workspace “{name}” created", account=account, user=user)
    if commit:  # else the caller commits, then publishes workspace.created
        db.session.commit()
        events.publish("workspace.created", account_id=account.id, user_id=user.id)
    return account


def check_currency(currency: str) -> str:
    currency = (currency or "").upper()
    if currency not in CURRENCIES:
        raise ValidationError("Choose a currency from the list.", field="currency")
    return currency


def update_workspace(account: Account, name: str, timezone: str, currency: str) -> Account:
    name = check_text(name, "name", "workspace name", 120)
    if not is_valid_timezone(timezone):
        raise ValidationError("Choose a time zone from the list.", field="timezone")
    currency = check_currency(currency)
    changes = {key: [getattr(account, key), value] for key, value in
               (("name", name), ("timezone", timezone), ("currency", currency)) if getattr(account, key) != value}
    account.name, account.timezone, account.currency = name, timezone, currency
    if changes:
        audit.record("workspace.updated", account, "Workspace settings changed", details=changes, account=account)
    db.session.commit()
    return account


ANALYTICS_IP_MODES = {"truncated": "Store them truncated", "none": "Don't store them"}


def update_analytics_privacy(account: Account, ip_mode: str, respect_dnt: bool) -> Account:
    """How the workspace's funnel analytics treat visitors: IP addresses stored truncated (IPv4 without its last
    part, IPv6 without its last 80 bits) or not at all, and whether Do-Not-Track is respected. Applies to the
    events taken from then on (the track endpoint reads it again within a minute)."""
    if ip_mode not in ANALYTICS_IP_MODES:
        raise ValidationError("Choose how visitors' IP addresses are stored.", field="analytics_ip_mode")
    respect_dnt = bool(respect_dnt)
    wanted = (("analytics_ip_mode", ip_mode), ("analytics_respect_dnt", respect_dnt))
    changes = {key: [getattr(account, key), value] for key, value in wanted if getattr(account, key) != value}
    account.analytics_ip_mode, account.analytics_respect_dnt = ip_mode, respect_dnt
    if changes:
        audit.record("workspace.analytics_privacy_changed", account, "Analytics privacy settings changed",
                     details=changes, account=account)
    db.session.commit()
    return account


def delete_workspace(account: Account, confirm_name: str) -> None:
    if (confirm_name or "").strip() != account.name:
        raise ValidationError("Type the workspace name exactly to confirm.", field="confirm_name")
    db.session.delete(account)
    db.session.commit()


def memberships_of(user: User) -> list[Membership]:
    """The user's memberships with their workspaces loaded, by workspace name (one query)."""
    return list(db.session.execute(
        select(Membership).join(Membership.account).options(contains_eager(Membership.account))
        .where(Membership.user_id == user.id).order_by(func.lower(Account.name))
    ).scalars())


def pick_membership(memberships: list[Membership], account_id) -> Membership | None:
    """The membership of the workspace `account_id`, else the first one, else None."""
    wanted = uuid_or_none(account_id)
    return next((m for m in memberships if m.account_id == wanted), memberships[0] if memberships else None)


def members(account: Account) -> list[User]:
    """The workspace's members, by name then e-mail (for owner and assignee choices)."""
    return list(db.session.execute(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.account_id == account.id).order_by(func.lower(User.name), User.email)).scalars())


def member_user_id(account: Account, value, field: str = "owner_id"):
    """A user id that belongs to a member of the account (None when empty), or a 422 naming the field."""
    user_id = as_uuid(value, field, "team member")
    if user_id is None:
        return None
    found = db.session.execute(select(Membership.id).where(
        Membership.account_id == account.id, Membership.user_id == user_id)).first()
    if found is None:
        raise ValidationError("Choose a member of this workspace.", field=field)
    return user_id


def membership_of(user: User, account_id) -> Membership | None:
    account_id = uuid_or_none(account_id)
    if account_id is None:
        return None
    return db.session.execute(
        select(Membership).where(Membership.user_id == user.id, Membership.account_id == account_id)
    ).scalar_one_or_none()


# ---- team --------------------------------------------------------------------------------------

def _owner_count(account: Account) -> int:
    return db.session.execute(
        select(func.count()).select_from(Membership)
        .where(Membership.account_id == account.id, Membership.role == "owner")
    ).scalar_one()


def invite(account: Account, inviter: User, actor_role: str, email: str, role: str) -> tuple[Invitation, str]:
    """Create (or renew) an invitation and return it with its one-time token."""
    email = normalize_email(email)
    role = check_role(role)
    if role == "owner" and actor_role != "owner":
        raise ForbiddenError("Only an owner can invite another owner.", field="role")
    existing_user = user_by_email(email)
    if existing_user and membership_of(existing_user, account.id):
        raise ConflictError("This person is already a member of the workspace.", field="email")
    for pending in db.session.execute(
        select(Invitation).where(Invitation.account_id == account.id, func.lower(Invitation.email) == email,
                                 Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
    ).scalars():
        pending.revoked_at = utcnow()  # the new invitation replaces any earlier one
    token = random_token()
    invitation = Invitation(
        account_id=account.id, email=email, role=role, token_hash=sha256_hex(token),
        invited_by_id=inviter.id,
        expires_at=utcnow() + timedelta(days=current_app.config["INVITATION_MAX_AGE_DAYS"]),
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record("member.invited", invitation, f"Invited {email} as {role}", details={"role": role}, account=account)
    db.session.commit()
    return invitation, token


def send_invitation(invitation: Invitation, token: str, accept_url: str) -> None:
    """Queue the invitation's e-mail; a job sends it through the workspace's channel."""
    mail.send_template(invitation.email, f"You are invited to {invitation.account.name} on Leadforge",
                       "invitation", account_id=invitation.account_id, invitation=invitation, accept_url=accept_url)


class InvitationError(ValueError):
    """An invitation link that cannot be used; the message says why."""


def invitation_for_token(token: str) -> Invitation:
    invitation = db.session.execute(
        select(Invitation).where(Invitation.token_hash == sha256_hex(token or ""))
    ).scalar_one_or_none()
    if invitation is None:
        raise InvitationError("This invitation link is not valid.")
    if invitation.accepted_at:
        raise InvitationError("This invitation has already been accepted.")
    if invitation.revoked_at:
        raise InvitationError("This invitation was withdrawn or replaced by a newer one.")
    if invitation.expires_at < utcnow():
        raise InvitationError("This invitation has expired. Ask for a new one.")
    return invitation


def accept_invitation(token: str, user: User) -> Membership:
    """Add the user to the invitation's workspace; only the invited address may accept."""
    invitation = invitation_for_token(token)
    if user.email != invitation.email.lower():
        raise ForbiddenError(
            f"This invitation is for {invitation.email}; you are logged in as {user.email}.")
    membership = membership_of(user, invitation.account_id)
    if membership is None:
        membership = Membership(account_id=invitation.account_id, user_id=user.id, role=invitation.role)
        db.session.add(membership)
    invitation.accepted_at, invitation.accepted_by_id = utcnow(), user.id
    db.session.flush()
    audit.record("member.joined", membership, f"{user.email} joined as {invitation.role}",
                 account=invitation.account, user=user)
    db.session.commit()
    return membership


def register_from_invitation(token: str, name: str, password: str) -> User:
    """A new person sets a password and joins; no workspace of their own is created."""
    invitation = invitation_for_token(token)
    if user_by_email(invitation.email):
        raise ConflictError("An account with this e-mail exists: log in to accept.", field="email")
    name = check_text(name, "name", "name", 120)
    check_password(password)
    user = User(email=invitation.email.lower(), name=name, password_hash=hash_password(password),
                timezone=invitation.account.timezone)
    db.session.add(user)
    db.session.flush()
    accept_invitation(token, user)
    return user


def revoke_invitation(invitation: Invitation) -> None:
    if invitation.accepted_at:
        raise ConflictError("This invitation was already accepted.")
    invitation.revoked_at = invitation.revoked_at or utcnow()
    audit.record("member.invitation_revoked", invitation, f"Invitation of {invitation.email} withdrawn")
    db.session.commit()


def change_role(actor: Membership, membership: Membership, role: str) -> Membership:
    role = check_role(role)
    if "owner" in (role, membership.role) and actor.role != "owner":
        raise ForbiddenError("Only an owner can grant or take away the owner role.", field="role")
    if membership.role == "owner" and role != "owner" and _owner_count(membership.account) <= 1:
        raise ConflictError("A workspace needs at least one owner: make someone else owner first.", field="role")
    old = membership.role
    membership.role = role
    audit.record("member.role_changed", membership, f"{membership.user.email}: {old} → {role}",
                 details={"from": old, "to": role})
    db.session.commit()
    return membership


def remove_member(actor: Membership, membership: Membership) -> None:
    if membership.role == "owner" and actor.role != "owner":
        raise ForbiddenError("Only an owner can remove an owner.")
    if membership.role == "owner" and _owner_count(membership.account) <= 1:
        raise ConflictError("The last owner cannot be removed: make someone else owner first.")
    audit.record("member.removed", membership, f"{membership.user.email} removed from the workspace")
    db.session.delete(membership)
    db.session.commit()


# ---- API keys ----------------------------------------------------------------------------------

def create_api_key(account: Account, user: User, name: str) -> tuple[ApiKey, str]:
    """A new key; the secret is returned once and only its hash is kept."""
    name = check_text(name, "name", "key name", 80)
    secret = API_KEY_PREFIX + random_token(30)
    key = ApiKey(account_id=account.id, user_id=user.id, name=name, prefix=secret[:10],
                 key_hash=sha256_hex(secret))
    db.session.add(key)
    db.session.flush()
    audit.record("api_key.created", key, f"API key “{name}” created ({key.prefix}…)", account=account)
    db.session.commit()
    return key, secret


def revoke_api_key(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record("api_key.revoked", key, f"API key “{key.name}” revoked ({key.prefix}…)")
    db.session.commit()


def api_key_for_secret(secret: str) -> tuple[ApiKey, Membership] | None:
    """The live key and its user's membership for this secret, or None (unknown, revoked, or the
    user is no longer a member)."""
    if not secret or not secret.startswith(API_KEY_PREFIX) or len(secret) > 100:
        return None
    key = db.session.execute(select(ApiKey).where(ApiKey.key_hash == sha256_hex(secret))).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    membership = membership_of(key.user, key.account_id)
    if membership is None:
        return None
    now = utcnow()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        key.last_used_at = now  # at most one write a minute per key
        db.session.commit()
    return key, membership
