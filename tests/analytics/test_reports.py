"""The reports of SPEC-FUN-004 against known traffic (tests/analytics/report_data.py, stored by the ingest worker):
every figure spelt out, the periods refused, the buckets in the workspace's zone, the cache."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis

from app.analytics import ingest, reports, reports_conversions, reports_dropoffs, reports_live, reports_revenue
from app.core import dates
from app.core.errors import NotFoundError
from app.core.jobs import redis_connection
from app.extensions import db
from tests import factories
from tests.analytics import report_data
from tests.analytics.report_data import IPHONE, VISITORS, WINDOWS, path_rows


@pytest.fixture
def sales(owner):
    """The known traffic and orders of a three-step funnel (and a second funnel without traffic)."""
    user, account = owner
    funnel = report_data.sales_funnel(account, user)
    other = report_data.sales_funnel(account, user, name="Other funnel")
    traffic = report_data.known_traffic(funnel)
    orders = report_data.known_orders(account, funnel, other, traffic["at"])
    return {"account": account, "user": user, "funnel": funnel, "other": other, "at": traffic["at"],
            "orders": orders, "steps": funnel.steps}


def period(account, days=30, granularity="day"):
    return reports.last_days(account, days, granularity)


def forget_cache():
    for key in redis_connection().scan_iter("analytics:report:*"):
        redis_connection().delete(key)


# ---- REQ-05 --------------------------------------------------------------------------------------------

def test_overview_of_known_traffic(sales):
    account, funnel = sales["account"], sales["funnel"]
    landing, form, thanks = sales["steps"]
    result = reports.overview(account, funnel, period(account))
    assert result["funnel_id"] == str(funnel.id) and result["funnel_name"] == "Spring sale"
    today = dates.today("UTC")
    assert result["period"] == {"start": (today - timedelta(days=29)).isoformat(), "end": today.isoformat()}
    assert result["visitors"] == {"total": 5, "unique": 4, "new": 3, "returning": 1}
    assert result["conversions"] == {"total": 3, "rate": 0.75, "value_cents": 5000}
    # orders: 5,000 + 2,700 taken, 700 refunded; 4 unique visitors, 3 conversions
    assert result["revenue"] == {"total_cents": 7000, "per_visitor_cents": 1750, "per_conversion_cents": 2333}
    assert result["steps"] == [
        {"step_id": str(landing.id), "step_name": "Landing", "step_type": "page", "visitors": 4, "entries": 5,
         "exits": 5, "drop_offs": 3, "drop_off_rate": 0.6, "avg_time_seconds": 33, "conversion_rate": 0.4},
        {"step_id": str(form.id), "step_name": "Order form", "step_type": "order_form", "visitors": 2, "entries": 2,
         "exits": 2, "drop_offs": 1, "drop_off_rate": 0.5, "avg_time_seconds": 60, "conversion_rate": 0.5},
        {"step_id": str(thanks.id), "step_name": "Thanks", "step_type": "thank_you", "visitors": 1, "entries": 1,
         "exits": 0, "drop_offs": 0, "drop_off_rate": 0.0, "avg_time_seconds": 0, "conversion_rate": 0.0},
    ]


def test_overview_counts_only_the_days_asked(sales):
    account, funnel = sales["account"], sales["funnel"]
    second_day = (sales["at"] + timedelta(days=1)).date()
    result = reports.overview(account, funnel, reports.read_period(account, second_day.isoformat(),
                                                                   second_day.isoformat()))
    assert result["visitors"] == {"total": 1, "unique": 1, "new": 0, "returning": 1}
    assert result["conversions"] == {"total": 0, "rate": 0.0, "value_cents": 0}
    assert result["revenue"]["total_cents"] == 0
    assert [step["entries"] for step in result["steps"]] == [1, 0, 0]


def test_overview_of_a_funnel_without_traffic(sales):
    account, other = sales["account"], sales["other"]
    result = reports.overview(account, other, period(account))
    assert result["visitors"] == {"total": 0, "unique": 0, "new": 0, "returning": 0}
    assert result["conversions"] == {"total": 0, "rate": 0.0, "value_cents": 0}
    # its one paid order (5,000 cents) counts, with no visitor or conversion to divide it by
    assert result["revenue"] == {"total_cents": 5000, "per_visitor_cents": 0, "per_conversion_cents": 0}
    assert all(step["visitors"] == 0 and step["drop_off_rate"] == 0.0 for step in result["steps"])


# ---- REQ-06 --------------------------------------------------------------------------------------------

def test_step_report_of_the_landing_page(sales):
    account, funnel = sales["account"], sales["funnel"]
    landing, form, _ = sales["steps"]
    result = reports.step_report(account, funnel, landing, period(account))
    assert result["step_id"] == str(landing.id) and result["step_name"] == "Landing"
    # times on the step: 30, 30, 30, 45, 30 s -> histogram buckets 30 (4) and 45 (1): grouped median 30 + 2.5/4 * 15
    assert result["summary"] == {"visitors": 5, "unique_visitors": 4, "entries": 5, "exits": 5, "drop_offs": 3,
                                 "drop_off_rate": 0.6, "avg_time_seconds": 33, "median_time_seconds": 39}
    days = result["over_time"]
    assert len(days) == 30 and days[-1]["timestamp"] == f"{dates.today('UTC').isoformat()}T00:00:00+00:00"
    busy = {day["timestamp"][:10]: day for day in days if day["entries"]}
    first, second = sales["at"].date().isoformat(), (sales["at"] + timedelta(days=1)).date().isoformat()
    assert busy == {
        first: {"timestamp": f"{first}T00:00:00+00:00", "visitors": 4, "entries": 4, "exits": 4,
                "drop_off_rate": 0.5, "avg_time_seconds": 34},
        second: {"timestamp": f"{second}T00:00:00+00:00", "visitors": 1, "entries": 1, "exits": 1,
                 "drop_off_rate": 1.0, "avg_time_seconds": 30}}
    assert result["traffic_sources"] == [{"source": "direct", "visitors": 2, "percentage": 40.0},
                                         {"source": "google", "visitors": 2, "percentage": 40.0},
                                         {"source": "facebook", "visitors": 1, "percentage": 20.0}]
    assert result["devices"] == [{"device_type": "desktop", "visitors": 3, "percentage": 60.0},
                                 {"device_type": "mobile", "visitors": 2, "percentage": 40.0}]
    assert [(row["browser"], row["visitors"]) for row in result["browsers"]] == [
        ("Chrome", 2), ("Mobile Safari", 2), ("Firefox", 1)]
    assert result["entry_paths"] == [{"previous_step_id": None, "count": 5}]
    assert result["exit_paths"] == [{"next_step_id": None, "count": 3}, {"next_step_id": str(form.id), "count": 2}]


def test_step_report_paths_of_a_middle_step(sales):
    account, funnel = sales["account"], sales["funnel"]
    landing, form, thanks = sales["steps"]
    result = reports.step_report(account, funnel, form, period(account))
    # both spent 60 s: the bucket 60-90 s, whose middle the grouped median takes
    assert result["summary"]["unique_visitors"] == 2 and result["summary"]["median_time_seconds"] == 75
    assert result["entry_paths"] == [{"previous_step_id": str(landing.id), "count": 2}]
    assert result["exit_paths"] == [{"next_step_id": None, "count": 1}, {"next_step_id": str(thanks.id), "count": 1}]


def test_step_report_by_hour_and_by_week(sales):
    account, funnel, at = sales["account"], sales["funnel"], sales["at"]
    landing = sales["steps"][0]
    day = at.date().isoformat()
    hours = reports.step_report(account, funnel, landing, reports.read_period(account, day, day, "hour"))
    assert len(hours["over_time"]) == 24
    assert [(row["timestamp"], row["entries"]) for row in hours["over_time"] if row["entries"]] == [
        (f"{day}T10:00:00+00:00", 4)]
    weeks = reports.step_report(account, funnel, landing, period(account, 30, "week"))["over_time"]
    starts = [datetime.fromisoformat(row["timestamp"]) for row in weeks]
    assert all(start.weekday() == 0 and start.hour == 0 for start in starts)  # weeks start on Monday
    assert starts[0].date() <= dates.today("UTC") - timedelta(days=29) < starts[0].date() + timedelta(days=7)
    assert sum(row["entries"] for row in weeks) == 5 and sum(row["visitors"] for row in weeks) == 5


def test_days_and_weeks_are_the_workspaces(owner):
    """Hours are grouped into the workspace's days: 02:00 UTC is the evening before in New York."""
    user, account = owner
    account.timezone = "America/New_York"
    db.session.commit()
    funnel = report_data.sales_funnel(account, user)
    local_today = dates.today("America/New_York")
    late = datetime.combine(local_today - timedelta(days=3), datetime.min.time(), dates.zone("America/New_York"))
    late = late.replace(hour=21).astimezone(UTC)  # 21:00 in New York: 01:00 or 02:00 UTC the next day
    ingest.ingest_events(path_rows(funnel, uuid.uuid4(), late, 1))
    result = reports.step_report(account, funnel, funnel.steps[0], reports.last_days(account, 7))
    busy = [row for row in result["over_time"] if row["entries"]]
    assert len(busy) == 1
    stamp = datetime.fromisoformat(busy[0]["timestamp"])
    assert stamp.date() == local_today - timedelta(days=3) and stamp.utcoffset() in (timedelta(hours=-5),
                                                                                      timedelta(hours=-4))
    assert result["period"]["end"] == local_today.isoformat()


