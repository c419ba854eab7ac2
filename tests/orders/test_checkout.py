"""The checkout on a published order form and the one-click offers after it, as a visitor's browser drives
them (the site host, the JSON of checkout.js, the SetupIntent confirmed at localstripe the way its fake
Stripe.js confirms it), against the real stripe library and localstripe."""
import re
import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from app.core.db import utcnow
from app.crm.models import Contact, TimelineEntry
from app.extensions import db
from app.orders.models import Coupon, Order, Payment
from app.orders.services import catalog
from tests import factories
from tests.conftest import run_jobs

SITE = "http://pages.example.com"
GOOD_CARD = "4242424242424242"
DECLINED_AT_CHARGE = "4000000000000341"
DECLINED_AT_SETUP = "4000000000000002"
THREE_D_SECURE = "4000002760003184"


@pytest.fixture
def shop(owner, stripe_config):
    """The tripwire funnel, published, selling a $7 swipe file with a $17 bump, a $97 upsell and a $37 downsell."""
    from app.funnels.publishing import publish_funnel
    from tests.funnels.test_templates import make_funnel_from

    user, account = owner
    funnel = make_funnel_from(account, user, "tripwire")
    steps = {step.step_type: step for step in funnel.steps}
    _, main = factories.make_product(account, "Swipe file", 700)
    _, bump = factories.make_product(account, "Template pack", 1700)
    _, upsell = factories.make_product(account, "Masterclass", 9700)
    _, downsell = factories.make_product(account, "Workshop", 3700)
    catalog.set_step_offers(account, steps["order_form"], [main.id], [bump.id], {str(bump.id): "Add the pack"}, None)
    catalog.set_step_offers(account, steps["upsell"], offer_price_id=upsell.id)
    catalog.set_step_offers(account, steps["downsell"], offer_price_id=downsell.id)
    publish_funnel(account, funnel, user)
    return {"account": account, "funnel": funnel, "steps": steps, "main": main, "bump": bump, "upsell": upsell,
            "downsell": downsell, "stripe": stripe_config}


def page_url(shop, step_type: str) -> str:
    return f"/{shop['funnel'].slug}/{shop['steps'][step_type].slug}"


def order_form(client, shop) -> dict:
    """What the visitor's browser posts: the form's hidden fields and the customer fields by their element ids."""
    html = client.get(page_url(shop, "order_form"), base_url=SITE).get_data(as_text=True)
    action = re.search(r'action="(/_checkout/[0-9a-f-]+)/start"', html).group(1)
    fields = {"form_id": re.search(r'name="form_id" value="([^"]+)"', html).group(1),
              "form_token": re.search(r'name="form_token" value="([^"]+)"', html).group(1)}
    for label, value in (("First name", "Jordan"), ("Last name", "Rivera"), ("E-mail", "jordan@example.com")):
        element_id = re.search(rf'<label for="f-([^"]+)">{label}', html).group(1)
        fields[element_id] = value
    return {"base": action, "fields": fields}


def confirm_card_setup(shop, client_secret: str, number: str = GOOD_CARD) -> requests.Response:
    """What localstripe's Stripe.js confirmCardSetup sends with the card typed in its Element."""
    setup_id = client_secret.split("_secret_")[0]
    url = f"{shop['stripe']}/v1/setup_intents/{setup_id}/confirm"
    answer = requests.post(url, json={
        "key": "pk_test_leadforge", "client_secret": client_secret, "use_stripe_sdk": True,
        "payment_method_data": {"type": "card", "card": {"number": number, "exp_month": "12", "exp_year": "2030",
                                                         "cvc": "123"}}}, timeout=10)
    if answer.ok and answer.json()["status"] == "requires_action":  # the visitor completes the bank's check
        answer = requests.post(url, json={"key": "pk_test_leadforge", "client_secret": client_secret,
                                          "use_stripe_sdk": True}, timeout=10)
    return answer


