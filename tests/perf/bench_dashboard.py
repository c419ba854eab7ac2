"""The dashboard (GET /) under load, served the production way: gunicorn, 2 sync workers, PostgreSQL.

1. Drop and create the database leadforge_bench, run the migrations, seed the demo workspace plus
   EXTRA_EVENTS audit events (so "Recent activity" reads from a realistic table), and count the SQL
   queries one GET / makes (in-process test client, for information).
2. Start gunicorn on a free port, log in once as the demo owner through the real form (CSRF token
   and session cookie included).
3. Fire WARMUP requests (not measured), then exactly REQUESTS GET / with that cookie from
   CONCURRENCY connections (http.client, keep-alive when the server allows it, one thread per
   connection). Every response must be a 200 with the dashboard greeting; anything else counts
   as an error.
4. Stop gunicorn (always), then measure the load generator alone against a null HTTP server
   answering the same number of bytes, to show the generator is not the bottleneck.

Besides throughput and latency (the targets), it reports for information where the CPU went, per
request: the gunicorn master and workers, the PostgreSQL backends serving them, the generator, and
what other processes on the machine took meanwhile (a busy machine lowers every figure; the run
warns above 10 %). With C cores and X ms of CPU per request, C / X is the most this machine can
serve however the load is shaped.

Only the database leadforge_bench is dropped (and left in place afterwards for inspection).
"""
import http.client
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from tests.support import free_port, recreate_database

# ---- targets and load shape ---------------------------------------------------------------------
# On this 2-core machine gunicorn, PostgreSQL and the load generator share the cores; the page costs
# about 5 ms of CPU, so ~390 req/s is the ceiling. 350 leaves room for noise and still catches an
# N+1 query or a heavier template (each cost ~15-20% when measured).
TARGET_THROUGHPUT = 350.0   # requests per second, at least
TARGET_P95_MS = 50.0        # 95th percentile latency in milliseconds, at most
REQUESTS = 3000             # measured requests (a fixed number, not a fixed time)
WARMUP = 200                # requests before the measurement, not counted
CONCURRENCY = 8             # simultaneous connections
GUNICORN_WORKERS = 2        # sync workers (the machine has 2 cores)
EXTRA_EVENTS = 400          # audit events added to the demo workspace
GENERATOR_MIN_HEADROOM = 3.0  # the generator alone must go at least this many times faster

BENCH_DATABASE = "leadforge_bench"
SECRET_KEY = "leadforge-bench-secret-key-not-for-production"
STARTUP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 15.0
ROOT = Path(__file__).resolve().parents[2]
NAME = "dashboard"


# ---- configuration ------------------------------------------------------------------------------

def database_url() -> str:
    """postgresql://... of leadforge_bench, on the server of TEST_DATABASE_URL."""
    from sqlalchemy.engine import make_url

    base = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/leadforge_test"
    url = make_url(base).set(drivername="postgresql", database=BENCH_DATABASE)
    return url.render_as_string(hide_password=False)


def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/14"


# ---- data ---------------------------------------------------------------------------------------

ACTIONS = [
    ("workspace.updated", "Workspace", "{who} updated the workspace settings"),
    ("member.invited", "Invitation", "{who} invited new.person{n}@example.com as user"),
    ("member.role_changed", "Membership", "{who} changed the role of sam@example.com to user"),
    ("api_key.created", "ApiKey", "{who} created the API key \"Zapier {n}\""),
    ("api_key.revoked", "ApiKey", "{who} revoked the API key \"Zapier {n}\""),
    ("member.invitation_revoked", "Invitation", "{who} revoked the invitation of new.person{n}@example.com"),
]


