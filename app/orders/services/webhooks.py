"""Stripe webhook events: verified, stored once by their id, and acted on whatever their order of arrival.

`receive(payload, signature)` is all the view calls: the event row is INSERTed (ON CONFLICT DO NOTHING: a
second delivery of the same id, even one arriving at the same moment, finds it and changes nothing), and a
job (`tasks.handle_stripe_event` -> `process`) acts on it, so Stripe gets its answer at once, as it asks.
`process` locks the row, acts, and keeps the outcome on it in the same transaction: run twice, it does
nothing the second time. If handling fails (Stripe unreachable when we ask for the current PaymentIntent),
everything is rolled back and the job is retried (RQ's retries).

Events can arrive in any order and late: a payment_intent.payment_failed or .requires_action may describe a
PaymentIntent that has succeeded since. For those the current PaymentIntent is fetched from Stripe and its
status is what we act on. `succeeded` is final for a PaymentIntent, so a .succeeded event is acted on as it
is (no call to Stripe); and app/orders/services/payments.py never moves a settled payment backwards.
"""
from __future__ import annotations

import stripe
from sqlalchemy import bindparam, or_, select, text

from app.core.db import JSONType, UTCDateTime, utcnow
from app.core.errors import ServiceError
from app.core.formatting import format_money
from app.extensions import db
from app.orders import gateway
from app.orders.models import REFUND_REASONS, Order, Payment, Refund, StripeEvent
from app.orders.services import orders, payments

HANDLED = ("payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.requires_action",
           "charge.refunded", "charge.dispute.created")
FAILED_INTENT_STATUSES = ("requires_payment_method", "canceled")


class BadEvent(ServiceError):
    """Not a genuine, fresh Stripe event: bad, missing or old signature, or not JSON."""

    status = 400
    code = "bad_signature"


class RetryLater(ServiceError):
    """Handling needed Stripe, which could not be reached: nothing was kept; Stripe sends the event again."""

    status = 503
    code = "unavailable"


def verify(payload: bytes, signature: str) -> dict:
    """The event as a dict, if Stripe signed it within the tolerance (5 minutes); BadEvent otherwise."""
    if not signature:
        raise BadEvent("The Stripe-Signature header is missing.", field="Stripe-Signature")
    try:
        event = gateway.read_event(payload, signature)
    except stripe.SignatureVerificationError as error:
        raise BadEvent(f"The signature does not verify: {error.user_message or error}",
                       field="Stripe-Signature") from error
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        # not UTF-8 or not JSON (ValueError), or JSON the stripe library cannot make an event of (a list...)
        raise BadEvent("The body is not a JSON Stripe event.") from error
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise BadEvent("The body is not a Stripe event (no id or type).")
    if not isinstance((event.get("data") or {}).get("object"), dict):
        raise BadEvent("The event has no data.object.")
    return event


def receive(payload: bytes, signature: str) -> dict:
    """Verify a webhook delivery and store its event once, then hand it to a job (`tasks.handle_stripe_event`):
    Stripe is answered at once, as it asks, and the work is done (and retried) by the workers. A second
    delivery of the same id answers `duplicate` and queues nothing. An event of a type Leadforge does not
    handle is stored as ignored. Returns the answer's JSON body."""
    event = verify(payload, signature)
    handled = event["type"] in HANDLED
    if not _store_once(event, "" if handled else "ignored: not a type Leadforge handles"):
        db.session.rollback()
        return {"received": True, "duplicate": True}
    db.session.commit()
    if handled:
        from app.core import jobs
        from app.orders import tasks

        jobs.enqueue(tasks.handle_stripe_event, event["id"][:80])
    return {"received": True, "duplicate": False}


def process(event_id: str) -> str:
    """Act on a stored event, once: its row is locked while it is handled and keeps the outcome, so a second
    run (a retry, two workers) finds it done. Stripe unreachable: RetryLater, nothing kept, the job is
    retried. Returns the outcome."""
    row = db.session.execute(select(StripeEvent).where(StripeEvent.id == event_id).with_for_update()
                             ).scalar_one_or_none()
    if row is None or row.outcome:
        db.session.rollback()
        return row.outcome if row is not None else "unknown event"
    published: list = []
    noted: dict = {}
    try:
        outcome = handle(row.payload, noted, published)[:200] or "done"
    except gateway.PaymentError as error:
        db.session.rollback()
        raise RetryLater(f"Stripe could not be reached to handle {row.type}; the job is tried again.") from error
    row.outcome, row.account_id, row.order_id = outcome, noted.get("account_id"), noted.get("order_id")
    orders.commit(published)
    return outcome


