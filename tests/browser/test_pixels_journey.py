"""Tracking pixels in a real browser: a published page with the five providers' pixels loads our pixels.js and
each provider's library under the site's strict CSP (no violation), sends a page view to each, and a Lead on
the page after the opt-in form, once; a paid order reported by the checkout (lf:purchase) is a Purchase with its
value and currency on the next page, once per order.

No test reaches the internet: the providers' hosts are answered by small stand-ins that record what their
library would have been asked to send (the calls queued by the base code).
"""
import json
import re

import pytest
from playwright.sync_api import expect

from app.funnels import publishing
from app.integrations import pixels
from tests import factories
from tests.site.conftest import make_funnel

pytestmark = pytest.mark.browser

IDS = {"facebook": "123456789012345", "ga4": "G-ABC123XYZ9", "tiktok": "C4ABCDEFGH1234567890",
       "pinterest": "2612345678901", "x": "o1a2b"}
PROVIDER_HOSTS = re.compile(r"^https://(connect\.facebook\.net|[a-z0-9.]*googletagmanager\.com|analytics\.tiktok\.com|"
                            r"s\.pinimg\.com|static\.ads-twitter\.com)/")
# What each library does with the calls queued before it loaded, in these stand-ins: keep them, readable.
STAND_IN = """(function () {
  var w = window; w.__loaded = (w.__loaded || []).concat([document.currentScript.src]);
  if (w.fbq && !w.fbq.callMethod && /facebook/.test(document.currentScript.src)) {
    w.__fb = []; var queued = w.fbq.queue.slice(); w.fbq.queue = [];
    w.fbq.callMethod = function () { w.__fb.push([].slice.call(arguments)); };
    queued.forEach(function (args) { w.fbq.callMethod.apply(null, args); });
  }
})();"""
CALLS = """() => ({
  fb: (window.__fb || []).map(c => c.slice(0, 3)),
  ga: (window.dataLayer || []).map(a => Array.from(a)).filter(a => a[0] !== "js"),
  tt: Array.from(window.ttq || []),
  pin: (window.pintrk && window.pintrk.queue) || [],
  x: ((window.twq && window.twq.queue) || []).map(a => Array.from(a)),
  loaded: window.__loaded || [],
  csp: window.__csp || [],
})"""
WATCH_CSP = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


def calls(page) -> dict:
    return json.loads(json.dumps(page.evaluate(CALLS)))


def test_pixels_load_under_the_csp_and_fire_page_views_leads_and_purchases(live_server, new_context):
    user = factories.make_user("mara@example.com")
    account = factories.make_account(user, "Mara's Shop")
    funnel = make_funnel(account, user)
    publishing.publish_funnel(account, funnel, user)
    for provider, code in IDS.items():
        pixels.create_pixel(account, {"provider": provider, "pixel_code": code})

    context, page = new_context()
    context.add_init_script(WATCH_CSP)
    context.route(PROVIDER_HOSTS, lambda route: route.fulfill(status=200, content_type="text/javascript",
                                                               body=STAND_IN))
    site = live_server.site_url

    # ---- a page view for every provider, every library loaded, no CSP violation ---------------------------
    page.goto(f"{site}/free-guide/opt-in")
    page.wait_for_function("() => (window.__loaded || []).length >= 5")
    seen = calls(page)
    assert seen["csp"] == []
    assert sorted(re.sub(r"^https://([^/]+)/.*$", r"\1", url) for url in seen["loaded"]) == [
        "analytics.tiktok.com", "connect.facebook.net", "s.pinimg.com", "static.ads-twitter.com",
        "www.googletagmanager.com"]
    assert seen["fb"] == [["init", IDS["facebook"]], ["track", "PageView"]]
    assert seen["ga"] == [["config", IDS["ga4"]]]
    assert seen["tt"] == [["page"]] and seen["pin"] == [["load", IDS["pinterest"]], ["page"]]
    assert seen["x"] == [["config", IDS["x"]]]

    # ---- the opt-in form sent: a Lead on the next page, once ----------------------------------------------
    page.get_by_label("Your e-mail").fill("ines@example.com")
    page.get_by_label("First name").fill("Inès")
    page.get_by_role("button", name="Send me the guide").click()
    expect(page).to_have_url(f"{site}/free-guide/thanks")
    page.wait_for_function("() => (window.__loaded || []).length >= 5")
    seen = calls(page)
    assert seen["csp"] == []
    assert ["track", "Lead"] in seen["fb"] and ["event", "generate_lead"] in seen["ga"]
    assert ["track", "Lead"] in seen["tt"] and ["track", "lead"] in seen["pin"]
    page.reload()
    page.wait_for_function("() => (window.__loaded || []).length >= 5")
    assert ["track", "Lead"] not in calls(page)["fb"]  # the note was used once

    # ---- a paid order reported on the order page: a Purchase on the next page, once per order ----------
    page.goto(f"{site}/free-guide/opt-in")
    page.wait_for_function("() => (window.__loaded || []).length >= 5")
    assert ["track", "Lead"] not in calls(page)["fb"]
    for _ in range(2):  # reported twice (the checkout's answer and a retry): one purchase
        page.evaluate("""() => document.dispatchEvent(new CustomEvent("lf:purchase", {detail: {
            order_id: "4f1c2a9e-0000-4000-8000-000000000001", value_cents: 4700, currency: "eur",
            next_url: location.origin + "/free-guide/thanks"}}))""")
    page.goto(f"{site}/free-guide/thanks")
    page.wait_for_function("() => (window.__loaded || []).length >= 5")
    order = "4f1c2a9e-0000-4000-8000-000000000001"
    fb = page.evaluate("() => window.__fb.filter(c => c[1] === 'Purchase')")
    assert fb == [["track", "Purchase", {"value": 47, "currency": "EUR"}, {"eventID": f"order.{order}"}]]
    seen = calls(page)
    assert [call for call in seen["ga"] if call[:2] == ["event", "purchase"]] == [
        ["event", "purchase", {"transaction_id": order, "value": 47, "currency": "EUR"}]]
    assert [call for call in seen["tt"] if call[:2] == ["track", "Purchase"]] == [
        ["track", "Purchase", {"value": 47, "currency": "EUR", "content_type": "product"},
         {"event_id": f"order.{order}"}]]
    assert [call for call in seen["pin"] if call[:2] == ["track", "checkout"]] == [
        ["track", "checkout", {"value": 47, "currency": "EUR", "order_id": order, "order_quantity": 1,
                               "event_id": f"order.{order}"}]]
    assert seen["csp"] == []
    page.reload()
    page.wait_for_function("() => (window.__loaded || []).length >= 5")
    assert page.evaluate("() => window.__fb.filter(c => c[1] === 'Purchase').length") == 0


