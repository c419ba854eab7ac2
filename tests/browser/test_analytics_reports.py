"""The funnel analytics pages in a real browser: the Analytics section, each report tab with its charts drawn by
Chart.js under the app's CSP (no console error), the range picker's refusal, the realtime tab updating itself as
visits arrive, a visitor's journey, and every page on a phone without sideways scrolling.
Screenshots in test-artifacts/browser/analytics/."""
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.analytics import ingest, reports
from tests import factories
from tests.analytics import report_data

pytestmark = pytest.mark.browser
SCREENSHOTS = "analytics"


def charts_drawn(page, count: int) -> None:
    """Every chart of the page drawn by static/js/analytics.js (each canvas marks itself)."""
    expect(page.locator("canvas[data-analytics-chart]")).to_have_count(count)
    expect(page.locator("canvas[data-chart-drawn]")).to_have_count(count)


def test_analytics_pages(live_server, new_context, screenshot, app):
    user = factories.make_user("marketer@example.com", name="Mia Marketer")
    account = factories.make_account(user, "Mia's Studio")
    funnel = report_data.sales_funnel(account, user)
    other = report_data.sales_funnel(account, user, name="Webinar")
    traffic = report_data.known_traffic(funnel)
    report_data.known_orders(account, funnel, other, traffic["at"])
    base = live_server.url
    _, page = new_context()

    def shot(name: str):
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, name, phone=True)

    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)

    # the Analytics section: every funnel with its last 30 days
    page.get_by_role("link", name="Analytics", exact=True).click()
    row = page.locator("#analytics-funnels tr").filter(has_text="Spring sale")
    expect(row).to_contain_text("$70.00")
    expect(page.locator("#analytics-funnels tr").filter(has_text="Webinar")).to_contain_text("$50.00")
    shot("analytics-index")

    # the overview
    row.get_by_role("link", name="Spring sale").click()
    expect(page.locator("#fig-unique")).to_have_text("4")
    expect(page.locator("#fig-revenue")).to_have_text("$70.00")
    charts_drawn(page, 2)
    shot("overview")

    # the steps: the order form by week over the last 90 days, then days of more than a year: refused
    page.get_by_role("link", name="Steps", exact=True).click()
    expect(page.locator("#step-name")).to_have_text("Landing")
    page.get_by_role("link", name="Last 90 days").click()
    expect(page.locator("#analytics-period")).to_contain_text("(90 days)")
    page.get_by_label("Step", exact=True).select_option(label="2. Order form")
    page.get_by_label("Group by").select_option("week")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#step-name")).to_have_text("Order form")
    expect(page.locator("#fig-dropoffs")).to_have_text("1")
    charts_drawn(page, 4)  # over time, sources, devices, browsers
    shot("steps")
    page.get_by_label("From", exact=True).fill("2024-01-01")
    page.get_by_label("To", exact=True).fill("2025-06-30")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#date_from-error")).to_contain_text("longer than a year")
    expect(page.locator("#analytics-error")).to_be_visible()

    # conversions, drop-offs, revenue (the range of the tab links: the last 30 days again)
    page.get_by_role("link", name="Last 30 days").click()
    expect(page.locator("#analytics-period")).to_contain_text("(30 days)")
    page.get_by_role("link", name="Conversions", exact=True).click()
    expect(page.locator("#fig-conversions")).to_have_text("3")
    expect(page.locator("#converting-visitors tbody tr")).to_have_count(2)
    charts_drawn(page, 2)
    shot("conversions")
    page.get_by_role("link", name="Drop-offs", exact=True).click()
    expect(page.locator("#fig-overall")).to_have_text("75.0%")
    expect(page.get_by_text("High", exact=True)).to_be_visible()
    charts_drawn(page, 1)
    shot("dropoffs")
    page.get_by_role("link", name="Revenue", exact=True).click()
    expect(page.locator("#fig-net")).to_have_text("$70.00")
    charts_drawn(page, 2)
    shot("revenue")

    # realtime: a visit arrives, the page shows it within a few seconds, without a reload
    page.get_by_role("link", name="Realtime", exact=True).click()
    expect(page.locator("#fig-active")).to_have_text("0")
    visitor = uuid.uuid4()
    with app.app_context():
        ingest.ingest_events(report_data.path_rows(funnel, visitor, reports.now(), 2, seconds=(5, 600))[:-1])
    expect(page.locator("#fig-active")).to_have_text("1", timeout=15_000)
    expect(page.locator("#active-by-step tr").filter(has_text="Order form")).to_contain_text("1")
    charts_drawn(page, 1)
    shot("realtime")

    # a visitor's journey, from a converting visitor
    page.goto(base + f"/analytics/funnels/{funnel.id}/conversions")
    page.locator("#converting-visitors tbody a").last.click()
    expect(page.get_by_role("heading", level=1, name="Visitor journey")).to_be_visible()
    expect(page.locator("#fig-sessions")).to_have_text("2")
    shot("journey")

    # a funnel never visited: how tracking starts
    page.goto(base + f"/analytics/funnels/{other.id}")
    expect(page.get_by_role("heading", name="No visits yet")).to_be_visible()
    expect(page.locator("#analytics-empty")).to_contain_text("Tracking starts when the funnel is published")
    shot("never-visited")
    assert traffic["at"] < reports.now() - timedelta(days=1)

    # the order analytics chart (static/js/charts.js), reached by a boosted navigation from pages whose charts
    # already loaded Chart.js (Leadforge.withLibrary loads it once per document), and on a page of its own
    page.goto(base + f"/analytics/funnels/{funnel.id}")
    charts_drawn(page, 2)
    page.get_by_role("link", name="Order analytics", exact=True).click()
    expect(page.locator("canvas#analytics-chart[data-chart-drawn]")).to_have_count(1)
    page.goto(base + "/orders/analytics")
    expect(page.locator("canvas#analytics-chart[data-chart-drawn]")).to_have_count(1)
    assert page.evaluate("document.querySelectorAll('script[src*=\"chart.umd\"]').length") == 1
