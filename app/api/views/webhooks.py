"""Outgoing webhooks in the JSON API: endpoints (CRUD, secret rotation, a test event), their deliveries (a page
with filters, one with its attempts, redeliver) and the catalogue of event types. Admins only, like the pages.

The signing secret is in the answer of the create and of the rotation only (`secret`); elsewhere an endpoint
shows its hint. (/api/v1/webhooks/stripe is Stripe's own webhook, on the orders blueprint: not this.)
"""
from flask import jsonify

from app.api.base import (
    NO_NUL,
    ApiError,
    api_route,
    check_types,
    id_or_none,
    iso,
    json_body,
    list_response,
    query_filters,
    query_param,
)
from app.api.openapi import SCHEMAS, error_response, json_response, list_of, ref
from app.core.tenancy import current_account, current_actor, get_or_404
from app.integrations import safehttp, webhooks
from app.integrations.models import MESSAGE_STATUSES, WebhookEndpoint, WebhookMessage

TAG = "Webhooks"
ROLE = "admin"
UUID = {"type": "string", "format": "uuid"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
NULLABLE_STRING = {"type": ["string", "null"]}
EVENT_NAMES = {"type": "array", "minItems": 1, "maxItems": len(webhooks.EVENTS),
               "items": {"type": "string", "enum": list(webhooks.EVENTS)},
               "description": "Event types from GET /webhooks/event-types (at least one)."}
URL = {"type": "string", "maxLength": safehttp.MAX_URL_LENGTH, "format": "uri", "pattern": "^https?://",
       "description": "https:// (http:// only for the server's development hosts), no user name or password, "
                      "a host that resolves to public addresses only."}
DESCRIPTION = {"type": ["string", "null"], "maxLength": 200, "pattern": NO_NUL}
ENDPOINT_FIELDS = {"url": URL, "description": DESCRIPTION, "events": EVENT_NAMES,
                   "is_active": {"type": "boolean", "description": "false: nothing is sent to it (waiting "
                                                                   "messages fail); true again clears the reason."}}
ENDPOINT_PROPERTIES = {
    "id": UUID, "url": {"type": "string"}, "description": {"type": "string"},
    "events": {"type": "array", "items": {"type": "string"}}, "is_active": {"type": "boolean"},
    "disabled_reason": NULLABLE_STRING,
    "secret_hint": {"type": "string", "description": "The signing secret's last characters: whsec_••••abcd."},
    "previous_secret_expires_at": {**NULLABLE_TIME, "description": "After a rotation, until when the previous "
                                                                   "secret signs too (a second signature)."},
    "failing_since": {**NULLABLE_TIME, "description": "The first failure of the current streak."},
    "last_delivery_at": NULLABLE_TIME,
    "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
}
ENDPOINT_REQUIRED = list(ENDPOINT_PROPERTIES)
DELIVERY_PROPERTIES = {
    "id": UUID, "webhook_id": {"type": "string", "description": "The webhook-id header: the same over every "
                                                                "attempt, for the receiver to de-duplicate."},
    "endpoint_id": UUID, "event_type": {"type": "string"},
    "status": {"type": "string", "enum": list(MESSAGE_STATUSES)},
    "attempt_count": {"type": "integer", "description": "How many attempts were made."},
    "next_attempt_at": {**NULLABLE_TIME, "description": "When the next automatic attempt is due (null: none)."},
    "last_status_code": {"type": ["integer", "null"]}, "last_error": NULLABLE_STRING,
    "is_test": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"},
    "delivered_at": NULLABLE_TIME,
    "payload": {"type": "object", "description": "The body sent: {type, timestamp, data}."},
}
ATTEMPT = {"type": "object", "required": ["number", "trigger", "url", "status_code", "ok", "duration_ms", "error",
                                          "response_excerpt", "request_headers", "created_at"], "properties": {
    "number": {"type": "integer"}, "trigger": {"type": "string", "enum": ["auto", "manual", "test"]},
    "url": {"type": "string"}, "status_code": {"type": ["integer", "null"]}, "ok": {"type": "boolean"},
    "duration_ms": {"type": "integer"}, "error": NULLABLE_STRING,
    "response_excerpt": {"type": "string", "description": "The first 2 KB of the answer."},
    "request_headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "created_at": {"type": "string", "format": "date-time"}}}

SCHEMAS.update({
    "WebhookEndpoint": {"type": "object", "required": ENDPOINT_REQUIRED, "properties": ENDPOINT_PROPERTIES},
    "WebhookEndpointWithSecret": {
        "type": "object", "required": [*ENDPOINT_REQUIRED, "secret"],
        "properties": {**ENDPOINT_PROPERTIES, "secret": {
            "type": "string", "description": "The signing secret (whsec_ + base64): give it to the receiver. "
                                             "Shown here, and in the app on request."}}},
    "WebhookEndpointList": list_of("#/components/schemas/WebhookEndpoint"),
    "WebhookEndpointCreate": {"type": "object", "required": ["url", "events"], "properties": ENDPOINT_FIELDS},
    "WebhookEndpointUpdate": {"type": "object", "properties": ENDPOINT_FIELDS,
                              "description": "Only the fields sent change."},
    "WebhookDelivery": {"type": "object", "required": list(DELIVERY_PROPERTIES), "properties": DELIVERY_PROPERTIES},
    "WebhookDeliveryList": list_of("#/components/schemas/WebhookDelivery"),
    "WebhookAttempt": ATTEMPT,
    "WebhookDeliveryDetail": {"type": "object", "required": [*DELIVERY_PROPERTIES, "attempts"], "properties": {
        **DELIVERY_PROPERTIES, "attempts": {"type": "array", "items": ref("WebhookAttempt")}}},
    "WebhookEventType": {"type": "object", "required": ["name", "label", "group"], "properties": {
        "name": {"type": "string"}, "label": {"type": "string"}, "group": {"type": "string"}}},
    "WebhookEventTypes": {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": ref("WebhookEventType")}}},
})

NOT_FOUND = error_response("No such webhook endpoint or delivery in the key's workspace.")
BODY_TYPES = {"url": "string", "description": "text"}


# ---- serialization ------------------------------------------------------------------------------------------

def endpoint_json(endpoint: WebhookEndpoint, secret: str | None = None) -> dict:
    data = {"id": str(endpoint.id), "url": endpoint.url, "description": endpoint.description or "",
            "events": list(endpoint.events or []), "is_active": endpoint.is_active,
            "disabled_reason": endpoint.disabled_reason, "secret_hint": webhooks.secret_hint(endpoint),
            "previous_secret_expires_at": iso(endpoint.previous_secret_expires_at)
            if webhooks.previous_secret_active(endpoint) else None,
            "failing_since": iso(endpoint.failing_since), "last_delivery_at": iso(endpoint.last_delivery_at),
            "created_at": iso(endpoint.created_at), "updated_at": iso(endpoint.updated_at)}
    if secret is not None:
        data["secret"] = secret
    return data


def delivery_json(message: WebhookMessage) -> dict:
    return {"id": str(message.id), "webhook_id": message.webhook_id, "endpoint_id": id_or_none(message.endpoint_id),
            "event_type": message.event_type, "status": message.status, "attempt_count": message.attempts,
            "next_attempt_at": iso(message.next_attempt_at), "last_status_code": message.last_status_code,
            "last_error": message.last_error, "is_test": message.is_test, "created_at": iso(message.created_at),
            "delivered_at": iso(message.delivered_at), "payload": message.payload or {}}


def attempt_json(attempt) -> dict:
    return {"number": attempt.number, "trigger": attempt.trigger, "url": attempt.url,
            "status_code": attempt.status_code, "ok": attempt.ok, "duration_ms": attempt.duration_ms,
            "error": attempt.error, "response_excerpt": attempt.response_excerpt or "",
            "request_headers": {str(k): str(v) for k, v in (attempt.request_headers or {}).items()},
            "created_at": iso(attempt.created_at)}


# ---- bodies ------------------------------------------------------------------------------------------------

def _body() -> dict:
    """The endpoint fields of the body, their JSON types checked (the service checks the values)."""
    data = json_body()
    check_types(data, BODY_TYPES)
    errors = {}
    if "events" in data and (not isinstance(data["events"], list)
                             or not all(isinstance(name, str) for name in data["events"])):
        errors["events"] = "Must be an array of event types (strings)."
    if "is_active" in data and not isinstance(data["is_active"], bool):
        errors["is_active"] = "Must be true or false."
    if errors:
        raise ApiError(422, f"Check {', '.join(sorted(errors))}.", errors)
    return {name: data[name] for name in ENDPOINT_FIELDS if name in data}


def _endpoint(endpoint_id) -> WebhookEndpoint:
    return get_or_404(WebhookEndpoint, endpoint_id)


# ---- endpoints ----------------------------------------------------------------------------------------------

@api_route("/webhooks/event-types", summary="The event types an endpoint may subscribe to", tag=TAG, role=ROLE,
           responses={200: json_response("Every event type, with its label and group.", "WebhookEventTypes")})
def list_webhook_event_types():
    groups = {key: label for key, label, _ in webhooks.EVENT_GROUPS}
    return jsonify({"items": [{"name": name, "label": label, "group": groups[webhooks.EVENT_GROUP[name]]}
                              for name, label in webhooks.EVENTS.items()]})


@api_route("/webhooks/endpoints", summary="List webhook endpoints, newest first", tag=TAG, role=ROLE,
           paginated=True, responses={200: json_response("A page of endpoints.", "WebhookEndpointList")})
def list_webhook_endpoints():
    def search(query, q):
        return query.where(WebhookEndpoint.url.icontains(q, autoescape=True)
                           | WebhookEndpoint.description.icontains(q, autoescape=True))

    return jsonify(list_response(webhooks.endpoints_query(current_account()), endpoint_json, search))


@api_route("/webhooks/endpoints", methods=("POST",), summary="Add a webhook endpoint", tag=TAG, role=ROLE,
           body=ref("WebhookEndpointCreate"),
           responses={201: json_response("The endpoint, with its signing secret.", "WebhookEndpointWithSecret")})
def create_webhook_endpoint():
    endpoint = webhooks.create_endpoint(current_account(), _body(), current_actor())
    return jsonify(endpoint_json(endpoint, webhooks.secret_of(endpoint))), 201


@api_route("/webhooks/endpoints/<uuid:endpoint_id>", summary="Get a webhook endpoint", tag=TAG, role=ROLE,
           responses={200: json_response("The endpoint.", "WebhookEndpoint"), 404: NOT_FOUND})
def get_webhook_endpoint(endpoint_id):
    return jsonify(endpoint_json(_endpoint(endpoint_id)))


@api_route("/webhooks/endpoints/<uuid:endpoint_id>", methods=("PATCH",), summary="Change a webhook endpoint",
           tag=TAG, role=ROLE, body=ref("WebhookEndpointUpdate"),
           responses={200: json_response("The endpoint.", "WebhookEndpoint"), 404: NOT_FOUND})
def update_webhook_endpoint(endpoint_id):
    endpoint = _endpoint(endpoint_id)
    webhooks.update_endpoint(current_account(), endpoint, _body(), current_actor(), partial=True)
    return jsonify(endpoint_json(endpoint))


@api_route("/webhooks/endpoints/<uuid:endpoint_id>", methods=("DELETE",), tag=TAG, role=ROLE,
           summary="Delete a webhook endpoint and its delivery history",
           responses={204: {"description": "Deleted."}, 404: NOT_FOUND})
def delete_webhook_endpoint(endpoint_id):
    webhooks.delete_endpoint(current_account(), _endpoint(endpoint_id), current_actor())
    return "", 204


@api_route("/webhooks/endpoints/<uuid:endpoint_id>/rotate-secret", methods=("POST",), tag=TAG, role=ROLE,
           summary="Make a new signing secret (the old one also signs for 24 hours)",
           responses={200: json_response("The endpoint with its new secret.", "WebhookEndpointWithSecret"),
                      404: NOT_FOUND})
def rotate_webhook_secret(endpoint_id):
    endpoint = _endpoint(endpoint_id)
    secret = webhooks.rotate_secret(current_account(), endpoint, current_actor())
    return jsonify(endpoint_json(endpoint, secret))


@api_route("/webhooks/endpoints/<uuid:endpoint_id>/test", methods=("POST",), tag=TAG, role=ROLE,
           summary="Send a webhook.test event to the endpoint (once, not retried)",
           responses={202: json_response("The test delivery, queued.", "WebhookDelivery"), 404: NOT_FOUND})
def send_webhook_test(endpoint_id):
    message = webhooks.send_test(current_account(), _endpoint(endpoint_id), current_actor())
    return jsonify(delivery_json(message)), 202


# ---- deliveries -------------------------------------------------------------------------------------------

DELIVERY_FILTERS = {"status": MESSAGE_STATUSES, "event_type": webhooks.EVENT_TYPES}


@api_route("/webhooks/endpoints/<uuid:endpoint_id>/deliveries", summary="List an endpoint's deliveries, newest first",
           tag=TAG, role=ROLE, paginated=True,
           params=[query_param("status", {"type": "string", "enum": list(MESSAGE_STATUSES)}, "Of this status."),
                   query_param("event_type", {"type": "string", "enum": list(webhooks.EVENT_TYPES)},
                               "Of this event type.")],
           responses={200: json_response("A page of deliveries.", "WebhookDeliveryList"), 404: NOT_FOUND})
def list_webhook_deliveries(endpoint_id):
    endpoint = _endpoint(endpoint_id)
    filters = query_filters(DELIVERY_FILTERS)

    def search(query, q):
        return query.where(WebhookMessage.webhook_id.icontains(q, autoescape=True))

    return jsonify(list_response(webhooks.messages_query(current_account(), endpoint, **filters), delivery_json,
                                 search))


@api_route("/webhooks/deliveries/<uuid:message_id>", summary="Get a delivery with every attempt", tag=TAG,
           role=ROLE, responses={200: json_response("The delivery.", "WebhookDeliveryDetail"), 404: NOT_FOUND})
def get_webhook_delivery(message_id):
    message = get_or_404(WebhookMessage, message_id)
    return jsonify({**delivery_json(message), "attempts": [attempt_json(a) for a in webhooks.attempts_of(message)]})


@api_route("/webhooks/deliveries/<uuid:message_id>/redeliver", methods=("POST",), tag=TAG, role=ROLE,
           summary="Send a delivery again now (same webhook-id; a new attempt)",
           responses={202: json_response("The delivery, queued again.", "WebhookDelivery"), 404: NOT_FOUND,
                      409: error_response("Its endpoint is disabled: enable it first.")})
def redeliver_webhook(message_id):
    message = webhooks.redeliver(current_account(), get_or_404(WebhookMessage, message_id), current_actor())
    return jsonify(delivery_json(message)), 202
