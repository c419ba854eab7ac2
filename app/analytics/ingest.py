"""The ingest worker: tracked events from the buffer (Redis, or the database inbox when Redis was down) into
the raw events table and every rollup, in one transaction per batch.

The track endpoint (app/analytics/tracking.py) validates each request's events and pushes them as one item
on the Redis list BUFFER_KEY. `drain()` takes up to BATCH_ITEMS items at a time (LRANGE), stores them
(`ingest_events`) and only then removes them (LTRIM): a crash in between repeats a batch rather than losing
it. One drainer runs at a time (a Redis lock); `ingest_events` itself takes a PostgreSQL advisory lock, so
the generator, the purchase job and the drainer never merge the same sketch at once.
"""
import json
import logging
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Uuid, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.analytics import sketches
from app.analytics.models import (
    NO_ID,
    AnalyticsEvent,
    AnalyticsInbox,
    CountedOrder,
    DimensionDay,
    Exposure,
    StepHour,
    UniqueSketch,
)
from app.analytics.useragents import describe
from app.auth.models import Account
from app.core.db import UTCDateTime
from app.extensions import db
from app.funnels.models import SplitTest, SplitVariant

log = logging.getLogger(__name__)
NO_TEXT = str(NO_ID)

BUFFER_KEY = "analytics:buffer"
DRAIN_LOCK_KEY = "analytics:drain-lock"
BATCH_ITEMS = 500  # requests per batch (each up to 50 events)
INBOX_MEMORY = timedelta(days=2)  # drained inbox ids kept this long (see AnalyticsInbox)
ADVISORY_LOCK = 7_110_411  # pg_advisory_xact_lock key of ingest_events
EVENT_COLUMNS = [column.name for column in AnalyticsEvent.__table__.columns if column.name != "id"]
UUID_COLUMNS = {"account_id", "funnel_id", "visitor_id", "page_id", "step_id", "previous_step_id", "next_step_id",
                "variant_id", "conversion_goal_id"}
STEP_COUNTERS = ["page_views", "entries", "exits", "forward_exits", "backward_exits", "bounces", "closes", "sessions",
                 "new_visitors", "conversions", "conversion_value_cents", "time_total_seconds", "time_samples"]
DIMENSION_COUNTERS = ["entries", "drop_offs", "conversions", "value_cents"]
# Lower bounds (seconds) of the time-on-step histogram; the median is read from it.
TIME_BUCKETS = [0, 1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 3600]
VISITOR_DIMENSIONS = ("source", "medium", "campaign", "device", "browser", "os")


def time_bucket(seconds: int) -> int:
    chosen = 0
    for bound in TIME_BUCKETS:
        if seconds >= bound:
            chosen = bound
    return chosen


# ---- rows ---------------------------------------------------------------------------------------------

def _id_text(value) -> str | None:
    """Ids travel as canonical UUID text (what the endpoint sends): keys of the rollups, and COPY's input."""
    if value is None or value == "":
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    return value if len(value) == 36 and value.islower() else str(uuid.UUID(str(value)))


def _prepare(row: dict) -> dict:
    """A complete events-table row from what the endpoint, the generator or a job gives."""
    prepared = {column: row.get(column) for column in EVENT_COLUMNS}
    for column in UUID_COLUMNS:
        if prepared[column] is not None:
            prepared[column] = _id_text(prepared[column])
    metadata = row.get("metadata") or {}
    if row.get("exit_reason"):
        metadata = {**metadata, "exit_reason": str(row["exit_reason"])[:40]}
    prepared["metadata"] = metadata
    created_at = row.get("created_at") or datetime.now(UTC)
    if isinstance(created_at, str):
        created_at = datetime.fromisoformat(created_at)
    prepared["created_at"] = created_at.astimezone(UTC)
    if not row.get("device_type") or not row.get("browser"):
        agent = describe(row.get("user_agent") or "")
        prepared["device_type"] = row.get("device_type") or agent.device_type
        prepared["browser"] = row.get("browser") or agent.browser
        prepared["os"] = row.get("os") or agent.os
    prepared["os"] = prepared["os"] or "Other"
    prepared["source"] = (row.get("source") or "direct")[:100]
    prepared["is_new_visitor"] = bool(row.get("is_new_visitor"))
    prepared["_session_start"] = bool(row.get("session_start"))
    return prepared


