"""Funnel analytics from a visitor's browser to the marketer's reports, in a real browser:

five visitors open a published lead-magnet funnel (on the site host, another origin than the app), each with
its own browser and device (user agents of Chrome on Windows, an iPhone with a phone's screen, Firefox, an
Android phone, an iPad) and its own way in (a Google ad and the newsletter with UTM parameters, a Facebook ad, a
link on Reddit, typed in). Three send the opt-in form and reach the thank-you page, one types in the form and
leaves, one leaves at once. The tracker (static/site/track.js) reports it all to the track endpoint; the test
drains the ingest, checks the stored events against what the visitors did, then the marketer logs in and reads
the same numbers in the funnel's reports: overview, steps (sources, devices, browsers, paths), conversions,
drop-offs (with why they left) and realtime.

Screenshots land in test-artifacts/browser/analytics/.
"""
import re
import time
from collections import Counter

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.analytics import ingest
from app.analytics.models import AnalyticsEvent
from app.extensions import db
from app.funnels.publishing import publish_funnel
from tests import factories
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PageProblems, stub_video_players
from tests.funnels.test_templates import make_funnel_from

pytestmark = pytest.mark.browser
SCREENSHOTS = "analytics"  # test-artifacts/browser/analytics/

CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/123.0.0.0 Safari/537.36")
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0"
ANDROID_PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/123.0.6312.99 Mobile Safari/537.36")
IPAD = ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        "Mobile/15E148 Safari/604.1")
EVENTS_EXPECTED = 27  # 3 converting visitors x 7 events, 2 who left the first step x 3


@pytest.fixture
def open_visitor(playwright_instance):
    """open_visitor(agent | device=...) -> a page in a browser of the visitor's own, whose user agent is theirs
    for every request: Playwright's per-context user agent is not used for the beacons a page sends as it
    unloads (the browser sends them after the page is gone, with its own user agent: headless Chromium's,
    which the endpoint drops as a bot). So each visitor gets a Chromium started with their user agent, and
    phones and tablets their screen and touch. JavaScript and console errors fail the test as elsewhere."""
    browsers, problems = [], PageProblems()

    def open_one(agent: str | None = None, device: str | None = None, **options) -> object:
        if device:
            options.update({key: value for key, value in playwright_instance.devices[device].items()
                            if key != "default_browser_type"})
            agent = options.pop("user_agent")
        options.setdefault("viewport", DESKTOP)
        browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                      args=[*CHROMIUM_ARGS, f"--user-agent={agent}"])
        browsers.append(browser)
        context = browser.new_context(user_agent=agent, **options)
        context.set_default_timeout(10_000)
        stub_video_players(context)
        return problems.watch(context.new_page())

    try:
        yield open_one
    finally:
        for browser in browsers:
            browser.close()
    assert not problems.items, "the browser reported errors:\n" + "\n".join(problems.items)


