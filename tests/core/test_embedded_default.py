"""`make run` with no DATABASE_URL / REDIS_URL: SQLite in instance/ and jobs in a thread."""
import time

from app import create_app
from app.config import load_config


def test_defaults_without_database_or_redis_settings(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "JOBS_MODE"):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    database = config["SQLALCHEMY_DATABASE_URI"]
    assert database.startswith("sqlite:///") and "instance" in database
    assert config["JOBS_MODE"] == "thread" and config["RATELIMIT_STORAGE_URI"] == "memory://"
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert load_config()["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_embedded_app_migrates_seeds_serves_and_runs_jobs(tmp_path):
    from app.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.db'}", "REDIS_URL": None,
                      "JOBS_MODE": "thread", "RATELIMIT_STORAGE_URI": "memory://", "MAIL_SERVER": None,
                      "OUTBOX_DIR": str(tmp_path / "outbox"), "EXPORTS_DIR": str(tmp_path / "exports"),
                      "WTF_CSRF_ENABLED": False, "SECRET_KEY": "embedded", "SESSION_COOKIE_SECURE": False})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        seed_demo()
        seed_demo()  # idempotent
    try:
        client = app.test_client()
        assert client.post("/login", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}).status_code == 303
        assert "Acme Marketing (demo)" in client.get("/").text
        # the sales pages on SQLite too (what `make run` serves): orders, analytics with the demo's days
        for path in ("/orders", "/orders/analytics", "/products", "/coupons"):
            assert client.get(path).status_code == 200, path
        assert "Scroll-Stopper Swipe File" in client.get("/orders/analytics").text
        started = client.post("/activity/export")
        assert started.status_code == 202
        job_id = started.text.split('id="job-', 1)[1].split('"', 1)[0]
        deadline = time.monotonic() + 10
        while "finished" not in (status := client.get(f"/jobs/{job_id}").text) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "finished" in status
        download = client.get(f"/jobs/{job_id}/download")
        assert download.status_code == 200 and b"member.joined" in download.data
        download.close()
        client.post("/forgot-password", data={"email": DEMO_EMAIL})
        deadline = time.monotonic() + 10  # the e-mail is written by a job, in a thread here
        while not list((tmp_path / "outbox").glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list((tmp_path / "outbox").glob("*.eml"))
        assert "schedule_ticker" in app.extensions  # no worker: the web process runs the scheduled work
        with app.app_context():
            from app.core import schedule
            from app.core.models import ScheduledRun

            def all_started():
                db.session.expire_all()
                return len(db.session.query(ScheduledRun).all()) == len(schedule.REGISTRY)

            deadline = time.monotonic() + 10
            while not all_started() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert all_started()
    finally:
        if "schedule_ticker" in app.extensions:
            app.extensions["schedule_ticker"].set()  # stop its thread
        with app.app_context():
            db.engine.dispose()


def test_cookies_are_secure_unless_in_debug(monkeypatch):
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    monkeypatch.setenv("FLASK_DEBUG", "0")
    production = load_config()
    assert production["SESSION_COOKIE_SECURE"] and production["REMEMBER_COOKIE_SECURE"]
    assert production["SESSION_COOKIE_HTTPONLY"] and production["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert production["LOG_FORMAT"] == "json"
    monkeypatch.setenv("FLASK_DEBUG", "1")
    assert not load_config()["SESSION_COOKIE_SECURE"]
