"""The ingest worker: raw events stored, every rollup right, purchases once, A/B exposures, partitions."""
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, text

from app.analytics import ingest, partitions, sketches
from app.analytics.models import NO_ID, AnalyticsEvent, DimensionDay, StepHour
from app.extensions import db
from app.funnels import services as funnels

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36")


def make_funnel(account, user, name="Analytics funnel"):
    funnel = funnels.create_funnel(account, {"name": name, "slug": f"af-{uuid.uuid4().hex[:8]}"}, user)
    funnels.add_step(account, funnel, {"name": "Thanks", "step_type": "thank_you"}, user)
    db.session.refresh(funnel)
    return funnel


def visit(funnel, visitor, at, *, source="direct", agent=WINDOWS, convert=False, new=True, value=None):
    """The events of one visitor's session: page view, entry, exit forward or bounce, maybe a conversion."""
    first, second = funnel.steps[0], funnel.steps[1]
    base = {"account_id": funnel.account_id, "funnel_id": funnel.id, "visitor_id": visitor,
            "session_id": f"s-{visitor}", "user_agent": agent, "source": source, "created_at": at}
    rows = [
        {**base, "event_type": "page_view", "step_id": first.id, "page_id": first.page.id, "session_start": True,
         "is_new_visitor": new},
        {**base, "event_type": "step_entry", "step_id": first.id},
    ]
    if convert:
        rows += [
            {**base, "event_type": "conversion", "step_id": first.id, "conversion_type": "form_submit",
             "value_cents": value, "created_at": at + timedelta(seconds=20)},
            {**base, "event_type": "step_exit", "step_id": first.id, "exit_outcome": "forward",
             "next_step_id": second.id, "time_on_step_seconds": 20, "created_at": at + timedelta(seconds=20)},
            {**base, "event_type": "step_entry", "step_id": second.id, "previous_step_id": first.id,
             "created_at": at + timedelta(seconds=21)},
        ]
    else:
        rows.append({**base, "event_type": "step_exit", "step_id": first.id, "exit_outcome": "bounce",
                     "time_on_step_seconds": 4, "exit_reason": "no_interaction",
                     "created_at": at + timedelta(seconds=4)})
    return rows


def test_a_batch_fills_the_raw_table_and_every_rollup(owner):
    user, account = owner
    funnel = make_funnel(account, user)
    at = datetime(2026, 12, 2, 10, 15, tzinfo=UTC)
    visitors = [uuid.uuid4() for _ in range(5)]
    rows = []
    rows += visit(funnel, visitors[0], at, source="google", agent=IPHONE, convert=True)
    rows += visit(funnel, visitors[1], at, source="google")
    rows += visit(funnel, visitors[2], at, source="facebook", convert=True, value=0)
    rows += visit(funnel, visitors[3], at + timedelta(hours=1))
    rows += visit(funnel, visitors[0], at + timedelta(hours=2), new=False)  # comes back

    assert ingest.ingest_events(rows) == len(rows)

    assert db.session.scalar(select(func.count()).select_from(AnalyticsEvent)) == len(rows)
    first = funnel.steps[0].id
    hours = db.session.execute(select(StepHour).where(StepHour.step_id == first)).scalars().all()
    assert {h.hour for h in hours} == {at.replace(hour=hour, minute=0) for hour in (10, 11, 12)}
    assert sum(h.page_views for h in hours) == 5 and sum(h.sessions for h in hours) == 5
    assert sum(h.new_visitors for h in hours) == 4
    assert sum(h.entries for h in hours) == 5
    assert sum(h.forward_exits for h in hours) == 2 and sum(h.bounces for h in hours) == 3
    assert sum(h.conversions for h in hours) == 2
    assert sum(h.time_total_seconds for h in hours) == 20 + 20 + 4 * 3

    def dimension(name, step=first):
        rows = db.session.execute(select(DimensionDay.value, DimensionDay.entries, DimensionDay.drop_offs,
                                         DimensionDay.conversions)
                                  .where(DimensionDay.step_id == step, DimensionDay.dimension == name)).all()
        return {value: (entries, drops, conversions) for value, entries, drops, conversions in rows}

    assert dimension("source") == {"google": (2, 1, 1), "facebook": (1, 0, 1), "direct": (2, 2, 0)}
    assert dimension("device") == {"mobile": (1, 0, 1), "desktop": (4, 3, 1)}
    assert dimension("exit_reason") == {"no_interaction": (3, 0, 0)}
    assert dimension("exit_to") == {str(funnel.steps[1].id): (2, 0, 0), "": (3, 0, 0)}
    assert dimension("entry_from", funnel.steps[1].id) == {str(first): (2, 0, 0)}
    assert dimension("conversion_type") == {"form_submit": (0, 0, 2)}
    assert dimension("time_on_step") == {"20": (2, 0, 0), "3": (3, 0, 0)}

    day = date(2026, 12, 2)
    uniques = sketches.count_unique(funnel.id, [NO_ID, first, funnel.steps[1].id], day, day)
    assert uniques == {NO_ID: 4, first: 4, funnel.steps[1].id: 2}


def test_days_are_the_workspaces_own(owner):
    user, account = owner
    account.timezone = "America/New_York"
    db.session.commit()
    funnel = make_funnel(account, user)
    # 02:00 UTC on 3 December is still 2 December in New York.
    ingest.ingest_events(visit(funnel, uuid.uuid4(), datetime(2026, 12, 3, 2, 0, tzinfo=UTC)))
    days = set(db.session.execute(select(DimensionDay.day)).scalars())
    assert days == {date(2026, 12, 2)}


def test_a_purchase_reported_twice_counts_once(owner):
    user, account = owner
    funnel = make_funnel(account, user)
    order_id = str(uuid.uuid4())
    purchase = {"account_id": account.id, "funnel_id": funnel.id, "visitor_id": uuid.uuid4(), "session_id": "s",
                "event_type": "conversion", "conversion_type": "purchase", "value_cents": 2400,
                "metadata": {"order_id": order_id}}
    assert ingest.ingest_events([purchase, dict(purchase)]) == 1
    assert ingest.ingest_events([dict(purchase)]) == 0
    totals = db.session.execute(select(func.sum(StepHour.conversions), func.sum(StepHour.conversion_value_cents))).one()
    assert tuple(totals) == (1, 2400)


def test_partitions_are_made_ahead_and_dropped_after_13_months(owner):
    now = datetime(2026, 12, 3, tzinfo=UTC)
    partitions.ensure(date(2025, 6, 1), date(2025, 6, 1))  # an old month, as if left from long ago
    result = partitions.maintain(now)
    names = partitions.existing()
    assert "analytics_events_2025_06" in result["dropped"] and "analytics_events_2025_06" not in names
    assert "analytics_events_2025_11" not in names  # 13 months kept: December 2025 to December 2026
    assert {"analytics_events_2025_12", "analytics_events_2026_12", "analytics_events_2027_02"} <= set(names)
    assert db.session.execute(text("SELECT to_regclass('analytics_events_2026_12')")).scalar() is not None
