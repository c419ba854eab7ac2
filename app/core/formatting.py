"""Numbers, money and dates as a person reads them, in the user's or workspace's time zone."""
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import g, has_request_context
from flask_login import current_user
from markupsafe import Markup, escape

from app.core.tenancy import current_account

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$",
                    "CHF": "CHF ", "INR": "₹", "BRL": "R$", "MXN": "MX$"}
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "VND", "CLP", "ISK", "UGX"}
CURRENCIES = sorted(CURRENCY_SYMBOLS) + ["SEK", "NOK", "DKK", "PLN", "NZD", "SGD", "ZAR"]
@lru_cache(maxsize=1)
def timezone_names() -> list[str]:
    return sorted(name for name in available_timezones() if "/" in name or name == "UTC")


@lru_cache(maxsize=1)
def _timezone_set() -> frozenset[str]:
    return frozenset(timezone_names())


def is_valid_timezone(name: str) -> bool:
    if name not in _timezone_set():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def display_zone() -> ZoneInfo:
    """The signed-in user's time zone, else the workspace's, else UTC (worked out once a request)."""
    if has_request_context() and "display_zone" in g:
        return g.display_zone
    zone = ZoneInfo("UTC")
    for source in (current_user if current_user and current_user.is_authenticated else None, current_account()):
        name = getattr(source, "timezone", None)
        if name and is_valid_timezone(name):
            zone = ZoneInfo(name)
            break
    if has_request_context():
        g.display_zone = zone
    return zone


def format_number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def format_money(cents: int | None, currency: str | None = None) -> str:
    if cents is None:
        return "—"
    currency = (currency or getattr(current_account(), "currency", None) or "USD").upper()
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    sign = "-" if cents < 0 else ""
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{sign}{symbol}{abs(cents):,}"
    return f"{sign}{symbol}{abs(cents) / 100:,.2f}"


def size_label(size: int) -> str:
    """A file size as people read it: 10 MB, 1.5 MB, 64 KB, 68 bytes."""
    for unit, factor in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:,.0f} {unit}" if value >= 10 or value.is_integer() else f"{value:,.1f} {unit}"
    return f"{size} byte{'' if size == 1 else 's'}"


def format_datetime(value: datetime | None, fmt: str = "%b %-d, %Y %H:%M") -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(display_zone()).strftime(fmt)


def relative_time(value: datetime, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    seconds = int((now - value).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for limit, size, unit in ((60, 1, None), (3600, 60, "min"), (86400, 3600, "h"), (7 * 86400, 86400, "d")):
        if seconds < limit:
            if unit is None:
                # A moment ahead (a retry's next attempt) is not "just now"; a few seconds are clock skew.
                return "in under a minute" if future and seconds >= 5 else "just now"
            amount = f"{seconds // size} {unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return format_datetime(value, "%b %-d, %Y")


def timeago(value: datetime | None) -> Markup:
    """<time> showing "3 min ago" (or a date when older), with the exact time on hover."""
    if value is None:
        return Markup("—")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    exact = format_datetime(value, "%Y-%m-%d %H:%M:%S %Z")
    return Markup(
        f'<time datetime="{escape(value.isoformat())}" title="{escape(exact)}">{escape(relative_time(value))}</time>'
    )


def register_filters(app) -> None:
    app.jinja_env.filters.update(
        number=format_number, money=format_money, filesize=size_label, datetime=format_datetime, timeago=timeago,
    )
