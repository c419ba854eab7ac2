"""The orders list (filters, pagination, abandoned checkouts, export), an order's page and its actions
(fulfil, cancel, receipt, invoice)."""
import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from app.core.db import utcnow
from app.core.models import Job
from app.extensions import db
from app.orders.models import Order
from tests import factories
from tests.conftest import run_jobs


@pytest.fixture
def shop(owner):
    user, account = owner
    course_product, course = factories.make_product(account, "Course", 4900)
    _, bump = factories.make_product(account, "Checklist", 900)
    _, upsell = factories.make_product(account, "Coaching", 19700)
    for price in (course, bump, upsell):
        assert price.product.name  # loaded now (make_order's lazy loads would autoflush mid-way)
    return {"course": course, "bump": bump, "upsell": upsell, "course_product": course_product}


def _order(account, items, **kwargs) -> Order:
    """factories.make_order without autoflush: a lazy load inside it would flush while its Payment is not in
    the session yet (it gets there through its item at the commit)."""
    with db.session.no_autoflush:
        return factories.make_order(account, items, **kwargs)


def test_the_list_is_empty_at_first(client, owner, login):
    login(*owner)
    page = client.get("/orders")
    assert page.status_code == 200 and "No orders yet" in page.text


def test_the_list_shows_orders_with_totals_and_status(client, owner, login, shop):
    user, account = owner
    order = _order(account, [(shop["course"], "main"), (shop["bump"], "bump")], email="ann@example.com")
    login(user, account)
    page = client.get("/orders")
    assert f"#{order.number}" in page.text and "$58.00" in page.text and "ann@example.com" in page.text
    assert "badge-success" in page.text and "Paid" in page.text


def test_filters_by_status_customer_product_funnel_and_dates(client, owner, login, shop):
    user, account = owner
    funnel_id = factories.populate_funnels(account, user)["funnel_id"]
    paid = _order(account, [(shop["course"], "main")], email="ann@example.com", funnel_id=funnel_id)
    pending = _order(account, [(shop["bump"], "main")], status="pending", email="bob@example.com")
    old = _order(account, [(shop["upsell"], "main")], email="cy@example.com",
                 created_at=datetime(2025, 3, 10, 12, tzinfo=UTC))
    login(user, account)

    def numbers(**args):
        text = client.get("/orders", query_string=args, headers={"HX-Request": "true"}).text
        return {o.number for o in (paid, pending, old) if f"#{o.number}<" in text}

    assert numbers() == {paid.number, pending.number, old.number}
    assert numbers(status="pending") == {pending.number}
    assert numbers(q="ANN@") == {paid.number}
    assert numbers(q="bea buyer") == {paid.number, pending.number, old.number}  # the name
    assert numbers(q="nobody") == set()
    assert numbers(q=str(old.number)) == {old.number}
    assert numbers(product=str(shop["course_product"].id)) == {paid.number}
    assert numbers(funnel=str(funnel_id)) == {paid.number}
    assert numbers(**{"from": "2025-03-10", "to": "2025-03-10"}) == {old.number}
    assert numbers(to="2025-03-09") == set()
    # The day is the workspace's: 12:00 UTC on March 10th is already March 11th in Auckland.
    account.timezone = "Pacific/Auckland"
    db.session.commit()
    assert numbers(**{"from": "2025-03-11", "to": "2025-03-11"}) == {old.number}
    assert numbers(**{"from": "2025-03-10", "to": "2025-03-10"}) == set()


def test_a_bad_filter_is_refused_with_a_message(client, owner, login):
    login(*owner)
    page = client.get("/orders?from=2025-13-40")
    assert page.status_code == 422 and "Use a date like" in page.text
    assert client.get("/orders?status=lost").status_code == 422
    assert client.get("/orders?product=nope").status_code == 422
    filtered = client.get("/orders?status=refunded")
    assert filtered.status_code == 200 and "No order matches" in filtered.text


def test_the_list_paginates(client, owner, login, shop):
    user, account = owner
    for _ in range(23):
        _order(account, [(shop["bump"], "main")])
    login(user, account)
    first = client.get("/orders")
    assert "1–20 of 23" in first.text
    second = client.get("/orders?page=2")
    assert "21–23 of 23" in second.text


def test_a_checkout_left_an_hour_ago_shows_as_abandoned(client, owner, login, shop, published):
    user, account = owner
    stale = _order(account, [(shop["course"], "main")], status="pending", created_at=utcnow() - timedelta(hours=2))
    fresh = _order(account, [(shop["course"], "main")], status="pending")
    login(user, account)
    client.get("/orders")
    db.session.expire_all()
    assert db.session.get(Order, stale.id).status == "abandoned"
    assert db.session.get(Order, fresh.id).status == "pending"
    assert [name for name, _ in published].count("order.abandoned") == 1


