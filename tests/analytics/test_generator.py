"""Generated traffic (app/analytics/generator.py, `flask analytics generate`): exactly the events asked for,
written through the ingest (the rollups agree with the raw events), drop-off from step to step, devices,
browsers and sources spread like real traffic, conversions where they belong, split-test variants as the
site assigns them, a daily rhythm, and the same traffic for the same seed."""
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.analytics import generator
from app.analytics.models import AnalyticsEvent, Exposure, StepHour
from app.extensions import db
from app.funnels import publishing, splittests
from app.site import serving
from tests.funnels.test_templates import make_funnel_from
from tests.site.conftest import make_funnel

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)


@pytest.fixture
def lead_funnel(owner):
    user, account = owner
    funnel = make_funnel(account, user)  # opt-in with a form, thank-you
    publishing.publish_funnel(account, funnel, user)
    return funnel


@pytest.fixture
def sales_funnel(owner):
    user, account = owner
    funnel = make_funnel_from(account, user, "tripwire")  # 5 steps: landing, order form, upsell, downsell, thanks
    publishing.publish_funnel(account, funnel, user)
    return funnel


def events_of(funnel, *conditions):
    return db.session.execute(select(AnalyticsEvent).where(AnalyticsEvent.funnel_id == funnel.id, *conditions)
                              ).scalars().all()


def test_exactly_the_events_asked_for_and_the_rollups_agree(lead_funnel):
    stats = generator.generate(lead_funnel, 3_000, 30, seed=7, batch_size=700, now=NOW)
    assert stats.events == 3_000
    assert db.session.execute(select(func.count()).where(AnalyticsEvent.funnel_id == lead_funnel.id)).scalar() == 3_000
    rollup = db.session.execute(select(func.sum(StepHour.page_views), func.sum(StepHour.entries),
                                       func.sum(StepHour.exits), func.sum(StepHour.conversions))
                                .where(StepHour.funnel_id == lead_funnel.id)).one()
    kinds = Counter(event.event_type for event in events_of(lead_funnel))
    assert tuple(rollup) == (kinds["page_view"], kinds["step_entry"], kinds["step_exit"], kinds["conversion"])
    assert sum(rollup) == 3_000 and stats.conversions == kinds["conversion"] > 0
    assert stats.visitors > 100 and stats.sessions >= stats.visitors


