"""Refunds through Stripe's Refund API (real calls to localstripe): of an item, of part or all of the order,
and the bad input that must be refused with nothing written."""
import pytest
from sqlalchemy import func, select

from app.core.errors import ConflictError, NotFoundError, ValidationError
from app.crm.models import TimelineEntry
from app.extensions import db
from app.orders.models import Order, OrderEvent, Payment, Refund
from app.orders.services import refunds
from tests import factories
from tests.orders.conftest import paid_order_at_stripe


@pytest.fixture
def catalog(owner):
    _, account = owner
    _, course = factories.make_product(account, "Course", 4900)
    _, bump = factories.make_product(account, "Checklist", 900)
    _, upsell = factories.make_product(account, "Coaching", 19700)
    return course, bump, upsell


def _made_order(account, price, **kwargs):
    """factories.make_order, the price's product loaded first (a lazy load inside make_order autoflushes
    while its Payment is not in the session yet)."""
    assert price.product.name
    return factories.make_order(account, [(price, "main")], **kwargs)


def _refund_count() -> int:
    return db.session.execute(select(func.count()).select_from(Refund)).scalar_one()


def _fresh(order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def test_an_item_refund_goes_to_its_payment_and_shows_on_the_contact_timeline(stripe_config, owner, catalog,
                                                                               published):
    user, account = owner
    course, bump, upsell = catalog
    contact = factories.make_contact(account, user, email="bea@example.com")
    order = paid_order_at_stripe(account, [(course, "main"), (bump, "bump"), (upsell, "upsell")],
                                 contact_id=contact.id)
    upsell_item = next(item for item in order.items if item.kind == "upsell")

    made = refunds.create(account, order, None, item_id=upsell_item.id, reason="requested_by_customer",
                          note="Changed their mind", actor=user)

    assert len(made) == 1 and made[0].amount_cents == 19700 and made[0].stripe_refund_id.startswith("re_")
    assert made[0].payment_id == upsell_item.payment_id and made[0].item_id == upsell_item.id
    order = _fresh(order)
    assert order.status == "partially_refunded" and order.refunded_cents == 19700
    assert {item.kind: item.refunded_cents for item in order.items} == {"main": 0, "bump": 0, "upsell": 19700}
    assert db.session.get(Payment, upsell_item.payment_id).refunded_cents == 19700
    entries = db.session.execute(select(TimelineEntry).where(TimelineEntry.contact_id == contact.id)).scalars().all()
    assert any(e.kind == "order.partially_refunded" and "$197.00 of $255.00 refunded" in e.summary for e in entries)
    messages = [event.message for event in order.events]
    assert "Refunded $197.00 of Coaching (requested by the customer)" in messages
    refunded = [data for name, data in published if name == "order.refunded"]
    assert len(refunded) == 1 and refunded[0]["refunded_cents"] == 19700


def test_two_partial_refunds_then_the_rest_make_the_order_refunded(stripe_config, owner, catalog):
    user, account = owner
    course, bump, upsell = catalog
    order = paid_order_at_stripe(account, [(course, "main"), (bump, "bump"), (upsell, "upsell")])

    # An order-level refund is spread over the items, the largest refundable first (the upsell's payment).
    first = refunds.create(account, order, 20000, reason="other", actor=user)
    assert sorted(r.amount_cents for r in first) == [300, 19700]
    assert _fresh(order).status == "partially_refunded"
    refunds.create(account, _fresh(order), 1000, reason="duplicate", actor=user)
    order = _fresh(order)
    assert order.status == "partially_refunded" and order.refunded_cents == 21000

    refunds.create(account, order, None, actor=user)  # everything that remains
    order = _fresh(order)
    assert order.status == "refunded" and order.refunded_cents == order.total_cents == 25500
    assert all(item.refundable_cents == 0 for item in order.items)
    assert sum(p.refunded_cents for p in order.payments) == 25500
    with pytest.raises(ConflictError):
        refunds.create(account, order, 100, actor=user)


def test_a_refund_larger_than_what_remains_is_refused_and_nothing_is_written(stripe_config, owner, catalog):
    user, account = owner
    course, bump, _ = catalog
    order = paid_order_at_stripe(account, [(course, "main"), (bump, "bump")])
    bump_item = next(item for item in order.items if item.kind == "bump")

    with pytest.raises(ValidationError) as refused:
        refunds.create(account, order, 5801, actor=user)
    assert "amount" in refused.value.fields and "$58.00" in refused.value.message
    db.session.rollback()
    with pytest.raises(ValidationError) as refused:
        refunds.create(account, _fresh(order), 901, item_id=bump_item.id, actor=user)
    assert "amount" in refused.value.fields
    db.session.rollback()

    refunds.create(account, _fresh(order), 5000, actor=user)
    with pytest.raises(ValidationError):
        refunds.create(account, _fresh(order), 801, actor=user)
    db.session.rollback()
    assert _refund_count() == 1 and _fresh(order).refunded_cents == 5000


@pytest.mark.parametrize("amount, field", [(0, "amount"), (-5, "amount"), ("12", "amount"), (True, "amount")])
def test_a_bad_amount_is_refused(stripe_config, owner, catalog, amount, field):
    user, account = owner
    order = paid_order_at_stripe(account, [(catalog[0], "main")])
    with pytest.raises(ValidationError) as refused:
        refunds.create(account, order, amount, actor=user)
    assert field in refused.value.fields
    db.session.rollback()
    assert _refund_count() == 0


def test_an_unknown_reason_or_a_foreign_item_is_refused(stripe_config, owner, catalog):
    user, account = owner
    course, bump, _ = catalog
    order = paid_order_at_stripe(account, [(course, "main")])
    other = _made_order(account, bump)
    with pytest.raises(ValidationError) as refused:
        refunds.create(account, order, 100, reason="because", actor=user)
    assert "reason" in refused.value.fields
    db.session.rollback()
    for item_id in (other.items[0].id, "not-a-uuid"):
        with pytest.raises(ValidationError) as refused:
            refunds.create(account, _fresh(order), 100, item_id=item_id, actor=user)
        assert "item_id" in refused.value.fields
        db.session.rollback()
    assert _refund_count() == 0


@pytest.mark.parametrize("status", ["pending", "failed", "abandoned", "cancelled"])
def test_an_unpaid_order_cannot_be_refunded(owner, catalog, status):
    user, account = owner
    order = _made_order(account, catalog[0], status=status)
    with pytest.raises(ConflictError):
        refunds.create(account, order, None, actor=user)
    db.session.rollback()
    assert _refund_count() == 0


def test_when_stripe_refuses_nothing_is_written(stripe_config, owner, catalog):
    user, account = owner
    order = _made_order(account, catalog[0])  # a made-up PaymentIntent id
    with pytest.raises(ConflictError):
        refunds.create(account, order, 100, actor=user)
    order = _fresh(order)
    assert _refund_count() == 0 and order.refunded_cents == 0 and order.status == "paid"
    assert not db.session.execute(select(OrderEvent).where(OrderEvent.kind == "refund.created")).first()


def test_another_workspaces_order_is_not_found(stripe_config, owner, catalog, client, login):
    user, account = owner
    order = paid_order_at_stripe(account, [(catalog[0], "main")])
    stranger = factories.make_user("stranger@example.com")
    other_account = factories.make_account(stranger, "Elsewhere")
    with pytest.raises(NotFoundError):
        refunds.create(other_account, order, 100, actor=stranger)
    db.session.rollback()
    login(stranger, other_account)
    response = client.post(f"/orders/{order.id}/refunds", data={"refund-reason": "other"})
    assert response.status_code == 404
    assert _refund_count() == 0


def test_the_order_page_refunds_an_item(stripe_config, owner, catalog, client, login):
    user, account = owner
    course, bump, _ = catalog
    order = paid_order_at_stripe(account, [(course, "main"), (bump, "bump")])
    bump_item = next(item for item in order.items if item.kind == "bump")
    login(user, account)

    too_much = client.post(f"/orders/{order.id}/refunds", data={
        "refund-item_id": str(bump_item.id), "refund-amount": "9.50", "refund-reason": "requested_by_customer"})
    assert too_much.status_code == 422 and "$9.00 remains" in too_much.text
    response = client.post(f"/orders/{order.id}/refunds", data={
        "refund-item_id": str(bump_item.id), "refund-amount": "4.50", "refund-reason": "requested_by_customer",
        "refund-note": "Half of it"})
    assert response.status_code == 303
    page = client.get(f"/orders/{order.id}")
    assert "Partially refunded" in page.text and "Half of it" in page.text and "$4.50" in page.text
    assert _fresh(order).refunded_cents == 450
