"""Provider connections: connecting (the form made from the adapter's fields, checked field by field), secrets
encrypted and never sent back, the test at once and on demand (what the provider answered when it refuses),
editing with blank secrets kept, deleting, the sending channel, roles and other workspaces.

The adapters are the fakes of tests/integrations/connection_fakes.py, talking HTTP to a local stand-in."""
import json
import re

import pytest
from sqlalchemy import func, select, text

from app.core.errors import ValidationError
from app.core.models import AuditEvent
from app.extensions import db
from app.integrations import connections
from app.integrations.models import Connection, ProviderCall, SmsMessage
from tests import factories
from tests.conftest import run_jobs
from tests.integrations.connection_fakes import (
    OTHER_SECRET,
    SECRET,
    VALUES,
    expect_account,
    make_connection,
    serving_fakes,
)


@pytest.fixture
def fake_providers(app):
    with serving_fakes(app) as server:
        yield server


def only_connection() -> Connection:
    return db.session.execute(select(Connection)).scalar_one()


def calls(connection, operation=None) -> list[ProviderCall]:
    query = select(ProviderCall).where(ProviderCall.connection_id == connection.id)
    if operation:
        query = query.where(ProviderCall.operation == operation)
    return db.session.execute(query.order_by(ProviderCall.created_at)).scalars().all()


def pages_of(client, connection) -> dict:
    """Every page that shows something of the connection, as the admin sees them."""
    base = f"/integrations/connections/{connection.id}"
    return {path: client.get(path) for path in ("/integrations", base, base + "/sync", base + "?sync_status=failed")}


# ---- connecting -----------------------------------------------------------------------------------------

def test_the_providers_are_offered_by_kind(client, owner, login, fake_providers):
    login(*owner)
    page = client.get("/integrations/connections/new")
    assert page.status_code == 200
    assert 'href="/integrations/connections/new/fakemail"' in page.text
    assert 'href="/integrations/connections/new/faketext"' in page.text
    email_part, sms_part = page.text.split('id="kind-sms-h"')
    assert "FakeMail" in email_part and "FakeText" in sms_part and "FakeText" not in email_part
    form = client.get("/integrations/connections/new/fakemail")
    assert form.status_code == 200
    for name in ("api_key", "region", "port", "sender", "use_tls", "account_label", "connection_name"):
        assert f'name="{name}"' in form.text
    assert 'type="password"' in form.text and 'value="587"' in form.text  # the secret input, the port's default
    assert client.get("/integrations/connections/new/nosuchprovider").status_code == 404


def test_connecting_tests_at_once_and_stores_the_secret_encrypted(app, client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    expect_account(fake_providers, "Acme Newsletters")
    response = client.post("/integrations/connections/new/fakemail", data={**VALUES, "connection_name": "Newsletter"})
    assert response.status_code == 303
    connection = only_connection()
    assert response.headers["Location"].endswith(f"/integrations/connections/{connection.id}")
    # The exact check request, with the key as the adapter sends it.
    [check] = fake_providers.received("GET", "/v1/account")
    assert check.headers["Authorization"] == f"Bearer {SECRET}"
    assert (connection.status, connection.status_message) == ("connected", "Account: Acme Newsletters")
    assert connection.last_checked_at is not None and connection.last_used_at is not None
    assert (connection.name, connection.kind, connection.provider) == ("Newsletter", "email", "fakemail")
    assert connection.settings == {"region": "eu", "port": 2525, "sender": "news@example.com", "use_tls": True,
                                   "account_label": "Main"}
    # Encrypted at rest: the row holds no trace of the key; decrypting gives it back.
    raw = db.session.execute(text("SELECT credentials_encrypted, credential_hints::text, settings::text "
                                  "FROM integration_connections")).one()
    assert SECRET not in "".join(raw) and SECRET[-12:] not in "".join(raw)
    assert connections.credentials(connection) == {"api_key": SECRET}
    assert connection.credential_hints == {"api_key": "••••4321"}
    assert [(c.operation, c.ok) for c in calls(connection)] == [("check", True)]
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "integration.connected")).scalar_one()
    assert audit.object_id == str(connection.id) and SECRET not in json.dumps(audit.details)

    # Never sent back: no page of the connection has the key; the detail page has its hint.
    for path, page in pages_of(client, connection).items():
        assert page.status_code == 200, path
        assert SECRET not in page.text and SECRET[:-4] not in page.text, path
    detail = client.get(f"/integrations/connections/{connection.id}").text
    assert "••••4321 — leave blank to keep" in detail
    assert "Account: Acme Newsletters" in detail and "Connected" in detail