# ---- REQ-07 --------------------------------------------------------------------------------------------

def test_conversions_report(sales):
    account, funnel = sales["account"], sales["funnel"]
    landing, form, thanks = sales["steps"]
    result = reports_conversions.conversions(account, funnel, period(account))
    assert result["summary"] == {"total_conversions": 3, "conversion_rate": 0.75, "total_value_cents": 5000,
                                 "avg_value_cents": 1667}
    assert result["by_type"] == [
        {"conversion_type": "form_submit", "count": 1, "rate": 0.25, "value_cents": 0},
        {"conversion_type": "purchase", "count": 1, "rate": 0.25, "value_cents": 5000},
        {"conversion_type": "signup", "count": 1, "rate": 0.25, "value_cents": 0},
        {"conversion_type": "custom", "count": 0, "rate": 0.0, "value_cents": 0}]
    assert result["by_step"] == [
        {"step_id": str(landing.id), "step_name": "Landing", "conversions": 2, "conversion_rate": 0.5},
        {"step_id": str(form.id), "step_name": "Order form", "conversions": 1, "conversion_rate": 0.5},
        {"step_id": str(thanks.id), "step_name": "Thanks", "conversions": 0, "conversion_rate": 0.0}]
    busy = [row for row in result["over_time"] if row["conversions"] or row["rate"]]
    day = sales["at"].date().isoformat()
    # 3 conversions of the 4 unique visitors of that day
    assert busy == [{"timestamp": f"{day}T00:00:00+00:00", "conversions": 3, "rate": 0.75, "value_cents": 5000}]
    a, _, _, d = VISITORS
    assert result["converting_visitors"][0]["visitor_id"] == str(d)  # the latest conversion first
    assert result["converting_visitors"][1] == {
        "visitor_id": str(a), "session_id": result["converting_visitors"][1]["session_id"], "conversions": 2,
        "total_value_cents": 5000, "first_conversion_at": (sales["at"] + timedelta(seconds=29)).isoformat(),
        "last_conversion_at": (sales["at"] + timedelta(seconds=90)).isoformat()}
    assert result["pagination"] == {"page": 1, "page_size": 20, "total": 2}


