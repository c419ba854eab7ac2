"""Issue 12's journey in a real browser: an admin connects SendGrid (a stand-in answers its check), adds an
outgoing webhook endpoint for form submissions and new contacts (a stand-in receiver on 127.0.0.1, allowed as a
development host) and reveals its signing secret; a visitor sends the opt-in form of a published funnel; the
jobs run (what `flask worker` does) and the admin sees both messages delivered, which the receiver verifies with
the `standardwebhooks` package and the secret read on the page. Then the receiver fails (500): the next
visitor's messages are "Retrying", the message page shows the attempt (500, the receiver's answer) and the next
one is scheduled (RQ's scheduled registry holds its job). The receiver recovers, the admin redelivers by hand:
a second attempt, delivered; the receiver saw that webhook-id twice and accepted each webhook-id once.

Screenshots in test-artifacts/browser/integrations-journey/.
"""
import re
from collections import Counter

import pytest
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from app.core import jobs
from app.funnels import publishing
from tests import factories
from tests.conftest import run_jobs
from tests.integrations.standin import StandIn
from tests.site.conftest import make_funnel

pytestmark = pytest.mark.browser
SCREENSHOTS = "integrations-journey"  # test-artifacts/browser/integrations-journey/

SENDGRID_KEY = "SG.journey-key-4242"
HOOK_PATH = "/hooks/leadforge"
ROW_LABELS = {"form.submitted": "Form submitted on a published page", "contact.created": "Contact created"}


def toast(page, text: str):
    return page.locator("#toasts .toast").filter(has_text=text)


def opt_in(page, site: str, email: str, name: str) -> None:
    """A visitor sends the opt-in form of the published funnel and lands on its thank-you page."""
    page.goto(f"{site}/free-guide/opt-in")
    page.get_by_label("Your e-mail").fill(email)
    page.get_by_label("First name").fill(name)
    page.get_by_role("button", name="Send me the guide").click()
    expect(page).to_have_url(f"{site}/free-guide/thanks")
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()


def scheduled_deliveries(app) -> list[str]:
    """The message ids of the delivery jobs waiting in RQ's scheduled registry (the retries to come)."""
    from rq.job import Job

    with app.app_context():
        queue = jobs.queue()
        ids = queue.scheduled_job_registry.get_job_ids()
        found = []
        for job in Job.fetch_many(ids, connection=queue.connection):
            if job is not None and job.args and job.args[0].endswith("deliver_webhook"):
                found.append(job.args[2][0])
        return found


@pytest.fixture
def stand_ins(live_server):
    """A SendGrid stand-in (PROVIDER_BASE_URLS) and a webhook receiver on 127.0.0.1 (WEBHOOK_DEV_HOSTS), set
    in the live app's configuration for the test and restored afterwards."""
    config = live_server.app.config
    saved = {key: config.get(key) for key in ("PROVIDER_BASE_URLS", "WEBHOOK_DEV_HOSTS")}
    with StandIn() as sendgrid, StandIn() as receiver:
        config["PROVIDER_BASE_URLS"] = {**(saved["PROVIDER_BASE_URLS"] or {}), "sendgrid": sendgrid.url}
        config["WEBHOOK_DEV_HOSTS"] = "127.0.0.1"
        try:
            yield sendgrid, receiver
        finally:
            config.update(saved)



