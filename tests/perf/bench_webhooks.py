"""Stripe webhooks under load: POST /api/v1/webhooks/stripe through gunicorn (2 gthread workers of 4 threads),
PostgreSQL, Redis.

1. Drop and create the database leadforge_bench_webhooks, migrate, and write ORDERS pending orders (plus
   WARMUP more), each with its checkout payment waiting for Stripe (a PaymentIntent id of its own).
   Start localstripe (the Stripe stand-in of the tests) and make STALE real PaymentIntents there, charged
   with a test card: their orders' payments are recorded as waiting for the bank's authentication.
2. Start gunicorn with the webhook secret and localstripe as Stripe. Sign every payload with the stripe
   library's own code (timestamps of the run: within the 5-minute tolerance).
3. Measured: one payment_intent.succeeded per order, and DUPLICATES of them delivered a second time right
   after the first (so both are in flight at once, on two connections), from CONCURRENCY connections. The
   endpoint verifies, stores the event once and queues its job (rq, a queue of the run's own): that is the
   target's figure. Then WORKERS RQ workers (`flask worker --burst`) handle the jobs (lock, pay the order:
   `succeeded` is final, no Stripe call; the receipt job that order.paid queues is handled too): their rate
   is printed for information.
4. For information, the stale kind: payment_intent.requires_action for the STALE PaymentIntents that have
   succeeded since, whose jobs fetch each PaymentIntent from localstripe (and then pay the order).
5. Checked afterwards, in the database: every order paid, one `payment.succeeded` line in each order's history,
   one stored event per event id, and the duplicates answered {"duplicate": true}. Any miss fails the row.

Only the database leadforge_bench_webhooks is dropped (and left in place afterwards for inspection).
"""
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from tests.perf.bench_dashboard import machine_cpu, process_tree_cpu, redis_url, stop_gunicorn
from tests.support import free_port, recreate_database

TARGET_RATE = 300.0    # events per second, at least (the figure)
ORDERS = 1500          # orders paid by the measured events
DUPLICATES = 300       # of those events, delivered twice
WARMUP = 100           # events on orders of their own before the measurement, not counted
STALE = 100            # stale requires_action events checked against localstripe (information)
CONCURRENCY = 8        # simultaneous connections
WORKERS = 2            # gunicorn workers (the machine has 2 cores), and RQ workers after
THREADS = 4            # gunicorn gthread threads per worker: a delivery waits on PostgreSQL and Redis, the
                       # other threads use the CPU meanwhile (the site benchmark's best mode too)