def test_converting_visitors_are_paginated_and_server_purchases_have_no_step(sales):
    account, funnel, at = sales["account"], sales["funnel"], sales["at"]
    purchase = {"account_id": account.id, "funnel_id": funnel.id, "visitor_id": uuid.uuid4(), "session_id": "srv",
                "event_type": "conversion", "conversion_type": "purchase", "value_cents": 1200,
                "metadata": {"order_id": str(uuid.uuid4())}, "created_at": at + timedelta(hours=1)}
    ingest.ingest_events([purchase])
    second = reports_conversions.conversions(account, funnel, period(account), page=2, page_size=2)
    assert second["pagination"] == {"page": 2, "page_size": 2, "total": 3}
    assert [row["visitor_id"] for row in second["converting_visitors"]] == [str(VISITORS[0])]
    first = reports_conversions.conversions(account, funnel, period(account), page=1, page_size=2)
    assert first["converting_visitors"][0]["visitor_id"] == str(purchase["visitor_id"])
    assert first["by_step"][-1] == {"step_id": None, "step_name": reports_conversions.NO_STEP_NAME,
                                    "conversions": 1, "conversion_rate": 0.2}
    assert first["summary"]["total_conversions"] == 4


def test_conversion_rate_over_hours_is_per_visit(sales):
    account, funnel = sales["account"], sales["funnel"]
    day = sales["at"].date().isoformat()
    hours = reports_conversions.conversions(account, funnel, reports.read_period(account, day, day, "hour"))
    busy = [row for row in hours["over_time"] if row["conversions"]]
    assert busy == [{"timestamp": f"{day}T10:00:00+00:00", "conversions": 3, "rate": 0.75, "value_cents": 5000}]


