"""Models every domain uses: the audit log and background job records."""
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import JSONType, TenantMixin, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow
from app.extensions import db


class AuditEvent(UUIDPrimaryKey, TenantMixin, db.Model):
    """Who did what to which object, and when."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_account_created", "account_id", "created_at"),)

    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    details: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    # The auth domain's User, named only as a string: core imports no domain.
    user: Mapped["User | None"] = relationship()  # noqa: F821


JOB_STATES = ("queued", "running", "finished", "failed")


class Job(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """The record of one background job, which the page polls for progress."""

    __tablename__ = "jobs"
    __url_param__ = "job_id"

    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    message: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    result_path: Mapped[str | None] = mapped_column(String(500))
    result_name: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def done(self) -> bool:
        return self.state in ("finished", "failed")


class Notification(UUIDPrimaryKey, TenantMixin, db.Model):
    """A message for one user in the app (the bell in the header): an export is ready, an endpoint was
    disabled. `url` is where clicking it leads."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at"),)
    __url_param__ = "notification_id"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    url: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class ScheduledRun(db.Model):
    """When each scheduled task last ran (app/core/schedule.py): a run missed while no worker was up is
    made once when one is back."""

    __tablename__ = "scheduled_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_status: Mapped[str] = mapped_column(String(200), nullable=False, default="")


MAIL_STATUSES = ("queued", "sending", "sent", "failed")


class MailMessage(UUIDPrimaryKey, db.Model):
    """An e-mail the app sends (password reset, invitation, receipt, export ready): queued by `core.mail`,
    sent by a job through the workspace's channel, every attempt counted. The bodies are erased once sent
    (a reset link must not outlive its use in the database)."""

    __tablename__ = "mail_messages"
    __table_args__ = (Index("ix_mail_messages_account_created", "account_id", "created_at"),)

    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id", ondelete="CASCADE"))
    to: Mapped[str] = mapped_column(String(254), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    template: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    text_body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    html_body: Mapped[str | None] = mapped_column(Text)
    reply_to: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    channel: Mapped[str] = mapped_column(String(32), nullable=False, default="")  # smtp, sendgrid, outbox...
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when the last attempt started
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
