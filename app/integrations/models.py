"""Integrations: provider connections and their calls, contact sync, outgoing and inbound webhooks, SMS
messages, tracking pixels.

Secrets (provider credentials, webhook signing secrets, inbound tokens) are stored encrypted with
`app.core.crypto` and never leave the server; what the UI shows of them is the hint (last 4 characters).
"""
import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import JSONType, TenantMixin, Timestamps, UTCDateTime, UUIDPrimaryKey, unique_where, utcnow
from app.extensions import db

CONNECTION_KINDS = ("email", "sms")
CONNECTION_STATUSES = ("untested", "connected", "failed")


class Connection(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """A workspace's account at one provider (SendGrid, Twilio, an SMTP server...)."""

    __tablename__ = "integration_connections"
    __url_param__ = "connection_id"

    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # email | sms
    provider: Mapped[str] = mapped_column(String(32), nullable=False)  # the adapter's key: "sendgrid"
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    # Encrypted JSON of the secret fields (API keys, passwords, tokens); `credential_hints` is what the UI shows.
    credentials_encrypted: Mapped[str] = mapped_column(Text, nullable=False, default="")
    credential_hints: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    settings: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)  # non-secret: host, port, sender
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="untested")
    status_message: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # E-mail connections that can send (SMTP, SendGrid): the one chosen carries the workspace's mail.
    is_sending_channel: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Contact sync: the provider's lists to keep current, the events that sync, contact field -> list field.
    sync_lists: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)  # [{"id", "name"}]
    sync_events: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)  # contact.created, ...
    field_map: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    sync_tags: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)  # tags sent with a subscriber
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        unique_where("uq_integration_connections_sending", "account_id", where="is_sending_channel"),
    )


class ProviderCall(UUIDPrimaryKey, TenantMixin, db.Model):
    """One HTTP (or SMTP) call to a provider: the usage and health figures are counted from these."""

    __tablename__ = "integration_calls"
    __table_args__ = (Index("ix_integration_calls_connection_created", "connection_id", "created_at"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("integration_connections.id", ondelete="CASCADE"), nullable=False)
    operation: Mapped[str] = mapped_column(String(40), nullable=False)  # check, lists, subscribe, send_email, ...
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


SYNC_STATUSES = ("queued", "synced", "failed", "skipped")


class SyncRecord(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """The sync log: one contact pushed to one list of a connection, and how it went."""

    __tablename__ = "integration_sync_records"
    __url_param__ = "sync_record_id"
    __table_args__ = (Index("ix_integration_sync_records_connection_created", "connection_id", "created_at"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("integration_connections.id", ondelete="CASCADE"), nullable=False)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_contacts.id", ondelete="SET NULL"), index=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False, default="")
    list_id: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    trigger: Mapped[str] = mapped_column(String(40), nullable=False)  # contact.created, sync_all, ...
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="SET NULL"))


class WebhookEndpoint(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """A URL that receives the workspace's events, signed as the Standard Webhooks specification says."""

    __tablename__ = "webhook_endpoints"
    __url_param__ = "endpoint_id"

    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    description: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    events: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)  # event names; [] = none
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)  # "whsec_..." encrypted
    # After a rotation the old secret signs too, until it expires (24 hours).
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first failure of the current streak
    last_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))

    messages: Mapped[list["WebhookMessage"]] = relationship(back_populates="endpoint", passive_deletes=True)


MESSAGE_STATUSES = ("pending", "retrying", "delivered", "failed")


class WebhookMessage(UUIDPrimaryKey, TenantMixin, db.Model):
    """One event for one endpoint: its `webhook_id` (msg_...) stays the same over every attempt, so the
    receiver can de-duplicate."""

    __tablename__ = "webhook_messages"
    __url_param__ = "message_id"
    __table_args__ = (
        Index("ix_webhook_messages_endpoint_created", "endpoint_id", "created_at"),
        Index("ix_webhook_messages_due", "status", "next_attempt_at"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False)
    webhook_id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[dict] = mapped_column(JSONType, nullable=False)  # {type, timestamp, data}, sent as is
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    is_test: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    endpoint: Mapped[WebhookEndpoint] = relationship(back_populates="messages")
    attempt_log: Mapped[list["WebhookAttempt"]] = relationship(
        back_populates="message", order_by="WebhookAttempt.created_at", passive_deletes=True)


class WebhookAttempt(UUIDPrimaryKey, TenantMixin, db.Model):
    """One HTTP request of a message: what was sent, what came back, how long it took."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_message", "message_id", "created_at"),)

    message_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_messages.id", ondelete="CASCADE"), nullable=False)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False, index=True)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    trigger: Mapped[str] = mapped_column(String(16), nullable=False, default="auto")  # auto | manual | test
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    request_headers: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str] = mapped_column(Text, nullable=False, default="")  # first 2 KB
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    message: Mapped[WebhookMessage] = relationship(back_populates="attempt_log")


class InboundHook(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """A secret URL that takes JSON from n8n, Zapier and the like and creates or updates a contact."""

    __tablename__ = "inbound_hooks"
    __url_param__ = "hook_id"

    name: Mapped[str] = mapped_column(String(120), nullable=False)
    # The URL's token: looked up by its SHA-256, kept encrypted so the owner can copy the URL again.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    token_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    field_map: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)  # contact field -> JSON path
    tags: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)  # tag names added to the contact
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    last_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))


class InboundCall(UUIDPrimaryKey, TenantMixin, db.Model):
    """A request received: by an inbound hook, or a provider's callback (SMS status, SendGrid events)."""

    __tablename__ = "inbound_calls"
    __table_args__ = (Index("ix_inbound_calls_account_created", "account_id", "created_at"),)

    hook_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("inbound_hooks.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("integration_connections.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(32), nullable=False)  # inbound | twilio | sendgrid | ...
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    outcome: Mapped[str] = mapped_column(String(300), nullable=False, default="")  # "contact created", the error
    body_excerpt: Mapped[str] = mapped_column(Text, nullable=False, default="")  # first 2 KB
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("crm_contacts.id", ondelete="SET NULL"))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


SMS_STATUSES = ("queued", "sent", "delivered", "undelivered", "failed")


class SmsMessage(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """An SMS sent through a connection; the provider's delivery callbacks move its status."""

    __tablename__ = "sms_messages"
    __url_param__ = "sms_id"
    __table_args__ = (UniqueConstraint("connection_id", "provider_message_id",
                                       name="uq_sms_messages_provider_id"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("integration_connections.id", ondelete="CASCADE"), nullable=False, index=True)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("crm_contacts.id", ondelete="SET NULL"))
    to: Mapped[str] = mapped_column(String(20), nullable=False)  # E.164
    body: Mapped[str] = mapped_column(Text, nullable=False)
    provider_message_id: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    error: Mapped[str | None] = mapped_column(String(500))


PIXEL_PROVIDERS = ("facebook", "ga4", "tiktok", "pinterest", "x")


class TrackingPixel(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """A pixel id for the whole workspace (funnel_id NULL) or one funnel, which overrides it."""

    __tablename__ = "tracking_pixels"
    __url_param__ = "pixel_id"
    __table_args__ = (
        unique_where("uq_tracking_pixels_workspace", "account_id", "provider", where="funnel_id IS NULL"),
        unique_where("uq_tracking_pixels_funnel", "funnel_id", "provider", where="funnel_id IS NOT NULL"),
    )

    funnel_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("funnels.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(16), nullable=False)
    pixel_code: Mapped[str] = mapped_column(String(64), nullable=False)  # the provider's id: 1234567890, G-XXXX
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