def _store_once(event: dict, outcome: str) -> bool:
    """INSERT the event's row unless its id is there: False for a second delivery. A delivery of the same id
    still being handled holds the key until it commits (then this one finds it) or rolls back (then this
    one is the first). One statement (ON CONFLICT DO NOTHING) rather than a savepoint and an IntegrityError:
    the same guarantee in a third of the round trips."""
    values = {"id": event["id"][:80], "type": event["type"][:80], "payload": event, "outcome": outcome,
              "received_at": utcnow()}
    return db.session.execute(_INSERT_ONCE, values).scalar() is not None


# Plain SQL that PostgreSQL and SQLite both speak: the insert() construct with on_conflict_do_nothing was
# compiled again at every delivery (0.8 ms of the endpoint's ~5).
_INSERT_ONCE = text(
    "INSERT INTO stripe_events (id, type, payload, outcome, received_at) "
    "VALUES (:id, :type, :payload, :outcome, :received_at) ON CONFLICT (id) DO NOTHING RETURNING id"
).bindparams(bindparam("payload", type_=JSONType), bindparam("received_at", type_=UTCDateTime))


def handle(event: dict, noted: dict, published: list) -> str:
    """Act on a stored event; returns what was done (kept on its row, with the account and order in `noted`)."""
    kind = event["type"]
    obj = event["data"]["object"]
    if kind.startswith("payment_intent.") and kind in HANDLED:
        return _payment_intent(kind, obj, noted, published)
    if kind == "charge.refunded":
        return _charge_refunded(obj, noted, published)
    if kind == "charge.dispute.created":
        return _dispute_created(obj, noted, published)
    return "ignored: not a type Leadforge handles"


def _note(noted: dict, order: Order) -> None:
    noted.update(account_id=order.account_id, order_id=order.id)


