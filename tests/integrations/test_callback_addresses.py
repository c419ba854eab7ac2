"""The addresses providers call back, shown on the connection's page to paste into the provider: SendGrid's
Event Webhook URL (with the verification key entered through the connection's form, then a signed event
accepted end to end) and an SMS connection's delivery report URL (Bandwidth's to paste, the others' for
reference)."""
import base64
import json
import re
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from app.crm.models import Contact
from app.extensions import db
from app.integrations import callbacks, connections
from app.integrations.models import Connection, InboundCall
from tests import factories
from tests.integrations.standin import StandIn
from tests.integrations.test_callbacks_sendgrid import event, keys, signed_headers  # noqa: F401 (keys: fixture)

SG_KEY = "SG.live-key-0123456789-abcdef"


@pytest.fixture
def sendgrid_standin(app):
    saved = app.config.get("PROVIDER_BASE_URLS")
    with StandIn() as server:
        app.config["PROVIDER_BASE_URLS"] = {**(saved or {}), "sendgrid": server.url}
        server.expect("GET", "/v3/scopes", json={"scopes": ["mail.send"]})
        try:
            yield server
        finally:
            app.config["PROVIDER_BASE_URLS"] = saved


def copy_box(page: str, box_id: str) -> str:
    """The text of the <code> a Copy button copies, checking the button is there."""
    assert f'data-copy="{box_id}"' in page
    return re.search(rf'<code id="{box_id}">([^<]*)</code>', page).group(1)


def connect_sendgrid(client) -> Connection:
    response = client.post("/integrations/connections/new/sendgrid", data={
        "connection_name": "SendGrid", "api_key": SG_KEY, "from_email": "news@example.com", "region": "global"})
    assert response.status_code == 303
    return db.session.execute(select(Connection)).scalar_one()


def edit(client, connection, **values):
    data = {"connection_name": connection.name, "api_key": "", "from_email": "news@example.com",
            "from_name": "", "region": "global", "event_webhook_public_key": "", **values}
    return client.post(f"/integrations/connections/{connection.id}/edit", data=data)


def test_the_sendgrid_page_shows_the_event_webhook_url_and_a_key_entered_there_verifies_events(
        app, client, owner, login, keys, sendgrid_standin):  # noqa: F811
    user, account = owner
    login(user, account)
    contact = factories.make_contact(account, user, email="dan@example.com")
    connection = connect_sendgrid(client)
    assert connection.status == "connected"

    page = client.get(f"/integrations/connections/{connection.id}").text
    url = copy_box(page, "events-url")
    assert url == callbacks.sendgrid_events_url(connection)
    assert url.startswith(app.config["BASE_URL"].rstrip("/") + "/api/v1/hooks/sendgrid/")
    assert "No verification key" in page and "every event is refused" in page
    assert 'name="event_webhook_public_key"' in page

    # Not yet verifiable: SendGrid's events are refused.
    body = json.dumps([event("unsubscribe", "dan@example.com")]).encode()
    path = urlsplit(url).path
    assert client.post(path, data=body, headers=signed_headers(keys[0], body)).status_code == 403

    # The key SendGrid shows, pasted into the connection's form.
    response = edit(client, connection, event_webhook_public_key=f"  {keys[1]}\n")
    assert response.status_code == 303
    db.session.refresh(connection)
    assert connection.settings["event_webhook_public_key"] == keys[1]
    assert connection.status == "connected"  # tested again with the kept API key
    assert connections.credentials(connection) == {"api_key": SG_KEY}
    page = client.get(f"/integrations/connections/{connection.id}").text
    assert "Verification key set" in page and f'value="{keys[1]}"' in page  # not a secret: shown to check

    response = client.post(path, data=body, headers=signed_headers(keys[0], body))
    assert response.status_code == 200, response.text
    assert db.session.get(Contact, contact.id).email_status == "unsubscribed"
    assert [code for code, in db.session.execute(
        select(InboundCall.status_code).order_by(InboundCall.created_at))] == [403, 200]


def test_the_key_as_pem_even_without_its_line_breaks_is_accepted(client, owner, login, keys,  # noqa: F811
                                                                    sendgrid_standin):
    login(*owner)
    connection = connect_sendgrid(client)
    pem = keys[0].public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    assert edit(client, connection, event_webhook_public_key=pem.replace("\n", "")).status_code == 303
    body = json.dumps([event("delivered", "dan@example.com")]).encode()
    response = client.post(urlsplit(callbacks.sendgrid_events_url(connection)).path, data=body,
                           headers=signed_headers(keys[0], body))
    assert response.status_code == 200


@pytest.mark.parametrize("bad", ["not a key", base64.b64encode(b"\x30\x03\x02\x01\x00").decode(),
                                 "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----"])
def test_a_verification_key_that_is_not_a_key_is_refused_on_the_form(client, owner, login, keys,  # noqa: F811
                                                                     sendgrid_standin, bad):
    login(*owner)
    connection = connect_sendgrid(client)
    response = edit(client, connection, event_webhook_public_key=bad)
    assert response.status_code == 422
    assert "This is not a verification key" in response.text
    db.session.refresh(connection)
    assert "event_webhook_public_key" not in connection.settings


def test_a_blank_key_is_left_out_and_clears_a_key_set_before(client, owner, login, keys,  # noqa: F811
                                                             sendgrid_standin):
    login(*owner)
    connection = connect_sendgrid(client)
    assert "event_webhook_public_key" not in connection.settings
    assert edit(client, connection, event_webhook_public_key=keys[1]).status_code == 303
    assert edit(client, connection, event_webhook_public_key="   ").status_code == 303
    db.session.refresh(connection)
    assert "event_webhook_public_key" not in connection.settings


@pytest.mark.parametrize("provider,values,pasted", [
    ("bandwidth", {"account_id": "9900001", "username": "api-user", "password": "bw-secret-1234",
                   "application_id": "app-1", "from_number": "+14155550123"}, True),
    ("twilio", {"account_sid": "AC" + "0" * 32, "auth_token": "tw-secret-5678", "from_number": "+14155550123"},
     False),
])
def test_an_sms_connection_page_shows_its_delivery_report_url(app, client, owner, login, provider, values, pasted):
    user, account = owner
    login(user, account)
    connection = connections.create(account, user, provider, values)
    page = client.get(f"/integrations/connections/{connection.id}").text
    url = copy_box(page, "status-url")
    assert url == callbacks.sms_status_url(connection)
    assert urlsplit(url).path.startswith("/api/v1/hooks/sms/")
    if pasted:
        assert "set this as the application&#39;s callback URL" in page
    else:
        assert "Leadforge gives it with every message it sends" in page
    assert 'id="events-url"' not in page
