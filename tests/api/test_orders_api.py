"""/api/v1/orders: the list with its filters, one order, and refunds (through localstripe)."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.orders.models import Order
from tests import factories
from tests.api.conftest import assert_json_error
from tests.orders.test_webhooks import real_order


@pytest.fixture
def shop(workspace, key_for):
    account, owner = workspace["account"], workspace["owner"]
    _, course = factories.make_product(account, "Course", 9700)
    _, guide = factories.make_product(account, "Guide", 1900)
    ann = factories.make_contact(account, owner, email="ann@example.com", first_name="Ann")
    funnel = factories.populate_funnels(account, owner)["funnel_id"]
    now = datetime.now(UTC)
    orders = {
        "old": factories.make_order(account, [(course, "main")], email="old@example.com",
                                    created_at=now - timedelta(days=40)),
        "ann": factories.make_order(account, [(course, "main"), (guide, "bump")], email="ann@example.com",
                                    contact_id=ann.id, funnel_id=funnel),
        "pending": factories.make_order(account, [(guide, "main")], status="pending", email="pat@example.com"),
    }
    return {"account": account, "orders": orders, "ann": ann, "funnel_id": funnel, "viewer": key_for("viewer"),
            "user": key_for("user")}


def numbers(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [order["number"] for order in response.get_json()["items"]]


def test_list_orders_newest_first_paginated(client, shop):
    orders = shop["orders"]
    response = client.get("/api/v1/orders", headers=shop["viewer"])
    body = response.get_json()
    assert numbers(response) == [orders["pending"].number, orders["ann"].number, orders["old"].number]
    assert body["total"] == 3 and body["page"] == 1
    first = body["items"][1]
    assert first["total_cents"] == 11600 and first["status"] == "paid" and first["contact_id"] == str(shop["ann"].id)
    page = client.get("/api/v1/orders?page_size=2&page=2", headers=shop["viewer"]).get_json()
    assert [o["number"] for o in page["items"]] == [orders["old"].number] and page["total"] == 3


def test_filters(client, shop):
    orders, headers = shop["orders"], shop["viewer"]
    assert numbers(client.get("/api/v1/orders?status=pending", headers=headers)) == [orders["pending"].number]
    assert numbers(client.get(f"/api/v1/orders?contact_id={shop['ann'].id}", headers=headers)) == [
        orders["ann"].number]
    assert numbers(client.get(f"/api/v1/orders?funnel_id={shop['funnel_id']}", headers=headers)) == [
        orders["ann"].number]
    cutoff = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    assert numbers(client.get(f"/api/v1/orders?created_before={cutoff}", headers=headers)) == [orders["old"].number]
    assert orders["old"].number not in numbers(client.get(f"/api/v1/orders?created_after={cutoff}", headers=headers))
    assert numbers(client.get("/api/v1/orders?q=ann%40example", headers=headers)) == [orders["ann"].number]
    assert numbers(client.get(f"/api/v1/orders?q={orders['old'].number}", headers=headers)) == [orders["old"].number]
    assert numbers(client.get(f"/api/v1/orders?contact_id={uuid.uuid4()}", headers=headers)) == []


@pytest.mark.parametrize("query, field", [("status=shipped", "status"), ("contact_id=nope", "contact_id"),
                                          ("funnel_id=1", "funnel_id"), ("created_after=2026-13-01", "created_after"),
                                          ("page=0", "page")])
def test_bad_filters_are_400(client, shop, query, field):
    assert_json_error(client.get(f"/api/v1/orders?{query}", headers=shop["viewer"]), 400, field=field)


def test_get_order_with_items_payments_refunds(client, shop):
    order = shop["orders"]["ann"]
    body = client.get(f"/api/v1/orders/{order.id}", headers=shop["viewer"]).get_json()
    assert body["number"] == order.number and body["email"] == "ann@example.com"
    assert [(i["name"], i["kind"], i["amount_cents"]) for i in body["items"]] == [("Course", "main", 9700),
                                                                                  ("Guide", "bump", 1900)]
    assert len(body["payments"]) == 2 and all(p["status"] == "succeeded" for p in body["payments"])
    assert body["refunds"] == []


def test_another_workspaces_order_is_not_found(client, shop):
    stranger = factories.make_user("stranger@example.com")
    elsewhere = factories.make_account(stranger, "Elsewhere")
    _, price = factories.make_product(elsewhere, "Theirs", 500)
    theirs = factories.make_order(elsewhere, [(price, "main")])
    assert_json_error(client.get(f"/api/v1/orders/{theirs.id}", headers=shop["viewer"]), 404)
    assert_json_error(client.post(f"/api/v1/orders/{theirs.id}/refunds", json={"amount_cents": 100},
                                  headers=shop["user"]), 404)
    listed = client.get("/api/v1/orders", headers=shop["viewer"]).get_json()["items"]
    assert str(theirs.id) not in {order["id"] for order in listed} and len(listed) == 3


def test_a_viewer_cannot_refund(client, shop):
    order = shop["orders"]["ann"]
    assert_json_error(client.post(f"/api/v1/orders/{order.id}/refunds", json={"amount_cents": 100},
                                  headers=shop["viewer"]), 403)
    assert_json_error(client.post(f"/api/v1/orders/{order.id}/refunds", json={}), 401)


@pytest.mark.parametrize("body, field", [
    ({"amount_cents": "12"}, "amount_cents"),
    ({"amount_cents": 1.5}, "amount_cents"),
    ({"amount_cents": 0}, "amount_cents"),
    ({"amount_cents": -5}, "amount_cents"),
    ({"amount_cents": 11601}, "amount_cents"),
    ({"reason": "bored"}, "reason"),
    ({"reason": None}, "reason"),
    ({"item_id": "not-an-id"}, "item_id"),
    ({"item_id": str(uuid.uuid4())}, "item_id"),
    ({"note": 5}, "note"),
    ({"note": "x" * 501}, "note"),
    ({"amount": 100}, "amount"),
])
def test_refund_validation(client, shop, body, field):
    order = shop["orders"]["ann"]
    assert_json_error(client.post(f"/api/v1/orders/{order.id}/refunds", json=body, headers=shop["user"]), 422,
                      field=field)
    db.session.expire_all()
    assert db.session.get(Order, order.id).refunded_cents == 0


def test_refund_of_an_unpaid_order_is_a_conflict(client, shop):
    order = shop["orders"]["pending"]
    assert_json_error(client.post(f"/api/v1/orders/{order.id}/refunds", json={}, headers=shop["user"]), 409)


def test_refund_a_real_payment(client, shop, stripe_config, published):
    from app.orders.services import payments

    account = shop["account"]
    order, payment, result = real_order(account, stripe_config, amount_cents=8000)
    changes: list = []
    payments.succeeded(payment, result.charge_id, changes)
    db.session.commit()
    response = client.post(f"/api/v1/orders/{order.id}/refunds", headers=shop["user"],
                           json={"amount_cents": 2500, "reason": "requested_by_customer", "note": "Changed her mind"})
    assert response.status_code == 201, response.get_json()
    [refund] = response.get_json()["items"]
    assert refund["amount_cents"] == 2500 and refund["stripe_refund_id"].startswith("re_")
    assert refund["note"] == "Changed her mind" and refund["order_id"] == str(order.id)
    body = client.get(f"/api/v1/orders/{order.id}", headers=shop["viewer"]).get_json()
    assert body["status"] == "partially_refunded" and body["refunded_cents"] == 2500
    assert [r["id"] for r in body["refunds"]] == [refund["id"]]
    # the rest (no amount: all that remains), then nothing remains
    rest = client.post(f"/api/v1/orders/{order.id}/refunds", headers=shop["user"], json={"reason": "other"})
    assert rest.status_code == 201 and rest.get_json()["items"][0]["amount_cents"] == 5500
    assert client.get(f"/api/v1/orders/{order.id}", headers=shop["viewer"]).get_json()["status"] == "refunded"
    assert_json_error(client.post(f"/api/v1/orders/{order.id}/refunds", headers=shop["user"], json={}), 409)


def test_refund_body_schema_lists_the_fields_the_view_reads():
    from app.api.base import body_fields
    from app.api.openapi import ref
    from app.api.views.orders import REFUND_TYPES

    assert body_fields(ref("RefundCreate")) == set(REFUND_TYPES)