def test_visitors_drop_off_from_step_to_step(sales_funnel):
    generator.generate(sales_funnel, 20_000, 60, seed=3, now=NOW)
    steps = sales_funnel.steps
    entries = Counter(event.step_id for event in events_of(sales_funnel, AnalyticsEvent.event_type == "step_entry",
                                                           AnalyticsEvent.previous_step_id.is_not(None)
                                                           | (AnalyticsEvent.step_id == steps[0].id)))
    forward = Counter(event.step_id for event in events_of(sales_funnel, AnalyticsEvent.exit_outcome == "forward"))
    reached = [entries[step.id] for step in steps]
    assert reached == sorted(reached, reverse=True) and reached[-1] > 0, reached
    for step in steps[:-1]:  # each step passes on between about a third and three quarters of its visitors
        assert 0.25 <= forward[step.id] / entries[step.id] <= 0.8, (step.name, forward[step.id], entries[step.id])
    exits = events_of(sales_funnel, AnalyticsEvent.event_type == "step_exit")
    outcomes = Counter(event.exit_outcome for event in exits)
    assert set(outcomes) == {"forward", "backward", "bounce", "close"}
    reasons = Counter(event.event_metadata.get("exit_reason")
                      for event in events_of(sales_funnel, AnalyticsEvent.exit_outcome.in_(("bounce", "close"))))
    assert {"no_interaction", "external_link", "form_abandoned", "scrolled_less_than_25", "no_action"} <= set(reasons)
    times = {outcome: [event.time_on_step_seconds for event in events_of(
        sales_funnel, AnalyticsEvent.exit_outcome == outcome)] for outcome in ("forward", "bounce")}
    assert sorted(times["forward"])[len(times["forward"]) // 2] > sorted(times["bounce"])[len(times["bounce"]) // 2]


def test_conversions_are_form_submits_on_form_steps_and_purchases_on_order_forms(sales_funnel):
    generator.generate(sales_funnel, 15_000, 30, seed=5, now=NOW)
    by_type = {step.step_type: step.id for step in sales_funnel.steps}
    conversions = events_of(sales_funnel, AnalyticsEvent.event_type == "conversion")
    purchases = [event for event in conversions if event.conversion_type == "purchase"]
    forms = [event for event in conversions if event.conversion_type == "form_submit"]
    assert purchases and {event.step_id for event in purchases} == {by_type["order_form"]}
    assert all(event.value_cents > 0 and event.event_metadata["order_id"] for event in purchases)
    assert len({event.value_cents for event in purchases}) == 2  # with and without the bump
    assert len({event.event_metadata["order_id"] for event in purchases}) == len(purchases)
    assert by_type["order_form"] not in {event.step_id for event in forms}


def test_devices_browsers_and_sources_spread_like_real_traffic(lead_funnel):
    generator.generate(lead_funnel, 30_000, 30, seed=11, now=NOW)
    visitors = {event.visitor_id: event for event in events_of(lead_funnel, AnalyticsEvent.event_type == "page_view")}
    devices = Counter(event.device_type for event in visitors.values())
    total = sum(devices.values())
    assert abs(devices["mobile"] / total - 0.55) < 0.04
    assert abs(devices["desktop"] / total - 0.38) < 0.04
    assert abs(devices["tablet"] / total - 0.07) < 0.02
    browsers = Counter(event.browser for event in visitors.values())
    assert {"Mobile Safari", "Chrome Mobile", "Chrome", "Safari", "Edge", "Samsung Internet"} <= set(browsers)
    landings = events_of(lead_funnel, AnalyticsEvent.event_type == "page_view", AnalyticsEvent.is_new_visitor)
    sources = Counter(event.source for event in landings)
    assert {"google", "facebook", "direct", "newsletter", "youtube", "reddit.com", "linkedin.com"} <= set(sources)
    assert sources.most_common(1)[0][1] / len(landings) < 0.4  # no single source dominates
    google = [event for event in landings if event.source == "google"]
    assert {event.utm_medium for event in google} == {"cpc"} and all("utm_source=google" in e.url for e in google)
    reddit = [event for event in landings if event.source == "reddit.com"]
    assert all(event.referrer.startswith("https://www.reddit.com") for event in reddit)


def test_sessions_new_and_returning_visitors(lead_funnel):
    stats = generator.generate(lead_funnel, 10_000, 60, seed=2, now=NOW)
    views = events_of(lead_funnel, AnalyticsEvent.event_type == "page_view")
    sessions = {(event.visitor_id, event.session_id) for event in views}
    per_visitor = Counter(visitor_id for visitor_id, _ in sessions)
    returning = sum(1 for count in per_visitor.values() if count > 1) / len(per_visitor)
    assert 0.08 < returning < 0.3  # some come back, most do not
    rollup = db.session.execute(select(func.sum(StepHour.sessions), func.sum(StepHour.new_visitors))
                                .where(StepHour.funnel_id == lead_funnel.id)).one()
    assert tuple(rollup) == (len(sessions), len(per_visitor))  # one start per session, each visitor new once
    assert stats.sessions >= len(sessions) and stats.visitors >= len(per_visitor)


def test_traffic_follows_the_clock_of_the_workspace(owner, lead_funnel):
    _, account = owner
    generator.generate(lead_funnel, 20_000, 28, seed=4, now=NOW)
    zone = ZoneInfo(account.timezone or "UTC")
    moments = [event.created_at for event in events_of(lead_funnel, AnalyticsEvent.event_type == "page_view",
                                                         AnalyticsEvent.previous_step_id.is_(None))]
    assert min(moments) >= NOW - timedelta(days=28) and max(moments) <= NOW
    hours = Counter(moment.astimezone(zone).hour for moment in moments)
    assert sum(hours[hour] for hour in (2, 3, 4)) * 4 < sum(hours[hour] for hour in (10, 11, 12))
    days = Counter(moment.astimezone(zone).weekday() for moment in moments)
    assert days[5] < days[1]  # Saturdays quieter than Tuesdays


def test_the_same_seed_gives_the_same_traffic(owner):
    user, account = owner
    first, second = (make_funnel(account, user, slug=slug, name=slug) for slug in ("seed-one", "seed-two"))

    def shape(funnel):
        generator.generate(funnel, 2_000, 14, seed=99, now=NOW)
        return sorted((event.event_type, event.created_at, event.device_type, event.source, event.visitor_id,
                       event.time_on_step_seconds or 0) for event in events_of(funnel))

    assert shape(first) == shape(second)


def test_split_test_variants_are_assigned_as_the_site_does(owner, lead_funnel):
    user, account = owner
    step = lead_funnel.steps[0]
    test = splittests.create_test(account, lead_funnel, step, {"name": "Headline", "variants": [
        {"name": "Original", "weight": 50}, {"name": "Bold", "weight": 50}]}, user)
    variants = {str(variant.id): variant for variant in test.variants}
    generator.generate(lead_funnel, 8_000, 20, seed=8, now=NOW)
    split = serving.Split(test_id=str(test.id), bounds=(50, 100), entries=(),
                          variant_ids=tuple(str(variant.id) for variant in test.variants))
    entries = events_of(lead_funnel, AnalyticsEvent.event_type == "step_entry", AnalyticsEvent.step_id == step.id)
    assert entries
    for event in entries:
        expected = split.variant_ids[serving.pick(split, str(event.visitor_id))]
        assert str(event.variant_id) == expected
        assert event.page_id == variants[expected].page_id
    exposures = Counter(str(row.variant_id) for row in db.session.execute(
        select(Exposure).where(Exposure.test_id == test.id)).scalars())
    assert set(exposures) == set(variants) and min(exposures.values()) > 0.4 * sum(exposures.values())
    # Every visitor saw a variant before converting, and every conversion is credited to it.
    credited = db.session.execute(select(func.sum(Exposure.conversions)).where(Exposure.test_id == test.id)).scalar()
    assert credited == len(events_of(lead_funnel, AnalyticsEvent.event_type == "conversion")) > 0
    assert all(event.variant_id is None for event in events_of(
        lead_funnel, AnalyticsEvent.step_id == lead_funnel.steps[1].id))


def test_batches_follow_time(lead_funnel, monkeypatch):
    """Each batch spans a few hours of the period, in order: the ingest merges the sketches of a day or two."""
    from app.analytics import ingest

    spans, real = [], ingest.ingest_events

    def recording(rows, **kwargs):
        spans.append((min(row["created_at"] for row in rows), max(row["created_at"] for row in rows)))
        return real(rows, **kwargs)

    monkeypatch.setattr(ingest, "ingest_events", recording)
    generator.generate(lead_funnel, 12_000, 30, seed=6, batch_size=500, now=NOW)
    assert len(spans) >= 24
    in_order = sum(1 for before, after in zip(spans, spans[1:], strict=False) if before[1] <= after[0])
    assert in_order >= len(spans) - 4  # a new pass (making up the estimate) starts over from the beginning
    assert sorted(end - start for start, end in spans)[len(spans) // 2] < timedelta(days=3)


def test_the_command(app, lead_funnel):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["analytics", "generate", "--funnel", lead_funnel.slug, "--events", "600",
                                 "--days", "7", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "600 of 600 events" in result.output and "600 events (" in result.output
    db.session.expire_all()
    assert db.session.execute(select(func.count()).where(AnalyticsEvent.funnel_id == lead_funnel.id)).scalar() == 600
    by_id = runner.invoke(args=["analytics", "generate", "--funnel", str(lead_funnel.id), "--events", "10"])
    assert by_id.exit_code == 0, by_id.output
    unknown = runner.invoke(args=["analytics", "generate", "--funnel", "no-such-funnel", "--events", "10"])
    assert unknown.exit_code != 0 and "No funnel 'no-such-funnel'" in unknown.output