# ---- the rollups of one batch -------------------------------------------------------------------------

class Batch:
    """The rollup increments of a batch of events, keyed like the tables."""

    def __init__(self, zones: dict):
        self.zones = zones  # account id -> ZoneInfo
        self.hours = defaultdict(lambda: dict.fromkeys(STEP_COUNTERS, 0))
        self.dimensions = defaultdict(lambda: dict.fromkeys(DIMENSION_COUNTERS, 0))
        self.visitors = defaultdict(set)  # (account, funnel, scope, day) -> visitor hashes
        self.accounts = {}  # rollup key -> account id

    def add(self, row: dict) -> None:
        account, funnel = row["account_id"], row["funnel_id"]
        step = row["step_id"] or NO_TEXT
        variant = row["variant_id"] or NO_TEXT
        moment = row["created_at"]
        hour_key = (funnel, step, variant, moment.replace(minute=0, second=0, microsecond=0))
        day = moment.astimezone(self.zones.get(account, UTC)).date()
        counters = self.hours[hour_key]
        self.accounts[hour_key] = account
        kind = row["event_type"]
        visitor = row["visitor_id"]
        if visitor is not None:
            self._seen(account, funnel, NO_TEXT, day, visitor)
        if kind == "page_view":
            counters["page_views"] += 1
            if row["_session_start"]:
                counters["sessions"] += 1
                counters["new_visitors"] += row["is_new_visitor"]
        elif kind == "step_entry":
            counters["entries"] += 1
            if visitor is not None:
                self._seen(account, funnel, step, day, visitor)
                if variant != NO_TEXT:
                    self._seen(account, funnel, variant, day, visitor)
            for dimension, value in self._visitor_values(row):
                self._dimension(account, funnel, step, day, dimension, value)["entries"] += 1
            came_from = str(row["previous_step_id"] or "")
            self._dimension(account, funnel, step, day, "entry_from", came_from)["entries"] += 1
        elif kind == "step_exit":
            self._exit(row, account, funnel, step, day, counters)
        elif kind == "conversion":
            value = row["value_cents"] or 0
            counters["conversions"] += 1
            counters["conversion_value_cents"] += value
            for dimension, dimension_value in [*self._visitor_values(row),
                                               ("conversion_type", row["conversion_type"] or "custom")]:
                cell = self._dimension(account, funnel, step, day, dimension, dimension_value)
                cell["conversions"] += 1
                cell["value_cents"] += value

    def _exit(self, row, account, funnel, step, day, counters) -> None:
        outcome = row["exit_outcome"] or "close"
        counters["exits"] += 1
        counters[{"forward": "forward_exits", "backward": "backward_exits", "bounce": "bounces"}.get(
            outcome, "closes")] += 1
        seconds = row["time_on_step_seconds"]
        if seconds is not None:
            counters["time_total_seconds"] += seconds
            counters["time_samples"] += 1
            self._dimension(account, funnel, step, day, "time_on_step", str(time_bucket(seconds)))["entries"] += 1
        leaving = outcome in ("bounce", "close")
        next_step = "" if leaving or not row["next_step_id"] else str(row["next_step_id"])
        self._dimension(account, funnel, step, day, "exit_to", next_step)["entries"] += 1
        if outcome != "forward":
            reason = (row["metadata"] or {}).get("exit_reason") or outcome
            self._dimension(account, funnel, step, day, "exit_reason", str(reason)[:100])["entries"] += 1
        if leaving:
            for dimension, value in self._visitor_values(row):
                self._dimension(account, funnel, step, day, dimension, value)["drop_offs"] += 1

    @staticmethod
    def _visitor_values(row):
        return [("source", row["source"] or "direct"), ("medium", row["utm_medium"] or "(none)"),
                ("campaign", row["utm_campaign"] or "(none)"), ("device", row["device_type"]),
                ("browser", row["browser"]), ("os", row["os"])]

    def _dimension(self, account, funnel, step, day, dimension, value) -> dict:
        key = (funnel, step, day, dimension, (value or "")[:100])
        self.accounts[key] = account
        return self.dimensions[key]

    def _seen(self, account, funnel, scope, day, visitor) -> None:
        self.visitors[(account, funnel, scope, day)].add(sketches.visitor_hash(visitor))


