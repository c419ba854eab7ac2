"""The outgoing-webhook pages: list, add/edit (events as grouped checkboxes), the endpoint's page (secret revealed
on request, rotation, test event, enable/disable, delete, the delivery history with filters that polls while
messages wait) and a message's page (payload, attempts, redeliver). Admins only."""
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.integrations import safehttp, webhooks
from app.integrations.models import WebhookEndpoint, WebhookMessage
from tests import factories
from tests.conftest import run_jobs
from tests.integrations.webhook_support import make_endpoint, messages_of, receiver_fixture  # noqa: F401


@pytest.fixture
def admin_client(client, owner, login, monkeypatch):
    real = safehttp.resolve  # IP literals resolve to themselves; names (no DNS here) to a public address
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: real(host, port) if host[0].isdigit() or ":" in host
                        else ["93.184.215.14"])
    user, account = owner
    login(user, account)
    return client


def test_the_list_is_empty_then_shows_each_endpoint_with_its_state_and_rate(admin_client, owner):
    user, account = owner
    page = admin_client.get("/integrations/webhooks")
    assert page.status_code == 200 and "No endpoints yet" in page.text
    endpoint = make_endpoint(account, user, "https://hooks.example.com/in", description="Zapier leads")
    off = make_endpoint(account, user, "https://hooks.example.com/off", is_active=False)
    for n, status in enumerate(["delivered", "delivered", "delivered", "failed"]):
        db.session.add(WebhookMessage(account_id=account.id, endpoint_id=endpoint.id, webhook_id=f"msg_l{n}",
                                      event_type="contact.created", payload={}, status=status))
    db.session.commit()
    page = admin_client.get("/integrations/webhooks")
    row = page.text.split(f'id="endpoint-{endpoint.id}"')[1].split("</tr>")[0]
    assert "https://hooks.example.com/in" in row and "Zapier leads" in row and "Active" in row and "75%" in row
    assert "Disabled" in page.text.split(f'id="endpoint-{off.id}"')[1].split("</tr>")[0]


def test_viewers_users_and_strangers_cannot_open_the_pages(client, owner, login, admin_client):
    user, account = owner
    endpoint = make_endpoint(account, user, "https://hooks.example.com/in")
    member = factories.add_member(account, "user", email="plain@example.com")
    fresh = client.application.test_client()
    factories.login(fresh, member, account)
    for path in ("/integrations/webhooks", f"/integrations/webhooks/{endpoint.id}", "/integrations/webhooks/new"):
        assert fresh.get(path).status_code == 403
    assert fresh.post(f"/integrations/webhooks/{endpoint.id}/secret").status_code == 403
    assert client.application.test_client().get("/integrations/webhooks").status_code == 302  # to log in


def test_adding_an_endpoint_with_grouped_events(admin_client, owner):
    page = admin_client.get("/integrations/webhooks/new")
    assert page.status_code == 200
    assert 'name="groups" value="orders"' in page.text and 'name="events" value="order.paid"' in page.text
    response = admin_client.post("/integrations/webhooks/new", data={
        "url": "https://hooks.example.com/leadforge", "description": "n8n", "events": ["contact.created"],
        "groups": ["orders"]})
    assert response.status_code == 303
    endpoint = db.session.execute(select(WebhookEndpoint)).scalar_one()
    assert response.headers["Location"].endswith(f"/integrations/webhooks/{endpoint.id}")
    assert endpoint.events == ["contact.created", *webhooks.GROUP_EVENTS["orders"]]
    assert endpoint.description == "n8n"


@pytest.mark.parametrize("url, message", [
    ("http://hooks.example.com/in", "Use an https:// URL"),
    ("https://10.1.1.1/in", "10.1.1.1 is a private address"),
    ("https://localhost/in", "localhost resolves to"),
])
def test_a_refused_url_is_said_next_to_the_field(admin_client, url, message, monkeypatch):
    if "localhost" in url:
        monkeypatch.setattr(safehttp, "resolve", lambda host, port: ["127.0.0.1"])
    response = admin_client.post("/integrations/webhooks/new", data={"url": url, "events": ["order.paid"]})
    assert response.status_code == 422
    assert f'id="url-error">{message}' in response.text.replace("&#39;", "'")
    assert 'value="order.paid" checked' in response.text  # what was ticked stays ticked
    assert db.session.execute(select(WebhookEndpoint)).first() is None