# ---- REQ-08 --------------------------------------------------------------------------------------------

def test_severity_thresholds():
    assert [reports_dropoffs.severity(value) for value in (0.0, 0.2999, 0.30, 0.5999, 0.60, 1.0)] == [
        "low", "low", "medium", "medium", "high", "high"]


def test_dropoffs_report(sales):
    account, funnel = sales["account"], sales["funnel"]
    landing, form, thanks = sales["steps"]
    result = reports_dropoffs.dropoffs(account, funnel, period(account))
    assert result["overall_drop_off_rate"] == 0.75  # 1 of the 4 visitors of the landing page reached the end
    assert result["drop_off_funnel"] == [
        {"step_id": str(landing.id), "step_name": "Landing", "visitors": 4, "drop_offs": 3,
         "cumulative_drop_off_rate": 0.0},
        {"step_id": str(form.id), "step_name": "Order form", "visitors": 2, "drop_offs": 1,
         "cumulative_drop_off_rate": 0.5},
        {"step_id": str(thanks.id), "step_name": "Thanks", "visitors": 1, "drop_offs": 0,
         "cumulative_drop_off_rate": 0.75}]
    first, second = result["steps_with_drop_off"]
    assert (first["step_name"], first["drop_offs"], first["drop_off_rate"], first["severity"]) == (
        "Landing", 3, 0.6, "high")
    assert first["common_exit_reasons"] == [{"reason": "close", "count": 2, "percentage": 66.67},
                                            {"reason": "bounce", "count": 1, "percentage": 33.33}]
    assert first["suggestions"] == [reports_dropoffs.STEP_ADVICE["page"], reports_dropoffs.REASON_ADVICE["close"]]
    assert (second["step_name"], second["drop_off_rate"], second["severity"]) == ("Order form", 0.5, "medium")
    assert second["common_exit_reasons"] == [{"reason": "form_abandoned", "count": 1, "percentage": 100.0}]
    assert second["suggestions"] == [reports_dropoffs.STEP_ADVICE["order_form"],
                                     reports_dropoffs.REASON_ADVICE["form_abandoned"]]


