"""Funnels: a sequence of steps, each with its page (the content of the step: an element tree of
app.pages, its undo history and its published document); versions of a funnel and workspace templates."""
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.assets.models import Asset
from app.auth.models import User
from app.core.db import JSONType, TenantMixin, Timestamps, UTCDateTime, UUIDPrimaryKey, unique_where, utcnow
from app.extensions import db
from app.pages.history import TEXT_FIELDS

FUNNEL_TYPES = {
    "lead_generation": "Lead generation",
    "sales": "Sales",
    "webinar": "Webinar",
    "application": "Application",
    "product_launch": "Product launch",
    "other": "Other",
}
FUNNEL_STATUSES = ("draft", "published", "archived")
STEP_TYPES = {
    "page": "Page",
    "order_form": "Order form",
    "order_bump": "Order bump",
    "upsell": "Upsell",
    "downsell": "Downsell",
    "thank_you": "Thank-you",
}


class Funnel(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """The public URL is SITE_URL/<slug>/<step slug>, with no account in it: the slug (and the custom
    domain) are unique across all accounts."""

    __tablename__ = "funnels"
    __table_args__ = (
        unique_where("uq_funnels_slug", "slug", where="deleted_at IS NULL"),
        unique_where("uq_funnels_custom_domain", "custom_domain",
                     where="custom_domain IS NOT NULL AND deleted_at IS NULL"),
        Index("ix_funnels_account_updated", "account_id", "updated_at"),
    )
    __url_param__ = "funnel_id"

    name: Mapped[str] = mapped_column(String(120), nullable=False)
    funnel_type: Mapped[str] = mapped_column(String(20), nullable=False, default="lead_generation")
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="draft")
    slug: Mapped[str] = mapped_column(String(60), nullable=False)
    custom_domain: Mapped[str | None] = mapped_column(String(253))
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    steps: Mapped[list["FunnelStep"]] = relationship(
        back_populates="funnel", order_by="FunnelStep.position", cascade="all, delete-orphan")

    @property
    def type_label(self) -> str:
        return FUNNEL_TYPES.get(self.funnel_type, self.funnel_type)


class FunnelStep(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "funnel_steps"
    __table_args__ = (UniqueConstraint("funnel_id", "slug"),)
    __url_param__ = "step_id"

    funnel_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("funnels.id", ondelete="CASCADE"), index=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    slug: Mapped[str] = mapped_column(String(60), nullable=False)
    step_type: Mapped[str] = mapped_column(String(20), nullable=False, default="page")
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    settings: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)

    funnel: Mapped[Funnel] = relationship(back_populates="steps")
    page: Mapped["Page | None"] = relationship(back_populates="step", cascade="all, delete-orphan")

    @property
    def type_label(self) -> str:
        return STEP_TYPES.get(self.step_type, self.step_type)


class Page(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """The content of a step. `tree` is the element tree (app/pages/elements.py). `history` holds the
    ways back of up to 50 edits (undo) and `future` those of the undone ones (redo); both live with the
    page, so they survive a reload (app/pages/history.py). `revision` grows at each edit; the builder
    sends it back so that a stale tab cannot overwrite. `published_html` is the document visitors get
    (app/funnels/publishing.py), None while the page is not published."""

    __tablename__ = "pages"
    __url_param__ = "page_id"

    step_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("funnel_steps.id", ondelete="CASCADE"), unique=True, nullable=False)
    funnel_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("funnels.id", ondelete="CASCADE"), index=True, nullable=False)
    title: Mapped[str] = mapped_column(String(TEXT_FIELDS["title"]), nullable=False, default="")
    seo_title: Mapped[str] = mapped_column(String(TEXT_FIELDS["seo_title"]), nullable=False, default="")
    seo_description: Mapped[str] = mapped_column(String(TEXT_FIELDS["seo_description"]), nullable=False, default="")
    og_image_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("assets.id", ondelete="SET NULL"))
    favicon_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("assets.id", ondelete="SET NULL"))
    tree: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    history: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    future: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    published_html: Mapped[str | None] = mapped_column(Text)
    published_etag: Mapped[str | None] = mapped_column(String(64))
    published_revision: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    step: Mapped[FunnelStep] = relationship(back_populates="page")
    og_image: Mapped[Asset | None] = relationship(foreign_keys=[og_image_id])
    favicon: Mapped[Asset | None] = relationship(foreign_keys=[favicon_id])

    @property
    def is_published(self) -> bool:
        return self.published_html is not None


class FunnelVersion(UUIDPrimaryKey, TenantMixin, db.Model):
    """A snapshot taken at each save of the funnel (kind "funnel": funnel, steps and pages) or of one
    page (kind "page": that page's tree and settings). Restoring one writes a new version."""

    __tablename__ = "funnel_versions"
    __table_args__ = (Index("ix_funnel_versions_funnel_number", "funnel_id", "number"),)
    __url_param__ = "version_id"

    funnel_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("funnels.id", ondelete="CASCADE"), nullable=False)
    page_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("pages.id", ondelete="SET NULL"), index=True)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False, default="funnel")
    summary: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    snapshot: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    created_by: Mapped[User | None] = relationship()
    page: Mapped[Page | None] = relationship()


class FunnelTemplate(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """A workspace's own template, saved from one of its funnels. The system templates are files
    (app/funnels/system_templates/), the same snapshot shape."""

    __tablename__ = "funnel_templates"
    __url_param__ = "template_id"

    name: Mapped[str] = mapped_column(String(120), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    funnel_type: Mapped[str] = mapped_column(String(20), nullable=False, default="other")
    snapshot: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
