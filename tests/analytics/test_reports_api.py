"""The analytics reports of the JSON API: the spec's field names, the figures of known traffic, 404 for what is not
the key's, 400 with the reason for a bad period, key authentication."""
import uuid
from datetime import timedelta

import pytest

from app.auth import services as auth_services
from app.core import dates
from app.extensions import db
from tests import factories
from tests.analytics import report_data
from tests.api.conftest import assert_json_error

API = "/api/v1/analytics"


@pytest.fixture
def sales(owner):
    user, account = owner
    funnel = report_data.sales_funnel(account, user)
    other = report_data.sales_funnel(account, user, name="Other funnel")
    traffic = report_data.known_traffic(funnel)
    report_data.known_orders(account, funnel, other, traffic["at"])
    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    _, secret = auth_services.create_api_key(account, viewer, "Reports")
    today = dates.today("UTC")
    return {"account": account, "funnel": funnel, "other": other, "at": traffic["at"],
            "headers": {"Authorization": f"Bearer {secret}"},
            "range": f"date_from={(today - timedelta(days=29)).isoformat()}&date_to={today.isoformat()}"}


def get(client, sales, path, query=None):
    query = sales["range"] if query is None else query
    return client.get(f"{API}/{path}" + (f"?{query}" if query else ""), headers=sales["headers"])


def keys(data) -> set:
    return set(data)


def test_overview(client, sales):
    funnel = sales["funnel"]
    response = get(client, sales, f"funnels/{funnel.id}/overview")
    assert response.status_code == 200, response.text
    data = response.get_json()
    assert keys(data) == {"funnel_id", "funnel_name", "period", "visitors", "conversions", "revenue", "steps"}
    assert keys(data["period"]) == {"start", "end"}
    assert data["visitors"] == {"total": 5, "unique": 4, "new": 3, "returning": 1}
    assert data["conversions"] == {"total": 3, "rate": 0.75, "value_cents": 5000}
    assert data["revenue"] == {"total_cents": 7000, "per_visitor_cents": 1750, "per_conversion_cents": 2333}
    assert [keys(step) for step in data["steps"]] == [{
        "step_id", "step_name", "step_type", "visitors", "entries", "exits", "drop_offs", "drop_off_rate",
        "avg_time_seconds", "conversion_rate"}] * 3
    assert [step["drop_offs"] for step in data["steps"]] == [3, 1, 0]


def test_step(client, sales):
    funnel = sales["funnel"]
    landing, form, _ = funnel.steps
    response = get(client, sales, f"funnels/{funnel.id}/steps/{form.id}", sales["range"] + "&granularity=week")
    assert response.status_code == 200, response.text
    data = response.get_json()
    assert keys(data) == {"step_id", "step_name", "period", "summary", "over_time", "traffic_sources", "devices",
                          "browsers", "entry_paths", "exit_paths"}
    assert keys(data["summary"]) == {"visitors", "unique_visitors", "entries", "exits", "drop_offs", "drop_off_rate",
                                     "avg_time_seconds", "median_time_seconds"}
    assert keys(data["over_time"][0]) == {"timestamp", "visitors", "entries", "exits", "drop_off_rate",
                                          "avg_time_seconds"}
    assert data["traffic_sources"] == [{"source": "facebook", "visitors": 1, "percentage": 50.0},
                                       {"source": "google", "visitors": 1, "percentage": 50.0}]
    assert data["devices"] == [{"device_type": "desktop", "visitors": 1, "percentage": 50.0},
                               {"device_type": "mobile", "visitors": 1, "percentage": 50.0}]
    assert keys(data["browsers"][0]) == {"browser", "visitors", "percentage"}
    assert data["entry_paths"] == [{"previous_step_id": str(landing.id), "count": 2}]
    assert {row["next_step_id"] for row in data["exit_paths"]} == {None, str(funnel.steps[2].id)}