def test_each_field_is_checked_and_every_error_shown(client, owner, login, fake_providers):
    login(*owner)
    bad = {"api_key": "  ", "region": "mars", "port": "25x", "sender": "not-an-address", "use_tls": "",
           "account_label": "x" * 501, "connection_name": "n" * 121}
    response = client.post("/integrations/connections/new/fakemail", data=bad)
    assert response.status_code == 422
    page = response.text
    assert "Enter the API key." in page
    assert "Choose the Data center from: United States, Europe." in page
    assert "The Port must be a whole number." in page
    assert "Enter a valid e-mail address" in page
    assert "The Account label is too long." in page
    assert "The name has at most 120 characters." in page
    assert db.session.execute(select(func.count()).select_from(Connection)).scalar_one() == 0
    assert fake_providers.requests == []  # nothing was tested


def test_the_service_refuses_unknown_providers_and_fields_and_fills_defaults(owner, fake_providers):
    user, account = owner
    with pytest.raises(connections.ValidationError) as unknown:
        connections.create(account, user, "nosuchprovider", {})
    assert unknown.value.fields == {"provider": "Choose a provider from the list."}
    with pytest.raises(connections.ValidationError) as extra:
        connections.create(account, user, "fakemail", {**VALUES, "password": "x"})
    assert "password" in extra.value.fields
    with pytest.raises(connections.ValidationError) as big:
        connections.create(account, user, "fakemail", {**VALUES, "port": "99999999999"})
    assert big.value.fields == {"port": "The Port is too large."}
    # A blank field with a default takes it; a blank optional one is left out; a bool is False when absent.
    created = connections.create(account, user, "fakemail", {"api_key": f" {SECRET}\n", "region": "us",
                                                             "port": "", "sender": "News@Example.com"})
    assert created.settings == {"region": "us", "port": 587, "sender": "news@example.com", "use_tls": False}
    assert connections.credentials(created) == {"api_key": SECRET}  # pasted with spaces: trimmed
    assert (created.status, created.name) == ("untested", "FakeMail")


# ---- wrong credentials, timeouts, the test button --------------------------------------------------------

def test_wrong_credentials_show_what_the_provider_answered_and_are_not_connected(client, owner, login,
                                                                                  fake_providers):
    login(*owner)
    expect_account(fake_providers, status=401, json={"errors": [{"message": "Invalid API key: revoked"}]})
    response = client.post("/integrations/connections/new/fakemail", data={**VALUES, "connection_name": "Typo"})
    assert response.status_code == 303
    connection = only_connection()
    assert connection.status == "failed"
    assert connection.status_message == "FakeMail refused the credentials (401): Invalid API key: revoked"
    assert [(c.operation, c.ok, c.status_code) for c in calls(connection)] == [("check", False, 401)]
    page = client.get(response.headers["Location"])
    assert "The test failed: FakeMail refused the credentials (401): Invalid API key: revoked" in page.text
    assert 'id="provider-answer"' in page.text and "Invalid API key: revoked" in page.text
    assert SECRET not in page.text
    overview = client.get("/integrations").text
    assert "Invalid API key: revoked" in overview and "Failed" in overview


