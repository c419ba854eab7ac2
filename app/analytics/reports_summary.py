"""What the analytics pages show beyond the spec's reports: the funnels of the workspace with their figures of the
last 30 days (the Analytics section's list), a funnel's visits and conversions over time (the overview's chart)
and whether a funnel was ever tracked (the pages' empty state). From the rollups, like the reports."""
from sqlalchemy import exists, func, select

from app.analytics.models import NO_ID, StepHour
from app.analytics.reports import Period, cached, rate, step_counters_over_time, timeline
from app.analytics.sketches import count_unique
from app.extensions import db
from app.orders.models import PAID_STATUSES, Order


def has_traffic(funnel) -> bool:
    """Any tracked event of the funnel, ever (the rollups keep the counts of every month)."""
    return db.session.execute(select(exists().where(StepHour.account_id == funnel.account_id,
                                                    StepHour.funnel_id == funnel.id))).scalar()


def traffic_over_time(account, funnel, period: Period) -> list[dict]:
    """[{timestamp, visits, conversions, value_cents}] per bucket of the period."""
    def build():
        grouped = step_counters_over_time(funnel, period, None, ("sessions", "conversions", "conversion_value_cents"))
        empty = {"sessions": 0, "conversions": 0, "conversion_value_cents": 0}
        rows = []
        for local, timestamp in timeline(period):
            bucket = grouped.get(local, empty)
            rows.append({"timestamp": timestamp, "visits": bucket["sessions"], "conversions": bucket["conversions"],
                         "value_cents": bucket["conversion_value_cents"]})
        return rows

    return cached("traffic", account, funnel.id, period.key(), build)


def funnel_figures(account, funnels: list, period: Period) -> dict:
    """{funnel id: {visits, visitors, conversions, conversion_rate, revenue_cents}} of the period for a page of
    funnels: one grouped statement for the rollups, one for the orders, a sketch merge per funnel."""
    ids = [funnel.id for funnel in funnels]
    if not ids:
        return {}
    counters = {funnel_id: (int(visits or 0), int(conversions or 0)) for funnel_id, visits, conversions in
                db.session.execute(
                    select(StepHour.funnel_id, func.sum(StepHour.sessions), func.sum(StepHour.conversions))
                    .where(StepHour.account_id == account.id, StepHour.funnel_id.in_(ids),
                           StepHour.hour >= period.since, StepHour.hour < period.until)
                    .group_by(StepHour.funnel_id))}
    currency = (account.currency or "USD").upper()
    revenue = dict(db.session.execute(
        select(Order.funnel_id, func.sum(Order.total_cents - Order.refunded_cents))
        .where(Order.account_id == account.id, Order.funnel_id.in_(ids), Order.status.in_(PAID_STATUSES),
               Order.created_at >= period.since, Order.created_at < period.until,
               func.upper(Order.currency) == currency)
        .group_by(Order.funnel_id)).all())
    figures = {}
    for funnel_id in ids:
        visits, conversions = counters.get(funnel_id, (0, 0))
        visitors = count_unique(funnel_id, [NO_ID], period.start, period.end)[NO_ID] if visits or conversions else 0
        figures[funnel_id] = {"visits": visits, "visitors": visitors, "conversions": conversions,
                              "conversion_rate": rate(conversions, visitors),
                              "revenue_cents": int(revenue.get(funnel_id) or 0)}
    return figures
