"""The orders blueprint's routes, a module per page family (imported so that their routes register)."""
from app.orders.views import analytics, checkout, coupons, offers, orders, products, webhooks  # noqa: F401