def test_a_failed_test_never_leaves_the_connection_connected(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    connection = make_connection(account, user, fake_providers)
    assert connection.status == "connected"
    fake_providers.reset()
    fake_providers.expect("GET", "/v1/account", 503, body="upstream unavailable")
    response = client.post(f"/integrations/connections/{connection.id}/test")
    assert response.status_code == 303
    db.session.refresh(connection)
    assert connection.status == "failed"
    assert connection.status_message == "FakeMail answered 503: upstream unavailable"
    assert connection.last_error == "FakeMail answered 503: upstream unavailable"
    assert [c.ok for c in calls(connection, "check")] == [True, False]  # the failed call's record is kept
    assert "The test failed: FakeMail answered 503" in client.get(f"/integrations/connections/{connection.id}").text


def test_a_provider_that_does_not_answer_in_time_fails_the_test(app, client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    connection = connections.create(account, user, "fakemail", VALUES)
    app.config["PROVIDER_TIMEOUT"] = 0.3
    fake_providers.expect("GET", "/v1/account", json={"name": "late"}, delay=1)
    client.post(f"/integrations/connections/{connection.id}/test")
    db.session.refresh(connection)
    assert connection.status == "failed"
    assert connection.status_message == "FakeMail did not answer within 0.3 seconds."


def test_the_test_button_connects_with_what_the_provider_said(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    connection = connections.create(account, user, "fakemail", VALUES)
    expect_account(fake_providers, "Second Account")
    response = client.post(f"/integrations/connections/{connection.id}/test")
    assert response.status_code == 303
    db.session.refresh(connection)
    assert (connection.status, connection.status_message) == ("connected", "Account: Second Account")
    page = client.get(f"/integrations/connections/{connection.id}").text
    assert "Connected: Account: Second Account" in page
    assert '<div class="stat-value" id="usage-calls">1</div>' in page


# ---- editing and deleting ----------------------------------------------------------------------------------

def test_editing_with_a_blank_secret_keeps_it(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    connection = make_connection(account, user, fake_providers)
    fake_providers.reset()
    expect_account(fake_providers, "Acme EU")
    response = client.post(f"/integrations/connections/{connection.id}/edit",
                           data={**VALUES, "api_key": "", "region": "us", "connection_name": "Renamed"})
    assert response.status_code == 303
    db.session.refresh(connection)
    assert connections.credentials(connection) == {"api_key": SECRET}
    assert connection.settings["region"] == "us" and connection.name == "Renamed"
    # The settings changed, so the connection was tested again, with the kept key.
    [check] = fake_providers.received("GET", "/v1/account")
    assert check.headers["Authorization"] == f"Bearer {SECRET}"
    assert (connection.status, connection.status_message) == ("connected", "Account: Acme EU")


def test_a_new_secret_replaces_the_old_and_resets_the_status(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    connection = make_connection(account, user, fake_providers)
    assert connections.update(account, user, connection, {**VALUES, "api_key": OTHER_SECRET}) is True
    assert connection.status == "untested" and connection.status_message == ""
    assert connections.credentials(connection) == {"api_key": OTHER_SECRET}
    assert connection.credential_hints == {"api_key": "••••8765"}
    page = client.get(f"/integrations/connections/{connection.id}").text
    assert "••••8765 — leave blank to keep" in page and OTHER_SECRET not in page
    # Only the name: nothing to test again, the status stays.
    expect_account(fake_providers)
    connections.test(connection)
    assert connections.update(account, user, connection, {**VALUES, "api_key": ""}, name="Just a name") is False
    assert connection.status == "connected" and connection.name == "Just a name"


def test_an_edit_with_errors_is_shown_again_without_the_secret(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    connection = make_connection(account, user, fake_providers)
    response = client.post(f"/integrations/connections/{connection.id}/edit",
                           data={**VALUES, "api_key": OTHER_SECRET, "port": "-1", "connection_name": "X"})
    assert response.status_code == 422
    assert "The Port must be a whole number." in response.text
    assert OTHER_SECRET not in response.text and SECRET not in response.text
    db.session.refresh(connection)
    assert connections.credentials(connection) == {"api_key": SECRET} and connection.settings["port"] == 2525


def test_an_optional_secret_can_be_cleared_with_its_box(app, client, owner, login, smtp_server):
    """The SMTP password is optional: blank keeps it, so it is cleared with the "Clear" box under it (here the
    relay stopped asking for a login). The real SMTP adapter, against the tests' local SMTP server."""
    user, account = owner
    login(user, account)
    values = {"host": "127.0.0.1", "port": str(smtp_server[0].port), "security": "none", "username": "relay-user",
              "password": "relay-pass-4321", "from_email": "news@example.com", "from_name": ""}
    connection = connections.create(account, user, "smtp", values, name="Relay")
    assert connections.credentials(connection) == {"password": "relay-pass-4321"}
    page = client.get(f"/integrations/connections/{connection.id}").text
    assert re.search(r'<input[^>]*name="clear__password"[^>]*type="checkbox"|'
                     r'<input[^>]*type="checkbox"[^>]*name="clear__password"', page)
    assert "Clear the Password (••••4321)" in page and "or tick Clear to remove it" in page
    assert page.index('name="password"') < page.index('name="clear__password"') < page.index('name="from_email"')
    assert "relay-pass-4321" not in page

    form = {**values, "username": "", "password": "", "connection_name": "Relay"}
    # Blank without the box: the password is kept.
    assert client.post(f"/integrations/connections/{connection.id}/edit", data=form).status_code == 303
    db.session.refresh(connection)
    assert connections.credentials(connection) == {"password": "relay-pass-4321"}
    # With the box: removed, and the connection tested again without a login.
    response = client.post(f"/integrations/connections/{connection.id}/edit", data={**form, "clear__password": "y"})
    assert response.status_code == 303
    db.session.refresh(connection)
    assert connections.credentials(connection) == {} and connection.credential_hints == {}
    assert connection.status == "connected" and "(no login)" in connection.status_message
    assert "clear__password" not in client.get(f"/integrations/connections/{connection.id}").text  # nothing stored
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "integration.updated")
                               .order_by(AuditEvent.created_at.desc()).limit(1)).scalar_one()
    assert "password" in event.details["fields"] and "relay-pass-4321" not in json.dumps(event.details)


def test_a_value_typed_with_the_clear_box_ticked_replaces_the_secret(owner, smtp_server):
    user, account = owner
    values = {"host": "127.0.0.1", "port": str(smtp_server[0].port), "security": "none", "password": "old-pass-1111",
              "from_email": "news@example.com"}
    connection = connections.create(account, user, "smtp", values)
    assert connections.update(account, user, connection, {**values, "password": "new-pass-2222"},
                              clear=["password"]) is True
    assert connections.credentials(connection) == {"password": "new-pass-2222"}


@pytest.mark.parametrize("clear,field,message", [
    (["host"], "host", "The SMTP host cannot be cleared: it is required."),
    (["from_name"], "from_name", "The From name cannot be cleared: leave it blank instead."),
    (["nothing"], "nothing", "SMTP has no field “nothing”."),
])
def test_only_optional_secrets_can_be_cleared(owner, smtp_server, clear, field, message):
    user, account = owner
    values = {"host": "127.0.0.1", "port": "2525", "security": "none", "password": "old-pass-1111",
              "from_email": "news@example.com"}
    connection = connections.create(account, user, "smtp", values)
    with pytest.raises(ValidationError) as caught:
        connections.update(account, user, connection, values, clear=clear)
    assert caught.value.fields[field] == message
    db.session.refresh(connection)
    assert connections.credentials(connection) == {"password": "old-pass-1111"}
    assert connection.settings["host"] == "127.0.0.1"


def test_a_required_secret_has_no_clear_box(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    connection = make_connection(account, user, fake_providers)
    page = client.get(f"/integrations/connections/{connection.id}").text
    assert "leave blank to keep" in page and "clear__" not in page


def test_deleting_removes_the_connection_and_its_log(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    connection = make_connection(account, user, fake_providers)
    connection_id = connection.id
    response = client.post(f"/integrations/connections/{connection_id}/delete")
    assert response.status_code == 303 and response.headers["Location"].endswith("/integrations")
    assert db.session.get(Connection, connection_id) is None
    assert db.session.execute(select(func.count()).select_from(ProviderCall)).scalar_one() == 0
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "integration.deleted")).scalar_one()
    assert client.get(f"/integrations/connections/{connection_id}").status_code == 404


# ---- the sending channel ------------------------------------------------------------------------------------

def test_one_connected_sending_connection_per_workspace(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    untested = connections.create(account, user, "fakemail", VALUES, name="Untested")
    page = client.get(f"/integrations/connections/{untested.id}").text
    assert 'id="use-sending"' in page
    client.post(f"/integrations/connections/{untested.id}/sending", data={"use": "1"})
    assert connections.sending_channel(account) is None  # refused: not tested
    assert "Test the connection first" in client.get("/integrations").text

    first = make_connection(account, user, fake_providers, name="First")
    second = make_connection(account, user, fake_providers, name="Second")
    client.post(f"/integrations/connections/{first.id}/sending", data={"use": "1"})
    assert connections.sending_channel(account).id == first.id
    client.post(f"/integrations/connections/{second.id}/sending", data={"use": "1"})
    assert connections.sending_channel(account).id == second.id
    assert db.session.execute(select(func.count()).where(Connection.is_sending_channel.is_(True))).scalar_one() == 1
    assert 'id="stop-sending"' in client.get(f"/integrations/connections/{second.id}").text
    assert "Second" in client.get("/integrations").text.split('id="stat-channel"')[1][:300]
    client.post(f"/integrations/connections/{second.id}/sending", data={"use": "0"})
    assert connections.sending_channel(account) is None


def test_only_providers_that_send_email_may_be_the_channel(owner, fake_providers):
    user, account = owner
    lists_only = connections.create(account, user, "fakelists", {"api_key": SECRET})
    connections.test(lists_only)
    assert lists_only.status == "connected"
    with pytest.raises(connections.ValidationError, match="cannot send the workspace's e-mail"):
        connections.set_sending_channel(account, lists_only)
    text_connection = make_connection(account, user, fake_providers, provider="faketext")
    with pytest.raises(connections.ValidationError):
        connections.set_sending_channel(account, text_connection)


# ---- SMS ------------------------------------------------------------------------------------------------------

def test_an_sms_connection_sends_a_test_sms_and_lists_what_it_sent(app, client, owner, login, fake_providers):
    pytest.importorskip("app.integrations.sms")
    user, account = owner
    login(user, account)
    connection = make_connection(account, user, fake_providers, provider="faketext")
    page = client.get(f"/integrations/connections/{connection.id}").text
    assert 'id="sms-form"' in page and "No SMS sent yet" in page
    fake_providers.expect("POST", "/v1/messages", 201, json={"id": "msg-1", "status": "queued"})
    response = client.post(f"/integrations/connections/{connection.id}/sms",
                           data={"to": "+14155552671", "body": "Hello from the test"})
    assert response.status_code == 303, response.text
    run_jobs(app)  # the SMS is sent by a job
    [sent] = fake_providers.received("POST", "/v1/messages")
    assert sent.json["to"] == "+14155552671" and sent.json["text"] == "Hello from the test"
    assert sent.headers["Authorization"] == f"Token {SECRET}"
    message = db.session.execute(select(SmsMessage)).scalar_one()
    assert message.provider_message_id == "msg-1"
    page = client.get(f"/integrations/connections/{connection.id}").text
    assert 'id="sms-messages"' in page and "+14155552671" in page and "Hello from the test" in page
    assert SECRET not in page
    # An empty number is refused next to the field.
    refused = client.post(f"/integrations/connections/{connection.id}/sms", data={"to": "", "body": "Hi"})
    assert refused.status_code == 422 and "Enter the phone number." in refused.text


# ---- who may ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["viewer", "user"])
def test_members_below_admin_are_refused(client, owner, login, fake_providers, role):
    user, account = owner
    connection = make_connection(account, user, fake_providers)
    member = factories.add_member(account, role)
    login(member, account)
    base = f"/integrations/connections/{connection.id}"
    for path in ("/integrations", "/integrations/connections/new", "/integrations/connections/new/fakemail",
                 base, base + "/sync"):
        assert client.get(path).status_code == 403, path
    for path in ("/integrations/connections/new/fakemail", base + "/test", base + "/edit", base + "/delete",
                 base + "/sending", base + "/sync", base + "/sync-all"):
        assert client.post(path, data={**VALUES, "use": "1"}).status_code == 403, path
    assert db.session.get(Connection, connection.id).name == "FakeMail"
    assert db.session.execute(select(func.count()).select_from(Connection)).scalar_one() == 1


def test_another_workspaces_connection_is_not_found(client, owner, login, fake_providers):
    user, account = owner
    connection = make_connection(account, user, fake_providers)
    intruder = factories.make_user("intruder@example.com")
    other = factories.make_account(intruder, "Elsewhere")
    login(intruder, other)
    base = f"/integrations/connections/{connection.id}"
    for path in (base, base + "/sync"):
        assert client.get(path).status_code == 404, path
    for path in (base + "/test", base + "/edit", base + "/delete", base + "/sending", base + "/sync",
                 base + "/sync-all", base + "/sms"):
        assert client.post(path, data={**VALUES, "use": "1"}).status_code == 404, path
    db.session.refresh(connection)
    assert connection.name == "FakeMail" and connection.is_sending_channel is False
    assert connections.credentials(connection) == {"api_key": SECRET}
    assert SECRET not in client.get("/integrations").text
    assert "FakeMail" not in client.get("/integrations").text.split("<main")[1]


def test_every_installed_provider_has_a_working_form(client, owner, login):
    """The real adapters' fields make a form: one input per field, secrets as empty password inputs."""
    from app.integrations import providers

    login(*owner)
    assert {"smtp", "sendgrid", "mailchimp", "activecampaign", "convertkit", "getresponse", "aweber", "twilio",
            "plivo", "messagebird", "bandwidth", "telnyx"} <= set(providers.REGISTRY)
    for key, cls in providers.REGISTRY.items():
        page = client.get(f"/integrations/connections/new/{key}")
        assert page.status_code == 200, key
        for item in cls.fields:
            found = re.search(rf'<(input|select)[^>]*name="{item.key}"[^>]*>', page.text)
            assert found, (key, item.key)
            if item.secret:
                assert 'type="password"' in found.group(0) and 'value=""' in found.group(0), (key, item.key)
        # Nothing filled in: every required field is named, nothing is stored or asked of the provider.
        refused = client.post(f"/integrations/connections/new/{key}", data={})
        assert refused.status_code == 422, key
    assert db.session.execute(select(func.count()).select_from(Connection)).scalar_one() == 0
