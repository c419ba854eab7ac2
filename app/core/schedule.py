"""Scheduled work: recurring tasks named by cron expressions (croniter), started through the job queue.

- A domain registers a function of its own tasks.py with `@scheduled("name", "cron expression")` (UTC; see
  app/analytics/tasks.py, app/crm/tasks.py). `create_app` imports every domain's tasks module, so the
  registry is full in every process, the worker's included.
- `tick(now)` starts each schedule that is due: its next fire time after its last run
  (`ScheduledRun.last_run_at`) has come, or it never ran. A run is claimed in the database before it is
  enqueued (an INSERT ... ON CONFLICT DO NOTHING for the first run, an UPDATE that only matches the last run
  it read afterwards), so two workers ticking at once enqueue it once. Runs missed while no worker was up
  are one run when one is back: `last_run_at` becomes the time of that run, and the next fire time is
  counted from it.
- Who ticks: `flask worker` starts a daemon thread that ticks every TICK_SECONDS (`start_ticker`); without
  Redis (the embedded `make run`), the web process starts the same thread at its first request
  (`init_app`): a request, so the reloader's watching parent, which serves none, never ticks.

docs/architecture.md ("Scheduled work") says why this and not RQ's scheduler.
"""
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from croniter import croniter
from sqlalchemy import delete, select, update

from app.core import jobs
from app.core.db import utcnow
from app.core.models import ScheduledRun
from app.extensions import db

log = logging.getLogger(__name__)

TICK_SECONDS = 30
ENQUEUED = "enqueued"


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str
    func: Callable
    summary: str

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after `moment` (UTC, aware)."""
        return croniter(self.cron, moment).get_next(datetime)

    def is_due(self, last_run_at: datetime | None, now: datetime) -> bool:
        return last_run_at is None or self.next_after(last_run_at) <= now


REGISTRY: dict[str, Schedule] = {}


def scheduled(name: str, cron: str, registry: dict[str, Schedule] | None = None):
    """Register the decorated task function (a module-level function of a tasks.py, taking no argument) to
    run on `cron` (five fields, UTC). The name is what ScheduledRun keeps: renaming a schedule runs it anew."""
    if not 0 < len(name) <= 64:
        raise ValueError(f"a schedule's name has 1 to 64 characters: {name!r}")
    if not croniter.is_valid(cron):
        raise ValueError(f"not a cron expression: {cron!r}")
    target = REGISTRY if registry is None else registry

    def decorator(func):
        known = target.get(name)
        if known is not None and (known.func.__module__, known.func.__qualname__) != (func.__module__,
                                                                                     func.__qualname__):
            raise ValueError(f"two schedules are named {name!r}")
        target[name] = Schedule(name, cron, func, (func.__doc__ or "").strip().split("\n")[0])
        return func

    return decorator


def last_runs() -> dict[str, ScheduledRun]:
    return {row.name: row for row in db.session.execute(select(ScheduledRun)).scalars()}


def _insert_first_run(name: str, now: datetime) -> bool:
    """Record a never-run schedule's first run; False when another worker recorded it first."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(ScheduledRun).values(name=name, last_run_at=now, last_status=ENQUEUED)
    statement = statement.on_conflict_do_nothing(index_elements=["name"]).returning(ScheduledRun.name)
    return db.session.execute(statement).scalar_one_or_none() is not None


def claim(schedule: Schedule, now: datetime) -> tuple[bool, datetime | None]:
    """(whether this process claimed a run of `schedule` at `now`, the last run it replaced). Committed."""
    try:
        last = db.session.execute(
            select(ScheduledRun.last_run_at).where(ScheduledRun.name == schedule.name)).scalar_one_or_none()
        if not schedule.is_due(last, now):
            db.session.commit()
            return False, last
        if last is None:
            claimed = _insert_first_run(schedule.name, now)
        else:
            # Matches only the run read above: a worker that claimed it meanwhile changed last_run_at, and
            # PostgreSQL re-reads the row after waiting for that worker's lock, so this one updates nothing.
            claimed = db.session.execute(
                update(ScheduledRun).where(ScheduledRun.name == schedule.name, ScheduledRun.last_run_at == last)
                .values(last_run_at=now, last_status=ENQUEUED)).rowcount == 1
        db.session.commit()
        return claimed, last
    except Exception:
        db.session.rollback()
        raise


