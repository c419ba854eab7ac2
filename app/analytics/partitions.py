"""Monthly partitions of analytics_events on PostgreSQL: made ahead of time, dropped after 13 months.

Dropping a month is instant and leaves no dead rows behind (a DELETE of millions of rows would). The
rollups keep the counts of dropped months: reports over older ranges still work, only raw-event views
(realtime, journeys, converting visitors) lose them. On SQLite (the embedded default) old rows are deleted.
"""
import logging
import re
from datetime import UTC, date, datetime

from sqlalchemy import text

from app.core.db import utcnow
from app.extensions import db

log = logging.getLogger(__name__)

RETENTION_MONTHS = 13
MONTHS_AHEAD = 2
NAME = re.compile(r"^analytics_events_(\d{4})_(\d{2})$")


def _month(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def _index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def existing() -> list[str]:
    rows = db.session.execute(text(
        "SELECT child.relname FROM pg_inherits JOIN pg_class parent ON parent.oid = pg_inherits.inhparent "
        "JOIN pg_class child ON child.oid = pg_inherits.inhrelid WHERE parent.relname = 'analytics_events'"))
    return sorted(name for (name,) in rows)


def ensure(first: date, last: date) -> list[str]:
    """Make the partitions of every month from first's to last's (inclusive). Returns the ones made."""
    if not _is_postgres():
        return []
    have = set(existing())
    made = []
    for index in range(_index(first), _index(last) + 1):
        start, end = _month(index), _month(index + 1)
        name = f"analytics_events_{start:%Y_%m}"
        if name in have:
            continue
        db.session.execute(text(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF analytics_events "
            f"FOR VALUES FROM ('{start} 00:00+00') TO ('{end} 00:00+00')"))
        made.append(name)
    db.session.commit()
    return made


def oldest_kept(now: datetime) -> date:
    """The first day of the oldest month kept: the current month and the 13 before it... minus one, so
    that exactly 13 months of history stay (the current one counts)."""
    return _month(_index(now.date()) - RETENTION_MONTHS + 1)


def maintain(now: datetime | None = None) -> dict:
    """The scheduled upkeep: partitions for this month and the next two, and the expired ones gone."""
    now = now or utcnow()
    cutoff = oldest_kept(now)
    if not _is_postgres():
        deleted = db.session.execute(text("DELETE FROM analytics_events WHERE created_at < :cutoff"),
                                     {"cutoff": datetime(cutoff.year, cutoff.month, 1, tzinfo=UTC)}).rowcount
        db.session.commit()
        return {"made": [], "dropped": [], "deleted": deleted}
    made = ensure(now.date(), _month(_index(now.date()) + MONTHS_AHEAD))
    dropped = []
    for name in existing():
        match = NAME.match(name)
        if match and date(int(match[1]), int(match[2]), 1) < cutoff:
            db.session.execute(text(f"DROP TABLE IF EXISTS {name}"))
            dropped.append(name)
    db.session.commit()
    if made or dropped:
        log.info("analytics partitions", extra={"made": made, "dropped": dropped})
    return {"made": made, "dropped": dropped, "deleted": 0}


def accepts(moment: datetime) -> bool:
    """Whether an event of that time can be stored (its month is kept)."""
    return moment.date() >= oldest_kept(utcnow())
