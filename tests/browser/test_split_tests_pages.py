"""The split-test pages in a real browser: start a test from the steps page (the total of the traffic shares
updates as it is typed; a split that does not add up to 100 is refused next to it), read the results with
a winner, promote it. No console or CSP errors, and each page fits a phone.
Screenshots (desktop and phone) land in test-artifacts/browser/split-tests/."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import insert, select

from app.analytics.models import Exposure
from app.extensions import db
from app.funnels import services as funnels
from app.funnels.models import Page, SplitTest
from app.pages import tree as trees
from tests import factories

pytestmark = pytest.mark.browser
SCREENSHOTS = "split-tests"


def test_split_test_pages(live_server, new_context, screenshot):
    user = factories.make_user("marketer@example.com", name="Mia Marketer")
    account = factories.make_account(user, "Mia's Studio")
    funnel = funnels.create_funnel(account, {"name": "Free guide", "slug": "free-guide"}, user)
    funnel_id, step_id = funnel.id, funnel.steps[0].id
    _, page = new_context()

    def shot(name: str):
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, name, phone=True)

    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"{live_server.url}/funnels/{funnel_id}")
    page.get_by_role("link", name="Start a split test of Opt-in").click()
    expect(page.get_by_role("heading", level=1, name="New split test")).to_be_visible()
    page.get_by_label("Test name").fill("Shorter headline")
    page.get_by_label("Variant B name").fill("Short")
    weights = page.locator("[data-split-weight]")
    weights.nth(1).fill("40")
    expect(page.locator("[data-split-sum]")).to_have_text("90")
    expect(page.locator("[data-split-note]")).to_contain_text("10% left to share")
    shot("split-test-new")
    page.get_by_role("button", name="Start split test").click()
    expect(page.locator("#weights-error")).to_have_text("The traffic split must add up to 100% (it adds up to 90%).")
    page.get_by_label("Variant C name").fill("Bold")
    page.locator("[data-split-weight]").nth(2).fill("10")
    expect(page.locator("[data-split-sum]")).to_have_text("100")
    page.get_by_role("button", name="Start split test").click()
    expect(page.get_by_role("heading", level=1, name="Shorter headline")).to_be_visible()
    test = db.session.execute(select(SplitTest)).scalar_one()
    assert [(v.name, v.weight) for v in test.variants] == [("Original", 50), ("Short", 40), ("Bold", 10)]
    expect(page.locator("#verdict")).to_contain_text("No visitors yet")

    # Traffic: Short converts clearly better, every variant past the minimum sample.
    when = datetime.now(UTC) - timedelta(hours=1)
    for variant, visitors, converted in zip(test.variants, (1000, 800, 200), (100, 140, 22)):
        db.session.execute(insert(Exposure), [
            {"account_id": account.id, "test_id": test.id, "visitor_id": uuid.uuid4(), "variant_id": variant.id,
             "first_seen_at": when, "conversions": int(i < converted), "value_cents": 900 if i < converted else 0}
            for i in range(visitors)])
    db.session.commit()
    page.reload()
    expect(page.get_by_role("heading", name="Winner: Short")).to_be_visible()
    expect(page.locator("#sample")).to_contain_text("Every variant has reached the minimum sample")
    expect(page.locator(f"#variant-{test.variants[1].id}")).to_contain_text("+75.0%")
    shot("split-test-results")

    page.get_by_role("button", name="Promote Short").click()
    page.locator("#promote-winner").get_by_role("button", name="Promote").click()
    expect(page.locator("#toasts")).to_contain_text("Short is now the page of")
    db.session.expire_all()
    test = db.session.get(SplitTest, test.id)
    assert test.status == "completed" and test.winner_variant_id == test.variants[1].id
    step_page = db.session.execute(select(Page).where(Page.step_id == step_id, Page.is_variant.is_(False))).scalar_one()
    assert step_page.tree == trees.validate(test.variants[1].page.tree)  # (the defaults filled in)
    expect(page.locator("#verdict")).to_contain_text("was declared the winner")
