"""The checkout on published pages (site host, under /_site like the site's own routes; see
app/site/serving.py). The stored page holds the customer fields; what is sold is a small dynamic fragment
(`offer`, then `summary` as bumps and coupon change, both htmx), and the payment is a short exchange of
JSON with static/site/checkout.js: `start` (customer and order, then the card's SetupIntent), `pay`,
`confirm` (after the bank's authentication). The upsell and downsell steps post `accept` or `decline`.

Visitors have no session: the order form carries its form token (like every form on the site), and the
visitor's order is named by a signed, HttpOnly, SameSite=Lax cookie, so another site cannot post for them.
"""
from __future__ import annotations

from flask import current_app, jsonify, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeSerializer

from app.auth.models import Account
from app.core.errors import ServiceError, ValidationError
from app.extensions import csrf, db, limiter
from app.funnels import publishing
from app.funnels.services import next_step
from app.orders import bp, gateway
from app.orders.models import Order
from app.orders.services import checkout, pricing
from app.site import serving, submissions

COOKIE = "lf_checkout"
ORDER_FORM_TYPES = ("order_form",)


def _rate_limit() -> str:
    return current_app.config.get("CHECKOUT_RATE_LIMIT") or "30 per minute"


def _rate_key() -> str:
    return f"checkout:{request.remote_addr}:{(request.view_args or {}).get('page_id')}"


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="leadforge.checkout")


def _checkout_key() -> str | None:
    try:
        return _signer().loads(request.cookies.get(COOKIE, ""))
    except BadSignature:
        return None


def _with_cookie(response, order: Order):
    response.set_cookie(COOKIE, _signer().dumps(order.checkout_key), max_age=7 * 24 * 3600, httponly=True,
                        samesite="Lax", secure=request.is_secure, path="/")
    return response


def _context(page_id):
    """(page, account, step) of a live page on this host; 404 otherwise."""
    page = serving.live_page(page_id)
    return page, db.session.get(Account, page.account_id), page.step


def _page_and_step(page_id):
    """(page, step) of a live page on this host, without its account (the offer's two queries)."""
    page = serving.live_page(page_id)
    return page, page.step


def _order_form(page, form_id: str) -> dict | None:
    return serving.find_form(serving.published_page_source(page).tree, form_id, ORDER_FORM_TYPES)


def _visitor_order(account) -> Order | None:
    key = _checkout_key()
    if not key:
        return None
    from sqlalchemy import select

    return db.session.execute(select(Order).where(Order.account_id == account.id, Order.checkout_key == key)
                              ).scalar_one_or_none()


def _following(step, skip_downsells: bool):
    """The step after `step`; after a purchase or an accepted offer the downsells are skipped."""
    following = next_step(step)
    while following is not None and skip_downsells and following.step_type == "downsell":
        following = next_step(following)
    return following


def _url_after(step, skip_downsells: bool = True) -> str:
    following = _following(step, skip_downsells)
    return publishing.public_url(following if following is not None else step)


def visitor_post(rule: str):
    """A route of the site host that visitors post to: no CSRF cookie (they have no session), rate-limited
    per IP and page."""

    def decorator(view):
        limited = limiter.limit(_rate_limit, key_func=_rate_key)(csrf.exempt(serving.site_only(view)))
        return bp.route(rule, methods=["POST"])(limited)

    return decorator


def _json(status: str, http_status: int = 200, **data):
    return jsonify({"status": status, **data}), http_status


def _outcome(outcome: checkout.Outcome, next_url: str, order: Order | None = None):
    """`order`: a paid checkout, which the page's tracker reports as a purchase (counted once per order)."""
    if outcome.status == "succeeded":
        if order is not None:
            return _json("succeeded", next_url=next_url,
                         purchase={"order_id": str(order.id), "value_cents": order.total_cents})
        return _json("succeeded", next_url=next_url)
    if outcome.status == "requires_action":
        return _json("requires_action", client_secret=outcome.client_secret, payment_method=outcome.payment_method,
                     stripe_key=gateway.publishable_key(), stripe_js=gateway.stripe_js_url())
    if outcome.status == "processing":
        return _json("processing", http_status=202, message=outcome.message, next_url=next_url)
    return _json("failed", http_status=402, message=outcome.message)


def _refused(error: Exception, status: int | None = None):
    message = getattr(error, "message", str(error))
    fields = getattr(error, "fields", None) or {}
    return _json("invalid", http_status=status or getattr(error, "status", 422), message=message, errors=fields)


# ---- what is sold, and the summary ----------------------------------------------------------------------

@bp.route("/_site/_checkout/<uuid:page_id>/offer")
@serving.site_only
def checkout_offer(page_id):
    page, step = _page_and_step(page_id)
    form_id = request.args.get("form_id", "")[:40]
    try:
        quote = pricing.quote(None, step, [], "", strict=False)  # no coupon yet: no account needed
    except ValidationError as error:
        return render_template("orders/site/unavailable.html", message=error.message)
    return render_template("orders/site/offer.html", quote=quote, form_id=form_id, base=f"/_checkout/{page.id}",
                           payments_ready=gateway.configured(), stripe_key=gateway.publishable_key(),
                           stripe_js=gateway.stripe_js_url())


