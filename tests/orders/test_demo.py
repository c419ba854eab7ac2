"""The demo workspace's shop: the sales funnel's products, bump and offers, and orders over 90 days."""
from datetime import timedelta

from sqlalchemy import func, select

from app.core.db import utcnow
from app.demo import seed_demo
from app.extensions import db
from app.funnels.models import Funnel
from app.orders.models import Order, OrderItem, Product, Refund, StepOffer
from app.orders.services import catalog


def test_the_demo_sales_funnel_sells_a_product_a_bump_an_upsell_and_a_downsell(client):
    account, _ = seed_demo()
    funnel = db.session.execute(select(Funnel).where(Funnel.name == "Swipe file offer")).scalar_one()
    steps = {step.step_type: step for step in funnel.steps}
    assert [o.price.product.name for o in catalog.step_offers(steps["order_form"], "main")] == [
        "Scroll-Stopper Swipe File"]
    assert [o.price.amount_cents for o in catalog.step_offers(steps["order_form"], "bump")] == [1700]
    assert catalog.step_offers(steps["upsell"], "offer")[0].price.amount_cents == 9700
    assert catalog.step_offers(steps["downsell"], "offer")[0].price.amount_cents == 3700
    # the published order form shows them
    page = f"/{funnel.slug}/{steps['order_form'].slug}"
    html = client.get(page, base_url="http://pages.example.com").get_data(as_text=True)
    assert "data-checkout" in html


def test_the_demo_has_a_few_dozen_orders_over_90_days_some_refunded_and_is_seeded_once():
    account, owner = seed_demo()
    seed_demo()
    orders = db.session.execute(select(Order).where(Order.account_id == account.id)).scalars().all()
    assert 30 <= len(orders) <= 60 and db.session.execute(select(func.count()).select_from(Product)).scalar() == 4
    assert min(order.created_at for order in orders) > utcnow() - timedelta(days=91)
    statuses = {order.status for order in orders}
    assert {"paid", "fulfilled", "refunded", "partially_refunded"} <= statuses
    kinds = set(db.session.execute(select(OrderItem.kind).distinct()).scalars())
    assert kinds == {"main", "bump", "upsell", "downsell"}
    assert db.session.execute(select(func.count()).select_from(Refund)).scalar() > 0
    for order in orders:  # the figures hold together
        assert order.total_cents == sum(item.amount_cents for item in order.items)
        assert order.refunded_cents <= order.total_cents
    assert db.session.execute(select(func.count()).select_from(StepOffer)).scalar() == 4
