"""The back office of orders: the list's filtered query (status, date range in the workspace's time zone,
funnel, product, customer) for the page, the JSON API and the CSV/XLSX export job; marking an order
fulfilled, cancelling one. (Refunds: services/refunds.py; receipts and invoices: services/receipts.py.)"""
from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from app.core.dates import zone
from app.core.db import like_pattern
from app.core.errors import NotFoundError, ValidationError
from app.core.tenancy import scoped
from app.core.validation import as_uuid
from app.extensions import db
from app.funnels.models import Funnel
from app.orders.models import ORDER_STATUSES, Order, OrderItem
from app.orders.services import orders

FILTER_KEYS = ("status", "from", "to", "funnel", "product", "q")
EXPORT_COLUMNS = ("Number", "Date", "Status", "Customer name", "E-mail", "Funnel", "Items", "Subtotal", "Discount",
                  "Total", "Refunded", "Currency")
EXPORT_BATCH = 500


def clean_filters(raw) -> dict:
    """The known, non-empty filters, as trimmed strings."""
    return {key: str(raw.get(key)).strip()[:200] for key in FILTER_KEYS
            if raw.get(key) not in (None, "") and str(raw.get(key)).strip()}


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError("Use a date like 2026-01-31.", field=field) from None


def _midnight(day: date, day_zone, next_day: bool = False) -> datetime | None:
    """Midnight (of the next day) in the zone, in UTC; None at the ends of the calendar."""
    try:
        return datetime.combine(day + timedelta(days=1) if next_day else day, time.min, day_zone).astimezone(UTC)
    except OverflowError:
        return None


def filtered(account, filters: dict) -> Select:
    """SELECT of the account's orders matching the filters, newest first. ValidationError for a bad value."""
    query = scoped(Order, account)
    status = filters.get("status")
    if status:
        if status not in ORDER_STATUSES:
            raise ValidationError("Choose a status from the list.", field="status")
        query = query.where(Order.status == status)
    workspace_zone = zone(account.timezone)
    if filters.get("from"):
        start = _midnight(_day(filters["from"], "from"), workspace_zone)
        if start is not None:
            query = query.where(Order.created_at >= start)
    if filters.get("to"):
        end = _midnight(_day(filters["to"], "to"), workspace_zone, next_day=True)
        if end is not None:
            query = query.where(Order.created_at < end)
    if filters.get("funnel"):
        query = query.where(Order.funnel_id == as_uuid(filters["funnel"], "funnel", "funnel"))
    if filters.get("product"):
        product_id = as_uuid(filters["product"], "product", "product")
        query = query.where(Order.id.in_(select(OrderItem.order_id).where(OrderItem.account_id == account.id,
                                                                          OrderItem.product_id == product_id)))
    q = (filters.get("q") or "").strip().lower()
    if q:
        pattern = like_pattern(q)
        name = func.lower(func.concat(Order.first_name, " ", Order.last_name))
        conditions = [func.lower(Order.email).like(pattern, escape="\\"), name.like(pattern, escape="\\")]
        if q.lstrip("#").isdigit() and len(q.lstrip("#")) < 10:
            conditions.append(Order.number == int(q.lstrip("#")))
        query = query.where(or_(*conditions))
    return query.order_by(Order.created_at.desc(), Order.number.desc())


def funnel_names(account, ids=None) -> dict:
    """{funnel id: name} of the account's funnels (those given, or all of them)."""
    query = scoped(Funnel, account).with_only_columns(Funnel.id, Funnel.name)
    if ids is not None:
        ids = [i for i in set(ids) if i is not None]
        if not ids:
            return {}
        query = query.where(Funnel.id.in_(ids))
    return dict(db.session.execute(query).all())


def _export_rows(account, filters: dict, report=None):
    """The export's rows (EXPORT_COLUMNS), in batches, amounts as decimal numbers in the order's currency."""
    from app.core.formatting import ZERO_DECIMAL_CURRENCIES

    base = filtered(account, filters)
    total = db.session.execute(select(func.count()).select_from(base.order_by(None).subquery())).scalar_one()
    workspace_zone = zone(account.timezone)
    done = 0
    while True:
        batch = list(db.session.execute(base.options(selectinload(Order.items)).limit(EXPORT_BATCH)
                                        .offset(done)).scalars())
        if not batch:
            break
        funnels = funnel_names(account, [order.funnel_id for order in batch])
        for order in batch:
            divisor = 1 if order.currency.upper() in ZERO_DECIMAL_CURRENCIES else 100

            def amount(cents, divisor=divisor):
                return cents / divisor if divisor != 1 else cents

            items = "; ".join(f"{item.name} ({item.kind_label})" for item in order.items)
            yield [order.number, order.created_at.astimezone(workspace_zone).strftime("%Y-%m-%d %H:%M"),
                   order.status_label, " ".join(p for p in (order.first_name, order.last_name) if p), order.email,
                   funnels.get(order.funnel_id, ""), items, amount(order.subtotal_cents),
                   amount(order.discount_cents), amount(order.total_cents), amount(order.refunded_cents),
                   order.currency.upper()]
        done += len(batch)
        for order in batch:  # a big export keeps one batch in memory at a time
            db.session.expunge(order)
        if report:
            report(done, total)


def _safe_cell(value):
    """Text a spreadsheet would read as a formula is written as text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_csv(account, filters: dict, handle, report=None) -> int:
    writer = csv.writer(handle)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in _export_rows(account, filters, report):
        writer.writerow([_safe_cell(value) for value in row])
        count += 1
    return count


def write_xlsx(account, filters: dict, path: str, report=None) -> int:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(path, {"strings_to_formulas": False, "strings_to_urls": False})
    try:
        sheet = workbook.add_worksheet("Orders")
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "#,##0.00"})
        sheet.write_row(0, 0, EXPORT_COLUMNS, bold)
        sheet.set_column(0, 0, 9)
        sheet.set_column(1, 1, 17)
        sheet.set_column(2, 5, 22)
        sheet.set_column(6, 6, 40)
        sheet.set_column(7, 10, 12, money)
        count = 0
        for row in _export_rows(account, filters, report):
            count += 1
            sheet.write_row(count, 0, row)
        sheet.freeze_panes(1, 0)
    finally:
        workbook.close()
    return count


# ---- status changes from the order's page ----------------------------------------------------------------

def _change(account, order: Order, status: str, message: str, actor=None) -> Order:
    if order.account_id != account.id:
        raise NotFoundError("Not found.")
    order = orders.locked(order)
    published: list = []
    orders.change_status(order, status, published, message, actor=actor)
    orders.commit(published)
    return order


def fulfil(account, order: Order, actor=None) -> Order:
    """A paid order delivered (paid -> fulfilled); ConflictError from any other status."""
    who = f" by {actor.display_name}" if getattr(actor, "display_name", None) else ""
    return _change(account, order, "fulfilled", f"Order #{order.number} marked fulfilled{who}", actor)


def cancel(account, order: Order, actor=None) -> Order:
    """An unpaid order cancelled (pending, failed or abandoned -> cancelled); ConflictError otherwise."""
    who = f" by {actor.display_name}" if getattr(actor, "display_name", None) else ""
    return _change(account, order, "cancelled", f"Order #{order.number} cancelled{who}", actor)
