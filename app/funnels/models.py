"""Funnels: a sequence of steps, each with its page (the content of the step: an element tree of
app.pages, its undo history and its published document); versions of a funnel and workspace templates."""
import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
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
    # The step's own page; the variant pages of its split tests (Page.is_variant) are not it.
    page: Mapped["Page | None"] = relationship(
        back_populates="step", cascade="all, delete-orphan",
        primaryjoin="and_(FunnelStep.id == Page.step_id, Page.is_variant.is_(False))")

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
    __table_args__ = (
        unique_where("uq_pages_step", "step_id", where="NOT is_variant"),
        Index("ix_pages_step_id", "step_id"),
    )
    __url_param__ = "page_id"

    step_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("funnel_steps.id", ondelete="CASCADE"), nullable=False)
    # A variant of the step's page in a split test (SplitVariant.page): edited in the builder like any
    # page, published with it, never the step's own page.
    is_variant: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
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

    step: Mapped[FunnelStep] = relationship(
        back_populates="page", primaryjoin="FunnelStep.id == Page.step_id", foreign_keys=[step_id])
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


SPLIT_TEST_STATUSES = ("running", "completed", "stopped")


class SplitTest(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """An A/B split test of one step: visitors of the step see one of the variants' pages, chosen at
    random by weight and kept for that visitor (app/site: by their visitor cookie). One running test per
    step. Results are computed by app/analytics from the exposures."""

    __tablename__ = "split_tests"
    __table_args__ = (unique_where("uq_split_tests_running_step", "step_id", where="status = 'running'"),)
    __url_param__ = "test_id"

    funnel_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("funnels.id", ondelete="CASCADE"), index=True, nullable=False)
    step_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("funnel_steps.id", ondelete="CASCADE"), index=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="running")
    # Visitors each variant needs before a winner may be declared (peeking early declares false winners).
    min_sample: Mapped[int] = mapped_column(Integer, nullable=False, default=100)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    winner_variant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # one of its variants (no FK: a cycle)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))

    step: Mapped[FunnelStep] = relationship()
    variants: Mapped[list["SplitVariant"]] = relationship(
        back_populates="test", order_by="SplitVariant.position", cascade="all, delete-orphan",
        foreign_keys="SplitVariant.test_id")


class SplitVariant(UUIDPrimaryKey, TenantMixin, db.Model):
    __tablename__ = "split_variants"
    __url_param__ = "variant_id"

    test_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("split_tests.id", ondelete="CASCADE"), index=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    is_control: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    page_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("pages.id", ondelete="CASCADE"), nullable=False)
    weight: Mapped[int] = mapped_column(Integer, nullable=False)  # percent of the step's visitors
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    test: Mapped[SplitTest] = relationship(back_populates="variants", foreign_keys=[test_id])
    page: Mapped[Page] = relationship()
