"""Outgoing webhooks in the JSON API: endpoints CRUD (refused URLs and events say why), the secret on create
and rotation only, test events, deliveries with filters and attempts, redeliver; admins only, another
workspace's ids not found."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.integrations import safehttp, webhooks
from app.integrations.models import WebhookEndpoint, WebhookMessage
from tests import factories
from tests.api.conftest import assert_json_error, make_key
from tests.conftest import run_jobs
from tests.integrations.webhook_support import receiver_fixture  # noqa: F401 (the `receiver` fixture)

BASE = "/api/v1/webhooks"


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    real = safehttp.resolve  # IP literals resolve to themselves; names (no DNS here) to a public address
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: real(host, port) if host[0].isdigit() or ":" in host
                        else ["93.184.215.14"])


def create(client, headers, **body):
    return client.post(f"{BASE}/endpoints", headers=headers,
                       json={"url": "https://hooks.example.com/in", "events": ["contact.created"], **body})


def test_endpoints_crud(client, admin_headers, workspace):
    response = create(client, admin_headers, description="Zapier", events=["order.paid", "contact.created"])
    assert response.status_code == 201
    created = response.get_json()
    endpoint = db.session.get(WebhookEndpoint, created["id"])
    assert created["secret"] == webhooks.secret_of(endpoint) and created["secret"].startswith("whsec_")
    assert created["secret_hint"] == "whsec_••••" + created["secret"][-4:]
    assert created["events"] == ["contact.created", "order.paid"] and created["is_active"] is True
    assert created["description"] == "Zapier" and created["previous_secret_expires_at"] is None

    listed = client.get(f"{BASE}/endpoints", headers=admin_headers).get_json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]
    assert client.get(f"{BASE}/endpoints?q=zapier", headers=admin_headers).get_json()["total"] == 1
    assert client.get(f"{BASE}/endpoints?q=nothing", headers=admin_headers).get_json()["total"] == 0
    one = client.get(f"{BASE}/endpoints/{endpoint.id}", headers=admin_headers).get_json()
    assert one["url"] == "https://hooks.example.com/in" and "secret" not in one

    changed = client.patch(f"{BASE}/endpoints/{endpoint.id}", headers=admin_headers,
                           json={"events": ["deal.won"], "is_active": False})
    assert changed.status_code == 200
    body = changed.get_json()
    assert body["events"] == ["deal.won"] and body["is_active"] is False and body["disabled_reason"]
    assert body["url"] == "https://hooks.example.com/in"  # not sent: kept

    rotated = client.post(f"{BASE}/endpoints/{endpoint.id}/rotate-secret", headers=admin_headers).get_json()
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_expires_at"]
    db.session.expire_all()
    assert webhooks.signing_secrets(db.session.get(WebhookEndpoint, endpoint.id)) == [rotated["secret"],
                                                                                      created["secret"]]

    assert client.delete(f"{BASE}/endpoints/{created['id']}", headers=admin_headers).status_code == 204
    assert_json_error(client.get(f"{BASE}/endpoints/{created['id']}", headers=admin_headers), 404)


@pytest.mark.parametrize("body, field, words", [
    ({"url": "http://hooks.example.com/in"}, "url", "Use an https:// URL"),
    ({"url": "https://10.0.0.1/in"}, "url", "private address"),
    ({"url": "https://192.168.1.1/in"}, "url", "private address"),
    ({"url": "https://169.254.169.254/latest/meta-data/"}, "url", "link-local"),
    ({"url": "https://[::1]/in"}, "url", "loopback"),
    ({"url": "https://[::ffff:127.0.0.1]/in"}, "url", "loopback"),
    ({"url": "https://u:p@hooks.example.com/in"}, "url", "user name and password"),
    ({"url": 42}, "url", "Must be a string."),
    ({"events": []}, "events", "Choose at least one event."),
    ({"events": ["contact.exploded"]}, "events", "Unknown event"),
    ({"events": "contact.created"}, "events", "Must be an array"),
    ({"is_active": "yes"}, "is_active", "Must be true or false."),
    ({"secret": "whsec_mine"}, "secret", "does not exist"),
])
def test_refused_bodies_say_which_field_and_why(client, admin_headers, workspace, body, field, words):
    response = create(client, admin_headers, **body)
    error = assert_json_error(response, 422, field=field)
    assert words in error["fields"][field]
    assert db.session.execute(select(WebhookEndpoint)).first() is None


def test_a_hostname_resolving_to_loopback_is_refused(client, admin_headers, workspace, monkeypatch):
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: ["127.0.0.1"])
    error = assert_json_error(create(client, admin_headers, url="https://sneaky.example.com/in"), 422, field="url")
    assert "sneaky.example.com resolves to 127.0.0.1" in error["fields"]["url"]


def test_only_admins_and_owners(client, key_for, workspace):
    for role in ("user", "viewer"):
        assert_json_error(client.get(f"{BASE}/endpoints", headers=key_for(role)), 403)
        assert_json_error(create(client, key_for(role)), 403)
    assert create(client, key_for("owner")).status_code == 201
    assert_json_error(client.get(f"{BASE}/endpoints"), 401)


def test_another_workspaces_endpoints_and_deliveries_are_not_found(client, admin_headers, workspace):
    stranger = factories.make_user("stranger@example.com")
    other = factories.make_account(stranger, "Other")
    endpoint = webhooks.create_endpoint(other, {"url": "https://hooks.example.com/x", "events": ["order.paid"]},
                                        stranger)
    (message_id,) = webhooks.fan_out("order.paid", {"account_id": str(other.id)})
    for method, path in [("get", f"/endpoints/{endpoint.id}"), ("patch", f"/endpoints/{endpoint.id}"),
                         ("delete", f"/endpoints/{endpoint.id}"), ("post", f"/endpoints/{endpoint.id}/rotate-secret"),
                         ("post", f"/endpoints/{endpoint.id}/test"), ("get", f"/endpoints/{endpoint.id}/deliveries"),
                         ("get", f"/deliveries/{message_id}"), ("post", f"/deliveries/{message_id}/redeliver")]:
        assert_json_error(client.open(BASE + path, method=method.upper(), headers=admin_headers, json={}), 404)
    assert client.get(f"{BASE}/endpoints", headers=admin_headers).get_json()["total"] == 0


def test_deliveries_their_attempts_a_test_event_and_redelivery(app, client, admin_headers, workspace, receiver):
    receiver.expect("POST", "/hooks", 500, times=1)
    receiver.expect("POST", "/hooks", 200)
    endpoint_id = create(client, admin_headers, url=f"{receiver.url}/hooks",
                         events=["contact.created", "tag.added"]).get_json()["id"]
    from app.crm.services import contacts

    contact = factories.make_contact(workspace["account"], workspace["owner"], email="api@example.com")
    contacts.add_tag(workspace["account"], contact, "VIP", workspace["owner"])
    test = client.post(f"{BASE}/endpoints/{endpoint_id}/test", headers=admin_headers)
    assert test.status_code == 202 and test.get_json()["is_test"] and test.get_json()["status"] == "pending"
    run_jobs(app)

    page = client.get(f"{BASE}/endpoints/{endpoint_id}/deliveries", headers=admin_headers).get_json()
    assert page["total"] == 3
    assert {item["event_type"] for item in page["items"]} == {"contact.created", "tag.added", "webhook.test"}
    failed = client.get(f"{BASE}/endpoints/{endpoint_id}/deliveries?status=retrying",
                        headers=admin_headers).get_json()["items"]
    only_tests = client.get(f"{BASE}/endpoints/{endpoint_id}/deliveries?event_type=webhook.test",
                            headers=admin_headers).get_json()["items"]
    assert [item["event_type"] for item in only_tests] == ["webhook.test"]
    assert_json_error(client.get(f"{BASE}/endpoints/{endpoint_id}/deliveries?status=lost", headers=admin_headers),
                      400, field="status")

    retrying = failed[0] if failed else None
    assert retrying is not None and retrying["last_status_code"] == 500
    detail = client.get(f"{BASE}/deliveries/{retrying['id']}", headers=admin_headers).get_json()
    (attempt,) = detail["attempts"]
    assert attempt["status_code"] == 500 and attempt["ok"] is False and attempt["trigger"] == "auto"
    assert attempt["request_headers"]["webhook-id"] == detail["webhook_id"]
    assert detail["payload"]["type"] == detail["event_type"]

    again = client.post(f"{BASE}/deliveries/{retrying['id']}/redeliver", headers=admin_headers)
    assert again.status_code == 202 and again.get_json()["webhook_id"] == detail["webhook_id"]
    run_jobs(app)
    detail = client.get(f"{BASE}/deliveries/{retrying['id']}", headers=admin_headers).get_json()
    assert detail["status"] == "delivered"
    assert [(a["number"], a["trigger"], a["ok"]) for a in detail["attempts"]] == [(1, "auto", False),
                                                                                 (2, "manual", True)]
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids.count(detail["webhook_id"]) == 2

    client.patch(f"{BASE}/endpoints/{endpoint_id}", headers=admin_headers, json={"is_active": False})
    assert_json_error(client.post(f"{BASE}/deliveries/{retrying['id']}/redeliver", headers=admin_headers), 409)


def test_the_event_types_are_the_catalogue(client, admin_headers, workspace):
    items = client.get(f"{BASE}/event-types", headers=admin_headers).get_json()["items"]
    assert [item["name"] for item in items] == list(webhooks.EVENTS)
    assert {"name": "order.paid", "label": "Order paid", "group": "Orders"} in items


def test_the_stripe_webhook_is_still_stripes(client, workspace):
    """/api/v1/webhooks/stripe is the orders' Stripe endpoint: unsigned, it is refused as before (no API key)."""
    response = client.post(f"{BASE}/stripe", data=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_an_api_key_of_the_workspace_sees_its_messages_only(client, admin_headers, workspace):
    key, headers = make_key(workspace["account"], workspace["admin"], "second")
    endpoint = webhooks.create_endpoint(workspace["account"], {"url": "https://hooks.example.com/in",
                                                               "events": ["order.paid"]}, workspace["admin"])
    (message_id,) = webhooks.fan_out("order.paid", {"account_id": str(workspace["account"].id)})
    body = client.get(f"{BASE}/deliveries/{message_id}", headers=headers).get_json()
    assert body["endpoint_id"] == str(endpoint.id) and body["attempts"] == []
    assert db.session.get(WebhookMessage, message_id).status == "pending"
