"""Order analytics: the figures of a known set of orders, the range in the workspace's time zone, the
range's validation, the empty state, the chart's data and the constant number of statements."""
import json
import re
from datetime import UTC, date, datetime

import pytest

from app.extensions import db
from app.orders.models import Refund, StepOffer
from app.orders.services import reports
from tests import factories

NOV = {"from": "2026-11-01", "to": "2026-11-30"}


def at(day: int, hour: int = 12, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def refund(order, cents: int, when: datetime, item=None) -> Refund:
    row = Refund(account_id=order.account_id, order_id=order.id, item_id=item.id if item else None,
                 amount_cents=cents, created_at=when)
    db.session.add(row)
    db.session.commit()
    return row


def make_product(account, name, amount_cents, currency="usd"):
    return factories.make_product(account, name, amount_cents, currency)


def make_order(account, items, **fields):
    """factories.make_order without autoflush: its payments join the session with their items, and a lazy load
    of an expired price or product in between would flush the half-built order (a warning, an error here)."""
    with db.session.no_autoflush:
        return factories.make_order(account, items, **fields)


def chart_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="analytics-chart-data">(.*?)</script>', html, re.S)
    assert found, "the page carries the chart's data"
    return json.loads(found.group(1))


def figure(html: str, name: str) -> str:
    found = re.search(rf'id="fig-{name}">([^<]*)<', html)
    assert found, name
    return found.group(1).strip()


@pytest.fixture
def shop(owner):
    """Four paid orders in November (USD), a refund of an item and one of a whole order, and what must not
    count: a pending and an abandoned checkout, an order paid in October, another workspace's order and an
    order in euros."""
    user, account = owner
    funnel = factories.populate_funnels(account, user)
    from app.funnels import services as funnels
    from app.funnels.models import Funnel

    sales = db.session.get(Funnel, funnel["funnel_id"])
    upsell_step = funnels.add_step(account, sales, {"name": "Upsell", "slug": "upsell", "step_type": "upsell"})
    downsell_step = funnels.add_step(account, sales, {"name": "Downsell", "slug": "downsell",
                                                      "step_type": "downsell"})
    db.session.commit()
    _, course = make_product(account, "Course", 10_000)
    _, bump = make_product(account, "Checklist", 2_000)
    _, upsell = make_product(account, "Coaching", 5_000)
    _, downsell = make_product(account, "Workbook", 3_000)
    order_step = funnel["step_id"]
    db.session.add_all([StepOffer(account_id=account.id, step_id=order_step, price_id=bump.id, role="bump"),
                        StepOffer(account_id=account.id, step_id=upsell_step.id, price_id=upsell.id, role="offer"),
                        StepOffer(account_id=account.id, step_id=downsell_step.id, price_id=downsell.id,
                                  role="offer")])
    db.session.commit()

    with_bump = make_order(account, [(course, "main"), (bump, "bump")], created_at=at(10),
                           funnel_id=sales.id)                                     # 120.00
    with_upsell = make_order(account, [(course, "main"), (upsell, "upsell")], created_at=at(10, 20),
                             funnel_id=sales.id)                                   # 150.00
    refunded = make_order(account, [(course, "main")], status="refunded", created_at=at(12),
                          funnel_id=sales.id)                                      # 100.00
    make_order(account, [(course, "main"), (downsell, "downsell")], status="fulfilled",
               created_at=at(25))                                  # 130.00, no funnel
    for order in (with_bump, with_upsell, refunded):
        order.step_id = order_step  # the order form offering the bump
    db.session.commit()
    refund(refunded, 10_000, at(20), item=refunded.items[0])
    refund(with_bump, 500, at(21))  # of the whole order
    refund(with_bump, 700, at(28, month=10))  # before the range: not counted

    make_order(account, [(course, "main")], status="pending", created_at=at(11))
    abandoned = make_order(account, [(course, "main")], status="abandoned", created_at=at(14))
    abandoned.paid_at, abandoned.abandoned_at = None, at(14, 13)
    make_order(account, [(course, "main")], created_at=at(31, 23, month=10))  # October
    _, euro = make_product(account, "Kurs", 9_000, currency="eur")
    make_order(account, [(euro, "main")], created_at=at(15))
    db.session.commit()

    other_user = factories.make_user("other@example.com")
    other = factories.make_account(other_user, "Other")
    _, theirs = make_product(other, "Theirs", 99_900)
    refund(make_order(other, [(theirs, "main")], created_at=at(10)), 99_900, at(11))
    return {"account": account, "user": user, "funnel_id": sales.id, "course": course}


def test_figures_of_a_known_set_of_orders(shop):
    account = shop["account"]
    report = reports.build(account, reports.read_period(account, NOV["from"], NOV["to"]))
    assert report.currency == "USD"
    assert report.paid_orders == 4
    assert report.revenue_cents == 12_000 + 15_000 + 10_000 + 13_000
    assert report.refunds_cents == 10_500
    assert report.net_revenue_cents == 50_000 - 10_500
    assert report.average_order_cents == 12_500
    # a bump on 1 of the 3 orders whose order form offered one
    assert (report.bump_orders, report.bump_offered) == (1, 3)
    # the funnel offers an upsell: its 3 orders reached it (the 4th, without a funnel, did not)
    assert (report.upsell_orders, report.upsell_reached) == (1, 3)
    # the downsell: reached by the funnel's 2 orders that declined the upsell, and the order that took one
    assert (report.downsell_orders, report.downsell_reached) == (1, 3)
    assert report.abandoned == 1
    assert report.other_currencies == [("EUR", 1)]

    funnels = {row["name"] or "none": row for row in report.funnels}
    assert funnels["Lead magnet"]["orders"] == 3
    assert funnels["Lead magnet"]["revenue_cents"] == 37_000
    assert funnels["Lead magnet"]["refunds_cents"] == 10_500
    assert funnels["Lead magnet"]["average_cents"] == round(37_000 / 3)
    assert funnels["none"]["orders"] == 1 and funnels["none"]["revenue_cents"] == 13_000

    products = {row["name"]: row for row in report.products}
    assert products["Course"]["units"] == {"main": 4, "bump": 0, "upsell": 0, "downsell": 0}
    assert products["Course"]["revenue_cents"] == 40_000
    assert products["Course"]["refunds_cents"] == 10_000
    assert products["Checklist"]["units"]["bump"] == 1 and products["Checklist"]["revenue_cents"] == 2_000
    assert products["Coaching"]["units"]["upsell"] == 1
    assert products["Workbook"]["units"]["downsell"] == 1
    assert "Kurs" not in products and "Theirs" not in products
    assert report.unassigned_refunds_cents == 500

    days = {day["day"]: day for day in report.days}
    assert len(report.days) == 30
    assert days[date(2026, 11, 10)] == {"day": date(2026, 11, 10), "orders": 2, "revenue_cents": 27_000}
    assert days[date(2026, 11, 11)]["orders"] == 0 and days[date(2026, 11, 11)]["revenue_cents"] == 0


def test_a_funnel_filter_keeps_its_orders(shop):
    account = shop["account"]
    report = reports.build(account, reports.read_period(account, NOV["from"], NOV["to"]),
                           reports.read_funnel(account, str(shop["funnel_id"])))
    assert report.paid_orders == 3
    assert report.revenue_cents == 37_000
    assert report.downsell_orders == 0


def test_an_offer_whose_charge_did_not_succeed_is_not_taken(owner):
    _, account = owner
    _, course = make_product(account, "Course", 10_000)
    _, upsell = make_product(account, "Coaching", 5_000)
    order = make_order(account, [(course, "main"), (upsell, "upsell")], created_at=at(10))
    order.items[1].payment.status = "requires_action"
    db.session.commit()
    report = reports.build(account, reports.read_period(account, NOV["from"], NOV["to"]))
    assert (report.upsell_orders, report.upsell_reached) == (0, 1)
    assert {row["name"] for row in report.products} == {"Course"}


def test_days_are_the_workspaces(owner):
    user, account = owner
    account.timezone = "America/New_York"
    db.session.commit()
    _, course = make_product(account, "Course", 10_000)
    make_order(account, [(course, "main")], created_at=datetime(2026, 11, 1, 3, tzinfo=UTC))  # Oct 31, 23:00
    make_order(account, [(course, "main")], created_at=datetime(2026, 12, 1, 3, tzinfo=UTC))  # Nov 30, 22:00
    report = reports.build(account, reports.read_period(account, NOV["from"], NOV["to"]))
    assert report.paid_orders == 1
    assert report.days[-1] == {"day": date(2026, 11, 30), "orders": 1, "revenue_cents": 10_000}


def test_the_page_shows_the_figures_tables_and_chart_data(shop, login):
    client = login(shop["user"], shop["account"])
    response = client.get("/orders/analytics", query_string=NOV)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert figure(html, "revenue") == "$500.00"
    assert figure(html, "refunds") == "$105.00"
    assert figure(html, "net") == "$395.00"
    assert figure(html, "orders") == "4"
    assert figure(html, "aov") == "$125.00"
    assert figure(html, "bump") == "33.3%"
    assert figure(html, "abandoned") == "1"
    assert 'id="analytics-funnels"' in html and 'id="analytics-products"' in html
    assert "1 paid order in EUR" in html
    data = chart_data(html)
    assert data["currency"] == "USD"
    assert data["labels"][0] == "2026-11-01" and len(data["labels"]) == 30
    assert data["revenue"][9] == 270.0 and data["orders"][9] == 2
    assert data["revenue"][10] == 0
    assert "vendor/chart.umd.min.js" in html and "js/charts.js" in html
    assert "Theirs" not in html and "Kurs" not in html


def test_a_viewer_sees_the_page_and_an_htmx_filter_gets_the_fragment(shop, client):
    viewer = factories.add_member(shop["account"], "viewer")
    factories.login(client, viewer, shop["account"])
    response = client.get("/orders/analytics", query_string={**NOV, "funnel": str(shop["funnel_id"])},
                          headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="analytics-filters"' in html
    assert figure(html, "orders") == "3"


def test_the_default_range_is_the_last_30_days(owner, login):
    user, account = owner
    client = login(user, account)
    from app.core import dates

    today = dates.today(account.timezone)
    response = client.get("/orders/analytics")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'value="{today.isoformat()}"' in html
    period = reports.read_period(account, "", "")
    assert period.end == today and period.days == 30


@pytest.mark.parametrize("args, field, message", [
    ({"from": "2026-11-31", "to": "2026-12-01"}, "from", "Use a date like"),
    ({"from": "yesterday"}, "from", "Use a date like"),
    ({"from": "2026-11-30", "to": "2026-11-01"}, "to", "before the start"),
    ({"from": "2025-01-01", "to": "2026-11-30"}, "from", "at most a year"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, "from", "Use a date between"),
    ({"from": "2199-12-31", "to": "2199-12-31"}, "from", "Use a date between"),
    ({"funnel": "not-a-uuid"}, "funnel", "Choose a funnel"),
    ({"funnel": "6f1c1d4e-0000-4000-8000-000000000000"}, "funnel", "does not exist"),
])
def test_a_bad_range_or_funnel_gives_a_message(owner, login, args, field, message):
    user, account = owner
    client = login(user, account)
    response = client.get("/orders/analytics", query_string=args)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="analytics-{field}-error"' in html
    assert message in html
    assert "analytics-chart-data" not in html


def test_another_workspaces_funnel_is_refused(shop, login):
    other_user = factories.make_user("third@example.com")
    other = factories.make_account(other_user, "Third")
    client = login(other_user, other)
    response = client.get("/orders/analytics", query_string={"funnel": str(shop["funnel_id"])})
    assert response.status_code == 422


def test_empty_state_without_orders(owner, login):
    user, account = owner
    client = login(user, account)
    html = client.get("/orders/analytics").get_data(as_text=True)
    assert "No paid orders in this range" in html
    assert "No funnel sold anything in this range" in html
    assert "No product sold in this range" in html
    assert "analytics-chart-data" not in html
    assert figure(html, "revenue") == "$0.00"
    assert figure(html, "aov") == "—"


def test_the_number_of_statements_does_not_grow_with_the_orders(owner, login, count_queries):
    user, account = owner
    client = login(user, account)
    _, course = make_product(account, "Course", 10_000)
    _, bump = make_product(account, "Checklist", 2_000)

    def add(count):
        for index in range(count):
            order = make_order(account, [(course, "main"), (bump, "bump")], created_at=at(1 + index % 28))
            if index % 3 == 0:
                refund(order, 100, at(1 + index % 28), item=order.items[0])

    def page():
        assert client.get("/orders/analytics", query_string=NOV).status_code == 200

    add(5)
    few = count_queries(page)
    add(45)
    many = count_queries(page)
    assert few == many
    assert few <= 12, few
