"""The asset library in a real browser: drop images onto the drop zone (htmx upload with progress), see a
refused file explained, edit alt text inline, then in the builder open an image's panel, choose a picture
from the library and see the panel filled, the canvas showing it and the page saved. Screenshots in
test-artifacts/browser/assets/."""
import base64
import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from app.assets.models import Asset
from app.builder import services as builder
from app.extensions import db
from app.funnels import services as funnels
from app.funnels.models import Page
from app.pages import tree as trees
from tests import factories
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser
SCREENSHOTS = "assets"  # test-artifacts/browser/assets/


def picture(fmt: str, size, color) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return base64.b64encode(buffer.getvalue()).decode()


DROP_JS = """([zone, files]) => {
  const data = new DataTransfer();
  for (const [name, type, b64] of files) {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    data.items.add(new File([bytes], name, {type}));
  }
  const target = document.querySelector(zone);
  for (const name of ["dragenter", "dragover", "drop"])
    target.dispatchEvent(new DragEvent(name, {bubbles: true, cancelable: true, dataTransfer: data}));
}"""

def test_upload_and_pick_images(live_server, new_context, screenshot):
    user = factories.make_user("ines@example.com", name="Ines Image")
    account = factories.make_account(user, "Ines Studio")
    _, page = new_context()
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(live_server.url + "/assets")
    expect(page.get_by_role("heading", name="No images yet")).to_be_visible()
    screenshot(page, "library-empty", phone=True)

    files = [["team-photo.jpg", "image/jpeg", picture("JPEG", (1200, 800), (30, 90, 160))],
             ["logo.png", "image/png", picture("PNG", (400, 400), (240, 180, 20))],
             ["brochure.png", "image/png", base64.b64encode(b"%PDF-1.4 not a picture").decode()]]
    page.evaluate(DROP_JS, ["[data-drop-zone]", files])
    expect(page.locator("#asset-results")).to_contain_text(
        "brochure.png: this is a PDF document, not an image (PNG, JPEG, GIF or WebP)")
    expect(page.locator("#asset-results")).to_contain_text("team-photo.jpg uploaded (1,200 × 800")
    expect(page.locator(".asset-card")).to_have_count(2)
    expect(page.locator(".asset-card img").first).to_have_js_property("complete", True)

    # Too big for one upload: refused in the browser before anything is sent.
    page.evaluate("""() => {
      const input = document.querySelector("#asset-files");
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(11 * 1024 * 1024)], "huge.png", {type: "image/png"}));
      input.files = data.files;
      input.dispatchEvent(new Event("change", {bubbles: true}));
    }""")
    expect(page.locator("[data-client-errors]")).to_contain_text("huge.png: the file is 11 MB, larger than 10 MB")

    card = page.locator(".asset-card").filter(has_text="logo.png")
    card.get_by_label("Alt text of logo.png").fill("The Ines Studio logo")
    card.get_by_role("button", name="Save").click()
    expect(card).to_contain_text("Saved")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "library", phone=True)

    # ---- in the builder: an image's panel opens the picker, the choice fills it and saves -------------
    funnel = funnels.create_funnel(account, {"name": "Studio page"}, user)
    page_row = funnel.steps[0].page
    column = next(node for node, _, _ in trees.walk(page_row.tree) if node["type"] == "columns")
    tree, _ = trees.insert(page_row.tree, column["id"], 0, trees.new_element("image"))
    builder.save_tree(account, page_row, tree, user)
    page.goto(f"{live_server.url}/builder/{page_row.id}")
    expect(page.locator("#lf-status")).to_have_attribute("data-state", "saved")
    page.locator('#lf-canvas [data-type="image"]').click()
    panel = page.locator("#lf-panel")
    expect(panel.locator("h2")).to_have_text("Image")
    panel.get_by_role("button", name="Choose from library").click()
    dialog = page.locator("#asset-picker-dialog")
    expect(dialog.get_by_role("heading", name="Choose an image")).to_be_visible()
    expect(dialog.locator(".asset-choice")).to_have_count(2)
    expect(dialog.locator(".asset-choice img").first).to_have_js_property("complete", True)
    screenshot(page, "picker")
    dialog.get_by_role("button", name="Use logo.png (The Ines Studio logo)").click()
    expect(dialog).to_be_hidden()
    public_files = re.compile("^" + re.escape(live_server.site_url + "/_assets/"))
    expect(panel.locator('[name="p.src"]')).to_have_value(public_files)
    expect(panel.get_by_label("Alt text")).to_have_value("The Ines Studio logo")
    expect(panel.locator('[name="p.width"]')).to_have_value("400")
    expect(page.locator("#lf-status")).to_have_attribute("data-state", "saved")
    image = page.locator('#lf-canvas [data-type="image"] img')
    expect(image).to_have_attribute("alt", "The Ines Studio logo")
    expect(image).to_have_js_property("naturalWidth", 400)  # the canvas shows the file from the app host
    saved = db.session.get(Page, page_row.id)
    db.session.refresh(saved)
    image_element = next(node for node, _, _ in trees.walk(saved.tree) if node["type"] == "image")
    logo = db.session.execute(select(Asset).where(Asset.filename == "logo.png")).scalar_one()
    assert image_element["props"]["asset_id"] == str(logo.id)
    assert image_element["props"]["alt"] == "The Ines Studio logo"
    screenshot(page, "picker-chosen")
