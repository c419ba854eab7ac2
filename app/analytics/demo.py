"""Analytics part of the demo workspace (idempotent): 90 days of generated traffic for each demo funnel
(app/analytics/generator.py, about a thousand visitors each, through the ingest: raw events and rollups), and
the demo's past orders given the traffic sources a tracked checkout would have recorded, so revenue by
source has something to show. A funnel that has traffic already is left alone; so are orders with a source.
Small enough for `make run` on SQLite (a few seconds)."""
import random

from sqlalchemy import select

from app.analytics import generator
from app.analytics.models import StepHour
from app.extensions import db
from app.funnels.models import Funnel
from app.orders.models import Order

DEMO_DAYS = 90
SEED = 2026
# Events per demo funnel (by name, app/funnels/demo.py): about 9 events a visitor.
DEMO_EVENTS = {"Free playbook: Inbox to Income": 10_000, "Swipe file offer": 8_000}
DEFAULT_EVENTS = 8_000
RECENT_EVENTS = 300  # of those, in the last 24 hours


def _has_traffic(funnel: Funnel) -> bool:
    return db.session.execute(select(StepHour.funnel_id).where(StepHour.funnel_id == funnel.id).limit(1)
                              ).first() is not None


def seed_analytics(account, owner) -> None:
    from app.funnels.demo import DEMO_FUNNELS

    for number, (_, name, _) in enumerate(DEMO_FUNNELS):
        funnel = db.session.execute(select(Funnel).where(Funnel.account_id == account.id, Funnel.name == name,
                                                         Funnel.deleted_at.is_(None))).scalar_one_or_none()
        if funnel is None or _has_traffic(funnel):
            continue
        total = DEMO_EVENTS.get(name, DEFAULT_EVENTS)
        # The last day gets its own share: with a thousand visitors over 90 days, chance could leave the
        # day before the demo opens empty (the "last 7 days" and realtime views then look broken).
        generator.generate(funnel, total - RECENT_EVENTS, DEMO_DAYS, seed=SEED + number)
        generator.generate(funnel, RECENT_EVENTS, 1, seed=SEED + 100 + number)
        _attribute_orders(account, funnel, random.Random(SEED + number))


def _attribute_orders(account, funnel: Funnel, rng: random.Random) -> None:
    """The funnel's demo orders (made without a browser) get a source drawn like the generated traffic's."""
    orders = db.session.execute(select(Order).where(
        Order.account_id == account.id, Order.funnel_id == funnel.id, Order.visitor_id.is_(None),
        Order.traffic_source == "direct").order_by(Order.number)).scalars().all()
    names = [source[1] for source in generator.SOURCES]
    weights = [source[0] for source in generator.SOURCES]
    for order in orders:
        order.traffic_source = rng.choices(names, weights)[0]
    db.session.commit()
