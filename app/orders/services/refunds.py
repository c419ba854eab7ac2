"""Refunds: all or part of a paid order, or of one of its items, through Stripe's Refund API.

`create` locks the order, checks what may still be refunded, works out which payments the money goes back
to (an item's refund to the item's payment; an order's partial refund spread over its items, the largest
refundable first, and so over their payments), asks Stripe for one refund per payment, and only then writes
the refunds, the items', payments' and order's refunded amounts, the new status (the contact's timeline and
`order.refunded` come with it) and a line of the order's history. When Stripe refuses, nothing is written.
"""
from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.core import audit
from app.core.errors import ConflictError, NotFoundError, ValidationError
from app.core.formatting import format_money
from app.extensions import db
from app.orders import gateway
from app.orders.models import REFUND_REASONS, Order, OrderItem, Refund
from app.orders.services import orders

REFUNDABLE_STATUSES = ("paid", "fulfilled", "partially_refunded")
REFUNDABLE_PAYMENTS = ("succeeded",)
NOTE_MAX = 500


def refundable_items(order: Order) -> list[OrderItem]:
    """The items money can go back for: counted in the order's total, charged by a payment that succeeded."""
    return [item for item in orders.counted_items(order)
            if item.payment is not None and item.payment.status in REFUNDABLE_PAYMENTS
            and item.payment.stripe_payment_intent_id]


def refundable_cents(order: Order) -> int:
    """What may still be refunded of the order (0 unless it was paid)."""
    if order.status not in REFUNDABLE_STATUSES:
        return 0
    return min(order.total_cents - order.refunded_cents,
               sum(max(item.refundable_cents, 0) for item in refundable_items(order)))


def _reason(reason) -> str:
    if reason not in REFUND_REASONS:
        raise ValidationError(f"Choose a reason from: {', '.join(REFUND_REASONS)}.", field="reason")
    return reason


def _note(note) -> str:
    if note is None:
        return ""
    if not isinstance(note, str) or "\x00" in note:
        raise ValidationError("The note must be text.", field="note")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(f"The note has at most {NOTE_MAX} characters.", field="note")
    return note


def _item(order: Order, item_id) -> OrderItem | None:
    if item_id in (None, ""):
        return None
    try:
        wanted = item_id if isinstance(item_id, uuid.UUID) else uuid.UUID(str(item_id))
    except (TypeError, ValueError):
        raise ValidationError("Choose an item of this order.", field="item_id") from None
    item = next((item for item in order.items if item.id == wanted), None)
    if item is None:
        raise ValidationError("Choose an item of this order.", field="item_id")
    return item


def _allocate(order: Order, item: OrderItem | None, amount: int | None) -> list[tuple[OrderItem, int]]:
    """(item, cents) pairs the refund is made of; checks the amount against what remains."""
    money = lambda cents: format_money(cents, order.currency)  # noqa: E731
    candidates = refundable_items(order)
    if item is not None:
        if item not in candidates:
            raise ValidationError("This item was not charged, so it cannot be refunded.", field="item_id")
        remaining = max(item.refundable_cents, 0)
        what = "this item"
    else:
        remaining = refundable_cents(order)
        what = "this order"
    if remaining <= 0:
        raise ConflictError(f"Nothing remains to be refunded of {what}.", field="amount")
    if amount is None:
        amount = remaining
    elif isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationError("Enter the amount as a whole number of cents.", field="amount")
    if amount <= 0:
        raise ValidationError("Enter an amount above zero.", field="amount")
    if amount > remaining:
        raise ValidationError(f"At most {money(remaining)} remains to be refunded of {what}.", field="amount")
    if item is not None:
        return [(item, amount)]
    shares, left = [], amount
    for candidate in sorted(candidates, key=lambda i: (-i.refundable_cents, i.position)):
        if left <= 0:
            break
        share = min(left, candidate.refundable_cents)
        if share > 0:
            shares.append((candidate, share))
            left -= share
    if left > 0:  # the order's figures and its items disagree: refuse rather than guess
        raise ConflictError(f"At most {money(amount - left)} can be refunded of this order.", field="amount")
    return shares


