"""What reads raw events: the realtime view of a funnel (REQ-11) and a visitor's journey (REQ-13).

Both read a narrow slice through an index: realtime the funnel's last 30 minutes (funnel_id, created_at),
a journey one visitor's events (visitor_id, created_at), always within the workspace (account_id). Events
reach the table through the ingest worker's buffer, so "now" is a second or two behind the visitors.
"""
import uuid
from datetime import timedelta

from sqlalchemy import String, cast, func, select

from app.analytics.models import AnalyticsEvent
from app.analytics.reports import cached, funnel_of, id_text, now
from app.core.errors import NotFoundError
from app.core.validation import uuid_or_none
from app.extensions import db
from app.orders.models import Order

ACTIVE_MINUTES = 30  # a visitor with an event this recent is active (a session lasts 30 idle minutes)
CONVERSION_MINUTES = 5
RECENT_EVENTS = 50
REALTIME_CACHE_SECONDS = 5
JOURNEY_EVENTS = 2000  # a journey shows the visitor's latest events, at most this many


# ---- REQ-11: realtime ---------------------------------------------------------------------------------------

def realtime(account, funnel) -> dict:
    return cached("realtime", account, funnel.id, [], lambda: _realtime(funnel), seconds=REALTIME_CACHE_SECONDS)


def _realtime(funnel) -> dict:
    moment = now()
    recent = [AnalyticsEvent.account_id == funnel.account_id, AnalyticsEvent.funnel_id == funnel.id,
              AnalyticsEvent.created_at >= moment - timedelta(minutes=ACTIVE_MINUTES)]
    # A visitor is their id, or their session once anonymized.
    who = func.coalesce(cast(AnalyticsEvent.visitor_id, String), AnalyticsEvent.session_id)
    total = db.session.execute(select(func.count(func.distinct(who))).where(*recent)).scalar_one()
    # Where each active visitor is now: the step of their latest event that has one.
    latest = (select(AnalyticsEvent.step_id.label("step_id"),
                     func.row_number().over(partition_by=who, order_by=(AnalyticsEvent.created_at.desc(),
                                                                        AnalyticsEvent.id.desc())).label("n"))
              .where(*recent, AnalyticsEvent.step_id.is_not(None)).subquery())
    at_step = dict(db.session.execute(select(latest.c.step_id, func.count()).where(latest.c.n == 1)
                                      .group_by(latest.c.step_id)).all())
    events = db.session.execute(
        select(AnalyticsEvent.event_type, AnalyticsEvent.step_id, AnalyticsEvent.created_at, AnalyticsEvent.session_id)
        .where(*recent).order_by(AnalyticsEvent.created_at.desc(), AnalyticsEvent.id.desc()).limit(RECENT_EVENTS))
    count, value = db.session.execute(
        select(func.count(), func.coalesce(func.sum(AnalyticsEvent.value_cents), 0))
        .where(*recent[:2], AnalyticsEvent.created_at >= moment - timedelta(minutes=CONVERSION_MINUTES),
               AnalyticsEvent.event_type == "conversion")).one()
    return {
        "funnel_id": str(funnel.id), "timestamp": moment.isoformat(),
        "active_visitors": {"total": int(total), "by_step": [
            {"step_id": str(step.id), "step_name": step.name, "visitors": int(at_step.get(step.id, 0))}
            for step in funnel.steps]},
        "recent_events": [{"event_type": kind, "step_id": id_text(step_id), "timestamp": created_at.isoformat(),
                           "session_id": session_id} for kind, step_id, created_at, session_id in events],
        "conversions_last_5min": {"count": int(count), "value_cents": int(value)},
    }


# ---- REQ-13: a visitor's journey ----------------------------------------------------------------------------

def journey(account, visitor_id, funnel_id=None) -> dict:
    """The sessions and events of one visitor of the workspace (optionally in one funnel), oldest first.
    NotFoundError for a visitor id that is not one, or that has no event here (or in that funnel)."""
    visitor = uuid_or_none(visitor_id)
    if visitor is None:
        raise NotFoundError("No such visitor in this workspace.")
    funnel = funnel_of(account, funnel_id) if funnel_id not in (None, "") else None
    return cached("journey", account, funnel.id if funnel else "all", [str(visitor)],
                  lambda: _journey(account, visitor, funnel))


def _journey(account, visitor: uuid.UUID, funnel) -> dict:
    conditions = [AnalyticsEvent.visitor_id == visitor, AnalyticsEvent.account_id == account.id]
    if funnel is not None:
        conditions.append(AnalyticsEvent.funnel_id == funnel.id)
    events = list(reversed(db.session.execute(
        select(AnalyticsEvent).where(*conditions)
        .order_by(AnalyticsEvent.created_at.desc(), AnalyticsEvent.id.desc()).limit(JOURNEY_EVENTS)).scalars().all()))
    if not events:
        raise NotFoundError("No such visitor in this workspace.")
    sessions: dict[tuple, list] = {}
    for event in events:
        sessions.setdefault((event.session_id, event.funnel_id), []).append(event)
    moment = now()
    return {
        "visitor_id": str(visitor), "first_seen_at": events[0].created_at.isoformat(),
        "last_seen_at": events[-1].created_at.isoformat(), "total_sessions": len(sessions),
        "total_page_views": sum(event.event_type == "page_view" for event in events),
        "total_conversions": sum(event.event_type == "conversion" for event in events),
        "sessions": [_session(session_id, funnel_id, found, moment)
                     for (session_id, funnel_id), found in sessions.items()],
    }


def _page_of(event) -> str:
    return event.url or (str(event.page_id) if event.page_id else "")


def _session(session_id, funnel_id, events: list, moment) -> dict:
    started, last = events[0].created_at, events[-1].created_at
    ongoing = moment - last < timedelta(minutes=ACTIVE_MINUTES)
    pages = [event for event in events if event.event_type == "page_view" and (event.url or event.page_id)] or [
        event for event in events if event.url or event.page_id]
    return {
        "session_id": session_id, "started_at": started.isoformat(),
        "ended_at": None if ongoing else last.isoformat(), "funnel_id": str(funnel_id),
        "entry_page": _page_of(pages[0]) if pages else "",
        "exit_page": None if ongoing or not pages else _page_of(pages[-1]),
        "page_views": sum(event.event_type == "page_view" for event in events),
        "time_spent_seconds": int((last - started).total_seconds()),
        "conversions": sum(event.event_type == "conversion" for event in events),
        "events": [{"event_type": event.event_type, "page_id": id_text(event.page_id),
                    "step_id": id_text(event.step_id), "timestamp": event.created_at.isoformat(),
                    "metadata": event.event_metadata or {}}
                   for event in events],
    }


def contact_visitors(account, contact_id) -> list[str]:
    """The visitor ids the contact's orders recorded at checkout (their journeys), newest order first."""
    rows = db.session.execute(
        select(Order.visitor_id, func.max(Order.created_at)).where(
            Order.account_id == account.id, Order.contact_id == contact_id, Order.visitor_id.is_not(None))
        .group_by(Order.visitor_id).order_by(func.max(Order.created_at).desc()).limit(10))
    return [str(visitor_id) for visitor_id, _ in rows]
