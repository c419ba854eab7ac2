"""Outgoing webhook endpoints (app/integrations/webhooks.py): the event catalogue, saving an endpoint (URL,
events, secret), and which endpoints an event reaches, with what data."""
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core import crypto
from app.core.errors import ValidationError
from app.core.models import AuditEvent
from app.extensions import db
from app.integrations import safehttp, webhooks
from app.integrations.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from app.orders.services.orders import STATUS_EVENTS
from tests import factories
from tests.integrations.webhook_support import make_endpoint, messages_of

APP = Path(__file__).resolve().parents[2] / "app"
PUBLIC = ["93.184.215.14"]


@pytest.fixture
def public_dns(monkeypatch):
    """hooks.example.com and friends resolve to a public address (no DNS in the tests)."""
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: PUBLIC)


def published_event_names() -> set[str]:
    """Every event name the app's code publishes: events.publish("..."), published.append(("...", ...)),
    the orders' STATUS_EVENTS, and deal.{won,lost}."""
    names = set(STATUS_EVENTS.values()) | {"deal.won", "deal.lost"}
    for path in APP.rglob("*.py"):
        text = path.read_text()
        for call in ("events\\.publish", "published\\.append\\(", "_after_change"):
            for found in re.findall(call + r'\(\s*"([a-z_]+\.[a-z_]+)"(?: if \w+ else "([a-z_]+\.[a-z_]+)")?', text):
                names |= {name for name in found if name}
    return names


def test_the_catalogue_offers_every_published_event_but_the_workspace_s_own():
    published = published_event_names()
    assert {"contact.created", "tag.added", "tag.removed", "order.paid", "form.submitted", "deal.stage_changed",
            "split_test.deleted", "page.published"} <= published
    assert published - {"workspace.created"} <= set(webhooks.EVENTS), published - set(webhooks.EVENTS)
    assert "workspace.created" not in webhooks.EVENTS and webhooks.TEST_EVENT not in webhooks.EVENTS
    for key, label, items in webhooks.EVENT_GROUPS:
        assert key and label and items
        assert all(name and text for name, text in items)
    assert sum(len(items) for _, _, items in webhooks.EVENT_GROUPS) == len(webhooks.EVENTS)


# ---- saving an endpoint -------------------------------------------------------------------------------------

def test_an_endpoint_is_saved_with_a_new_encrypted_secret(owner, public_dns):
    user, account = owner
    endpoint = webhooks.create_endpoint(account, {"url": " https://Hooks.Example.com/in ", "description": "CRM",
                                                  "events": ["tag.added", "contact.created", "tag.added"]}, user)
    assert endpoint.url == "https://hooks.example.com/in"
    assert endpoint.events == ["contact.created", "tag.added"]  # the catalogue's order, once each
    assert endpoint.is_active and endpoint.created_by_id == user.id and endpoint.description == "CRM"
    secret = webhooks.secret_of(endpoint)
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{32}", secret)
    assert secret not in endpoint.secret_encrypted and crypto.decrypt(endpoint.secret_encrypted) == secret
    assert webhooks.secret_hint(endpoint) == "whsec_••••" + secret[-4:]
    other = webhooks.create_endpoint(account, {"url": "https://hooks.example.com/two", "events": ["order.paid"]}, user)
    assert webhooks.secret_of(other) != secret
    actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert actions.count("webhook_endpoint.created") == 2


