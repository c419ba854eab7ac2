"""Issue 11's checks in a real browser, with generated traffic: a split test of a published opt-in step runs
to a declared winner (the generator's visitors see the variant the site would show them and convert a
little differently) and the marketer promotes it; then the funnel's overview is exported as a PDF, the job
runs, and the file is downloaded from the page and from the notification's signed link."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.analytics import abtests, generator
from app.extensions import db
from app.funnels import publishing, splittests
from app.funnels.models import Page, SplitTest
from app.pages import tree as trees
from tests import factories
from tests.conftest import run_jobs
from tests.funnels.test_templates import make_funnel_from

pytestmark = pytest.mark.browser
SCREENSHOTS = "analytics-split-export"


def pdf_start(path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(5)


def test_a_split_test_wins_with_generated_traffic_is_promoted_and_the_pdf_export_downloads(
        live_server, new_context, screenshot):
    user = factories.make_user("marketer@example.com", name="Mia Marketer")
    account = factories.make_account(user, "Mia's Studio")
    funnel = make_funnel_from(account, user, "lead-magnet", slug="free-guide")  # an opt-in form, a thank-you
    publishing.publish_funnel(account, funnel, user)
    opt_in = funnel.steps[0]
    test = splittests.create_test(account, funnel, opt_in, {
        "name": "Shorter headline", "min_sample": 200,
        "variants": [{"name": "Original", "weight": 50}, {"name": "Short", "weight": 50}]}, user)
    short = test.variants[1]
    test_id, funnel_id, short_page_id = test.id, funnel.id, short.page.id

    generator.generate(funnel, 60_000, 7, seed=7)
    results = abtests.test_results(account, db.session.get(SplitTest, test_id))
    visitors = {variant["variant_name"]: variant["visitors"] for variant in results["variants"]}
    assert min(visitors.values()) >= 200 and results["winner"]["variant_id"] == str(short.id)

    _, page = new_context()
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"{live_server.url}/funnels/{funnel_id}/split-tests/{test_id}")
    expect(page.locator("#verdict")).to_contain_text("Winner: Short")
    row = page.get_by_role("row", name="Short")
    expect(row).to_contain_text(f"{visitors['Short']:,}")
    screenshot(page, "split-test-winner")
    page.get_by_role("button", name="Promote Short").click()
    page.locator("#promote-winner").get_by_role("button", name="Promote").click()
    expect(page.locator("#verdict")).to_contain_text("was declared the winner and copied to the step's page")
    db.session.expire_all()
    test = db.session.get(SplitTest, test_id)
    assert test.status == "completed" and test.winner_variant_id == short.id
    step_page = db.session.execute(select(Page).where(Page.step_id == test.step_id, Page.is_variant.is_(False)))
    assert step_page.scalar_one().tree == trees.validate(db.session.get(Page, short_page_id).tree)

    page.goto(f"{live_server.url}/analytics/funnels/{funnel_id}")
    form = page.locator("form", has=page.get_by_role("button", name="Export"))
    form.get_by_label("Report").select_option(label="Overview")
    form.get_by_label("Format").select_option(label="PDF")
    form.get_by_role("button", name="Export").click()
    expect(page.locator(".export-job")).to_contain_text("Overview")
    run_jobs(live_server.app)
    download_link = page.get_by_role("link", name="Download")
    expect(download_link).to_be_visible(timeout=15_000)
    with page.expect_download() as caught:
        download_link.click()
    pdf = caught.value
    assert pdf.suggested_filename.endswith(".pdf")
    assert pdf_start(pdf.path()) == b"%PDF-"
    screenshot(page, "export-ready")

    page.reload()  # the bell counts the notification the job left
    page.get_by_role("link", name="Notifications, 1 unread").click()
    notification = page.get_by_role("button", name="Unread: Your export is ready")
    expect(notification).to_be_visible()
    with page.expect_download() as caught:
        notification.click()
    assert pdf_start(caught.value.path()) == b"%PDF-"
    assert db.session.execute(select(SplitTest.status)).scalar_one() == "completed"