def checkout(client, shop, bumps=(), coupon="", number=GOOD_CARD) -> dict:
    """The whole order form: start, the card at Stripe, pay. Returns the answer of /pay."""
    form = order_form(client, shop)
    answer = client.post(form["base"] + "/start", base_url=SITE,
                         data={**form["fields"], "bumps": list(bumps), "coupon": coupon}).get_json()
    assert answer["status"] == "card", answer
    confirmed = confirm_card_setup(shop, answer["client_secret"], number)
    if not confirmed.ok:
        return {"status": "setup_failed", "message": confirmed.json()["error"]["message"]}
    setup_id = answer["client_secret"].split("_secret_")[0]
    return client.post(form["base"] + "/pay", base_url=SITE, data={"setup_intent": setup_id}).get_json()


def the_order() -> Order:
    return db.session.execute(select(Order)).scalar_one()


def offer_base(client, shop, step_type: str) -> str:
    html = client.get(page_url(shop, step_type), base_url=SITE).get_data(as_text=True)
    return re.search(r'data-offer="(/_checkout/[0-9a-f-]+)"', html).group(1)


# ---- the order form ------------------------------------------------------------------------------------

def test_the_published_order_form_loads_its_products_bumps_and_summary_from_the_database(client, shop):
    html = client.get(page_url(shop, "order_form"), base_url=SITE).get_data(as_text=True)
    assert "data-checkout" in html and "/static/site/checkout.js" in html
    base = re.search(r'data-checkout="([^"]+)"', html).group(1)
    offer = client.get(base + "/offer?form_id=x", base_url=SITE).get_data(as_text=True)
    assert "Swipe file" in offer and "$7.00" in offer and "Add the pack" in offer and "$17.00" in offer
    assert 'data-stripe-key="pk_test_leadforge"' in offer
    summary = client.post(base + "/summary", base_url=SITE, data={"bumps": str(shop["bump"].id)})
    assert "$24.00" in summary.get_data(as_text=True)
    assert client.get(base + "/offer").status_code == 404  # the app host never serves the checkout


def test_a_visitor_buys_with_the_bump_then_takes_the_upsell_with_one_click(client, shop, published, app, outbox):
    paid = checkout(client, shop, bumps=[shop["bump"].id])
    assert paid["status"] == "succeeded"
    assert paid["next_url"].endswith(page_url(shop, "upsell"))
    order = the_order()
    assert order.status == "paid" and order.total_cents == 2400 and order.number == 1001
    assert sorted(item.kind for item in order.items) == ["bump", "main"]
    contact = db.session.get(Contact, order.contact_id)
    assert contact.email == "jordan@example.com" and contact.source == "checkout"
    assert {"customer", "tripwire-buyer"} <= {tag.name for tag in contact.tags}

    accepted = client.post(offer_base(client, shop, "upsell") + "/accept", base_url=SITE,
                           headers={"Accept": "application/json"}).get_json()
    assert accepted["status"] == "succeeded"
    assert accepted["next_url"].endswith(page_url(shop, "thank_you"))  # the downsell is skipped after a yes
    order = the_order()
    assert order.total_cents == 2400 + 9700 and sorted(i.kind for i in order.items) == ["bump", "main", "upsell"]
    assert [p.status for p in order.payments] == ["succeeded", "succeeded"]
    names = [name for name, _ in published]
    assert names.count("order.created") == 1 and names.count("order.paid") == 1
    summaries = db.session.execute(select(TimelineEntry.summary).where(
        TimelineEntry.contact_id == contact.id)).scalars().all()
    assert any("Order #1001 paid: $24.00" in text for text in summaries)
    run_jobs(app)  # the receipt, sent by a job once the order is paid
    assert [message["To"] for message in outbox] == ["jordan@example.com"]
    db.session.expire_all()
    assert "#1001" in outbox[0]["Subject"] and the_order().receipt_sent_at is not None


