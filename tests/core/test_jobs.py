"""Background jobs: RQ with a tracked Job row, progress, retries, failure, and in-process modes."""
import uuid

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry

from app.core import jobs
from app.core.models import Job
from app.extensions import db
from tests import factories
from tests.conftest import run_jobs, wait_for

CALLS = []


def count_to(job_id, account_id, n):
    for i in range(n):
        jobs.progress(job_id, (i + 1) * 100 // n, f"{i + 1} of {n}")
    CALLS.append((account_id, n))
    return {"message": f"Counted to {n}."}


def boom(job_id):
    raise RuntimeError("the provider is down")


def untracked(value):
    CALLS.append(value)


@pytest.fixture
def account():
    user = factories.make_user("jobs@example.com")
    return factories.make_account(user, "Jobs")


def test_tracked_job_is_enqueued_then_runs_with_progress(app, account):
    CALLS.clear()
    job = jobs.create_job(account, "count", "Counting")
    jobs.enqueue(count_to, account.id, 4, job=job)
    queue = jobs.queue()
    assert queue.count == 1
    rq_job = queue.jobs[0]
    assert rq_job.id == str(job.id)
    assert rq_job.retries_left == 3 and rq_job.retry_intervals == [60, 120, 240]
    assert db.session.get(Job, job.id).state == "queued"

    run_jobs(app)
    db.session.expire_all()
    done = db.session.get(Job, job.id)
    assert (done.state, done.progress, done.message) == ("finished", 100, "Counted to 4.")
    assert done.started_at and done.finished_at
    assert [(str(account.id), 4)] == CALLS


def test_running_a_finished_job_again_changes_nothing(app, account):
    CALLS.clear()
    job = jobs.create_job(account, "count", "Counting")
    app.config["JOBS_MODE"] = "sync"
    try:
        jobs.enqueue(count_to, account.id, 2, job=job)
        jobs.run_job(jobs._path(count_to), str(job.id), (str(account.id), 2))
    finally:
        app.config["JOBS_MODE"] = "rq"
    assert [(str(account.id), 2)] == CALLS


def test_failing_job_is_retried_then_marked_failed(app, account):
    job = jobs.create_job(account, "boom", "Exploding")
    jobs.enqueue(boom, job=job)
    run_jobs(app)
    db.session.expire_all()
    retrying = db.session.get(Job, job.id)
    assert retrying.state == "queued" and "retrying" in retrying.message
    assert "the provider is down" in retrying.error
    # With no retries left the job is failed and kept in RQ's failed-job registry.
    rq_job = jobs.queue().fetch_job(str(job.id))
    rq_job.retries_left = 0
    rq_job.save()
    jobs.queue().enqueue_job(rq_job)
    run_jobs(app)
    db.session.expire_all()
    assert db.session.get(Job, job.id).state == "failed"
    assert str(job.id) in FailedJobRegistry(queue=jobs.queue()).get_job_ids()


def test_untracked_job_runs_with_plain_arguments(app):
    CALLS.clear()
    value = uuid.uuid4()
    jobs.enqueue(untracked, value)
    run_jobs(app)
    assert [str(value)] == CALLS


def test_sync_mode_records_a_failure(app, account):
    job = jobs.create_job(account, "boom", "Exploding")
    app.config["JOBS_MODE"] = "sync"
    try:
        with pytest.raises(RuntimeError):
            jobs.enqueue(boom, job=job)
    finally:
        app.config["JOBS_MODE"] = "rq"
    db.session.expire_all()
    failed = db.session.get(Job, job.id)
    assert failed.state == "failed" and failed.finished_at is not None


def test_thread_mode_runs_in_the_background(app, account):
    CALLS.clear()
    job = jobs.create_job(account, "count", "Counting")
    job_id = job.id
    app.config["JOBS_MODE"] = "thread"
    try:
        jobs.enqueue(count_to, account.id, 3, job=job)
    finally:
        app.config["JOBS_MODE"] = "rq"

    def finished():
        db.session.expire_all()
        return db.session.get(Job, job_id).state == "finished"

    assert wait_for(finished)
    assert Queue(app.config["RQ_QUEUE"], connection=jobs.redis_connection()).count == 0


def test_a_delayed_job_waits_in_rqs_scheduled_registry(app):
    import time

    from rq.registry import ScheduledJobRegistry

    CALLS.clear()
    before = time.time()
    jobs.enqueue(untracked, "later", delay=90)
    queue = jobs.queue()
    assert queue.count == 0  # not startable yet
    registry = ScheduledJobRegistry(queue=queue)
    (rq_id,) = registry.get_job_ids()
    when = registry.get_scheduled_time(rq_id).timestamp()
    assert before + 89 <= when <= time.time() + 91
    run_jobs(app)  # a burst worker does not start it before its time
    assert CALLS == []
    # Its time come (RQ's scheduler moves it to the queue), it runs like any other job.
    queue.enqueue_job(queue.fetch_job(rq_id))
    registry.remove(rq_id)
    run_jobs(app)
    assert CALLS == ["later"]


def test_a_delayed_job_runs_at_once_in_sync_mode_and_after_its_delay_in_thread_mode(app):
    import time

    CALLS.clear()
    app.config["JOBS_MODE"] = "sync"
    try:
        jobs.enqueue(untracked, "now", delay=60)
        assert CALLS == ["now"]
        app.config["JOBS_MODE"] = "thread"
        started = time.monotonic()
        jobs.enqueue(untracked, "soon", delay=0.3)
        assert CALLS == ["now"]
        assert wait_for(lambda: "soon" in CALLS)
        assert time.monotonic() - started >= 0.3
    finally:
        app.config["JOBS_MODE"] = "rq"
