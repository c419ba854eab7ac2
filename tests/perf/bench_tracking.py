"""Tracking at scale: POST /api/v1/analytics/track through gunicorn (2 gthread workers of 4 threads) with the
ingest worker running beside it, PostgreSQL and Redis local; and PostgreSQL's own COPY rate for comparison.

1. Drop and create the database leadforge_bench_tracking, migrate, make a workspace with a two-step funnel.
2. Start gunicorn and one ingest worker (`ingest.run_forever`, what `flask analytics ingest` runs).
3. Single events: wrk for SINGLE_SECONDS with CONNECTIONS connections, each request one page_view of a new
   visitor. Target: >= 1,500 requests/s, p99 < 25 ms. Afterwards, once the buffer is empty, the events in the
   database are counted: every request answered 202 must be there (a request still in flight when wrk
   stopped its clock may be there too: at most CONNECTIONS more).
4. Batches: wrk for BATCH_SECONDS, each request 50 events. Target: >= 10,000 events/s INTO THE DATABASE,
   measured from the first request until the ingest worker has stored the last accepted event.
5. Upper bound: the same number of rows, as the ingest stored them, COPY'd by PostgreSQL from a file into
   a copy of the events table (no rollups, no Python): rows/s, and our ingest rate as a fraction of it.

The per-IP rate limit (100 events/s) would stop a load from one address: ANALYTICS_RATE_LIMIT is raised for
the run (the Lua script still counts every request, so the cost of the limit is measured). Only the
database leadforge_bench_tracking is dropped (and left in place afterwards for inspection).
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.perf.bench_dashboard import redis_url
from tests.perf.bench_site import ensure_tool
from tests.support import free_port, recreate_database

SINGLE_TARGET = 1500.0
P99_TARGET_MS = 25.0
BATCH_TARGET = 10_000.0
SINGLE_SECONDS = int(os.environ.get("BENCH_TRACKING_SECONDS", 60))  # shorter for a quick look
BATCH_SECONDS = 20
WARMUP_SECONDS = 3
CONNECTIONS = int(os.environ.get("BENCH_TRACKING_CONNECTIONS", 8))  # as many as the server has threads (2 x 4)
WRK_THREADS = 2
WORKERS, THREADS = 2, 4
BENCH_DATABASE = "leadforge_bench_tracking"
SECRET_KEY = "leadforge-bench-secret-key-not-for-production"
ROOT = Path(__file__).resolve().parents[2]
SITE_ORIGIN = "http://pages.bench.test"
AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
TRACK = "/api/v1/analytics/track"
BENCH_REDIS_DB = "13"

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.headers["Origin"] = "%(origin)s"
wrk.headers["User-Agent"] = "%(agent)s"
local threads, counter, number = {}, 0, 0
function setup(thread) number = number + 1; thread:set("number", number); table.insert(threads, thread) end
function init(args) accepted = 0 end
local function one()
  counter = counter + 1
  local visitor = string.format("%%08x-%%04x-4000-8000-%%012x", math.random(0, 2147483647), number, counter)
  return string.format('{"event_type":"page_view","funnel_id":"%(funnel)s","page_id":"%(page)s",' ..
    '"funnel_step_id":"%(step)s","session_id":"s%%d-%%d","visitor_id":"%%s","session_start":true,' ..
    '"url":"%(origin)s/bench","referrer":"https://www.google.com/"}', number, counter, visitor)
end
function request()
  local events = {}
  for i = 1, %(per_request)d do events[i] = one() end
  return wrk.format(nil, nil, nil, "[" .. table.concat(events, ",") .. "]")
end
function response(status, headers, body) if status == 202 then accepted = accepted + 1 end end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("accepted") end
  io.write(string.format("ACCEPTED %%d\\n", total))
end
"""


def database_url() -> str:
    from sqlalchemy.engine import make_url

    base = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/leadforge_test"
    return make_url(base).set(drivername="postgresql", database=BENCH_DATABASE).render_as_string(hide_password=False)


def bench_redis() -> str:
    return redis_url().rpartition("/")[0] + "/" + BENCH_REDIS_DB


def app_env(url: str) -> dict:
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": bench_redis(), "SECRET_KEY": SECRET_KEY,
            "SITE_URL": SITE_ORIGIN, "BASE_URL": "http://127.0.0.1", "ANALYTICS_RATE_LIMIT": "1000000",
            "LOG_LEVEL": "WARNING", "FLASK_DEBUG": "0", "PYTHONPATH": str(ROOT)}


def prepare(url: str) -> dict:
    """Migrate the bench database; a workspace with a funnel. Returns its ids."""
    script = (
        "from app import create_app\n"
        "from flask_migrate import upgrade\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    upgrade()\n"
        "    from tests import factories\n"
        "    from app.funnels import services\n"
        "    user = factories.make_user('bench@example.com'); account = factories.make_account(user, 'Bench')\n"
        "    funnel = services.create_funnel(account, {'name': 'Bench', 'slug': 'bench'}, user)\n"
        "    step = funnel.steps[0]\n"
        "    print('IDS', funnel.id, step.id, step.page.id)\n")
    output = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=app_env(url), capture_output=True,
                            text=True, check=True).stdout
    _, funnel, step, page = next(line for line in output.splitlines() if line.startswith("IDS")).split()
    return {"funnel": funnel, "step": step, "page": page}