def test_an_upsell_accepted_twice_is_charged_once(client, shop):
    assert checkout(client, shop)["status"] == "succeeded"
    base = offer_base(client, shop, "upsell")
    for _ in range(2):
        answer = client.post(base + "/accept", base_url=SITE, headers={"Accept": "application/json"}).get_json()
        assert answer["status"] == "succeeded"
    order = the_order()
    assert [item.kind for item in order.items].count("upsell") == 1
    assert db.session.execute(select(func.count()).select_from(Payment).where(Payment.purpose == "upsell")
                              ).scalar() == 1
    assert order.total_cents == 700 + 9700


def test_no_thanks_goes_to_the_downsell_whose_yes_is_one_click_too(client, shop):
    checkout(client, shop)
    declined = client.post(offer_base(client, shop, "upsell") + "/decline", base_url=SITE)
    assert declined.status_code == 303 and declined.headers["Location"].endswith(page_url(shop, "downsell"))
    accepted = client.post(offer_base(client, shop, "downsell") + "/accept", base_url=SITE)  # no JavaScript
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith(page_url(shop, "thank_you"))
    order = the_order()
    assert sorted(item.kind for item in order.items) == ["downsell", "main"] and order.total_cents == 700 + 3700
    assert "upsell.declined" in [event.kind for event in order.events]


def test_an_upsell_after_the_order_was_refunded_is_refused(client, shop):
    checkout(client, shop)
    order = the_order()
    order.status = "refunded"
    db.session.commit()
    answer = client.post(offer_base(client, shop, "upsell") + "/accept", base_url=SITE,
                         headers={"Accept": "application/json"})
    assert answer.status_code == 409 and "cannot take this offer" in answer.get_json()["message"]
    assert len(the_order().payments) == 1


def test_an_offer_without_the_checkout_cookie_charges_nothing(client, shop, app):
    checkout(client, shop)
    other = app.test_client()
    answer = other.post(offer_base(other, shop, "upsell") + "/accept", base_url=SITE)
    assert answer.status_code == 409 and "nothing was charged" in answer.get_data(as_text=True)
    assert len(the_order().payments) == 1


def test_bank_authentication_is_asked_then_confirmed(client, shop):
    paid = checkout(client, shop, number=THREE_D_SECURE)
    assert paid["status"] == "requires_action" and paid["client_secret"].startswith("pi_")
    assert the_order().status == "pending"
    # what localstripe's confirmCardPayment does when the visitor completes the authentication
    intent = paid["client_secret"].split("_secret_")[0]
    done = requests.post(f"{shop['stripe']}/v1/payment_intents/{intent}/_authenticate?success=true",
                         json={"key": "pk_test_leadforge", "client_secret": paid["client_secret"]}, timeout=10)
    assert done.ok
    form = order_form(client, shop)
    confirmed = client.post(form["base"] + "/confirm", base_url=SITE, data={"payment_intent": intent}).get_json()
    assert confirmed["status"] == "succeeded" and the_order().status == "paid"


def test_a_declined_card_shows_a_message_keeps_the_contact_and_can_be_retried(client, shop, published):
    declined = checkout(client, shop, number=DECLINED_AT_CHARGE)
    assert declined["status"] == "failed" and "declined" in declined["message"].lower()
    order = the_order()
    assert order.status == "failed" and order.contact_id is not None
    assert "order.failed" in [name for name, _ in published]
    again = checkout(client, shop)  # the same visitor, another card: the same order
    assert again["status"] == "succeeded"
    assert db.session.execute(select(func.count()).select_from(Order)).scalar() == 1
    assert the_order().status == "paid"


def test_a_card_refused_by_stripe_js_leaves_a_pending_order_and_the_contact(client, shop):
    answer = checkout(client, shop, number=DECLINED_AT_SETUP)
    assert answer["status"] == "setup_failed" and "declined" in answer["message"].lower()
    assert the_order().status == "pending"
    assert db.session.execute(select(Contact.email)).scalar_one() == "jordan@example.com"


# ---- bad input -----------------------------------------------------------------------------------------

