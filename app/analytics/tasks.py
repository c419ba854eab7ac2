"""Background jobs of the analytics (run by `core.jobs.enqueue`, safe to run twice): the report export, and
the scheduled upkeep (app/core/schedule.py): monthly partitions, rollup catch-up."""
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
