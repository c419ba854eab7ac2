import json
import re

from sqlalchemy import select

from app.auth import services as auth_services
from app.auth.models import Account, ApiKey
from app.core.models import AuditEvent
from app.extensions import db
from tests import factories


def test_admin_updates_workspace_settings(client, owner, login):
    user, account = owner
    login(user, account)
    response = client.post("/settings/workspace",
                           data={"name": "Renamed", "timezone": "Europe/Paris", "currency": "EUR"})
    assert response.status_code in (302, 303)
    account = db.session.get(Account, account.id)
    assert (account.name, account.timezone, account.currency) == ("Renamed", "Europe/Paris", "EUR")
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "workspace.updated")).scalar_one()
    assert event.details["name"] == ["Olive's Agency", "Renamed"]


def test_workspace_settings_validation(client, owner, login):
    user, account = owner
    login(user, account)
    for data, message in (({"name": "", "timezone": "UTC", "currency": "USD"}, "required"),
                          ({"name": "x" * 121, "timezone": "UTC", "currency": "USD"}, "120"),
                          ({"name": "Ok", "timezone": "Mars/Olympus", "currency": "USD"}, "time zone"),
                          ({"name": "Ok", "timezone": "UTC", "currency": "XXX"}, "currency")):
        response = client.post("/settings/workspace", data=data)
        assert response.status_code == 422, data
        assert message in response.text
    assert db.session.get(Account, account.id).name == "Olive's Agency"


def test_htmx_form_error_swaps_only_the_form(client, owner, login):
    user, account = owner
    login(user, account)
    response = client.post("/settings/workspace", data={"name": "", "timezone": "UTC", "currency": "USD"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "<form" in response.text and "<html" not in response.text
    boosted = client.post("/settings/workspace", data={"name": "", "timezone": "UTC", "currency": "USD"},
                          headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.text
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_success_navigates_with_hx_location(client, owner, login):
    user, account = owner
    login(user, account)
    response = client.post("/settings/workspace", data={"name": "Via htmx", "timezone": "UTC", "currency": "USD"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    location = json.loads(response.headers["HX-Location"])
    assert location["path"] == "/settings/workspace" and location["headers"] == {"HX-Boosted": "true"}
    # That follow-up request gets the whole page, not the form block.
    page = client.get(location["path"], headers={"HX-Request": "true", **location["headers"]})
    assert "<html" in page.text and "Via htmx" in page.text


def test_owner_deletes_the_workspace_after_typing_its_name(client, owner, login):
    user, account = owner
    account_id, other_id = account.id, factories.make_account(user, "Second").id
    login(user, account)
    wrong = client.post("/settings/workspace/delete", data={"delete-confirm_name": "nope"})
    assert wrong.status_code == 422 and "exactly" in wrong.text
    assert db.session.get(Account, account_id) is not None
    done = client.post("/settings/workspace/delete", data={"delete-confirm_name": "Olive's Agency"})
    assert done.status_code in (302, 303)
    assert db.session.get(Account, account_id) is None
    assert "Second" in client.get("/").text  # moved to the workspace that is left
    assert db.session.get(Account, other_id) is not None


def test_admin_cannot_delete_the_workspace(client, owner, login):
    user, account = owner
    admin = factories.add_member(account, "admin", email="admin@example.com")
    login(admin, account)
    assert client.post("/settings/workspace/delete", data={"delete-confirm_name": "Olive's Agency"}).status_code == 403
    assert db.session.get(Account, account.id) is not None


def test_create_and_switch_workspaces(client, owner, login):
    user, account = owner
    login(user, account)
    created = client.post("/workspaces/new", data={"name": "Side project", "timezone": "UTC", "currency": "GBP"})
    assert created.status_code in (302, 303)
    page = client.get("/")
    assert "Side project" in page.text and "Olive&#39;s Agency" in page.text  # switcher lists both
    switched = client.post("/workspaces/switch", data={"account_id": str(account.id)})
    assert switched.status_code in (302, 303)
    assert "Olive&#39;s Agency · owner" in client.get("/").text


def test_switching_to_a_workspace_you_are_not_in_is_a_404(client, owner, login):
    user, account = owner
    stranger = factories.make_user("stranger@example.com")
    foreign = factories.make_account(stranger, "Foreign")
    login(user, account)
    assert client.post("/workspaces/switch", data={"account_id": str(foreign.id)}).status_code == 404
    assert client.post("/workspaces/switch", data={"account_id": "garbage"}).status_code == 404


def test_api_key_created_shown_once_listed_and_revoked(client, owner, login):
    user, account = owner
    login(user, account)
    created = client.post("/settings/api-keys", data={"name": "Zapier"})
    assert created.status_code == 201
    key = db.session.execute(select(ApiKey)).scalar_one()
    secret = re.search(r'id="new-key-secret">([^<]+)<', created.text).group(1)
    assert secret.startswith(key.prefix) and len(secret) > 30
    assert key.key_hash != secret and secret not in (key.key_hash, key.prefix)
    listing = client.get("/settings/api-keys").text
    assert "Zapier" in listing and key.prefix in listing and secret not in listing
    assert auth_services.api_key_for_secret(secret) is not None

    assert client.post(f"/settings/api-keys/{key.id}/revoke").status_code in (302, 303)
    assert db.session.get(ApiKey, key.id).revoked_at is not None
    assert auth_services.api_key_for_secret(secret) is None
    assert "revoked" in client.get("/settings/api-keys").text


def test_api_key_name_is_validated(client, owner, login):
    user, account = owner
    login(user, account)
    assert client.post("/settings/api-keys", data={"name": ""}).status_code == 422
    assert client.post("/settings/api-keys", data={"name": "k" * 81}).status_code == 422
    assert db.session.execute(select(ApiKey)).first() is None


def test_users_below_admin_cannot_see_or_create_keys(client, owner, login):
    user, account = owner
    member = factories.add_member(account, "user", email="u@example.com")
    login(member, account)
    assert client.get("/settings/api-keys").status_code == 403
    assert client.post("/settings/api-keys", data={"name": "Mine"}).status_code == 403