SCREENSHOTS = "integrations"  # test-artifacts/browser/integrations/


def log_in(page, live_server, user):
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_an_admin_adds_pixels_and_an_inbound_webhook_on_a_desktop_and_a_phone(live_server, new_context, screenshot):
    import httpx

    user = factories.make_user("mara@example.com")
    account = factories.make_account(user, "Mara's Shop")
    funnel = make_funnel(account, user)
    publishing.publish_funnel(account, funnel, user)
    context, page = new_context()
    log_in(page, live_server, user)

    # ---- pixels: a refused id, then a good one; the preview shows the tag ---------------------------------
    page.goto(live_server.url + "/integrations/pixels")
    expect(page.get_by_text("No pixels yet")).to_be_visible()
    page.get_by_label("Provider").select_option("facebook")
    page.get_by_label("Pixel ID").fill('1234"><script>alert(1)</script>')
    page.get_by_role("button", name="Add pixel").click()
    expect(page.locator("#pixel-edit-form")).to_contain_text("is 15 or 16 digits")
    page.get_by_label("Pixel ID").fill("123456789012345")
    page.get_by_role("button", name="Add pixel").click()
    expect(page.locator("#pixels")).to_contain_text("123456789012345")
    expect(page.locator("#preview-html")).to_contain_text('data-facebook="123456789012345"')
    screenshot(page, "pixels", phone=True)

    # ---- an inbound webhook: made, called, its log ----------------------------------------------------------
    page.goto(live_server.url + "/integrations/inbound")
    page.get_by_role("link", name="New inbound webhook").first.click()
    page.get_by_label("Name").fill("Zapier sign-ups")
    page.get_by_label("Tags to add").fill("zapier")
    page.get_by_label("Path in the body, row 1").fill("data.email")
    page.get_by_role("button", name="Add a row").click()
    expect(page.get_by_label("Contact field, row 6")).to_be_visible()
    page.get_by_label("Sample body").fill('{"data": {"email": "ada@example.com"}, "first_name": "Ada"}')
    page.get_by_role("button", name="Try the map").click()
    expect(page.locator("#sample-preview")).to_contain_text("ada@example.com")
    screenshot(page, "inbound-form", phone=True)
    page.get_by_role("button", name="Create webhook").click()
    expect(page.locator("h1")).to_have_text("Zapier sign-ups")
    url = page.locator("#hook-url").inner_text()
    assert httpx.post(url, json={"data": {"email": "ada@example.com"}, "first_name": "Ada"}).status_code == 201
    assert httpx.post(url, content=b"not json").status_code == 400
    page.reload()
    expect(page.locator("#inbound-calls")).to_contain_text("contact created")
    expect(page.locator("#inbound-calls")).to_contain_text("refused: The body is not valid JSON")
    screenshot(page, "inbound-hook", phone=True)