def prepare(url: str) -> dict:
    """Migrate and seed the bench database; return what the load test needs to know."""
    from flask_migrate import upgrade
    from sqlalchemy import event, select, text

    from app import create_app
    from app.auth.models import Membership, User
    from app.core.db import utcnow
    from app.core.models import AuditEvent
    from app.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
    from app.extensions import db

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
        "REDIS_URL": redis_url(), "RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_ENABLED": False,
        "JOBS_MODE": "sync", "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "WARNING", "DEBUG": False,
        "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False, "WTF_CSRF_ENABLED": False,
    })
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        account, owner = seed_demo()
        members = list(db.session.execute(
            select(User).join(Membership).where(Membership.account_id == account.id)).scalars())
        now = utcnow()
        events = []
        for n in range(EXTRA_EVENTS):
            action, object_type, summary = ACTIONS[n % len(ACTIONS)]
            who = members[n % len(members)]
            events.append(AuditEvent(
                account_id=account.id, user_id=who.id, action=action, object_type=object_type,
                object_id=str(uuid.uuid4()), summary=summary.format(who=who.email, n=n),
                details={"n": n}, ip_address=f"203.0.113.{n % 250 + 1}",
                created_at=now - timedelta(minutes=7 * (EXTRA_EVENTS - n))))
        db.session.add_all(events)
        db.session.commit()
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        total_events = db.session.execute(
            select(db.func.count()).select_from(AuditEvent).where(AuditEvent.account_id == account.id)).scalar_one()
        greeting = f"Good to see you, {owner.display_name}"
        db.session.remove()

    # SQL statements one GET / makes (for information; pool pre-pings, BEGIN and ROLLBACK are not
    # counted). No app context is open here, so each request starts with an empty session, as in
    # production.
    client = app.test_client()
    response = client.post("/login", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    if response.status_code not in (302, 303):
        raise RuntimeError(f"in-process log-in failed: HTTP {response.status_code}")
    client.get("/")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get("/")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    if response.status_code != 200 or greeting not in response.get_data(as_text=True):
        raise RuntimeError(f"in-process GET / failed: HTTP {response.status_code}")
    engine.dispose()
    return {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "greeting": greeting,
            "events": total_events, "queries": len(statements)}


# ---- gunicorn -----------------------------------------------------------------------------------

def start_gunicorn(url: str, port: int, log) -> subprocess.Popen:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": url, "REDIS_URL": redis_url(), "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "WARNING",
        "SESSION_COOKIE_SECURE": "0", "RATELIMIT_ENABLED": "0", "FLASK_DEBUG": "0", "PYTHONUNBUFFERED": "1",
    })
    gunicorn = Path(sys.executable).with_name("gunicorn")
    # --no-control-socket: gunicorn 27 otherwise opens ~/.gunicorn/gunicorn.ctl, shared by every instance.
    command = [str(gunicorn), "-w", str(GUNICORN_WORKERS), "-b", f"127.0.0.1:{port}", "--no-control-socket",
               "wsgi:app"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_until_up(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with code {process.returncode} while starting")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/login")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer GET /login within {STARTUP_TIMEOUT:.0f} s")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants (the workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except (OSError, IndexError, ValueError):
            continue
    return total


def backend_pids(url: str) -> list[int]:
    """PostgreSQL backends connected to the bench database (the workers' pooled connections)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid()").fetchall()
    return [row[0] for row in rows]


def processes_cpu(pids: list[int]) -> float:
    return sum(process_tree_cpu(pid) for pid in pids)


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


# ---- HTTP ---------------------------------------------------------------------------------------

class Jar:
    def __init__(self):
        self.cookies: dict[str, str] = {}

    def update(self, response: http.client.HTTPResponse) -> None:
        for header in response.headers.get_all("Set-Cookie") or []:
            parsed = SimpleCookie()
            parsed.load(header)
            for key, morsel in parsed.items():
                self.cookies[key] = morsel.value

    def header(self) -> str:
        return "; ".join(f"{key}={value}" for key, value in self.cookies.items())


def log_in(port: int, email: str, password: str, greeting: str) -> tuple[str, bool]:
    """Log in through the form; return the Cookie header and whether the server keeps connections."""
    jar = Jar()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", "/login")
        response = conn.getresponse()
        body = response.read().decode()
        jar.update(response)
        if response.status != 200:
            raise RuntimeError(f"GET /login answered {response.status}")
        tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', body)
        token = re.search(r'value="([^"]+)"', tag.group(0)) if tag else None
        if token is None:
            raise RuntimeError("no csrf_token field in the log-in form")
        form = urlencode({"email": email, "password": password, "csrf_token": token.group(1)})
        conn.request("POST", "/login", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": jar.header()})
        response = conn.getresponse()
        response.read()
        jar.update(response)
        if response.status not in (302, 303):
            raise RuntimeError(f"POST /login answered {response.status}, not a redirect (wrong password? CSRF?)")
        conn.request("GET", "/", headers={"Cookie": jar.header()})
        response = conn.getresponse()
        body = response.read().decode()
        keep_alive = not response.will_close
        if response.status != 200 or greeting not in body:
            raise RuntimeError(f"GET / after log-in answered {response.status} without {greeting!r}")
        return jar.header(), keep_alive
    finally:
        conn.close()


def fire(port: int, count: int, concurrency: int, headers: dict, check) -> dict:
    """Send exactly `count` GET / from `concurrency` connections; latencies of the good ones."""
    lock = threading.Lock()
    remaining = [count]
    latencies: list[float] = []
    errors: list[str] = []
    reconnects = [0]
    start = threading.Barrier(concurrency + 1)

    def take() -> bool:
        with lock:
            if remaining[0] <= 0:
                return False
            remaining[0] -= 1
            return True

    def worker():
        mine: list[float] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        opened = 0
        start.wait()
        while take():
            if conn.sock is None:
                opened += 1
            began = time.perf_counter()
            try:
                conn.request("GET", "/", headers=headers)
                response = conn.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - began
                problem = check(response.status, body)
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                problem = f"{type(exc).__name__}: {exc}"
            if problem:
                with lock:
                    errors.append(problem)
            else:
                mine.append(elapsed)
        conn.close()
        with lock:
            latencies.extend(mine)
            reconnects[0] += opened

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {"wall": wall, "latencies": sorted(latencies), "errors": errors, "connections": reconnects[0],
            "cpu": cpu}


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return float("nan")
    position = (len(sorted_values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


# ---- the generator alone ------------------------------------------------------------------------

NULL_SERVER = r"""
import socket, sys, threading
size, keep_alive = int(sys.argv[1]), sys.argv[2] == "1"
body = b"x" * size
head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {size}\r\n"
        + ("" if keep_alive else "Connection: close\r\n") + "\r\n").encode()
