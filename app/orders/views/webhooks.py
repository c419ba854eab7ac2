"""Stripe's webhook: POST /api/v1/webhooks/stripe. Stripe signs its requests (Stripe-Signature) instead of
carrying a session, an API key or a CSRF token; the answer is JSON, errors in the app's one error format."""
from flask import jsonify, request

from app.core.errors import ServiceError
from app.core.web import json_error
from app.extensions import csrf
from app.orders import bp
from app.orders.services import webhooks


@bp.route("/api/v1/webhooks/stripe", methods=["POST"])
@csrf.exempt
def stripe_webhook():
    try:
        answer = webhooks.receive(request.get_data(cache=False), request.headers.get("Stripe-Signature", ""))
    except ServiceError as error:
        return json_error(error.status, error.message, error.fields, error.code)
    return jsonify(answer)
