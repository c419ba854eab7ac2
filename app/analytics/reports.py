"""The funnel reports of SPEC-FUN-004 (REQ-05 overview, REQ-06 step), and what every report shares: the period
asked for, the short cache, and the readers of the rollups.

Reports read the rollups the ingest worker keeps (app/analytics/ingest.py), never a range of raw events:
- `analytics_step_hours` (StepHour): counters per step and UTC hour, summed over the range, or grouped into
  hour/day/week buckets of the workspace's zone (by PostgreSQL; in Python on SQLite, for `make run`);
- `analytics_dimension_days` (DimensionDay): per step, local day and value of a dimension (source, device,
  browser, entry_from, exit_to, exit_reason, time_on_step, conversion_type);
- `analytics_unique_sketches` through `sketches.count_unique`: unique visitors of the funnel or a step.
Only the realtime report, the converting visitors and the visitor journey read raw events, each through an
index and a small window (app/analytics/reports_live.py, reports_conversions.py).

Every report returns plain JSON data (ids and times as strings) with the spec's field names: the API answers
it as it is, the pages draw it. Rates are fractions from 0 to 1 (4 decimals), percentages 0 to 100 (2).
"""
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import BigInteger, cast, func, select

from app.analytics.ingest import TIME_BUCKETS
from app.analytics.models import NO_ID, DimensionDay, StepHour
from app.analytics.sketches import count_unique
from app.core import dates
from app.core.errors import NotFoundError, ServiceError
from app.core.validation import uuid_or_none
from app.extensions import db
from app.funnels.models import Funnel, FunnelStep

log = logging.getLogger(__name__)

MAX_DAYS = 366  # "at most a year": a leap year's 366 days included
DEFAULT_DAYS = 30
PRESETS = (7, 30, 90, 365)  # the date picker's "last N days"
GRANULARITIES = ("hour", "day", "week")
CACHE_SECONDS = 60  # reports over rollups: a minute old at most (no invalidation)
STEP_COUNTERS = ("page_views", "entries", "exits", "forward_exits", "backward_exits", "bounces", "closes", "sessions",
                 "new_visitors", "conversions", "conversion_value_cents", "time_total_seconds", "time_samples")
TOP = 10  # sources, devices, browsers of a step


class PeriodError(ServiceError):
    """A date range or granularity the reports refuse: 400 in the API, a message next to the field in a page."""

    status = 400
    code = "invalid_period"


