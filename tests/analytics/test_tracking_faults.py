"""Redis stops in the middle of a load of tracking requests: every event the endpoint accepted is found in
the database afterwards (buffered in Redis before the stop, in the database inbox during it, in Redis again
after it came back)."""
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis import Redis
from sqlalchemy import func, select

from app.analytics import ingest
from app.analytics.models import AnalyticsEvent, AnalyticsInbox
from app.extensions import db
from tests.analytics.test_tracking import event, post
from tests.support import free_port

REQUESTS = 240
EVENTS_PER_REQUEST = 3


class RedisServer:
    """A redis-server of the test's own, with an append-only file so that a stop loses nothing it held."""

    def __init__(self, folder):
        self.port = free_port()
        self.folder = folder
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                if Redis.from_url(self.url).ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.process.terminate()  # a clean shutdown, as a restart or a deploy does
        self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def test_every_accepted_event_reaches_the_database_although_redis_stopped_during_the_load(
        app, client, funnel, endpoint, own_redis, monkeypatch):
    endpoint.redis_url, endpoint.push = own_redis.url, None
    accepted, statuses = [], []
    lock = threading.Lock()

    batches = [[event(funnel, session_id=f"load-{number}") for _ in range(EVENTS_PER_REQUEST)]
               for number in range(REQUESTS)]

    def send(number: int) -> None:
        batch = batches[number]
        with app.app_context():
            response = post(app.test_client(), batch, REMOTE_ADDR=f"10.0.{number // 250}.{number % 250}")
        with lock:
            statuses.append(response.status_code)
            if response.status_code == 202:
                accepted.append(response.json["accepted"])

    def outage() -> None:
        time.sleep(0.4)
        own_redis.stop()
        time.sleep(0.8)
        own_redis.start()

    try:
        breaker = threading.Thread(target=outage)
        breaker.start()
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = []
            for number in range(REQUESTS):
                futures.append(pool.submit(send, number))
                time.sleep(0.008)  # a steady load across the outage
            for future in futures:
                future.result()
        breaker.join()
    finally:
        endpoint.redis_url, endpoint.push = app.config["REDIS_URL"], None

    assert set(statuses) == {202} and len(statuses) == REQUESTS
    in_inbox = db.session.scalar(select(func.count()).select_from(AnalyticsInbox))
    in_redis = Redis.from_url(own_redis.url).llen(ingest.BUFFER_KEY)
    assert in_inbox > 0 and in_redis > 0  # both paths were taken during this load
    monkeypatch.setitem(app.config, "REDIS_URL", own_redis.url)
    ingest.drain()
    assert db.session.scalar(select(func.count()).select_from(AnalyticsEvent)) == sum(accepted)
    assert sum(accepted) == REQUESTS * EVENTS_PER_REQUEST
