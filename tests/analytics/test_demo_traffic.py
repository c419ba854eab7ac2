"""The demo workspace's traffic (app/analytics/demo.py): 90 days of visitors for each demo funnel, seeded
once, and the demo's orders with the sources a tracked checkout would have recorded."""
from datetime import timedelta

from sqlalchemy import func, select

from app.analytics import demo
from app.analytics.models import AnalyticsEvent, StepHour
from app.core.db import utcnow
from app.demo import seed_demo
from app.extensions import db
from app.funnels.demo import DEMO_FUNNELS
from app.funnels.models import Funnel
from app.orders.models import Order


def test_each_demo_funnel_gets_90_days_of_traffic_once():
    account, owner = seed_demo()
    funnels = {funnel.name: funnel for funnel in db.session.execute(
        select(Funnel).where(Funnel.account_id == account.id)).scalars()}
    for _, name, _ in DEMO_FUNNELS:
        funnel = funnels[name]
        count, first, last, visitors = db.session.execute(
            select(func.count(), func.min(AnalyticsEvent.created_at), func.max(AnalyticsEvent.created_at),
                   func.count(AnalyticsEvent.visitor_id.distinct())).where(AnalyticsEvent.funnel_id == funnel.id)).one()
        assert count == demo.DEMO_EVENTS[name]
        assert visitors >= 800  # about a thousand visitors a funnel
        assert first > utcnow() - timedelta(days=90, minutes=1) and last > utcnow() - timedelta(days=1)
        page_views = db.session.execute(select(func.sum(StepHour.page_views))
                                        .where(StepHour.funnel_id == funnel.id)).scalar()
        assert page_views > 0
    sales = funnels["Swipe file offer"]
    purchases = db.session.execute(select(AnalyticsEvent.value_cents).where(
        AnalyticsEvent.funnel_id == sales.id, AnalyticsEvent.conversion_type == "purchase")).scalars().all()
    assert purchases and {700, 2400} == set(purchases)  # the swipe file, with the bump now and then
    sources = set(db.session.execute(select(Order.traffic_source).where(Order.funnel_id == sales.id)).scalars())
    assert len(sources) >= 4
    total = db.session.execute(select(func.count()).select_from(AnalyticsEvent)).scalar()
    demo.seed_analytics(account, owner)  # seeded once
    assert db.session.execute(select(func.count()).select_from(AnalyticsEvent)).scalar() == total
