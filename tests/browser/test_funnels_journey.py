"""Funnels in a real browser, as a marketer uses them: from the empty list, create a funnel with the form
(watching its public address take shape), add a step, drag the steps into a new order, then open the
versions, look at an old version of a page and restore it, and find the old content back.
Screenshots (desktop and phone) land in test-artifacts/browser/funnels/."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.builder import services as builder
from app.extensions import db
from app.funnels.models import Funnel, Page
from app.pages import tree as trees
from tests import factories
from tests.browser.conftest import drag_above

pytestmark = pytest.mark.browser
SCREENSHOTS = "funnels"  # test-artifacts/browser/funnels/


def headline_page(text: str) -> dict:
    tree = trees.empty_page()
    tree["children"] = [trees.section_with([trees.new_element("headline", {"text": text})])]
    return tree


def step_names(page) -> list[str]:
    return page.locator("#steps .fn-step .fn-step-name").all_inner_texts()


def test_funnels_journey(live_server, new_context, screenshot, app):
    user = factories.make_user("marketer@example.com", name="Mia Marketer")
    account = factories.make_account(user, "Mia's Studio")
    _, page = new_context()

    def shot(name: str):
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, name, phone=True)

    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)

    # ---- 1. The empty list, then the form ----------------------------------------------------------------
    page.goto(live_server.url + "/funnels")
    expect(page.get_by_role("heading", name="No funnels yet")).to_be_visible()
    expect(page.get_by_role("link", name="Browse templates")).to_be_visible()
    shot("funnels-empty")
    page.get_by_role("link", name="Create a funnel").click()
    expect(page.get_by_role("heading", level=1, name="New funnel")).to_be_visible()
    page.get_by_label("Name").fill("Été Webinar 2026")
    expect(page.locator("[data-slug-output]")).to_have_text("ete-webinar-2026")  # the address, live
    page.get_by_label("Type").select_option("webinar")
    page.get_by_label("Address (slug)").fill("Spring Webinar")
    expect(page.locator("[data-slug-output]")).to_have_text("spring-webinar")
    shot("funnel-new")
    page.get_by_role("button", name="Create funnel").click()
    expect(page.get_by_role("heading", level=1, name="Été Webinar 2026")).to_be_visible()
    expect(page.locator("#toasts")).to_contain_text("created")
    funnel = db.session.execute(select(Funnel)).scalar_one()
    assert (funnel.slug, funnel.funnel_type) == ("spring-webinar", "webinar")

    # ---- 2. Add a step --------------------------------------------------------------------------------
    page.get_by_label("Step name").fill("Replay")
    page.get_by_label("Step type").select_option("upsell")
    page.get_by_role("button", name="Add step").click()
    expect(page.locator("#steps .fn-step")).to_have_count(3)
    assert step_names(page) == ["Opt-in", "Thank you", "Replay"]
    expect(page.locator("#steps")).to_contain_text(live_server.site_url + "/spring-webinar/replay")

    # ---- 3. Drag "Replay" above "Thank you", then move it to the top with the keyboard-friendly arrow ---
    rows = page.locator("#steps .fn-step")
    drag_above(page, rows.nth(2).locator(".drag-handle"), rows.nth(1))
    expect(page.locator("#steps .fn-step").nth(1)).to_contain_text("Replay")
    expect(page.locator("#steps [data-sortable]")).not_to_have_attribute("aria-busy", "true")
    db.session.expire_all()
    assert [s.name for s in db.session.get(Funnel, funnel.id).steps] == ["Opt-in", "Replay", "Thank you"]
    page.get_by_role("button", name="Move Replay up").click()
    expect(page.locator("#steps .fn-step").first).to_contain_text("Replay")
    assert step_names(page) == ["Replay", "Opt-in", "Thank you"]
    db.session.expire_all()
    assert [s.name for s in db.session.get(Funnel, funnel.id).steps] == ["Replay", "Opt-in", "Thank you"]
    shot("funnel-page")

    # ---- 4. The opt-in page changes twice (as the builder would save it) -------------------------------
    db.session.expire_all()
    opt_in = db.session.get(Funnel, funnel.id).steps[1]
    page_row = db.session.get(Page, opt_in.page.id)
    builder.save_tree(account, page_row, headline_page("Join the spring webinar"), user)
    builder.save_tree(account, db.session.get(Page, page_row.id), headline_page("Watch the replay now"), user)

    # ---- 5. Versions: look at the old page and restore it ---------------------------------------------
    page.get_by_role("link", name="Versions").click()
    expect(page.get_by_role("heading", level=1, name="Versions")).to_be_visible()
    expect(page.locator("#version-table tbody tr").first).to_contain_text("Opt-in: Edited the page")
    shot("versions")
    old_row = page.locator("#version-table tbody tr").nth(1)
    expect(old_row).to_contain_text("Opt-in: Edited the page")
    old_row.get_by_role("link", name=re.compile("^View version")).click()
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Version \d+$"))).to_be_visible()
    frame = page.frame_locator("iframe.fn-preview-frame")
    expect(frame.get_by_text("Join the spring webinar")).to_be_visible()
    shot("version-page")
    page.get_by_role("button", name="Restore this version").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Restore version")
    dialog.get_by_role("button", name="Restore", exact=True).click()
    expect(page.locator("#toasts")).to_contain_text("restored")
    expect(page.locator("#version-table tbody tr").first).to_contain_text("Opt-in: Restored version")
    db.session.expire_all()
    assert "Join the spring webinar" in str(db.session.get(Page, page_row.id).tree)

    # The newest version is the restored page: the old content is what it shows.
    page.locator("#version-table tbody tr").first.get_by_role("link", name=re.compile("^View version")).click()
    expect(page.frame_locator("iframe.fn-preview-frame").get_by_text("Join the spring webinar")).to_be_visible()
    expect(page.get_by_role("button", name="Restore this version")).to_be_disabled()

    # ---- 6. The list with the funnel ------------------------------------------------------------------
    page.goto(live_server.url + "/funnels")
    row = page.locator(f"#funnel-{funnel.id}")
    expect(row).to_contain_text("Été Webinar 2026")
    expect(row).to_contain_text("Draft")
    shot("funnels-list")
