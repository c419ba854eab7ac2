"""CRM: contacts, companies, tags, custom fields, segments, pipelines, deals, activities, notes and
the contact timeline."""
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.db import JSONType, TenantMixin, Timestamps, UTCDateTime, UUIDPrimaryKey, unique_where, utcnow
from app.extensions import db

contact_tags = Table(
    "crm_contact_tags", db.metadata,
    Column("contact_id", Uuid, ForeignKey("crm_contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Uuid, ForeignKey("crm_tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)
company_tags = Table(
    "crm_company_tags", db.metadata,
    Column("company_id", Uuid, ForeignKey("crm_companies.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Uuid, ForeignKey("crm_tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)

TAG_COLORS = ("gray", "red", "orange", "amber", "green", "teal", "blue", "indigo", "purple", "pink")


class Tag(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "crm_tags"
    __table_args__ = (Index("uq_crm_tags_account_name", "account_id", text("lower(name)"), unique=True),)
    __url_param__ = "tag_id"

    name: Mapped[str] = mapped_column(String(50), nullable=False)
    color: Mapped[str] = mapped_column(String(16), nullable=False, default="gray")


CUSTOM_FIELD_TYPES = ("text", "number", "date", "dropdown", "checkbox", "url")


class CustomField(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """An admin-defined contact field; values live in Contact.custom_fields under `key`."""

    __tablename__ = "crm_custom_fields"
    __table_args__ = (UniqueConstraint("account_id", "key"),)
    __url_param__ = "custom_field_id"

    key: Mapped[str] = mapped_column(String(50), nullable=False)
    label: Mapped[str] = mapped_column(String(80), nullable=False)
    field_type: Mapped[str] = mapped_column(String(16), nullable=False, default="text")
    options: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)  # for dropdowns
    required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


COMPANY_SIZES = ("1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5000+")


class Company(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "crm_companies"
    __table_args__ = (
        unique_where("uq_crm_companies_account_domain", "account_id", "domain",
                     where="domain IS NOT NULL AND deleted_at IS NULL"),
        Index("ix_crm_companies_account_name", "account_id", "name"),
    )
    __url_param__ = "company_id"

    name: Mapped[str] = mapped_column(String(160), nullable=False)
    domain: Mapped[str | None] = mapped_column(String(253))
    industry: Mapped[str | None] = mapped_column(String(80))
    size: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(20))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_companies.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    parent: Mapped["Company | None"] = relationship(remote_side="Company.id")
    tags: Mapped[list[Tag]] = relationship(secondary=company_tags, order_by=Tag.name)
    owner: Mapped[User | None] = relationship()


CONTACT_SOURCES = ("manual", "import", "form", "api", "checkout", "referral", "webhook", "other")


class Contact(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "crm_contacts"
    __table_args__ = (
        # E-mail is unique per account among contacts not deleted (stored lower-cased).
        unique_where("uq_crm_contacts_account_email", "account_id", "email",
                     where="email IS NOT NULL AND deleted_at IS NULL"),
        Index("ix_crm_contacts_account_created", "account_id", "created_at"),
        Index("ix_crm_contacts_account_name", "account_id", text("lower(first_name)"), text("lower(last_name)")),
        Index("ix_crm_contacts_search_trgm", "search_text", postgresql_using="gin",
              postgresql_ops={"search_text": "gin_trgm_ops"}),
    )
    __url_param__ = "contact_id"

    first_name: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    last_name: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    company_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_companies.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(20), nullable=False, default="manual")
    street: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    custom_fields: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    search_text: Mapped[str] = mapped_column(Text, nullable=False, default="")  # lower-cased, for search
    # subscribed | unsubscribed | bounced | complained: set by the e-mail provider's callbacks (SendGrid's events).
    email_status: Mapped[str] = mapped_column(String(16), nullable=False, default="subscribed")
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    company: Mapped[Company | None] = relationship()
    owner: Mapped[User | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tags, order_by=Tag.name)

    @property
    def name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email or self.phone or "(no name)"


class Segment(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """A saved contact filter, reused by the list, campaigns and automation."""

    __tablename__ = "crm_segments"
    __url_param__ = "segment_id"

    name: Mapped[str] = mapped_column(String(80), nullable=False)
    filters: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))


class Pipeline(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "crm_pipelines"
    __url_param__ = "pipeline_id"

    name: Mapped[str] = mapped_column(String(80), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    stages: Mapped[list["Stage"]] = relationship(
        back_populates="pipeline", order_by="Stage.position", cascade="all, delete-orphan")


class Stage(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "crm_stages"
    __url_param__ = "stage_id"

    pipeline_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("crm_pipelines.id", ondelete="CASCADE"), index=True, nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    probability: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # 0-100 %

    pipeline: Mapped[Pipeline] = relationship(back_populates="stages")


DEAL_STATUSES = ("open", "won", "lost", "abandoned")


class Deal(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "crm_deals"
    __table_args__ = (
        Index("ix_crm_deals_board", "account_id", "pipeline_id", "status", "stage_id", "position"),
    )
    __url_param__ = "deal_id"

    pipeline_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("crm_pipelines.id", ondelete="CASCADE"), nullable=False)
    stage_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("crm_stages.id", ondelete="RESTRICT"), index=True, nullable=False)
    title: Mapped[str] = mapped_column(String(160), nullable=False)
    value_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="USD")
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_contacts.id", ondelete="SET NULL"), index=True)
    company_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_companies.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    lost_reason: Mapped[str | None] = mapped_column(String(255))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # order within its column

    pipeline: Mapped[Pipeline] = relationship()
    stage: Mapped[Stage] = relationship()
    contact: Mapped[Contact | None] = relationship()
    company: Mapped[Company | None] = relationship()
    owner: Mapped[User | None] = relationship()


ACTIVITY_TYPES = ("call", "email", "meeting", "task", "note", "sms", "other")
ACTIVITY_STATUSES = ("pending", "in_progress", "completed", "cancelled")
# Allowed status changes: pending → in progress → completed; pending/in progress → cancelled.
ACTIVITY_TRANSITIONS = {
    "pending": {"in_progress", "completed", "cancelled"},
    "in_progress": {"completed", "cancelled", "pending"},
    "completed": set(),
    "cancelled": set(),
}


class Activity(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "crm_activities"
    __table_args__ = (Index("ix_crm_activities_assignee_due", "account_id", "assignee_id", "status", "due_at"),)
    __url_param__ = "activity_id"

    activity_type: Mapped[str] = mapped_column(String(16), nullable=False, default="task")
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_contacts.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_companies.id", ondelete="CASCADE"), index=True)
    deal_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_deals.id", ondelete="CASCADE"), index=True)

    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    contact: Mapped[Contact | None] = relationship()
    company: Mapped[Company | None] = relationship()
    deal: Mapped[Deal | None] = relationship()


class Note(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "crm_notes"
    __url_param__ = "note_id"

    body_html: Mapped[str] = mapped_column(Text, nullable=False)  # sanitised with bleach
    author_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_contacts.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_companies.id", ondelete="CASCADE"), index=True)
    deal_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_deals.id", ondelete="CASCADE"), index=True)

    author: Mapped[User | None] = relationship()


class TimelineEntry(TenantMixin, db.Model):
    """One thing that happened to a contact (note, activity, deal change, tag change, and later form
    submits, orders, e-mails, page visits). The contact page lists them newest first."""

    __tablename__ = "crm_timeline"
    __table_args__ = (Index("ix_crm_timeline_contact", "account_id", "contact_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("crm_contacts.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)  # e.g. note.created, deal.stage_changed
    summary: Mapped[str] = mapped_column(String(300), nullable=False)
    details: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    actor: Mapped[User | None] = relationship()


class ContactImport(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """An uploaded CSV: its columns, the mapping chosen, and the result of the import job."""

    __tablename__ = "crm_imports"
    __url_param__ = "import_id"

    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    path: Mapped[str] = mapped_column(String(500), nullable=False)
    encoding: Mapped[str] = mapped_column(String(20), nullable=False, default="utf-8")  # the file is read in
    detected_encoding: Mapped[str | None] = mapped_column(String(20))  # what its bytes suggested at upload
    encoding_chosen: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                  server_default=text("false"))  # the person picked it
    # How the file reads in `encoding` (services.imports.sniffing.Decoding): lines that do not decode, and
    # for a file that is not all UTF-8, its lines that are and those that are not (both: mixed encodings).
    decoding: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict, server_default=text("'{}'"))
    headers: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    row_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    mapping: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)  # column -> field
    duplicate_mode: Mapped[str] = mapped_column(String(10), nullable=False, default="update")  # or skip
    tag_names: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="uploaded")
    created_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    report_path: Mapped[str | None] = mapped_column(String(500))
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))


class ImportMapping(TenantMixin, db.Model):
    """The mapping last used for a set of CSV columns, offered again next time."""

    __tablename__ = "crm_import_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    header_signature: Mapped[str] = mapped_column(String(64), nullable=False)
    mapping: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    __table_args__ = (UniqueConstraint("account_id", "header_signature"),)
