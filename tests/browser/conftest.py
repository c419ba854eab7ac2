"""Browser fixtures: the app served for real (CSRF on, threads, SMTP to the local test server) and
the system Chromium driven by Playwright.

`live_server` is a second app built on the session `app` fixture's (migrated) database; the autouse
`_clean_state` fixture of tests/conftest.py empties it after each test as usual.
"""
import logging
import re
import threading
from pathlib import Path

import pytest
from flask import got_request_exception
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.conftest import test_config
from tests.support import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
EXPECTED_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of 422\b")
# What needs sideways scrolling at the current width: the page itself, or a scrolling box (a table).
OVERFLOW_JS = """() => {
  const wide = [];
  if (document.documentElement.scrollWidth > innerWidth) wide.push(`page ${document.documentElement.scrollWidth}px`);
  for (const box of document.querySelectorAll(".table-wrap, .card, pre, .secret"))
    if (box.scrollWidth > box.clientWidth + 1 && box.offsetParent)
      wide.push(`${box.className}${box.id ? "#" + box.id : ""} ${box.scrollWidth}px in ${box.clientWidth}px`);
  return wide;
}"""
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
VIDEO_STILL = "<body style='margin:0;background:#374151'></body>"
VIDEO_PLAYERS = re.compile(r"^https://(player\.vimeo\.com|www\.youtube-nocookie\.com)/")


class LiveServer:
    def __init__(self, app, server):
        self.app, self.server = app, server
        self.url = f"http://127.0.0.1:{server.server_port}"
        self.errors: list[BaseException] = []  # exceptions raised by views while serving

    def record_error(self, sender, exception, **extra):
        self.errors.append(exception)


def whole_responses(wsgi_app):
    """The app's responses read whole (and closed) before Werkzeug's development server sends them: when
    the browser drops a connection mid-response (it navigated on), that server does not close the
    response, and a static file left open is a ResourceWarning, an error in this suite."""

    def app(environ, start_response):
        body = wsgi_app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return app


@pytest.fixture(scope="module")
def live_server(app, smtp_server, tmp_path_factory):
    """The app on http://127.0.0.1:<free port>, as a person's browser would reach it."""
    folder = tmp_path_factory.mktemp("live-instance")
    port = free_port()
    # E-mailed links point at this server; the published site is the same server under another host name,
    # so another origin (as in production). Both are known when the app is made: its site dispatcher reads them.
    live_app = create_app(test_config(smtp_server[0].port, WTF_CSRF_ENABLED=True,
                                      EXPORTS_DIR=str(folder / "exports"), OUTBOX_DIR=str(folder / "outbox"),
                                      IMPORTS_DIR=str(folder / "imports"), BASE_URL=f"http://127.0.0.1:{port}",
                                      SITE_URL=f"http://localhost:{port}"))
    server = make_server("127.0.0.1", port, whole_responses(live_app), threaded=True)
    live = LiveServer(live_app, server)
    live.site_url = live_app.config["SITE_URL"]
    got_request_exception.connect(live.record_error, live_app)
    request_log = logging.getLogger("werkzeug")
    previous_level = request_log.level
    request_log.setLevel(logging.WARNING)  # no line per request in failure reports
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        request_log.setLevel(previous_level)
        got_request_exception.disconnect(live.record_error, live_app)
        with live_app.app_context():
            db.engine.dispose()


@pytest.fixture(autouse=True)
def _no_server_errors(request):
    """Fail a browser test whose requests raised on the server, even if the page looked fine."""
    if "live_server" not in request.fixturenames:
        yield
        return
    live = request.getfixturevalue("live_server")
    live.errors.clear()
    yield
    assert not live.errors, f"the server raised: {live.errors!r}"


@pytest.fixture(scope="module")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    manager = sync_playwright()
    playwright = manager.start()
    try:
        yield playwright
    finally:
        playwright.stop()


@pytest.fixture(scope="module")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


class PageProblems:
    """JavaScript errors and console errors (CSP violations included) seen by the pages of a test."""

    def __init__(self):
        self.items: list[str] = []

    def watch(self, page):
        page.on("pageerror", lambda error: self.items.append(f"{page.url}: uncaught {error}"))
        page.on("console", lambda msg: self._console(page, msg))
        return page

    def _console(self, page, message):
        # A form re-rendered with its errors is a 422 on purpose; Chromium logs every 4xx response.
        if message.type == "error" and not EXPECTED_STATUS.search(message.text):
            self.items.append(f"{page.url}: console {message.text}")