response = head + body
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(128)
print(listener.getsockname()[1], flush=True)

def serve(conn):
    buffer = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            _, buffer = buffer.split(b"\r\n\r\n", 1)
            conn.sendall(response)
            if not keep_alive:
                return

while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


def generator_ceiling(body_size: int, keep_alive: bool) -> dict:
    """The same generator against a server that answers instantly (another process)."""
    server = subprocess.Popen([sys.executable, "-c", NULL_SERVER, str(body_size), "1" if keep_alive else "0"],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        fire(port, 200, CONCURRENCY, {}, lambda status, body: None)
        return fire(port, REQUESTS, CONCURRENCY, {}, lambda status, body: None if status == 200 else str(status))
    finally:
        server.kill()
        server.wait(timeout=5)


# ---- the benchmark ------------------------------------------------------------------------------

def run() -> list[dict]:
    url = database_url()
    t0 = time.monotonic()
    recreate_database(url)
    info = prepare(url)
    print(f"   database {BENCH_DATABASE}: migrated and seeded ({info['events']} audit events) "
          f"in {time.monotonic() - t0:.1f} s", flush=True)

    port = free_port()
    log = tempfile.TemporaryFile(mode="w+")
    process = start_gunicorn(url, port, log)
    try:
        try:
            wait_until_up(process, port)
            cookie, keep_alive = log_in(port, info["email"], info["password"], info["greeting"])
        except Exception:
            log.seek(0)
            sys.stderr.write("--- gunicorn output ---\n" + log.read()[-4000:] + "\n")
            raise
        print(f"   gunicorn on 127.0.0.1:{port}, {GUNICORN_WORKERS} sync workers, logged in; "
              f"connections {'kept alive' if keep_alive else 'closed by the server after each response'}",
              flush=True)
        greeting = info["greeting"].encode()
        sizes: list[int] = []

        def check(status: int, body: bytes):
            if status != 200:
                return f"HTTP {status}"
            if greeting not in body:
                return "200 without the dashboard greeting"
            sizes.append(len(body))
            return None

        headers = {"Cookie": cookie}
        fire(port, WARMUP, CONCURRENCY, headers, check)
        sizes.clear()
        backends = backend_pids(url)
        server_cpu_before, database_cpu_before = process_tree_cpu(process.pid), processes_cpu(backends)
        busy_before, total_before = machine_cpu()
        result = fire(port, REQUESTS, CONCURRENCY, headers, check)
        busy_after, total_after = machine_cpu()
        server_cpu = process_tree_cpu(process.pid) - server_cpu_before
        database_cpu = processes_cpu(backends) - database_cpu_before
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn died during the run (exit code {process.returncode})")
    finally:
        stop_gunicorn(process)
        log.close()

    body_size = sorted(sizes)[len(sizes) // 2] if sizes else 20000
    ceiling = generator_ceiling(body_size, keep_alive)

    latencies = result["latencies"]
    errors = result["errors"]
    wall = result["wall"]
    throughput = REQUESTS / wall
    p50, p95, p99 = (percentile(latencies, q) * 1000 for q in (0.50, 0.95, 0.99))
    ceiling_rate = REQUESTS / ceiling["wall"]
    cores = os.cpu_count() or 1
    machine_busy = (busy_after - busy_before) / max(total_after - total_before, 1)  # 0..1 of all cores
    ours = server_cpu + database_cpu + result["cpu"]
    others = max(machine_busy * wall * cores - ours, 0.0) / (wall * cores)  # 0..1 of all cores
    cpu_per_request = ours / REQUESTS
    cpu_ceiling = cores / cpu_per_request if cpu_per_request else float("inf")
    if errors:
        kinds: dict[str, int] = {}
        for problem in errors:
            kinds[problem] = kinds.get(problem, 0) + 1
        print("   errors: " + "; ".join(f"{count} x {kind}" for kind, count in kinds.items()), flush=True)
    if others > 0.10:
        print(f"   warning: other processes used {others:.0%} of the machine during the run; "
              "throughput and latency are lower than on a quiet machine", flush=True)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.2f} ms"

    return [
        {"figure": "throughput (GET /)", "value": f"{throughput:,.0f} req/s",
         "target": f">= {TARGET_THROUGHPUT:,.0f} req/s", "passed": throughput >= TARGET_THROUGHPUT and not errors},
        {"figure": "latency p50", "value": f"{p50:.1f} ms", "target": "", "passed": None},
        {"figure": "latency p95", "value": f"{p95:.1f} ms", "target": f"<= {TARGET_P95_MS:.0f} ms",
         "passed": p95 <= TARGET_P95_MS},
        {"figure": "latency p99", "value": f"{p99:.1f} ms", "target": "", "passed": None},
        {"figure": "errors", "value": f"{len(errors)} of {REQUESTS}", "target": "0", "passed": not errors},
        {"figure": "SQL statements per GET /", "value": str(info["queries"]), "target": "", "passed": None},
        {"figure": "CPU per request: app (gunicorn)", "value": ms(server_cpu / REQUESTS), "target": "", "passed": None},
        {"figure": "CPU per request: PostgreSQL", "value": ms(database_cpu / REQUESTS), "target": "", "passed": None},
        {"figure": "CPU per request: load generator", "value": ms(result["cpu"] / REQUESTS), "target": "",
         "passed": None},
        {"figure": f"CPU-bound ceiling on {cores} cores (est.)", "value": f"{cpu_ceiling:,.0f} req/s",
         "target": "", "passed": None},
        {"figure": "other processes' CPU during run", "value": f"{others:.0%} of the machine",
         "target": "", "passed": None},
        {"figure": "generator alone (null server)", "value": f"{ceiling_rate:,.0f} req/s",
         "target": f">= {GENERATOR_MIN_HEADROOM:.0f}x throughput",
         "passed": ceiling_rate >= GENERATOR_MIN_HEADROOM * throughput},
    ]
