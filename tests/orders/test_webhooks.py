"""POST /api/v1/webhooks/stripe: signed payloads (the stripe library's own signing code), events stored once,
handled in any order, against PaymentIntents that really exist at localstripe."""
import json
import secrets
import time

import pytest
import requests
import stripe
from sqlalchemy import func, select

from app.extensions import db
from app.orders import gateway
from app.orders.models import Order, OrderEvent, Payment, Refund, StripeEvent
from tests.conftest import STRIPE_WEBHOOK_SECRET, run_jobs
from tests.factories import make_contact, make_order, make_product

URL = "/api/v1/webhooks/stripe"
CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2030", "cvc": "123"}


# ---- helpers --------------------------------------------------------------------------------------------

def confirm_setup(localstripe_url: str, setup_intent_id: str, client_secret: str, card: dict = CARD) -> None:
    """What localstripe's fake Stripe.js does for confirmCardSetup."""
    response = requests.post(f"{localstripe_url}/v1/setup_intents/{setup_intent_id}/confirm", timeout=10, json={
        "key": "pk_test_leadforge", "client_secret": client_secret,
        "payment_method_data": {"type": "card", "card": card}})
    assert response.status_code == 200, response.text


def real_order(account, localstripe_url: str, amount_cents: int = 4900, charge: bool = True, **order_fields):
    """A pending order whose checkout payment is a real PaymentIntent at localstripe (confirmed with a test
    card when `charge`): (order, payment, gateway.Charge)."""
    _, price = make_product(account, "Masterclass", amount_cents)
    order = make_order(account, [(price, "main")], status="pending", **order_fields)
    key = order.checkout_key
    customer = gateway.create_customer(order.email, order.customer_name, f"{key}:customer")
    setup_id, client_secret = gateway.start_card_setup(customer, f"{key}:setup")
    confirm_setup(localstripe_url, setup_id, client_secret)
    method = gateway.saved_card(setup_id, customer)
    result = gateway.charge(amount=order.total_cents, currency=order.currency, customer_id=customer,
                            payment_method_id=method, off_session=False, idempotency_key=f"{key}:checkout",
                            metadata={"order": str(order.number)})
    payment = Payment(account_id=account.id, order_id=order.id, purpose="checkout", amount_cents=order.total_cents,
                      currency=order.currency, status="created", stripe_payment_intent_id=result.payment_intent_id)
    db.session.add(payment)
    db.session.flush()
    order.items[0].payment_id = payment.id
    order.stripe_customer_id, order.stripe_payment_method_id = customer, method
    db.session.commit()
    return order, payment, result


def event(kind: str, obj: dict, event_id: str | None = None) -> dict:
    return {"id": event_id or f"evt_{secrets.token_hex(12)}", "object": "event", "type": kind, "livemode": False,
            "created": int(time.time()), "api_version": "2024-06-20", "data": {"object": obj}}


def deliver(client, body, timestamp: int | None = None, secret: str = STRIPE_WEBHOOK_SECRET, signature=None,
            run: bool = True):
    payload = body if isinstance(body, str | bytes) else json.dumps(body)
    if signature is None:
        text = payload.decode() if isinstance(payload, bytes) else payload
        signature = stripe.WebhookSignature.generate_signature_header(text, secret, timestamp=timestamp)
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["Stripe-Signature"] = signature
    response = client.post(URL, data=payload, headers=headers)
    if run:
        run_jobs(client.application)  # the event's job, as a worker runs it
    return response


def intent_object(payment: Payment, status: str, **extra) -> dict:
    return {"id": payment.stripe_payment_intent_id, "object": "payment_intent", "amount": payment.amount_cents,
            "currency": payment.currency, "status": status, **extra}


def stored(event_id: str) -> StripeEvent | None:
    db.session.expire_all()
    return db.session.get(StripeEvent, event_id)


