"""The visitor's checkout on a published order form, and the one-click offers after it.

1. `start`: the customer's details and choices are checked, the contact is recorded (source "checkout",
   even if the visitor never pays), the pending order is written with the amounts of the database, and a
   Stripe SetupIntent is opened for the card (its client secret goes to Stripe.js' confirmCardSetup).
2. `pay`: the saved card is charged for the order's total (a PaymentIntent confirmed at once). The bank may
   ask for authentication (`requires_action`: the page runs confirmCardPayment, then `confirm`).
3. `accept_offer`: an upsell or downsell charges the same card off-session, once per step whatever the
   number of clicks (the order row is locked and an accepted step is found again).
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import unquote

from sqlalchemy.exc import IntegrityError

from app.core.errors import ConflictError, ValidationError
from app.crm.services import contacts, tags, timeline
from app.extensions import db
from app.orders import gateway
from app.orders.models import Order, OrderItem, Payment
from app.orders.services import catalog, orders, payments, pricing

OPEN_STATUSES = ("pending", "failed", "abandoned")  # a checkout the visitor may still pay
OFFER_STATUSES = ("paid", "fulfilled")  # an order that may take one-click offers


@dataclass(frozen=True)
class Outcome:
    """What the page does next: go on (succeeded), authenticate (requires_action, with the client secret
    and card for confirmCardPayment), or show `message` (failed)."""

    status: str
    client_secret: str = ""
    payment_method: str = ""
    message: str = ""


def _key() -> str:
    return secrets.token_urlsafe(18)


def open_order(account, checkout_key: str | None, step) -> Order | None:
    """The visitor's unpaid order of this step (from the checkout cookie), to be filled again."""
    if not checkout_key:
        return None
    from sqlalchemy import select

    return db.session.execute(select(Order).where(
        Order.account_id == account.id, Order.checkout_key == checkout_key, Order.step_id == step.id,
        Order.status.in_(OPEN_STATUSES))).scalar_one_or_none()


def attribution(visitor_cookie: str | None, session_cookie: str | None) -> dict:
    """Where the buyer came from, read from the tracker's cookies (static/site/track.js): lf_vid is the
    visitor's UUID, lf_ses "<session UUID>|<source>|..." (the source URL-encoded). Anything else is ignored:
    no visitor or session id, source "direct"."""

    def as_uuid(value: str | None) -> str | None:
        try:
            return str(uuid.UUID((value or "").strip()))
        except ValueError:
            return None

    session, _, rest = (session_cookie or "").partition("|")
    source = unquote(rest.partition("|")[0]).strip().lower()[:100] if as_uuid(session) else ""
    return {"visitor_id": as_uuid(visitor_cookie), "session_id": as_uuid(session), "traffic_source": source or "direct"}


def start(account, step, customer: dict, bump_price_ids, coupon_code: str, checkout_key: str | None,
          tag_names=(), tracked: dict | None = None) -> tuple[Order, str]:
    """Record the customer and the pending order, open the card's SetupIntent: (order, its client secret).
    `customer` holds contact fields (email, first_name, last_name, phone, address parts...); `tracked`, the
    tracker's visitor, session and source (`attribution`), kept on the order for analytics."""
    email = (customer.get("email") or "").strip()
    if not email:
        raise ValidationError("Enter your e-mail address.", fields={"email": "Enter your e-mail address."})
    quote = pricing.quote(account, step, bump_price_ids, coupon_code, strict=True)
    if quote.coupon_error:
        raise ValidationError(quote.coupon_error, fields={"coupon": quote.coupon_error})
    try:
        contact, _ = contacts.upsert(account, customer, source="checkout")
    except (IntegrityError, contacts.DuplicateContact):  # the customer's other checkout made it a moment ago
        db.session.rollback()
        contact, _ = contacts.upsert(account, customer, source="checkout")
    for name in tag_names:
        tags.tag_contact(account, contact, tags.get_or_create(account, name))
    published: list = []
    order = open_order(account, checkout_key, step)
    is_new = order is None
    if is_new:
        order = Order(account_id=account.id, number=orders.next_number(account.id), status="pending",
                      checkout_key=_key(), funnel_id=step.funnel_id, step_id=step.id)
        db.session.add(order)
    if tracked and (is_new or order.visitor_id is None):
        order.visitor_id = uuid.UUID(tracked["visitor_id"]) if tracked.get("visitor_id") else None
        order.session_id = tracked.get("session_id")
        order.traffic_source = tracked.get("traffic_source") or "direct"
    _fill(order, contact, customer, quote)
    db.session.flush()
    if is_new:
        orders.log(order, "order.created", f"Checkout started by {order.email}")
        timeline.add(account, contact.id, "order.created",
                     f"Started checkout #{order.number} on {step.funnel.name} ({_money(order)})", obj=order)
        published.append(("order.created", orders.payload(order)))
    orders.commit(published)  # the contact and the order stay, whatever Stripe says next
    if not order.stripe_customer_id:
        order.stripe_customer_id = gateway.create_customer(order.email, order.customer_name,
                                                           f"{order.checkout_key}:customer")
    setup_id, client_secret = gateway.start_card_setup(order.stripe_customer_id, f"{order.checkout_key}:setup:{_key()}")
    order.stripe_setup_intent_id = setup_id
    db.session.commit()
    return order, client_secret


