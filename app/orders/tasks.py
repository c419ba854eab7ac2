"""Background jobs of the orders: the (filtered) orders list exported as CSV or XLSX, and receipts."""
import json
import uuid
from pathlib import Path

from flask import current_app

from app.auth.models import Account
from app.core import events, jobs
from app.core.db import utcnow
from app.core.schedule import scheduled
from app.extensions import db
from app.orders.services import backoffice, orders

EXPORT_FORMATS = ("csv", "xlsx")


def export_orders(job_id: str, account_id: str, filters_json: str, file_format: str) -> dict:
    """Tracked job: the orders matching the filters as a CSV or XLSX file to download, with progress. Run
    twice, it writes the same file again."""
    if file_format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {file_format!r}")
    account = db.session.get(Account, uuid.UUID(account_id))
    filters = backoffice.clean_filters(json.loads(filters_json or "{}"))
    folder = Path(current_app.config["EXPORTS_DIR"]) / account_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"orders-{job_id}.{file_format}"

    def report(done: int, total: int) -> None:
        jobs.progress(job_id, done * 100 // max(total, 1), f"{done:,} of {total:,} orders")

    if file_format == "csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            total = backoffice.write_csv(account, filters, handle, report)
    else:
        total = backoffice.write_xlsx(account, filters, str(path), report)
    return {"path": str(path), "name": f"orders-{utcnow():%Y-%m-%d}.{file_format}",
            "message": f"{total:,} orders exported."}


def send_receipt(order_id: str) -> None:
    """Job: the receipt of a paid order, once (a second run finds it sent and does nothing)."""
    from app.orders.models import Order
    from app.orders.services import receipts

    order = db.session.get(Order, uuid.UUID(order_id))
    if order is None or order.receipt_sent_at is not None or not order.email:
        return
    receipts.send_receipt(order)


@events.subscribe("order.paid")
def receipt_when_paid(name: str, payload: dict) -> None:
    """Every paid order gets its receipt by e-mail, sent by a job (a slow mail server never slows the
    checkout, and a failure is retried)."""
    jobs.enqueue(send_receipt, payload["order_id"])


def handle_stripe_event(event_id: str) -> None:
    """Job: act on a stored Stripe webhook event (once; a retry after Stripe was unreachable does it then)."""
    from app.orders.services import webhooks

    webhooks.process(event_id)


@scheduled("orders-abandon", "*/10 * * * *")
def abandon_stale_checkouts() -> dict:
    """Mark checkouts unpaid for CHECKOUT_ABANDON_MINUTES as abandoned (every 10 minutes)."""
    return {"message": f"{orders.abandon_stale():,} checkouts marked abandoned."}
