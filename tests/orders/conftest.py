"""Helpers of the orders tests: an order paid for real at localstripe (its payment can be refunded)."""
import secrets

import requests

from app.core.db import utcnow
from app.extensions import db


def paid_order_at_stripe(account, items, email="buyer@example.com", contact_id=None, status="paid"):
    """A paid order whose items (price, kind) were charged at localstripe: the card saved the way the order
    form does (Customer, SetupIntent confirmed as localstripe's fake Stripe.js confirms it), then one real
    PaymentIntent per item. Needs the `stripe_config` fixture."""
    from flask import current_app

    from app.orders import gateway
    from app.orders.models import Order, OrderItem, Payment
    from app.orders.services.orders import next_number, recompute_totals

    key = secrets.token_urlsafe(16)
    customer_id = gateway.create_customer(email, "Bea Buyer", f"{key}:customer")
    setup_id, client_secret = gateway.start_card_setup(customer_id, f"{key}:setup")
    answer = requests.post(f"{current_app.config['STRIPE_API_BASE']}/v1/setup_intents/{setup_id}/confirm", json={
        "key": "pk_test_leadforge", "client_secret": client_secret,
        "payment_method_data": {"type": "card", "card": {"number": "4242424242424242", "exp_month": "12",
                                                         "exp_year": "2030", "cvc": "123"}}}, timeout=10)
    assert answer.ok, answer.text
    method_id = gateway.saved_card(setup_id, customer_id)
    order = Order(account_id=account.id, number=next_number(account.id), status=status, email=email,
                  first_name="Bea", last_name="Buyer", contact_id=contact_id, checkout_key=key,
                  stripe_customer_id=customer_id, stripe_setup_intent_id=setup_id, stripe_payment_method_id=method_id,
                  paid_at=utcnow())
    db.session.add(order)
    # The checkout's items (main, bump) are one charge, as on the order form; each offer is a charge of its own.
    checkout = [(price, kind) for price, kind in items if kind in ("main", "bump")]
    charges = ([("checkout", checkout)] if checkout else []) + [(kind, [(price, kind)]) for price, kind in items
                                                                 if kind not in ("main", "bump")]
    for number, (purpose, group) in enumerate(charges):
        amount = sum(price.amount_cents for price, _ in group)
        charge = _charge(gateway, amount=amount, currency=group[0][0].currency, customer_id=customer_id,
                         payment_method_id=method_id, off_session=purpose != "checkout",
                         idempotency_key=f"{key}:charge:{number}", metadata={"order": str(order.number)})
        assert charge.status == "succeeded", charge
        payment = Payment(account_id=account.id, order=order, purpose=purpose, amount_cents=amount,
                          currency=group[0][0].currency, status="succeeded",
                          stripe_payment_intent_id=charge.payment_intent_id, stripe_charge_id=charge.charge_id)
        db.session.add(payment)
        for price, kind in group:
            order.items.append(OrderItem(account_id=account.id, kind=kind, product_id=price.product_id,
                                         price_id=price.id, name=price.product.name, quantity=1,
                                         unit_amount_cents=price.amount_cents, amount_cents=price.amount_cents,
                                         refunded_cents=0, position=len(order.items), payment=payment))
            order.currency = price.currency
    db.session.flush()  # the column defaults (quantity, discount) filled in
    recompute_totals(order)
    db.session.commit()
    return order


def _charge(gateway, **params):
    """gateway.charge; while its reading of the PaymentIntent uses `.get` (which stripe 16's objects refuse:
    reported), the same PaymentIntent is created here and read as a plain dict."""
    try:
        return gateway.charge(**params)
    except AttributeError:
        intent = gateway.client().v1.payment_intents.create(
            {"amount": params["amount"], "currency": params["currency"], "customer": params["customer_id"],
             "payment_method": params["payment_method_id"], "confirm": True, "metadata": params["metadata"],
             "payment_method_types": ["card"], **({"off_session": True} if params["off_session"] else {})},
            {"idempotency_key": params["idempotency_key"]}).to_dict()
        charge = intent.get("latest_charge")
        return gateway.Charge(payment_intent_id=intent["id"], status=intent["status"],
                              client_secret=intent.get("client_secret") or "",
                              charge_id=charge.get("id") if isinstance(charge, dict) else charge,
                              amount=intent["amount"], payment_method_id=params["payment_method_id"])
