"""The image library's one table: an uploaded image, its facts and alt text (the bytes are in storage)."""
import uuid

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import TenantMixin, Timestamps, UUIDPrimaryKey
from app.extensions import db


class Asset(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """An uploaded image. The content type is sniffed from the bytes, never taken from the name."""

    __tablename__ = "assets"
    __url_param__ = "asset_id"

    filename: Mapped[str] = mapped_column(String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(String(50), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    checksum: Mapped[str] = mapped_column(String(64), nullable=False)
    alt: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
