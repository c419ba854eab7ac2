"""The page builder in a real browser: drag a headline from the library into the section, edit its text
and colour in the panel and see the canvas follow, reorder two elements by dragging, undo, reload, redo,
switch to the mobile width. Screenshots of the builder at each width land in test-artifacts/browser/builder/.
"""
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.funnels import services as funnels
from app.funnels.models import Page
from app.pages import tree as trees
from tests import factories
from tests.browser.conftest import drag_onto as drag

pytestmark = pytest.mark.browser
SCREENSHOTS = "builder"  # test-artifacts/browser/builder/

PASSWORD = factories.PASSWORD


def saved(page):
    expect(page.locator("#lf-status")).to_have_attribute("data-state", "saved")


def first_in_column(page):
    return page.locator("#lf-canvas .lf-col__body > [data-element-id]").first


def canvas_types(page):
    return page.locator("#lf-canvas .lf-col__body > [data-element-id]").evaluate_all(
        "nodes => nodes.map(n => n.getAttribute('data-type'))")


def test_build_a_page(live_server, new_context, screenshot, app):
    user = factories.make_user("builder@example.com", name="Bea Builder")
    account = factories.make_account(user, "Bea's Studio")
    funnel = funnels.create_funnel(account, {"name": "Spring guide"}, user)
    page_id = funnel.steps[0].page.id
    # The opt-in page starts with a subheadline in its empty section's column.
    page_row = db.session.get(Page, page_id)
    column = next(node for node, _, _ in trees.walk(page_row.tree) if node["type"] == "columns")
    subheadline = trees.new_element("subheadline", {"text": "Free for 7 days"})
    tree, _ = trees.insert(page_row.tree, column["id"], 0, subheadline)
    from app.builder import services

    services.save_tree(account, page_row, tree, user)

    _, page = new_context()
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{live_server.url}/builder/{page_id}")
    expect(page.get_by_role("navigation", name="Where you are")).to_contain_text("Spring guide")
    saved(page)
    screenshot(page, "builder-desktop")

    # ---- drag a headline tile from the library into the section's column, above the subheadline ----
    subheadline = page.locator('#lf-canvas [data-type="subheadline"]')
    drag(page, page.locator('.lf-tile[data-type="headline"]'), subheadline)
    headline = page.locator('#lf-canvas [data-type="headline"]')
    expect(headline).to_have_count(1)
    saved(page)
    assert canvas_types(page) == ["headline", "subheadline"]
    expect(page.locator("#lf-panel h2")).to_have_text("Headline")  # the new element is selected

    # ---- edit its text and colour in the panel: the canvas follows ----
    page.get_by_role("textbox", name="Text", exact=True).fill("Grow your list this spring")
    expect(headline).to_have_text("Grow your list this spring")
    saved(page)
    page.get_by_text("Style", exact=True).click()
    page.get_by_label("Text colour", exact=True).fill("#b91c1c")
    expect(headline).to_have_attribute("style", re.compile("color:#b91c1c"))
    saved(page)
    screenshot(page, "builder-edited-headline")

    # ---- a bad value: the message shows next to the field, nothing is saved ----
    page.get_by_label("Font size (px)").fill("900")
    expect(page.locator('[data-error-for="s.font_size"]')).to_contain_text("between 8 and 120")
    page.get_by_label("Font size (px)").fill("48")
    expect(page.locator('[data-error-for="s.font_size"]')).to_be_hidden()
    saved(page)

    # ---- reorder by dragging: the subheadline above the headline ----
    drag(page, subheadline, headline)
    expect(first_in_column(page)).to_have_attribute("data-type", "subheadline")
    saved(page)
    assert canvas_types(page) == ["subheadline", "headline"]

    # ---- undo (the reorder), reload, redo: the history lives with the page on the server ----
    page.locator("#lf-undo").click()
    saved(page)
    expect(first_in_column(page)).to_have_attribute("data-type", "headline")
    page.reload()
    assert canvas_types(page) == ["headline", "subheadline"]
    expect(page.locator("#lf-redo")).to_be_enabled()
    page.locator("#lf-redo").click()
    saved(page)
    expect(first_in_column(page)).to_have_attribute("data-type", "subheadline")

    # ---- keyboard: focus the headline, duplicate it, delete the copy ----
    headline = page.locator('#lf-canvas [data-type="headline"]')
    headline.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#lf-panel h2")).to_have_text("Headline")
    page.keyboard.press("Control+d")
    expect(page.locator('#lf-canvas [data-type="headline"]')).to_have_count(2)
    saved(page)
    page.locator('#lf-canvas [data-type="headline"]').nth(1).focus()
    page.keyboard.press("Delete")
    expect(page.locator('#lf-canvas [data-type="headline"]')).to_have_count(1)
    saved(page)
    # move up and down without the mouse
    assert canvas_types(page) == ["subheadline", "headline"]
    page.locator('#lf-canvas [data-type="headline"]').focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Alt+ArrowUp")
    saved(page)
    expect(first_in_column(page)).to_have_attribute("data-type", "headline")
    page.keyboard.press("Alt+ArrowDown")
    saved(page)
    expect(first_in_column(page)).to_have_attribute("data-type", "subheadline")

    # ---- device widths ----
    page.get_by_role("button", name="Tablet").click()
    expect(page.locator("#lf-frame")).to_have_attribute("data-device", "tablet")
    screenshot(page, "builder-tablet")
    page.get_by_role("button", name="Mobile").click()
    expect(page.locator("#lf-frame")).to_have_attribute("data-device", "mobile")
    page.wait_for_function("() => document.getElementById('lf-frame').getBoundingClientRect().width === 390")
    screenshot(page, "builder-mobile")

    # ---- publishing checks: an image without alt text is listed, "Show" selects it ----
    page.get_by_role("button", name="Desktop").click()
    drag(page, page.locator('.lf-tile[data-type="image"]'), page.locator('#lf-canvas [data-type="headline"]'),
         below=True)
    expect(page.locator('#lf-canvas [data-type="image"]')).to_have_count(1)
    saved(page)
    page.locator('#lf-canvas [data-type="subheadline"]').click()
    expect(page.locator("#lf-panel h2")).to_have_text("Subheadline")
    page.get_by_role("button", name="Publish", exact=True).click()
    problems = page.get_by_role("dialog", name="Before you publish")
    expect(problems).to_contain_text("no alt text")
    screenshot(page, "builder-publish-problems")
    problems.get_by_role("link", name="Show").click()
    expect(page.locator("#lf-panel h2")).to_have_text("Image")
    expect(page.locator('#lf-canvas [data-type="image"]')).to_have_class(re.compile("lf-selected"))
    page.get_by_label("Alt text").fill("A jar of spring flowers")
    saved(page)
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Visitors see this page at")).to_be_visible()
    expect(page.locator("#lf-publish-button")).to_have_text("Republish")
    screenshot(page, "builder-published")

    # ---- page settings: SEO fields with counters, saved in the dialog ----
    page.get_by_role("button", name="Page settings").click()
    dialog = page.get_by_role("dialog", name="Page settings")
    dialog.get_by_label("SEO title").fill("The spring list-building guide")
    expect(dialog.locator("#ps-seo_title-count")).to_have_text("30")
    dialog.get_by_role("button", name="Save settings").click()
    expect(dialog.get_by_text("Settings saved.")).to_be_visible()
    screenshot(page, "builder-page-settings")
    dialog.get_by_role("button", name="Close").click()

    # ---- on a phone: the canvas, with the library and the panel as drawers ----
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Elements").click()
    expect(page.locator("#lf-library")).to_be_visible()
    screenshot(page, "builder-phone-library")
    page.locator("#lf-library [data-drawer-close]").click()
    overflow = page.evaluate("() => document.documentElement.scrollWidth > innerWidth")
    assert not overflow
    screenshot(page, "builder-phone")


