"""Test fixtures: PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL), a local SMTP server,
factories, and log-in helpers. Each test starts with empty tables and an empty Redis database."""
import os
import tempfile
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from tests import factories
from tests.support import free_port, recreate_database

BASE_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/leadforge_test")
BASE_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _claim_slot() -> int:
    """Runs of the suite that overlap on one machine each take a slot of their own (a database and a
    Redis db number), held by a file lock until the process exits."""
    import atexit
    import fcntl
    import tempfile

    for slot in range(8):
        handle = open(os.path.join(tempfile.gettempdir(), f"leadforge-test-slot-{slot}.lock"), "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        atexit.register(handle.close)  # the lock is held for the life of the process
        return slot
    raise RuntimeError("eight test runs are already going on this machine")


SLOT = _claim_slot()


def _slotted_urls() -> tuple[str, str]:
    database = make_url(BASE_DATABASE_URL)
    if SLOT:
        database = database.set(database=f"{database.database}_{SLOT}")
    redis_base, _, redis_db = BASE_REDIS_URL.rpartition("/")
    redis_db = int(redis_db) - SLOT if redis_db.isdigit() else 15 - SLOT
    return database.render_as_string(hide_password=False), f"{redis_base}/{redis_db}"


DATABASE_URL, REDIS_URL = _slotted_urls()


class CollectingHandler:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


@pytest.fixture(scope="session")
def smtp_server():
    handler = CollectingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def test_config(smtp_port: int, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        "REDIS_URL": REDIS_URL,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "JOBS_MODE": "rq",
        "RQ_QUEUE": "leadforge-test",
        "WTF_CSRF_ENABLED": False,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_port,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "LOG_LEVEL": "WARNING",
        # Published pages are served on this host; the app answers on any other (the test client's "localhost").
        "SITE_URL": "http://pages.example.com",
        "ASSETS_DIR": os.path.join(tempfile.gettempdir(), f"leadforge-test-assets-{os.getpid()}"),
    }
    config.update(overrides)
    return config


class FreshContextClient(FlaskClient):
    """Each request gets its own app context (so `g` and the DB session start empty), as in
    production, even though the test itself runs inside one. Afterwards the test's session is
    expired, so the test reads what the request wrote."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()  # the test's own session sees what the request changed
        return response


@pytest.fixture(scope="session")
def app(smtp_server, tmp_path_factory):
    recreate_database(DATABASE_URL)
    folder = tmp_path_factory.mktemp("instance")
    application = create_app(test_config(smtp_server[0].port, EXPORTS_DIR=str(folder / "exports"),
                                         OUTBOX_DIR=str(folder / "outbox"), IMPORTS_DIR=str(folder / "imports")))
    application.test_client_class = FreshContextClient
    with application.app_context():
        from flask_migrate import upgrade

        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_state(request, app):
    """Empty tables and Redis after each test; keep an app context open during it."""
    from app.extensions import limiter

    with app.app_context():
        # The limiter is one object for every app a test builds: start each test with no counts.
        limiter.reset()
        yield
        db.session.remove()
        # DELETE, children first: on tables a test barely filled it costs nothing, where TRUNCATE of every
        # table (about 45) cost ~0.4 s a test, a third of the suite's time.
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        from redis import Redis

        with Redis.from_url(REDIS_URL) as redis:
            redis.flushdb()


@pytest.fixture
def outbox(smtp_server):
    handler = smtp_server[1]
    handler.messages.clear()
    return handler.messages


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def csrf_enabled(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def owner():
    """A user who owns a workspace: (user, account)."""
    user = factories.make_user("owner@example.com", name="Olive Owner")
    account = factories.make_account(user, "Olive's Agency")
    return user, account


@pytest.fixture
def login(client):
    def do_login(user, account=None):
        factories.login(client, user, account)
        return client

    return do_login


def wait_for(predicate, timeout=5.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def run_jobs(app):
    """Run every queued RQ job now, in this process (as `flask worker --burst` would)."""
    from rq import SimpleWorker

    from app.core import jobs

    with app.app_context():
        worker = SimpleWorker([jobs.queue()], connection=jobs.redis_connection())
        worker.work(burst=True)


__all__ = ["wait_for", "run_jobs", "threading"]


@pytest.fixture
def count_queries(app):
    """count_queries(fn) -> how many SQL statements fn() ran (for N+1 checks)."""
    from sqlalchemy import event

    def count(fn):
        statements = []

        def before(conn, cursor, statement, *args):
            statements.append(statement)

        engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            fn()
        finally:
            event.remove(engine, "before_cursor_execute", before)
        return len(statements)

    return count


@pytest.fixture
def empty_site_cache(app):
    """The published site's page cache emptied before and after the test (its entries outlive a request)."""
    app.extensions["site_cache"].clear()
    yield
    app.extensions["site_cache"].clear()


@pytest.fixture
def live(owner):
    """The opt-in funnel of tests.site.conftest.make_funnel, published."""
    from app.funnels import publishing
    from tests.site.conftest import make_funnel

    user, account = owner
    funnel = make_funnel(account, user)
    publishing.publish_funnel(account, funnel, user)
    return funnel


@pytest.fixture
def published():
    """Every domain event published during the test: [(name, payload)]."""
    from app.core import events

    seen = []

    def capture(name, payload):
        seen.append((name, payload))

    events.subscribe(events.ALL)(capture)
    yield seen
    events.unsubscribe(events.ALL, capture)


@pytest.fixture(scope="session")
def localstripe_url():
    """localstripe (the Stripe stand-in, see ../shared/ARCHITECTURE.md) on a free port, for the session."""
    import subprocess
    import sys
    import urllib.request

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.stripe_standin", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url + "/js.stripe.com/v3/", timeout=1):
                return True
        except OSError:
            return False

    if not wait_for(answers, timeout=60):
        process.kill()
        raise RuntimeError("localstripe did not start")
    yield url
    process.terminate()
    process.wait(timeout=10)


STRIPE_WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture
def stripe_config(app, localstripe_url):
    """Payments configured against localstripe for this test (the app has none by default)."""
    keys = {"STRIPE_SECRET_KEY": "sk_test_leadforge", "STRIPE_PUBLISHABLE_KEY": "pk_test_leadforge",
            "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET, "STRIPE_API_BASE": localstripe_url,
            "STRIPE_JS_URL": localstripe_url + "/js.stripe.com/v3/"}
    saved = {key: app.config.get(key) for key in keys}
    app.config.update(keys)
    yield localstripe_url
    app.config.update(saved)
