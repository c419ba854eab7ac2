"""Where a buyer came from: the checkout keeps the tracker's visitor, session and source on the order (cookies
lf_vid and lf_ses), and a paid order becomes one purchase conversion in the analytics, recorded by the server
(app/analytics/purchases.py through the order.paid job), however many times it is reported."""
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.analytics import ingest, purchases
from app.analytics.models import AnalyticsEvent, StepHour
from app.core import events
from app.extensions import db
from app.orders.services import checkout as checkout_service
from app.orders.services.orders import payload
from tests.conftest import run_jobs
from tests.orders.test_checkout import checkout, shop, the_order  # noqa: F401 (shop: a fixture)

VISITOR = "3b2f1d7e-4c1a-4e8b-9f0a-2d6c5b4a3e21"
SESSION = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")


def tracked(client, visitor=VISITOR, session=f"{SESSION}|google|cpc|spring-sale"):
    """The cookies track.js leaves on the site host."""
    client.set_cookie("lf_vid", visitor, domain="pages.example.com")
    client.set_cookie("lf_ses", session, domain="pages.example.com")


def purchases_of(order) -> list[AnalyticsEvent]:
    return db.session.execute(select(AnalyticsEvent).where(
        AnalyticsEvent.event_type == "conversion", AnalyticsEvent.conversion_type == "purchase",
        AnalyticsEvent.funnel_id == order.funnel_id)).scalars().all()


# ---- the cookies, read at checkout ----------------------------------------------------------------------

@pytest.mark.parametrize("visitor, session, expected", [
    (VISITOR, f"{SESSION}|google", (VISITOR, SESSION, "google")),
    (VISITOR.upper(), f"{SESSION}|Google%20Ads|cpc|spring", (VISITOR, SESSION, "google ads")),
    (VISITOR, f"{SESSION}|" + "x" * 300, (VISITOR, SESSION, "x" * 100)),
    (VISITOR, f"{SESSION}|", (VISITOR, SESSION, "direct")),
    ("not-a-uuid", "not-a-session|google", (None, None, "direct")),
    (None, None, (None, None, "direct")),
    ("", f"{SESSION}", (None, SESSION, "direct")),
])
def test_the_tracker_cookies_are_read_strictly(visitor, session, expected):
    found = checkout_service.attribution(visitor, session)
    assert (found["visitor_id"], found["session_id"], found["traffic_source"]) == expected


def test_the_checkout_keeps_visitor_session_and_source_on_the_order(client, shop):  # noqa: F811
    tracked(client)
    paid = checkout(client, shop)
    assert paid["status"] == "succeeded"
    order = the_order()
    assert (str(order.visitor_id), order.session_id, order.traffic_source) == (VISITOR, SESSION, "google")
    # What checkout.js hands to the tracker (an "lf:purchase" event) with the page it goes to next.
    assert paid["purchase"] == {"order_id": str(order.id), "value_cents": order.total_cents}


def test_without_tracker_cookies_the_order_is_direct(client, shop):  # noqa: F811
    checkout(client, shop)
    order = the_order()
    assert (order.visitor_id, order.session_id, order.traffic_source) == (None, None, "direct")


# ---- the purchase recorded by the server ------------------------------------------------------------------

def test_a_paid_order_is_one_purchase_conversion_even_when_reported_twice(app, client, shop):  # noqa: F811
    tracked(client)
    steps = shop["steps"]
    # The visitor's browser told the tracker earlier that it is an iPhone, on the order form.
    ingest.ingest_events([{
        "account_id": shop["account"].id, "funnel_id": shop["funnel"].id, "event_type": "step_entry",
        "visitor_id": VISITOR, "session_id": SESSION, "step_id": steps["order_form"].id,
        "page_id": steps["order_form"].page.id, "source": "google", "utm_medium": "cpc", "user_agent": IPHONE,
        "created_at": datetime.now(UTC)}])
    checkout(client, shop, bumps=[shop["bump"].id])
    run_jobs(app)  # the order.paid job
    order = the_order()
    found = purchases_of(order)
    assert len(found) == 1
    event = found[0]
    assert (event.value_cents, event.event_metadata["order_id"]) == (2400, str(order.id))
    assert (str(event.visitor_id), event.session_id, event.source) == (VISITOR, SESSION, "google")
    assert event.step_id == steps["order_form"].id and event.page_id == steps["order_form"].page.id
    assert (event.device_type, event.utm_medium) == ("mobile", "cpc")
    # order.paid again (a webhook after the checkout), and the browser's own report: still one.
    events.publish("order.paid", **payload(order))
    run_jobs(app)
    ingest.ingest_events([{
        "account_id": order.account_id, "funnel_id": order.funnel_id, "event_type": "conversion",
        "conversion_type": "purchase", "value_cents": 2400, "visitor_id": VISITOR, "session_id": SESSION,
        "step_id": steps["order_form"].id, "metadata": {"order_id": str(order.id)}, "source": "google"}])
    assert purchases.record(order.id) == 0
    assert len(purchases_of(order)) == 1
    conversions, value = db.session.execute(
        select(func.sum(StepHour.conversions), func.sum(StepHour.conversion_value_cents))
        .where(StepHour.funnel_id == order.funnel_id)).one()
    assert (conversions, value) == (1, 2400)


def test_an_order_without_a_visitor_still_counts_its_revenue(app, client, shop):  # noqa: F811
    checkout(client, shop)
    run_jobs(app)
    order = the_order()
    event = purchases_of(order)[0]
    assert event.visitor_id == purchases.order_visitor_id(order.id) == uuid.uuid5(purchases.ORDER_VISITORS,
                                                                                 f"visitor:{order.id}")
    assert (event.source, event.value_cents, event.device_type) == ("direct", order.total_cents, "desktop")
    assert event.session_id == f"order-{order.id}"


def test_an_order_outside_a_funnel_or_unpaid_is_not_a_purchase(shop):  # noqa: F811
    from app.orders.models import Order

    account = shop["account"]
    order = Order(account_id=account.id, number=1, status="pending", email="a@example.com", checkout_key="k",
                  funnel_id=shop["funnel"].id)
    db.session.add(order)
    db.session.commit()
    assert purchases.record(order.id) == 0  # not paid
    assert purchases.purchase_event(type("Bare", (), {"funnel_id": None})()) is None
    assert purchases.record(uuid.uuid4()) == 0
