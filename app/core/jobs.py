"""Background jobs: `enqueue()` is the one way to start work that must not block a request.

With REDIS_URL set, jobs go to RQ (retries with backoff 60/120/240 s, a timeout, RQ's failed-job
registry); the worker is `flask worker`. Without Redis (the embedded default) they run in a thread of
the web process. A tracked job has a `Job` row (state, progress %, message, result file) that the
page polls through the progress component (templates/components/_job.html).

A job function is a module-level function that takes ids and plain values; a tracked one takes the
Job's id first and reports with `progress(job_id, percent, message)`. Jobs must be safe to run twice.
"""
import importlib
import logging
import threading
import uuid
from datetime import timedelta
from functools import lru_cache

from flask import current_app

from app.core.db import utcnow
from app.core.models import Job
from app.extensions import db

log = logging.getLogger(__name__)

RETRY_INTERVALS = [60, 120, 240]
DEFAULT_TIMEOUT = 30 * 60
RESULT_LIFETIME = timedelta(hours=24)


def _path(func) -> str:
    return f"{func.__module__}:{func.__qualname__}"


def _resolve(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def redis_connection():
    """The process's client of REDIS_URL (one connection pool, kept: opening a connection for each job
    enqueued cost more than the enqueue itself)."""
    return _client_for(current_app.config["REDIS_URL"])


@lru_cache(maxsize=4)
def _client_for(url: str):
    from redis import Redis

    return Redis.from_url(url)


def queue():
    from rq import Queue

    return Queue(current_app.config["RQ_QUEUE"], connection=redis_connection())


def create_job(account, kind: str, title: str, user=None) -> Job:
    job = Job(account_id=account.id, kind=kind, title=title, state="queued",
              created_by_id=user.id if user is not None else None)
    db.session.add(job)
    db.session.commit()
    return job


def enqueue(func, *args, job: Job | None = None, timeout: int = DEFAULT_TIMEOUT, retry: bool = True,
            delay: float = 0):
    """Run `func(*args)` in the background; with `job`, run `func(job.id, *args)` and track it.

    `delay` (seconds): start it no sooner than that from now — RQ's scheduled-job registry (the worker runs
    RQ's scheduler), a timer thread in "thread" mode; "sync" mode runs it at once all the same.
    Returns the Job when tracked. Arguments must be plain values (ids, strings, numbers).
    """
    args = tuple(str(a) if isinstance(a, uuid.UUID) else a for a in args)
    job_id = str(job.id) if job is not None else None
    mode = current_app.config["JOBS_MODE"]
    if mode == "rq":
        from rq import Retry

        options = dict(job_id=job_id, job_timeout=timeout, failure_ttl=7 * 24 * 3600,
                       retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS) if retry else None)
        if delay > 0:
            queue().enqueue_in(timedelta(seconds=delay), run_job, _path(func), job_id, args, **options)
        else:
            queue().enqueue(run_job, _path(func), job_id, args, **options)
    elif mode == "sync":
        run_job(_path(func), job_id, args)
    else:
        app = current_app._get_current_object()

        def target():
            with app.app_context():
                try:
                    run_job(_path(func), job_id, args)
                except Exception:
                    log.exception("in-process job failed", extra={"job": _path(func)})

        if delay > 0:
            timer = threading.Timer(delay, target)
            timer.name, timer.daemon = f"job-{func.__name__}", True
            timer.start()
        else:
            threading.Thread(target=target, name=f"job-{func.__name__}", daemon=True).start()
    return job


def _retries_left() -> int:
    try:
        from rq import get_current_job

        rq_job = get_current_job()
    except Exception:
        return 0
    return (rq_job.retries_left or 0) if rq_job is not None else 0


def run_job(func_path: str, job_id: str | None, args: tuple):
    """What the worker (or thread) executes: runs the function and keeps its Job row current."""
    func = _resolve(func_path)
    if job_id is None:
        return func(*args)
    job = db.session.get(Job, uuid.UUID(job_id))
    if job is None or job.state == "finished":
        return None  # deleted, or already done by an earlier run: nothing to do twice
    job.state, job.started_at, job.error = "running", utcnow(), None
    db.session.commit()
    try:
        result = func(job_id, *args) or {}
    except Exception as exc:
        db.session.rollback()
        job = db.session.get(Job, uuid.UUID(job_id))
        retrying = _retries_left() > 0
        job.state = "queued" if retrying else "failed"
        job.message = "Failed, retrying shortly." if retrying else "Failed."
        job.error = f"{type(exc).__name__}: {exc}"[:2000]
        job.finished_at = None if retrying else utcnow()
        db.session.commit()
        raise
    job = db.session.get(Job, uuid.UUID(job_id))
    job.state, job.progress, job.finished_at = "finished", 100, utcnow()
    job.message = result.get("message", "Done.")
    if result.get("path"):
        job.result_path, job.result_name = result["path"], result.get("name")
        job.expires_at = utcnow() + RESULT_LIFETIME
    db.session.commit()
    return None


def progress(job_id: str, percent: int, message: str = "") -> None:
    """Report progress of a tracked job (committed at once so the page sees it)."""
    job = db.session.get(Job, uuid.UUID(str(job_id)))
    if job is None:
        return
    job.progress = max(0, min(100, int(percent)))
    if message:
        job.message = message[:255]
    db.session.commit()


def remove_expired_results(now=None) -> int:
    """Delete the files of job results past their 24 hours (or of finished jobs older than that, which
    never had an expiry) and forget their paths: their download links then answer 410. Returns how many."""
    from pathlib import Path

    from sqlalchemy import and_, or_, select

    now = now or utcnow()
    expired = db.session.execute(select(Job).where(Job.result_path.is_not(None), or_(
        Job.expires_at <= now, and_(Job.expires_at.is_(None), Job.finished_at <= now - RESULT_LIFETIME))
    ).with_for_update(skip_locked=True).limit(1000)).scalars().all()
    for job in expired:
        try:
            Path(job.result_path).unlink(missing_ok=True)
        except OSError:
            log.warning("expired job result not deleted", extra={"job": str(job.id), "path": job.result_path})
            continue
        job.result_path = None
    db.session.commit()
    return len(expired)


def run_worker(burst: bool = False) -> None:
    """Process the queue in this process (the app context is the CLI's); RQ's scheduler included."""
    from rq import SimpleWorker

    worker = SimpleWorker([queue()], connection=redis_connection())
    worker.work(burst=burst, with_scheduler=True)
