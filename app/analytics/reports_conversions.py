"""REQ-07: the conversions of a funnel.

The summary, by step and over time read `analytics_step_hours`; by type reads the `conversion_type` dimension of
`analytics_dimension_days` (the ingest worker counts it on each conversion). Rates are per unique visitor of
the funnel (the sketches; over time: per unique visitor of each day or week, per visit for hours, which the
sketches do not keep). The converting visitors are the one part read from raw events: the conversions of the
range (index on funnel and time), grouped by visitor, a page at a time; anonymized visitors are left out.
"""
from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from app.analytics.models import CONVERSION_TYPES, NO_ID, AnalyticsEvent, UniqueSketch
from app.analytics.reports import (
    Period,
    cached,
    dimension_sums,
    empty_counters,
    id_text,
    per,
    rate,
    step_counters_over_time,
    step_sums,
    timeline,
    total_counters,
    uniques,
)
from app.analytics.sketches import Sketch
from app.extensions import db

NO_STEP_NAME = "Outside the steps (recorded by the server)"


def conversions(account, funnel, period: Period, page: int = 1, page_size: int = 20) -> dict:
    return cached("conversions", account, funnel.id, [*period.key(), page, page_size],
                  lambda: _conversions(funnel, period, page, page_size))


def unique_by_bucket(funnel, period: Period, scope_id=NO_ID) -> dict[datetime, int] | None:
    """{local start of a day or week: unique visitors} of a scope, merging its daily sketches per bucket;
    None for hours (the sketches are daily)."""
    if period.granularity == "hour":
        return None
    merged: dict[datetime, Sketch] = {}
    rows = db.session.execute(select(UniqueSketch.day, UniqueSketch.registers).where(
        UniqueSketch.funnel_id == funnel.id, UniqueSketch.scope_id == scope_id,
        UniqueSketch.day >= period.start, UniqueSketch.day <= period.end))
    for day, raw in rows:
        start = day - timedelta(days=day.weekday()) if period.granularity == "week" else day
        merged.setdefault(datetime.combine(start, time.min), Sketch()).add_stored(raw)
    return {key: sketch.count() for key, sketch in merged.items()}


def _conversions(funnel, period: Period, page: int, page_size: int) -> dict:
    sums = step_sums(funnel, period)
    totals = total_counters(sums)
    unique = uniques(funnel, period, [NO_ID, *(step.id for step in funnel.steps)])
    visitors = unique.get(NO_ID, 0)

    types = {row["value"]: row for row in dimension_sums(funnel, period, "conversion_type")}
    by_type = [{"conversion_type": name, "count": types.get(name, {}).get("conversions", 0),
                "rate": rate(types.get(name, {}).get("conversions", 0), visitors),
                "value_cents": types.get(name, {}).get("value_cents", 0)}
               for name in (*CONVERSION_TYPES, *sorted(set(types) - set(CONVERSION_TYPES)))]

    by_step = [{"step_id": str(step.id), "step_name": step.name,
                "conversions": sums.get(step.id, empty_counters())["conversions"],
                "conversion_rate": rate(sums.get(step.id, empty_counters())["conversions"], unique.get(step.id, 0))}
               for step in funnel.steps]
    known = {step.id for step in funnel.steps}
    outside = sum(counters["conversions"] for step_id, counters in sums.items() if step_id not in known)
    if outside:  # server-side purchases have no step (and a deleted step's conversions stay counted)
        by_step.append({"step_id": None, "step_name": NO_STEP_NAME, "conversions": outside,
                        "conversion_rate": rate(outside, visitors)})

    grouped = step_counters_over_time(funnel, period, None, ("conversions", "conversion_value_cents", "sessions"))
    per_bucket = unique_by_bucket(funnel, period)
    over_time = []
    for local, timestamp in timeline(period):
        bucket = grouped.get(local, {"conversions": 0, "conversion_value_cents": 0, "sessions": 0})
        base = bucket["sessions"] if per_bucket is None else per_bucket.get(local, 0)
        over_time.append({"timestamp": timestamp, "conversions": bucket["conversions"],
                          "rate": rate(bucket["conversions"], base), "value_cents": bucket["conversion_value_cents"]})

    visitors_page, total = converting_visitors(funnel, period, page, page_size)
    return {
        "period": period.as_json(),
        "summary": {"total_conversions": totals["conversions"],
                    "conversion_rate": rate(totals["conversions"], visitors),
                    "total_value_cents": totals["conversion_value_cents"],
                    "avg_value_cents": per(totals["conversion_value_cents"], totals["conversions"])},
        "by_type": by_type,
        "by_step": by_step,
        "over_time": over_time,
        "converting_visitors": visitors_page,
        "pagination": {"page": page, "page_size": page_size, "total": total},
    }


def converting_visitors(funnel, period: Period, page: int, page_size: int) -> tuple[list[dict], int]:
    """One page of the visitors who converted in the range (latest conversion first) and how many there are."""
    conditions = [AnalyticsEvent.account_id == funnel.account_id, AnalyticsEvent.funnel_id == funnel.id,
                  AnalyticsEvent.created_at >= period.since, AnalyticsEvent.created_at < period.until,
                  AnalyticsEvent.event_type == "conversion", AnalyticsEvent.visitor_id.is_not(None)]
    last = func.max(AnalyticsEvent.created_at)
    # One pass: the page of visitors and, through a window over the groups, how many there are in all.
    rows = db.session.execute(
        select(AnalyticsEvent.visitor_id, func.count(), func.coalesce(func.sum(AnalyticsEvent.value_cents), 0),
               func.min(AnalyticsEvent.created_at), last, func.count().over())
        .where(*conditions).group_by(AnalyticsEvent.visitor_id)
        .order_by(last.desc(), AnalyticsEvent.visitor_id).limit(page_size).offset((page - 1) * page_size)).all()
    if rows:
        total = rows[0][-1]
    elif page == 1:
        return [], 0
    else:  # a page past the end: count them alone
        total = db.session.execute(select(func.count(func.distinct(AnalyticsEvent.visitor_id))).where(*conditions)
                                   ).scalar_one()
    sessions = {}  # the session of each visitor's latest conversion (through the index on visitor and time)
    for visitor_id, session_id in db.session.execute(
            select(AnalyticsEvent.visitor_id, AnalyticsEvent.session_id)
            .where(*conditions, AnalyticsEvent.visitor_id.in_([row[0] for row in rows]))
            .order_by(AnalyticsEvent.created_at)) if rows else ():
        sessions[visitor_id] = session_id
    return [{"visitor_id": id_text(visitor_id), "session_id": sessions.get(visitor_id, ""), "conversions": int(count),
             "total_value_cents": int(value), "first_conversion_at": _utc(first), "last_conversion_at": _utc(latest)}
            for visitor_id, count, value, first, latest, _ in rows], int(total)


def _utc(moment) -> str:
    return moment.isoformat()