def fresh(order: Order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def named(published, name: str) -> list:
    return [payload for event_name, payload in published if event_name == name]


# ---- verification -------------------------------------------------------------------------------------

def test_bad_signature_is_refused(client, stripe_config):
    body = event("payment_intent.succeeded", {"id": "pi_nothing"})
    response = deliver(client, body, secret="whsec_someone_else")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_signature"
    assert stored(body["id"]) is None


def test_missing_signature_is_refused(client, stripe_config):
    body = event("payment_intent.succeeded", {"id": "pi_nothing"})
    response = deliver(client, body, signature="")
    assert response.status_code == 400
    assert "Stripe-Signature" in response.get_json()["error"]["fields"]
    assert deliver(client, body, signature="t=1,v1=abc").status_code == 400
    assert stored(body["id"]) is None


def test_old_timestamp_is_refused(client, stripe_config):
    body = event("payment_intent.succeeded", {"id": "pi_nothing"})
    response = deliver(client, body, timestamp=int(time.time()) - 600)
    assert response.status_code == 400
    assert stored(body["id"]) is None
    assert deliver(client, body, timestamp=int(time.time()) - 200).status_code == 200  # within 5 minutes


@pytest.mark.parametrize("payload", ["not json", "[]", "{}", '{"id": "evt_1", "type": "x"}', b"\xff\xfe"])
def test_a_signed_body_that_is_no_event_is_refused(client, stripe_config, payload):
    if isinstance(payload, bytes):
        signature = stripe.WebhookSignature.generate_signature_header(payload.decode("latin-1"), STRIPE_WEBHOOK_SECRET)
        response = deliver(client, payload, signature=signature)
    else:
        response = deliver(client, payload)
    assert response.status_code == 400
    assert response.mimetype == "application/json"


def test_without_a_webhook_secret_every_event_is_refused(client, app, stripe_config):
    app.config["STRIPE_WEBHOOK_SECRET"] = None
    response = deliver(client, event("payment_intent.succeeded", {"id": "pi_nothing"}))
    assert response.status_code == 400


def test_no_csrf_token_needed(client, stripe_config, csrf_enabled):
    body = event("customer.created", {"id": "cus_123", "object": "customer"})
    assert deliver(client, body).status_code == 200


# ---- storage: once per id ---------------------------------------------------------------------------------

def test_unknown_type_is_stored_and_ignored(client, stripe_config):
    body = event("customer.created", {"id": "cus_123", "object": "customer"})
    response = deliver(client, body)
    assert response.status_code == 200
    assert response.get_json()["received"] is True and response.get_json()["duplicate"] is False
    row = stored(body["id"])
    assert row.type == "customer.created" and row.payload["data"]["object"]["id"] == "cus_123"
    assert row.outcome.startswith("ignored") and row.account_id is None


def test_unknown_payment_intent_is_stored_and_ignored(client, stripe_config):
    body = event("payment_intent.succeeded", {"id": "pi_not_ours", "status": "succeeded"})
    assert deliver(client, body).status_code == 200
    assert stored(body["id"]).outcome == "ignored: unknown PaymentIntent"


def test_same_event_twice_is_processed_once(client, owner, stripe_config, published):
    user, account = owner
    contact = make_contact(account, user, email="buyer@example.com", first_name="Bea")
    order, payment, result = real_order(account, stripe_config, contact_id=contact.id)
    assert result.status == "succeeded"
    body = event("payment_intent.succeeded", intent_object(payment, "succeeded", latest_charge=result.charge_id))
    first = deliver(client, body)
    assert first.status_code == 200 and first.get_json()["duplicate"] is False
    second = deliver(client, body)
    assert second.status_code == 200
    assert second.get_json() == {"received": True, "duplicate": True}
    order = fresh(order)
    assert order.status == "paid" and order.paid_at is not None
    assert order.payments[0].status == "succeeded" and order.payments[0].stripe_charge_id == result.charge_id
    assert len(named(published, "order.paid")) == 1
    assert db.session.scalar(select(func.count()).select_from(OrderEvent).where(
        OrderEvent.order_id == order.id, OrderEvent.kind == "payment.succeeded")) == 1
    assert db.session.scalar(select(func.count()).select_from(StripeEvent).where(StripeEvent.id == body["id"])) == 1
    row = stored(body["id"])
    assert row.account_id == account.id and row.order_id == order.id and row.outcome == "payment succeeded"


# ---- any order ------------------------------------------------------------------------------------------

def test_requires_action_after_succeeded_leaves_the_order_paid(client, owner, stripe_config, published):
    _, account = owner
    order, payment, result = real_order(account, stripe_config)
    assert deliver(client, event("payment_intent.succeeded", intent_object(payment, "succeeded"))).status_code == 200
    late = deliver(client, event("payment_intent.requires_action", intent_object(payment, "requires_action")))
    assert late.status_code == 200
    order = fresh(order)
    assert order.status == "paid" and order.payments[0].status == "succeeded"
    assert len(named(published, "order.paid")) == 1


def test_a_stale_event_is_read_against_the_payment_intent_as_it_is_now(client, owner, stripe_config, published):
    """requires_action and payment_failed arrive first, but the PaymentIntent has succeeded since: Stripe's
    current answer wins, and the order is paid."""
    _, account = owner
    order, payment, _ = real_order(account, stripe_config)
    response = deliver(client, event("payment_intent.requires_action", intent_object(payment, "requires_action")))
    assert response.status_code == 200
    assert fresh(order).status == "paid"
    other, other_payment, _ = real_order(account, stripe_config)
    failed = intent_object(other_payment, "requires_payment_method",
                           last_payment_error={"message": "Your card was declined."})
    assert deliver(client, event("payment_intent.payment_failed", failed)).status_code == 200
    assert fresh(other).status == "paid"
    assert not named(published, "order.failed")


def test_payment_failed_fails_the_order(client, owner, stripe_config, published, monkeypatch):
    _, account = owner
    order, payment, result = real_order(account, stripe_config)
    declined = gateway.Charge(payment_intent_id=payment.stripe_payment_intent_id, status="requires_payment_method",
                              client_secret="", charge_id=None, amount=payment.amount_cents, payment_method_id=None,
                              failure_message="Your card was declined.")
    monkeypatch.setattr(gateway, "payment_intent", lambda intent_id: declined)  # as Stripe would say after a decline
    body = event("payment_intent.payment_failed", intent_object(payment, "requires_payment_method"))
    assert deliver(client, body).status_code == 200
    order = fresh(order)
    assert order.status == "failed" and order.failure_message == "Your card was declined."
    assert [p["order_id"] for p in named(published, "order.failed")] == [str(order.id)]
    # ...then the customer pays after all: the succeeded event pays the failed order
    monkeypatch.undo()
    assert deliver(client, event("payment_intent.succeeded", intent_object(payment, "succeeded"))).status_code == 200
    assert fresh(order).status == "paid"


def test_stripe_unreachable_keeps_nothing_and_the_job_is_tried_again(client, owner, stripe_config, monkeypatch):
    from app.orders.services import webhooks

    _, account = owner
    order, payment, _ = real_order(account, stripe_config)

    def unreachable(intent_id):
        raise gateway.PaymentError("unreachable", code="unavailable")

    monkeypatch.setattr(gateway, "payment_intent", unreachable)
    body = event("payment_intent.requires_action", intent_object(payment, "requires_action"))
    assert deliver(client, body).status_code == 200  # Stripe is answered; the job fails and is retried
    assert stored(body["id"]).outcome == "" and fresh(order).status == "pending"
    with pytest.raises(webhooks.RetryLater):
        webhooks.process(body["id"])
    monkeypatch.undo()
    assert webhooks.process(body["id"]) == "payment succeeded"  # the retry, once Stripe answers
    assert fresh(order).status == "paid"
    assert webhooks.process(body["id"]) == "payment succeeded"  # a third run does nothing more
    assert [e.kind for e in fresh(order).events].count("payment.succeeded") == 1


# ---- refunds made in Stripe, disputes -----------------------------------------------------------------------

def test_a_refund_made_in_the_stripe_dashboard_is_recorded(client, owner, stripe_config, published):
    user, account = owner
    contact = make_contact(account, user, email="buyer@example.com", first_name="Bea")
    order, payment, result = real_order(account, stripe_config, amount_cents=5000, contact_id=contact.id)
    deliver(client, event("payment_intent.succeeded", intent_object(payment, "succeeded",
                                                                    latest_charge=result.charge_id)))
    # the refund, made at Stripe (the dashboard), not through Leadforge
    refund = stripe.StripeClient("sk_test_leadforge", base_addresses={"api": stripe_config}).v1.refunds.create(
        {"payment_intent": payment.stripe_payment_intent_id, "amount": 1500})
    charge = {"id": result.charge_id, "object": "charge", "amount": 5000, "amount_refunded": 1500,
              "payment_intent": payment.stripe_payment_intent_id, "refunded": False,
              "refunds": {"object": "list", "data": [{"id": refund.id, "object": "refund", "amount": 1500,
                                                      "status": "succeeded", "reason": None}]}}
    body = event("charge.refunded", charge)
    assert deliver(client, body).status_code == 200
    assert deliver(client, event("charge.refunded", charge)).status_code == 200  # another event, same refund
    order = fresh(order)
    assert order.status == "partially_refunded" and order.refunded_cents == 1500
    rows = db.session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
    assert [(r.stripe_refund_id, r.amount_cents, r.item_id) for r in rows] == [(refund.id, 1500, order.items[0].id)]
    assert order.payments[0].refunded_cents == 1500 and order.items[0].refunded_cents == 1500
    assert len(named(published, "order.refunded")) == 1
    assert stored(body["id"]).order_id == order.id
    # the rest, later, with the list left out of the charge (newer API versions): amount_refunded tells
    rest = {**charge, "amount_refunded": 5000, "refunded": True, "refunds": None}
    assert deliver(client, event("charge.refunded", rest)).status_code == 200
    order = fresh(order)
    assert order.status == "refunded" and order.refunded_cents == 5000
    assert sorted(r.amount_cents for r in order.refunds) == [1500, 3500]


def test_a_dispute_is_noted_on_its_order(client, owner, stripe_config, published):
    _, account = owner
    order, payment, result = real_order(account, stripe_config)
    deliver(client, event("payment_intent.succeeded", intent_object(payment, "succeeded",
                                                                    latest_charge=result.charge_id)))
    dispute = {"id": "dp_123", "object": "dispute", "amount": payment.amount_cents, "charge": result.charge_id,
               "reason": "product_not_received", "status": "needs_response"}
    body = event("charge.dispute.created", dispute)
    assert deliver(client, body).status_code == 200
    order = fresh(order)
    messages = [e.message for e in order.events if e.kind == "charge.dispute.created"]
    assert messages == ["Dispute opened: product not received"]
    assert [p["dispute_id"] for p in named(published, "order.disputed")] == ["dp_123"]
    assert stored(body["id"]).order_id == order.id
    # found by its PaymentIntent too (a dispute naming no known charge)
    by_intent = {**dispute, "id": "dp_456", "charge": "ch_unknown", "payment_intent": payment.stripe_payment_intent_id}
    assert deliver(client, event("charge.dispute.created", by_intent)).status_code == 200
    assert len([e for e in fresh(order).events if e.kind == "charge.dispute.created"]) == 2
    unknown = event("charge.dispute.created", {**dispute, "charge": "ch_unknown"})
    response = deliver(client, unknown)
    assert response.status_code == 200 and stored(unknown["id"]).outcome == "ignored: unknown charge"


def test_two_deliveries_at_once_are_processed_once(app, owner, stripe_config, published):
    """Both in flight together: the second waits on the first's stored id, then finds it."""
    import threading

    _, account = owner
    order, payment, result = real_order(account, stripe_config)
    body = event("payment_intent.succeeded", intent_object(payment, "succeeded", latest_charge=result.charge_id))
    start, answers = threading.Barrier(4), []

    def send():
        with app.app_context():  # each thread its own context and database session, as in a server
            client = app.test_client()
            start.wait()
            response = deliver(client, body, run=False)
            answers.append((response.status_code, response.get_json().get("duplicate")))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [(200, False), (200, True), (200, True), (200, True)]
    run_jobs(app)  # one job was queued, by the first
    assert fresh(order).status == "paid"
    assert len(named(published, "order.paid")) == 1
