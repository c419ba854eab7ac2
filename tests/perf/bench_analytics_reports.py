"""Reports over a year of heavy traffic: 10 million events in one funnel, PostgreSQL local.

1. The database leadforge_bench_analytics is kept between runs: when it already holds EVENTS events in the
   funnel "year" (made by this benchmark), they are reused; otherwise it is dropped, migrated and filled with
   app/analytics/generator.py (what `flask analytics generate` runs: visitors, sessions, sources, devices, step
   drop-off, conversions, purchases, through the ingest worker's own code, so the rollups are the real ones)
   over the last 365 days, a day at a time as live traffic comes, which takes a while (the rate is printed).
2. Measured, in this process, with the reports' Redis cache off (each call computes): the one-year overview
   and step report (median of RUNS), the realtime report, and the one-year CSV export of the conversions
   report (the largest: its converting visitors are streamed from the raw events) and of the overview.

Targets: overview and step report < 500 ms, realtime < 100 ms, the one-year CSV export < 2 minutes.
"""
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.perf.bench_tracking import SECRET_KEY
from tests.support import recreate_database

EVENTS = int(os.environ.get("BENCH_ANALYTICS_EVENTS", 10_000_000))
DAYS = 365
RUNS = 5
REPORT_TARGET_MS = 500.0
REALTIME_TARGET_MS = 100.0
EXPORT_TARGET_S = 120.0
BENCH_DATABASE = "leadforge_bench_analytics"
ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    from sqlalchemy.engine import make_url

    base = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/leadforge_test"
    return make_url(base).set(drivername="postgresql", database=BENCH_DATABASE).render_as_string(hide_password=False)


def env(url: str) -> dict:
    return {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "WARNING", "FLASK_DEBUG": "0",
            "PYTHONPATH": str(ROOT), "REDIS_URL": "", "EXPORTS_DIR": str(Path("/tmp") / "leadforge-bench-exports")}


def events_in_place(url: str) -> int:
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM analytics_events e JOIN funnels f ON f.id = e.funnel_id "
                                "WHERE f.slug = 'year'").fetchone()[0]
    except psycopg.Error:
        return 0


def fill(url: str) -> float:
    """A fresh database with the funnel and EVENTS generated events; returns the generation rate."""
    recreate_database(url)
    script = (
        "from app import create_app\nfrom flask_migrate import upgrade\napp = create_app()\n"
        "with app.app_context():\n"
        "    upgrade()\n"
        "    from tests import factories\n"
        "    from app.funnels import services\n"
        "    user = factories.make_user('bench@example.com'); account = factories.make_account(user, 'Bench')\n"
        "    steps = [{'name': 'Opt-in', 'step_type': 'page'}, {'name': 'Sales page', 'step_type': 'page'},\n"
        "             {'name': 'Checkout', 'step_type': 'order_form'}, {'name': 'Upsell', 'step_type': 'upsell'},\n"
        "             {'name': 'Thank you', 'step_type': 'thank_you'}]\n"
        "    services.create_funnel(account, {'name': 'A year of traffic', 'slug': 'year'}, user, steps=steps)\n")
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env(url), check=True, capture_output=True)
    # Day by day, oldest first, as live traffic arrives: each ingest batch then covers a few hours (the
    # generator over the whole year at once would spread every batch over all of it).
    generate = (
        "import sys\nfrom datetime import UTC, datetime, timedelta\nfrom app import create_app\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    from sqlalchemy import select\n"
        "    from app.analytics import generator\n"
        "    from app.extensions import db\n"
        "    from app.funnels.models import Funnel\n"
        "    funnel = db.session.execute(select(Funnel).where(Funnel.slug == 'year')).scalar_one()\n"
        f"    total, days = {EVENTS}, {DAYS}\n"
        "    end = datetime.now(UTC)\n"
        "    for day in range(days):\n"
        "        count = total // days + (1 if day < total % days else 0)\n"
        "        generator.generate(funnel, count, 1, seed=day, now=end - timedelta(days=days - 1 - day))\n"
        "        if day % 30 == 0: print(f'   day {day} of {days}', flush=True)\n")
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", generate], cwd=ROOT, env=env(url), check=True)
    return EVENTS / (time.monotonic() - began)


