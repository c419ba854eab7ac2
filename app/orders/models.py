"""Orders and payments: products and their prices, coupons, the offers of a funnel's steps, orders with
their items, the payments (Stripe PaymentIntents) and refunds behind them, and the Stripe events received.

Money is always an integer number of cents (minor units) with its ISO currency code.
"""
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.assets.models import Asset
from app.auth.models import User
from app.core.db import JSONType, TenantMixin, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow
from app.extensions import db

PRODUCT_STATUSES = ("active", "archived")
CURRENCIES = ("usd", "eur", "gbp", "cad", "aud", "chf", "sek", "nok", "dkk", "jpy")

OFFER_ROLES = {"main": "Product", "bump": "Order bump", "offer": "One-click offer"}
ITEM_KINDS = {"main": "Product", "bump": "Order bump", "upsell": "Upsell", "downsell": "Downsell"}

ORDER_STATUSES = {
    "pending": "Pending",
    "abandoned": "Abandoned",
    "paid": "Paid",
    "fulfilled": "Fulfilled",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "partially_refunded": "Partially refunded",
    "refunded": "Refunded",
}
# What an order may become from each status. A declined card leaves the order failed, and the visitor may
# try again (failed -> paid); an abandoned checkout may still be paid when the visitor comes back.
ORDER_TRANSITIONS = {
    "pending": {"paid", "failed", "cancelled", "abandoned"},
    "abandoned": {"paid", "failed", "cancelled"},
    "failed": {"paid", "cancelled", "abandoned"},
    "paid": {"fulfilled", "partially_refunded", "refunded"},
    "fulfilled": {"partially_refunded", "refunded"},
    "partially_refunded": {"partially_refunded", "refunded"},
    "refunded": set(),
    "cancelled": set(),
}
PAID_STATUSES = ("paid", "fulfilled", "partially_refunded", "refunded")  # money was taken

REFUND_REASONS = {
    "requested_by_customer": "Requested by the customer",
    "duplicate": "Duplicate",
    "fraudulent": "Fraudulent",
    "other": "Other",
}


class Product(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "products"
    __table_args__ = (Index("ix_products_account_name", "account_id", "name"),)
    __url_param__ = "product_id"

    name: Mapped[str] = mapped_column(String(160), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    image_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("assets.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="active")

    image: Mapped[Asset | None] = relationship()
    prices: Mapped[list["Price"]] = relationship(back_populates="product", order_by="Price.position",
                                                 cascade="all, delete-orphan")

    @property
    def active_prices(self) -> list["Price"]:
        return [price for price in self.prices if price.active]


class Price(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """A one-time price of a product. A price in use by orders is never changed: archive it and add another."""

    __tablename__ = "prices"
    __url_param__ = "price_id"

    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="CASCADE"), index=True, nullable=False)
    label: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="usd")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    product: Mapped[Product] = relationship(back_populates="prices")


class Coupon(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """A code the visitor types on the order form: percent_off or amount_off_cents (in `currency`)."""

    __tablename__ = "coupons"
    __table_args__ = (Index("uq_coupons_account_code", "account_id", text("lower(code)"), unique=True),)
    __url_param__ = "coupon_id"

    code: Mapped[str] = mapped_column(String(40), nullable=False)
    percent_off: Mapped[int | None] = mapped_column(Integer)
    amount_off_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    times_redeemed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class StepOffer(UUIDPrimaryKey, TenantMixin, db.Model):
    """What a funnel step sells: on an order form its products ("main") and order bumps ("bump"); on an
    upsell or downsell step its one-click offer ("offer")."""

    __tablename__ = "step_offers"
    __table_args__ = (UniqueConstraint("step_id", "price_id"),)
    __url_param__ = "offer_id"

    step_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("funnel_steps.id", ondelete="CASCADE"), index=True, nullable=False)
    price_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("prices.id", ondelete="CASCADE"), index=True, nullable=False)
    role: Mapped[str] = mapped_column(String(10), nullable=False, default="main")
    pitch: Mapped[str] = mapped_column(String(300), nullable=False, default="")  # the bump's checkbox line
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    price: Mapped[Price] = relationship()


class OrderCounter(db.Model):
    """The last order number of each workspace: numbers are taken by UPDATE ... RETURNING (a row lock),
    so two checkouts at once get distinct, consecutive numbers."""

    __tablename__ = "order_counters"

    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("accounts.id", ondelete="CASCADE"),
                                                  primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, nullable=False, default=1000)