def test_tampered_amounts_are_ignored_and_a_foreign_bump_is_refused(client, shop, owner):
    form = order_form(client, shop)
    answer = client.post(form["base"] + "/start", base_url=SITE,
                         data={**form["fields"], "amount": "1", "total": "0.01", "price": "1"}).get_json()
    assert answer["status"] == "card" and the_order().total_cents == 700
    other_owner = factories.make_user("other@example.com")
    other = factories.make_account(other_owner, "Other")
    _, foreign = factories.make_product(other, "Not yours", 100)
    refused = client.post(form["base"] + "/start", base_url=SITE, data={**form["fields"], "bumps": str(foreign.id)})
    assert refused.status_code == 422 and "not offered" in refused.get_json()["message"]
    assert the_order().total_cents == 700  # the order is as before


@pytest.mark.parametrize("coupon, message", [("OLD", "expired"), ("USEDUP", "used"), ("OTHERS", "does not exist")])
def test_unusable_coupons_are_refused_with_a_reason(client, shop, coupon, message):
    account = shop["account"]
    db.session.add_all([
        Coupon(account_id=account.id, code="OLD", percent_off=50, expires_at=utcnow() - timedelta(days=1)),
        Coupon(account_id=account.id, code="USEDUP", percent_off=50, max_redemptions=1, times_redeemed=1)])
    other = factories.make_account(factories.make_user("o@example.com"), "Other")
    db.session.add(Coupon(account_id=other.id, code="OTHERS", percent_off=50))
    db.session.commit()
    form = order_form(client, shop)
    answer = client.post(form["base"] + "/start", base_url=SITE, data={**form["fields"], "coupon": coupon})
    assert answer.status_code == 422 and message in answer.get_json()["errors"]["coupon"].lower()
    assert db.session.execute(select(func.count()).select_from(Order)).scalar() == 0


def test_a_coupon_discounts_the_order_and_counts_its_use(client, shop):
    db.session.add(Coupon(account_id=shop["account"].id, code="HALF", percent_off=50))
    db.session.commit()
    paid = checkout(client, shop, bumps=[shop["bump"].id], coupon="half")
    assert paid["status"] == "succeeded"
    order = the_order()
    assert (order.subtotal_cents, order.discount_cents, order.total_cents) == (2400, 1200, 1200)
    assert sum(item.amount_cents for item in order.items) == 1200 and order.coupon_code == "HALF"
    assert db.session.execute(select(Coupon.times_redeemed)).scalar() == 1


def test_missing_fields_and_a_stale_token_are_explained(client, shop):
    form = order_form(client, shop)
    email_id = next(key for key, value in form["fields"].items() if value == "jordan@example.com")
    answer = client.post(form["base"] + "/start", base_url=SITE, data={**form["fields"], email_id: ""})
    assert answer.status_code == 422 and email_id in answer.get_json()["errors"]
    stale = client.post(form["base"] + "/start", base_url=SITE, data={**form["fields"], "form_token": "x.y"})
    assert stale.status_code == 400 and "reload" in stale.get_json()["message"].lower()
    assert db.session.execute(select(func.count()).select_from(Order)).scalar() == 0


def test_without_stripe_keys_the_form_says_payments_are_not_set_up(client, shop, app):
    app.config["STRIPE_SECRET_KEY"] = None
    form = order_form(client, shop)
    offer = client.get(form["base"] + "/offer?form_id=x", base_url=SITE).get_data(as_text=True)
    assert "Payments are not set up" in offer
    answer = client.post(form["base"] + "/start", base_url=SITE, data=form["fields"])
    assert answer.status_code == 503 and "not configured" in answer.get_json()["message"]
    assert the_order().status == "pending"  # the contact and the order are still recorded


def test_two_visitors_buying_at_once_get_distinct_order_numbers(app, shop):
    numbers, errors = [], []

    def buy():
        try:
            with app.app_context():
                client = app.test_client()
                form = order_form(client, shop)
                answer = client.post(form["base"] + "/start", base_url=SITE, data=form["fields"]).get_json()
                numbers.append(answer.get("order_number", answer))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=buy) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and all(isinstance(number, int) for number in numbers), numbers
    assert sorted(numbers) == [1001, 1002, 1003, 1004]