# ---- writing ------------------------------------------------------------------------------------------

def _is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def _insert(model):
    return (pg_insert if _is_postgres() else sqlite_insert)(model.__table__)


def _upsert_counters(model, keys: list[str], counters: list[str], rows: list[dict]) -> None:
    """Add the counters of `rows` to the table's (inserting the keys not there yet)."""
    if not rows:
        return
    table = model.__table__
    if _is_postgres():
        _upsert_by_copy(table, keys, counters, rows)
        return
    statement = _insert(model)
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={name: table.c[name] + statement.excluded[name] for name in counters})
    for start in range(0, len(rows), 1000):
        db.session.execute(statement, rows[start:start + 1000])


def _upsert_by_copy(table, keys: list[str], counters: list[str], rows: list[dict]) -> None:
    """PostgreSQL: COPY into a temporary table, then one INSERT ... ON CONFLICT for all of them (thousands of
    rows in two statements, where an executemany makes a round trip per row)."""
    columns = list(rows[0])
    staging = f"staging_{table.name}"
    cursor = db.session.connection().connection.driver_connection.cursor()
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {table.name}) ON COMMIT DELETE ROWS")
    with cursor.copy(f"COPY {staging} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])
    additions = ", ".join(f"{name} = {table.name}.{name} + excluded.{name}" for name in counters)
    cursor.execute(f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM {staging} "
                   f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {additions}")
    cursor.execute(f"DELETE FROM {staging}")  # a second upsert in the same transaction starts empty


def _store_events(rows: list[dict]) -> None:
    if _is_postgres():
        connection = db.session.connection().connection.driver_connection
        copy_sql = f"COPY analytics_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c], separators=(",", ":")) if c == "metadata" else row[c]
                                for c in EVENT_COLUMNS])
    else:
        db.session.execute(AnalyticsEvent.__table__.insert(),
                           [{c: uuid.UUID(row[c]) if c in UUID_COLUMNS and row[c] else row[c] for c in EVENT_COLUMNS}
                            for row in rows])


def _drop_counted_purchases(rows: list[dict]) -> list[dict]:
    """A purchase is counted once per order, whoever reports it (the buyer's browser, the paid-order job)."""
    order_ids = {}
    for row in rows:
        order_id = (row["metadata"] or {}).get("order_id") if row["conversion_type"] == "purchase" else None
        if order_id:
            try:
                order_ids[id(row)] = uuid.UUID(str(order_id))
            except ValueError:
                continue
    if not order_ids:
        return rows
    new = set(db.session.execute(
        _insert(CountedOrder).values([{"order_id": o, "counted_at": datetime.now(UTC)}
                                      for o in set(order_ids.values())])
        .on_conflict_do_nothing().returning(CountedOrder.order_id)).scalars())
    kept = []
    for row in rows:
        order_id = order_ids.get(id(row))
        if order_id is None:
            kept.append(row)
        elif order_id in new:
            kept.append(row)
            new.discard(order_id)  # a second report in the same batch is dropped too
    return kept


def _merge_sketches(visitors: dict) -> None:
    if not visitors:
        return
    keys = list(visitors)
    stored = {}
    for (_account, funnel, scope, day) in keys:
        stored.setdefault((funnel, day), set()).add(scope)
    existing = {}
    for (funnel, day), scopes in stored.items():
        for scope, raw in db.session.execute(
                select(UniqueSketch.scope_id, UniqueSketch.registers).where(
                    UniqueSketch.funnel_id == uuid.UUID(funnel), UniqueSketch.day == day,
                    UniqueSketch.scope_id.in_([uuid.UUID(scope) for scope in scopes]))):
            existing[(funnel, str(scope), day)] = raw
    rows = []
    for (account, funnel, scope, day), hashes in visitors.items():
        sketch = sketches.Sketch()
        if (funnel, scope, day) in existing:
            sketch.add_stored(existing[(funnel, scope, day)])
        sketch.add_hashes(hashes)
        rows.append({"account_id": uuid.UUID(account), "funnel_id": uuid.UUID(funnel), "scope_id": uuid.UUID(scope),
                     "day": day, "registers": sketch.to_bytes()})
    statement = _insert(UniqueSketch)
    statement = statement.on_conflict_do_update(index_elements=["funnel_id", "scope_id", "day"],
                                                set_={"registers": statement.excluded.registers})
    db.session.execute(statement, rows)