def opt_in(page, name: str, email: str) -> None:
    form = page.locator("form.lf-form").first
    form.scroll_into_view_if_needed()
    form.get_by_label("First name").fill(name)
    form.get_by_label(re.compile("e-mail", re.IGNORECASE)).fill(email)
    form.get_by_role("button").click()
    page.wait_for_url(re.compile(r"/thank-you"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def leave(page) -> None:
    """The visitor goes elsewhere: the page is hidden and unloaded, and the tracker sends its exit."""
    page.goto("about:blank")


def drain_until(funnel, count: int, seconds: float = 20) -> list[AnalyticsEvent]:
    """Store what the endpoint buffered until the funnel has `count` events (beacons arrive on their own)."""
    deadline = time.monotonic() + seconds
    while True:
        ingest.drain()
        db.session.expire_all()
        events = db.session.execute(select(AnalyticsEvent).where(AnalyticsEvent.funnel_id == funnel.id)
                                    .order_by(AnalyticsEvent.created_at, AnalyticsEvent.id)).scalars().all()
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.3)


def figure(page, element_id: str) -> str:
    return page.locator(f"#{element_id}").inner_text().strip()


def table_rows(page, table_id: str) -> dict[str, list[str]]:
    """A report table's rows by their first cell."""
    rows = {}
    for row in page.locator(f"#{table_id} tbody tr").all():
        cells = [cell.strip() for cell in row.locator("td").all_inner_texts()]
        rows[cells[0]] = cells[1:]
    return rows


def test_visitors_of_a_published_funnel_show_up_in_its_reports(live_server, new_context, open_visitor, screenshot):
    owner = factories.make_user("rhea@example.com", name="Rhea Reports")
    account = factories.make_account(owner, "Rhea's Studio")
    funnel = make_funnel_from(account, owner, "lead-magnet", slug="inbox-playbook")
    publish_funnel(account, funnel, owner)
    opt_in_step, thanks_step = funnel.steps
    landing = f"{live_server.site_url}/inbox-playbook"

    # ---- the visitors ------------------------------------------------------------------------------------
    # 1. A Google ad, Chrome on Windows: sends the form, sees the thank-you page.
    page = open_visitor(CHROME_WINDOWS)
    page.goto(landing + "?utm_source=google&utm_medium=cpc&utm_campaign=spring-playbook")
    expect(page.locator("script[src^='/_track.js']")).to_have_count(1)
    screenshot(page, "visitor-google-opt-in")
    opt_in(page, "Gail", "gail.google@example.com")
    screenshot(page, "visitor-google-thank-you")
    leave(page)

    # 2. A Facebook ad on an iPhone: starts typing, then leaves.
    page = open_visitor(device="iPhone 13")
    page.goto(landing + "?utm_source=facebook&utm_medium=paid_social&utm_campaign=lookalike")
    page.locator("form.lf-form").first.get_by_label("First name").fill("Fay")
    screenshot(page, "visitor-iphone-typing")
    leave(page)

    # 3. A link on Reddit, Firefox: sends the form.
    page = open_visitor(FIREFOX_WINDOWS)
    page.goto(landing, referer="https://www.reddit.com/r/marketing/")
    opt_in(page, "Reed", "reed.reddit@example.com")
    leave(page)

    # 4. Typed in, an Android phone: leaves at once.
    page = open_visitor(ANDROID_PHONE, viewport={"width": 412, "height": 915},
                        is_mobile=True, has_touch=True)
    page.goto(landing)
    leave(page)

    # 5. The newsletter, an iPad: sends the form.
    page = open_visitor(IPAD, viewport={"width": 820, "height": 1180},
                        is_mobile=True, has_touch=True)
    page.goto(landing + "?utm_source=newsletter&utm_medium=email&utm_campaign=weekly")
    opt_in(page, "Nina", "nina.newsletter@example.com")
    leave(page)

    # ---- what the tracker reported -------------------------------------------------------------------------
    events = drain_until(funnel, EVENTS_EXPECTED)
    assert len(events) == EVENTS_EXPECTED, Counter((e.source, e.event_type) for e in events)
    by_source = {}
    for event in events:
        by_source.setdefault(event.source, []).append(event)
    assert set(by_source) == {"google", "facebook", "reddit.com", "direct", "newsletter"}
    assert len({event.visitor_id for event in events}) == 5
    for source, visitor_events in by_source.items():
        assert len({event.visitor_id for event in visitor_events}) == 1  # one visitor each,
        assert len({event.session_id for event in visitor_events}) == 1  # in one session
        views = [event for event in visitor_events if event.event_type == "page_view"]
        assert all(event.is_new_visitor for event in views if event.step_id == opt_in_step.id), source
    devices = {source: {event.device_type for event in found} for source, found in by_source.items()}
    assert devices == {"google": {"desktop"}, "facebook": {"mobile"}, "reddit.com": {"desktop"},
                       "direct": {"mobile"}, "newsletter": {"tablet"}}
    browsers = {source: found[0].browser for source, found in by_source.items()}
    assert browsers == {"google": "Chrome", "facebook": "Mobile Safari", "reddit.com": "Firefox",
                        "direct": "Chrome Mobile", "newsletter": "Mobile Safari"}
    google = by_source["google"]
    assert {(event.utm_medium, event.utm_campaign) for event in google} == {("cpc", "spring-playbook")}
    exits = {source: [(event.step_id, event.exit_outcome, event.next_step_id, event.event_metadata.get("exit_reason"))
                      for event in found if event.event_type == "step_exit"] for source, found in by_source.items()}
    for source in ("google", "reddit.com", "newsletter"):
        assert exits[source] == [(opt_in_step.id, "forward", thanks_step.id, None),
                                 (thanks_step.id, "bounce", None, "no_interaction")], source
        conversions = [event for event in by_source[source] if event.event_type == "conversion"]
        assert [(event.conversion_type, event.step_id) for event in conversions] == [("form_submit", opt_in_step.id)]
        entries = [event for event in by_source[source] if event.event_type == "step_entry"]
        assert [(event.step_id, event.previous_step_id) for event in entries] == [
            (opt_in_step.id, None), (thanks_step.id, opt_in_step.id)]
    assert exits["facebook"] == [(opt_in_step.id, "close", None, "form_abandoned")]
    assert exits["direct"] == [(opt_in_step.id, "bounce", None, "no_interaction")]
    assert all(event.time_on_step_seconds is not None for event in events if event.event_type == "step_exit")

    # ---- the marketer reads the same numbers ------------------------------------------------------------------
    _, page = new_context()
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(owner.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Analytics", exact=True).click()
    page.get_by_role("link", name=funnel.name).first.click()
    expect(page.locator("#overview-figures")).to_be_visible()
    assert figure(page, "fig-visits") == "5"
    assert figure(page, "fig-unique") == "5"
    assert figure(page, "fig-conversions") == "3"
    steps = table_rows(page, "overview-steps")
    # Visitors, entries, exits, drop-offs (the Facebook and the direct visitor), ...
    assert steps[opt_in_step.name][:4] == ["5", "5", "5", "2"]
    assert steps[thanks_step.name][:2] == ["3", "3"]
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "overview")

    page.get_by_role("navigation", name="Reports").get_by_role("link", name="Steps").click()
    expect(page.locator("#step-name")).to_have_text(opt_in_step.name)
    assert figure(page, "fig-entries") == "5" and figure(page, "fig-dropoffs") == "2"
    sources = {name: cells[0] for name, cells in table_rows(page, "step-traffic_sources").items()}
    assert sources == {"google": "1", "facebook": "1", "reddit.com": "1", "direct": "1", "newsletter": "1"}
    devices = {name: cells[0] for name, cells in table_rows(page, "step-devices").items()}
    assert devices == {"desktop": "2", "mobile": "2", "tablet": "1"}
    browsers = {name: cells[0] for name, cells in table_rows(page, "step-browsers").items()}
    assert browsers == {"Mobile Safari": "2", "Chrome": "1", "Firefox": "1", "Chrome Mobile": "1"}
    paths = page.locator("#step-paths")
    expect(paths).to_contain_text(thanks_step.name)
    screenshot(page, "steps-opt-in")

    page.get_by_role("navigation", name="Reports").get_by_role("link", name="Conversions").click()
    expect(page.locator("#conversion-figures")).to_be_visible()
    assert figure(page, "fig-conversions") == "3"
    assert table_rows(page, "conversions-by-type")["Form submit"][0] == "3"
    assert table_rows(page, "conversions-by-step")[opt_in_step.name][0] == "3"
    expect(page.locator("#converting-visitors tbody tr")).to_have_count(3)
    screenshot(page, "conversions")

    page.get_by_role("navigation", name="Reports").get_by_role("link", name="Drop-offs").click()
    drop = page.locator(f"#drop-{opt_in_step.id}")
    expect(drop).to_contain_text("2 drop-offs")
    expect(drop).to_contain_text("Form abandoned: 1")
    expect(drop).to_contain_text("No interaction: 1")
    screenshot(page, "dropoffs")

    page.get_by_role("navigation", name="Reports").get_by_role("link", name="Realtime").click()
    expect(page.locator("#fig-active")).to_have_text("5")
    expect(page.locator("#fig-recent-conversions")).to_have_text("3")
    screenshot(page, "realtime")


def test_a_paid_order_reported_by_the_page_is_one_purchase(live_server, open_visitor):
    """checkout.js tells the tracker of a paid order ("lf:purchase", as after /pay): a purchase conversion with
    its value and order id, and the visitor goes on to the step the checkout sends them to. The same order
    reported again (the server's order.paid job does) is not counted twice."""
    owner = factories.make_user("paula@example.com", name="Paula Purchases")
    account = factories.make_account(owner, "Paula's Shop")
    funnel = make_funnel_from(account, owner, "lead-magnet", slug="paid-playbook")
    publish_funnel(account, funnel, owner)
    first, second = funnel.steps
    order_id = "5d6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
    page = open_visitor(CHROME_WINDOWS)
    page.goto(f"{live_server.site_url}/paid-playbook?utm_source=youtube")
    page.evaluate("""([orderId, nextUrl]) => document.dispatchEvent(new CustomEvent("lf:purchase", {detail: {
        order_id: orderId, value_cents: 4700, next_url: nextUrl}}))""",
                  [order_id, f"{live_server.site_url}/paid-playbook/{second.slug}"])
    leave(page)
    events = drain_until(funnel, 4)  # page view, entry, purchase, exit
    purchase = [event for event in events if event.event_type == "conversion"]
    assert [(event.conversion_type, event.value_cents, event.event_metadata["order_id"], event.source)
            for event in purchase] == [("purchase", 4700, order_id, "youtube")]
    exit_event = next(event for event in events if event.event_type == "step_exit")
    assert (exit_event.step_id, exit_event.exit_outcome, exit_event.next_step_id) == (first.id, "forward", second.id)
    again = {column: getattr(purchase[0], column) for column in ("account_id", "funnel_id", "event_type",
                                                               "conversion_type", "value_cents", "visitor_id",
                                                               "session_id", "step_id")}
    assert ingest.ingest_events([{**again, "metadata": {"order_id": order_id}}]) == 0