def _money(order: Order) -> str:
    from app.core.formatting import format_money

    return format_money(order.total_cents, order.currency)


def _fill(order: Order, contact, customer: dict, quote: pricing.Quote) -> None:
    order.contact_id = contact.id
    order.email = contact.email or customer.get("email", "")
    order.first_name = (customer.get("first_name") or "")[:100]
    order.last_name = (customer.get("last_name") or "")[:100]
    order.phone = (contact.phone or "")[:40]
    order.address = {key: customer[key] for key in ("street", "city", "region", "postal_code", "country")
                     if customer.get(key)}
    order.currency = quote.currency
    order.coupon_id = quote.coupon.id if quote.coupon else None
    order.coupon_code = quote.coupon.code if quote.coupon else ""
    order.items.clear()
    for position, line in enumerate(quote.lines):
        order.items.append(OrderItem(
            account_id=order.account_id, kind=line.kind, product_id=line.price.product_id, price_id=line.price.id,
            step_id=order.step_id, name=line.name[:160], quantity=1, unit_amount_cents=line.unit_amount_cents,
            discount_cents=line.discount_cents, amount_cents=line.amount_cents, refunded_cents=0, position=position))
    orders.recompute_totals(order)


def pay(account, order: Order, setup_intent_id: str) -> Outcome:
    """Charge the card saved by the SetupIntent for the order's total."""
    order = orders.locked(order)
    if order.status not in OPEN_STATUSES:
        if orders.is_paid(order):
            db.session.commit()
            return Outcome("succeeded")
        raise ConflictError(f"Order #{order.number} is {order.status_label.lower()}: it cannot be paid.")
    if not setup_intent_id or setup_intent_id != order.stripe_setup_intent_id:
        raise ValidationError("This payment does not belong to your order. Reload the page and try again.",
                              fields={"": "Unknown card setup."})
    try:
        order.stripe_payment_method_id = gateway.saved_card(setup_intent_id, order.stripe_customer_id)
    except gateway.PaymentError as error:
        return _declined_checkout(order, error.message)
    published: list = []
    if order.total_cents <= 0:  # a 100 % coupon: nothing to charge, the card is kept for the offers
        orders.change_status(order, "paid", published, f"Order #{order.number} paid (nothing to charge)")
        payments.redeem_coupon(order)
        orders.commit(published)
        return Outcome("succeeded")
    payment = Payment(account_id=order.account_id, order=order, purpose="checkout", amount_cents=order.total_cents,
                      currency=order.currency, status="created")
    db.session.add(payment)
    db.session.flush()
    for item in order.items:
        item.payment_id = payment.id
    return _charge(order, payment, off_session=False, idempotency_key=f"{order.checkout_key}:checkout:{payment.id}",
                   published=published)


def _declined_checkout(order: Order, message: str) -> Outcome:
    published: list = []
    order.failure_message = message[:300]
    orders.log(order, "payment.failed", f"Card refused: {message}")
    if orders.can_change(order, "failed"):
        orders.change_status(order, "failed", published, f"Payment failed: {message}")
    orders.commit(published)
    return Outcome("failed", message=message)


def _charge(order: Order, payment: Payment, off_session: bool, idempotency_key: str, published: list) -> Outcome:
    metadata = {"order": str(order.number), "order_id": str(order.id), "account_id": str(order.account_id),
                "purpose": payment.purpose}
    try:
        result = gateway.charge(amount=payment.amount_cents, currency=order.currency,
                                customer_id=order.stripe_customer_id, payment_method_id=order.stripe_payment_method_id,
                                off_session=off_session, idempotency_key=idempotency_key, metadata=metadata)
    except gateway.PaymentError as error:
        intent = error.payment_intent or {}
        if error.code == "authentication_required" and intent.get("id"):
            # Stripe: an off-session charge the bank wants to authenticate; the visitor confirms it on the page.
            payment.stripe_payment_intent_id = intent["id"]
            payments.requires_action(payment)
            orders.commit(published)
            return Outcome("requires_action", client_secret=intent.get("client_secret", ""),
                           payment_method=order.stripe_payment_method_id or "")
        if not error.declined:
            db.session.rollback()
            raise
        payments.failed(payment, error.message, published)
        orders.commit(published)
        return Outcome("failed", message=error.message)
    payment.stripe_payment_intent_id = result.payment_intent_id
    return _apply(order, payment, result, published)