def _record_exposures(rows: list[dict]) -> None:
    """Visitors who entered a variant page of a running test, and the conversions they made after."""
    variant_ids = {row["variant_id"] for row in rows if row["variant_id"] and row["event_type"] == "step_entry"}
    converting = [row for row in rows if row["event_type"] == "conversion" and row["visitor_id"]]
    if variant_ids:
        tests = {str(variant): test for variant, test in db.session.execute(
            select(SplitVariant.id, SplitVariant.test_id).join(SplitTest, SplitTest.id == SplitVariant.test_id)
            .where(SplitVariant.id.in_([uuid.UUID(v) for v in variant_ids]), SplitTest.status == "running"))}
        exposures = {}
        for row in rows:
            test_id = tests.get(row["variant_id"]) if row["event_type"] == "step_entry" else None
            if test_id and row["visitor_id"] and (test_id, row["visitor_id"]) not in exposures:
                exposures[(test_id, row["visitor_id"])] = {
                    "test_id": test_id, "visitor_id": uuid.UUID(row["visitor_id"]),
                    "variant_id": uuid.UUID(row["variant_id"]), "account_id": uuid.UUID(row["account_id"]),
                    "first_seen_at": row["created_at"], "conversions": 0, "value_cents": 0}
        if exposures:
            db.session.execute(_insert(Exposure).on_conflict_do_nothing(), list(exposures.values()))
    if not converting:
        return
    tested = {str(funnel) for funnel in db.session.execute(select(SplitTest.funnel_id).where(
        SplitTest.funnel_id.in_({uuid.UUID(row["funnel_id"]) for row in converting}),
        SplitTest.status == "running")).scalars()}
    credits = [{"visitor": uuid.UUID(row["visitor_id"]), "funnel": uuid.UUID(row["funnel_id"]),
                "at": row["created_at"], "value": row["value_cents"] or 0}
               for row in converting if row["funnel_id"] in tested]
    if credits:  # one statement, executed for each conversion in a pipeline
        db.session.execute(text(
            "UPDATE analytics_ab_exposures SET conversions = conversions + 1, value_cents = value_cents + :value "
            "WHERE visitor_id = :visitor AND first_seen_at <= :at AND test_id IN "
            "(SELECT id FROM split_tests WHERE funnel_id = :funnel AND status = 'running')").bindparams(
            bindparam("visitor", type_=Uuid), bindparam("funnel", type_=Uuid),
            bindparam("at", type_=UTCDateTime)), credits)


def _zones(account_ids) -> dict:
    ids = {uuid.UUID(account_id) for account_id in set(account_ids)}
    rows = db.session.execute(select(Account.id, Account.timezone).where(Account.id.in_(ids)))
    zones = {}
    for account_id, name in rows:
        try:
            zones[str(account_id)] = ZoneInfo(name or "UTC")
        except (KeyError, ValueError):
            zones[str(account_id)] = ZoneInfo("UTC")
    return zones