def test_conversions_paginated(client, sales):
    funnel = sales["funnel"]
    response = get(client, sales, f"funnels/{funnel.id}/conversions", sales["range"] + "&page=2&page_size=1")
    assert response.status_code == 200, response.text
    data = response.get_json()
    assert keys(data) == {"period", "summary", "by_type", "by_step", "over_time", "converting_visitors", "pagination"}
    assert keys(data["summary"]) == {"total_conversions", "conversion_rate", "total_value_cents", "avg_value_cents"}
    assert [row["conversion_type"] for row in data["by_type"]] == ["form_submit", "purchase", "signup", "custom"]
    assert keys(data["by_step"][0]) == {"step_id", "step_name", "conversions", "conversion_rate"}
    assert keys(data["over_time"][0]) == {"timestamp", "conversions", "rate", "value_cents"}
    assert data["pagination"] == {"page": 2, "page_size": 1, "total": 2}
    assert [row["visitor_id"] for row in data["converting_visitors"]] == [str(report_data.VISITORS[0])]
    assert keys(data["converting_visitors"][0]) == {"visitor_id", "session_id", "conversions", "total_value_cents",
                                                    "first_conversion_at", "last_conversion_at"}
    for bad in ("page=0", "page=x", "page_size=101"):
        assert_json_error(get(client, sales, f"funnels/{funnel.id}/conversions", f"{sales['range']}&{bad}"), 400)


def test_dropoffs(client, sales):
    funnel = sales["funnel"]
    data = get(client, sales, f"funnels/{funnel.id}/dropoffs").get_json()
    assert keys(data) == {"period", "overall_drop_off_rate", "steps_with_drop_off", "drop_off_funnel"}
    assert data["overall_drop_off_rate"] == 0.75
    assert keys(data["steps_with_drop_off"][0]) == {"step_id", "step_name", "drop_offs", "drop_off_rate", "severity",
                                                    "common_exit_reasons", "suggestions"}
    assert [row["severity"] for row in data["steps_with_drop_off"]] == ["high", "medium"]
    assert keys(data["steps_with_drop_off"][0]["common_exit_reasons"][0]) == {"reason", "count", "percentage"}
    assert [row["cumulative_drop_off_rate"] for row in data["drop_off_funnel"]] == [0.0, 0.5, 0.75]


def test_revenue(client, sales):
    funnel = sales["funnel"]
    data = get(client, sales, f"funnels/{funnel.id}/revenue", sales["range"] + "&granularity=day").get_json()
    assert keys(data) == {"period", "summary", "by_source", "by_step", "over_time", "top_products"}
    assert data["summary"] == {"total_revenue_cents": 7700, "revenue_per_visitor_cents": 1750,
                               "revenue_per_conversion_cents": 2333, "refund_rate": 0.0909, "net_revenue_cents": 7000}
    assert keys(data["by_source"][0]) == {"source", "revenue_cents", "percentage"}
    assert keys(data["by_step"][0]) == {"step_id", "step_name", "revenue_cents", "orders", "avg_order_value_cents"}
    assert keys(data["over_time"][0]) == {"timestamp", "revenue_cents", "orders", "avg_order_value_cents"}
    assert [row["product_name"] for row in data["top_products"]] == ["Course", "Course lite", "Swipe file"]
    assert keys(data["top_products"][0]) == {"product_id", "product_name", "revenue_cents", "units_sold"}


def test_realtime(client, sales):
    funnel = sales["funnel"]
    response = get(client, sales, f"funnels/{funnel.id}/realtime", "")
    assert response.status_code == 200, response.text
    data = response.get_json()
    assert keys(data) == {"funnel_id", "timestamp", "active_visitors", "recent_events", "conversions_last_5min"}
    assert data["active_visitors"]["total"] == 0 and len(data["active_visitors"]["by_step"]) == 3
    assert keys(data["active_visitors"]["by_step"][0]) == {"step_id", "step_name", "visitors"}
    assert data["recent_events"] == [] and data["conversions_last_5min"] == {"count": 0, "value_cents": 0}


