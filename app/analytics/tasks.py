"""Background jobs of the analytics (run by `core.jobs.enqueue`, safe to run twice): the report export, and
the scheduled upkeep (app/core/schedule.py): monthly partitions, rollup catch-up."""
from app.core import events, jobs
from app.core.schedule import scheduled

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