def htmx_settled(page) -> None:
    """Wait until htmx has settled the page: a change made before it processed a boosted swap would go unheard
    (a person is never that quick)."""
    page.wait_for_function(
        "() => window.htmx && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def test_an_admin_connects_sendgrid_and_follows_a_form_webhook_through_failure_and_redelivery(
        live_server, new_context, screenshot, stand_ins):
    sendgrid, receiver = stand_ins
    base, site = live_server.url, live_server.site_url
    user = factories.make_user("nadia@example.com", name="Nadia Hooks")
    account = factories.make_account(user, "Nadia's Studio")
    publishing.publish_funnel(account, make_funnel(account, user), user)

    _, page = new_context()

    def shot(name: str, phone: bool = False):
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, name, phone=phone)

    heading = lambda name: page.get_by_role("heading", level=1, name=name)  # noqa: E731

    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)

    # ---- 1. SendGrid connected: the stand-in accepts the key ----------------------------------------------
    sendgrid.expect("GET", "/v3/scopes", json={"scopes": ["mail.send", "marketing.read", "user.username.read"]})
    sendgrid.expect("GET", "/v3/user/username", json={"user_id": 1, "username": "nadia-studio"})
    sendgrid.expect("GET", "/v3/marketing/lists", json={"result": [{"id": "l-1", "name": "Guide readers",
                                                                    "contact_count": 0}], "_metadata": {}})
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Integrations").click()
    expect(heading("Integrations")).to_be_visible()
    page.get_by_role("link", name="Connect a provider").first.click()
    page.get_by_role("link", name="SendGrid", exact=True).click()
    expect(heading("Connect SendGrid")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Studio SendGrid")
    page.get_by_label("API key").fill(SENDGRID_KEY)
    page.get_by_label("From address").fill("hello@nadia.example.com")
    page.get_by_role("button", name="Save and test").click()
    expect(heading("Studio SendGrid")).to_be_visible()
    expect(toast(page, "Connected: Account: nadia-studio; it may send e-mail.")).to_be_visible()
    expect(page.locator("#status .badge")).to_have_text("Connected")
    expect(page.get_by_label("Guide readers")).to_be_visible()  # the lists, fetched after the page
    assert SENDGRID_KEY not in page.content()
    [check] = sendgrid.received("GET", "/v3/scopes")
    assert check.headers["Authorization"] == f"Bearer {SENDGRID_KEY}"
    shot("sendgrid-connected")

    # ---- 2. a webhook endpoint for form submissions and new contacts; its secret revealed ------------------
    answer = receiver.expect("POST", HOOK_PATH, 200, json={"received": True})
    page.get_by_role("link", name="← All integrations").click()
    expect(page.locator(".integration-card").filter(has_text="Studio SendGrid")).to_contain_text("Connected")
    page.get_by_role("link", name=re.compile(r"^Webhooks")).click()
    expect(heading("Outgoing webhooks")).to_be_visible()
    expect(page.get_by_role("heading", name="No endpoints yet")).to_be_visible()
    page.locator("#add-endpoint").click()
    expect(heading("Add a webhook endpoint")).to_be_visible()
    page.get_by_label("Endpoint URL").fill(receiver.url + HOOK_PATH)
    page.get_by_label("Description (optional)").fill("Studio CRM receiver")
    page.get_by_label("Form submitted on a published page").check()
    page.get_by_label("Contact created", exact=False).first.check()
    shot("endpoint-form")
    page.get_by_role("button", name="Add endpoint").click()
    expect(heading("Studio CRM receiver")).to_be_visible()
    added = toast(page, "Endpoint added.")
    expect(added).to_be_visible()
    added.get_by_role("button", name="Dismiss").click()
    expect(added).to_have_count(0)
    expect(page.locator("#endpoint-events")).to_contain_text("Form submitted on a published page")
    expect(page.locator("#endpoint-events")).to_contain_text("Contact created")
    expect(page.get_by_role("heading", name="Nothing sent yet")).to_be_visible()
    hint = page.locator("#secret-hint").inner_text()
    page.get_by_role("button", name="Reveal").click()
    revealed = page.locator("#signing-secret")
    expect(revealed).to_have_text(re.compile(r"^whsec_[A-Za-z0-9+/=]{32}$"))
    secret = revealed.inner_text()
    assert secret.endswith(hint[-4:])
    endpoint_url = page.url
    shot("endpoint-secret-revealed", phone=True)

    # ---- 3. a visitor sends the form; 4. the jobs run: delivered, signed ----------------------------------
    _, visitor = new_context()
    opt_in(visitor, site, "lea@example.com", "Léa")
    run_jobs(live_server.app)  # what `flask worker` does
    delivered = receiver.received("POST", HOOK_PATH)
    assert len(delivered) == 2
    bodies = {}
    for request in delivered:
        body = Webhook(secret).verify(request.body, request.headers)  # raises unless our signature checks out
        assert request.headers["content-type"] == "application/json"
        bodies[body["type"]] = (request.headers["webhook-id"], body)
    assert set(bodies) == {"form.submitted", "contact.created"}
    form_body = bodies["form.submitted"][1]
    assert form_body["data"]["contact"]["email"] == "lea@example.com"
    assert form_body["data"]["fields"]["first_name"] == "Léa"
    assert bodies["contact.created"][1]["data"]["contact"]["first_name"] == "Léa"

    page.goto(endpoint_url)
    rows = page.locator("#deliveries tbody tr")
    expect(rows).to_have_count(2)
    for event_type, (webhook_id, _) in bodies.items():
        row = rows.filter(has_text=webhook_id)
        expect(row).to_contain_text(ROW_LABELS[event_type])
        expect(row).to_contain_text("Delivered")
        expect(row.locator("td").nth(2)).to_have_text("1")
        expect(row).to_contain_text("200")
    expect(page.locator("#endpoint-rate")).to_contain_text("100% of 2 messages in 30 days")
    shot("deliveries-delivered", phone=True)

    # ---- 5. the receiver fails: retrying, the attempt's details, the next attempt scheduled ---------------
    answer.status, answer.json = 500, {"error": "database is down"}
    seen_before_failure = len(receiver.requests)
    _, second = new_context()
    opt_in(second, site, "omar@example.com", "Omar")
    run_jobs(live_server.app)
    failed = receiver.requests[seen_before_failure:]
    assert len(failed) == 2
    failed_ids = {request.json["type"]: request.headers["webhook-id"] for request in failed}
    failed_form_id = failed_ids["form.submitted"]

    page.reload()
    expect(rows).to_have_count(4)
    retrying = rows.filter(has_text=failed_form_id)
    expect(retrying).to_contain_text("Retrying")
    expect(retrying).to_contain_text("500")
    expect(retrying).to_contain_text("The receiver answered 500 Internal Server Error.")
    expect(retrying).to_contain_text("next in under a minute")  # the first retry: 60 s later
    expect(page.locator("#endpoint-rate")).to_contain_text("2 waiting")
    expect(page.locator("#failing-since")).to_contain_text("the endpoint is disabled and you are told")
    htmx_settled(page)
    page.get_by_label("Event", exact=True).select_option(label="Form submitted on a published page")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Contact created")).to_have_count(0)
    shot("deliveries-retrying", phone=True)

    retrying.get_by_role("link", name="Form submitted on a published page").click()
    expect(heading("Form submitted on a published page")).to_be_visible()
    expect(page.locator("#webhook-id")).to_have_text(failed_form_id)
    expect(page.locator("#message-status")).to_have_text("Retrying: next attempt in under a minute")
    first_attempt = page.locator("#attempt-1")
    expect(first_attempt.locator(".badge")).to_have_text("500")
    expect(first_attempt).to_contain_text("The receiver answered 500 Internal Server Error.")
    first_attempt.get_by_text("Response", exact=True).click()
    expect(first_attempt.locator("pre").first).to_contain_text("database is down")
    expect(page.locator("#payload")).to_contain_text("omar@example.com")
    message_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert message_id in scheduled_deliveries(live_server.app)  # the retry waits in RQ's scheduled registry
    shot("message-failed-attempt", phone=True)

    # ---- 6. the receiver recovers; redelivered by hand: a second attempt, delivered -------------------------
    answer.status, answer.json = 200, {"received": True}
    seen_before_redelivery = len(receiver.requests)
    page.get_by_role("button", name="Redeliver").click()
    expect(toast(page, f"Redelivering {failed_form_id}")).to_be_visible()
    run_jobs(live_server.app)
    redelivered = receiver.requests[seen_before_redelivery:]
    assert [request.headers["webhook-id"] for request in redelivered] == [failed_form_id]
    assert Webhook(secret).verify(redelivered[0].body, redelivered[0].headers)["type"] == "form.submitted"
    page.reload()
    expect(page.locator("#message-status")).to_contain_text("Delivered")
    expect(page.locator("#attempts tbody tr")).to_have_count(2)
    second_attempt = page.locator("#attempt-2")
    expect(second_attempt).to_contain_text("manual")
    expect(second_attempt.locator(".badge")).to_have_text("200")
    shot("message-redelivered", phone=True)

    # The receiver's side: every webhook-id it accepted, once (the 500s were not accepted).
    accepted = receiver.requests[:seen_before_failure] + receiver.requests[seen_before_redelivery:]
    on_the_wire = Counter(request.headers["webhook-id"] for request in receiver.requests)
    assert on_the_wire[failed_form_id] == 2
    assert Counter(request.headers["webhook-id"] for request in accepted) == {
        bodies["form.submitted"][0]: 1, bodies["contact.created"][0]: 1, failed_form_id: 1}

    page.get_by_role("link", name="← Studio CRM receiver").click()
    expect(heading("Studio CRM receiver")).to_be_visible()
    htmx_settled(page)
    page.get_by_label("Status", exact=True).select_option(label="Delivered")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text=failed_form_id)).to_contain_text("Delivered")
    expect(rows.filter(has_text=failed_form_id).locator("td").nth(2)).to_have_text("2")
    shot("deliveries-after-redelivery")
    # SendGrid was only asked what the pages needed (it is not the sending channel: no mail went through it).
    assert {(request.method, request.path) for request in sendgrid.requests} == {
        ("GET", "/v3/scopes"), ("GET", "/v3/user/username"), ("GET", "/v3/marketing/lists")}