def create(account, order, amount_cents: int | None, item_id=None, reason: str = "requested_by_customer",
           note: str = "", actor=None) -> list[Refund]:
    """Refund `amount_cents` (None: all that remains) of the order, or of its item `item_id`.

    Raises ValidationError (fields amount, item_id, reason, note), ConflictError (the order is not paid,
    nothing remains, Stripe refused) or NotFoundError (another workspace's order). One Refund per payment."""
    if order is None or order.account_id != account.id:
        raise NotFoundError("Not found.")
    order = orders.locked(order)
    # Fresh figures for the items and payments too (the lock makes concurrent refunds take turns).
    db.session.execute(select(OrderItem).where(OrderItem.order_id == order.id)
                       .options(joinedload(OrderItem.payment))
                       .execution_options(populate_existing=True)).scalars().all()
    reason = _reason(reason)
    note = _note(note)
    if order.status not in REFUNDABLE_STATUSES:
        raise ConflictError(f"Order #{order.number} is {order.status_label.lower()}: only a paid order can be "
                            "refunded.")
    item = _item(order, item_id)
    shares = _allocate(order, item, amount_cents)

    by_payment: dict = defaultdict(list)
    for share_item, cents in shares:
        by_payment[share_item.payment].append((share_item, cents))

    planned = []
    for payment, parts in by_payment.items():
        refund_id = uuid.uuid4()
        cents = sum(part for _, part in parts)
        try:
            stripe_id = gateway.refund(payment_intent_id=payment.stripe_payment_intent_id, amount=cents,
                                       reason=reason, idempotency_key=f"{order.checkout_key}:refund:{refund_id}",
                                       metadata={"order": str(order.number)})
        except gateway.PaymentError as error:
            db.session.rollback()
            raise ConflictError(error.message or "Stripe refused the refund.", field="amount") from error
        planned.append((refund_id, payment, parts, cents, stripe_id))

    refunds, total = [], 0
    for refund_id, payment, parts, cents, stripe_id in planned:
        refund = Refund(id=refund_id, account_id=order.account_id, order_id=order.id, payment_id=payment.id,
                        item_id=parts[0][0].id if len(parts) == 1 else None, amount_cents=cents, reason=reason,
                        note=note, stripe_refund_id=stripe_id, status="succeeded",
                        created_by_id=getattr(actor, "id", None))
        db.session.add(refund)
        refunds.append(refund)
        for part_item, part in parts:
            part_item.refunded_cents += part
        payment.refunded_cents += cents
        total += cents
    order.refunded_cents += total
    published: list = []
    fully = order.refunded_cents >= order.total_cents or refundable_cents(order) <= 0
    status = "refunded" if fully else "partially_refunded"
    amount_text = format_money(total, order.currency)
    what = f" of {item.name}" if item is not None else ""
    orders.change_status(order, status, published,
                         f"Order #{order.number} {'refunded' if fully else 'partially refunded'}: "
                         f"{format_money(order.refunded_cents, order.currency)} of "
                         f"{format_money(order.total_cents, order.currency)}", actor=actor)
    orders.log(order, "refund.created", f"Refunded {amount_text}{what} ({REFUND_REASONS[reason].lower()})",
               amount_cents=total, reason=reason, note=note, refunds=[str(r.id) for r in refunds],
               stripe_refunds=[r.stripe_refund_id for r in refunds], item_id=str(item.id) if item else None,
               by=str(actor.id) if getattr(actor, "id", None) else None)
    audit.record("order.refunded", order, f"Refunded {amount_text}{what} of order #{order.number}",
                 {"amount_cents": total, "reason": reason}, account=account, user=actor)
    orders.commit(published)
    return refunds
