"""Outgoing webhooks: the endpoints list, an endpoint's form and page (its signing secret, revealed on request;
rotation; test event; enable/disable; delete; the delivery history with filters, which refreshes itself while
messages wait), and a message's page (its payload, every attempt, redeliver). Admins only."""
import json

from flask import abort, flash, request, url_for
from flask_login import current_user

from app.core.errors import ServiceError
from app.core.forms import apply_error, checked_action, flashed_refusal
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404
from app.core.web import redirect_to, render
from app.integrations import bp, webhooks
from app.integrations.forms import webhook_endpoint_form, webhook_endpoint_values
from app.integrations.models import MESSAGE_STATUSES, WebhookEndpoint, WebhookMessage

ENDPOINT_TEMPLATE = "integrations/webhooks/endpoint.html"
MESSAGE_TEMPLATE = "integrations/webhooks/message.html"
STATUS_KINDS = {"delivered": "success", "failed": "danger", "retrying": "warning", "pending": "accent"}
STATUS_LABELS = {"delivered": "Delivered", "failed": "Failed", "retrying": "Retrying", "pending": "Pending"}
POLL_SECONDS = 3


def _endpoint(endpoint_id) -> WebhookEndpoint:
    return get_or_404(WebhookEndpoint, endpoint_id)


def _message(endpoint: WebhookEndpoint, message_id) -> WebhookMessage:
    message = get_or_404(WebhookMessage, message_id)
    if message.endpoint_id != endpoint.id:
        abort(404)
    return message


def _no_store(response):
    body, status, headers = response
    return body, status, {**headers, "Cache-Control": "no-store"}


def _common() -> dict:
    return {"status_kinds": STATUS_KINDS, "status_labels": STATUS_LABELS, "event_label": webhooks.event_label,
            "event_groups": webhooks.EVENT_GROUPS, "poll_seconds": POLL_SECONDS}


# ---- the list ----------------------------------------------------------------------------------------------

@bp.route("/integrations/webhooks", endpoint="webhooks")
@role_required("admin")
def endpoints_list():
    account = current_account()
    page, page_size = parse_page_args(request.args)
    endpoints = paginate(webhooks.endpoints_query(account), page, page_size)
    stats = webhooks.endpoint_stats(account, [endpoint.id for endpoint in endpoints.items])
    return render("integrations/webhooks/list.html", endpoints=endpoints, stats=stats,
                  overall=webhooks.delivery_stats(account), **_common())



# ---- an endpoint's form --------------------------------------------------------------------------------------

