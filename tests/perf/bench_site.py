"""A published page under load: gunicorn (2 workers) against nginx serving the same HTML as a static file.

1. Drop and create the database leadforge_bench_site, migrate, create a workspace and a funnel from the
   lead-magnet system template (a real page: sections, headline, copy, image, form; ~40 elements;
   a home-made page of the same size if the templates are missing), and publish it.
2. For each gunicorn mode (sync; gthread with 2 and 4 threads): start gunicorn (2 workers) with SITE_URL on the
   address the generator uses, warm up, then load the published page with wrk (a C load generator,
   so that the generator is not the bottleneck) for DURATION seconds over CONNECTIONS connections.
   Every response is checked once beforehand (200, the page's bytes, ETag); wrk counts non-2xx.
3. Serve the same bytes as a static file with nginx (2 workers, a minimal config in a temp dir, run
   as a child in the foreground) under the same load; print its figures and the ratio app / nginx.

wrk and nginx are Debian packages: installed with apt-get when missing (Makefile `bench` prerequisite).
Reports, for information, the CPU per request of the server and of wrk, and the mode that was faster.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.perf.bench_dashboard import machine_cpu, process_tree_cpu, redis_url, stop_gunicorn
from tests.support import free_port, recreate_database

TARGET_THROUGHPUT = 3000.0  # requests per second, at least
TARGET_P99_MS = 20.0        # 99th percentile latency, at most
DURATION = 8                # seconds of measured load per server
WARMUP = 2                  # seconds of load before measuring (not counted)
CONNECTIONS = 8             # simultaneous connections (as the dashboard benchmark)
THREADS = 1                 # wrk threads (one is plenty for wrk, and leaves a core to the servers)
WORKERS = 2
MODES = (("sync", 0), ("gthread", 2), ("gthread", 4))  # (worker class, threads): the fastest is reported
BENCH_DATABASE = "leadforge_bench_site"
SECRET_KEY = "leadforge-bench-secret-key-not-for-production"
ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
PACKAGES = {"wrk": "wrk", "nginx": "nginx-light"}


# ---- tools ----------------------------------------------------------------------------------------

def ensure_tool(name: str) -> str:
    """The path of a Debian-packaged tool, installing the package when it is missing."""
    found = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if found:
        return found
    print(f"   installing {PACKAGES[name]} (apt-get)...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-q", PACKAGES[name]], env=env, capture_output=True).returncode:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", PACKAGES[name]], env=env, check=True, capture_output=True)
    found = shutil.which(name) or f"/usr/sbin/{name}"
    if not os.path.exists(found):
        raise RuntimeError(f"{name} is not installed (apt-get install {PACKAGES[name]})")
    return found


# ---- data -----------------------------------------------------------------------------------------

def database_url() -> str:
    from sqlalchemy.engine import make_url

    base = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/leadforge_test"
    return make_url(base).set(drivername="postgresql", database=BENCH_DATABASE).render_as_string(hide_password=False)


def settings(url: str, port: int) -> dict:
    """The environment of both the preparing app and gunicorn: the generator's address is the site host."""
    return {"DATABASE_URL": url, "REDIS_URL": redis_url(), "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "WARNING",
            "SITE_URL": f"http://127.0.0.1:{port}", "BASE_URL": f"http://localhost:{port}",
            "RATELIMIT_ENABLED": "0", "FLASK_DEBUG": "0", "SESSION_COOKIE_SECURE": "0", "JOBS_MODE": "sync"}


