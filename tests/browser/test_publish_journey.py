"""From a template to a lead in the CRM, in a real browser, as the issue describes it:

a marketer creates a funnel from the lead-magnet template, opens its opt-in page in the builder, drags a
new headline and a form into its closing section, edits the headline's text and colour and the form's tags
in the panel, reorders the two by dragging, looks at the page at tablet and phone widths, and publishes
the funnel. A visitor on a phone opens the published address on the site host (another origin), sends
the form empty, then with a bad e-mail (the message shows, what was typed stays), then right, and lands
on the thank-you step. The marketer finds the contact, with the form's tags, in the CRM.

Screenshots land in test-artifacts/browser/publish/.
"""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from app.crm.models import Contact
from app.extensions import db
from tests import factories
from tests.browser.conftest import PHONE, drag_onto, stub_video_players

pytestmark = pytest.mark.browser
SCREENSHOTS = "publish"  # test-artifacts/browser/publish/

VISITOR = "ines.visitor@example.com"
NEW_HEADLINE = "Join 14,000 readers this spring"
BUTTON = "Send me the spring edition"
TAGS = ["spring-list", "playbook"]
CLOSING = "Your next subscriber could be your next customer"  # the template's last call to action


def saved(page):
    expect(page.locator("#lf-status")).to_have_attribute("data-state", "saved")


def closing_section_items(page):
    """The elements in the first column of the template's closing call to action, top to bottom."""
    return page.locator("#lf-canvas [data-type='section']").filter(has_text=CLOSING).locator(
        ".lf-col__body").first.locator(":scope > [data-element-id]")


