"""Funnel analytics: raw events (partitioned by month on PostgreSQL), the rollups the reports read, the
unique-visitor sketches, A/B exposures and the fallback inbox.

Reports never scan a year of raw events: they read `analytics_step_hours` (one row per step, variant and
hour), `analytics_dimension_days` (one row per step, day and value of a dimension: source, device,
browser, entry/exit path, exit reason, time on step) and `analytics_unique_sketches` (HyperLogLog
registers per funnel or step and day, merged for any range). The ingest worker (app/analytics/ingest.py)
keeps them current in the same transaction that stores the raw events.
"""
import re
import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, LargeBinary, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import JSONType, TenantMixin, UTCDateTime, utcnow
from app.extensions import db

# Rollup keys cannot hold NULL (they are primary keys): "no step" / "no variant" is the zero UUID.
NO_ID = uuid.UUID(int=0)
EVENT_TYPES = ("page_view", "step_entry", "step_exit", "conversion")
CONVERSION_TYPES = ("form_submit", "purchase", "signup", "custom")
EXIT_OUTCOMES = ("forward", "backward", "bounce", "close")
DEVICE_TYPES = ("desktop", "mobile", "tablet")
# The dimensions of analytics_dimension_days.
DIMENSIONS = ("source", "medium", "campaign", "device", "browser", "os", "entry_from", "exit_to",
              "exit_reason", "time_on_step")
EventId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER keys
PARTITION_NAME = re.compile(r"^analytics_events_\d{4}_\d{2}$")


def is_partition(table_name: str) -> bool:
    """A monthly partition of analytics_events (made at run time: not in the models' metadata)."""
    return bool(PARTITION_NAME.match(table_name or ""))


class AnalyticsEvent(db.Model):
    """One tracked event. On PostgreSQL the table is partitioned by month of `created_at` (the primary key
    is (id, created_at) there, as partitioning requires); partitions live 13 months
    (app/analytics/partitions.py). `visitor_id` and `ip_address` are cleared when a visitor is anonymized."""

    __tablename__ = "analytics_events"
    __table_args__ = (
        Index("ix_analytics_events_funnel_created", "funnel_id", "created_at"),
        Index("ix_analytics_events_visitor", "visitor_id", "created_at"),
        # The converting visitors of a range read only this (conversions are a sliver of the events).
        Index("ix_analytics_events_conversions", "funnel_id", "created_at",
              postgresql_include=["visitor_id", "session_id", "value_cents", "account_id"],
              postgresql_where=text("event_type = 'conversion'"), sqlite_where=text("event_type = 'conversion'")),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    funnel_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    event_type: Mapped[str] = mapped_column(String(20), nullable=False)
    visitor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    session_id: Mapped[str] = mapped_column(String(100), nullable=False)
    page_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    step_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    previous_step_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    next_step_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    variant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    exit_outcome: Mapped[str | None] = mapped_column(String(10))
    conversion_type: Mapped[str | None] = mapped_column(String(20))
    value_cents: Mapped[int | None] = mapped_column(BigInteger)
    conversion_goal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    url: Mapped[str | None] = mapped_column(Text)
    referrer: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(100), nullable=False, default="direct")
    utm_source: Mapped[str | None] = mapped_column(String(255))
    utm_medium: Mapped[str | None] = mapped_column(String(255))
    utm_campaign: Mapped[str | None] = mapped_column(String(255))
    device_type: Mapped[str] = mapped_column(String(10), nullable=False, default="desktop")
    browser: Mapped[str] = mapped_column(String(50), nullable=False, default="Other")
    os: Mapped[str] = mapped_column(String(50), nullable=False, default="Other")
    user_agent: Mapped[str | None] = mapped_column(Text)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    is_new_visitor: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    time_on_step_seconds: Mapped[int | None] = mapped_column(Integer)
    event_metadata: Mapped[dict] = mapped_column("metadata", JSONType, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class AnalyticsInbox(db.Model):
    """Events accepted while Redis was unreachable: stored as received (already validated) and drained by
    the ingest worker like the Redis buffer, so the fallback path loses nothing and shares the pipeline.

    A push whose reply was lost (Redis stopping mid-command) may have reached Redis after all: the same
    item, by `item_id`, is then skipped when the Redis buffer is drained. Drained rows keep their id for
    two days (`drained_at`) for that check."""

    __tablename__ = "analytics_inbox"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    payload: Mapped[dict] = mapped_column(JSONType, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    drained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StepHour(TenantMixin, db.Model):
    """Counters of one step (NO_ID: events without a step, such as server-side purchases) and variant
    (NO_ID: none) in one UTC hour. Day buckets in the workspace's zone are made by grouping hours."""

    __tablename__ = "analytics_step_hours"
    __table_args__ = (Index("ix_analytics_step_hours_funnel_hour", "funnel_id", "hour"),)

    funnel_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    step_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    page_views: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    entries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    exits: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    forward_exits: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    backward_exits: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    bounces: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    closes: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sessions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    new_visitors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    conversions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    conversion_value_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    time_total_seconds: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    time_samples: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class DimensionDay(TenantMixin, db.Model):
    """Per step (NO_ID: the whole funnel's conversions without a step), day in the workspace's zone,
    dimension (DIMENSIONS) and value: entries, drop-offs (bounce or close exits), conversions and value.
    entry_from/exit_to hold the other step's id ("" for a direct entry or a drop-off); time_on_step holds
    the lower bound in seconds of a histogram bucket (medians are read from it)."""

    __tablename__ = "analytics_dimension_days"
    __table_args__ = (Index("ix_analytics_dimension_days_funnel_day", "funnel_id", "day"),)

    funnel_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    step_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # Key order (funnel, step, dimension, day, value): a report reads one dimension of a step over a range.
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)
    entries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    drop_offs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    conversions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    value_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class UniqueSketch(TenantMixin, db.Model):
    """HyperLogLog registers of the visitors seen by a funnel (scope NO_ID), a step (its id) or a variant
    (its id) on one day in the workspace's zone (app/analytics/sketches.py)."""

    __tablename__ = "analytics_unique_sketches"
    __table_args__ = (Index("ix_analytics_unique_sketches_funnel_day", "funnel_id", "day"),)

    funnel_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    registers: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class Exposure(TenantMixin, db.Model):
    """A visitor who saw a variant of a split test, and what they converted afterwards (A/B results are
    exact: one row per visitor and test)."""

    __tablename__ = "analytics_ab_exposures"
    __table_args__ = (Index("ix_analytics_ab_exposures_test_variant", "test_id", "variant_id"),)

    test_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    visitor_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    conversions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    value_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class CountedOrder(db.Model):
    """A paid order whose purchase was counted (the browser and the server both report it: once only)."""

    __tablename__ = "analytics_counted_orders"

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