@visitor_post("/_site/_checkout/<uuid:page_id>/summary")
def checkout_summary(page_id):
    page, account, step = _context(page_id)
    try:
        quote = pricing.quote(account, step, request.form.getlist("bumps"), request.form.get("coupon", "")[:40],
                              strict=False)
    except ValidationError as error:
        return render_template("orders/site/unavailable.html", message=error.message)
    return render_template("orders/site/summary.html", quote=quote, form_id=request.form.get("form_id", "")[:40])


# ---- paying ---------------------------------------------------------------------------------------------

@visitor_post("/_site/_checkout/<uuid:page_id>/start")
def checkout_start(page_id):
    page, account, step = _context(page_id)
    form_id = request.form.get("form_id", "")
    form = _order_form(page, form_id)
    if form is None:
        return _json("invalid", 400, message="This order form is no longer on the page. Reload the page.")
    if submissions.check_token(request.form.get("form_token", ""), page.id, form_id) != "ok":
        return _json("invalid", 400, message="This page was open for a long time. Reload it and try again.")
    if submissions.is_bot(request.form):
        return _json("invalid", 400, message="Your order could not be sent.")
    submission = submissions.read(form, request.form)
    if submission.errors:
        return _json("invalid", 422, message="Please check the form.", errors=submission.errors)
    customer, _ = submissions.contact_data(account, submission.answers)
    try:
        order, client_secret = checkout.start(
            account, step, customer, request.form.getlist("bumps"), request.form.get("coupon", "")[:40],
            _checkout_key(), tag_names=(form.get("props") or {}).get("tags") or (),
            tracked=checkout.attribution(request.cookies.get("lf_vid"), request.cookies.get("lf_ses")))
    except ValidationError as error:
        known = {child["id"] for child in submissions.form_fields(form)}
        if set(error.fields or {}) - known - {"", "coupon", "bumps"}:
            error = submissions.form_field_errors(error, form)
        return _refused(error)
    except gateway.PaymentError as error:
        return _json("failed", 503 if error.code in ("not_configured", "unavailable") else 402, message=error.message)
    except ServiceError as error:
        return _refused(error)
    response, status = _json("card", order_number=order.number, client_secret=client_secret,
                             stripe_key=gateway.publishable_key(), stripe_js=gateway.stripe_js_url())
    return _with_cookie(response, order), status


@visitor_post("/_site/_checkout/<uuid:page_id>/pay")
def checkout_pay(page_id):
    return _payment_step(page_id, lambda account, order: checkout.pay(account, order, _posted("setup_intent")),
                         same_step=True)


@visitor_post("/_site/_checkout/<uuid:page_id>/confirm")
def checkout_confirm(page_id):
    return _payment_step(page_id, lambda account, order: checkout.confirm(account, order, _posted("payment_intent")))


def _posted(name: str) -> str:
    return (request.form.get(name) or "")[:80]


def _payment_step(page_id, operation, same_step: bool = False):
    """Pay or confirm the visitor's order, and say what the page does next (JSON for checkout.js)."""
    page, account, step = _context(page_id)
    order = _visitor_order(account)
    if order is None or (same_step and order.step_id != step.id):
        return _json("invalid", 409, message="Your order was not found. Reload the page and try again.")
    try:
        outcome = operation(account, order)
    except gateway.PaymentError as error:
        return _json("failed", 503, message=error.message)
    except ServiceError as error:
        return _refused(error)
    return _outcome(outcome, _url_after(step), order)


# ---- one-click offers ----------------------------------------------------------------------------------

def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@visitor_post("/_site/_checkout/<uuid:page_id>/accept")
def offer_accept(page_id):
    page, account, step = _context(page_id)
    order = _visitor_order(account)
    if order is None:
        return _offer_refusal("We could not find your order on this device, so nothing was charged.", page, 409)
    try:
        outcome = checkout.accept_offer(account, order, step)
    except gateway.PaymentError as error:
        return _offer_refusal(error.message, page, 503)
    except ServiceError as error:
        return _offer_refusal(error.message, page, error.status)
    next_url = _url_after(step, skip_downsells=True)
    if _wants_json():
        return _outcome(outcome, next_url)
    if outcome.status == "succeeded":
        return redirect(next_url, 303)
    return _offer_refusal(outcome.message or "Your bank needs to confirm this payment: enable JavaScript and try "
                                             "again.", page, 402)


@visitor_post("/_site/_checkout/<uuid:page_id>/decline")
def offer_decline(page_id):
    page, account, step = _context(page_id)
    order = _visitor_order(account)
    if order is not None:
        checkout.decline_offer(account, order, step)
    next_url = _url_after(step, skip_downsells=step.step_type == "downsell")
    if _wants_json():
        return _json("declined", next_url=next_url)
    return redirect(next_url, 303)


def _offer_refusal(message: str, page, status: int):
    if _wants_json():
        return _json("failed", status, message=message)
    body = serving.error_body(400, message, publishing.public_url(page.step))
    entry = serving.make_entry(status, body, cache_control="no-store")
    status_line, headers, content = serving.choose(entry, request.environ)
    response = current_app.response_class(content, status=status, headers=headers)
    return response
