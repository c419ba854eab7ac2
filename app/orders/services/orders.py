"""Orders: numbers, status changes (only the valid ones), the order's history, its totals, and what the
CRM and the rest of the app hear of it (the contact's timeline, domain events after the commit).

A service changes the order, adds an `OrderEvent` line for its history, and collects the domain events to
publish; `commit(order, published)` commits and then publishes them, so a subscriber never hears of an
order that was rolled back.
"""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.core import events
from app.core.db import utcnow
from app.core.errors import ConflictError
from app.core.formatting import format_money
from app.crm.services import timeline
from app.extensions import db
from app.orders.models import ORDER_STATUSES, ORDER_TRANSITIONS, PAID_STATUSES, Order, OrderCounter, OrderEvent

STATUS_TIMESTAMPS = {"paid": "paid_at", "fulfilled": "fulfilled_at", "abandoned": "abandoned_at",
                     "cancelled": "cancelled_at"}
# The domain event each status change publishes (the names webhooks and automation offer).
STATUS_EVENTS = {"paid": "order.paid", "failed": "order.failed", "refunded": "order.refunded",
                 "partially_refunded": "order.refunded", "abandoned": "order.abandoned",
                 "cancelled": "order.cancelled", "fulfilled": "order.fulfilled"}


def next_number(account_id) -> int:
    """The workspace's next order number (1001, 1002, ...): the counter row is updated in the caller's
    transaction, so concurrent checkouts wait for each other's commit and never share a number."""
    statement = (update(OrderCounter).where(OrderCounter.account_id == account_id)
                 .values(last_number=OrderCounter.last_number + 1).returning(OrderCounter.last_number))
    number = db.session.execute(statement).scalar()
    if number is not None:
        return number
    try:
        with db.session.begin_nested():
            db.session.add(OrderCounter(account_id=account_id, last_number=1000))
    except IntegrityError:
        pass  # another checkout created it first
    return db.session.execute(statement).scalar_one()


def locked(order: Order) -> Order:
    """The order re-read with a row lock (PostgreSQL), so two requests acting on it take turns."""
    return db.session.execute(select(Order).where(Order.id == order.id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one()


def log(order: Order, kind: str, message: str, **data) -> OrderEvent:
    entry = OrderEvent(account_id=order.account_id, order_id=order.id, kind=kind, message=message[:300],
                       data=data)
    db.session.add(entry)
    return entry


def payload(order: Order) -> dict:
    """What an order's domain events carry: ids and figures, never model instances."""
    return {"account_id": order.account_id, "order_id": order.id, "number": order.number,
            "contact_id": order.contact_id, "funnel_id": order.funnel_id, "status": order.status,
            "currency": order.currency, "total_cents": order.total_cents, "refunded_cents": order.refunded_cents}


def can_change(order: Order, status: str) -> bool:
    return status in ORDER_TRANSITIONS.get(order.status, set())


def change_status(order: Order, status: str, published: list, message: str = "", actor=None) -> None:
    """Move the order to `status` (ConflictError if that is not a valid next status), log it, add it to the
    contact's timeline, and queue its domain event in `published`."""
    if status not in ORDER_STATUSES:
        raise ValueError(f"unknown order status {status!r}")
    if not can_change(order, status):
        raise ConflictError(f"Order #{order.number} is {order.status_label.lower()}: it cannot become "
                            f"{ORDER_STATUSES[status].lower()}.")
    previous = order.status
    order.status = status
    stamp = STATUS_TIMESTAMPS.get(status)
    if stamp and getattr(order, stamp) is None:
        setattr(order, stamp, utcnow())
    text = message or f"Order #{order.number} {ORDER_STATUSES[status].lower()}"
    log(order, f"order.{status}", text, previous=previous)
    if order.contact_id is not None:
        account = SimpleNamespace(id=order.account_id)  # all the timeline reads of it (no query, no autoflush)
        details = {"number": order.number, "total_cents": order.total_cents, "currency": order.currency}
        timeline.add(account, order.contact_id, f"order.{status}", _timeline_text(order, status), actor=actor,
                     obj=order, details=details)
    name = STATUS_EVENTS.get(status)
    if name:
        published.append((name, {**payload(order), "previous_status": previous}))


def _timeline_text(order: Order, status: str) -> str:
    total = format_money(order.total_cents, order.currency)
    if status == "paid":
        return f"Order #{order.number} paid: {total}"
    if status in ("refunded", "partially_refunded"):
        refunded = format_money(order.refunded_cents, order.currency)
        return f"Order #{order.number} {ORDER_STATUSES[status].lower()}: {refunded} of {total} refunded"
    return f"Order #{order.number} {ORDER_STATUSES[status].lower()} ({total})"


def counted_items(order: Order) -> list:
    """The items the order's figures count: those of the checkout, and each accepted offer once its charge
    succeeded (an offer waiting for the bank's authentication is not part of the total yet)."""
    return [item for item in order.items
            if item.kind in ("main", "bump") or (item.payment is not None and item.payment.status != "failed"
                                                 and item.payment.status not in ("created", "requires_action"))]


def recompute_totals(order: Order) -> None:
    """Subtotal, discount and total from the items (the only source of the order's figures)."""
    items = counted_items(order)
    order.subtotal_cents = sum(item.unit_amount_cents * item.quantity for item in items)
    order.discount_cents = sum(item.discount_cents for item in items)
    order.total_cents = sum(item.amount_cents for item in items)


def commit(published: list) -> None:
    """Commit the session, then publish what the change queued."""
    db.session.commit()
    for name, data in published:
        events.publish(name, **data)


def is_paid(order: Order) -> bool:
    return order.status in PAID_STATUSES


def abandon_stale(now=None) -> int:
    """Checkouts whose customer gave their details but never paid become abandoned after
    CHECKOUT_ABANDON_MINUTES (order.abandoned is published for each). Returns how many."""
    limit = (now or utcnow()) - timedelta(minutes=current_app.config["CHECKOUT_ABANDON_MINUTES"])
    stale = db.session.execute(
        select(Order).where(Order.status.in_(("pending", "failed")), Order.created_at < limit,
                            Order.email != "").with_for_update(skip_locked=True).limit(500)).scalars().all()
    published: list = []
    for order in stale:
        change_status(order, "abandoned", published, f"Checkout abandoned: no payment after "
                                                     f"{current_app.config['CHECKOUT_ABANDON_MINUTES']} minutes")
    commit(published)
    return len(stale)