BENCH_DATABASE = "leadforge_bench_webhooks"
SECRET_KEY = "leadforge-bench-secret-key-not-for-production"
WEBHOOK_SECRET = "whsec_bench_webhooks"
STRIPE_KEYS = {"STRIPE_SECRET_KEY": "sk_test_leadforge", "STRIPE_PUBLISHABLE_KEY": "pk_test_leadforge",
               "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
PATH = "/api/v1/webhooks/stripe"
# order.paid enqueues the receipt job, as in production (rq); in a queue of its own, emptied after the run
RQ_QUEUE = "leadforge-bench-webhooks"


def empty_queue() -> None:
    from redis import Redis
    from rq import Queue

    Queue(RQ_QUEUE, connection=Redis.from_url(redis_url())).empty()


def database_url() -> str:
    from sqlalchemy.engine import make_url

    base = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/leadforge_test"
    return make_url(base).set(drivername="postgresql", database=BENCH_DATABASE).render_as_string(hide_password=False)


# ---- localstripe ------------------------------------------------------------------------------------

def start_localstripe(log) -> tuple[subprocess.Popen, str]:
    import urllib.request

    port = free_port()
    # In memory (tests/stripe_standin.py): localstripe's own disk store is one file shared by every instance.
    process = subprocess.Popen([sys.executable, "-m", "tests.stripe_standin", "--port", str(port)], stdout=log,
                               stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 2 * STARTUP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url + "/js.stripe.com/v3/", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    log.seek(0)
    raise RuntimeError(f"localstripe did not start: {log.read()[-500:]}")


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# ---- data ---------------------------------------------------------------------------------------------

def _real_intents(count: int, localstripe_url: str) -> list[str]:
    """`count` PaymentIntents that succeeded at localstripe: one customer and card, one charge each."""
    import requests

    from app.orders import gateway

    key = secrets.token_hex(6)
    customer = gateway.create_customer("bench@example.com", "Bench Buyer", f"bench:{key}:customer")
    setup_id, client_secret = gateway.start_card_setup(customer, f"bench:{key}:setup")
    response = requests.post(f"{localstripe_url}/v1/setup_intents/{setup_id}/confirm", timeout=10, json={
        "key": STRIPE_KEYS["STRIPE_PUBLISHABLE_KEY"], "client_secret": client_secret,
        "payment_method_data": {"type": "card", "card": {"number": "4242424242424242", "exp_month": "12",
                                                         "exp_year": "2030", "cvc": "123"}}})
    response.raise_for_status()
    method = gateway.saved_card(setup_id, customer)
    intents = []
    for n in range(count):
        charge = gateway.charge(amount=4900, currency="usd", customer_id=customer, payment_method_id=method,
                                off_session=True, idempotency_key=f"bench:{key}:{n}", metadata={})
        if charge.status != "succeeded":
            raise RuntimeError(f"localstripe charge came back {charge.status}")
        intents.append(charge.payment_intent_id)
    return intents


def prepare(url: str, localstripe_url: str) -> dict:
    """Migrate; write the orders and their payments; return {group: [(order id, PaymentIntent id)]}."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from app import create_app
    from app.extensions import db
    from app.orders.models import Order, OrderCounter, OrderItem, Payment
    from tests.factories import make_account, make_product, make_user

    config = {"SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
              "REDIS_URL": redis_url(), "SECRET_KEY": SECRET_KEY, "RATELIMIT_ENABLED": False, "JOBS_MODE": "sync",
              "LOG_LEVEL": "WARNING", **STRIPE_KEYS, "STRIPE_API_BASE": localstripe_url}
    app = create_app(config)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        user = make_user("bench@example.com", name="Bench")
        account = make_account(user, "Bench")
        product, price = make_product(account, "Masterclass", 4900)
        stale_intents = _real_intents(STALE, localstripe_url)
        groups = {"warmup": WARMUP, "measured": ORDERS, "stale": STALE}
        orders, payments, items, ids = [], [], [], {}
        number = 1000
        for group, count in groups.items():
            ids[group] = []
            for n in range(count):
                number += 1
                order_id, payment_id = uuid.uuid4(), uuid.uuid4()
                intent = stale_intents[n] if group == "stale" else f"pi_bench_{secrets.token_hex(10)}"
                orders.append({"id": order_id, "account_id": account.id, "number": number, "status": "pending",
                               "email": "", "currency": "usd", "subtotal_cents": 4900, "total_cents": 4900,
                               "checkout_key": secrets.token_urlsafe(16), "address": {}})
                payments.append({"id": payment_id, "account_id": account.id, "order_id": order_id,
                                 "purpose": "checkout", "stripe_payment_intent_id": intent, "amount_cents": 4900,
                                 "currency": "usd", "status": "requires_action" if group == "stale" else "created"})
                items.append({"id": uuid.uuid4(), "account_id": account.id, "order_id": order_id, "kind": "main",
                              "product_id": product.id, "price_id": price.id, "payment_id": payment_id,
                              "name": product.name, "quantity": 1, "unit_amount_cents": 4900, "discount_cents": 0,
                              "amount_cents": 4900, "refunded_cents": 0, "position": 0})
                ids[group].append((str(order_id), intent))
        db.session.execute(insert(Order), orders)
        db.session.execute(insert(Payment), payments)
        db.session.execute(insert(OrderItem), items)
        db.session.add(OrderCounter(account_id=account.id, last_number=number))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return ids


def check_database(url: str, ids: dict, event_ids: list[str]) -> list[str]:
    """What is wrong in the database after the run (nothing: [])."""
    import psycopg

    problems = []
    with psycopg.connect(url, autocommit=True) as conn:
        for group in ("measured", "stale"):
            order_ids = [order_id for order_id, _ in ids[group]]
            statuses = dict(conn.execute("SELECT status, count(*) FROM orders WHERE id = ANY(%s::uuid[]) "
                                         "GROUP BY status", (order_ids,)).fetchall())
            if statuses != {"paid": len(order_ids)}:
                problems.append(f"{group} orders: {statuses} (all {len(order_ids)} should be paid)")
            lines = conn.execute("SELECT count(*), count(DISTINCT order_id) FROM order_events WHERE kind = "
                                 "'payment.succeeded' AND order_id = ANY(%s::uuid[])", (order_ids,)).fetchone()
            if tuple(lines) != (len(order_ids), len(order_ids)):
                problems.append(f"{group}: {lines[0]} payment.succeeded lines for {lines[1]} orders "
                                f"(one each expected)")
        stored = conn.execute("SELECT count(*) FROM stripe_events WHERE id = ANY(%s)", (event_ids,)).fetchone()[0]
        if stored != len(set(event_ids)):
            problems.append(f"{stored} stored events for {len(set(event_ids))} event ids")
    return problems


# ---- load ---------------------------------------------------------------------------------------------

def event(kind: str, intent_id: str, status: str) -> dict:
    return {"id": f"evt_{secrets.token_hex(12)}", "object": "event", "type": kind, "livemode": False,
            "created": int(time.time()), "api_version": "2024-06-20",
            "data": {"object": {"id": intent_id, "object": "payment_intent", "amount": 4900, "currency": "usd",
                                "status": status, "latest_charge": f"ch_{intent_id[3:]}"}}}


def signed(events: list[dict]) -> list[tuple[bytes, str]]:
    import stripe

    deliveries = []
    for body in events:
        payload = json.dumps(body)
        header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
        deliveries.append((payload.encode(), header))
    return deliveries


def fire(port: int, deliveries: list[tuple[bytes, str]]) -> dict:
    """POST every delivery, in list order, from CONCURRENCY keep-alive connections; the answers' bodies."""
    lock = threading.Lock()
    position = [0]
    answers: list = [None] * len(deliveries)
    errors: list[str] = []
    start = threading.Barrier(CONCURRENCY + 1)

    def take() -> int | None:
        with lock:
            if position[0] >= len(deliveries):
                return None
            position[0] += 1
            return position[0] - 1

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        start.wait()
        while (index := take()) is not None:
            payload, signature = deliveries[index]
            try:
                conn.request("POST", PATH, body=payload, headers={"Content-Type": "application/json",
                                                                  "Stripe-Signature": signature})
                response = conn.getresponse()
                body = response.read()
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if response.status != 200:
                with lock:
                    errors.append(f"HTTP {response.status}: {body[:200]!r}")
                continue
            answers[index] = json.loads(body)
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return {"wall": time.perf_counter() - began, "answers": answers, "errors": errors}


def app_env(url: str, localstripe_url: str) -> dict:
    """The settings of the web processes and of the workers."""
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url(), "SECRET_KEY": SECRET_KEY,
            "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": "0", "FLASK_DEBUG": "0", "SESSION_COOKIE_SECURE": "0",
            "JOBS_MODE": "rq", "RQ_QUEUE": RQ_QUEUE, "PYTHONUNBUFFERED": "1", **STRIPE_KEYS,
            "STRIPE_API_BASE": localstripe_url, "FLASK_APP": "wsgi.py"}


def drain(url: str, localstripe_url: str, log) -> float:
    """Run WORKERS RQ workers (`flask worker --burst`) until the queue is empty: the seconds it took."""
    flask = Path(sys.executable).with_name("flask")
    began = time.perf_counter()
    workers = [subprocess.Popen([str(flask), "worker", "--burst"], cwd=ROOT, env=app_env(url, localstripe_url),
                                stdout=log, stderr=subprocess.STDOUT) for _ in range(WORKERS)]
    for worker in workers:
        worker.wait(timeout=600)
    return time.perf_counter() - began


def start_gunicorn(url: str, port: int, localstripe_url: str, log, config: Path) -> subprocess.Popen:
    env = app_env(url, localstripe_url)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "-w", str(WORKERS), "-k", "gthread", "--threads", str(THREADS),
               "-b", f"127.0.0.1:{port}", "--no-control-socket",
               "-c", str(config), "wsgi:app"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_until_up(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with code {process.returncode} while starting")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("POST", PATH, body=b"{}", headers={"Content-Type": "application/json"})
            status = conn.getresponse().status
            conn.close()
            if status == 400:  # unsigned: refused, so the route is there
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer POST {PATH} within {STARTUP_TIMEOUT:.0f} s")


# ---- the benchmark ------------------------------------------------------------------------------------

def measured_deliveries(ids: dict) -> tuple[list[dict], list[tuple[bytes, str]]]:
    """One succeeded event per order; DUPLICATES of them (spread over the run) sent again right after."""
    import random

    events = [event("payment_intent.succeeded", intent, "succeeded") for _, intent in ids["measured"]]
    twice = set(random.Random(10).sample(range(len(events)), DUPLICATES))
    order = []
    for index, body in enumerate(events):
        order.append(body)
        if index in twice:
            order.append(body)
    return events, signed(order)


def run() -> list[dict]:
    from tests.perf.bench_site import GUNICORN_CONFIG

    url = database_url()
    started = time.monotonic()
    stripe_log = tempfile.TemporaryFile(mode="w+")
    localstripe, localstripe_url = start_localstripe(stripe_log)
    config = Path(tempfile.mkdtemp(prefix="leadforge-bench-webhooks-")) / "gunicorn_conf.py"
    config.write_text(GUNICORN_CONFIG)
    log = tempfile.TemporaryFile(mode="w+")
    process = None
    try:
        recreate_database(url)
        ids = prepare(url, localstripe_url)
        print(f"   database {BENCH_DATABASE}: {ORDERS + WARMUP + STALE} pending orders ({STALE} with real "
              f"PaymentIntents at localstripe) in {time.monotonic() - started:.1f} s", flush=True)
        port = free_port()
        process = start_gunicorn(url, port, localstripe_url, log, config)
        try:
            wait_until_up(process, port)
            warmup = fire(port, signed([event("payment_intent.succeeded", intent, "succeeded")
                                        for _, intent in ids["warmup"]]))
            drain(url, localstripe_url, log)
            events, deliveries = measured_deliveries(ids)
            load_before = os.getloadavg()[0]
            busy_before, total_before = machine_cpu()
            server_before = process_tree_cpu(process.pid)
            measured = fire(port, deliveries)
            server_cpu = process_tree_cpu(process.pid) - server_before
            busy_after, total_after = machine_cpu()
            handling = drain(url, localstripe_url, log)  # the jobs the measured events queued
            stale_events = [event("payment_intent.requires_action", intent, "requires_action")
                            for _, intent in ids["stale"]]
            stale = fire(port, signed(stale_events))
            stale_handling = drain(url, localstripe_url, log)
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn died during the run (exit code {process.returncode})")
        except Exception:
            log.seek(0)
            sys.stderr.write("--- gunicorn output ---\n" + log.read()[-4000:] + "\n")
            raise
    finally:
        if process is not None:
            stop_gunicorn(process)
        stop_process(localstripe)
        empty_queue()
        log.close()
        stripe_log.close()
        config.unlink(missing_ok=True)
        config.parent.rmdir()

    errors = warmup["errors"] + measured["errors"] + stale["errors"]
    for problem in sorted(set(errors))[:5]:
        print(f"   error: {problem}", flush=True)
    answers = [answer for answer in measured["answers"] if answer is not None]
    duplicates = sum(1 for answer in answers if answer.get("duplicate"))
    problems = check_database(url, ids, [body["id"] for body in events + stale_events])
    if duplicates != DUPLICATES:
        problems.append(f"{duplicates} deliveries answered as duplicates, {DUPLICATES} expected")
    for problem in problems:
        print(f"   wrong final state: {problem}", flush=True)
    sent = len(deliveries)
    rate = sent / measured["wall"]
    stale_rate = len(stale_events) / stale_handling
    handled_rate = len(events) / handling
    cores = os.cpu_count() or 1
    machine = (busy_after - busy_before) / max(total_after - total_before, 1)
    print(f"   {sent} deliveries ({ORDERS} events + {DUPLICATES} duplicates) answered in {measured['wall']:.2f} s: "
          f"{rate:,.0f} events/s (target >= {TARGET_RATE:.0f}); their {len(events)} jobs handled by {WORKERS} "
          f"workers in {handling:.2f} s ({handled_rate:,.0f} events/s); stale events checked at localstripe: "
          f"{stale_rate:,.0f} events/s", flush=True)
    correct = not problems and not errors
    return [
        {"figure": f"payment_intent.succeeded via gunicorn: verified, stored once, job queued; "
                   f"{DUPLICATES / ORDERS:.0%} sent twice",
         "value": f"{rate:,.0f} events/s", "target": f">= {TARGET_RATE:,.0f} events/s",
         "passed": rate >= TARGET_RATE and correct},
        {"figure": "final state (orders paid once, events stored once, duplicates dropped)",
         "value": "right" if correct else f"{len(problems) + len(errors)} problems", "target": "right",
         "passed": correct},
        {"figure": f"their jobs (lock, pay the order, history, timeline, commit) by {WORKERS} RQ workers",
         "value": f"{handled_rate:,.0f} events/s", "target": "", "passed": None},
        {"figure": "stale requires_action jobs, PaymentIntent fetched from localstripe",
         "value": f"{stale_rate:,.0f} events/s", "target": "", "passed": None},
        {"figure": "CPU per event: app (gunicorn)", "value": f"{server_cpu / sent * 1000:.2f} ms", "target": "",
         "passed": None},
        {"figure": "machine busy during the run", "value": f"{machine:.0%} of {cores} cores", "target": "",
         "passed": None},
        {"figure": "load average when the run began (others' work too)", "value": f"{load_before:.1f}",
         "target": "", "passed": None},
    ]
