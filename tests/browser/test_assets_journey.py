"""The asset library in a real browser: drop images onto the drop zone (htmx upload with progress), see a
refused file explained, edit alt text inline, then choose an image in the builder's picker and see it fill
the panel's inputs (with input/change events). Screenshots in test-artifacts/browser/assets/."""
import base64
import io

import pytest
from PIL import Image
from playwright.sync_api import expect

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

# A stand-in for the builder's panel: a form with the image element's inputs and a picker trigger.
PANEL_JS = """(url) => {
  const form = document.createElement("form");
  form.id = "panel";
  form.innerHTML = '<input name="p.src"><input name="p.asset_id"><input name="p.alt"><input name="p.width">' +
    '<input name="p.height"><button type="button" data-asset-picker="' + url + '">Choose image</button>';
  window.panelEvents = [];
  form.addEventListener("input", e => window.panelEvents.push("input:" + e.target.name));
  form.addEventListener("change", e => window.panelEvents.push("change:" + e.target.name));
  document.querySelector("#main").prepend(form);
}"""


# The builder's way: its own modal with a title, the fragment loaded by hx-get into it.
BUILDER_MODAL_JS = """(url) => {
  const form = document.createElement("form");
  form.id = "panel2";
  form.innerHTML = '<input name="p.src"><input name="p.asset_id"><input name="p.alt">' +
    '<button type="button" class="lf-pick" hx-get="' + url + '" hx-target="#lf-picker" hx-swap="innerHTML" ' +
    'data-dialog-open="lf-picker-dialog">Choose from library</button>';
  const dialog = document.createElement("dialog");
  dialog.className = "modal";
  dialog.id = "lf-picker-dialog";
  dialog.innerHTML = '<div class="modal-body"><h2>Choose an image</h2></div><div id="lf-picker"></div>';
  document.querySelector("#main").prepend(form);
  document.body.appendChild(dialog);
  htmx.process(form);
}"""


def test_upload_and_pick_images(live_server, new_context, screenshot):
    user = factories.make_user("ines@example.com", name="Ines Image")
    factories.make_account(user, "Ines Studio")
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

    # The picker, opened from a panel form, fills the image inputs and closes.
    page.evaluate(PANEL_JS, "/assets/picker?field=p.")
    page.get_by_role("button", name="Choose image").click()
    dialog = page.locator("#asset-picker-dialog")
    expect(dialog.get_by_role("heading", name="Choose an image")).to_be_visible()
    expect(dialog.locator(".asset-choice img").first).to_have_js_property("complete", True)
    screenshot(page, "picker")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "picker-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    dialog.get_by_role("button", name="Use logo.png (The Ines Studio logo)").click()
    expect(dialog).to_be_hidden()
    panel = page.locator("#panel")
    assert panel.locator('[name="p.src"]').input_value().startswith(live_server.site_url + "/_assets/")
    assert panel.locator('[name="p.alt"]').input_value() == "The Ines Studio logo"
    assert (panel.locator('[name="p.width"]').input_value(), panel.locator('[name="p.height"]').input_value()) \
        == ("400", "400")
    assert len(panel.locator('[name="p.asset_id"]').input_value()) == 36
    events = page.evaluate("window.panelEvents")
    assert "input:p.src" in events and "change:p.asset_id" in events

    # The same picker loaded into the builder's own modal fills the form whose button opened it.
    page.evaluate("document.querySelector('#panel').remove()")
    page.evaluate(BUILDER_MODAL_JS, "/assets/picker?field=p.src")
    page.get_by_role("button", name="Choose from library").click()
    modal = page.locator("#lf-picker-dialog")
    expect(modal.locator(".asset-choice")).to_have_count(2)
    expect(modal.locator(".asset-picker-head")).to_be_hidden()  # the modal's own title is enough
    modal.get_by_role("button", name="Use team-photo.jpg").click()
    expect(modal).to_be_hidden()
    assert page.locator('#panel2 [name="p.src"]').input_value().endswith(".jpg")
