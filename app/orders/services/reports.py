"""Order analytics: the figures of a date range (revenue, refunds, take rates of bumps and offers, abandoned
checkouts), per funnel, per product and per day, each aggregated by the database (GROUP BY), so the page
runs the same few statements whatever the number of orders.

- Days are the workspace's (account.timezone): a range is [start of `start`, start of the day after `end`).
- Money is the workspace's currency (account.currency): orders in another currency are left out of every
  figure and only counted, per currency, in `other_currencies` (the page says so).
- Revenue is the money taken: the totals of orders paid in the range (statuses paid, fulfilled, partially
  refunded, refunded; by paid_at). Refunds are the Refund rows created in the range (by created_at),
  whatever day their order was paid; net revenue is revenue minus refunds.
- Take rates: bump = paid orders with a bump item / paid orders whose order-form step offers a bump (or
  that have one); upsell = paid orders with an accepted upsell / paid orders that reached an upsell (their
  funnel has an upsell step with an offer, or they have an upsell item); downsell = paid orders with an
  accepted downsell / paid orders that reached a downsell (their funnel has a downsell step with an offer
  and they took no upsell, or they have a downsell item). An offer counts as accepted once its charge
  succeeded, as in the order's totals (services.orders.counted_items).
"""
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import (
    BigInteger,
    Date,
    String,
    Uuid,
    and_,
    cast,
    column,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    table,
    union_all,
)

from app.core import dates
from app.core.db import UTCDateTime
from app.core.errors import ValidationError
from app.core.validation import as_uuid
from app.extensions import db
from app.orders.models import ITEM_KINDS, PAID_STATUSES, Order, OrderItem, Payment, Product, Refund, StepOffer

DEFAULT_DAYS = 30
MAX_DAYS = 366  # a year, a leap year's included
PENDING_PAYMENTS = ("failed", "created", "requires_action")  # an offer's item that is not (yet) money

# Funnels and their steps are read as plain tables, not through app.funnels' models: the funnels package may
# come to import orders (a step's products), and packages must not import each other in a cycle.
_funnels = table("funnels", column("id", Uuid), column("account_id", Uuid), column("name", String),
                 column("deleted_at", UTCDateTime))
_steps = table("funnel_steps", column("id", Uuid), column("funnel_id", Uuid), column("step_type", String))


@dataclass(frozen=True)
class Period:
    """A range of whole days in a time zone, both ends included."""

    start: date
    end: date
    zone_name: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def since(self):
        return dates.start_of_day(self.start, self.zone_name)

    @property
    def until(self):
        return dates.start_of_day(self.end + timedelta(days=1), self.zone_name)

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.days)]


@dataclass
class Report:
    period: Period
    currency: str
    funnel_id: uuid.UUID | None
    revenue_cents: int = 0
    refunds_cents: int = 0
    paid_orders: int = 0
    bump_orders: int = 0
    bump_offered: int = 0
    upsell_orders: int = 0
    upsell_reached: int = 0
    downsell_orders: int = 0
    downsell_reached: int = 0
    abandoned: int = 0
    funnels: list[dict] = field(default_factory=list)
    products: list[dict] = field(default_factory=list)
    unassigned_refunds_cents: int = 0  # refunds of a whole order, not of one item (no product to put them on)
    days: list[dict] = field(default_factory=list)
    other_currencies: list[tuple[str, int]] = field(default_factory=list)  # (CURRENCY, paid orders left out)

    @property
    def net_revenue_cents(self) -> int:
        return self.revenue_cents - self.refunds_cents

    @property
    def average_order_cents(self) -> int | None:
        return round(self.revenue_cents / self.paid_orders) if self.paid_orders else None

    @staticmethod
    def rate(taken: int, offered: int) -> float | None:
        """A share from 0 to 1, None when nobody was offered anything."""
        return taken / offered if offered else None

    @property
    def bump_rate(self):
        return self.rate(self.bump_orders, self.bump_offered)

    @property
    def upsell_rate(self):
        return self.rate(self.upsell_orders, self.upsell_reached)

    @property
    def downsell_rate(self):
        return self.rate(self.downsell_orders, self.downsell_reached)

    @property
    def is_empty(self) -> bool:
        return not (self.paid_orders or self.refunds_cents or self.abandoned)

    def chart(self) -> dict:
        """What static/js/charts.js draws: a label per day, revenue in major units, paid orders."""
        return {"currency": self.currency,
                "labels": [day["day"].isoformat() for day in self.days],
                "revenue": [day["revenue_cents"] / 100 for day in self.days],
                "orders": [day["orders"] for day in self.days]}


# ---- reading the request's range ------------------------------------------------------------------------

