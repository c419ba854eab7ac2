"""Fixtures of the JSON API tests: API keys of each role and helpers that check the error format."""
from contextlib import contextmanager

import pytest

from app.auth import services as auth_services
from app.auth.models import Account
from app.core.tenancy import set_current
from app.extensions import db
from tests import factories


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def make_key(account, user, name: str = "Test key") -> tuple:
    """(ApiKey, headers) for a new key of `user` in `account`."""
    key, secret = auth_services.create_api_key(account, user, name)
    return key, bearer(secret)


@contextmanager
def acting_as(account, user):
    """Services that write an audit event read the current account/actor, as in a request."""
    set_current(account, auth_services.membership_of(user, account.id), user)
    try:
        yield
    finally:
        set_current(None, None, None)


def revoke(key) -> None:
    with acting_as(db.session.get(Account, key.account_id), key.user):
        auth_services.revoke_api_key(key)


def assert_json_error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """The response is `status` in the API's error format (JSON, never HTML); returns `error`."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json", response.mimetype
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    if code is not None:
        assert error["code"] == code
    if field is not None:
        assert field in error["fields"], error
        assert isinstance(error["fields"][field], str) and error["fields"][field]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return error


@pytest.fixture
def workspace(owner):
    """The owner's workspace with an admin, a user and a viewer: a dict of users and the account."""
    user, account = owner
    return {
        "account": account,
        "owner": user,
        "admin": factories.add_member(account, "admin", email="admin@example.com", name="Ada Admin"),
        "user": factories.add_member(account, "user", email="user@example.com", name="Uma User"),
        "viewer": factories.add_member(account, "viewer", email="viewer@example.com", name="Vic Viewer"),
    }


@pytest.fixture
def key_for(workspace):
    """key_for("admin") -> headers with a new API key of the workspace's admin (or owner/user/viewer)."""
    def make(role: str) -> dict:
        return make_key(workspace["account"], workspace[role], f"{role} key")[1]

    return make


@pytest.fixture
def admin_headers(key_for):
    return key_for("admin")