@bp.route("/integrations/webhooks/new", methods=["GET", "POST"])
@role_required("admin")
def webhook_new():
    form = webhook_endpoint_form(bind=request.method == "POST")
    if request.method == "POST" and form.validate_on_submit():
        try:
            endpoint = webhooks.create_endpoint(current_account(), webhook_endpoint_values(form), current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash("Endpoint added. Reveal its signing secret below and give it to your receiver, then send a "
                  "test event.", "success")
            return redirect_to(url_for("integrations.webhook", endpoint_id=endpoint.id))
    return render("integrations/webhooks/form.html", block="endpoint_form", form=form, hook_endpoint=None,
                  status=422 if request.method == "POST" else 200, **_common())


@bp.route("/integrations/webhooks/<uuid:endpoint_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def webhook_edit(endpoint_id):
    endpoint = _endpoint(endpoint_id)
    form = webhook_endpoint_form(endpoint, bind=request.method == "POST")
    if request.method == "POST" and form.validate_on_submit():
        try:
            webhooks.update_endpoint(current_account(), endpoint, webhook_endpoint_values(form), current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash("Endpoint saved.", "success")
            return redirect_to(url_for("integrations.webhook", endpoint_id=endpoint.id))
    return render("integrations/webhooks/form.html", block="endpoint_form", form=form, hook_endpoint=endpoint,
                  status=422 if request.method == "POST" else 200, **_common())


# ---- an endpoint's page -----------------------------------------------------------------------------------

def _history_filters() -> dict:
    status = request.args.get("status") or None
    event_type = request.args.get("event_type") or None
    return {"status": status if status in MESSAGE_STATUSES else None,
            "event_type": event_type if event_type in webhooks.EVENT_TYPES else None}


def _endpoint_page(endpoint: WebhookEndpoint, block: str | None = None, revealed: str | None = None):
    account = current_account()
    filters = _history_filters()
    page, page_size = parse_page_args(request.args)
    history = paginate(webhooks.messages_query(account, endpoint, **filters), page, page_size)
    waiting = any(message.status in webhooks.PENDING for message in history.items)
    return render(ENDPOINT_TEMPLATE, block=block, hook_endpoint=endpoint, history=history, filters=filters,
                  waiting=waiting, revealed=revealed, secret_hint=webhooks.secret_hint(endpoint),
                  previous_active=webhooks.previous_secret_active(endpoint),
                  stats=webhooks.endpoint_stats(account, [endpoint.id])[endpoint.id],
                  statuses=[(status, STATUS_LABELS[status]) for status in MESSAGE_STATUSES],
                  event_types=[(name, webhooks.event_label(name)) for name in webhooks.EVENT_TYPES], **_common())


@bp.route("/integrations/webhooks/<uuid:endpoint_id>")
@role_required("admin")
def webhook(endpoint_id):
    """The endpoint's page; an htmx request (the filters, the polling) gets the delivery history alone."""
    return _endpoint_page(_endpoint(endpoint_id), block="history")


@bp.route("/integrations/webhooks/<uuid:endpoint_id>/secret", methods=["POST"])
@role_required("admin")
def webhook_secret(endpoint_id):
    """The signing secret, shown because the admin asked (a POST: never in a link, a history or a cache)."""
    endpoint = _endpoint(endpoint_id)
    checked_action()
    return _no_store(_endpoint_page(endpoint, block="secret", revealed=webhooks.secret_of(endpoint)))


@bp.route("/integrations/webhooks/<uuid:endpoint_id>/rotate", methods=["POST"])
@role_required("admin")
def webhook_rotate(endpoint_id):
    endpoint = _endpoint(endpoint_id)
    checked_action()
    with flashed_refusal():
        webhooks.rotate_secret(current_account(), endpoint, current_user)
        flash("New signing secret made. Reveal it and put it in your receiver: the old one keeps signing "
              "(a second signature) for 24 hours.", "success")
    return redirect_to(url_for("integrations.webhook", endpoint_id=endpoint.id))


@bp.route("/integrations/webhooks/<uuid:endpoint_id>/active", methods=["POST"])
@role_required("admin")
def webhook_active(endpoint_id):
    endpoint = _endpoint(endpoint_id)
    checked_action()
    active = request.form.get("active") == "1"
    with flashed_refusal():
        webhooks.set_active(current_account(), endpoint, active, current_user)
        flash("Endpoint enabled: new events are sent to it." if active else
              "Endpoint disabled: nothing is sent to it until you enable it again.", "success")
    return redirect_to(url_for("integrations.webhook", endpoint_id=endpoint.id))


@bp.route("/integrations/webhooks/<uuid:endpoint_id>/test", methods=["POST"])
@role_required("admin")
def webhook_test(endpoint_id):
    endpoint = _endpoint(endpoint_id)
    checked_action()
    message = webhooks.send_test(current_account(), endpoint, current_user)
    flash("Test event sent: its attempt shows below in a moment.", "success")
    return redirect_to(url_for("integrations.webhook_message", endpoint_id=endpoint.id, message_id=message.id))


@bp.route("/integrations/webhooks/<uuid:endpoint_id>/delete", methods=["POST"])
@role_required("admin")
def webhook_delete(endpoint_id):
    endpoint = _endpoint(endpoint_id)
    checked_action()
    url = endpoint.url
    webhooks.delete_endpoint(current_account(), endpoint, current_user)
    flash(f"Endpoint {url} deleted, with its delivery history.", "success")
    return redirect_to(url_for("integrations.webhooks"))


# ---- a message ---------------------------------------------------------------------------------------------

@bp.route("/integrations/webhooks/<uuid:endpoint_id>/messages/<uuid:message_id>")
@role_required("admin")
def webhook_message(endpoint_id, message_id):
    """A message: its payload and every attempt; an htmx request (the polling) gets the attempts alone."""
    endpoint = _endpoint(endpoint_id)
    message = _message(endpoint, message_id)
    return render(MESSAGE_TEMPLATE, block="attempts", hook_endpoint=endpoint, message=message,
                  attempts=webhooks.attempts_of(message), waiting=message.status in webhooks.PENDING,
                  payload=json.dumps(message.payload, indent=2, ensure_ascii=False), **_common())


@bp.route("/integrations/webhooks/<uuid:endpoint_id>/messages/<uuid:message_id>/redeliver", methods=["POST"])
@role_required("admin")
def webhook_redeliver(endpoint_id, message_id):
    endpoint = _endpoint(endpoint_id)
    message = _message(endpoint, message_id)
    checked_action()
    with flashed_refusal():
        webhooks.redeliver(current_account(), message, current_user)
        flash(f"Redelivering {message.webhook_id}: the new attempt shows below in a moment.", "success")
    return redirect_to(url_for("integrations.webhook_message", endpoint_id=endpoint.id, message_id=message.id))
