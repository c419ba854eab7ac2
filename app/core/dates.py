"""Dates and time zones as people type them: one sane range for every date the app reads, the day in a
time zone, and local times turned into UTC.

Every date read from a form, the API, an import or a filter goes through `parse_date` (or
`read_date`/`read_datetime` in services), so that a year like 0001 or 9999, which Python accepts but
which no deal closes in and which overflows once moved between time zones, is refused with a message.
"""
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core.errors import ValidationError

EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
RANGE_TEXT = f"between {EARLIEST.year} and {LATEST.year}"


def zone(name: str | None) -> ZoneInfo:
    """The time zone named (an account's or a user's), UTC when the name is empty or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def today(zone_name: str | None) -> date:
    """Today's date in that time zone."""
    return datetime.now(zone(zone_name)).date()


def in_range(day: date) -> bool:
    return EARLIEST <= day <= LATEST


def parse_date(text: str) -> date:
    """A YYYY-MM-DD date within the sane range; ValueError with a message a person can act on."""
    try:
        day = date.fromisoformat(str(text).strip())
    except ValueError:
        raise ValueError("Use a date like 2026-12-31.") from None
    if not in_range(day):
        raise ValueError(f"Use a date {RANGE_TEXT}.")
    return day


def read_date(raw, field: str) -> date | None:
    """A date from plain data (a date, or text), None when empty; a 422 naming the field otherwise."""
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        if not in_range(raw):
            raise ValidationError(f"Use a date {RANGE_TEXT}.", field=field)
        return raw
    try:
        return parse_date(raw)
    except ValueError as error:
        raise ValidationError(str(error), field=field) from None


def read_datetime(raw, zone_name: str | None, field: str, default_time: time = time(9, 0)) -> datetime | None:
    """A date and time typed in the zone ("2026-12-01T14:30", "2026-12-01 14:30", or a date alone at
    `default_time`) as an aware UTC datetime; None when empty; a 422 naming the field otherwise."""
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        value = raw
    else:
        text = str(raw).strip()
        try:
            if "T" in text or " " in text:
                value = datetime.fromisoformat(text)
            else:
                value = datetime.combine(date.fromisoformat(text), default_time)
        except ValueError:
            raise ValidationError("Use a date and time like 2026-12-01 14:30.", field=field) from None
    if not in_range(value.date()):
        raise ValidationError(f"Use a date {RANGE_TEXT}.", field=field)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(zone_name))
    return value.astimezone(UTC)


def start_of_day(day: date, zone_name: str | None) -> datetime:
    """The UTC moment the day begins in the zone."""
    return datetime.combine(day, time.min, zone(zone_name)).astimezone(UTC)


def end_of_today(zone_name: str | None) -> datetime:
    """The UTC moment today ends in the zone (the start of tomorrow)."""
    return start_of_day(today(zone_name) + timedelta(days=1), zone_name)
