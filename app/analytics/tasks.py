"""Background jobs of the analytics (run by `core.jobs.enqueue`, safe to run twice): the report export, and
the scheduled upkeep (app/core/schedule.py): monthly partitions, rollup catch-up."""
import uuid
from datetime import date

from app.analytics import exports
from app.analytics.reports import Period
from app.auth.models import Account
from app.core import dates, events, jobs
from app.core.schedule import scheduled
from app.extensions import db
from app.funnels.models import Funnel

CATCH_UP_SECONDS = 20  # a catch-up run yields the worker after this long (exports wait behind it otherwise)


@scheduled("analytics-partitions", "5 * * * *")
def maintain_partitions() -> dict:
    """Create next months' partitions of analytics_events and drop those past 13 months (hourly)."""
    from app.analytics import partitions

    result = partitions.maintain()
    return {"message": f"Partitions: {result}"[:255]}


@scheduled("analytics-catch-up", "* * * * *")
def catch_up_rollups() -> dict:
    """Store the tracked events still buffered (Redis, or the inbox of events taken while Redis was down) in
    the raw table and the rollups, should the ingest worker be behind or down (every minute)."""
    from app.analytics import ingest

    return {"message": f"{ingest.drain(max_seconds=CATCH_UP_SECONDS):,} buffered events stored."}


def export_report(job_id: str, account_id: str, user_id: str | None, funnel_id: str, report_type: str,
                  date_from: str, date_to: str, file_format: str, include_charts: bool) -> dict:
    """Tracked job: a funnel report as a CSV, XLSX or PDF file (app/analytics/exports.py), with progress; when
    written, the person who asked gets a notification and an e-mail with its signed link. Run twice, it
    writes the same file again."""
    account = db.session.get(Account, uuid.UUID(str(account_id)))
    funnel = db.session.get(Funnel, uuid.UUID(str(funnel_id)))
    if account is None or funnel is None or funnel.account_id != account.id:
        return {"message": "This funnel no longer exists."}
    period = Period(date.fromisoformat(date_from), date.fromisoformat(date_to), dates.zone(account.timezone).key)
    result = exports.write(job_id, account, funnel, report_type, period, file_format, bool(include_charts))
    return exports.deliver(job_id, result, user_id)


@events.subscribe("order.paid")
def purchase_when_paid(name: str, payload: dict) -> None:
    """Every paid order of a funnel is a purchase conversion, recorded by a job from the order itself (an ad
    blocker cannot hide revenue); the buyer's browser reports it too, and the ingest counts an order once."""
    if payload.get("funnel_id"):
        jobs.enqueue(record_purchase, payload["order_id"])


def record_purchase(order_id: str) -> dict:
    """Job: the paid order's purchase into the events and rollups (app/analytics/purchases.py). Run twice, it
    counts the order once."""
    from app.analytics import purchases

    counted = purchases.record(order_id)
    return {"message": "Purchase counted." if counted else "Purchase counted already."}