TOOLBAR_JS = """() => {
  const bar = document.querySelector(".lf-bar");
  const outside = [...bar.querySelectorAll("button, a, summary, .lf-status")]
    .filter(el => el.offsetParent !== null)
    .map(el => [el.id || el.className || el.textContent.trim(), el.getBoundingClientRect()])
    .filter(([, box]) => box.right > innerWidth + 0.5 || box.left < -0.5)
    .map(([name, box]) => `${name} ${Math.round(box.left)}-${Math.round(box.right)}`);
  const last = [...bar.querySelectorAll("button, a, summary")].filter(el => el.offsetParent !== null).pop();
  return {outside, page: document.documentElement.scrollWidth, last: last.id,
          lastRight: last.getBoundingClientRect().right};
}"""


def test_the_toolbar_fits_laptop_widths(live_server, new_context, screenshot):
    """At 1280, 1366 and 1440 px every control of the top bar is on the screen, the last one (publish) too,
    in its widest state: a long funnel name, a published page with changes to publish, undo and redo."""
    from app.funnels import publishing

    user = factories.make_user("laptop@example.com", name="Lee Laptop")
    account = factories.make_account(user, "Lee's Studio")
    funnel = funnels.create_funnel(account, {"name": "Free playbook: Inbox to Income, the complete series"}, user)
    page_row = funnel.steps[0].page
    publishing.publish_page(account, page_row, user)
    column = next(node for node, _, _ in trees.walk(page_row.tree) if node["type"] == "columns")
    from app.builder import services

    for text in ("One", "Two"):
        tree, _ = trees.insert(page_row.tree, column["id"], 0, trees.new_element("headline", {"text": text}))
        services.save_tree(account, page_row, tree, user)
    services.undo(account, page_row, user)  # something to undo and something to redo

    _, page = new_context()
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)
    for width, height in ((1280, 800), (1366, 768), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server.url}/builder/{page_row.id}")
        expect(page.locator("#lf-publish-button")).to_have_text("Publish changes")
        expect(page.locator("#lf-redo")).to_be_enabled()
        found = page.evaluate(TOOLBAR_JS)
        screenshot(page, f"builder-toolbar-{width}")
        assert found["last"] == "lf-publish-button" and found["lastRight"] <= width, (width, found)
        assert not found["outside"] and found["page"] <= width, (width, found)
