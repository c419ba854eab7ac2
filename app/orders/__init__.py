"""Orders and payments: products, coupons, the checkout of order-form steps, one-click upsells, orders,
refunds, Stripe webhooks, receipts and the order analytics."""
from flask import Blueprint

bp = Blueprint("orders", __name__)

from app.orders import views  # noqa: E402,F401