def test_journey(client, sales):
    funnel, visitor = sales["funnel"], report_data.VISITORS[0]
    response = get(client, sales, f"visitors/{visitor}/journey", "")
    assert response.status_code == 200, response.text
    data = response.get_json()
    assert keys(data) == {"visitor_id", "first_seen_at", "last_seen_at", "total_sessions", "total_page_views",
                          "total_conversions", "sessions"}
    assert (data["total_sessions"], data["total_page_views"], data["total_conversions"]) == (2, 4, 2)
    assert keys(data["sessions"][0]) == {"session_id", "started_at", "ended_at", "funnel_id", "entry_page",
                                         "exit_page", "page_views", "time_spent_seconds", "conversions", "events"}
    assert keys(data["sessions"][0]["events"][0]) == {"event_type", "page_id", "step_id", "timestamp", "metadata"}
    assert get(client, sales, f"visitors/{visitor}/journey", f"funnel_id={funnel.id}").status_code == 200
    for path, query in ((f"visitors/{uuid.uuid4()}/journey", ""), ("visitors/not-a-visitor/journey", ""),
                        (f"visitors/{visitor}/journey", f"funnel_id={sales['other'].id}"),
                        (f"visitors/{visitor}/journey", f"funnel_id={uuid.uuid4()}")):
        assert_json_error(get(client, sales, path, query), 404, "not_found")
    assert_json_error(get(client, sales, f"visitors/{visitor}/journey", "funnel_id=nope"), 400, field="funnel_id")


REPORTS = ("overview", "conversions", "dropoffs", "revenue", "realtime")


def test_unknown_deleted_and_foreign_funnels_and_steps_are_404(client, sales):
    funnel = sales["funnel"]
    stranger = factories.make_user("stranger@example.com")
    elsewhere = factories.make_account(stranger, "Elsewhere")
    foreign = report_data.sales_funnel(elsewhere, stranger, name="Theirs")
    for report in REPORTS:
        for funnel_id in (uuid.uuid4(), foreign.id):
            assert_json_error(get(client, sales, f"funnels/{funnel_id}/{report}"), 404, "not_found")
    for funnel_id, step_id in ((funnel.id, uuid.uuid4()), (funnel.id, sales["other"].steps[0].id),
                               (foreign.id, foreign.steps[0].id), (uuid.uuid4(), funnel.steps[0].id)):
        assert_json_error(get(client, sales, f"funnels/{funnel_id}/steps/{step_id}"), 404, "not_found")
    # another workspace's key does not see this workspace's visitor
    assert_json_error(client.get(f"{API}/visitors/{report_data.VISITORS[0]}/journey",
                                 headers=_key_of(elsewhere, stranger)), 404)
    funnel.deleted_at = dates.start_of_day(dates.today("UTC"), "UTC")
    db.session.commit()
    assert_json_error(get(client, sales, f"funnels/{funnel.id}/overview"), 404)


def _key_of(account, user) -> dict:
    _, secret = auth_services.create_api_key(account, user, "Theirs")
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("query, field, reason", [
    ("date_from=2025-01-01&date_to=2026-01-02", "date_from", "longer than a year"),
    ("date_from=2026-03-01&date_to=2026-02-01", "date_to", "reversed"),
    ("date_to=2026-03-01", "date_from", "required"),
    ("date_from=2026-03-01", "date_to", "required"),
    ("date_from=March&date_to=2026-03-31", "date_from", "not a date"),
    ("date_from=2026-03-01&date_to=2026-03-31&granularity=month", "granularity", "hour, day or week"),
])
def test_bad_periods_are_400_with_the_reason(client, sales, query, field, reason):
    funnel = sales["funnel"]
    paths = [f"funnels/{funnel.id}/{report}" for report in REPORTS if report != "realtime"]
    paths.append(f"funnels/{funnel.id}/steps/{funnel.steps[0].id}")
    for path in paths:
        if "granularity" in query and not path.endswith(("conversions", "revenue")) and "/steps/" not in path:
            continue  # overview and drop-offs take no granularity
        error = assert_json_error(get(client, sales, path, query), 400, "invalid_period", field=field)
        assert reason in error["message"], (path, error)


def test_a_year_is_accepted(client, sales):
    funnel = sales["funnel"]
    response = get(client, sales, f"funnels/{funnel.id}/overview", "date_from=2024-01-01&date_to=2024-12-31")
    assert response.status_code == 200 and response.get_json()["period"] == {"start": "2024-01-01",
                                                                              "end": "2024-12-31"}


def test_a_key_is_needed(client, sales):
    funnel = sales["funnel"]
    response = client.get(f"{API}/funnels/{funnel.id}/overview?{sales['range']}")
    assert_json_error(response, 401)
