"""Pictures of the system templates, taken with Chromium.

    python -m app.funnels.system_templates.screenshots               # the gallery's card thumbnails
    python -m app.funnels.system_templates.screenshots --pages DIR   # also every page, desktop and phone

Thumbnails (static/img/templates/<key>.png, 640×400) show the top of each template's first page; they
are committed, so run this again after changing a template's design. Pages are rendered exactly as the
preview renders them (`previews.frame_document`) and served to the browser from memory: no server needed.
"""
import argparse
import io
import mimetypes
import sys
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
ORIGIN = "http://templates.preview"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
THUMBNAIL = (640, 400)
VIDEO_STILL = ("<body style='margin:0;height:100vh;display:grid;place-items:center;"
               "background:linear-gradient(135deg,#1f2937,#4b5563)'><div style='width:0;height:0;"
               "border-style:solid;border-width:22px 0 22px 36px;border-color:transparent transparent "
               "transparent #fff;margin-left:8px'></div></body>")


def documents(app) -> dict[str, str]:
    """{"/<key>/<index>": the page's HTML} for every step of every system template."""
    from app.funnels.previews import frame_document
    from app.funnels.system_templates import all_templates

    pages = {}
    with app.test_request_context():
        for template in all_templates():
            steps = template.snapshot()["steps"]
            for index, step in enumerate(steps):
                pages[f"/{template.key}/{index}"] = str(frame_document(
                    step, steps, index, lambda position, key=template.key: f"/{key}/{position}"))
    return pages


def serve(pages: dict[str, str], static_folder: Path):
    """A Playwright route handler answering ORIGIN's requests from memory: the pages, and files under
    /static/ from the app's static folder; a video player gets a still frame, anything else is refused."""
    def handle(route, request):
        path = urlsplit(request.url).path
        if urlsplit(request.url).netloc != urlsplit(ORIGIN).netloc:
            if request.resource_type == "document":  # a video player: a still frame stands in for it
                return route.fulfill(status=200, content_type="text/html", body=VIDEO_STILL)
            return route.abort()
        if path in pages:
            return route.fulfill(status=200, content_type="text/html; charset=utf-8", body=pages[path])
        file = (static_folder / path.removeprefix("/static/")).resolve()
        if path.startswith("/static/") and file.is_file() and static_folder in file.parents:
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            return route.fulfill(status=200, content_type=kind, body=file.read_bytes())
        return route.fulfill(status=404, body="not found")

    return handle


def _load_lazy_images(page) -> None:
    """Scroll through the page so that its lazy images load, then back to the top."""
    page.evaluate("""async () => {
        for (let y = 0; y < document.body.scrollHeight; y += 600) {
            window.scrollTo(0, y);
            await new Promise(resolve => requestAnimationFrame(resolve));
        }
        await Promise.all([...document.images].map(img => img.complete ? null : img.decode().catch(() => null)));
        window.scrollTo(0, 0);
        await document.fonts.ready;
    }""")


def shrink_png(png: bytes, size: tuple[int, int]) -> bytes:
    """Scaled down and reduced to 256 colours: a sharp thumbnail of a few dozen KB."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").resize(size, Image.LANCZOS)
    out = io.BytesIO()
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette.save(out, "PNG", optimize=True)
    return out.getvalue()


def take(app, pages_dir: Path | None = None) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from app.funnels.system_templates import STATIC_IMAGES, all_templates

    pages = documents(app)
    static_folder = Path(app.static_folder).resolve()
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for viewport, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
                if label == "phone" and pages_dir is None:
                    break
                context = browser.new_context(viewport=viewport, device_scale_factor=1)
                context.route("**/*", serve(pages, static_folder))
                page = context.new_page()
                for template in all_templates():
                    for index in range(template.step_count):
                        page.goto(f"{ORIGIN}/{template.key}/{index}", wait_until="load")
                        _load_lazy_images(page)
                        if index == 0 and label == "desktop":
                            target = STATIC_IMAGES / f"{template.key}.png"
                            target.write_bytes(shrink_png(page.screenshot(animations="disabled"), THUMBNAIL))
                            written.append(target)
                        if pages_dir is not None:
                            pages_dir.mkdir(parents=True, exist_ok=True)
                            target = pages_dir / f"{template.key}-{index + 1}-{label}.png"
                            page.screenshot(path=str(target), full_page=True, animations="disabled")
                            written.append(target)
                context.close()
        finally:
            browser.close()
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=Path, help="also save every page (desktop and phone) in this folder")
    args = parser.parse_args(argv)
    from app import create_app

    app = create_app({"SECRET_KEY": "template-screenshots"})  # renders only; no session is signed
    for path in take(app, args.pages):
        print(f"{path}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
