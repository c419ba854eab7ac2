"""The template gallery in a real browser: browse and filter, preview a template step by step at desktop
and phone widths, create a funnel from it (a taken address is refused first), save that funnel as a
workspace template and find it in the gallery. Screenshots land in test-artifacts/browser/templates/."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import stub_video_players

pytestmark = pytest.mark.browser
SCREENSHOTS = "templates"  # test-artifacts/browser/templates/
# What the first screen of a page offers: the form's first field, or the links and buttons that lead on.
FIRST_SCREEN_JS = """() => {
  const screen = innerHeight, shown = el => el.offsetParent !== null;
  const form = document.querySelector("form.lf-form");
  const field = form && [...form.querySelectorAll("input, select, textarea")]
    .find(el => el.type !== "hidden" && el.name !== "website" && shown(el));
  const actions = [...document.querySelectorAll("a.lf-btn, form.lf-form button[type=submit]")].filter(shown)
    .filter(el => el.getBoundingClientRect().bottom <= screen)
    .map(el => {
      const href = el.getAttribute("href") || "";
      const target = href.startsWith("#") && href.length > 1 ? document.getElementById(href.slice(1)) : null;
      return {label: el.textContent.trim(), href, toForm: !!(target && form && target.contains(form))};
    });
  return {hasForm: !!form, fieldBottom: field ? field.getBoundingClientRect().bottom : null, screen, actions};
}"""


def test_template_gallery_journey(live_server, new_context, screenshot, artifacts):
    base = live_server.url
    context, page = new_context()
    stub_video_players(context)

    def shot(name: str, phone: bool = False):
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"gallery-{name}", phone=phone)

    page.goto(base + "/signup")
    page.get_by_label("Your name").fill("Tess Template")
    page.get_by_label("Work e-mail").fill("tess@example.com")
    page.get_by_label("Password").fill("template-password-1")
    page.get_by_label("Workspace name").fill("Tess Studio")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Templates").click()

    # ---- the gallery: five system templates, an empty "Your templates", a filter ---------------------
    expect(page.get_by_role("heading", level=1, name="Templates")).to_be_visible()
    expect(page.locator(".tpl-card")).to_have_count(5)
    expect(page.get_by_role("heading", name="No templates of your own yet")).to_be_visible()
    # A function, not an expression: Playwright polls an expression with eval(), which the page's CSP forbids.
    page.wait_for_function("() => [...document.images].every(img => img.complete)")
    shot("list", phone=True)
    page.get_by_role("link", name="Webinar", exact=True).click()
    expect(page.locator(".tpl-card")).to_have_count(1)
    expect(page.locator(".tpl-card")).to_contain_text("Webinar registration")
    page.get_by_role("link", name="All types").click()
    expect(page.locator(".tpl-card")).to_have_count(5)

    # ---- preview the tripwire funnel: step tabs, the phone width, buttons inside the frame -----------
    page.locator(".tpl-card", has_text="Tripwire sale").get_by_role("link", name="Preview").click()
    expect(page.get_by_role("heading", level=1, name="Tripwire sale template")).to_be_visible()
    frame = page.frame_locator("iframe.tpl-frame")
    expect(frame.get_by_role("heading", level=1)).to_contain_text("101 Facebook and Instagram ads")
    shot("preview-sales-page")
    page.get_by_role("link", name=re.compile("Upsell")).click()
    expect(frame.get_by_role("heading", level=1)).to_contain_text("profitable ad campaign")
    page.get_by_role("link", name="Phone").click()
    expect(page.locator(".tpl-stage--mobile iframe")).to_be_visible()
    expect(frame.get_by_role("heading", level=1)).to_contain_text("profitable ad campaign")
    assert page.locator("iframe.tpl-frame").bounding_box()["width"] <= 390
    shot("preview-upsell-phone", phone=True)
    frame.get_by_role("link", name=re.compile("No thanks")).click()  # the upsell's "no" goes to the downsell
    expect(frame.get_by_role("heading", level=1)).to_contain_text("Start with the workshop")

    # ---- use it: a taken address is refused with the form kept, then the funnel is made --------------
    page.get_by_role("link", name="Use this template").click()
    expect(page.get_by_label("Funnel name")).to_have_value("Swipe file offer")
    page.get_by_label("Funnel name").fill("Spring swipe file")
    page.get_by_label("Address (slug)").fill("static")
    page.get_by_role("button", name="Create funnel").click()
    expect(page.get_by_text("is reserved")).to_be_visible()
    expect(page.get_by_label("Funnel name")).to_have_value("Spring swipe file")
    shot("use-error", phone=True)
    page.get_by_label("Address (slug)").fill("Spring Swipe File")
    page.get_by_role("button", name="Create funnel").click()
    expect(page).to_have_url(re.compile(r"/funnels/[0-9a-f-]{36}$"))
    funnel_path = re.search(r"/funnels/[0-9a-f-]{36}$", page.url).group(0)

    # ---- save that funnel as a workspace template; it shows in the gallery and previews --------------
    page.goto(base + funnel_path + "/save-as-template")
    page.get_by_label("Template name").fill("Our spring offer")
    page.get_by_label("Description").fill("The swipe-file offer with our spring prices.")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_role("heading", level=1, name="Templates")).to_be_visible()
    own = page.locator("#your-templates .tpl-card")
    expect(own).to_have_count(1)
    expect(own).to_contain_text("Our spring offer")
    expect(own).to_contain_text("5 steps")
    page.locator("#your-templates").scroll_into_view_if_needed()
    shot("with-your-templates")
    own.get_by_role("link", name="Preview").click()
    expect(frame.get_by_role("heading", level=1)).to_contain_text("101 Facebook and Instagram ads")


def test_the_first_screen_of_every_template_on_a_phone_offers_its_form_or_a_way_to_it(app, browser, artifacts):
    """390 × 844: a visitor sees the form (its first field), or a button that jumps to it, or, on a page
    without a form (a sales page), a button that leads on, without scrolling."""
    from pathlib import Path

    from app.funnels.system_templates import all_templates, screenshots

    pages = screenshots.documents(app)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.route("**/*", screenshots.serve(pages, Path(app.static_folder).resolve()))
    page = context.new_page()
    failures = []
    try:
        for template in all_templates():
            page.goto(f"{screenshots.ORIGIN}/{template.key}/0", wait_until="load")
            page.screenshot(path=str(artifacts / f"first-screen-{template.key}-phone.png"), animations="disabled")
            found = page.evaluate(FIRST_SCREEN_JS)
            if found["hasForm"]:
                fine = (found["fieldBottom"] is not None and found["fieldBottom"] <= found["screen"]) or any(
                    action["toForm"] for action in found["actions"])
            else:
                fine = any(action["href"] and not action["href"].startswith("#") for action in found["actions"])
            if not fine:
                failures.append(f"{template.key}: {found}")
    finally:
        context.close()
    assert not failures, "on a phone, nothing to act on in the first screen:\n" + "\n".join(failures)