def timed(call, runs: int = RUNS) -> float:
    """Median milliseconds of `runs` calls."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def measure(url: str) -> dict:
    os.environ.update({k: v for k, v in env(url).items() if k in ("DATABASE_URL", "SECRET_KEY", "EXPORTS_DIR")})
    from app import create_app

    app = create_app({"REDIS_URL": None, "JOBS_MODE": "sync", "RATELIMIT_STORAGE_URI": "memory://",
                      "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1)})
    with app.app_context():
        from sqlalchemy import select

        from app.analytics import exports, reports, reports_live
        from app.auth.models import Account
        from app.core import jobs
        from app.extensions import db
        from app.funnels.models import Funnel

        funnel = db.session.execute(select(Funnel).where(Funnel.slug == "year")).scalar_one()
        account = db.session.get(Account, funnel.account_id)
        period = reports.last_days(account, 365)
        checkout = funnel.steps[2]
        figures = {
            "overview": timed(lambda: reports.overview(account, funnel, period)),
            "step": timed(lambda: reports.step_report(account, funnel, checkout, period)),
            "realtime": timed(lambda: reports_live.realtime(account, funnel)),
        }
        overview = reports.overview(account, funnel, period)
        figures["visitors"] = overview["visitors"]["unique"]
        for report_type in ("conversions", "overview"):
            job = jobs.create_job(account, "analytics_export", f"bench {report_type}")
            began = time.perf_counter()
            result = exports.write(str(job.id), account, funnel, report_type, period, "csv", False)
            figures[f"export_{report_type}"] = time.perf_counter() - began
            figures[f"export_{report_type}_rows"] = result["message"]
    return figures


def run() -> list[dict]:
    url = database_url()
    rows = []
    have = events_in_place(url)
    if have >= EVENTS:
        print(f"   reusing {have:,} events in {BENCH_DATABASE}", flush=True)
    else:
        print(f"   generating {EVENTS:,} events over {DAYS} days (several minutes)...", flush=True)
        rate = fill(url)
        have = events_in_place(url)
        rows.append({"figure": "generator + ingest, a day at a time (app/analytics/generator.py)",
                     "value": f"{rate:,.0f} events/s", "target": "", "passed": None})
    figures = measure(url)
    rows += [
        {"figure": f"events in the funnel (one year; {figures['visitors']:,} unique visitors)",
         "value": f"{have:,}", "target": f">= {EVENTS:,}", "passed": have >= EVENTS},
        {"figure": "one-year overview (median of 5, no cache)", "value": f"{figures['overview']:.0f} ms",
         "target": f"< {REPORT_TARGET_MS:.0f} ms", "passed": figures["overview"] < REPORT_TARGET_MS},
        {"figure": "one-year step report (median of 5, no cache)", "value": f"{figures['step']:.0f} ms",
         "target": f"< {REPORT_TARGET_MS:.0f} ms", "passed": figures["step"] < REPORT_TARGET_MS},
        {"figure": "realtime (median of 5, no cache)", "value": f"{figures['realtime']:.1f} ms",
         "target": f"< {REALTIME_TARGET_MS:.0f} ms", "passed": figures["realtime"] < REALTIME_TARGET_MS},
        {"figure": f"one-year CSV export, conversions ({figures['export_conversions_rows']})",
         "value": f"{figures['export_conversions']:.1f} s", "target": f"< {EXPORT_TARGET_S:.0f} s",
         "passed": figures["export_conversions"] < EXPORT_TARGET_S},
        {"figure": "one-year CSV export, overview", "value": f"{figures['export_overview']:.2f} s",
         "target": f"< {EXPORT_TARGET_S:.0f} s", "passed": figures["export_overview"] < EXPORT_TARGET_S},
    ]
    return rows
