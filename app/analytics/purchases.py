"""Purchases recorded by the server: every paid order of a funnel is a purchase conversion, whatever the
buyer's browser did (an ad blocker, a closed tab). The browser's tracker reports the same purchase with the
order's id in its metadata; the ingest counts an order once, whoever reports it first.

The conversion is the buyer's: the visitor, session and source the checkout read from the tracker's cookies
(Order.visitor_id, session_id, traffic_source), and the device, browser, UTM medium and campaign and split
variant of that visitor's last event in the funnel. An order without a visitor id (no cookie: tracking
blocked, or an order made elsewhere) gets a visitor id derived from the order, so its revenue still counts.
"""
from __future__ import annotations

import uuid

from sqlalchemy import select

from app.analytics import ingest, partitions
from app.analytics.models import AnalyticsEvent
from app.core.db import utcnow
from app.extensions import db
from app.orders.models import Order

ORDER_VISITORS = uuid.UUID("6f1c1a52-8f7e-4a43-9a55-3c0f52d0b7a1")  # uuid5 namespace of order-derived ids


def order_visitor_id(order_id) -> uuid.UUID:
    """The stand-in visitor of an order without one: the same id for the same order, every time."""
    return uuid.uuid5(ORDER_VISITORS, f"visitor:{order_id}")


def _last_event(funnel_id, visitor_id):
    return db.session.execute(
        select(AnalyticsEvent.step_id, AnalyticsEvent.page_id, AnalyticsEvent.variant_id, AnalyticsEvent.device_type,
               AnalyticsEvent.browser, AnalyticsEvent.os, AnalyticsEvent.utm_source, AnalyticsEvent.utm_medium,
               AnalyticsEvent.utm_campaign)
        .where(AnalyticsEvent.visitor_id == visitor_id, AnalyticsEvent.funnel_id == funnel_id)
        .order_by(AnalyticsEvent.created_at.desc()).limit(1)).first()


def purchase_event(order: Order) -> dict | None:
    """The purchase conversion of a paid order (a row for `ingest.ingest_events`), or None when the order
    belongs to no funnel."""
    if order.funnel_id is None:
        return None
    visitor_id = order.visitor_id or order_visitor_id(order.id)
    row = {
        "account_id": order.account_id, "funnel_id": order.funnel_id, "event_type": "conversion",
        "conversion_type": "purchase", "value_cents": order.total_cents, "step_id": order.step_id,
        "visitor_id": visitor_id, "session_id": order.session_id or f"order-{order.id}",
        "source": order.traffic_source or "direct", "created_at": order.paid_at or utcnow(),
        "metadata": {"order_id": str(order.id), "order_number": order.number, "reported_by": "server"},
    }
    last = _last_event(order.funnel_id, visitor_id) if order.visitor_id is not None else None
    if last is not None:
        row.update(device_type=last.device_type, browser=last.browser, os=last.os, utm_source=last.utm_source,
                   utm_medium=last.utm_medium, utm_campaign=last.utm_campaign)
        if last.step_id == order.step_id:  # the order form's page (or split variant) the buyer saw
            row.update(page_id=last.page_id, variant_id=last.variant_id)
    else:
        row.update(device_type="desktop", browser="Other", os="Other")  # unknown: no user agent to read
    return row


def record(order_id) -> int:
    """Add a paid order's purchase to the analytics (events and rollups). Returns 1 when it was counted now,
    0 when the order was counted already (by the browser, or an earlier run) or is not paid."""
    order = db.session.get(Order, uuid.UUID(str(order_id)))
    if order is None or order.paid_at is None:
        return 0
    row = purchase_event(order)
    if row is None:
        return 0
    day = row["created_at"].date()
    partitions.ensure(day, day)
    return ingest.ingest_events([row])
