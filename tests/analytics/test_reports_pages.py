"""The analytics pages: each tab with known traffic (its figures in the page, its charts' data), never tracked
(how tracking starts), a refused range (422, the reason next to its field), 404 for what is not the workspace's,
the realtime fragment updating, the visitor journey and the links to it from a contact, the nav and the funnel."""
import json
import re
import uuid
from datetime import timedelta

import pytest

from app.analytics import ingest, reports
from app.core.jobs import redis_connection
from app.extensions import db
from tests import factories
from tests.analytics import report_data


@pytest.fixture
def sales(owner, login):
    user, account = owner
    funnel = report_data.sales_funnel(account, user)
    other = report_data.sales_funnel(account, user, name="Webinar")
    traffic = report_data.known_traffic(funnel)
    orders = report_data.known_orders(account, funnel, other, traffic["at"])
    login(user, account)
    return {"user": user, "account": account, "funnel": funnel, "other": other, "at": traffic["at"], "orders": orders}


def text_of(html: str) -> str:
    html = re.sub(r"<script[^>]*>.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&amp;", "&").replace("&#39;", "'")


def chart_data(html: str, chart_id: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{chart_id}-data">(.*?)</script>', html, re.S)
    assert found, f"no chart {chart_id}"
    return json.loads(found.group(1))


def test_the_nav_and_the_funnel_page_link_to_analytics(client, sales):
    funnel = sales["funnel"]
    page = client.get(f"/funnels/{funnel.id}").text
    assert f'href="/analytics/funnels/{funnel.id}"' in page
    assert 'href="/analytics"' in page


def test_index_lists_the_funnels_with_their_last_30_days(client, sales):
    response = client.get("/analytics")
    assert response.status_code == 200
    text = text_of(response.text)
    # Spring sale: 5 visits, 4 visitors, 3 conversions (75.0%), $70.00; Webinar: its one paid order, $50.00
    assert "Spring sale Draft 5 4 3 75.0% $70.00" in text
    assert "Webinar Draft 0 0 0 0.0% $50.00" in text


def test_index_of_a_workspace_without_funnels(client, owner, login):
    user, account = owner
    login(user, account)
    assert "No funnel yet" in client.get("/analytics").text


def test_overview_tab(client, sales):
    funnel = sales["funnel"]
    response = client.get(f"/analytics/funnels/{funnel.id}")
    assert response.status_code == 200
    html = response.text
    text = text_of(html)
    assert re.search(r'id="fig-visits">5<', html) and re.search(r'id="fig-unique">4<', html)
    assert re.search(r'id="fig-revenue">\$70\.00<', html)
    assert "Landing 4 5 5 3 60.0% 33 s 40.0%" in text and "Order form 2 2 2 1 50.0% 1 min 50.0%" in text
    traffic = chart_data(html, "chart-traffic")
    assert len(traffic["labels"]) == 30 and sum(traffic["datasets"][0]["data"]) == 5
    assert chart_data(html, "chart-steps")["datasets"][0]["data"] == [4, 2, 1]
    assert 'data-chart-src="/static/vendor/chart.umd.min.js"' in html and "/static/js/analytics.js" in html
    assert 'aria-current="page">Overview<' in html and 'aria-current="true">Last 30 days<' in html


def test_steps_tab(client, sales):
    funnel = sales["funnel"]
    form = funnel.steps[1]
    response = client.get(f"/analytics/funnels/{funnel.id}/steps?step={form.id}&granularity=week&days=90")
    assert response.status_code == 200
    html = response.text
    assert '<h2 class="mb-4" id="step-name">Order form</h2>' in html
    assert f'<option value="{form.id}" selected>2. Order form' in html
    assert '<option selected value="week">Week' in html
    assert 'id="fig-dropoffs">1<' in html and "50.0% of entries" in html
    over_time = chart_data(html, "chart-step")
    assert all(label.startswith("Week of ") for label in over_time["labels"])
    assert sum(over_time["datasets"][1]["data"]) == 2  # entries
    assert "Landing" in text_of(html.split('id="step-paths"')[1])
    assert client.get(f"/analytics/funnels/{funnel.id}/steps?step={uuid.uuid4()}").status_code == 404
    assert client.get(f"/analytics/funnels/{funnel.id}/steps?step={sales['other'].steps[0].id}").status_code == 404


def test_conversions_tab_pages_the_converting_visitors(client, sales):
    funnel = sales["funnel"]
    html = client.get(f"/analytics/funnels/{funnel.id}/conversions?page_size=1&page=2").text
    assert 'id="fig-conversions">3<' in html
    rows = html.split('id="converting-visitors"')[1].split("</table>")[0]
    assert rows.count("<tr>") == 2 and str(report_data.VISITORS[0]) in rows  # header + the second visitor
    assert "2–2 of 2" in text_of(html)
    assert "Form submit 1 25.0% $0.00" in text_of(html) and "Purchase 1 25.0% $50.00" in text_of(html)


def test_dropoffs_tab(client, sales):
    funnel = sales["funnel"]
    html = client.get(f"/analytics/funnels/{funnel.id}/dropoffs").text
    text = text_of(html)
    assert 'id="fig-overall">75.0%<' in html
    assert "Landing High 3 drop-offs · 60.0% of entries" in text
    assert "Order form Medium 1 drop-offs · 50.0% of entries" in text
    assert "Form abandoned: 1 (100.0%)" in text and "remove optional fields" in text
    assert chart_data(html, "chart-dropoff")["datasets"][1]["data"] == [0.0, 50.0, 75.0]


def test_revenue_tab(client, sales):
    funnel = sales["funnel"]
    html = client.get(f"/analytics/funnels/{funnel.id}/revenue?granularity=day").text
    text = text_of(html)
    assert 'id="fig-net">$70.00<' in html and "9.1% refunded" in text
    assert "google $50.00 71.4%" in text and "facebook $20.00 28.6%" in text
    assert "Order form 2 $70.00 $35.00" in text
    assert "Course 1 $50.00" in text and "Swipe file 1 $0.00" in text
    assert chart_data(html, "chart-revenue")["axes"] == {"y": "money", "y2": "number"}


def test_a_range_over_a_year_or_reversed_is_refused_next_to_its_field(client, sales):
    funnel = sales["funnel"]
    for query, field, reason in (("date_from=2024-01-01&date_to=2025-06-30", "date_from", "longer than a year"),
                                 ("date_from=2026-03-01&date_to=2026-02-01", "date_to", "reversed"),
                                 ("date_from=someday", "date_from", "not a date")):
        response = client.get(f"/analytics/funnels/{funnel.id}/revenue?{query}")
        assert response.status_code == 422
        assert re.search(rf'<p class="error" id="{field}-error">[^<]*{reason}', response.text), query
        assert 'id="analytics-error"' in response.text and 'id="fig-net"' not in response.text
    response = client.get(f"/analytics/funnels/{funnel.id}/steps?granularity=month")
    assert response.status_code == 422 and "hour, day or week" in response.text


def test_chosen_days_and_presets(client, sales):
    funnel, at = sales["funnel"], sales["at"]
    day = at.date().isoformat()
    html = client.get(f"/analytics/funnels/{funnel.id}?date_from={day}&date_to={day}").text
    assert re.search(r'id="fig-visits">4<', html) and "(1 day)" in html
    assert 'aria-current="true"' not in html  # no preset chosen
    assert f'value="{day}"' in html
    # the tabs keep the range
    assert f'href="/analytics/funnels/{funnel.id}/revenue?date_from={day}&amp;date_to={day}"' in html
    seven = client.get(f"/analytics/funnels/{funnel.id}?days=7").text
    assert 'aria-current="true">Last 7 days<' in seven and re.search(r'id="fig-visits">0<', seven)
    assert "No visits in this range" in seven


def test_a_funnel_never_visited_says_how_tracking_starts(client, sales):
    other = sales["other"]
    html = client.get(f"/analytics/funnels/{other.id}").text
    assert "No visits yet" in html and "Tracking starts when the funnel is published" in html
    other.status = "published"
    db.session.commit()
    for tab in ("", "/steps", "/conversions", "/dropoffs", "/revenue", "/realtime"):
        html = client.get(f"/analytics/funnels/{other.id}{tab}").text
        assert "is published and tracked" in html, tab


def test_unknown_deleted_and_foreign_funnels_are_404(client, sales):
    stranger = factories.make_user("stranger@example.com")
    elsewhere = factories.make_account(stranger, "Elsewhere")
    foreign = report_data.sales_funnel(elsewhere, stranger, name="Theirs")
    for funnel_id in (uuid.uuid4(), foreign.id):
        for tab in ("", "/steps", "/conversions", "/dropoffs", "/revenue", "/realtime"):
            assert client.get(f"/analytics/funnels/{funnel_id}{tab}").status_code == 404
    sales["funnel"].deleted_at = reports.now()
    db.session.commit()
    assert client.get(f"/analytics/funnels/{sales['funnel'].id}").status_code == 404


def test_realtime_tab_polls_its_fragment(client, sales):
    funnel = sales["funnel"]
    page = client.get(f"/analytics/funnels/{funnel.id}/realtime").text
    assert 'hx-trigger="every 5s"' in page and f'hx-get="/analytics/funnels/{funnel.id}/realtime"' in page
    assert 'id="fig-active">0<' in page
    ingest.ingest_events(report_data.path_rows(funnel, uuid.uuid4(), reports.now(), 2, seconds=(5, 600))[:-1])
    for key in redis_connection().scan_iter("analytics:report:realtime:*"):  # as 5 seconds later
        redis_connection().delete(key)
    fragment = client.get(f"/analytics/funnels/{funnel.id}/realtime", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and "cd-tabs" not in fragment.text
    assert 'id="fig-active">1<' in fragment.text
    assert chart_data(fragment.text, "chart-active")["datasets"][0]["data"] == [0, 1, 0]
    assert "Step entry · Order form" in text_of(fragment.text)


def test_journey_page(client, sales):
    funnel, visitor = sales["funnel"], report_data.VISITORS[0]
    response = client.get(f"/analytics/visitors/{visitor}")
    assert response.status_code == 200
    text = text_of(response.text)
    assert 'id="fig-sessions">2<' in response.text and 'id="fig-page-views">4<' in response.text
    assert "Conversion · Order form" in text and "Step entry · Thanks" in text
    assert f'action="/analytics/visitors/{visitor}/anonymize"' in response.text  # the owner may anonymize
    assert 'name="next" value="/analytics"' in response.text
    assert client.get(f"/analytics/visitors/{visitor}?funnel={funnel.id}").status_code == 200
    assert client.get(f"/analytics/visitors/{visitor}?funnel={sales['other'].id}").status_code == 404
    assert client.get(f"/analytics/visitors/{uuid.uuid4()}").status_code == 404
    assert client.get("/analytics/visitors/not-a-visitor").status_code == 404


def test_another_workspace_does_not_see_a_visitor(client, sales, login):
    stranger = factories.make_user("stranger@example.com")
    elsewhere = factories.make_account(stranger, "Elsewhere")
    login(stranger, elsewhere)
    assert client.get(f"/analytics/visitors/{report_data.VISITORS[0]}").status_code == 404


def test_a_contact_with_orders_links_to_their_journeys(client, sales):
    account = sales["account"]
    contact = factories.make_contact(account, email="bea@example.com")
    assert "Visitor journey" not in client.get(f"/contacts/{contact.id}").text
    first, second = sales["orders"]["orders"]
    first.contact_id = contact.id
    db.session.commit()
    html = client.get(f"/contacts/{contact.id}").text
    assert f'<a href="/analytics/visitors/{report_data.VISITORS[0]}">Visitor journey</a>' in html
    second.contact_id = contact.id
    db.session.commit()
    html = client.get(f"/contacts/{contact.id}").text
    assert "Visitor journey 1" in html and "Visitor journey 2" in html


def test_viewers_see_the_pages_and_visitors_log_in_first(client, sales, app, login):
    viewer = factories.add_member(sales["account"], "viewer", email="viewer@example.com")
    login(viewer, sales["account"])
    assert client.get(f"/analytics/funnels/{sales['funnel'].id}").status_code == 200
    journey = client.get(f"/analytics/visitors/{report_data.VISITORS[0]}")
    assert journey.status_code == 200 and "/anonymize" not in journey.text  # admins only
    anonymous = app.test_client().get(f"/analytics/funnels/{sales['funnel'].id}")
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["Location"]


def test_days_of_a_workspace_elsewhere(client, sales):
    """A workspace in Tokyo: the range ends today there, and the labels are its days."""
    account, funnel = sales["account"], sales["funnel"]
    account.timezone = "Asia/Tokyo"
    db.session.commit()
    html = client.get(f"/analytics/funnels/{funnel.id}").text
    today = reports.last_days(account, 1).end
    assert f"to {today.isoformat()} (30 days)" in html
    assert chart_data(html, "chart-traffic")["labels"][-1] == today.strftime("%b %-d")
    assert (today - timedelta(days=29)).isoformat() in html