def _apply(order: Order, payment: Payment, result: gateway.Charge, published: list) -> Outcome:
    if result.status == "succeeded":
        payments.succeeded(payment, result.charge_id, published)
        orders.commit(published)
        return Outcome("succeeded")
    if result.status == "requires_action":
        payments.requires_action(payment)
        orders.commit(published)
        return Outcome("requires_action", client_secret=result.client_secret,
                       payment_method=order.stripe_payment_method_id or "")
    if result.status in ("processing", "requires_capture"):
        orders.commit(published)
        return Outcome("processing", message="Your payment is being processed.")
    message = result.failure_message or "Your card was declined."
    payments.failed(payment, message, published)
    orders.commit(published)
    return Outcome("failed", message=message)


def confirm(account, order: Order, payment_intent_id: str) -> Outcome:
    """After the bank's authentication on the page: what Stripe says of the PaymentIntent now."""
    order = orders.locked(order)
    payment = payments.by_intent(payment_intent_id or "")
    if payment is None or payment.order_id != order.id:
        raise ValidationError("This payment does not belong to your order.", fields={"": "Unknown payment."})
    if payment.status in payments.SETTLED:
        db.session.commit()
        return Outcome("succeeded")
    result = gateway.payment_intent(payment_intent_id)
    return _apply(order, payment, result, [])


def accepted_item(order: Order, step) -> OrderItem | None:
    for item in order.items:
        if item.step_id == step.id and item.kind in ("upsell", "downsell"):
            return item
    return None


def accept_offer(account, order: Order, step) -> Outcome:
    """Yes to an upsell or downsell: charge the saved card for the step's offer, once."""
    order = orders.locked(order)
    existing = accepted_item(order, step)
    if existing is not None and existing.payment is not None and existing.payment.status != "failed":
        payment = existing.payment
        if payment.status == "requires_action" and payment.stripe_payment_intent_id:
            result = gateway.payment_intent(payment.stripe_payment_intent_id)
            return _apply(order, payment, result, [])
        db.session.commit()
        return Outcome("succeeded")
    if order.status not in OFFER_STATUSES:
        raise ConflictError(f"Order #{order.number} is {order.status_label.lower()}: it cannot take this offer.")
    if not order.stripe_payment_method_id or not order.stripe_customer_id:
        raise ConflictError("No saved card for this order: the offer cannot be added with one click.")
    offers = catalog.step_offers(step, "offer")
    if not offers:
        raise ConflictError("This offer is not available right now.")
    price = offers[0].price
    if price.currency != order.currency:
        raise ConflictError("This offer is priced in another currency than your order.")
    if existing is not None:  # an earlier attempt failed: try again with a new payment
        order.items.remove(existing)
    kind = step.step_type if step.step_type in ("upsell", "downsell") else "upsell"
    payment = Payment(account_id=order.account_id, order=order, purpose=kind, amount_cents=price.amount_cents,
                      currency=price.currency, status="created")
    db.session.add(payment)
    db.session.flush()
    order.items.append(OrderItem(
        account_id=order.account_id, kind=kind, product_id=price.product_id, price_id=price.id, step_id=step.id,
        payment_id=payment.id, name=price.product.name[:160], quantity=1, unit_amount_cents=price.amount_cents,
        discount_cents=0, amount_cents=price.amount_cents, position=len(order.items)))
    db.session.flush()
    db.session.refresh(payment)
    orders.log(order, f"{kind}.accepted", f"{kind.capitalize()} accepted: {price.product.name}")
    return _charge(order, payment, off_session=True, idempotency_key=f"{order.checkout_key}:offer:{payment.id}",
                   published=[])


def decline_offer(account, order: Order, step) -> None:
    if order.status in OFFER_STATUSES and accepted_item(order, step) is None:
        kind = step.step_type if step.step_type in ("upsell", "downsell") else "offer"
        orders.log(order, f"{kind}.declined", f"{kind.capitalize()} declined on step {step.name}")
        db.session.commit()