def test_from_template_to_a_lead_in_the_crm(live_server, new_context, screenshot):
    user = factories.make_user("mara@example.com", name="Mara Marketer")
    factories.make_account(user, "Mara's Shop")
    context, page = new_context()
    stub_video_players(context)
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)

    # ---- a funnel from the lead-magnet template ----------------------------------------------------------
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Templates").click()
    page.locator(".tpl-card", has_text="Lead magnet").get_by_role("link", name="Use template").click()
    page.get_by_label("Funnel name").fill("Spring playbook")
    page.get_by_label("Address (slug)").fill("Spring Playbook")  # normalised to spring-playbook
    page.get_by_role("button", name="Create funnel").click()
    expect(page).to_have_url(re.compile(r"/funnels/[0-9a-f-]{36}$"))
    steps = page.locator(".fn-step")
    expect(steps).to_have_count(2)
    expect(steps.first).to_contain_text(live_server.site_url + "/spring-playbook/free-playbook")
    funnel_url = page.url

    # ---- the builder: drag a new headline and a form into the closing section----------------------------
    steps.first.get_by_role("link", name="Edit page").click()
    expect(page.get_by_role("navigation", name="Where you are")).to_contain_text("Spring playbook")
    saved(page)
    items = closing_section_items(page)
    items.first.scroll_into_view_if_needed()  # the library stays in view beside the canvas
    count, first_text = items.count(), items.first.inner_text()
    drag_onto(page, page.locator('.lf-tile[data-type="headline"]'), items.first)
    expect(items).to_have_count(count + 1)
    expect(items.first).to_have_text("Your headline here")  # a new headline, above the old first element
    saved(page)
    expect(page.locator("#lf-panel h2")).to_have_text("Headline")  # the new element is selected
    new_headline = items.first

    # its text and colour, in the panel: the canvas follows
    page.get_by_role("textbox", name="Text", exact=True).fill(NEW_HEADLINE)
    expect(new_headline).to_have_text(NEW_HEADLINE)
    saved(page)
    page.get_by_text("Style", exact=True).click()
    page.get_by_label("Text colour", exact=True).fill("#b91c1c")
    expect(new_headline).to_have_attribute("style", re.compile("color:#b91c1c"))
    saved(page)

    # a form, dropped below the new headline; its button label and tags in the panel
    drag_onto(page, page.locator('.lf-tile[data-type="form"]'), items.nth(1))
    expect(items).to_have_count(count + 2)
    expect(items.nth(1)).to_have_attribute("data-type", "form")
    saved(page)
    expect(page.locator("#lf-panel h2")).to_have_text("Form")
    page.get_by_label("Button label").fill(BUTTON)
    page.get_by_label("Tags to add to the contact").fill("\n".join(TAGS))
    new_form = page.locator("#lf-canvas [data-type='form']").filter(has_text=BUTTON)
    expect(new_form).to_have_count(1)
    saved(page)
    screenshot(page, "builder-desktop")

    # reorder by dragging: the form, taken by its button (its middle is its e-mail field, which moves
    # alone), above the headline
    # Both well inside the canvas first: near its edges SortableJS scrolls it while the pointer waits.
    new_headline.evaluate("el => el.scrollIntoView({block: 'center'})")
    drag_onto(page, new_form.locator(".lf-form__actions"), new_headline)
    expect(items.first).to_have_attribute("data-type", "form")
    saved(page)
    expect(items.nth(1)).to_have_text(NEW_HEADLINE)
    expect(items.nth(2)).to_have_text(first_text)

    # the page at tablet and phone widths
    page.get_by_role("button", name="Tablet").click()
    expect(page.locator("#lf-frame")).to_have_attribute("data-device", "tablet")
    screenshot(page, "builder-tablet")
    page.get_by_role("button", name="Mobile").click()
    page.wait_for_function("() => document.getElementById('lf-frame').getBoundingClientRect().width === 390")
    new_form.scroll_into_view_if_needed()
    screenshot(page, "builder-mobile")

    # ---- publish the funnel (both steps) ------------------------------------------------------------------
    page.goto(funnel_url)
    page.get_by_role("button", name="Publish funnel").click()
    expect(page.get_by_text("is published: visitors can open it now")).to_be_visible()
    expect(page.locator(".fn-step").filter(has_text="Published")).to_have_count(2)

    # ---- a visitor on a phone, on the site host ------------------------------------------------------------
    visitor_context, visitor = new_context(viewport=PHONE)
    stub_video_players(visitor_context)
    visitor.goto(live_server.site_url + "/spring-playbook")
    assert visitor.url.startswith(live_server.site_url)
    expect(visitor.get_by_role("heading", name=NEW_HEADLINE)).to_be_visible()
    form = visitor.locator("form").filter(has=visitor.get_by_role("button", name=BUTTON))
    form.scroll_into_view_if_needed()
    screenshot(visitor, "published-opt-in-phone")
    assert not visitor.evaluate("() => document.documentElement.scrollWidth > innerWidth")

    form.get_by_role("button", name=BUTTON).click()  # empty: the browser's own check stops it first
    expect(visitor).to_have_url(re.compile(r"/spring-playbook/?$"))
    form.evaluate("f => f.noValidate = true")  # what a browser without validation would send
    form.get_by_role("button", name=BUTTON).click()
    errors = visitor.get_by_role("alert").filter(has_text="Please check the form")
    expect(errors).to_contain_text("Your e-mail is required")
    expect(errors).to_be_in_viewport()  # the page opens on the problems, not at its top
    expect(errors).to_be_focused()
    form = visitor.locator("form").filter(has=visitor.get_by_role("button", name=BUTTON))
    form.evaluate("f => f.noValidate = true")
    form.get_by_label("Your e-mail").fill("ines.visitor@example")
    form.get_by_role("button", name=BUTTON).click()
    expect(visitor.get_by_role("alert").filter(has_text="Please check the form")).to_contain_text(
        "Enter a valid e-mail address")
    form = visitor.locator("form").filter(has=visitor.get_by_role("button", name=BUTTON))
    expect(form.get_by_label("Your e-mail")).to_have_value("ines.visitor@example")  # kept
    screenshot(visitor, "published-form-error-phone")
    assert db.session.execute(select(func.count()).select_from(Contact)).scalar_one() == 0

    form.get_by_label("Your e-mail").fill(VISITOR)
    form.get_by_role("button", name=BUTTON).click()
    expect(visitor).to_have_url(live_server.site_url + "/spring-playbook/thank-you")
    expect(visitor.get_by_role("heading", level=1)).to_contain_text("Your playbook is ready")
    screenshot(visitor, "published-thank-you-phone")

    # ---- the marketer finds the lead, with the form's tags --------------------------------------------------
    page.goto(live_server.url + "/contacts")
    page.get_by_label("Search").press_sequentially("ines.visitor", delay=30)
    row = page.locator("tbody tr").filter(has_text=VISITOR)
    expect(row).to_have_count(1)
    row.get_by_role("link").first.click()
    tags = page.get_by_role("list", name=re.compile("^Tags of"))
    for tag in TAGS:
        expect(tags.get_by_role("listitem").filter(has_text=tag)).to_be_visible()
    screenshot(page, "crm-contact")
    db.session.expire_all()
    contact = db.session.execute(select(Contact).where(Contact.email == VISITOR)).scalar_one()
    assert contact.source == "form"
    assert sorted(tag.name for tag in contact.tags) == sorted(TAGS)
