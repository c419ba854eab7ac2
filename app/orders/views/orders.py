"""Orders: the list with its filters and export, an order's page (items, payments, refunds, history) and its
actions: fulfil, cancel, refund, receipt, invoice."""
import json

from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import func
from sqlalchemy.orm import selectinload

from app.core import jobs
from app.core.errors import ServiceError, ValidationError
from app.core.formatting import format_money
from app.core.forms import ActionForm, apply_error, checked_action, flashed_refusal, refusal
from app.core.models import Job
from app.core.pagination import Page, paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404, scoped
from app.core.web import redirect_to, render
from app.extensions import db
from app.orders import bp, tasks
from app.orders.forms import refund_form
from app.orders.models import ITEM_KINDS, ORDER_STATUSES, Order, OrderItem, Product, Refund
from app.orders.services import backoffice, catalog, orders, receipts, refunds

STATUS_KINDS = {"pending": "accent", "abandoned": "", "paid": "success", "fulfilled": "success", "failed": "danger",
                "cancelled": "", "partially_refunded": "warning", "refunded": "warning"}
PAYMENT_KINDS = {"succeeded": "success", "failed": "danger", "requires_action": "warning", "created": "accent"}


def _filters() -> dict:
    return backoffice.clean_filters(request.args)


def _choices(account) -> dict:
    products = db.session.execute(scoped(Product, account).with_only_columns(Product.id, Product.name)
                                  .order_by(func.lower(Product.name)).limit(1000)).all()
    funnels = sorted(backoffice.funnel_names(account).items(), key=lambda pair: pair[1].lower())
    return {"statuses": list(ORDER_STATUSES.items()), "products": [(str(i), name) for i, name in products],
            "funnels": [(str(i), name) for i, name in funnels]}


@bp.route("/orders", endpoint="orders")
@role_required("viewer")
def orders_list():
    account = current_account()
    orders.abandon_stale()  # checkouts left an hour ago show as abandoned (touches only stale pending rows)
    filters = _filters()
    page_number, page_size = parse_page_args(request.args)
    filter_error = None
    try:
        results = paginate(backoffice.filtered(account, filters), page_number, page_size)
    except ValidationError as error:
        filter_error = error
        results = Page(items=[], page=1, page_size=page_size, total=0)
    funnels = backoffice.funnel_names(account, [order.funnel_id for order in results.items])
    return render("orders/orders/list.html", block="results", status=422 if filter_error else 200,
                  results=results, filters=filters, filtered=bool(filters), filter_error=filter_error,
                  funnel_of=funnels, status_kinds=STATUS_KINDS, **_choices(account))



@bp.route("/orders/export", methods=["POST"])
@role_required("viewer")
def orders_export():
    checked_action()
    account = current_account()
    file_format = request.form.get("format", "csv")
    if file_format not in tasks.EXPORT_FORMATS:
        abort(400, description="Choose CSV or XLSX.")
    filters = backoffice.clean_filters(request.form)
    with refusal() as refused:
        backoffice.filtered(account, filters)  # a bad filter is refused now, not in the job
    if refused:
        return render("orders/orders/_export_error.html", error=refused.error, status=422)
    job = jobs.create_job(account, "orders_export", f"Export orders ({file_format.upper()})", user=current_user)
    jobs.enqueue(tasks.export_orders, account.id, json.dumps(filters), file_format, job=job)
    return render("components/_job.html", job=get_or_404(Job, job.id), status=202)


# ---- an order's page ------------------------------------------------------------------------------------

def _order(order_id) -> Order:
    return get_or_404(Order, order_id)


def _detail_context(order: Order, form=None) -> dict:
    order = db.session.execute(
        scoped(Order).where(Order.id == order.id)
        .options(selectinload(Order.items).selectinload(OrderItem.payment), selectinload(Order.payments),
                 selectinload(Order.refunds).selectinload(Refund.created_by),
                 selectinload(Order.refunds).selectinload(Refund.item), selectinload(Order.events))).scalar_one()
    counted = set(orders.counted_items(order))
    groups = [(kind, label, [item for item in order.items if item.kind == kind]) for kind, label in ITEM_KINDS.items()]
    refundable_items = [item for item in refunds.refundable_items(order) if item.refundable_cents > 0]
    funnel = backoffice.funnel_names(current_account(), [order.funnel_id]).get(order.funnel_id)
    return dict(order=order, groups=[group for group in groups if group[2]], counted=counted,
                refundable=refunds.refundable_cents(order), refund_form=form or refund_form(order, refundable_items),
                action_form=ActionForm(), funnel_name=funnel, status_kinds=STATUS_KINDS, payment_kinds=PAYMENT_KINDS,
                can_fulfil=orders.can_change(order, "fulfilled"), can_cancel=orders.can_change(order, "cancelled"),
                history=list(reversed(order.events)), paid=orders.is_paid(order))


@bp.route("/orders/<uuid:order_id>")
@role_required("viewer")
def order_detail(order_id):
    return render("orders/orders/detail.html", **_detail_context(_order(order_id)))


@bp.route("/orders/<uuid:order_id>/fulfil", methods=["POST"])
@role_required("user")
def order_fulfil(order_id):
    return _status_action(order_id, backoffice.fulfil, "marked fulfilled")


@bp.route("/orders/<uuid:order_id>/cancel", methods=["POST"])
@role_required("user")
def order_cancel(order_id):
    return _status_action(order_id, backoffice.cancel, "cancelled")


def _status_action(order_id, change, done: str):
    """A button of the order page that moves its status (a refusal is flashed), then back to the order."""
    order = _order(order_id)
    checked_action()
    with flashed_refusal():
        change(current_account(), order, actor=current_user)
        flash(f"Order #{order.number} {done}.", "success")
    return redirect_to(url_for("orders.order_detail", order_id=order_id))


@bp.route("/orders/<uuid:order_id>/refunds", methods=["POST"])
@role_required("user")
def order_refund(order_id):
    account = current_account()
    order = _order(order_id)
    form = refund_form(order, refunds.refundable_items(order))
    if form.validate_on_submit():
        try:
            raw = (form.amount.data or "").strip()
            cents = catalog.parse_amount(raw, order.currency) if raw else None
            made = refunds.create(account, order, cents, item_id=form.item_id.data or None,
                                  reason=form.reason.data or "", note=form.note.data or "", actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            total = sum(refund.amount_cents for refund in made)
            flash(f"Refunded {format_money(total, order.currency)} of order #{order.number}.", "success")
            return redirect_to(url_for("orders.order_detail", order_id=order_id))
    return render("orders/orders/detail.html", block="refund", status=422,
                  **_detail_context(_order(order_id), form=form))


@bp.route("/orders/<uuid:order_id>/receipt", methods=["POST"])
@role_required("user")
def order_receipt(order_id):
    order = _order(order_id)
    checked_action()
    with flashed_refusal():
        receipts.send_receipt(order, actor=current_user)
        flash(f"Receipt sent to {order.email}.", "success")
    return redirect_to(url_for("orders.order_detail", order_id=order_id))


@bp.route("/orders/<uuid:order_id>/invoice.pdf")
@role_required("viewer")
def order_invoice(order_id):
    order = _order(order_id)
    pdf = receipts.invoice_pdf(order)
    return pdf, 200, {"Content-Type": "application/pdf",
                      "Content-Disposition": f'attachment; filename="invoice-{order.number}.pdf"',
                      "Cache-Control": "private, no-store"}