@pytest.fixture
def new_context(browser):
    """Open a fresh browser context (its own cookies: another person); all are closed after the test.

    Returns a function: new_context(**options) -> (context, page)."""
    contexts, problems = [], PageProblems()

    def open_context(**options):
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context, problems.watch(context.new_page())

    try:
        yield open_context
    finally:
        for context in contexts:
            context.close()
    assert not problems.items, "the browser reported errors:\n" + "\n".join(problems.items)


@pytest.fixture
def page(new_context):
    return new_context()[1]


@pytest.fixture(scope="module")
def artifacts(request):
    """Where a test module's screenshots go: test-artifacts/browser/<its SCREENSHOTS>/ (or browser/ itself),
    emptied of the previous run's."""
    folder = ARTIFACTS / getattr(request.module, "SCREENSHOTS", "")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture
def screenshot(artifacts):
    """screenshot(page, "signup") saves test-artifacts/browser/01-signup.png, 02-..., in call order;
    phone=True also saves the page at 390 px wide and fails if anything there needs sideways scrolling."""
    counter = {"n": 0}

    def take(page, name: str, phone: bool = False) -> Path:
        counter["n"] += 1
        path = artifacts / f"{counter['n']:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        if phone:
            viewport = page.viewport_size
            page.set_viewport_size(PHONE)
            try:
                page.screenshot(path=str(artifacts / f"{counter['n']:02d}-{name}-phone.png"), full_page=True,
                                animations="disabled")
                overflow = page.evaluate(OVERFLOW_JS)
            finally:
                page.set_viewport_size(viewport)
            assert not overflow, f"{name} is wider than a phone: {overflow}"
        return path

    return take


# ---- helpers for the tests ----------------------------------------------------------------------------

def stub_video_players(context) -> None:
    """No network in tests: embedded YouTube and Vimeo players are answered with a blank page."""
    context.route(VIDEO_PLAYERS, lambda route: route.fulfill(status=200, content_type="text/html", body=VIDEO_STILL))


def wait_until_sortable(page, element) -> None:
    """Wait until the list that holds `element` is wired: app.js loads SortableJS after the page."""
    page.wait_for_function(
        "el => { const list = el.closest('[data-sortable], .lf-children, [data-library]');"
        " return !!(list && window.Sortable && Sortable.get(list)); }", arg=element.element_handle())


def drag_onto(page, source, target, below: bool = False) -> None:
    """Drag `source` with the mouse onto `target` and drop it before it (or after it: `below`), as a person
    does: SortableJS needs real moves, in several steps. Where the pointer must rest depends on the move:
    a tile entering a list from the library lands before the element whose top edge it is on (after:
    bottom edge); an element moved within the canvas swaps places when the pointer is in the middle band
    of the other one (a third of the way down to go before it, two thirds to go after it)."""
    wait_until_sortable(page, source)
    source.scroll_into_view_if_needed()
    start = source.bounding_box()
    end = target.bounding_box()
    entering = source.evaluate("el => !!el.closest('[data-library]')")
    x0, y0 = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    x1 = end["x"] + end["width"] / 2
    if entering:
        y1 = end["y"] + (end["height"] - 4 if below else 4)
    else:
        y1 = end["y"] + end["height"] * (0.65 if below else 0.35)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 10, y0 + 5, steps=3)
    page.mouse.move(x1, y1, steps=15)
    # Hover a moment, as a person does: SortableJS checks the pointer every 50 ms and animates the
    # rows aside (120 ms); the drop lands where the pointer finally is, not where it passed.
    page.wait_for_timeout(200)
    page.mouse.move(x1, y1 + 1)
    page.wait_for_timeout(200)
    page.mouse.up()


def drag_above(page, handle, target) -> None:
    """Drag a row by its `handle` with the mouse to the top of `target` (dropped before it), slowly, as a
    person does: SortableJS decides at each move, and pauses while the rows slide."""
    wait_until_sortable(page, handle)
    target.evaluate("el => el.scrollIntoView({block: 'center'})")  # clear of the sticky top bar
    start, end = handle.bounding_box(), target.bounding_box()
    x0, y0 = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    y1 = end["y"] + 8
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 4, y0 - 6, steps=3)  # past SortableJS's tolerance: the drag starts
    y = y0 - 6
    while y > y1:
        y = max(y1, y - 12)
        page.mouse.move(x0 + 4, y)
        page.wait_for_timeout(40)
    page.wait_for_timeout(300)
    page.mouse.up()