def test_the_order_page_shows_items_by_kind_payments_customer_and_history(client, owner, login, shop):
    user, account = owner
    contact = factories.make_contact(account, user, email="bea@example.com")
    order = _order(account, [(shop["course"], "main"), (shop["bump"], "bump"), (shop["upsell"], "upsell")],
                   contact_id=contact.id)
    login(user, account)
    page = client.get(f"/orders/{order.id}")
    assert page.status_code == 200
    text = page.text
    assert text.index("Product") < text.index("Course") < text.index("Order bump") < text.index("Checklist") \
        < text.index("Upsell") < text.index("Coaching")
    assert "$255.00" in text and f"/contacts/{contact.id}" in text
    assert order.payments[0].stripe_payment_intent_id in text
    assert "Mark fulfilled" in text and "Refund" in text and "Invoice PDF" in text


def test_fulfil_and_cancel_follow_the_valid_transitions(client, owner, login, shop):
    user, account = owner
    paid = _order(account, [(shop["course"], "main")])
    pending = _order(account, [(shop["course"], "main")], status="pending")
    login(user, account)
    assert client.post(f"/orders/{paid.id}/cancel").status_code == 303
    assert client.post(f"/orders/{paid.id}/fulfil").status_code == 303
    assert client.post(f"/orders/{pending.id}/fulfil").status_code == 303
    assert client.post(f"/orders/{pending.id}/cancel").status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, paid.id).status == "fulfilled"
    assert db.session.get(Order, pending.id).status == "cancelled"
    page = client.get(f"/orders/{paid.id}")
    assert "marked fulfilled by Olive Owner" in page.text


def test_a_viewer_sees_orders_but_cannot_act(client, owner, login, shop):
    _, account = owner
    order = _order(account, [(shop["course"], "main")])
    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    login(viewer, account)
    page = client.get(f"/orders/{order.id}")
    assert page.status_code == 200 and "Mark fulfilled" not in page.text
    assert client.post(f"/orders/{order.id}/fulfil").status_code == 403
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "paid"


def test_receipt_email_with_items_and_total(app, client, owner, login, shop, outbox):
    user, account = owner
    order = _order(account, [(shop["course"], "main"), (shop["bump"], "bump")], email="bea@example.com")
    login(user, account)
    assert client.post(f"/orders/{order.id}/receipt").status_code == 303
    run_jobs(app)  # the e-mail is sent by a job
    assert len(outbox) == 1
    message = outbox[0]
    assert message["To"] == "bea@example.com" and f"#{order.number}" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert "Course" in body and "Checklist" in body and "$58.00" in body
    db.session.expire_all()
    assert db.session.get(Order, order.id).receipt_sent_at is not None


def test_no_receipt_for_an_unpaid_order(app, client, owner, login, shop, outbox):
    user, account = owner
    order = _order(account, [(shop["course"], "main")], status="pending")
    login(user, account)
    client.post(f"/orders/{order.id}/receipt")
    run_jobs(app)
    assert outbox == []


def test_the_invoice_is_a_pdf(client, owner, login, shop):
    user, account = owner
    order = _order(account, [(shop["course"], "main")])
    login(user, account)
    response = client.get(f"/orders/{order.id}/invoice.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert f'filename="invoice-{order.number}.pdf"' in response.headers["Content-Disposition"]


def _export(app, client, file_format, **filters):
    started = client.post("/orders/export", data={"format": file_format, **filters}, headers={"HX-Request": "true"})
    assert started.status_code == 202
    job = db.session.query(Job).order_by(Job.created_at.desc()).first()
    run_jobs(app)
    download = client.get(f"/jobs/{job.id}/download")
    assert download.status_code == 200
    data = download.data
    download.close()
    return data


def test_export_csv_with_the_filters(app, client, owner, login, shop):
    user, account = owner
    paid = _order(account, [(shop["course"], "main"), (shop["bump"], "bump")], email="ann@example.com")
    _order(account, [(shop["bump"], "main")], status="pending", email="=cmd@example.com")
    login(user, account)
    rows = list(csv.reader(io.StringIO(_export(app, client, "csv").decode())))
    assert rows[0] == ["Number", "Date", "Status", "Customer name", "E-mail", "Funnel", "Items", "Subtotal",
                       "Discount", "Total", "Refunded", "Currency"]
    assert len(rows) == 3
    assert "'=cmd@example.com" in [row[4] for row in rows]  # no formula in a spreadsheet
    rows = list(csv.reader(io.StringIO(_export(app, client, "csv", status="paid").decode())))
    assert len(rows) == 2
    row = rows[1]
    assert row[0] == str(paid.number) and row[2] == "Paid" and row[4] == "ann@example.com"
    assert row[6] == "Course (Product); Checklist (Order bump)" and row[9] == "58.0" and row[11] == "USD"


def test_export_xlsx(app, client, owner, login, shop):
    user, account = owner
    _order(account, [(shop["course"], "main")], email="ann@example.com")
    login(user, account)
    data = _export(app, client, "xlsx")
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        strings = book.read("xl/sharedStrings.xml").decode()
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "ann@example.com" in strings and "Customer name" in strings and "<v>49</v>" in sheet


def test_export_refuses_a_bad_filter(client, owner, login):
    login(*owner)
    response = client.post("/orders/export", data={"format": "csv", "from": "soon"}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and "Use a date like" in response.text
    assert client.post("/orders/export", data={"format": "pdf"}).status_code == 400