@pytest.mark.parametrize("url, words", [
    ("", "Enter a URL"),
    ("http://hooks.example.com/in", "Use an https:// URL"),
    ("https://me:pass@hooks.example.com/in", "Take the user name and password out"),
    ("https://10.0.0.1/in", "private address"),
    ("https://192.168.1.20/in", "private address"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://[::1]/in", "loopback"),
    ("https://[::ffff:127.0.0.1]/in", "loopback"),
    ("https://localhost/in", "loopback"),
    ("javascript:alert(1)", "starts with https://"),
    ("https://hooks.example.com/" + "x" * 2000, "at most 2000 characters"),
])
def test_urls_that_are_refused_say_why(owner, url, words, monkeypatch):
    user, account = owner
    if "example.com" in url:
        monkeypatch.setattr(safehttp, "resolve", lambda host, port: PUBLIC)
    with pytest.raises(ValidationError) as refused:
        webhooks.create_endpoint(account, {"url": url, "events": ["contact.created"]}, user)
    assert words in refused.value.fields["url"]
    assert db.session.execute(select(WebhookEndpoint)).first() is None


def test_a_hostname_resolving_to_loopback_is_refused_when_saved(owner, monkeypatch):
    user, account = owner
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: ["127.0.0.1"])
    with pytest.raises(ValidationError) as refused:
        webhooks.create_endpoint(account, {"url": "https://sneaky.example.com/in", "events": ["order.paid"]}, user)
    assert refused.value.fields["url"] == ("sneaky.example.com resolves to 127.0.0.1, which is a loopback address: "
                                           "requests to private networks are refused.")


def test_http_and_loopback_are_allowed_for_development_hosts(app, owner, monkeypatch):
    user, account = owner
    monkeypatch.setitem(app.config, "WEBHOOK_DEV_HOSTS", "")
    with pytest.raises(ValidationError):
        webhooks.create_endpoint(account, {"url": "http://127.0.0.1:5001/in", "events": ["order.paid"]}, user)
    monkeypatch.setitem(app.config, "WEBHOOK_DEV_HOSTS", "localhost,127.0.0.1")
    endpoint = webhooks.create_endpoint(account, {"url": "http://127.0.0.1:5001/in", "events": ["order.paid"]}, user)
    assert endpoint.url == "http://127.0.0.1:5001/in"


@pytest.mark.parametrize("chosen, words", [
    ([], "Choose at least one event."), (["contact.exploded"], "Unknown event: contact.exploded."),
    (["workspace.created"], "Unknown event"), (["webhook.test"], "Unknown event"), ("nope", "Unknown event"),
    ([1, 2], "Choose the events to send."), (None, "Choose the events to send."),
])
def test_events_must_come_from_the_catalogue(owner, public_dns, chosen, words):
    user, account = owner
    with pytest.raises(ValidationError) as refused:
        webhooks.create_endpoint(account, {"url": "https://hooks.example.com/in", "events": chosen}, user)
    assert words in refused.value.fields["events"]


def test_every_field_error_is_reported_at_once(owner):
    user, account = owner
    with pytest.raises(ValidationError) as refused:
        webhooks.create_endpoint(account, {"url": "http://x.example.com", "events": [],
                                           "description": "d" * 201}, user)
    assert set(refused.value.fields) == {"url", "events", "description"}


def test_editing_keeps_what_is_not_sent_and_disabling_fails_waiting_messages(owner, public_dns):
    user, account = owner
    endpoint = make_endpoint(account, user, "https://hooks.example.com/in", ["contact.created"])
    secret = webhooks.secret_of(endpoint)
    webhooks.update_endpoint(account, endpoint, {"events": ["order.paid", "order.refunded"]}, user, partial=True)
    assert endpoint.url == "https://hooks.example.com/in" and endpoint.events == ["order.paid", "order.refunded"]
    assert webhooks.secret_of(endpoint) == secret

    (message_id,) = webhooks.fan_out("order.paid", {"account_id": str(account.id), "order_id": None})
    webhooks.update_endpoint(account, endpoint, {"is_active": False}, user, partial=True)
    assert not endpoint.is_active and endpoint.disabled_reason == "Disabled by Olive Owner."
    message = db.session.get(WebhookMessage, message_id)
    assert (message.status, message.last_error) == ("failed", "Not sent: the endpoint was disabled.")
    endpoint.failing_since = datetime.now(UTC)
    webhooks.set_active(account, endpoint, True, user)
    assert endpoint.is_active and endpoint.disabled_reason is None and endpoint.failing_since is None