def test_dropoff_suggestions_from_devices_and_time(owner):
    """Phones bounce after 4 s where computers go on: the device and the time rules speak."""
    user, account = owner
    funnel = report_data.sales_funnel(account, user)
    at = report_data.day_start(3) + timedelta(hours=9)
    rows = []
    for n in range(12):
        rows += path_rows(funnel, uuid.uuid4(), at + timedelta(minutes=n), 1, agent=IPHONE, seconds=(4,),
                          reason="no_interaction")
        rows += path_rows(funnel, uuid.uuid4(), at + timedelta(minutes=n), 2 if n % 4 else 1, agent=WINDOWS,
                          seconds=(4, 60), leave="close")
    ingest.ingest_events(rows)
    listed = reports_dropoffs.dropoffs(account, funnel, period(account))["steps_with_drop_off"]
    landing = next(step for step in listed if step["step_name"] == "Landing")
    # phones: 12 drop-offs of 12 entries; computers: 3 of 12; 15 of 24 in all
    assert (landing["step_name"], landing["drop_off_rate"], landing["severity"]) == ("Landing", 0.625, "high")
    assert landing["common_exit_reasons"][0] == {"reason": "no_interaction", "count": 12, "percentage": 80.0}
    suggestions = landing["suggestions"]
    assert suggestions[0] == reports_dropoffs.STEP_ADVICE["page"]
    assert suggestions[1].startswith("Visitors on phones leave far more often (100%) than on computers (25%)")
    assert suggestions[2].startswith("Visitors spend 4 s on average here")
    assert "“no_interaction” (80%" in suggestions[3]


# ---- REQ-10 --------------------------------------------------------------------------------------------

def test_revenue_report(sales):
    account, funnel = sales["account"], sales["funnel"]
    landing, form, thanks = sales["steps"]
    products = sales["orders"]["products"]
    result = reports_revenue.revenue(account, funnel, period(account))
    assert result["summary"] == {"total_revenue_cents": 7700, "revenue_per_visitor_cents": 1750,
                                 "revenue_per_conversion_cents": 2333, "refund_rate": 0.0909,
                                 "net_revenue_cents": 7000}
    assert result["by_source"] == [{"source": "google", "revenue_cents": 5000, "percentage": 71.43},
                                   {"source": "facebook", "revenue_cents": 2000, "percentage": 28.57}]
    assert result["by_step"] == [
        {"step_id": str(landing.id), "step_name": "Landing", "revenue_cents": 0, "orders": 0,
         "avg_order_value_cents": 0},
        {"step_id": str(form.id), "step_name": "Order form", "revenue_cents": 7000, "orders": 2,
         "avg_order_value_cents": 3500},
        {"step_id": str(thanks.id), "step_name": "Thanks", "revenue_cents": 0, "orders": 0,
         "avg_order_value_cents": 0}]
    busy = [row for row in result["over_time"] if row["orders"]]
    day = sales["at"].date().isoformat()
    assert busy == [{"timestamp": f"{day}T00:00:00+00:00", "revenue_cents": 7000, "orders": 2,
                     "avg_order_value_cents": 3500}]
    assert len(result["over_time"]) == 30
    assert result["top_products"] == [
        {"product_id": str(products["course"]), "product_name": "Course", "revenue_cents": 5000, "units_sold": 1},
        {"product_id": str(products["lite"]), "product_name": "Course lite", "revenue_cents": 2000, "units_sold": 1},
        {"product_id": str(products["swipe"]), "product_name": "Swipe file", "revenue_cents": 0, "units_sold": 1}]


def test_top_products_stop_at_20(owner):
    user, account = owner
    funnel = report_data.sales_funnel(account, user)
    at = report_data.day_start(2) + timedelta(hours=12)
    prices = [factories.make_product(account, f"Product {n:02}", 100 * (n + 1))[1] for n in range(22)]
    factories.make_order(account, [(price, "main") for price in prices], funnel_id=funnel.id, created_at=at)
    top = reports_revenue.revenue(account, funnel, period(account))["top_products"]
    assert len(top) == 20 and top[0]["product_name"] == "Product 21" and top[-1]["product_name"] == "Product 02"


