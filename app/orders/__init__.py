"""Orders and payments: products, coupons, the checkout of order-form steps, one-click upsells, orders,
refunds, Stripe webhooks, receipts and the order analytics."""
from flask import Blueprint

bp = Blueprint("orders", __name__)


@bp.app_template_global()
def payments_configured() -> bool:
    """Whether the app has its Stripe keys (the sales pages say so when it has not)."""
    from app.orders.gateway import configured

    return configured()


from app.orders import views  # noqa: E402,F401
