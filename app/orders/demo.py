"""Orders part of the demo workspace (idempotent): the products of the demo sales funnel (the swipe file, its
order bump, the masterclass upsell and the workshop downsell), a coupon, and about forty orders over the last
90 days, some with bumps and offers, some refunded, a few abandoned. The orders are written directly (their
Stripe ids are made up: the demo's past did not go through Stripe); new ones go through the real checkout."""
import random
import secrets
from datetime import timedelta

from sqlalchemy import func, select

from app.core.db import utcnow
from app.crm.models import Contact
from app.crm.services import timeline
from app.extensions import db
from app.funnels.models import Funnel
from app.orders.models import Coupon, Order, OrderEvent, OrderItem, Payment, Price, Product, Refund
from app.orders.services import catalog
from app.orders.services.orders import next_number, recompute_totals

SALES_FUNNEL = "Swipe file offer"
PRODUCTS = [  # (role in the funnel, name, description, cents)
    ("main", "Scroll-Stopper Swipe File", "101 Facebook and Instagram ads with their results, the hook index and "
                                         "a worksheet.", 700),
    ("bump", "Ad Template Pack", "30 editable ad designs in Canva and Figma.", 1700),
    ("upsell", "Ad Launch Masterclass", "6 video lessons, the campaign planner and a monthly live Q&A.", 9700),
    ("downsell", "Ad Launch Workshop (recorded)", "The 90-minute recorded workshop and its checklist.", 3700),
]
ORDER_COUNT = 42


def seed_orders(account, owner) -> None:
    if db.session.execute(select(func.count()).where(Product.account_id == account.id)).scalar_one():
        return
    prices = {}
    for role, name, description, cents in PRODUCTS:
        product = Product(account_id=account.id, name=name, description=description)
        prices[role] = Price(account_id=account.id, product=product, amount_cents=cents, currency="usd")
        db.session.add_all([product, prices[role]])
    db.session.add(Coupon(account_id=account.id, code="LAUNCH20", percent_off=20, max_redemptions=100))
    db.session.commit()
    funnel = db.session.execute(select(Funnel).where(Funnel.account_id == account.id, Funnel.name == SALES_FUNNEL)
                                ).scalar_one_or_none()
    if funnel is None:
        return
    steps = {step.step_type: step for step in funnel.steps}
    if "order_form" in steps:
        catalog.set_step_offers(account, steps["order_form"], [prices["main"].id], [prices["bump"].id],
                                {str(prices["bump"].id): "Yes! Add 30 done-for-you ad designs for just $17"}, None)
    for kind in ("upsell", "downsell"):
        if kind in steps:
            catalog.set_step_offers(account, steps[kind], offer_price_id=prices[kind].id)
    _past_orders(account, funnel, steps, prices)


def _past_orders(account, funnel, steps, prices) -> None:
    rng = random.Random(10)
    buyers = db.session.execute(select(Contact).where(Contact.account_id == account.id, Contact.email.is_not(None))
                                .order_by(Contact.created_at, Contact.email).limit(ORDER_COUNT)).scalars().all()
    now = utcnow()
    for buyer in buyers:
        when = now - timedelta(days=rng.uniform(0.5, 90), minutes=rng.randint(0, 600))
        fate = rng.random()
        status = "abandoned" if fate < 0.08 else "failed" if fate < 0.11 else "paid"
        kinds = ["main"]
        if rng.random() < 0.35:
            kinds.append("bump")
        if status == "paid":
            kinds.append("upsell" if rng.random() < 0.3 else "downsell" if rng.random() < 0.35 else "")
        order = _order(account, funnel, steps, buyer, [kind for kind in kinds if kind], prices, status, when)
        if status == "paid" and rng.random() < 0.2:
            _refund(account, order, whole=rng.random() < 0.5, when=when + timedelta(days=rng.uniform(0.2, 5)))
        elif status == "paid" and when < now - timedelta(days=7) and rng.random() < 0.5:
            order.status, order.fulfilled_at = "fulfilled", when + timedelta(hours=2)
    db.session.commit()


def _order(account, funnel, steps, buyer, kinds, prices, status, when) -> Order:
    order = Order(account_id=account.id, number=next_number(account.id), status=status, funnel_id=funnel.id,
                  step_id=steps["order_form"].id if "order_form" in steps else None, contact_id=buyer.id,
                  email=buyer.email, first_name=buyer.first_name or "", last_name=buyer.last_name or "",
                  checkout_key=secrets.token_urlsafe(18), currency="usd", created_at=when)
    db.session.add(order)
    checkout = None
    if status == "paid":
        checkout = Payment(account_id=account.id, order=order, purpose="checkout", currency="usd",
                           status="succeeded", amount_cents=0, stripe_payment_intent_id=_made_up("pi"))
        db.session.add(checkout)
        order.paid_at = when + timedelta(minutes=2)
    for position, kind in enumerate(kinds):
        price = prices[kind]
        payment = checkout
        if kind in ("upsell", "downsell"):
            payment = Payment(account_id=account.id, order=order, purpose=kind, currency="usd", status="succeeded",
                              amount_cents=price.amount_cents, stripe_payment_intent_id=_made_up("pi"))
            db.session.add(payment)
        step = steps.get(kind if kind in ("upsell", "downsell") else "order_form")
        order.items.append(OrderItem(
            account_id=account.id, kind=kind, product_id=price.product_id, price_id=price.id, payment=payment,
            step_id=step.id if step is not None else None,
            name=price.product.name, quantity=1, unit_amount_cents=price.amount_cents, discount_cents=0,
            amount_cents=price.amount_cents, refunded_cents=0, position=position))
    db.session.flush()
    recompute_totals(order)
    if checkout is not None:
        checkout.amount_cents = sum(item.amount_cents for item in order.items if item.kind in ("main", "bump"))
    money = f"${order.total_cents / 100:,.2f}"
    _event(order, "order.created", f"Checkout started by {order.email}", when)
    if status == "paid":
        _event(order, "order.paid", f"Order #{order.number} paid", order.paid_at)
        timeline.add(account, buyer.id, "order.paid", f"Order #{order.number} paid: {money}", obj=order,
                     when=order.paid_at)
    else:
        _event(order, f"order.{status}", f"Order #{order.number} {status}", when + timedelta(hours=1))
    return order


def _refund(account, order: Order, whole: bool, when) -> None:
    items = [order.items[-1]] if not whole else list(order.items)
    for item in items:
        db.session.add(Refund(account_id=order.account_id, order=order, payment_id=item.payment.id, item=item,
                              amount_cents=item.amount_cents, reason="requested_by_customer",
                              stripe_refund_id=_made_up("re"), created_at=when))
        item.refunded_cents = item.amount_cents
        item.payment.refunded_cents += item.amount_cents
    order.refunded_cents = sum(item.refunded_cents for item in order.items)
    order.status = "refunded" if order.refunded_cents >= order.total_cents else "partially_refunded"
    money = f"${order.refunded_cents / 100:,.2f}"
    _event(order, f"order.{order.status}", f"Refunded {money}", when)
    timeline.add(account, order.contact_id, f"order.{order.status}",
                 f"Order #{order.number} {order.status.replace('_', ' ')}: {money} refunded", obj=order, when=when)


def _event(order: Order, kind: str, message: str, when) -> None:
    db.session.add(OrderEvent(account_id=order.account_id, order=order, kind=kind, message=message, created_at=when))


def _made_up(prefix: str) -> str:
    return f"{prefix}_demo_{secrets.token_hex(8)}"