# ---- REQ-11 --------------------------------------------------------------------------------------------

def live_traffic(funnel, moment):
    """X: landing 3 min ago, on the order form since 2 min, converted 12 min ago (another session); Z: on the landing
    page since 1 min, bought 25.00 50 s ago (a purchase the server records: no step); Y: 40 minutes ago (gone)."""
    x, y, z = (uuid.UUID(int=n) for n in (0x71, 0x72, 0x73))
    landing, form, _ = funnel.steps
    rows = path_rows(funnel, x, moment - timedelta(minutes=3), 2, seconds=(60, 600))[:-1]  # still on the form
    rows += path_rows(funnel, x, moment - timedelta(minutes=12), 1, conversions=[(0, "signup", 0)])
    rows += path_rows(funnel, z, moment - timedelta(minutes=1), 1, seconds=(600,))[:-1]
    rows.append({"account_id": funnel.account_id, "funnel_id": funnel.id, "visitor_id": z, "session_id": "srv",
                 "event_type": "conversion", "conversion_type": "purchase", "value_cents": 2500,
                 "created_at": moment - timedelta(seconds=50)})
    rows += path_rows(funnel, y, moment - timedelta(minutes=40), 1, seconds=(5,))
    ingest.ingest_events(rows)
    return x, y, z


def test_realtime(owner):
    user, account = owner
    funnel = report_data.sales_funnel(account, user)
    landing, form, thanks = funnel.steps
    live_traffic(funnel, reports.now())
    result = reports_live.realtime(account, funnel)
    assert result["funnel_id"] == str(funnel.id)
    assert abs(datetime.fromisoformat(result["timestamp"]) - reports.now()) < timedelta(seconds=5)
    # X is on the order form, Z on the landing page (their latest step); Y left 40 minutes ago
    assert result["active_visitors"] == {"total": 2, "by_step": [
        {"step_id": str(landing.id), "step_name": "Landing", "visitors": 1},
        {"step_id": str(form.id), "step_name": "Order form", "visitors": 1},
        {"step_id": str(thanks.id), "step_name": "Thanks", "visitors": 0}]}
    assert result["conversions_last_5min"] == {"count": 1, "value_cents": 2500}
    times = [row["timestamp"] for row in result["recent_events"]]
    # X: 5 + 4 events, Z: 3; Y's are older than 30 minutes
    assert times == sorted(times, reverse=True) and len(times) == 12
    assert result["recent_events"][0] == {"event_type": "conversion", "step_id": None,
                                          "timestamp": times[0], "session_id": "srv"}


def test_realtime_keeps_the_last_50_events_and_updates_after_5_seconds(owner, monkeypatch):
    user, account = owner
    funnel = report_data.sales_funnel(account, user)
    moment = reports.now()
    rows = []
    for n in range(20):  # 3 events each
        rows += path_rows(funnel, uuid.uuid4(), moment - timedelta(minutes=20, seconds=-n), 1, seconds=(5,))
    ingest.ingest_events(rows)
    first = reports_live.realtime(account, funnel)
    assert first["active_visitors"]["total"] == 20 and len(first["recent_events"]) == 50
    ingest.ingest_events(path_rows(funnel, uuid.uuid4(), moment, 1, seconds=(5,)))
    assert reports_live.realtime(account, funnel) == first  # cached 5 seconds
    assert 0 < redis_connection().ttl(next(redis_connection().scan_iter("analytics:report:realtime:*"))) <= 5
    forget_cache()
    assert reports_live.realtime(account, funnel)["active_visitors"]["total"] == 21


