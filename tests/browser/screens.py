"""`python -m tests.browser.screens FOLDER`: screenshots of the main pages of the demo workspace, for
comparing the UI before and after a change (`make screens`, then look at both folders side by side).

The app runs on a throwaway SQLite database seeded with `flask seed-demo`'s data, served from a thread;
Debian's Chromium logs in as the demo owner and saves one PNG per page and width.
"""
import logging
import sys
import tempfile
import threading
from pathlib import Path

from werkzeug.serving import make_server

from tests.support import free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
WIDTHS = {"desktop": (1280, 800), "laptop": (1366, 768), "wide": (1440, 900), "phone": (390, 844)}


def _serve(folder: Path):
    from app import create_app
    from app.demo import seed_demo
    from app.extensions import db

    port = free_port()
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'screens.db'}", "JOBS_MODE": "sync",
                      "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://", "SECRET_KEY": "screens",
                      "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False, "LOG_LEVEL": "ERROR",
                      "ASSETS_DIR": str(folder / "assets"), "EXPORTS_DIR": str(folder / "exports"),
                      "OUTBOX_DIR": str(folder / "outbox"), "IMPORTS_DIR": str(folder / "imports"),
                      "BASE_URL": f"http://127.0.0.1:{port}", "SITE_URL": f"http://localhost:{port}"})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        seed_demo()
        db.session.remove()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return app, server, f"http://127.0.0.1:{port}"


def _pages(app) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, path, widths) of the pages to photograph: ids are read from the demo data."""
    from sqlalchemy import select

    from app.extensions import db

    with app.app_context():
        from app.crm.models import Contact, Pipeline

        funnel_model = _funnel_model()
        funnel = db.session.execute(select(funnel_model).order_by(funnel_model.created_at)).scalars().first()
        page_id = funnel.steps[0].page.id
        pipeline = db.session.execute(select(Pipeline)).scalars().first()
        contact = db.session.execute(select(Contact).order_by(Contact.created_at)).scalars().first()
        return [
            ("dashboard", "/", ("desktop", "phone")),
            ("contacts", "/contacts", ("desktop", "phone")),
            ("contact", f"/contacts/{contact.id}", ("desktop",)),
            ("deal-board", f"/deals?pipeline_id={pipeline.id}", ("desktop", "phone")),
            ("deal-list", "/deals/list", ("desktop",)),
            ("funnels", "/funnels", ("desktop",)),
            ("funnel", f"/funnels/{funnel.id}", ("desktop", "phone")),
            ("builder", f"/builder/{page_id}", ("desktop", "laptop", "wide")),
            ("templates", "/funnels/templates", ("desktop",)),
            ("assets", "/assets", ("desktop",)),
            ("imports", "/contacts/import", ("desktop",)),
            ("settings", "/settings/crm", ("desktop",)),
        ]


def _funnel_model():
    from app.funnels.models import Funnel

    return Funnel


def main(folder: str) -> None:
    from playwright.sync_api import sync_playwright

    from app.demo import DEMO_EMAIL, DEMO_PASSWORD

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        app, server, base = _serve(Path(work))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(base + "/login")
                page.fill("input[name=email]", DEMO_EMAIL)
                page.fill("input[name=password]", DEMO_PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_load_state("networkidle")
                for name, path, widths in _pages(app):
                    for width in widths:
                        page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width])))
                        page.goto(base + path)
                        page.wait_for_load_state("networkidle")
                        page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=width != "phone",
                                        animations="disabled")
                        print(f"{name}-{width}.png  {path}")
                browser.close()
        finally:
            server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts/screens")