def _fallback_steps() -> list[dict]:
    """~40 elements: what a real opt-in page holds, if the system templates are not there."""
    from app.pages import tree as trees

    def block(title):
        return trees.section_with([
            trees.new_element("headline", props={"text": title, "level": "h2"}),
            trees.new_element("text", props={"html": "<p>Everything you need to <strong>grow</strong>, "
                                                     "in one short guide.</p><ul><li>One</li><li>Two</li></ul>"}),
            trees.new_element("image", props={"alt": "A chart", "width": 800, "height": 450}),
            trees.new_element("button", props={"label": "Get it", "action": "next_step"}),
        ])

    form = trees.new_element("form", props={"tags": ["bench"]}, children=[
        trees.new_element("input_field", props={"label": "E-mail", "maps_to": "email"}),
        trees.new_element("input_field", props={"label": "First name", "maps_to": "first_name",
                                                "input_type": "text"})])
    page = trees.empty_page()
    page["children"] = [block(f"Part {n}") for n in range(6)] + [trees.section_with([form])]
    thanks = trees.empty_page()
    return [{"name": "Opt-in", "slug": "opt-in", "page": {"tree": trees.validate(page)}},
            {"name": "Thank you", "slug": "thanks", "step_type": "thank_you", "page": {"tree": thanks}}]


def prepare(url: str, env: dict) -> dict:
    """Migrate, seed a published funnel; return its first step's path and bytes as served."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.funnels import publishing
    from app.funnels import services as funnels
    from app.pages import tree as trees
    from tests.factories import make_account, make_user

    config = {"SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
              "REDIS_URL": env["REDIS_URL"], "SITE_URL": env["SITE_URL"], "BASE_URL": env["BASE_URL"],
              "SECRET_KEY": SECRET_KEY, "RATELIMIT_ENABLED": False, "JOBS_MODE": "sync", "LOG_LEVEL": "WARNING"}
    app = create_app(config)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        user = make_user("bench@example.com", name="Bench")
        account = make_account(user, "Bench")
        try:
            from app.funnels.system_templates import get

            funnel = funnels.create_from_snapshot(account, get("lead-magnet").snapshot(), {}, user)
            source = "the lead-magnet template"
        except Exception as exc:
            print(f"   (lead-magnet template unavailable: {type(exc).__name__}: {exc}; using a built page)")
            db.session.rollback()
            funnel = funnels.create_funnel(account, {"name": "Bench", "slug": "bench"}, user, steps=_fallback_steps())
            source = "a built page"
        try:
            publishing.publish_funnel(account, funnel, user)
        except publishing.PublishRefused as refused:  # publish what can be: the first step is enough
            db.session.rollback()
            print(f"   (funnel not publishable as a whole: {refused.problems[:2]}; publishing its first page)")
            publishing.publish_page(account, funnel.steps[0].page, user)
        step = funnel.steps[0]
        elements = trees.count(step.page.tree)
        path = publishing.public_path(step)
        db.session.remove()
    client = app.test_client()
    response = client.get(path, base_url=env["SITE_URL"])
    if response.status_code != 200:
        raise RuntimeError(f"the published page answers {response.status_code} in-process")
    with app.app_context():
        db.engine.dispose()
    return {"path": path, "elements": elements, "source": source, "body": response.data}


# ---- servers --------------------------------------------------------------------------------------

# Each worker moves what create_app() built (modules, the app, SQLAlchemy's mappers: ~all its heap) out
# of the garbage collector's scans; measured here: -15 % CPU per request and a p99 ~3x lower (the GC's
# full collections of a big heap were the latency spikes). The README's gunicorn command should say
# the same (`-c` with this hook, or gc.freeze() at the end of wsgi.py).
GUNICORN_CONFIG = """
def post_worker_init(worker):
    import gc
    gc.collect()
    gc.freeze()