def _release(schedule: Schedule, now: datetime, previous: datetime | None, error: Exception) -> None:
    """The run could not be enqueued (Redis down): give the claim back, so the next tick tries again."""
    mine = (ScheduledRun.name == schedule.name, ScheduledRun.last_run_at == now)
    if previous is None:
        db.session.execute(delete(ScheduledRun).where(*mine))
    else:
        status = f"not started: {type(error).__name__}: {error}"[:200]
        db.session.execute(update(ScheduledRun).where(*mine).values(last_run_at=previous, last_status=status))
    db.session.commit()


def start(schedule: Schedule, now: datetime | None = None, force: bool = False) -> bool:
    """Enqueue one run of `schedule` if it is due at `now` (always with `force`) and no other process
    claimed it. True when this call enqueued it."""
    now = now or utcnow()
    if force:
        previous = db.session.execute(
            select(ScheduledRun.last_run_at).where(ScheduledRun.name == schedule.name)).scalar_one_or_none()
        db.session.merge(ScheduledRun(name=schedule.name, last_run_at=now, last_status=ENQUEUED))
        db.session.commit()
    else:
        claimed, previous = claim(schedule, now)
        if not claimed:
            return False
    try:
        jobs.enqueue(schedule.func)
    except Exception as error:
        log.exception("scheduled task not enqueued", extra={"schedule": schedule.name})
        db.session.rollback()
        _release(schedule, now, previous, error)
        return False
    log.info("scheduled task enqueued", extra={"schedule": schedule.name})
    return True


def tick(now: datetime | None = None, registry: dict[str, Schedule] | None = None) -> list[str]:
    """Enqueue every due schedule once; the names enqueued by this call."""
    now = now or utcnow()
    started = []
    for schedule in sorted((REGISTRY if registry is None else registry).values(), key=lambda s: s.name):
        try:
            if start(schedule, now):
                started.append(schedule.name)
        except Exception:  # one schedule's trouble (a database hiccup) never stops the others
            db.session.rollback()
            log.exception("scheduled task not claimed", extra={"schedule": schedule.name})
    return started


def status(now: datetime | None = None, registry: dict[str, Schedule] | None = None) -> list[dict]:
    """Each schedule with its last run and status and its next fire time (`flask schedule list`)."""
    now = now or utcnow()
    runs = last_runs()
    rows = []
    for schedule in sorted((REGISTRY if registry is None else registry).values(), key=lambda s: s.name):
        run = runs.get(schedule.name)
        last = run.last_run_at if run else None
        rows.append({"name": schedule.name, "cron": schedule.cron, "summary": schedule.summary,
                     "last_run_at": last, "last_status": run.last_status if run else "",
                     "next_run_at": schedule.next_after(last) if last else None,
                     "due": schedule.is_due(last, now)})
    return rows


# ---- who ticks --------------------------------------------------------------------------------------------

_ticker_lock = threading.Lock()


def start_ticker(app, interval: float = TICK_SECONDS) -> threading.Event:
    """Tick now and then every `interval` seconds from a daemon thread with its own app context; once per
    app object (a second call returns the running ticker's stop event). Set the event to stop it."""
    with _ticker_lock:
        running = app.extensions.get("schedule_ticker")
        if running is not None:
            return running
        stop = threading.Event()
        app.extensions["schedule_ticker"] = stop

    def loop():
        while not stop.is_set():
            try:
                with app.app_context():
                    tick()
            except Exception:
                log.exception("schedule tick failed")
            stop.wait(interval)

    threading.Thread(target=loop, name="schedule-ticker", daemon=True).start()
    return stop


def init_app(app) -> None:
    """Without Redis (jobs in threads of the web process), that process ticks too: from its first request,
    so that only a process that serves (not the reloader's parent, not a CLI command) starts the thread."""
    if app.config.get("JOBS_MODE") != "thread" or app.config.get("TESTING"):
        return

    @app.before_request
    def start_schedule_ticker():
        if "schedule_ticker" not in app.extensions:
            start_ticker(app)