def test_without_redis_nothing_is_cached(sales, app, monkeypatch):
    account, funnel = sales["account"], sales["funnel"]
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    before = reports.overview(account, funnel, period(account))
    ingest.ingest_events(path_rows(funnel, uuid.uuid4(), sales["at"], 1))
    assert reports.overview(account, funnel, period(account))["visitors"]["total"] == before["visitors"]["total"] + 1


def test_reports_are_cached_a_minute_per_account_funnel_and_parameters(sales):
    account, funnel = sales["account"], sales["funnel"]
    before = reports.overview(account, funnel, period(account))
    ingest.ingest_events(path_rows(funnel, uuid.uuid4(), sales["at"], 1))
    assert reports.overview(account, funnel, period(account)) == before
    assert reports.overview(account, funnel, period(account, 31))["visitors"]["total"] == 6  # other parameters
    keys = list(redis_connection().scan_iter("analytics:report:overview:*"))
    assert len(keys) == 2 and all(f":{account.id}:{funnel.id}:" in key.decode() for key in keys)
    assert 50 < redis_connection().ttl(keys[0]) <= 60
    forget_cache()
    assert reports.overview(account, funnel, period(account))["visitors"]["total"] == 6


def test_a_broken_cache_is_only_logged(sales, app, monkeypatch):
    account, funnel = sales["account"], sales["funnel"]
    monkeypatch.setattr(reports, "_redis", lambda: Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2))
    assert reports.overview(account, funnel, period(account))["visitors"]["total"] == 5


# ---- REQ-13 --------------------------------------------------------------------------------------------

def test_journey_of_a_visitor(sales):
    account, funnel = sales["account"], sales["funnel"]
    landing, form, thanks = sales["steps"]
    at, a = sales["at"], VISITORS[0]
    result = reports_live.journey(account, str(a))
    assert {key: result[key] for key in result if key != "sessions"} == {
        "visitor_id": str(a), "first_seen_at": at.isoformat(),
        "last_seen_at": (at + timedelta(days=1, seconds=30)).isoformat(), "total_sessions": 2,
        "total_page_views": 4, "total_conversions": 2}
    first, second = result["sessions"]
    base = f"https://pages.example.com/{funnel.slug}"
    assert {key: first[key] for key in first if key != "events"} == {
        "session_id": first["session_id"], "started_at": at.isoformat(),
        "ended_at": (at + timedelta(seconds=92)).isoformat(), "funnel_id": str(funnel.id),
        "entry_page": f"{base}/{landing.slug}", "exit_page": f"{base}/{thanks.slug}", "page_views": 3,
        "time_spent_seconds": 92, "conversions": 2}
    assert [(event["event_type"], event["step_id"]) for event in first["events"]] == [
        ("page_view", str(landing.id)), ("step_entry", str(landing.id)), ("conversion", str(landing.id)),
        ("step_exit", str(landing.id)), ("page_view", str(form.id)), ("step_entry", str(form.id)),
        ("conversion", str(form.id)), ("step_exit", str(form.id)), ("page_view", str(thanks.id)),
        ("step_entry", str(thanks.id))]
    assert first["events"][0] == {"event_type": "page_view", "page_id": str(landing.page.id),
                                  "step_id": str(landing.id), "timestamp": at.isoformat(), "metadata": {}}
    assert second["page_views"] == 1 and second["conversions"] == 0 and second["time_spent_seconds"] == 30
    assert second["events"][-1]["event_type"] == "step_exit" and second["events"][-1]["metadata"] == {}


def test_journey_of_an_ongoing_session_has_no_end_yet(owner):
    user, account = owner
    funnel = report_data.sales_funnel(account, user)
    visitor = uuid.uuid4()
    ingest.ingest_events(path_rows(funnel, visitor, reports.now() - timedelta(minutes=2), 1, seconds=(20,))[:-1])
    session = reports_live.journey(account, visitor)["sessions"][0]
    assert session["ended_at"] is None and session["exit_page"] is None and session["page_views"] == 1