def test_rotating_keeps_the_old_secret_for_24_hours(owner, public_dns):
    user, account = owner
    endpoint = make_endpoint(account, user, "https://hooks.example.com/in")
    old = webhooks.secret_of(endpoint)
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    new = webhooks.rotate_secret(account, endpoint, user, now=now)
    assert endpoint.previous_secret_expires_at == now + timedelta(hours=24)
    assert webhooks.signing_secrets(endpoint, now + timedelta(hours=23)) == [new, old]
    assert webhooks.signing_secrets(endpoint, now + timedelta(hours=24)) == [new]
    body = b'{"type":"contact.created"}'
    header = webhooks.signature_header(endpoint, "msg_1", 1777636800, body, now)
    assert header == f"{webhooks.sign(new, 'msg_1', 1777636800, body)} {webhooks.sign(old, 'msg_1', 1777636800, body)}"
    newer = webhooks.rotate_secret(account, endpoint, user, now=now + timedelta(hours=1))
    assert webhooks.signing_secrets(endpoint, now + timedelta(hours=2)) == [newer, new]  # one previous secret


def test_deleting_an_endpoint_deletes_its_history(owner, public_dns):
    user, account = owner
    endpoint = make_endpoint(account, user, "https://hooks.example.com/in")
    (message_id,) = webhooks.fan_out("contact.created", {"account_id": str(account.id)})
    db.session.add(WebhookAttempt(account_id=account.id, message_id=message_id, endpoint_id=endpoint.id, number=1,
                                  url=endpoint.url))
    db.session.commit()
    webhooks.delete_endpoint(account, endpoint, user)
    assert db.session.execute(select(WebhookMessage)).first() is None
    assert db.session.execute(select(WebhookAttempt)).first() is None


# ---- which endpoints an event reaches ------------------------------------------------------------------------

def test_events_reach_the_active_endpoints_of_their_workspace_that_asked_for_them(owner, public_dns):
    user, account = owner
    other_user = factories.make_user("other@example.com")
    other_account = factories.make_account(other_user, "Other")
    contacts_hook = make_endpoint(account, user, "https://hooks.example.com/contacts", ["contact.created"])
    deals_hook = make_endpoint(account, user, "https://hooks.example.com/deals", ["deal.created"])
    both_hook = make_endpoint(account, user, "https://hooks.example.com/both", ["contact.created", "deal.created"])
    off_hook = make_endpoint(account, user, "https://hooks.example.com/off", ["contact.created"], is_active=False)
    foreign_hook = make_endpoint(other_account, other_user, "https://hooks.example.com/other", ["contact.created"])

    contact = factories.make_contact(account, user, first_name="Ann", email="ann@example.com")
    assert [m.event_type for m in messages_of(contacts_hook)] == ["contact.created"]
    assert [m.event_type for m in messages_of(both_hook)] == ["contact.created"]
    assert messages_of(deals_hook) == messages_of(off_hook) == messages_of(foreign_hook) == []

    factories.make_deal(account, title="Big one")
    assert [m.event_type for m in messages_of(deals_hook)] == ["deal.created"]
    assert sorted(m.event_type for m in messages_of(both_hook)) == ["contact.created", "deal.created"]
    assert len(messages_of(contacts_hook)) == 1 and messages_of(foreign_hook) == []
    # Each endpoint's message is its own (its own webhook-id), of the same event.
    (first,), second = messages_of(contacts_hook), messages_of(both_hook)[0]
    assert first.webhook_id != second.webhook_id and first.payload == second.payload
    assert first.payload["data"]["contact"]["id"] == str(contact.id)
    assert first.account_id == account.id and first.status == "pending"


