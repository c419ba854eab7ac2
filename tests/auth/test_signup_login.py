import re

from sqlalchemy import select

from app.auth.models import Account, Membership, User
from app.core.models import AuditEvent
from app.extensions import db
from tests import factories


def signup(client, **overrides):
    data = {"name": "Ada Lovelace", "email": "ada@example.com", "password": "s3cure-password",
            "workspace_name": "Ada's Agency"}
    data.update(overrides)
    return client.post("/signup", data=data)


def test_signup_creates_user_owned_workspace_and_logs_in(client):
    response = signup(client)
    assert response.status_code in (302, 303)
    user = db.session.execute(select(User)).scalar_one()
    assert user.email == "ada@example.com"
    membership = db.session.execute(select(Membership)).scalar_one()
    assert membership.role == "owner" and membership.user_id == user.id
    assert db.session.get(Account, membership.account_id).name == "Ada's Agency"
    page = client.get("/")
    assert page.status_code == 200
    assert "Good to see you, Ada Lovelace" in page.text
    actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert "user.signed_up" in actions and "workspace.created" in actions


def test_signup_rejects_email_already_used_in_any_case(client):
    factories.make_user("ada@example.com")
    response = signup(client, email="ADA@Example.COM")
    assert response.status_code == 422
    assert "already exists" in response.text
    assert db.session.execute(select(Account)).first() is None


def test_signup_rejects_invalid_email(client):
    response = signup(client, email="not-an-email")
    assert response.status_code == 422
    assert "valid e-mail" in response.text
    assert db.session.execute(select(User)).first() is None


def test_signup_rejects_short_password(client):
    response = signup(client, password="short")
    assert response.status_code == 422
    assert "8 to 128 characters" in response.text
    assert db.session.execute(select(User)).first() is None


def test_signup_over_long_fields_are_form_errors(client):
    response = signup(client, name="x" * 121, workspace_name="y" * 500, email=("a" * 250) + "@example.com")
    assert response.status_code == 422
    assert response.text.count('class="error"') >= 3
    assert db.session.execute(select(User)).first() is None


def test_login_and_logout(client):
    factories.make_user("bob@example.com", name="Bob")
    response = client.post("/login", data={"email": "BOB@example.com", "password": factories.PASSWORD})
    assert response.status_code in (302, 303)
    # Bob has no workspace yet: he is sent to create one.
    assert client.get("/").headers["Location"].endswith("/workspaces/new")
    client.post("/logout")
    assert "/login" in client.get("/").headers["Location"]


def test_wrong_password_and_unknown_email_get_the_same_message(client):
    factories.make_user("bob@example.com")
    wrong = client.post("/login", data={"email": "bob@example.com", "password": "wrong-password"})
    unknown = client.post("/login", data={"email": "nobody@example.com", "password": "wrong-password"})
    assert wrong.status_code == unknown.status_code == 422
    assert "The e-mail or password is not right." in wrong.text
    assert "The e-mail or password is not right." in unknown.text
    # The e-mail is kept and the cursor waits in the password field.
    assert 'value="bob@example.com"' in wrong.text
    assert re.search(r'<input[^>]*autofocus[^>]*id="password"|<input[^>]*id="password"[^>]*autofocus', wrong.text)


def test_sixth_rapid_login_attempt_is_refused(client):
    factories.make_user("bob@example.com")
    for _ in range(5):
        assert client.post("/login", data={"email": "bob@example.com", "password": "nope-nope"}).status_code == 422
    sixth = client.post("/login", data={"email": "bob@example.com", "password": factories.PASSWORD})
    assert sixth.status_code == 429
    assert "Too many login attempts" in sixth.text


def test_login_limit_also_applies_per_email_across_addresses(client):
    factories.make_user("bob@example.com")
    for i in range(5):
        client.post("/login", data={"email": "bob@example.com", "password": "nope-nope"},
                    environ_base={"REMOTE_ADDR": f"10.0.0.{i + 1}"})
    refused = client.post("/login", data={"email": "bob@example.com", "password": factories.PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.0.0.99"})
    assert refused.status_code == 429


def test_login_next_only_follows_local_paths(client):
    factories.make_user("bob@example.com")
    response = client.post("/login", data={"email": "bob@example.com", "password": factories.PASSWORD,
                                           "next": "https://evil.example.com/"})
    assert response.headers["Location"] == "/"


def test_remember_me_sets_a_remember_cookie(client):
    factories.make_user("bob@example.com")
    client.post("/login", data={"email": "bob@example.com", "password": factories.PASSWORD, "remember": "y"})
    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only


def test_session_cookie_flags(client):
    response = signup(client)
    set_cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie


def test_form_without_csrf_token_is_refused(client, csrf_enabled):
    response = signup(client)
    assert response.status_code == 400
    assert "CSRF" in response.text
    assert db.session.execute(select(User)).first() is None


def test_htmx_request_with_the_csrf_header_passes(client, csrf_enabled, owner, login):
    import re

    user, account = owner
    login(user, account)
    page = client.get("/settings/workspace")
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page.text).group(1)
    data = {"name": "Via header", "timezone": "UTC", "currency": "USD"}
    refused = client.post("/settings/workspace", data=data, headers={"HX-Request": "true"})
    assert refused.status_code == 400
    accepted = client.post("/settings/workspace", data=data, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert accepted.status_code == 200 and "HX-Location" in accepted.headers
    assert db.session.get(Account, account.id).name == "Via header"