def test_no_event_chosen_is_refused(admin_client):
    response = admin_client.post("/integrations/webhooks/new", data={"url": "https://hooks.example.com/in"})
    assert response.status_code == 422 and "Choose at least one event." in response.text


def test_editing_an_endpoint(admin_client, owner):
    user, account = owner
    endpoint = make_endpoint(account, user, "https://hooks.example.com/in")
    page = admin_client.get(f"/integrations/webhooks/{endpoint.id}/edit")
    assert 'value="contact.created" checked' in page.text and "https://hooks.example.com/in" in page.text
    response = admin_client.post(f"/integrations/webhooks/{endpoint.id}/edit", data={
        "url": "https://hooks.example.com/v2", "events": ["deal.won", "deal.lost"]})
    assert response.status_code == 303
    db.session.refresh(endpoint)
    assert endpoint.url == "https://hooks.example.com/v2" and endpoint.events == ["deal.won", "deal.lost"]


def test_the_secret_is_hidden_until_revealed_and_can_be_rotated(admin_client, owner):
    user, account = owner
    endpoint = make_endpoint(account, user, "https://hooks.example.com/in")
    secret = webhooks.secret_of(endpoint)
    page = admin_client.get(f"/integrations/webhooks/{endpoint.id}")
    assert secret not in page.text and "whsec_••••" + secret[-4:] in page.text
    revealed = admin_client.post(f"/integrations/webhooks/{endpoint.id}/secret", headers={"HX-Request": "true"})
    assert revealed.status_code == 200 and revealed.headers["Cache-Control"] == "no-store"
    assert f'<code id="signing-secret">{secret}</code>' in revealed.text
    assert 'data-copy="signing-secret"' in revealed.text
    assert "<html" not in revealed.text  # the secret's block only
    assert f'value="{secret}"' not in revealed.text

    response = admin_client.post(f"/integrations/webhooks/{endpoint.id}/rotate")
    assert response.status_code == 303
    db.session.refresh(endpoint)
    assert webhooks.secret_of(endpoint) != secret and webhooks.previous_secret_active(endpoint)
    page = admin_client.get(f"/integrations/webhooks/{endpoint.id}")
    assert "New signing secret made" in page.text and 'id="previous-secret"' in page.text


def test_disable_enable_and_delete(admin_client, owner):
    user, account = owner
    endpoint = make_endpoint(account, user, "https://hooks.example.com/in")
    admin_client.post(f"/integrations/webhooks/{endpoint.id}/active", data={"active": "0"})
    db.session.refresh(endpoint)
    assert not endpoint.is_active
    page = admin_client.get(f"/integrations/webhooks/{endpoint.id}")
    assert 'id="disabled-reason"' in page.text and "Disabled by Olive Owner." in page.text
    admin_client.post(f"/integrations/webhooks/{endpoint.id}/active", data={"active": "1"})
    db.session.refresh(endpoint)
    assert endpoint.is_active and endpoint.disabled_reason is None
    response = admin_client.post(f"/integrations/webhooks/{endpoint.id}/delete")
    assert response.status_code == 303 and response.headers["Location"].endswith("/integrations/webhooks")
    assert db.session.execute(select(WebhookEndpoint)).first() is None


