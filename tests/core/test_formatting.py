"""Relative times as pages show them."""
from datetime import UTC, datetime, timedelta

from app.core.formatting import relative_time

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_time_within_a_minute_is_just_now_behind_and_under_a_minute_ahead():
    assert relative_time(NOW - timedelta(seconds=30), NOW) == "just now"
    assert relative_time(NOW + timedelta(seconds=2), NOW) == "just now"  # clock skew, not the future
    assert relative_time(NOW + timedelta(seconds=59), NOW) == "in under a minute"  # a retry's next attempt
    assert relative_time(NOW + timedelta(minutes=3), NOW) == "in 3 min"
    assert relative_time(NOW - timedelta(hours=2), NOW) == "2 h ago"