def _locked(payment_filter) -> tuple[Payment, Order] | tuple[None, None]:
    """The payment matching `payment_filter` and its order, the order locked first (SELECT ... FOR UPDATE, so
    requests acting on one order take turns) and the payment read after the lock (what another request
    committed meanwhile is seen). Two statements."""
    order = db.session.execute(
        select(Order).where(Order.id == select(Payment.order_id).where(payment_filter).limit(1).scalar_subquery())
        .with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()
    if order is None:
        return None, None
    payment = db.session.execute(select(Payment).where(payment_filter, Payment.order_id == order.id).limit(1)
                                 .execution_options(populate_existing=True)).scalar_one()
    return payment, order


# ---- payment intents ---------------------------------------------------------------------------------

def _payment_intent(kind: str, intent: dict, noted: dict, published: list) -> str:
    intent_id = intent.get("id")
    if not isinstance(intent_id, str):
        return "ignored: no PaymentIntent id"
    payment, order = _locked(Payment.stripe_payment_intent_id == intent_id)
    if payment is None:
        return "ignored: unknown PaymentIntent"
    _note(noted, order)
    if payment.status in payments.SETTLED:
        return f"nothing to do: payment already {payment.status}"
    if kind == "payment_intent.succeeded":
        status, charge_id, message = "succeeded", _id(intent.get("latest_charge")), ""
    else:  # the event may be stale: act on the PaymentIntent as it is now
        current = gateway.payment_intent(intent_id)
        status, charge_id, message = current.status, current.charge_id, current.failure_message
    if status == "succeeded":
        changed = payments.succeeded(payment, charge_id, published)
    elif status == "requires_action":
        changed = payments.requires_action(payment)
    elif status in FAILED_INTENT_STATUSES:
        error = intent.get("last_payment_error") or {}
        changed = payments.failed(payment, message or error.get("message") or "The payment failed.", published)
    else:
        return f"nothing to do: PaymentIntent is {status}"
    return f"payment {status}" if changed else f"nothing to do: payment already {payment.status}"


def _id(value) -> str | None:
    """An expandable field: an id, or the object with its id."""
    if value is None or isinstance(value, str):
        return value
    return value.get("id") if isinstance(value, dict) else None


def _charge_filter(charge_id, intent_id):
    """The payments of a charge: by its id, or by its PaymentIntent's. None when the object names neither."""
    conditions = []
    if isinstance(charge_id, str) and charge_id:
        conditions.append(Payment.stripe_charge_id == charge_id)
    if isinstance(intent_id, str) and intent_id:
        conditions.append(Payment.stripe_payment_intent_id == intent_id)
    return or_(*conditions) if conditions else None


def _locked_charge(charge_id, intent_id) -> tuple[Payment, Order] | tuple[None, None]:
    condition = _charge_filter(charge_id, intent_id)
    return _locked(condition) if condition is not None else (None, None)


# ---- refunds made in Stripe's dashboard ----------------------------------------------------------------

def _charge_refunded(charge: dict, noted: dict, published: list) -> str:
    payment, order = _locked_charge(charge.get("id"), _id(charge.get("payment_intent")))
    if payment is None:
        return "ignored: unknown charge"
    _note(noted, order)
    if payment.stripe_charge_id is None and isinstance(charge.get("id"), str):
        payment.stripe_charge_id = charge["id"]
    listed = [refund for refund in ((charge.get("refunds") or {}).get("data") or [])
              if isinstance(refund, dict) and refund.get("status") in ("succeeded", "pending")]
    known = set(db.session.execute(select(Refund.stripe_refund_id).where(
        Refund.stripe_refund_id.in_([refund.get("id") for refund in listed]))).scalars()) if listed else set()
    added = 0
    for refund in listed:
        if refund.get("id") in known or not isinstance(refund.get("amount"), int) or refund["amount"] <= 0:
            continue
        reason = (refund.get("metadata") or {}).get("reason") or refund.get("reason") or "other"
        made = record_external_refund(order, payment, refund["amount"], refund["id"], reason, published,
                                      commit=False)
        added += made.amount_cents if made else 0
    # Without the refunds list (newer API versions leave it out of the charge), what Stripe says was refunded
    # beyond what we know of is recorded as one refund without an id.
    total = charge.get("amount_refunded")
    if isinstance(total, int) and total > payment.refunded_cents:
        missing = total - payment.refunded_cents
        made = record_external_refund(order, payment, missing, None, "other", published, commit=False)
        added += made.amount_cents if made else 0
    if not added:
        return "nothing to do: refunds already recorded"
    return f"recorded {format_money(added, payment.currency)} refunded in Stripe"


def record_external_refund(order: Order, payment: Payment, amount_cents: int, stripe_refund_id: str | None,
                           reason: str, published: list, commit: bool = True) -> Refund | None:
    """A refund made at Stripe outside Leadforge (its dashboard): recorded on the payment, the order (and the
    item, when the payment paid for exactly one), the order's status and history and the contact's timeline.
    The caller holds the order's lock (orders.locked). Never more than what was paid is counted as refunded."""
    amount_cents = min(amount_cents, payment.amount_cents - payment.refunded_cents)
    if amount_cents <= 0:
        return None
    paid_items = [item for item in order.items if item.payment_id == payment.id]
    item = paid_items[0] if len(paid_items) == 1 else None
    refund = Refund(account_id=order.account_id, order_id=order.id, payment_id=payment.id,
                    item_id=item.id if item else None, amount_cents=amount_cents,
                    reason=reason if reason in REFUND_REASONS else "other",
                    note="Refunded in Stripe's dashboard", stripe_refund_id=stripe_refund_id, status="succeeded")
    db.session.add(refund)
    payment.refunded_cents += amount_cents  # its status stays succeeded, as with refunds.create
    if item is not None:
        item.refunded_cents = min(item.amount_cents, item.refunded_cents + amount_cents)
    order.refunded_cents = min(order.total_cents, order.refunded_cents + amount_cents)
    orders.log(order, "refund.external", f"Refund of {format_money(amount_cents, payment.currency)} made in "
                                         f"Stripe's dashboard", stripe_refund_id=stripe_refund_id)
    status = "refunded" if order.refunded_cents >= order.total_cents else "partially_refunded"
    if orders.can_change(order, status):
        orders.change_status(order, status, published)
    if commit:
        orders.commit(published)
    return refund


# ---- disputes --------------------------------------------------------------------------------------------

def _dispute_created(dispute: dict, noted: dict, published: list) -> str:
    payment, order = _locked_charge(_id(dispute.get("charge")), _id(dispute.get("payment_intent")))
    if payment is None:
        return "ignored: unknown charge"
    _note(noted, order)
    reason = str(dispute.get("reason") or "unknown").replace("_", " ")
    amount = dispute.get("amount") if isinstance(dispute.get("amount"), int) else payment.amount_cents
    orders.log(order, "charge.dispute.created", f"Dispute opened: {reason}", dispute=dispute.get("id"),
               amount_cents=amount)
    published.append(("order.disputed", {**orders.payload(order), "dispute_id": dispute.get("id"),
                                         "reason": dispute.get("reason"), "amount_cents": amount}))
    return f"dispute opened: {reason}"