@dataclass(frozen=True)
class Period:
    """Whole days start..end (both included) in the workspace's zone, and how to bucket them over time."""

    start: date
    end: date
    zone_name: str
    granularity: str = "day"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def since(self) -> datetime:
        return dates.start_of_day(self.start, self.zone_name)

    @property
    def until(self) -> datetime:
        return dates.start_of_day(self.end + timedelta(days=1), self.zone_name)

    def as_json(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    def key(self) -> list:
        return [self.start.isoformat(), self.end.isoformat(), self.zone_name, self.granularity]


# ---- the period asked for -------------------------------------------------------------------------------

def _read_day(raw, field: str, zone_name: str) -> date | None:
    """A day from "2026-03-01" or an ISO 8601 time ("2026-03-01T10:00:00Z": its day in the workspace's zone)."""
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()
    try:
        if len(text) > 10:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            day = moment.astimezone(dates.zone(zone_name)).date() if moment.tzinfo else moment.date()
        else:
            day = date.fromisoformat(text)
    except (ValueError, OverflowError):
        raise PeriodError(f"{field} is not a date: use ISO 8601, like 2026-03-01.", field=field) from None
    if not dates.in_range(day):
        raise PeriodError(f"{field}: use a date {dates.RANGE_TEXT}.", field=field)
    return day


def read_period(account, date_from, date_to, granularity=None, required: bool = True) -> Period:
    """The range asked for, in the workspace's zone. Refused (PeriodError, naming the field): a missing date
    when `required` (the API; pages default to the last 30 days), a date that is not one, an end before the
    start, more than a year (366 days), a granularity other than hour, day or week."""
    zone_name = dates.zone(account.timezone).key
    granularity = "day" if granularity in (None, "") else str(granularity).strip()
    if granularity not in GRANULARITIES:
        raise PeriodError("granularity must be hour, day or week.", field="granularity")
    start = _read_day(date_from, "date_from", zone_name)
    end = _read_day(date_to, "date_to", zone_name)
    if required and start is None:
        raise PeriodError("date_from is required (ISO 8601, like 2026-03-01).", field="date_from")
    if required and end is None:
        raise PeriodError("date_to is required (ISO 8601, like 2026-03-31).", field="date_to")
    if end is None:
        end = dates.today(zone_name) if start is None else min(start + timedelta(days=DEFAULT_DAYS - 1),
                                                               max(start, dates.today(zone_name)))
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise PeriodError("date_to is before date_from: the range is reversed.", field="date_to")
    if (end - start).days + 1 > MAX_DAYS:
        raise PeriodError(f"The range is longer than a year: at most {MAX_DAYS} days.", field="date_from")
    return Period(start, end, zone_name, granularity)


def last_days(account, days: int, granularity: str = "day") -> Period:
    """The last `days` days, today (in the workspace's zone) included."""
    zone_name = dates.zone(account.timezone).key
    end = dates.today(zone_name)
    return Period(end - timedelta(days=days - 1), end, zone_name, granularity)


# ---- what a report is about -------------------------------------------------------------------------------

def funnel_of(account, funnel_id) -> Funnel:
    """One of the workspace's funnels (not deleted); NotFoundError (404) for anything else."""
    found = uuid_or_none(funnel_id) if not isinstance(funnel_id, uuid.UUID) else funnel_id
    funnel = db.session.execute(select(Funnel).where(
        Funnel.id == found, Funnel.account_id == account.id, Funnel.deleted_at.is_(None))).scalar_one_or_none()
    if found is None or funnel is None:
        raise NotFoundError("No such funnel in this workspace.")
    return funnel


def step_of(funnel: Funnel, step_id) -> FunnelStep:
    found = uuid_or_none(step_id) if not isinstance(step_id, uuid.UUID) else step_id
    step = next((step for step in funnel.steps if step.id == found), None)
    if step is None:
        raise NotFoundError("No such step in this funnel.")
    return step


# ---- the short cache ------------------------------------------------------------------------------------

def _redis():
    if not current_app.config.get("REDIS_URL"):
        return None
    from app.core.jobs import redis_connection

    return redis_connection()


def cached(kind: str, account, funnel_id, params: list, build, seconds: int = CACHE_SECONDS):
    """`build()`'s result, kept `seconds` in Redis under a key of the report, account, funnel and parameters;
    no cache without Redis, and a Redis that fails is only logged (the report is computed)."""
    redis = _redis()
    if redis is None:
        return build()
    digest = hashlib.sha1(json.dumps(params, default=str).encode()).hexdigest()[:20]
    key = f"analytics:report:{kind}:{account.id}:{funnel_id}:{digest}"
    try:
        stored = redis.get(key)
    except Exception:  # the cache is optional
        log.warning("analytics: the report cache is unreachable")
        return build()
    if stored is not None:
        return json.loads(stored)
    result = build()
    try:
        redis.set(key, json.dumps(result), ex=seconds)
    except Exception:
        log.warning("analytics: the report cache is unreachable")
    return result


# ---- numbers ----------------------------------------------------------------------------------------------

def rate(part, whole) -> float:
    """A share from 0 to 1 (0 when there is no whole)."""
    return round(part / whole, 4) if whole else 0.0


def percentage(part, whole) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def per(total, count) -> int:
    """A whole-number average (cents, seconds); 0 when there is nothing to divide by."""
    return round(total / count) if count else 0


def id_text(value) -> str | None:
    return None if value is None or value == NO_ID else str(value)


# ---- buckets over time ------------------------------------------------------------------------------------

def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _truncate(local: datetime, granularity: str) -> datetime:
    """The start of the bucket of a local (naive) time."""
    if granularity == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date()
    if granularity == "week":
        day -= timedelta(days=day.weekday())  # weeks start on Monday, as PostgreSQL's date_trunc('week')
    return datetime.combine(day, time.min)


def timeline(period: Period) -> list[tuple[datetime, str]]:
    """Every bucket of the period, in order: (its local start, naive: the key of sums_by_bucket; that start as
    ISO 8601 with the zone's offset, the reports' timestamp)."""
    zone = dates.zone(period.zone_name)
    found: list[tuple[datetime, str]] = []
    if period.granularity == "hour":
        moment = period.since
        while moment < period.until:
            local = moment.astimezone(zone)
            key = local.replace(minute=0, second=0, microsecond=0, tzinfo=None)
            if not found or found[-1][0] != key:
                found.append((key, local.replace(minute=0, second=0, microsecond=0).isoformat()))
            moment += timedelta(hours=1)
        return found
    moment = _truncate(datetime.combine(period.start, time.min), period.granularity)
    step = timedelta(days=7 if period.granularity == "week" else 1)
    while moment.date() <= period.end:
        found.append((moment, moment.replace(tzinfo=zone).isoformat()))
        moment += step
    return found


def _total(value):
    """SUM as a bigint (PostgreSQL sums bigints as numeric, which comes back as slow Decimals), 0 when empty."""
    return cast(func.coalesce(func.sum(value), 0), BigInteger)


def sums_by_bucket(period: Period, moment, values: list, *conditions) -> dict[datetime, list[int]]:
    """{local bucket start: [sum of each value]} of the rows matching `conditions`, `moment` being their UTC
    time column: grouped by PostgreSQL (timezone() then date_trunc()); on SQLite, in Python."""
    if _is_postgres():
        bucket = func.date_trunc(period.granularity, func.timezone(period.zone_name, moment))
        rows = db.session.execute(select(bucket, *(_total(value) for value in values))
                                  .where(*conditions).group_by(bucket))
        return {found: [int(total) for total in totals] for found, *totals in rows}
    zone, grouped = dates.zone(period.zone_name), {}
    for found, *row in db.session.execute(select(moment, *values).where(*conditions)):
        key = _truncate(found.astimezone(zone).replace(tzinfo=None), period.granularity)
        totals = grouped.setdefault(key, [0] * len(values))
        for index, value in enumerate(row):
            totals[index] += int(value or 0)
    return grouped


# ---- rollup readers ---------------------------------------------------------------------------------------

def _in_hours(funnel, period: Period) -> list:
    return [StepHour.account_id == funnel.account_id, StepHour.funnel_id == funnel.id,
            StepHour.hour >= period.since, StepHour.hour < period.until]


def step_sums(funnel, period: Period) -> dict[uuid.UUID, dict]:
    """{step id (NO_ID: events without a step): {counter: total}} over the period, variants added up."""
    rows = db.session.execute(select(StepHour.step_id, *(_total(getattr(StepHour, name)) for name in STEP_COUNTERS))
                              .where(*_in_hours(funnel, period)).group_by(StepHour.step_id))
    return {step_id: {name: int(value or 0) for name, value in zip(STEP_COUNTERS, values)}
            for step_id, *values in rows}


def empty_counters() -> dict:
    return dict.fromkeys(STEP_COUNTERS, 0)


def total_counters(sums: dict) -> dict:
    totals = empty_counters()
    for counters in sums.values():
        for name in STEP_COUNTERS:
            totals[name] += counters[name]
    return totals


def step_counters_over_time(funnel, period: Period, step_id=None, names=STEP_COUNTERS) -> dict[datetime, dict]:
    """{local bucket start: {counter: total}} of one step (or the whole funnel)."""
    conditions = _in_hours(funnel, period)
    if step_id is not None:
        conditions.append(StepHour.step_id == step_id)
    grouped = sums_by_bucket(period, StepHour.hour, [getattr(StepHour, name) for name in names], *conditions)
    return {key: dict(zip(names, totals)) for key, totals in grouped.items()}


def dimension_sums(funnel, period: Period, dimension: str, step_id=None) -> list[dict]:
    """[{value, entries, drop_offs, conversions, value_cents}] of a dimension over the period's days, for one
    step (or every step), biggest first."""
    conditions = [DimensionDay.account_id == funnel.account_id, DimensionDay.funnel_id == funnel.id,
                  DimensionDay.day >= period.start, DimensionDay.day <= period.end,
                  DimensionDay.dimension == dimension]
    if step_id is not None:
        conditions.append(DimensionDay.step_id == step_id)
    entries = func.sum(DimensionDay.entries)
    rows = db.session.execute(
        select(DimensionDay.value, entries, func.sum(DimensionDay.drop_offs), func.sum(DimensionDay.conversions),
               func.sum(DimensionDay.value_cents))
        .where(*conditions).group_by(DimensionDay.value).order_by(entries.desc(), DimensionDay.value))
    return [{"value": value, "entries": int(e or 0), "drop_offs": int(d or 0), "conversions": int(c or 0),
             "value_cents": int(v or 0)} for value, e, d, c, v in rows]


def dimension_by_step(funnel, period: Period, dimension: str) -> dict[uuid.UUID, list[dict]]:
    """dimension_sums for every step at once: {step id: [{value, entries, drop_offs, ...}]}."""
    entries = func.sum(DimensionDay.entries)
    rows = db.session.execute(
        select(DimensionDay.step_id, DimensionDay.value, entries, func.sum(DimensionDay.drop_offs),
               func.sum(DimensionDay.conversions), func.sum(DimensionDay.value_cents))
        .where(DimensionDay.account_id == funnel.account_id, DimensionDay.funnel_id == funnel.id,
               DimensionDay.day >= period.start, DimensionDay.day <= period.end,
               DimensionDay.dimension == dimension)
        .group_by(DimensionDay.step_id, DimensionDay.value).order_by(entries.desc(), DimensionDay.value))
    found: dict = {}
    for step_id, value, e, d, c, v in rows:
        found.setdefault(step_id, []).append({"value": value, "entries": int(e or 0), "drop_offs": int(d or 0),
                                              "conversions": int(c or 0), "value_cents": int(v or 0)})
    return found


def uniques(funnel, period: Period, scope_ids) -> dict[uuid.UUID, int]:
    """Unique visitors of each scope (NO_ID: the funnel; a step id) over the period's days."""
    return count_unique(funnel.id, list(scope_ids), period.start, period.end)


def median_from_histogram(rows: list[dict]) -> int:
    """The median time on step (seconds) from the time_on_step histogram (value = a bucket's lower bound,
    entries = exits in it): the grouped median, interpolated within the bucket that holds the middle exit."""
    histogram = sorted((int(row["value"]), row["entries"]) for row in rows if row["value"].isdigit())
    total = sum(count for _, count in histogram)
    if not total:
        return 0
    before, middle = 0, total / 2
    for lower, count in histogram:
        if before + count >= middle and count:
            later = [bound for bound in TIME_BUCKETS if bound > lower]
            width = (later[0] - lower) if later else 0
            return round(lower + (middle - before) / count * width)
        before += count
    return histogram[-1][0]


def step_figures(counters: dict, visitors: int) -> dict:
    """The figures of a step that every report shows the same way."""
    drop_offs = counters["bounces"] + counters["closes"]
    return {"visitors": visitors, "entries": counters["entries"], "exits": counters["exits"],
            "drop_offs": drop_offs, "drop_off_rate": rate(drop_offs, counters["entries"]),
            "avg_time_seconds": per(counters["time_total_seconds"], counters["time_samples"]),
            "conversion_rate": rate(counters["forward_exits"], counters["entries"])}


# ---- REQ-05: overview ---------------------------------------------------------------------------------------

def overview(account, funnel, period: Period) -> dict:
    return cached("overview", account, funnel.id, period.key(), lambda: _overview(account, funnel, period))


def _overview(account, funnel, period: Period) -> dict:
    from app.analytics.reports_revenue import net_revenue

    sums = step_sums(funnel, period)
    totals = total_counters(sums)
    unique = uniques(funnel, period, [NO_ID, *(step.id for step in funnel.steps)])
    visitors = unique.get(NO_ID, 0)
    revenue = net_revenue(account, funnel, period)
    return {
        "funnel_id": str(funnel.id), "funnel_name": funnel.name, "period": period.as_json(),
        "visitors": {"total": totals["sessions"], "unique": visitors, "new": totals["new_visitors"],
                     "returning": max(visitors - totals["new_visitors"], 0)},
        "conversions": {"total": totals["conversions"], "rate": rate(totals["conversions"], visitors),
                        "value_cents": totals["conversion_value_cents"]},
        "revenue": {"total_cents": revenue, "per_visitor_cents": per(revenue, visitors),
                    "per_conversion_cents": per(revenue, totals["conversions"])},
        "steps": [{"step_id": str(step.id), "step_name": step.name, "step_type": step.step_type,
                   **step_figures(sums.get(step.id, empty_counters()), unique.get(step.id, 0))}
                  for step in funnel.steps],
    }


# ---- REQ-06: one step -------------------------------------------------------------------------------------

def step_report(account, funnel, step, period: Period) -> dict:
    return cached("step", account, funnel.id, [str(step.id), *period.key()],
                  lambda: _step_report(funnel, step, period))


def _shares(rows: list[dict], name: str, limit: int | None = TOP) -> list[dict]:
    total = sum(row["entries"] for row in rows)
    chosen = [row for row in rows if row["entries"]][:limit]
    return [{name: row["value"], "visitors": row["entries"], "percentage": percentage(row["entries"], total)}
            for row in chosen]


def _paths(rows: list[dict], name: str) -> list[dict]:
    return [{name: row["value"] or None, "count": row["entries"]} for row in rows if row["entries"]]


def _step_report(funnel, step, period: Period) -> dict:
    counters = step_sums(funnel, period).get(step.id, empty_counters())
    figures = step_figures(counters, 0)
    names = ("page_views", "entries", "exits", "bounces", "closes", "time_total_seconds", "time_samples")
    over_time = step_counters_over_time(funnel, period, step.id, names)
    series, empty = [], dict.fromkeys(names, 0)
    for local, timestamp in timeline(period):
        bucket = over_time.get(local, empty)
        drop_offs = bucket["bounces"] + bucket["closes"]
        series.append({"timestamp": timestamp, "visitors": bucket["page_views"],
                       "entries": bucket["entries"], "exits": bucket["exits"],
                       "drop_off_rate": rate(drop_offs, bucket["entries"]),
                       "avg_time_seconds": per(bucket["time_total_seconds"], bucket["time_samples"])})
    return {
        "step_id": str(step.id), "step_name": step.name, "period": period.as_json(),
        "summary": {"visitors": counters["page_views"],
                    "unique_visitors": uniques(funnel, period, [step.id]).get(step.id, 0),
                    "entries": figures["entries"], "exits": figures["exits"], "drop_offs": figures["drop_offs"],
                    "drop_off_rate": figures["drop_off_rate"], "avg_time_seconds": figures["avg_time_seconds"],
                    "median_time_seconds": median_from_histogram(
                        dimension_sums(funnel, period, "time_on_step", step.id))},
        "over_time": series,
        "traffic_sources": _shares(dimension_sums(funnel, period, "source", step.id), "source"),
        "devices": _shares(dimension_sums(funnel, period, "device", step.id), "device_type"),
        "browsers": _shares(dimension_sums(funnel, period, "browser", step.id), "browser"),
        "entry_paths": _paths(dimension_sums(funnel, period, "entry_from", step.id), "previous_step_id"),
        "exit_paths": _paths(dimension_sums(funnel, period, "exit_to", step.id), "next_step_id"),
    }


def now() -> datetime:
    return datetime.now(UTC)
