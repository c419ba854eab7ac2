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


def test_unknown_page_is_a_styled_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text and 'class="error-code"' in response.text


def test_viewer_posting_gets_a_styled_403(client, owner, login):
    user, account = owner
    viewer = factories.add_member(account, "viewer", email="v@example.com")
    login(viewer, account)
    response = client.post("/settings/workspace", data={"name": "Renamed", "timezone": "UTC", "currency": "USD"})
    assert response.status_code == 403
    assert "Not allowed" in response.text and "admins and owners" in response.text


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
    assert "Something went wrong" in response.text
    assert response.headers["X-Request-ID"] in response.text
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