def read_period(account, raw_from, raw_to) -> Period:
    """The days asked for (YYYY-MM-DD, either may be empty): the last 30 days by default, ending today in
    the workspace's time zone; a 422 naming the field for a date that is not one, an end before the start
    or more than a year."""
    zone_name = dates.zone(account.timezone).key
    start = dates.read_date(raw_from, "from")
    end = dates.read_date(raw_to, "to")
    if start is None and end is None:
        end = dates.today(zone_name)
    elif end is None:  # the 30 days from the start, up to today
        end = max(start, min(start + timedelta(days=DEFAULT_DAYS - 1), dates.today(zone_name)))
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise ValidationError("The end date is before the start date.", field="to")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationError("Choose a range of at most a year (366 days).", field="from")
    if not (dates.in_range(start - timedelta(days=1)) and dates.in_range(end + timedelta(days=1))):
        raise ValidationError(f"Use a date {dates.RANGE_TEXT}.", field="from")
    return Period(start, end, zone_name)


def read_funnel(account, raw) -> uuid.UUID | None:
    """The funnel filter: one of the workspace's funnels (deleted ones included: their orders stay)."""
    funnel_id = as_uuid(raw, "funnel", "funnel")
    if funnel_id is None:
        return None
    found = db.session.execute(select(_funnels.c.id).where(_funnels.c.id == funnel_id,
                                                           _funnels.c.account_id == account.id)).first()
    if found is None:
        raise ValidationError("That funnel does not exist in this workspace.", field="funnel")
    return funnel_id


def funnel_choices(account) -> list[tuple[str, str]]:
    """(id, name) of the workspace's funnels, for the filter."""
    rows = db.session.execute(select(_funnels.c.id, _funnels.c.name).where(
        _funnels.c.account_id == account.id, _funnels.c.deleted_at.is_(None)).order_by(_funnels.c.name))
    return [(str(funnel_id), name) for funnel_id, name in rows]


# ---- the report --------------------------------------------------------------------------------------------

def _counted(kind: str):
    """The order has an item of `kind` that is part of its money (an offer once its charge succeeded)."""
    condition = OrderItem.kind == kind
    if kind not in ("main", "bump"):
        condition = and_(condition, exists().where(Payment.id == OrderItem.payment_id,
                                                   Payment.status.not_in(PENDING_PAYMENTS)))
    return exists().where(OrderItem.order_id == Order.id, condition)


def _any_item(kind: str):
    return exists().where(OrderItem.order_id == Order.id, OrderItem.kind == kind)


def _funnel_offers(step_type: str):
    """The order's funnel has a step of this type with a one-click offer."""
    return exists().where(_steps.c.funnel_id == Order.funnel_id, _steps.c.step_type == step_type,
                          StepOffer.step_id == _steps.c.id)


def _count_if(condition):
    return func.count().filter(condition)


def _per_day(period, *conditions) -> dict:
    """{day: (orders, revenue cents)} of the paid orders, days in the workspace's zone: grouped by PostgreSQL;
    on SQLite (`make run` without DATABASE_URL), which has no time zones, grouped here."""
    if db.session.get_bind().dialect.name == "postgresql":
        day = cast(func.timezone(period.zone_name, Order.paid_at), Date)
        return {found: (orders, cents) for found, orders, cents in db.session.execute(
            select(day, func.count(), func.coalesce(func.sum(Order.total_cents), 0)).where(*conditions)
            .group_by(day))}
    zone = dates.zone(period.zone_name)
    totals: dict = {}
    for paid_at, cents in db.session.execute(select(Order.paid_at, Order.total_cents).where(*conditions)):
        orders, revenue = totals.get(paid_at.astimezone(zone).date(), (0, 0))
        totals[paid_at.astimezone(zone).date()] = (orders + 1, revenue + cents)
    return totals


