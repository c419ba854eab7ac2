"""The catalog: products and their prices, coupons, and what a funnel step sells (the offers page and
app.orders.services.catalog, which the checkout reads)."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.assets.models import Asset
from app.core.errors import ValidationError
from app.extensions import db
from app.funnels import services as funnels
from app.orders.models import Coupon, Price, Product, StepOffer
from app.orders.services import catalog
from tests import factories
from tests.factories import make_product

HTMX = {"HX-Request": "true"}


@pytest.fixture
def signed_in(client, owner, login):
    user, account = owner
    login(user, account)
    return user, account


def product_form(name="Template pack", **data):
    values = {"name": name, "description": "", "image_id": "", "price-amount": "", "price-currency": "usd",
              "price-label": ""}
    values.update(data)
    return values


def price_form(amount="49.00", currency="usd", label=""):
    return {"price-amount": amount, "price-currency": currency, "price-label": label}


def coupon_form(code="SPRING-25", **data):
    values = {"code": code, "percent_off": "25", "amount_off": "", "currency": "usd", "expires_at": "",
              "max_redemptions": ""}
    values.update(data)
    return values


def sales_funnel(account, user):
    funnel = funnels.create_funnel(account, {"name": "Course launch", "slug": f"launch-{account.id.hex[:6]}"}, user)
    order_form = funnels.add_step(account, funnel, {"name": "Checkout", "step_type": "order_form"}, user)
    upsell = funnels.add_step(account, funnel, {"name": "One more thing", "step_type": "upsell"}, user)
    return funnel, order_form, upsell


def products_of(account):
    return list(db.session.execute(select(Product).where(Product.account_id == account.id)).scalars())


# ---- products -------------------------------------------------------------------------------------

def test_products_page_invites_to_add_the_first_one(client, signed_in):
    page = client.get("/products")
    assert page.status_code == 200
    assert "No products yet" in page.text and "/products/new" in page.text


def test_create_a_product_with_its_first_price_then_edit_it(client, signed_in):
    _, account = signed_in
    page = client.get("/products/new")
    assert page.status_code == 200 and "First price" in page.text

    created = client.post("/products/new", data=product_form(description="50 landing pages",
                                                             **{"price-amount": "49.00", "price-label": "Launch"}))
    assert created.status_code == 303
    product = products_of(account)[0]
    assert (product.name, product.description, product.status) == ("Template pack", "50 landing pages", "active")
    assert [(p.amount_cents, p.currency, p.label) for p in product.prices] == [(4900, "usd", "Launch")]

    detail = client.get(created.headers["Location"])
    assert detail.status_code == 200 and "$49.00" in detail.text and "Launch" in detail.text

    edited = client.post(f"/products/{product.id}/edit", data={"name": "Template pack PRO", "description": "",
                                                                "image_id": ""})
    assert edited.status_code == 303
    db.session.expire_all()
    assert db.session.get(Product, product.id).name == "Template pack PRO"
    listed = client.get("/products").text
    assert "Template pack PRO" in listed and "$49.00" in listed


def test_product_image_comes_from_the_workspace_library(client, signed_in):
    user, account = signed_in
    other_user = factories.make_user("other@example.com")
    other = factories.make_account(other_user, "Other")
    mine = Asset(account_id=account.id, filename="cover.png", content_type="image/png", size=1, storage_key="k/mine",
                 checksum="0" * 64)
    theirs = Asset(account_id=other.id, filename="theirs.png", content_type="image/png", size=1,
                   storage_key="k/theirs", checksum="0" * 64)
    db.session.add_all([mine, theirs])
    db.session.commit()

    form_page = client.get("/products/new").text
    assert "cover.png" in form_page and "theirs.png" not in form_page
    refused = client.post("/products/new", data=product_form(image_id=str(theirs.id)))
    assert refused.status_code == 422 and "does not exist in this workspace" in refused.text
    assert products_of(account) == []
    assert client.post("/products/new", data=product_form(image_id=str(mine.id))).status_code == 303
    assert products_of(account)[0].image_id == mine.id


@pytest.mark.parametrize("data, message", [
    ({"name": ""}, "Enter a product name."),
    ({"name": "x" * 161}, "at most 160 characters"),
    ({"price-amount": "abc"}, "Enter an amount in numbers"),
    ({"price-amount": "0"}, "more than 0"),
    ({"price-amount": "-5"}, "more than 0"),
    ({"price-amount": "1234567.00"}, "at most 999,999.99"),
    ({"price-amount": "12.345"}, "at most two decimals"),
    ({"price-amount": "10", "price-currency": "xyz"}, "Choose a currency"),
])
def test_new_product_form_refuses_bad_input_next_to_the_field(client, signed_in, data, message):
    _, account = signed_in
    response = client.post("/products/new", data=product_form(**data))
    assert response.status_code == 422
    assert message in response.text and 'class="error"' in response.text
    assert products_of(account) == []


def test_prices_are_added_and_archived_never_edited(client, signed_in):
    _, account = signed_in
    product, price = make_product(account, "Course", 9900)

    for bad, message in (("abc", "Enter an amount in numbers"), ("0", "more than 0"), ("-1", "more than 0"),
                         ("99999999", "at most 999,999.99")):
        refused = client.post(f"/products/{product.id}/prices", data=price_form(bad), headers=HTMX)
        assert refused.status_code == 422 and message in refused.text, bad
    assert client.post(f"/products/{product.id}/prices", data=price_form("1,250.50", "eur", "Team")).status_code == 303
    assert client.post(f"/products/{product.id}/prices", data=price_form("4900", "jpy")).status_code == 303
    db.session.expire_all()
    prices = db.session.execute(select(Price).where(Price.product_id == product.id)
                                .order_by(Price.position)).scalars().all()
    assert [(p.amount_cents, p.currency, p.label) for p in prices] == [(9900, "usd", ""), (125050, "eur", "Team"),
                                                                       (4900, "jpy", "")]

    archived = client.post(f"/products/{product.id}/prices/{price.id}/archive")
    assert archived.status_code == 303
    db.session.expire_all()
    assert db.session.get(Price, price.id).active is False
    assert db.session.get(Price, price.id).amount_cents == 9900  # kept as it was, for the orders that have it
    page = client.get(f"/products/{product.id}").text
    assert "Archived" in page and "€1,250.50" in page


def test_price_of_another_product_is_not_found(client, signed_in):
    _, account = signed_in
    product, _ = make_product(account, "A")
    _, other_price = make_product(account, "B")
    assert client.post(f"/products/{product.id}/prices/{other_price.id}/archive").status_code == 404
    db.session.expire_all()
    assert db.session.get(Price, other_price.id).active is True


def test_list_searches_filters_by_status_and_paginates(client, signed_in):
    _, account = signed_in
    for i in range(22):
        make_product(account, f"Ebook {i:02d}")
    archived, _ = make_product(account, "Old webinar")
    catalog.set_product_status(account, archived, "archived")

    first = client.get("/products").text
    assert "1–20 of 23" in first and "Ebook 00" in first and "Old webinar" not in first
    assert "Old webinar" in client.get("/products?page=2").text
    only_archived = client.get("/products?status=archived").text
    assert "Old webinar" in only_archived and "Ebook 00" not in only_archived
    typed = client.get("/products?q=ebook 2", headers=HTMX)
    assert typed.status_code == 200 and "<html" not in typed.text
    assert "Ebook 20" in typed.text and "Ebook 01" not in typed.text
    nothing = client.get("/products?q=zzz")
    assert "No product matches" in nothing.text
    assert client.get("/products?status=bogus&page=abc").status_code == 200


def test_archive_and_restore_a_product_hides_it_from_step_offers(client, signed_in):
    user, account = signed_in
    product, price = make_product(account, "Swipe file")
    _, order_form, _ = sales_funnel(account, user)
    catalog.set_step_offers(account, order_form, [str(price.id)], [], {}, None)
    assert [o.price_id for o in catalog.step_offers(order_form)] == [price.id]

    assert client.post(f"/products/{product.id}/archive").status_code == 303
    db.session.expire_all()
    assert db.session.get(Product, product.id).status == "archived"
    assert catalog.step_offers(order_form) == []
    offers_page = client.get(f"/funnels/{order_form.funnel_id}/steps/{order_form.id}/offers").text
    assert "Swipe file ·" not in offers_page and "No product to sell yet" in offers_page

    assert client.post(f"/products/{product.id}/unarchive").status_code == 303
    db.session.expire_all()
    assert [o.price.product.name for o in catalog.step_offers(order_form)] == ["Swipe file"]

    catalog.archive_price(account, db.session.get(Price, price.id))
    assert catalog.step_offers(order_form) == []


# ---- coupons --------------------------------------------------------------------------------------

def coupons_of(account):
    return list(db.session.execute(select(Coupon).where(Coupon.account_id == account.id)).scalars())


def test_coupons_page_empty_state_then_the_list(client, signed_in):
    _, account = signed_in
    empty = client.get("/coupons")
    assert empty.status_code == 200 and "No coupons yet" in empty.text and "/coupons/new" in empty.text

    assert client.get("/coupons/new").status_code == 200
    assert client.post("/coupons/new", data=coupon_form("SPRING-25", max_redemptions="100")).status_code == 303
    assert client.post("/coupons/new", data=coupon_form(
        "TENOFF", percent_off="", amount_off="10.00", currency="eur",
        expires_at="2190-01-31T12:00")).status_code == 303
    page = client.get("/coupons").text
    assert "SPRING-25" in page and "25% off" in page and "0 / 100" in page and "Active" in page
    assert "TENOFF" in page and "€10.00 off" in page and "2190" in page
    ten = next(c for c in coupons_of(account) if c.code == "TENOFF")
    assert (ten.amount_off_cents, ten.currency, ten.percent_off) == (1000, "eur", None)


def test_coupon_list_paginates(client, signed_in):
    _, account = signed_in
    for i in range(21):
        db.session.add(Coupon(account_id=account.id, code=f"CODE{i:02d}", percent_off=5))
    db.session.commit()
    assert "1–20 of 21" in client.get("/coupons").text
    assert "21–21 of 21" in client.get("/coupons?page=2").text


@pytest.mark.parametrize("data, message", [
    ({"code": "ab"}, "3 to 40 letters"),
    ({"code": "no spaces"}, "3 to 40 letters"),
    ({"code": "x" * 41}, "at most 40 characters"),
    ({"percent_off": "", "amount_off": ""}, "Give a percent off or an amount off."),
    ({"percent_off": "10", "amount_off": "5.00"}, "not both"),
    ({"percent_off": "0"}, "between 1 and 100"),
    ({"percent_off": "101"}, "between 1 and 100"),
    ({"percent_off": "ten"}, "whole number"),
    ({"percent_off": "", "amount_off": "abc"}, "Enter an amount in numbers"),
    ({"max_redemptions": "0"}, "between 1 and"),
    ({"expires_at": "9999-12-31T10:00"}, "between 1900 and 2199"),
    ({"expires_at": "yesterday"}, "Use a date and time"),
    ({"expires_at": "2001-01-01T10:00"}, "in the past"),
])
def test_coupon_form_refuses_bad_input(client, signed_in, data, message):
    _, account = signed_in
    response = client.post("/coupons/new", data=coupon_form(**data))
    assert response.status_code == 422 and message in response.text
    assert coupons_of(account) == []


def test_coupon_codes_are_unique_whatever_the_case(client, signed_in):
    _, account = signed_in
    assert client.post("/coupons/new", data=coupon_form("Summer")).status_code == 303
    duplicate = client.post("/coupons/new", data=coupon_form("SUMMER"))
    assert duplicate.status_code == 422 and "There is already a coupon SUMMER" in duplicate.text
    assert [c.code for c in coupons_of(account)] == ["Summer"]
    # Another workspace may use the same code.
    other_user = factories.make_user("other@example.com")
    other = factories.make_account(other_user, "Other")
    catalog.create_coupon(other, {"code": "summer", "percent_off": "5"})


def test_edit_and_deactivate_a_coupon(client, signed_in):
    _, account = signed_in
    coupon = catalog.create_coupon(account, {"code": "VIP", "percent_off": "20"})
    page = client.get(f"/coupons/{coupon.id}/edit")
    assert page.status_code == 200 and 'value="VIP"' in page.text and 'value="20"' in page.text
    saved = client.post(f"/coupons/{coupon.id}/edit", data=coupon_form("VIP", percent_off="30", max_redemptions="5"))
    assert saved.status_code == 303
    assert client.post(f"/coupons/{coupon.id}/deactivate").status_code == 303
    db.session.expire_all()
    coupon = db.session.get(Coupon, coupon.id)
    assert (coupon.percent_off, coupon.max_redemptions, coupon.active) == (30, 5, False)
    assert "Inactive" in client.get("/coupons").text
    assert catalog.coupon_problem(coupon, "usd", datetime.now(UTC)) == "This coupon is no longer active."
    assert client.post(f"/coupons/{coupon.id}/activate").status_code == 303
    db.session.expire_all()
    assert db.session.get(Coupon, coupon.id).active is True


def test_find_coupon_and_coupon_problem(app, owner):
    _, account = owner
    now = datetime.now(UTC)
    percent = catalog.create_coupon(account, {"code": "Spring-25", "percent_off": "25"})
    euros = catalog.create_coupon(account, {"code": "TEN", "amount_off": "10", "currency": "eur"})
    assert catalog.find_coupon(account, " spring-25 ").id == percent.id
    assert catalog.find_coupon(account, "nope") is None
    assert catalog.find_coupon(account, "") is None and catalog.find_coupon(account, None) is None

    other_user = factories.make_user("other@example.com")
    other = factories.make_account(other_user, "Other")
    catalog.create_coupon(other, {"code": "THEIRS", "percent_off": "50"})
    assert catalog.find_coupon(account, "THEIRS") is None  # another workspace's code

    assert catalog.coupon_problem(percent, "usd", now) is None
    assert catalog.coupon_problem(percent, "jpy", now) is None  # a percent off fits any currency
    assert catalog.coupon_problem(euros, "eur", now) is None
    assert catalog.coupon_problem(euros, "usd", now) == "This coupon applies to orders in EUR only."
    assert catalog.coupon_problem(None, "usd", now) == "This coupon code is not valid."

    percent.expires_at = now - timedelta(minutes=1)
    assert catalog.coupon_problem(percent, "usd", now) == "This coupon has expired."
    assert catalog.coupon_state(percent, now) == ("Expired", "warning")
    percent.expires_at = now + timedelta(days=1)
    percent.max_redemptions, percent.times_redeemed = 3, 3
    assert catalog.coupon_problem(percent, "usd", now) == "This coupon has been used up."
    percent.times_redeemed = 2
    assert catalog.coupon_problem(percent, "usd", now) is None


# ---- step offers ----------------------------------------------------------------------------------

def test_offers_page_of_an_order_form_saves_products_and_bumps(client, signed_in):
    user, account = signed_in
    funnel, order_form, _ = sales_funnel(account, user)
    url = f"/funnels/{funnel.id}/steps/{order_form.id}/offers"
    empty = client.get(url)
    assert empty.status_code == 200 and "No product to sell yet" in empty.text

    _, course = make_product(account, "Course", 9900)
    _, pack = make_product(account, "Template pack", 1700)
    page = client.get(url)
    assert "Products" in page.text and "Order bumps" in page.text and "Course · $99.00" in page.text
    saved = client.post(url, data={"main_price_ids": [str(course.id)], "bump_price_ids": [str(pack.id)],
                                   f"pitch-{pack.id}": "Yes! Add the template pack for $17"})
    assert saved.status_code == 303
    offers = catalog.step_offers(order_form)
    assert [(o.role, o.price_id, o.pitch) for o in offers] == [
        ("main", course.id, ""), ("bump", pack.id, "Yes! Add the template pack for $17")]
    assert [o.price_id for o in catalog.step_offers(order_form, "bump")] == [pack.id]
    again = client.get(url).text
    assert "Yes! Add the template pack for $17" in again and again.count("checked") == 2

    # The funnel's page links each selling step to its offers.
    assert url in client.get(f"/funnels/{funnel.id}").text


def test_bumps_without_a_product_and_mixed_currencies_are_refused_on_the_page(client, signed_in):
    user, account = signed_in
    funnel, order_form, _ = sales_funnel(account, user)
    _, usd = make_product(account, "Course", 9900)
    _, eur = make_product(account, "Kurs", 8900, currency="eur")
    url = f"/funnels/{funnel.id}/steps/{order_form.id}/offers"
    alone = client.post(url, data={"bump_price_ids": [str(usd.id)]}, headers=HTMX)
    assert alone.status_code == 422 and "Choose at least one product" in alone.text
    mixed = client.post(url, data={"main_price_ids": [str(usd.id)], "bump_price_ids": [str(eur.id)]}, headers=HTMX)
    assert mixed.status_code == 422 and "one currency" in mixed.text
    assert db.session.execute(select(StepOffer)).scalars().all() == []


def test_set_step_offers_refuses_foreign_prices_mixed_currencies_and_needs_one_upsell_offer(app, owner):
    user, account = owner
    _, order_form, upsell = sales_funnel(account, user)
    _, usd = make_product(account, "Course", 9900)
    _, usd2 = make_product(account, "Coaching", 19900)
    _, eur = make_product(account, "Kurs", 8900, currency="eur")
    other_user = factories.make_user("other@example.com")
    other = factories.make_account(other_user, "Other")
    _, foreign = make_product(other, "Theirs")

    with pytest.raises(ValidationError) as refused:
        catalog.set_step_offers(account, order_form, [str(usd.id), str(foreign.id)], [], {}, None)
    assert "main_price_ids" in refused.value.fields
    with pytest.raises(ValidationError) as refused:
        catalog.set_step_offers(account, order_form, [str(usd.id)], [str(foreign.id)], {}, None)
    assert "bump_price_ids" in refused.value.fields
    with pytest.raises(ValidationError) as refused:
        catalog.set_step_offers(account, order_form, ["not-a-uuid"], [], {}, None)
    assert "main_price_ids" in refused.value.fields
    with pytest.raises(ValidationError) as refused:
        catalog.set_step_offers(account, order_form, [str(usd.id)], [str(eur.id)], {}, None)
    assert "one currency" in refused.value.message
    with pytest.raises(ValidationError) as refused:
        catalog.set_step_offers(account, upsell, [], [], {}, None)
    assert "offer_price_id" in refused.value.fields
    with pytest.raises(ValidationError):
        catalog.set_step_offers(account, upsell, [str(usd.id)], [], {}, str(usd2.id))
    with pytest.raises(ValidationError) as refused:
        catalog.set_step_offers(account, upsell, [], [], {}, str(foreign.id))
    assert "offer_price_id" in refused.value.fields
    assert db.session.execute(select(StepOffer)).scalars().all() == []

    catalog.set_step_offers(account, upsell, [], [], {}, str(usd2.id))
    catalog.set_step_offers(account, order_form, [str(usd.id)], [str(usd2.id)], {}, None)
    bump = catalog.step_offers(order_form, "bump")[0]
    assert bump.pitch == "Yes! Add Coaching for $199.00"  # a default line when none is typed
    assert [(o.role, o.price_id) for o in catalog.step_offers(upsell)] == [("offer", usd2.id)]
    # Saving again replaces the rows.
    catalog.set_step_offers(account, order_form, [], [], {}, None)
    assert catalog.step_offers(order_form) == []


def test_upsell_page_offers_one_price_and_other_steps_sell_nothing(client, signed_in):
    user, account = signed_in
    funnel, _, upsell = sales_funnel(account, user)
    _, price = make_product(account, "Coaching", 19900)
    url = f"/funnels/{funnel.id}/steps/{upsell.id}/offers"
    page = client.get(url)
    assert page.status_code == 200 and "One-click offer" in page.text and "Coaching · $199.00" in page.text
    none = client.post(url, data={"offer_price_id": ""}, headers=HTMX)
    assert none.status_code == 422 and "Choose the one price this step offers." in none.text
    assert client.post(url, data={"offer_price_id": str(price.id)}).status_code == 303
    assert [o.price_id for o in catalog.step_offers(upsell)] == [price.id]

    first_page = funnel.steps[0]
    assert first_page.step_type == "page"
    other = client.get(f"/funnels/{funnel.id}/steps/{first_page.id}/offers")
    assert other.status_code == 200 and "Only order form, upsell and downsell steps sell products." in other.text
    refused = client.post(f"/funnels/{funnel.id}/steps/{first_page.id}/offers", data={"offer_price_id": str(price.id)})
    assert refused.status_code == 422


def test_a_step_of_another_funnel_is_not_found(client, signed_in):
    user, account = signed_in
    funnel, order_form, _ = sales_funnel(account, user)
    second = funnels.create_funnel(account, {"name": "Other", "slug": "other-funnel"}, user)
    assert client.get(f"/funnels/{second.id}/steps/{order_form.id}/offers").status_code == 404
    assert client.post(f"/funnels/{second.id}/steps/{order_form.id}/offers").status_code == 404


# ---- roles ----------------------------------------------------------------------------------------

def test_viewer_sees_the_catalog_but_cannot_change_it(client, owner, login):
    user, account = owner
    product, price = make_product(account, "Course", 9900)
    coupon = catalog.create_coupon(account, {"code": "VIP", "percent_off": "20"})
    funnel, order_form, _ = sales_funnel(account, user)
    viewer = factories.add_member(account, "viewer", name="Vic Viewer")
    login(viewer, account)

    products = client.get("/products")
    assert products.status_code == 200 and "Course" in products.text and "New product" not in products.text
    detail = client.get(f"/products/{product.id}")
    assert detail.status_code == 200 and "Add a price" not in detail.text
    coupons = client.get("/coupons")
    assert coupons.status_code == 200 and "VIP" in coupons.text and "Deactivate" not in coupons.text
    offers_url = f"/funnels/{funnel.id}/steps/{order_form.id}/offers"
    assert client.get(offers_url).status_code == 200

    for url, data in (("/products/new", product_form()), (f"/products/{product.id}/edit", product_form()),
                      (f"/products/{product.id}/archive", {}), (f"/products/{product.id}/prices", price_form()),
                      (f"/products/{product.id}/prices/{price.id}/archive", {}), ("/coupons/new", coupon_form("NEW")),
                      (f"/coupons/{coupon.id}/edit", coupon_form("VIP2")), (f"/coupons/{coupon.id}/deactivate", {}),
                      (offers_url, {"main_price_ids": [str(price.id)]})):
        assert client.post(url, data=data).status_code == 403, url
    assert client.get("/products/new").status_code == 403
    db.session.expire_all()
    assert db.session.get(Product, product.id).status == "active" and len(products_of(account)) == 1
    assert db.session.get(Price, price.id).active and db.session.get(Coupon, coupon.id).code == "VIP"
    assert db.session.execute(select(StepOffer)).scalars().all() == []