def test_journey_in_one_funnel_and_unknown_visitors(sales, owner):
    account, funnel, other = sales["account"], sales["funnel"], sales["other"]
    a = VISITORS[0]
    assert reports_live.journey(account, a, str(funnel.id))["total_sessions"] == 2
    for visitor, funnel_id in ((a, str(other.id)), (uuid.uuid4(), None), ("not-a-visitor", None),
                               (a, str(uuid.uuid4())), (a, "not-a-funnel")):
        with pytest.raises(NotFoundError):
            reports_live.journey(account, visitor, funnel_id)
    stranger = factories.make_user("stranger@example.com")
    elsewhere = factories.make_account(stranger, "Elsewhere")
    with pytest.raises(NotFoundError):  # another workspace never sees this visitor
        reports_live.journey(elsewhere, a)


def test_contact_visitors_are_the_visitor_ids_of_their_orders(sales):
    account = sales["account"]
    contact = factories.make_contact(account)
    first, second = sales["orders"]["orders"]
    first.contact_id = second.contact_id = contact.id
    db.session.commit()
    assert reports_live.contact_visitors(account, contact.id) == [str(VISITORS[1]), str(VISITORS[0])]
    assert reports_live.contact_visitors(account, uuid.uuid4()) == []


# ---- the period ----------------------------------------------------------------------------------------

def test_periods_refused_with_their_reason(owner):
    _, account = owner
    cases = [
        (("2026-01-01", "2027-01-02", None), "date_from", "longer than a year"),
        (("2026-03-01", "2026-02-28", None), "date_to", "reversed"),
        (("2026-03-01", "2026-03-31", "month"), "granularity", "hour, day or week"),
        (("", "2026-03-31", None), "date_from", "required"),
        (("2026-03-01", None, None), "date_to", "required"),
        (("yesterday", "2026-03-31", None), "date_from", "not a date"),
        (("2026-02-30", "2026-03-31", None), "date_from", "not a date"),
        (("0001-01-01", "0001-01-02", None), "date_from", "between 1900 and 2199"),
    ]
    for (date_from, date_to, granularity), field, reason in cases:
        with pytest.raises(reports.PeriodError) as refused:
            reports.read_period(account, date_from, date_to, granularity)
        assert refused.value.status == 400 and field in refused.value.fields, (date_from, date_to)
        assert reason in refused.value.message, refused.value.message


def test_periods_taken(owner):
    _, account = owner
    leap = reports.read_period(account, "2024-01-01", "2024-12-31", "week")
    assert (leap.days, leap.granularity) == (366, "week")
    one_day = reports.read_period(account, "2026-03-01", "2026-03-01")
    assert (one_day.days, one_day.granularity) == (1, "day")
    account.timezone = "Asia/Tokyo"  # 20:00 UTC on 1 March is 2 March in Tokyo
    moment = reports.read_period(account, "2026-03-01T20:00:00Z", "2026-03-05T10:00:00+09:00")
    assert (moment.start.isoformat(), moment.end.isoformat()) == ("2026-03-02", "2026-03-05")
    assert moment.since == datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    defaults = reports.read_period(account, None, None, required=False)
    assert defaults.days == 30 and defaults.end == dates.today("Asia/Tokyo")


def test_unknown_funnels_and_steps_are_not_found(sales, owner):
    account, funnel, other = sales["account"], sales["funnel"], sales["other"]
    for funnel_id in (uuid.uuid4(), "nope", None):
        with pytest.raises(NotFoundError):
            reports.funnel_of(account, funnel_id)
    with pytest.raises(NotFoundError):
        reports.step_of(funnel, other.steps[0].id)
    stranger = factories.make_user("stranger@example.com")
    with pytest.raises(NotFoundError):
        reports.funnel_of(factories.make_account(stranger, "Elsewhere"), funnel.id)
    funnel.deleted_at = reports.now()
    db.session.commit()
    with pytest.raises(NotFoundError):
        reports.funnel_of(account, funnel.id)