def start(url: str, port: int, log) -> tuple[subprocess.Popen, subprocess.Popen]:
    env = app_env(url)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen([str(gunicorn), "-w", str(WORKERS), "-k", "gthread", "--threads", str(THREADS),
                               "-b", f"127.0.0.1:{port}", "--no-control-socket", "wsgi:app"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    worker = subprocess.Popen([sys.executable, "-c", "from app import create_app\napp = create_app()\n"
                               "with app.app_context():\n    from app.analytics.ingest import run_forever\n"
                               "    run_forever(idle_sleep=0.05)\n"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    import http.client

    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("POST", TRACK, body=b"[]")
            if conn.getresponse().status == 400:
                return server, worker
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def wrk(binary: str, port: int, ids: dict, per_request: int, seconds: int) -> dict:
    import re

    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_SCRIPT % {**ids, "origin": SITE_ORIGIN, "agent": AGENT, "per_request": per_request})
    output = subprocess.run([binary, "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency",
                             "-s", str(script), f"http://127.0.0.1:{port}{TRACK}"],
                            capture_output=True, text=True, check=True).stdout
    script.unlink()
    percentiles = {int(p): float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u] for p, v, u in
                   re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)}
    return {"rate": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
            "accepted": int(re.search(r"ACCEPTED (\d+)", output)[1]),
            "total": int(re.search(r"(\d+) requests in", output)[1]), "p50": percentiles.get(50),
            "p99": percentiles.get(99)}


def stored_events(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM analytics_events").fetchone()[0]


def wait_for_ingest(url: str, expected_at_least: int, timeout: float = 300) -> tuple[int, float]:
    """(events stored, when the last was) once the buffer is empty and the count holds still."""
    from redis import Redis

    redis = Redis.from_url(bench_redis())
    deadline = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = stored_events(url)
        if count != last:
            last, last_change = count, time.monotonic()
        elif count >= expected_at_least and redis.llen("analytics:buffer") == 0 and time.monotonic() - last_change > 1:
            return count, last_change
        time.sleep(0.05)
    return last, last_change


def copy_upper_bound(url: str) -> dict:
    """PostgreSQL's COPY of the rows the ingest stored, from a file into an empty copy of the table."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT count(*) FROM analytics_events").fetchone()[0]
        path = Path(tempfile.mkstemp(suffix=".copy")[1])
        with open(path, "wb") as handle, conn.cursor().copy("COPY (SELECT * FROM analytics_events) TO STDOUT") as copy:
            for chunk in copy:
                handle.write(chunk)
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE TABLE bench_copy (LIKE analytics_events INCLUDING DEFAULTS INCLUDING INDEXES)")
        began = time.perf_counter()
        with open(path, "rb") as handle, conn.cursor().copy("COPY bench_copy FROM STDIN") as copy:
            while data := handle.read(1 << 20):
                copy.write(data)
        seconds = time.perf_counter() - began
        conn.execute("DROP TABLE bench_copy")
        path.unlink()
    return {"rows": rows, "rate": rows / seconds}


def run() -> list[dict]:
    wrk_binary = ensure_tool("wrk")
    url = database_url()
    recreate_database(url)
    from redis import Redis

    Redis.from_url(bench_redis()).flushdb()
    ids = prepare(url)
    port = free_port()
    rows = []
    with tempfile.TemporaryFile() as log:
        server, worker = start(url, port, log)
        try:
            wrk(wrk_binary, port, ids, 1, WARMUP_SECONDS)
            stored, _ = wait_for_ingest(url, 1)
            before = stored
            print(f"   single events: {SINGLE_SECONDS} s of load...", flush=True)
            single = wrk(wrk_binary, port, ids, 1, SINGLE_SECONDS)
            stored, _ = wait_for_ingest(url, before + single["accepted"])
            in_db = stored - before
            complete = single["accepted"] <= in_db <= single["accepted"] + CONNECTIONS
            rows += [
                {"figure": "single-event requests/s (60 s)", "value": f"{single['rate']:,.0f} req/s",
                 "target": f">= {SINGLE_TARGET:,.0f} req/s", "passed": single["rate"] >= SINGLE_TARGET},
                {"figure": "single-event p99 latency", "value": f"{single['p99']:.1f} ms (p50 {single['p50']:.1f})",
                 "target": f"< {P99_TARGET_MS:.0f} ms", "passed": single["p99"] < P99_TARGET_MS},
                {"figure": "accepted events found in the database", "value": f"{in_db:,} of {single['accepted']:,}",
                 "target": "all", "passed": complete},
            ]
            print(f"   batches of 50: {BATCH_SECONDS} s of load...", flush=True)
            before = stored
            began = time.monotonic()
            batch = wrk(wrk_binary, port, ids, 50, BATCH_SECONDS)
            stored, finished = wait_for_ingest(url, before + batch["accepted"] * 50)
            ingest_rate = (stored - before) / (finished - began)
            rows += [
                {"figure": "batched: events/s accepted by the endpoint", "value": f"{batch['rate'] * 50:,.0f} events/s",
                 "target": "", "passed": None},
                {"figure": "batched: events/s into the database", "value": f"{ingest_rate:,.0f} events/s",
                 "target": f">= {BATCH_TARGET:,.0f} events/s", "passed": ingest_rate >= BATCH_TARGET},
                {"figure": "batched: accepted events in the database",
                 "value": f"{stored - before:,} of {batch['accepted'] * 50:,}", "target": "all",
                 "passed": batch["accepted"] * 50 <= stored - before <= (batch["accepted"] + CONNECTIONS) * 50},
            ]
        finally:
            stop(server, worker)
    bound = copy_upper_bound(url)
    rows += [
        {"figure": f"PostgreSQL COPY of the same {bound['rows']:,} rows (upper bound)",
         "value": f"{bound['rate']:,.0f} rows/s", "target": "", "passed": None},
        {"figure": "our ingest as a fraction of COPY", "value": f"{ingest_rate / bound['rate']:.0%}",
         "target": "", "passed": None},
    ]
    return rows


if __name__ == "__main__":
    for row in run():
        print(json.dumps(row))
