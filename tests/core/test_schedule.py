"""Scheduled work (app/core/schedule.py): due tasks are enqueued once, whoever ticks and however late."""
import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from app.core import jobs, schedule
from app.core.models import ScheduledRun
from app.extensions import db
from tests.conftest import run_jobs

CALLS = []
NOW = datetime(2026, 3, 10, 12, 0, 20, tzinfo=UTC)


def hourly_task():
    CALLS.append("hourly")


def daily_task():
    CALLS.append("daily")


@pytest.fixture
def registry():
    CALLS.clear()
    mine = {}
    schedule.scheduled("test-hourly", "0 * * * *", registry=mine)(hourly_task)
    schedule.scheduled("test-daily", "0 3 * * *", registry=mine)(daily_task)
    return mine


def queued() -> int:
    return jobs.queue().count


def last_run(name):
    db.session.expire_all()
    return db.session.get(ScheduledRun, name)


def test_the_apps_schedules_are_registered_by_the_domains_tasks_modules(app):
    expected = {"analytics-partitions": "5 * * * *", "analytics-catch-up": "* * * * *",
                "exports-cleanup": "15 * * * *", "crm-purge-deleted": "0 3 * * *", "orders-abandon": "*/10 * * * *"}
    assert {name: schedule.REGISTRY[name].cron for name in expected} == expected
    for entry in schedule.REGISTRY.values():
        # what the worker enqueues is a function of a tasks.py, like every job (tests/core/test_architecture.py)
        assert entry.func.__module__.startswith("app.") and entry.func.__module__.endswith(".tasks"), entry
        assert entry.summary


def test_a_schedule_that_never_ran_runs_at_the_first_tick_then_when_due(app, registry):
    assert schedule.tick(NOW, registry) == ["test-daily", "test-hourly"]
    assert queued() == 2
    run_jobs(app)
    assert sorted(CALLS) == ["daily", "hourly"]
    assert last_run("test-hourly").last_run_at == NOW and last_run("test-hourly").last_status == "enqueued"
    # not before the next hour (13:00), then once
    assert schedule.tick(NOW + timedelta(minutes=30), registry) == []
    assert schedule.tick(datetime(2026, 3, 10, 13, 0, 5, tzinfo=UTC), registry) == ["test-hourly"]
    assert schedule.tick(datetime(2026, 3, 10, 13, 0, 35, tzinfo=UTC), registry) == []
    run_jobs(app)
    assert sorted(CALLS) == ["daily", "hourly", "hourly"]


def test_runs_missed_while_no_worker_was_up_run_once(app, registry):
    db.session.add(ScheduledRun(name="test-hourly", last_run_at=NOW - timedelta(hours=3), last_status="enqueued"))
    db.session.add(ScheduledRun(name="test-daily", last_run_at=NOW - timedelta(hours=2), last_status="enqueued"))
    db.session.commit()
    # three hourly runs were missed (10:00, 11:00, 12:00): one run now, not three; the daily one is not due
    assert schedule.tick(NOW, registry) == ["test-hourly"]
    for seconds in (30, 60, 90):
        assert schedule.tick(NOW + timedelta(seconds=seconds), registry) == []
    run_jobs(app)
    assert CALLS == ["hourly"]
    assert last_run("test-hourly").last_run_at == NOW
    assert schedule.tick(NOW + timedelta(hours=1), registry) == ["test-hourly"]


@pytest.mark.parametrize("ran_before", [False, True])
def test_workers_ticking_at_once_enqueue_once(app, registry, ran_before):
    if ran_before:  # the UPDATE path; otherwise the first run's INSERT ... ON CONFLICT
        for name in registry:
            db.session.add(ScheduledRun(name=name, last_run_at=NOW - timedelta(days=2)))
        db.session.commit()
    workers = 8
    barrier = threading.Barrier(workers)
    started, errors = [], []

    def worker():
        with app.app_context():
            try:
                barrier.wait()
                started.extend(schedule.tick(NOW, registry))
            except Exception as error:  # reported below
                errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(started) == ["test-daily", "test-hourly"]
    assert queued() == 2


