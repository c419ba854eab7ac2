"""REQ-10: the revenue of a funnel, from its orders (app.orders), not from the tracked conversions.

- The orders counted are the funnel's orders created in the range whose money was taken (statuses paid,
  fulfilled, partially refunded, refunded), in the workspace's currency (an amount in another currency cannot
  be added to it; the order analytics page counts those apart).
- total_revenue_cents is what they took; refunds are what was given back of them (Order.refunded_cents); the
  net (total less refunds) is what every other figure shows: by source (Order.traffic_source, set at checkout
  from the tracker's cookie), by step (Order.step_id, the order form), over time (by day the order was made),
  per visitor (unique visitors of the funnel) and per conversion (tracked conversions).
- Top products: the 20 products whose counted items (an upsell once its charge succeeded, as in the order's
  own totals) brought the most, less the refunds of those items.
"""
from sqlalchemy import and_, exists, func, literal_column, or_, select

from app.analytics.models import NO_ID
from app.analytics.reports import (
    Period,
    cached,
    per,
    percentage,
    rate,
    step_sums,
    sums_by_bucket,
    timeline,
    total_counters,
    uniques,
)
from app.extensions import db
from app.orders.models import PAID_STATUSES, Order, OrderItem, Payment, Product
from app.orders.services.reports import PENDING_PAYMENTS

TOP_PRODUCTS = 20
NET = Order.total_cents - Order.refunded_cents


def _orders(account, funnel, period: Period) -> list:
    """The conditions of the orders counted."""
    currency = (account.currency or "USD").upper()
    return [Order.account_id == account.id, Order.funnel_id == funnel.id, Order.status.in_(PAID_STATUSES),
            Order.created_at >= period.since, Order.created_at < period.until, func.upper(Order.currency) == currency]


def net_revenue(account, funnel, period: Period) -> int:
    """What the funnel's orders of the period took, less their refunds (cents)."""
    return int(db.session.execute(select(func.coalesce(func.sum(NET), 0)).where(*_orders(account, funnel, period)))
               .scalar_one())


def revenue(account, funnel, period: Period) -> dict:
    return cached("revenue", account, funnel.id, period.key(), lambda: _revenue(account, funnel, period))


def _revenue(account, funnel, period: Period) -> dict:
    conditions = _orders(account, funnel, period)
    gross, refunded = (int(value) for value in db.session.execute(
        select(func.coalesce(func.sum(Order.total_cents), 0), func.coalesce(func.sum(Order.refunded_cents), 0))
        .where(*conditions)).one())
    net = gross - refunded
    visitors = uniques(funnel, period, [NO_ID]).get(NO_ID, 0)
    conversions = total_counters(step_sums(funnel, period))["conversions"]

    by_source = db.session.execute(select(Order.traffic_source, func.sum(NET)).where(*conditions)
                                   .group_by(Order.traffic_source).order_by(func.sum(NET).desc(), Order.traffic_source))
    step_rows = {step_id: (int(cents), int(count)) for step_id, cents, count in db.session.execute(
        select(Order.step_id, func.sum(NET), func.count()).where(*conditions).group_by(Order.step_id))}
    by_step = []
    for step in funnel.steps:
        cents, count = step_rows.pop(step.id, (0, 0))
        by_step.append({"step_id": str(step.id), "step_name": step.name, "revenue_cents": cents, "orders": count,
                        "avg_order_value_cents": per(cents, count)})
    for step_id, (cents, count) in step_rows.items():  # no step recorded, or a step since deleted
        by_step.append({"step_id": str(step_id) if step_id else None, "step_name": "", "revenue_cents": cents,
                        "orders": count, "avg_order_value_cents": per(cents, count)})

    over_time = sums_by_bucket(period, Order.created_at, [NET, literal_column("1")], *conditions)
    series = []
    for local, timestamp in timeline(period):
        cents, count = over_time.get(local, (0, 0))
        series.append({"timestamp": timestamp, "revenue_cents": cents, "orders": count,
                       "avg_order_value_cents": per(cents, count)})

    counted = or_(OrderItem.kind.in_(("main", "bump")), exists().where(
        Payment.id == OrderItem.payment_id, Payment.status.not_in(PENDING_PAYMENTS)))
    item_revenue = func.sum(OrderItem.amount_cents - OrderItem.refunded_cents)
    products = db.session.execute(
        select(OrderItem.product_id, func.coalesce(func.max(Product.name), func.max(OrderItem.name)), item_revenue,
               func.sum(OrderItem.quantity))
        .join(Order, and_(Order.id == OrderItem.order_id))
        .outerjoin(Product, Product.id == OrderItem.product_id)
        .where(*conditions, counted).group_by(OrderItem.product_id)
        .order_by(item_revenue.desc(), func.max(OrderItem.name)).limit(TOP_PRODUCTS))
    return {
        "period": period.as_json(),
        "summary": {"total_revenue_cents": gross, "revenue_per_visitor_cents": per(net, visitors),
                    "revenue_per_conversion_cents": per(net, conversions), "refund_rate": rate(refunded, gross),
                    "net_revenue_cents": net},
        "by_source": [{"source": source, "revenue_cents": int(cents), "percentage": percentage(int(cents), net)}
                      for source, cents in by_source],
        "by_step": by_step,
        "over_time": series,
        "top_products": [{"product_id": str(product_id) if product_id else None, "product_name": name,
                          "revenue_cents": int(cents), "units_sold": int(units)}
                         for product_id, name, cents, units in products],
    }
