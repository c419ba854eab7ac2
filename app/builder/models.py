"""The page of a funnel step (its element tree, edit history and published HTML)."""
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.assets.models import Asset
from app.core.db import JSONType, TenantMixin, Timestamps, UTCDateTime, UUIDPrimaryKey
from app.extensions import db


class Page(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """`tree` is the element tree (app/pages/elements.py). `history` holds up to 50 earlier trees
    (undo) and `future` the undone ones (redo); both live with the page, so they survive a reload.
    `revision` grows at each edit; the builder sends it back so that a stale tab cannot overwrite."""

    __tablename__ = "pages"
    __url_param__ = "page_id"

    step_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("funnel_steps.id", ondelete="CASCADE"), unique=True, nullable=False)
    funnel_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("funnels.id", ondelete="CASCADE"), index=True, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    seo_title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    seo_description: Mapped[str] = mapped_column(String(320), nullable=False, default="")
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

    step = relationship("FunnelStep", back_populates="page")
    og_image: Mapped[Asset | None] = relationship(foreign_keys=[og_image_id])
    favicon: Mapped[Asset | None] = relationship(foreign_keys=[favicon_id])

    @property
    def is_published(self) -> bool:
        return self.published_html is not None