def test_the_history_filters_and_polls_while_messages_wait(admin_client, owner):
    user, account = owner
    endpoint = make_endpoint(account, user, "https://hooks.example.com/in", ["contact.created", "order.paid"])
    for n, (event, status) in enumerate([("contact.created", "delivered"), ("order.paid", "failed"),
                                          ("order.paid", "delivered")]):
        db.session.add(WebhookMessage(account_id=account.id, endpoint_id=endpoint.id, webhook_id=f"msg_h{n}",
                                      event_type=event, payload={}, status=status, attempts=1))
    db.session.commit()
    page = admin_client.get(f"/integrations/webhooks/{endpoint.id}")
    assert all(f"msg_h{n}" in page.text for n in range(3))
    assert 'hx-trigger="every' not in page.text  # nothing waits: no polling
    filtered = admin_client.get(f"/integrations/webhooks/{endpoint.id}?status=delivered&event_type=order.paid",
                                headers={"HX-Request": "true"})
    assert filtered.status_code == 200 and "<html" not in filtered.text and 'id="history"' in filtered.text
    assert "msg_h2" in filtered.text and "msg_h0" not in filtered.text and "msg_h1" not in filtered.text
    none = admin_client.get(f"/integrations/webhooks/{endpoint.id}?status=retrying")
    assert "No deliveries match" in none.text

    webhooks.fan_out("contact.created", {"account_id": str(account.id)})
    page = admin_client.get(f"/integrations/webhooks/{endpoint.id}")
    history = page.text.split('id="history"')[1].split(">")[0]
    assert 'hx-trigger="every 3s"' in history and f"/integrations/webhooks/{endpoint.id}" in history


def test_a_test_event_and_a_redelivery_from_the_pages(app, admin_client, owner, receiver):
    user, account = owner
    receiver.expect("POST", "/hooks", 500, times=1)
    receiver.expect("POST", "/hooks", 200)
    endpoint = make_endpoint(account, user, f"{receiver.url}/hooks")
    response = admin_client.post(f"/integrations/webhooks/{endpoint.id}/test")
    (message,) = messages_of(endpoint)
    assert message.is_test and response.headers["Location"].endswith(
        f"/integrations/webhooks/{endpoint.id}/messages/{message.id}")
    waiting = admin_client.get(response.headers["Location"])
    assert 'hx-trigger="every 3s"' in waiting.text and "No attempt yet" in waiting.text
    run_jobs(app)
    page = admin_client.get(response.headers["Location"])
    assert 'id="attempt-1"' in page.text and "The receiver answered 500" in page.text
    assert "&#34;type&#34;: &#34;webhook.test&#34;" in page.text or '"type": "webhook.test"' in page.text
    assert 'hx-trigger="every' not in page.text  # a test is not retried: nothing waits

    response = admin_client.post(f"/integrations/webhooks/{endpoint.id}/messages/{message.id}/redeliver")
    assert response.status_code == 303
    polling = admin_client.get(response.headers["Location"], headers={"HX-Request": "true"})
    assert 'id="message-attempts"' in polling.text and 'hx-trigger="every 3s"' in polling.text
    run_jobs(app)
    page = admin_client.get(response.headers["Location"])
    assert 'id="attempt-2"' in page.text and "manual" in page.text and "Delivered" in page.text
    assert [r.headers["webhook-id"] for r in receiver.requests] == [message.webhook_id] * 2


def test_a_message_of_another_endpoint_is_not_found_under_this_one(admin_client, owner):
    user, account = owner
    first = make_endpoint(account, user, "https://hooks.example.com/1")
    second = make_endpoint(account, user, "https://hooks.example.com/2")
    (message_id,) = webhooks.fan_out("contact.created", {"account_id": str(account.id)})[:1]
    owner_of = db.session.get(WebhookMessage, message_id).endpoint_id
    other = second if owner_of == first.id else first
    assert admin_client.get(f"/integrations/webhooks/{other.id}/messages/{message_id}").status_code == 404
    assert admin_client.post(f"/integrations/webhooks/{other.id}/messages/{message_id}/redeliver").status_code == 404


def test_no_secret_in_any_page_source(admin_client, owner):
    user, account = owner
    endpoint = make_endpoint(account, user, "https://hooks.example.com/in")
    secret = webhooks.secret_of(endpoint)
    for path in ("/integrations/webhooks", f"/integrations/webhooks/{endpoint.id}",
                 f"/integrations/webhooks/{endpoint.id}/edit"):
        text = admin_client.get(path).text
        assert secret not in text and not re.search(r"whsec_[A-Za-z0-9+/]{20,}", text)