def build(account, period: Period, funnel_id: uuid.UUID | None = None) -> Report:
    """The figures of the range: seven statements, whatever the number of orders."""
    currency = (account.currency or "USD").upper()
    report = Report(period=period, currency=currency, funnel_id=funnel_id)
    in_currency = func.upper(Order.currency) == currency
    funnel = Order.funnel_id == funnel_id if funnel_id else literal(True)
    paid = and_(Order.account_id == account.id, Order.status.in_(PAID_STATUSES), Order.paid_at >= period.since,
                Order.paid_at < period.until, funnel)
    refunded = and_(Refund.account_id == account.id, Refund.status == "succeeded",
                    Refund.created_at >= period.since, Refund.created_at < period.until, funnel, in_currency)

    # 1. the headline figures and the take rates
    has_bump, has_upsell = _counted("bump"), _counted("upsell")
    bump_offered = exists().where(StepOffer.step_id == Order.step_id, StepOffer.role == "bump")
    row = db.session.execute(select(
        func.count(), func.coalesce(func.sum(Order.total_cents), 0),
        _count_if(has_bump), _count_if(or_(bump_offered, _any_item("bump"))),
        _count_if(has_upsell), _count_if(or_(_funnel_offers("upsell"), _any_item("upsell"))),
        _count_if(_counted("downsell")),
        _count_if(or_(and_(_funnel_offers("downsell"), not_(has_upsell)), _any_item("downsell"))),
    ).where(paid, in_currency)).one()
    (report.paid_orders, report.revenue_cents, report.bump_orders, report.bump_offered, report.upsell_orders,
     report.upsell_reached, report.downsell_orders, report.downsell_reached) = (int(value) for value in row)

    # 2. refunds, in all and of a whole order (no item)
    row = db.session.execute(select(func.coalesce(func.sum(Refund.amount_cents), 0),
                                    func.coalesce(func.sum(Refund.amount_cents).filter(Refund.item_id.is_(None)), 0))
                             .join(Order, Order.id == Refund.order_id).where(refunded)).one()
    report.refunds_cents, report.unassigned_refunds_cents = int(row[0]), int(row[1])

    # 3. checkouts abandoned in the range
    report.abandoned = db.session.execute(select(func.count()).select_from(Order).where(
        Order.account_id == account.id, Order.status == "abandoned", funnel,
        func.coalesce(Order.abandoned_at, Order.created_at) >= period.since,
        func.coalesce(Order.abandoned_at, Order.created_at) < period.until)).scalar_one()

    # 4. per day, in the workspace's time zone (days without orders are zeros)
    per_day = _per_day(period, paid, in_currency)
    report.days = [{"day": each, "orders": int(per_day.get(each, (0, 0))[0]),
                    "revenue_cents": int(per_day.get(each, (0, 0))[1])} for each in period.each_day()]

    # 5. per funnel: orders and revenue of the paid orders, and the refunds of the range, by funnel (the two
    # groupings stacked, then added up: an order without a funnel is the group of NULL)
    zero = literal(0, BigInteger)
    combined = union_all(
        select(Order.funnel_id.label("key"), func.count().label("orders"),
               func.sum(Order.total_cents).label("revenue"), zero.label("refunds"))
        .where(paid, in_currency).group_by(Order.funnel_id),
        select(Order.funnel_id, zero, zero, func.sum(Refund.amount_cents))
        .join(Order, Order.id == Refund.order_id).where(refunded).group_by(Order.funnel_id),
    ).subquery()
    revenue = func.sum(combined.c.revenue)
    rows = db.session.execute(
        select(combined.c.key, _funnels.c.name, _funnels.c.deleted_at, func.sum(combined.c.orders), revenue,
               func.sum(combined.c.refunds))
        .outerjoin(_funnels, _funnels.c.id == combined.c.key)
        .group_by(combined.c.key, _funnels.c.name, _funnels.c.deleted_at)
        .order_by(revenue.desc(), _funnels.c.name))
    report.funnels = [{"funnel_id": key, "name": name, "deleted": deleted is not None, "orders": int(orders),
                       "revenue_cents": int(revenue), "refunds_cents": int(refund),
                       "average_cents": round(int(revenue) / int(orders)) if orders else None}
                      for key, name, deleted, orders, revenue, refund in rows]

    # 6. per product: units by kind and revenue of the items counted, and the refunds of its items
    counted_item = or_(OrderItem.kind.in_(("main", "bump")), exists().where(
        Payment.id == OrderItem.payment_id, Payment.status.not_in(PENDING_PAYMENTS)))
    combined = union_all(
        select(OrderItem.product_id.label("key"),
               *(func.coalesce(func.sum(OrderItem.quantity).filter(OrderItem.kind == kind), 0).label(kind)
                 for kind in ITEM_KINDS),
               func.sum(OrderItem.amount_cents).label("revenue"), zero.label("refunds"))
        .join(Order, Order.id == OrderItem.order_id).where(paid, in_currency, counted_item)
        .group_by(OrderItem.product_id),
        select(OrderItem.product_id, *(zero for _ in ITEM_KINDS), zero, func.sum(Refund.amount_cents))
        .join(OrderItem, OrderItem.id == Refund.item_id).join(Order, Order.id == Refund.order_id)
        .where(refunded).group_by(OrderItem.product_id),
    ).subquery()
    revenue = func.sum(combined.c.revenue)
    rows = db.session.execute(
        select(combined.c.key, Product.name, *(func.sum(combined.c[kind]) for kind in ITEM_KINDS), revenue,
               func.sum(combined.c.refunds))
        .outerjoin(Product, Product.id == combined.c.key)
        .group_by(combined.c.key, Product.name)
        .order_by(revenue.desc(), Product.name))
    report.products = []
    for row in rows:
        units = {kind: int(value) for kind, value in zip(ITEM_KINDS, row[2:2 + len(ITEM_KINDS)])}
        report.products.append({"product_id": row[0], "name": row[1], "units": units,
                                "total_units": sum(units.values()), "revenue_cents": int(row[-2]),
                                "refunds_cents": int(row[-1])})

    # 7. paid orders in other currencies, left out of every figure above
    report.other_currencies = [(code.upper(), int(count)) for code, count in db.session.execute(
        select(func.upper(Order.currency), func.count()).where(paid, not_(in_currency))
        .group_by(func.upper(Order.currency)).order_by(func.upper(Order.currency)))]
    return report
