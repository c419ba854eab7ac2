"""Users, workspaces (accounts), memberships with roles, invitations and API keys."""
import hashlib
import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import TenantMixin, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow
from app.core.roles import ROLES  # noqa: F401 (re-exported)
from app.extensions import db


class User(UUIDPrimaryKey, Timestamps, UserMixin, db.Model):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def session_fingerprint(self) -> str:
        """Changes whenever the password changes; part of the session id (see get_id)."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    def get_id(self) -> str:
        # Sessions and remember-me cookies carry the fingerprint, so a password change or reset
        # logs out every other session of the user.
        return f"{self.id}:{self.session_fingerprint}"


class Account(UUIDPrimaryKey, Timestamps, db.Model):
    """A workspace. Every tenant row belongs to exactly one."""

    __tablename__ = "accounts"

    name: Mapped[str] = mapped_column(String(120), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="USD")
    # Analytics privacy: visitors' IP addresses stored "truncated" (last octet / 80 bits zeroed) or "none";
    # with respect_dnt, browsers sending Do-Not-Track are not tracked at all.
    analytics_ip_mode: Mapped[str] = mapped_column(String(10), nullable=False, default="truncated")
    analytics_respect_dnt: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )


class Membership(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("account_id", "user_id"),)
    __url_param__ = "member_id"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="user")

    user: Mapped[User] = relationship(back_populates="memberships")
    account: Mapped[Account] = relationship(back_populates="memberships")


class Invitation(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "invitations"
    __url_param__ = "invitation_id"

    email: Mapped[str] = mapped_column(String(254), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at < utcnow():
            return "expired"
        return "pending"


class ApiKey(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """A key for the JSON API. Only a SHA-256 hash of the secret is stored; the prefix is shown."""

    __tablename__ = "api_keys"
    __url_param__ = "api_key_id"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
