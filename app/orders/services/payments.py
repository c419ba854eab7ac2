"""What a payment's outcome does to its order, the same whichever tells us first: the checkout's own request
(which waits for Stripe's answer) or a Stripe webhook (app/orders/services/webhooks.py). Each function is
safe to call twice with the same news: a payment that succeeded stays succeeded, and the order is paid once.
"""
from __future__ import annotations

from sqlalchemy import select, update

from app.core.formatting import format_money
from app.extensions import db
from app.orders.models import Coupon, Order, Payment
from app.orders.services import orders

SETTLED = ("succeeded", "refunded", "partially_refunded")


def by_intent(payment_intent_id: str) -> Payment | None:
    return db.session.execute(select(Payment).where(Payment.stripe_payment_intent_id == payment_intent_id)
                              ).scalar_one_or_none()


def succeeded(payment: Payment, charge_id: str | None, published: list) -> bool:
    """The payment went through: the checkout's pays the order, an offer's adds its item's amount to it.
    Returns False when this was known already."""
    if payment.status in SETTLED:
        return False
    order = payment.order
    payment.status = "succeeded"
    payment.failure_message = ""
    if charge_id:
        payment.stripe_charge_id = charge_id
    amount = format_money(payment.amount_cents, payment.currency)
    orders.log(order, "payment.succeeded", f"Payment of {amount} succeeded ({payment.purpose})",
               payment_intent=payment.stripe_payment_intent_id)
    if payment.purpose == "checkout":
        order.failure_message = ""
        if orders.can_change(order, "paid"):
            orders.change_status(order, "paid", published)
            redeem_coupon(order)
    else:
        orders.recompute_totals(order)  # the offer's item counts from now on
        published.append(("order.updated", orders.payload(order)))
    return True


def failed(payment: Payment, message: str, published: list) -> bool:
    """The card was declined or authentication failed. A checkout payment leaves the order failed (the
    visitor may try again); a failed offer changes nothing of the order already paid."""
    if payment.status in SETTLED or payment.status == "failed":
        return False
    order = payment.order
    payment.status = "failed"
    payment.failure_message = (message or "The payment failed.")[:300]
    orders.log(order, "payment.failed", f"Payment of {format_money(payment.amount_cents, payment.currency)} "
                                       f"failed ({payment.purpose}): {payment.failure_message}",
               payment_intent=payment.stripe_payment_intent_id)
    if payment.purpose == "checkout":
        order.failure_message = payment.failure_message
        if orders.can_change(order, "failed"):
            orders.change_status(order, "failed", published, f"Payment failed: {payment.failure_message}")
    else:
        for item in list(order.items):
            if item.payment_id == payment.id:
                order.items.remove(item)
        orders.recompute_totals(order)
    return True


def redeem_coupon(order: Order) -> None:
    """The order's coupon counts one more use (an UPDATE, so two orders at once both count)."""
    if order.coupon_id is not None:
        db.session.execute(update(Coupon).where(Coupon.id == order.coupon_id)
                           .values(times_redeemed=Coupon.times_redeemed + 1))


def requires_action(payment: Payment) -> bool:
    if payment.status in SETTLED or payment.status == "requires_action":
        return False
    payment.status = "requires_action"
    orders.log(payment.order, "payment.requires_action",
               f"The bank asked the customer to authenticate the payment ({payment.purpose})",
               payment_intent=payment.stripe_payment_intent_id)
    return True
