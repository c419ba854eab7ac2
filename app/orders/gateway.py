"""Stripe, the one place that talks to it: the calls the checkout, the upsells and the refunds make, and
the reading of webhook events. Every failure becomes a `PaymentError` with a message fit for a person.

What works on both real Stripe and localstripe (the stand-in of development and tests, see
../shared/ARCHITECTURE.md) decides the flow: the card is saved with a SetupIntent confirmed by Stripe.js
(`confirmCardSetup`), its PaymentMethod attached to the order's Customer, and every charge is a
PaymentIntent created with `confirm=True` for that customer and card (`off_session=True` for the one-click
offers). When the bank asks for authentication the PaymentIntent is `requires_action` and the page
completes it with `confirmCardPayment(client_secret)`. Refunds carry their reason in metadata (localstripe
refuses Stripe's `reason` parameter).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache

import stripe
from flask import current_app

log = logging.getLogger(__name__)

WEBHOOK_TOLERANCE_SECONDS = 300


class PaymentError(Exception):
    """Stripe refused or could not be reached. `declined` when the card itself was refused;
    `payment_intent` carries the PaymentIntent (id, client_secret) when the customer can still complete it."""

    def __init__(self, message: str, code: str = "", declined: bool = False, payment_intent: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.declined = declined
        self.payment_intent = payment_intent


@dataclass(frozen=True)
class Charge:
    """What a PaymentIntent came to: succeeded, requires_action (client_secret for the page), or else."""

    payment_intent_id: str
    status: str
    client_secret: str
    charge_id: str | None
    amount: int
    payment_method_id: str | None
    failure_message: str = ""


def configured() -> bool:
    config = current_app.config
    return bool(config.get("STRIPE_SECRET_KEY") and config.get("STRIPE_PUBLISHABLE_KEY"))


def publishable_key() -> str:
    return current_app.config.get("STRIPE_PUBLISHABLE_KEY") or ""


def stripe_js_url() -> str:
    return current_app.config["STRIPE_JS_URL"]


@lru_cache(maxsize=4)
def _client_for(secret_key: str, api_base: str, timeout: int) -> stripe.StripeClient:
    return stripe.StripeClient(secret_key, base_addresses={"api": api_base}, max_network_retries=1,
                               http_client=stripe.RequestsClient(timeout=timeout))


def client() -> stripe.StripeClient:
    config = current_app.config
    if not configured():
        raise PaymentError("Payments are not configured for this site yet.", code="not_configured")
    return _client_for(config["STRIPE_SECRET_KEY"], config["STRIPE_API_BASE"], config["STRIPE_TIMEOUT"])


def _failure(error: stripe.StripeError) -> PaymentError:
    if isinstance(error, stripe.CardError):
        payment_intent = getattr(error.error, "payment_intent", None) if error.error else None
        if payment_intent is not None and hasattr(payment_intent, "to_dict"):
            payment_intent = payment_intent.to_dict()
        return PaymentError(error.user_message or "Your card was declined.", code=error.code or "card_declined",
                            declined=True, payment_intent=payment_intent)
    log.warning("stripe call failed: %s", error)
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return PaymentError("The payment service could not be reached. Nothing was charged; please try again.",
                            code="unavailable")
    return PaymentError("The payment could not be processed. Nothing was charged; please try again.",
                        code=getattr(error, "code", "") or "stripe_error")


def _call(method, params: dict, idempotency_key: str | None = None):
    options = {"idempotency_key": idempotency_key} if idempotency_key else None
    try:
        return method(params, options) if options else method(params)
    except stripe.StripeError as error:
        raise _failure(error) from error


def _id(value) -> str | None:
    """An expandable field: Stripe gives an id, localstripe the whole object."""
    if value is None or isinstance(value, str):
        return value
    return _field(value, "id")


def _field(obj, name: str):
    """A field of a Stripe object, None when absent (stripe 16's objects are not dicts: no .get())."""
    try:
        return obj[name]
    except (KeyError, TypeError):
        return None


def create_customer(email: str, name: str, idempotency_key: str) -> str:
    customer = _call(client().v1.customers.create, {"email": email, "name": name}, idempotency_key)
    return customer.id


def start_card_setup(customer_id: str, idempotency_key: str) -> tuple[str, str]:
    """A SetupIntent saving a card for later charges: (id, client_secret for confirmCardSetup)."""
    intent = _call(client().v1.setup_intents.create, {"customer": customer_id, "usage": "off_session"},
                   idempotency_key)
    return intent.id, intent.client_secret


def saved_card(setup_intent_id: str, customer_id: str) -> str:
    """The PaymentMethod of a confirmed SetupIntent, attached to the customer (Stripe attaches it itself;
    localstripe does not). Raises PaymentError if the card was not saved."""
    api = client().v1
    intent = _retrieve(api.setup_intents, setup_intent_id)
    if intent.status != "succeeded" or not intent.payment_method:
        raise PaymentError("Your card could not be saved. Check its details and try again.", code="setup_incomplete")
    if _id(getattr(intent, "customer", None)) not in (None, customer_id):
        raise PaymentError("This card belongs to another checkout.", code="wrong_customer")
    method_id = _id(intent.payment_method)
    method = _retrieve(api.payment_methods, method_id)
    if not _id(getattr(method, "customer", None)):
        _call(lambda params: api.payment_methods.attach(method_id, params), {"customer": customer_id})
    return method_id


def _retrieve(service, object_id: str):
    try:
        return service.retrieve(object_id)
    except stripe.StripeError as error:
        raise _failure(error) from error


def _charge_of(intent) -> Charge:
    error = _field(intent, "last_payment_error")
    return Charge(payment_intent_id=intent.id, status=intent.status, client_secret=intent.client_secret or "",
                  charge_id=_id(_field(intent, "latest_charge")), amount=intent.amount,
                  payment_method_id=_id(_field(intent, "payment_method")),
                  failure_message=(_field(error, "message") if error else None) or "")


def charge(*, amount: int, currency: str, customer_id: str, payment_method_id: str, off_session: bool,
           idempotency_key: str, metadata: dict) -> Charge:
    """Charge the saved card now. A declined card raises PaymentError(declined=True); a card that needs the
    bank's authentication comes back `requires_action` (or, on Stripe for an off-session charge, as a
    PaymentError with code authentication_required carrying the PaymentIntent to confirm on session)."""
    params = {"amount": amount, "currency": currency, "customer": customer_id, "payment_method": payment_method_id,
              "confirm": True, "metadata": metadata, "payment_method_types": ["card"]}
    if off_session:
        params["off_session"] = True
    intent = _call(client().v1.payment_intents.create, params, idempotency_key)
    return _charge_of(intent)


def payment_intent(payment_intent_id: str) -> Charge:
    return _charge_of(_retrieve(client().v1.payment_intents, payment_intent_id))


def refund(*, payment_intent_id: str, amount: int, reason: str, idempotency_key: str, metadata: dict) -> str:
    """Refund `amount` of a payment; returns the Stripe refund id."""
    created = _call(client().v1.refunds.create,
                    {"payment_intent": payment_intent_id, "amount": amount, "metadata": {**metadata, "reason": reason}},
                    idempotency_key)
    return created.id


def read_event(payload: bytes, signature: str) -> dict:
    """The event of a webhook request, as a dict, once its signature is verified (the stripe library's own
    check, 5-minute tolerance; no Event object is built: the JSON is read once). Raises ValueError (not
    UTF-8 or not JSON) or stripe.SignatureVerificationError (bad or old signature, or no webhook secret)."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise stripe.SignatureVerificationError("No webhook secret is configured.", signature)
    text = payload.decode("utf-8")
    stripe.WebhookSignature.verify_header(text, signature, secret, WEBHOOK_TOLERANCE_SECONDS)
    return json.loads(text)