def ingest_events(rows: list[dict], commit: bool = True) -> int:
    """Store events and add them to every rollup, in one transaction. Returns how many were stored."""
    if not rows:
        return 0
    prepared = sorted((_prepare(row) for row in rows), key=lambda row: row["created_at"])
    if _is_postgres():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    prepared = _drop_counted_purchases(prepared)
    if not prepared:
        if commit:
            db.session.commit()
        return 0
    _store_events(prepared)
    batch = Batch(_zones(row["account_id"] for row in prepared))
    for row in prepared:
        batch.add(row)
    as_id = uuid.UUID
    _upsert_counters(StepHour, ["funnel_id", "step_id", "variant_id", "hour"], STEP_COUNTERS,
                     [{"funnel_id": as_id(f), "step_id": as_id(s), "variant_id": as_id(v), "hour": h,
                       "account_id": as_id(batch.accounts[key]), **counters}
                      for key, counters in batch.hours.items() for (f, s, v, h) in [key]])
    _upsert_counters(DimensionDay, ["funnel_id", "step_id", "dimension", "day", "value"], DIMENSION_COUNTERS,
                     [{"funnel_id": as_id(f), "step_id": as_id(s), "day": d, "dimension": dim, "value": val,
                       "account_id": as_id(batch.accounts[key]), **counters}
                      for key, counters in batch.dimensions.items() for (f, s, d, dim, val) in [key]])
    _merge_sketches(batch.visitors)
    _record_exposures(prepared)
    if commit:
        db.session.commit()
    return len(prepared)


# ---- draining the buffer ------------------------------------------------------------------------------

def expand(item: dict) -> list[dict]:
    """The rows of one buffered request: its events with what the request itself told (IP, user agent)."""
    rows = []
    for event in item.get("e", []):
        row = dict(event)
        row.setdefault("user_agent", item.get("ua"))
        row.setdefault("ip_address", item.get("ip"))
        rows.append(row)
    return rows


def _redis():
    from app.core.jobs import redis_connection

    return redis_connection() if current_app.config.get("REDIS_URL") else None


def drain_inbox(limit: int = 200) -> int:
    """Events stored in the database while Redis was down."""
    total = 0
    while True:
        items = db.session.execute(select(AnalyticsInbox).where(AnalyticsInbox.drained_at.is_(None))
                                   .order_by(AnalyticsInbox.id).limit(limit)
                                   .with_for_update(skip_locked=True)).scalars().all()
        if not items:
            db.session.execute(delete(AnalyticsInbox).where(
                AnalyticsInbox.drained_at < datetime.now(UTC) - INBOX_MEMORY))
            db.session.commit()
            return total
        rows = [row for item in items for row in expand(item.payload)]
        for item in items:
            item.drained_at = datetime.now(UTC)
        total += ingest_events(rows, commit=False)  # one transaction: the inbox rows marked with the events
        db.session.commit()


def _not_in_inbox(items: list[dict]) -> list[dict]:
    """The Redis items that did not also go to the inbox (a push whose reply was lost, see AnalyticsInbox)."""
    ids = [item["i"] for item in items if item.get("i")]
    if not ids:
        return items
    seen = set(db.session.execute(select(AnalyticsInbox.item_id).where(AnalyticsInbox.item_id.in_(ids))).scalars())
    return [item for item in items if item.get("i") not in seen]


def drain(max_seconds: float | None = None) -> int:
    """Store everything buffered now (the inbox, then Redis). Returns the number of events stored."""
    total = drain_inbox()
    redis = None
    try:
        redis = _redis()
        if redis is None:
            return total
        if not redis.set(DRAIN_LOCK_KEY, "1", nx=True, ex=120):
            return total  # another drainer is at it
    except Exception:
        log.warning("analytics: Redis unreachable, only the inbox was drained")
        return total
    started = time.monotonic()
    try:
        while max_seconds is None or time.monotonic() - started < max_seconds:
            raw_items = redis.lrange(BUFFER_KEY, 0, BATCH_ITEMS - 1)
            if not raw_items:
                break
            items = _not_in_inbox([json.loads(raw) for raw in raw_items])
            try:
                total += ingest_events([row for item in items for row in expand(item)])
            except Exception:
                db.session.rollback()
                raise
            redis.ltrim(BUFFER_KEY, len(raw_items), -1)
            redis.expire(DRAIN_LOCK_KEY, 120)
    finally:
        redis.delete(DRAIN_LOCK_KEY)
    return total


def run_forever(idle_sleep: float = 0.2) -> None:
    """`flask analytics ingest`: drain as events come, forever."""
    log.info("analytics ingest worker started")
    while True:
        try:
            stored = drain(max_seconds=30)
        except Exception:
            log.exception("analytics ingest failed; retrying")
            db.session.rollback()
            stored = 0
            time.sleep(2)
        if not stored:
            time.sleep(idle_sleep)


def day_of(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()