def test_checkouts_never_paid_become_abandoned_after_an_hour(app, client, shop, published):
    from app.orders.services.orders import abandon_stale

    form = order_form(client, shop)
    client.post(form["base"] + "/start", base_url=SITE, data=form["fields"])
    assert abandon_stale() == 0
    order = the_order()
    order.created_at = utcnow() - timedelta(minutes=61)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["orders-abandon"])  # what cron runs
    assert "1 checkouts marked abandoned" in result.output
    assert the_order().status == "abandoned" and the_order().contact_id is not None
    assert "order.abandoned" in [name for name, _ in published]


def test_the_marketer_sees_whether_payments_are_configured(app, client, owner, login):
    user, account = owner
    login(user, account)
    for path in ("/orders", "/products"):
        html = client.get(path).get_data(as_text=True)
        assert "Payments are not configured" in html and "/api/v1/webhooks/stripe" in html
    app.config.update(STRIPE_SECRET_KEY="sk_test_x", STRIPE_PUBLISHABLE_KEY="pk_test_x")
    try:
        assert "Payments are not configured" not in client.get("/orders").get_data(as_text=True)
    finally:
        app.config.update(STRIPE_SECRET_KEY=None, STRIPE_PUBLISHABLE_KEY=None)


def authenticate(shop, client_secret: str, success: bool = True) -> None:
    """What localstripe's confirmCardPayment does when the visitor completes (or fails) the bank's check."""
    intent = client_secret.split("_secret_")[0]
    answer = requests.post(f"{shop['stripe']}/v1/payment_intents/{intent}/_authenticate?success={str(success).lower()}",
                           json={"key": "pk_test_leadforge", "client_secret": client_secret}, timeout=10)
    assert answer.ok, answer.text


def test_an_upsell_the_bank_must_confirm_is_added_once_confirmed_and_a_failed_one_keeps_the_order(client, shop):
    paid = checkout(client, shop, number=THREE_D_SECURE)
    authenticate(shop, paid["client_secret"])
    form = order_form(client, shop)
    assert client.post(form["base"] + "/confirm", base_url=SITE, data={
        "payment_intent": paid["client_secret"].split("_secret_")[0]}).get_json()["status"] == "succeeded"

    json_headers = {"Accept": "application/json"}
    upsell = offer_base(client, shop, "upsell")
    asked = client.post(upsell + "/accept", base_url=SITE, headers=json_headers).get_json()
    assert asked["status"] == "requires_action" and asked["stripe_js"].endswith("/js.stripe.com/v3/")
    assert the_order().total_cents == 700  # not counted before the bank says yes
    authenticate(shop, asked["client_secret"])
    done = client.post(upsell + "/confirm", base_url=SITE, data={
        "payment_intent": asked["client_secret"].split("_secret_")[0]}, headers=json_headers).get_json()
    assert done["status"] == "succeeded" and done["next_url"].endswith(page_url(shop, "thank_you"))
    assert the_order().total_cents == 700 + 9700

    downsell = offer_base(client, shop, "downsell")
    asked = client.post(downsell + "/accept", base_url=SITE, headers=json_headers).get_json()
    authenticate(shop, asked["client_secret"], success=False)
    failed = client.post(downsell + "/confirm", base_url=SITE, data={
        "payment_intent": asked["client_secret"].split("_secret_")[0]}, headers=json_headers)
    assert failed.status_code == 402 and failed.get_json()["message"]
    order = the_order()
    assert order.status == "paid" and order.total_cents == 700 + 9700
    assert sorted(item.kind for item in order.items) == ["main", "upsell"]


def test_only_pages_that_sell_carry_the_checkout_styles_and_script(client, shop):
    order_page = client.get(page_url(shop, "order_form"), base_url=SITE).get_data(as_text=True)
    sales_page = client.get(page_url(shop, "page"), base_url=SITE).get_data(as_text=True)
    assert ".lf-summary__table" in order_page and "/static/site/checkout.js" in order_page
    assert ".lf-summary__table" not in sales_page and "checkout.js" not in sales_page