def test_a_run_that_could_not_be_enqueued_is_tried_again_at_the_next_tick(app, registry, monkeypatch):
    db.session.add(ScheduledRun(name="test-hourly", last_run_at=NOW - timedelta(hours=3)))
    db.session.commit()

    def redis_down(func, *args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(jobs, "enqueue", redis_down)
    assert schedule.tick(NOW, registry) == []
    assert last_run("test-daily") is None  # the first run: the claim is given back
    hourly = last_run("test-hourly")
    assert hourly.last_run_at == NOW - timedelta(hours=3) and "Redis is down" in hourly.last_status
    monkeypatch.undo()
    assert schedule.tick(NOW + timedelta(seconds=30), registry) == ["test-daily", "test-hourly"]


def test_scheduled_refuses_a_bad_expression_and_a_second_function_under_one_name(registry):
    with pytest.raises(ValueError):
        schedule.scheduled("broken", "every hour", registry=registry)
    with pytest.raises(ValueError):
        schedule.scheduled("test-hourly", "0 * * * *", registry=registry)(daily_task)
    schedule.scheduled("test-hourly", "0 * * * *", registry=registry)(hourly_task)  # the same again: fine


def test_flask_schedule_list_shows_last_and_next_runs(app, monkeypatch, registry):
    monkeypatch.setattr(schedule, "REGISTRY", registry)
    db.session.add(ScheduledRun(name="test-hourly", last_run_at=datetime(2026, 3, 10, 9, 30, tzinfo=UTC),
                                last_status="enqueued"))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["schedule", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    hourly = next(line for line in lines if line.startswith("test-hourly"))
    assert "last 2026-03-10 09:30:00" in hourly and "enqueued" in hourly
    daily = next(line for line in lines if line.startswith("test-daily"))
    assert "last never" in daily and "due now" in daily


def test_flask_schedule_run_and_tick(app, monkeypatch, registry):
    monkeypatch.setattr(schedule, "REGISTRY", registry)
    runner = app.test_cli_runner()
    assert "test-daily enqueued" in runner.invoke(args=["schedule", "run", "test-daily"]).output
    assert runner.invoke(args=["schedule", "run", "nope"]).exit_code != 0
    assert "test-hourly" in runner.invoke(args=["schedule", "tick"]).output  # the daily one ran just now
    assert "Nothing due" in runner.invoke(args=["schedule", "tick"]).output
    run_jobs(app)
    assert sorted(CALLS) == ["daily", "hourly"]


def test_the_ticker_thread_ticks_with_its_own_app_context(app, monkeypatch, registry):
    monkeypatch.setattr(schedule, "REGISTRY", registry)
    stop = schedule.start_ticker(app, interval=0.05)
    try:
        assert schedule.start_ticker(app) is stop  # once per app
        from tests.conftest import wait_for

        assert wait_for(lambda: queued() == 2)
    finally:
        stop.set()
        app.extensions.pop("schedule_ticker", None)


def test_flask_worker_starts_the_ticker_but_not_in_burst_mode(app, monkeypatch):
    started, worked = [], []
    monkeypatch.setattr(schedule, "start_ticker", lambda application, **kw: started.append(application))
    monkeypatch.setattr(jobs, "run_worker", lambda burst=False: worked.append(burst))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["worker", "--burst"]).exit_code == 0
    assert started == [] and worked == [True]
    assert runner.invoke(args=["worker"]).exit_code == 0
    assert started == [app] and worked == [True, False]


def test_without_redis_the_web_process_ticks_from_its_first_request(monkeypatch):
    started = []

    def fake_start(application, interval=schedule.TICK_SECONDS):
        started.append(application)
        application.extensions["schedule_ticker"] = threading.Event()

    monkeypatch.setattr(schedule, "start_ticker", fake_start)
    web = Flask("embedded")
    web.config.update(JOBS_MODE="thread")
    schedule.init_app(web)
    assert started == []  # not at import or app creation: the reloader's parent process never serves
    web.test_client().get("/")
    web.test_client().get("/")
    assert started == [web]
    for config in ({"JOBS_MODE": "rq"}, {"JOBS_MODE": "thread", "TESTING": True}):
        other = Flask("other")
        other.config.update(config)
        schedule.init_app(other)
        other.test_client().get("/")
    assert started == [web]


def test_the_apps_own_tasks_run(app, monkeypatch):
    """Each registered task runs as the worker runs it (nothing to do in an empty database); the analytics
    ones call the lead's upkeep functions (not run here: partitions outlive the test's DELETEs)."""
    partitions = pytest.importorskip("app.analytics.partitions")
    ingest = pytest.importorskip("app.analytics.ingest")
    called = []
    monkeypatch.setattr(partitions, "maintain", lambda: called.append("maintain") or {"created": []})
    monkeypatch.setattr(ingest, "drain", lambda max_seconds=None: called.append(max_seconds) or 0)
    for entry in schedule.REGISTRY.values():
        jobs.run_job(f"{entry.func.__module__}:{entry.func.__qualname__}", None, ())
    assert sorted(called, key=str) == [20, "maintain"]
