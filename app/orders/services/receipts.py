"""Receipts: the e-mail that tells the customer what they bought and paid, and the PDF invoice of an order."""
from __future__ import annotations

from pathlib import Path

from flask import current_app, render_template

from app.auth.models import Account
from app.core import mail
from app.core.dates import zone
from app.core.db import utcnow
from app.core.errors import ConflictError, ValidationError
from app.extensions import db
from app.orders.models import PAID_STATUSES, Order
from app.orders.services import orders


def _context(order: Order) -> dict:
    """What the e-mail and the invoice show: the order, its workspace, the items its total counts, and its
    date in the workspace's time zone (also outside a request: the checkout's webhooks send receipts)."""
    account = db.session.get(Account, order.account_id)
    moment = order.paid_at or order.created_at or utcnow()
    return {"order": order, "account": account, "items": orders.counted_items(order),
            "paid": order.status in PAID_STATUSES,
            "order_date": moment.astimezone(zone(account.timezone if account else None)).strftime("%B %-d, %Y")}


def send_receipt(order: Order, actor=None) -> None:
    """E-mail the receipt (HTML and text) to the order's customer and note when it was sent: queued, a job sends
    it through the workspace's channel (retried when the mail server fails; the mail log shows it).

    ValidationError when the order has no e-mail address; ConflictError when it was not paid."""
    if not order.email:
        raise ValidationError("This order has no e-mail address to send the receipt to.", field="email")
    if order.status not in PAID_STATUSES:
        raise ConflictError(f"Order #{order.number} is {order.status_label.lower()}: a receipt is sent once it "
                            "is paid.")
    context = _context(order)
    subject = f"Your receipt for order #{order.number}"
    if context["account"] is not None:
        subject += f" from {context['account'].name}"
    mail.send_template(order.email, subject, "receipt", account_id=order.account_id, **context)
    order.receipt_sent_at = utcnow()
    orders.log(order, "receipt.sent", f"Receipt sent to {order.email}",
               by=str(actor.id) if getattr(actor, "id", None) else None)
    db.session.commit()


def invoice_html(order: Order) -> str:
    return render_template("orders/invoice.html", **_context(order))


def invoice_pdf(order: Order) -> bytes:
    """The order's invoice as a PDF (weasyprint), styled by static/css/invoice.css."""
    from weasyprint import CSS, HTML

    stylesheet = Path(current_app.static_folder) / "css" / "invoice.css"
    return HTML(string=invoice_html(order), base_url=current_app.static_folder).write_pdf(
        stylesheets=[CSS(filename=str(stylesheet))])