class Order(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("account_id", "number"),
        Index("ix_orders_account_created", "account_id", "created_at"),
        Index("ix_orders_account_status", "account_id", "status"),
    )
    __url_param__ = "order_id"

    number: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    funnel_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("funnels.id", ondelete="SET NULL"), index=True)
    step_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("funnel_steps.id", ondelete="SET NULL"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("crm_contacts.id", ondelete="SET NULL"), index=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False, default="")
    first_name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    last_name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    phone: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    address: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="usd")
    subtotal_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    discount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    refunded_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("coupons.id", ondelete="SET NULL"))
    coupon_code: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    # The visitor's checkout: a random key kept in a signed cookie on the site (which order the upsell
    # buttons add to) and the prefix of every idempotency key sent to Stripe for this order.
    checkout_key: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64))
    stripe_setup_intent_id: Mapped[str | None] = mapped_column(String(64))
    stripe_payment_method_id: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    receipt_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the buyer came from, read from the tracker's cookies at checkout (analytics' revenue by source).
    visitor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    session_id: Mapped[str | None] = mapped_column(String(100))
    traffic_source: Mapped[str] = mapped_column(String(100), nullable=False, default="direct")

    items: Mapped[list["OrderItem"]] = relationship(back_populates="order", order_by="OrderItem.position",
                                                    cascade="all, delete-orphan")
    payments: Mapped[list["Payment"]] = relationship(back_populates="order", order_by="Payment.created_at",
                                                     cascade="all, delete-orphan")
    refunds: Mapped[list["Refund"]] = relationship(back_populates="order", order_by="Refund.created_at",
                                                   cascade="all, delete-orphan")
    events: Mapped[list["OrderEvent"]] = relationship(back_populates="order", order_by="OrderEvent.id",
                                                      cascade="all, delete-orphan")

    @property
    def status_label(self) -> str:
        return ORDER_STATUSES.get(self.status, self.status)

    @property
    def customer_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.email

    @property
    def refundable_cents(self) -> int:
        return self.total_cents - self.refunded_cents if self.status in PAID_STATUSES else 0


class Payment(UUIDPrimaryKey, TenantMixin, Timestamps, db.Model):
    """One charge of the order's card: the checkout's PaymentIntent, then one per accepted offer."""

    __tablename__ = "payments"
    __url_param__ = "payment_id"

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True, nullable=False)
    purpose: Mapped[str] = mapped_column(String(10), nullable=False, default="checkout")  # or upsell, downsell
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(64), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(30), nullable=False, default="created")
    refunded_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    failure_message: Mapped[str] = mapped_column(String(300), nullable=False, default="")

    order: Mapped[Order] = relationship(back_populates="payments")


class OrderItem(UUIDPrimaryKey, TenantMixin, db.Model):
    __tablename__ = "order_items"
    __url_param__ = "item_id"

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False, default="main")
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="SET NULL"), index=True)
    price_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("prices.id", ondelete="SET NULL"))
    step_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("funnel_steps.id", ondelete="SET NULL"))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("payments.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(160), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    unit_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    discount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)  # after its share of the discount
    refunded_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    order: Mapped[Order] = relationship(back_populates="items")
    payment: Mapped[Payment | None] = relationship()

    @property
    def kind_label(self) -> str:
        return ITEM_KINDS.get(self.kind, self.kind)

    @property
    def refundable_cents(self) -> int:
        return self.amount_cents - self.refunded_cents


class Refund(UUIDPrimaryKey, TenantMixin, db.Model):
    __tablename__ = "refunds"
    __url_param__ = "refund_id"

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True, nullable=False)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("payments.id", ondelete="SET NULL"))
    item_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("order_items.id", ondelete="SET NULL"))
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reason: Mapped[str] = mapped_column(String(30), nullable=False, default="requested_by_customer")
    note: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    stripe_refund_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="succeeded")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    order: Mapped[Order] = relationship(back_populates="refunds")
    item: Mapped[OrderItem | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def reason_label(self) -> str:
        return REFUND_REASONS.get(self.reason, self.reason)


class OrderEvent(TenantMixin, db.Model):
    """The order's history as the detail page shows it: status changes, payments, refunds, Stripe events."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(60), nullable=False)  # e.g. order.paid, payment_intent.succeeded
    message: Mapped[str] = mapped_column(String(300), nullable=False)
    data: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    order: Mapped[Order] = relationship(back_populates="events")


class StripeEvent(db.Model):
    """Every Stripe webhook event received, once (its id is the key): a second delivery changes nothing."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    type: Mapped[str] = mapped_column(String(80), nullable=False)
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id", ondelete="CASCADE"),
                                                         index=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="SET NULL"))
    payload: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    outcome: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