def test_the_data_carries_the_ids_and_a_snapshot_of_the_records(owner, public_dns):
    user, account = owner
    hook = make_endpoint(account, user, "https://hooks.example.com/all",
                         ["tag.added", "deal.created", "order.paid", "contact.updated"])
    contact = factories.make_contact(account, user, first_name="Bo", last_name="Lee", email="bo@example.com")
    from app.crm.services import contacts

    contacts.add_tag(account, contact, "VIP", user)
    contacts.update(account, contact, {"city": "Lyon"}, user, partial=True)
    factories.make_deal(account, title="Lee deal", value="250")
    _, price = factories.make_product(account, "Course", 4900)
    order = factories.make_order(account, [(price, "main")], status="pending", email="bo@example.com")
    from app.orders.services import orders

    published = []
    orders.change_status(orders.locked(order), "paid", published)
    orders.commit(published)

    by_type = {m.event_type: m.payload for m in messages_of(hook)}
    tagged = by_type["tag.added"]["data"]
    assert tagged["tag"] == "VIP" and tagged["contact"]["tags"] == ["VIP"] and tagged["contact_id"] == str(contact.id)
    assert by_type["contact.updated"]["data"]["fields"] == ["city"]
    deal = by_type["deal.created"]["data"]["deal"]
    assert deal["title"] == "Lee deal" and deal["value_cents"] == 25000 and deal["stage"]
    paid = by_type["order.paid"]["data"]
    assert paid["order_id"] == str(order.id) and paid["previous_status"] == "pending"
    assert paid["order"]["number"] == order.number and paid["order"]["total_cents"] == 4900
    assert paid["order"]["status"] == "paid" and paid["total_cents"] == 4900
    for payload in by_type.values():
        assert set(payload) == {"type", "timestamp", "data"} and "account_id" not in payload["data"]


def test_a_form_submitted_on_a_published_page_reaches_its_endpoint(owner, public_dns, published):
    user, account = owner
    hook = make_endpoint(account, user, "https://hooks.example.com/forms", ["form.submitted"])
    contact = factories.make_contact(account, user, email="lead@example.com")
    from app.core import events

    events.publish("form.submitted", account_id=account.id, funnel_id=None, step_id=None, page_id=None,
                   form_id="optin", contact_id=contact.id, created=True, fields={"email": "lead@example.com"})
    (message,) = messages_of(hook)
    data = message.payload["data"]
    assert data["form_id"] == "optin" and data["fields"] == {"email": "lead@example.com"} and data["created"] is True
    assert data["contact"]["email"] == "lead@example.com"


# ---- figures -------------------------------------------------------------------------------------------

def test_delivery_stats_count_messages_and_attempts_of_the_period(owner, public_dns):
    user, account = owner
    endpoint = make_endpoint(account, user, "https://hooks.example.com/in")
    quiet = make_endpoint(account, user, "https://hooks.example.com/quiet", ["order.paid"])
    now = datetime.now(UTC)
    statuses = ["delivered", "delivered", "delivered", "failed", "retrying"]
    for n, status in enumerate(statuses):
        message = WebhookMessage(account_id=account.id, endpoint_id=endpoint.id, webhook_id=f"msg_s{n}",
                                 event_type="contact.created", payload={}, status=status, created_at=now)
        db.session.add(message)
        db.session.flush()
        db.session.add(WebhookAttempt(account_id=account.id, message_id=message.id, endpoint_id=endpoint.id,
                                      number=1, url="u", ok=status == "delivered", created_at=now))
    db.session.add_all([
        WebhookMessage(account_id=account.id, endpoint_id=endpoint.id, webhook_id="msg_old", status="failed",
                       event_type="contact.created", payload={}, created_at=now - timedelta(days=31)),
        WebhookMessage(account_id=account.id, endpoint_id=endpoint.id, webhook_id="msg_test", status="failed",
                       event_type="webhook.test", payload={}, is_test=True, created_at=now)])
    db.session.commit()
    stats = webhooks.delivery_stats(account)
    assert stats == {"days": 30, "messages": 5, "delivered": 3, "failed": 1, "waiting": 1, "success_rate": 0.75,
                     "attempts": 5, "failed_attempts": 2, "attempt_success_rate": 0.6}
    per_endpoint = webhooks.endpoint_stats(account, [endpoint.id, quiet.id])
    assert per_endpoint[endpoint.id] == {"delivered": 3, "failed": 1, "waiting": 1, "success_rate": 0.75}
    assert per_endpoint[quiet.id]["success_rate"] is None
    other_user = factories.make_user("x@example.com")
    assert webhooks.delivery_stats(factories.make_account(other_user, "X"))["success_rate"] is None
