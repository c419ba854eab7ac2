"""A sale, end to end in a real browser, against localstripe (its fake Stripe.js in the page): a visitor
goes through the demo sales funnel, fills the order form, ticks the order bump (the summary updates), pays
with a test card, accepts the upsell with one click (no card typed again) and reaches the thank-you page.
Then the marketer finds the order with its three items and total, refunds one item, and sees the order
partially refunded and the contact's timeline telling it. Screenshots land in test-artifacts/browser/checkout/."""
import re

import pytest
from playwright.sync_api import expect

from app.demo import DEMO_EMAIL, DEMO_PASSWORD
from app.extensions import db
from tests.conftest import STRIPE_WEBHOOK_SECRET

pytestmark = pytest.mark.browser
SCREENSHOTS = "checkout"  # test-artifacts/browser/checkout/


@pytest.fixture
def demo_shop(live_server, localstripe_url):
    """The demo workspace's sales funnel with its products, on a live app whose payments go to localstripe."""
    from app.auth import services as auth_services
    from app.funnels.demo import seed_funnels
    from app.funnels.models import Funnel
    from app.orders.demo import seed_orders

    with live_server.app.app_context():  # published with the live app's site address in its links
        owner = auth_services.register(DEMO_EMAIL, DEMO_PASSWORD, "Dana Demo", "Acme Marketing (demo)")
        account = auth_services.memberships_of(owner)[0].account
        seed_funnels(account, owner)
        seed_orders(account, owner)
    saved = {key: live_server.app.config.get(key) for key in (
        "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "STRIPE_JS_URL")}
    live_server.app.config.update(
        STRIPE_SECRET_KEY="sk_test_leadforge", STRIPE_PUBLISHABLE_KEY="pk_test_leadforge",
        STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE=localstripe_url,
        STRIPE_JS_URL=localstripe_url + "/js.stripe.com/v3/")
    funnel = db.session.query(Funnel).filter_by(name="Swipe file offer").one()
    yield {"funnel": funnel}
    live_server.app.config.update(saved)


def test_a_visitor_buys_with_a_bump_and_a_one_click_upsell_then_the_marketer_refunds_an_item(
        live_server, demo_shop, new_context, screenshot):
    funnel = demo_shop["funnel"]
    _, visitor = new_context()

    def shot(name: str, phone: bool = False):
        visitor.evaluate("window.scrollTo(0, 0)")
        screenshot(visitor, name, phone=phone)

    # ---- the visitor: sales page, order form, bump, card, pay ---------------------------------------------
    visitor.goto(f"{live_server.site_url}/{funnel.slug}")
    visitor.get_by_role("link", name="Get instant access for $7").click()
    expect(visitor.get_by_role("heading", level=1)).to_contain_text("one step away")
    expect(visitor.locator(".lf-summary [data-total]")).to_have_text("$7.00")  # loaded from the database
    visitor.get_by_label("First name").fill("Jordan")
    visitor.get_by_label("Last name").fill("Rivera")
    visitor.get_by_label("E-mail for your download").fill("jordan.rivera@example.com")
    visitor.get_by_label(re.compile("Add 30 done-for-you ad designs")).check()
    expect(visitor.locator(".lf-summary [data-total]")).to_have_text("$24.00")  # the summary follows (htmx)
    expect(visitor.locator(".lf-summary")).to_contain_text("Ad Template Pack")
    card = visitor.locator("[data-card]")
    card.get_by_placeholder("number").fill("4242424242424242")
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("30")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("94110")
    shot("order-form", phone=True)
    visitor.get_by_role("button", name="Complete my order").click()

    # ---- the one-click upsell: no card entry ---------------------------------------------------------------
    expect(visitor.get_by_role("heading", level=1)).to_contain_text("profitable ad campaign", timeout=20_000)
    expect(visitor.locator("[data-card]")).to_have_count(0)
    shot("upsell")
    visitor.get_by_role("button", name="Yes! Add the masterclass for $97").click()
    expect(visitor.get_by_role("heading", level=1)).to_contain_text("Thank you", timeout=20_000)
    shot("thank-you")

    # ---- the marketer: the order, a refund of one item, the contact's timeline ------------------------------
    _, page = new_context()

    def app_shot(name: str):
        page.evaluate("window.scrollTo(0, 0)")  # the sticky bars are drawn mid-page on a scrolled full-page shot
        screenshot(page, name)

    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Orders").click()
    page.get_by_label("Customer").fill("jordan.rivera@example.com")
    row = page.locator("tr", has_text="jordan.rivera@example.com")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("$121.00")
    app_shot("orders-list")
    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Order #")
    items = page.locator("table", has_text="Ad Template Pack").first
    for name in ("Scroll-Stopper Swipe File", "Ad Template Pack", "Ad Launch Masterclass"):
        expect(items).to_contain_text(name)
    expect(page.locator("main")).to_contain_text("$121.00")
    app_shot("order-paid")

    refund_of = page.locator("select#refund-item_id")
    refund_of.select_option(refund_of.locator("option", has_text="Ad Template Pack").get_attribute("value"))
    page.get_by_label("Reason").select_option(label="Requested by the customer")
    page.get_by_label("Note").fill("Already had the designs.")
    page.get_by_role("button", name="Refund", exact=True).click()
    expect(page.locator("main")).to_contain_text("Partially refunded")
    expect(page.locator("#order-refunds")).to_contain_text("$17.00")
    app_shot("order-partially-refunded")

    page.get_by_role("link", name=re.compile("Jordan Rivera")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Jordan Rivera")
    expect(page.locator("main")).to_contain_text(re.compile(r"Order #\d+ partially refunded: \$17\.00 of \$121\.00"))
    expect(page.locator("main")).to_contain_text(re.compile(r"Order #\d+ paid"))
    app_shot("contact-timeline")