"""


def start_gunicorn(env: dict, port: int, worker_class: str, threads: int, log, config: Path) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "-w", str(WORKERS), "-k", worker_class, "-b", f"127.0.0.1:{port}",
               "--no-control-socket", "--backlog", "2048", "-c", str(config)]
    if threads:
        command += ["--threads", str(threads)]
    command.append("wsgi:app")
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                            stdout=log, stderr=subprocess.STDOUT)


NGINX_CONF = """worker_processes {workers};
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    types {{ text/html html; }}
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/www;
        location / {{ try_files $uri $uri/index.html =404; }}
    }}
}}
"""


def start_nginx(nginx: str, prefix: Path, port: int, path: str, body: bytes, log) -> subprocess.Popen:
    folder = prefix / "www" / path.strip("/")
    folder.mkdir(parents=True)
    (folder / "index.html").write_bytes(body)
    (prefix / "tmp").mkdir()
    for directory in [prefix, *prefix.rglob("*")]:
        if directory.is_dir():
            directory.chmod(0o755)  # the workers run as nobody
    (folder / "index.html").chmod(0o644)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=WORKERS, prefix=prefix, port=port))
    return subprocess.Popen([nginx, "-p", str(prefix), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)


def stop_nginx(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_for_page(process: subprocess.Popen, port: int, path: str) -> bytes:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} while starting")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                if response.status == 200:
                    return response.read()
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no 200 for {path} within {STARTUP_TIMEOUT:.0f} s")


# ---- load -----------------------------------------------------------------------------------------

def wrk(binary: str, port: int, path: str, seconds: int) -> dict:
    """wrk's figures: requests/s, latency percentiles (ms), non-2xx and socket errors, CPU of wrk."""
    before = os.times()
    output = subprocess.run([binary, "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency",
                             f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    after = os.times()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    total = int(re.search(r"(\d+) requests in", output)[1])
    percentiles = {int(p): _ms(value, unit) for p, value, unit in
                   re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(bad[1]) if bad else 0) + (sum(int(n) for n in sockets.groups()) if sockets else 0)
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"rate": rate, "total": total, "p50": percentiles.get(50), "p99": percentiles.get(99), "errors": errors,
            "cpu": cpu, "output": output}


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(binary: str, port: int, path: str, server_pid: int) -> dict:
    wrk(binary, port, path, WARMUP)
    cpu_before = process_tree_cpu(server_pid)
    busy_before, total_before = machine_cpu()
    result = wrk(binary, port, path, DURATION)
    busy_after, total_after = machine_cpu()
    result["server_cpu"] = process_tree_cpu(server_pid) - cpu_before
    cores = os.cpu_count() or 1
    machine = (busy_after - busy_before) / max(total_after - total_before, 1) * DURATION * cores
    result["others"] = max(machine - result["server_cpu"] - result["cpu"], 0.0) / (DURATION * cores)
    return result


# ---- the benchmark --------------------------------------------------------------------------------

def run() -> list[dict]:
    wrk_binary, nginx = ensure_tool("wrk"), ensure_tool("nginx")
    url = database_url()
    port = free_port()
    env = settings(url, port)
    started = time.monotonic()
    recreate_database(url)
    info = prepare(url, env)
    print(f"   published {info['source']} ({info['elements']} elements, {len(info['body']):,} bytes) at "
          f"{info['path']} in {time.monotonic() - started:.1f} s", flush=True)

    results = {}
    config = Path(tempfile.mkdtemp(prefix="leadforge-bench-site-")) / "gunicorn_conf.py"
    config.write_text(GUNICORN_CONFIG)
    for worker_class, threads in MODES:
        mode = f"{worker_class} x{threads}" if threads else worker_class
        log = tempfile.TemporaryFile(mode="w+")
        process = start_gunicorn(env, port, worker_class, threads, log, config)
        try:
            try:
                body = wait_for_page(process, port, info["path"])
                if b"<!doctype html>" not in body[:50]:
                    raise RuntimeError("gunicorn does not answer the published page")
                results[mode] = measure(wrk_binary, port, info["path"], process.pid)
            except Exception:
                log.seek(0)
                sys.stderr.write("--- gunicorn output ---\n" + log.read()[-4000:] + "\n")
                raise
        finally:
            stop_gunicorn(process)
            log.close()
        result = results[mode]
        print(f"   gunicorn {mode:11} {result['rate']:8,.0f} req/s  p50 {result['p50']:.2f} ms  "
              f"p99 {result['p99']:.2f} ms  errors {result['errors']}", flush=True)

    shutil.rmtree(config.parent, ignore_errors=True)
    nginx_port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="leadforge-bench-nginx-"))
    log = tempfile.TemporaryFile(mode="w+")
    process = start_nginx(nginx, prefix, nginx_port, info["path"], body, log)
    try:
        try:
            if wait_for_page(process, nginx_port, info["path"]) != body:
                raise RuntimeError("nginx does not serve the same bytes")
            static = measure(wrk_binary, nginx_port, info["path"], process.pid)
        except Exception:
            log.seek(0)
            sys.stderr.write("--- nginx output ---\n" + log.read()[-4000:] + "\n")
            raise
    finally:
        stop_nginx(process)
        log.close()
        shutil.rmtree(prefix, ignore_errors=True)
    print(f"   nginx (static) {static['rate']:8,.0f} req/s  p50 {static['p50']:.2f} ms  p99 {static['p99']:.2f} ms",
          flush=True)

    best_class = max(results, key=lambda name: results[name]["rate"])
    best = results[best_class]
    if best["others"] > 0.10:
        print(f"   warning: other processes used {best['others']:.0%} of the machine during the run; "
              "throughput and latency are lower than on a quiet machine", flush=True)

    def per_request(seconds: float, total: int) -> str:
        return f"{seconds * 1000 / max(total, 1):.3f} ms"

    rows = [
        {"figure": f"throughput (gunicorn {best_class}, {WORKERS} workers)", "value": f"{best['rate']:,.0f} req/s",
         "target": f">= {TARGET_THROUGHPUT:,.0f} req/s",
         "passed": best["rate"] >= TARGET_THROUGHPUT and not best["errors"]},
        {"figure": "latency p99", "value": f"{best['p99']:.2f} ms", "target": f"< {TARGET_P99_MS:.0f} ms",
         "passed": best["p99"] < TARGET_P99_MS},
        {"figure": "latency p50", "value": f"{best['p50']:.2f} ms", "target": "", "passed": None},
        {"figure": "errors (non-2xx, socket)", "value": f"{best['errors']} of {best['total']:,}", "target": "0",
         "passed": not best["errors"]},
    ]
    for worker_class, result in results.items():
        if worker_class != best_class:
            rows.append({"figure": f"throughput (gunicorn {worker_class})", "value": f"{result['rate']:,.0f} req/s "
                         f"(p99 {result['p99']:.2f} ms)", "target": "", "passed": None})
    rows += [
        {"figure": "nginx, same HTML as a static file", "value": f"{static['rate']:,.0f} req/s "
         f"(p99 {static['p99']:.2f} ms)", "target": "", "passed": None},
        {"figure": "ratio app / nginx", "value": f"{best['rate'] / static['rate']:.0%}", "target": "", "passed": None},
        {"figure": "CPU per request: gunicorn", "value": per_request(best["server_cpu"], best["total"]),
         "target": "", "passed": None},
        {"figure": "CPU per request: nginx", "value": per_request(static["server_cpu"], static["total"]),
         "target": "", "passed": None},
        {"figure": "CPU per request: wrk (vs gunicorn)", "value": per_request(best["cpu"], best["total"]),
         "target": "", "passed": None},
        {"figure": f"CPU-bound ceiling on {os.cpu_count()} cores (est.)",
         "value": f"{(os.cpu_count() or 1) * best['total'] / max(best['server_cpu'] + best['cpu'], 1e-9):,.0f} req/s",
         "target": "", "passed": None},
        {"figure": "other processes' CPU during the app run", "value": f"{best['others']:.0%} of the machine",
         "target": "", "passed": None},
        {"figure": "page", "value": f"{info['elements']} elements, {len(body):,} bytes", "target": "", "passed": None},
    ]
    return rows
