"""Privacy: anonymizing a visitor on request (consent withdrawn, REQ-FUN-004-13's GDPR note).

`anonymize_visitor(account, visitor_id)` cuts every link between the workspace's analytics and one visitor
while the counts stay what they were:
- their raw events lose visitor_id, ip_address and user_agent (the rollups and the unique-visitor sketches,
  which hold counters and hashed registers, are untouched: the reports count the same);
- their split-test exposures get a fresh random visitor id (the primary key needs one), so the A/B figures
  keep the exposure and its conversions, tied to nobody;
- their orders forget the visitor and session ids recorded at checkout (which linked a contact to a journey);
- an audit event records who asked and how many rows changed.
Events still buffered when it runs (the seconds before the ingest worker stores them) are not reached: an
API client honouring a withdrawal can repeat the call, which then answers 404 once nothing is left.

The IP setting (Account.analytics_ip_mode: "truncated" keeps the network part only, "none" stores nothing)
and Do-Not-Track (Account.analytics_respect_dnt) are applied when events are taken (app/analytics/tracking.py);
the workspace settings page changes them (app/auth/services.py `update_analytics_privacy`).
"""
import logging
import uuid

from sqlalchemy import select, update

from app.analytics.models import AnalyticsEvent, Exposure
from app.core import audit
from app.core.errors import NotFoundError
from app.core.validation import uuid_or_none
from app.extensions import db
from app.orders.models import Order

log = logging.getLogger(__name__)


def anonymize_visitor(account, visitor_id, actor=None) -> dict:
    """Anonymize one visitor of the workspace; what changed ({"visitor_id", "events", "exposures", "orders"}).
    NotFoundError when the id is not one, or nothing of that visitor is left in the workspace."""
    visitor = uuid_or_none(visitor_id) if not isinstance(visitor_id, uuid.UUID) else visitor_id
    if visitor is None:
        raise NotFoundError("No such visitor in this workspace.")
    sessions = set(db.session.execute(select(AnalyticsEvent.session_id).distinct().where(
        AnalyticsEvent.account_id == account.id, AnalyticsEvent.visitor_id == visitor)).scalars())
    events = db.session.execute(
        update(AnalyticsEvent).where(AnalyticsEvent.account_id == account.id, AnalyticsEvent.visitor_id == visitor)
        .values(visitor_id=None, ip_address=None, user_agent=None)
        .execution_options(synchronize_session=False)).rowcount
    exposures = db.session.execute(select(Exposure).where(
        Exposure.account_id == account.id, Exposure.visitor_id == visitor)).scalars().all()
    for exposure in exposures:  # one per split test at most: a fresh id each (the key needs one)
        exposure.visitor_id = uuid.uuid4()
    linked = Order.visitor_id == visitor
    if sessions:
        linked = linked | Order.session_id.in_(sessions)
    orders = db.session.execute(
        update(Order).where(Order.account_id == account.id, linked).values(visitor_id=None, session_id=None)
        .execution_options(synchronize_session=False)).rowcount
    if not (events or exposures or orders):
        db.session.rollback()
        raise NotFoundError("No such visitor in this workspace (or already anonymized).")
    changed = {"visitor_id": str(visitor), "events": events, "exposures": len(exposures), "orders": orders}
    audit.record("analytics.visitor_anonymized", None,
                 f"Visitor anonymized: {events:,} events, {len(exposures)} split-test exposures, {orders} orders",
                 details=changed, account=account, user=actor)
    db.session.commit()
    _forget_cached_journeys(account)
    return changed


def _forget_cached_journeys(account) -> None:
    """The reports keep a journey a minute (app.analytics.reports.cached): drop the workspace's, so the
    anonymized visitor's is not shown from the cache."""
    from flask import current_app

    if not current_app.config.get("REDIS_URL"):
        return
    from app.core.jobs import redis_connection

    try:
        redis = redis_connection()
        keys = list(redis.scan_iter(match=f"analytics:report:journey:{account.id}:*", count=500))
        if keys:
            redis.delete(*keys)
    except Exception:
        log.warning("analytics: cached journeys not dropped (Redis unreachable); they expire within a minute")
