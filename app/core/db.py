"""Column types and mixins shared by every model; the one place that knows about dialects.

PostgreSQL is the database of record; SQLite is the embedded default for `make run`.
"""
import uuid
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Uuid, text, types
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

# JSONB on PostgreSQL, JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(types.TypeDecorator):
    """A timestamptz that always comes back timezone-aware in UTC, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class TenantMixin:
    """Every tenant table: an indexed account_id. Register the model's URL parameter name
    (e.g. ``__url_param__ = "api_key_id"``) so the cross-account test can find its rows."""

    __url_param__: str | None = None

    @declared_attr
    def account_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
        )


def unique_where(name: str, *columns: str, where: str) -> Index:
    """A unique index over the rows matching `where` (PostgreSQL and SQLite spell it alike)."""
    return Index(name, *columns, unique=True, postgresql_where=text(where), sqlite_where=text(where))


def like_pattern(q: str) -> str:
    """A lower-case LIKE pattern (use with escape="\\") matching `q` literally anywhere."""
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def engine_options(database_uri: str, options: dict) -> dict:
    """The engine's options for this database. PostgreSQL: JIT off. Its compiling of a large aggregate
    (the reports over a year of rollups) took 300-400 ms for queries that then ran in 80; our queries are
    short, JIT never paid back."""
    if not database_uri.startswith("postgresql"):
        return options
    connect_args = {**options.get("connect_args", {})}
    connect_args["options"] = (connect_args.get("options", "") + " -c jit=off").strip()
    return {**options, "connect_args": connect_args}
