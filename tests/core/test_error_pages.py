import logging

import pytest

from app import create_app
from tests import factories


@pytest.fixture
def fresh_app(app):
    """A second app on the same database, to which a test may still add routes."""
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "RATELIMIT_STORAGE_URI",
                                               "JOBS_MODE", "MAIL_SERVER", "MAIL_PORT", "SECRET_KEY")}
    config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False, WTF_CSRF_ENABLED=False)
    fresh = create_app(config)
    yield fresh
    with fresh.app_context():
        from app.extensions import db

        db.engine.dispose()


def _error_page(response) -> dict:
    """What a person sees on an error page: its code, heading, message, way out and reference."""
    import re

    text = response.text

    def first(pattern):
        found = re.search(pattern, text, re.S)
        return found.group(1).strip() if found else None

    return {"code": first(r'class="error-code">(.*?)<'), "heading": first(r"<h1[^>]*>(.*?)</h1>"),
            "message": first(r'<p class="muted">(.*?)</p>'), "home": 'href="/"' in text,
            "reference": first(r"Reference: <code>(.*?)</code>")}


def test_unknown_page_is_a_styled_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert _error_page(response) == {
        "code": "404", "heading": "Page not found",
        "message": "There is nothing here. It may have been deleted, or the link is wrong.",
        "home": True, "reference": response.headers["X-Request-ID"]}


def test_another_accounts_record_is_the_same_404_page(client, owner, login):
    """A row of another workspace (NotFoundError from core.tenancy) looks exactly like a missing page."""
    from app.crm.services import contacts

    user, account = owner
    other = factories.make_account(factories.make_user("b@example.com"), "B")
    theirs = contacts.create(other, {"email": "theirs@example.com"})
    login(user, account)
    response = client.get(f"/contacts/{theirs.id}")
    assert response.status_code == 404
    page = _error_page(response)
    assert page["heading"] == "Page not found" and page["message"].startswith("There is nothing here")
    assert "theirs@example.com" not in response.text


def test_viewer_posting_gets_a_styled_403(client, owner, login):
    user, account = owner
    viewer = factories.add_member(account, "viewer", email="v@example.com")
    login(viewer, account)
    response = client.post("/settings/workspace", data={"name": "Renamed", "timezone": "UTC", "currency": "USD"})
    assert response.status_code == 403
    page = _error_page(response)
    assert page["code"] == "403" and page["heading"] == "Not allowed" and "admins and owners" in page["message"]
    assert page["home"] and page["reference"]


def test_an_unhandled_error_is_a_styled_500_with_a_reference_and_a_log_line(fresh_app, caplog):
    @fresh_app.get("/__boom")
    def boom():
        raise RuntimeError("kaboom")

    @fresh_app.get("/api/__boom")
    def api_boom():
        raise RuntimeError("kaboom")

    with caplog.at_level(logging.ERROR):
        response = fresh_app.test_client().get("/__boom")
        api_response = fresh_app.test_client().get("/api/__boom")
    assert response.status_code == 500
    page = _error_page(response)
    assert page["heading"] == "Something went wrong" and "logged it" in page["message"]
    assert page["reference"] == response.headers["X-Request-ID"]
    assert "kaboom" not in response.text
    assert "unhandled error" in caplog.text and "kaboom" in caplog.text
    assert api_response.status_code == 500
    assert api_response.get_json()["error"]["code"] == "internal_error"


def test_security_headers_on_pages(client):
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Vary"] == "HX-Request" or "HX-Request" in response.headers.get("Vary", "")


def test_wrong_method_page_names_the_allowed_methods(client):
    response = client.put("/login")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]


def test_absurd_page_numbers_fall_back_to_the_first_page(client, owner, login):
    user, account = owner
    login(user, account)
    for path in ("/activity", "/settings/team", "/settings/api-keys"):
        response = client.get(path + "?page=99999999999999999999999")
        assert response.status_code == 200, path


def test_nul_characters_are_a_400_not_a_500(client, owner, login):
    user, account = owner
    login(user, account)
    assert client.get("/contacts?q=a%00b").status_code == 400
    response = client.post("/contacts/new", data={"first_name": "A\x00B"})
    assert response.status_code == 400 and "NUL" in response.text


def test_production_refuses_to_start_with_the_development_secret_key(app):
    from app.config import DEVELOPMENT_SECRET_KEY

    base = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "DEBUG": False, "TESTING": False}
    for secret in (DEVELOPMENT_SECRET_KEY, ""):
        with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
            create_app({**base, "SECRET_KEY": secret})
    assert create_app({**base, "SECRET_KEY": "a-long-random-secret"}).config["SECRET_KEY"] == "a-long-random-secret"
    assert create_app({**base, "DEBUG": True, "SECRET_KEY": DEVELOPMENT_SECRET_KEY})  # development is allowed


def test_hsts_only_when_the_app_is_served_over_https(app, client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "RATELIMIT_STORAGE_URI",
                                               "SECRET_KEY")}
    secure = create_app({**config, "TESTING": True, "BASE_URL": "https://app.example.com"})
    response = secure.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
