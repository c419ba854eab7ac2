"""Provider callbacks: the machine addresses SMS providers report delivery to, and SendGrid posts its Event
Webhook to. No session, no CSRF token, no API key: the address's token names the connection and the provider's
own signature proves the sender (`app.integrations.sms`, `app.integrations.callbacks`). Answers are JSON in
the app's one error format: 404 for an unknown address, 403 for a bad signature, 400 for a body that cannot be
read; a report about a message the connection never sent is a 200 that changes nothing (providers retry
anything else).

Rate limit: per address (token), PROVIDER_CALLBACK_RATE_LIMIT (default 600 a minute). Generous on purpose:
providers do not all retry a refused report (Twilio does not), and SendGrid batches its events, so a flood
through a real address is what it guards against; a made-up token costs one HMAC check and no query.
"""
from flask import current_app, jsonify, request

from app.core.errors import ServiceError
from app.core.web import json_error
from app.extensions import csrf, limiter
from app.integrations import bp, callbacks, sms

DEFAULT_RATE_LIMIT = "600 per minute"  # PROVIDER_CALLBACK_RATE_LIMIT's default (app/config.py)


def _rate_limit() -> str:
    return current_app.config.get("PROVIDER_CALLBACK_RATE_LIMIT") or DEFAULT_RATE_LIMIT


def _rate_key() -> str:
    return f"provider-callback:{request.endpoint}:{(request.view_args or {}).get('token', '')}"


def _called_url() -> str:
    """The URL as the provider called it, which is what Twilio, Plivo and MessageBird sign: the address we gave
    it (BASE_URL + path, so a proxy in front changes nothing) with the query it came with."""
    query = request.query_string.decode("utf-8", "replace")
    return callbacks.absolute(request.path) + (f"?{query}" if query else "")


def _answer(receive):
    try:
        outcome = receive()
    except ServiceError as error:
        return json_error(error.status, error.message, error.fields, error.code)
    return jsonify({"ok": True, "outcome": outcome})


@bp.route("/api/v1/hooks/sms/<token>", methods=["GET", "POST"])  # MessageBird reports with a GET
@csrf.exempt
@limiter.limit(_rate_limit, key_func=_rate_key)
def sms_status_callback(token):
    return _answer(lambda: sms.receive_status_callback(
        token, url=_called_url(), headers=dict(request.headers), body=request.get_data(cache=False),
        ip=request.remote_addr))


@bp.route("/api/v1/hooks/sendgrid/<token>", methods=["POST"])
@csrf.exempt
@limiter.limit(_rate_limit, key_func=_rate_key)
def sendgrid_events(token):
    return _answer(lambda: callbacks.receive_sendgrid_events(
        token, headers=dict(request.headers), body=request.get_data(cache=False), ip=request.remote_addr))
