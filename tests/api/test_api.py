"""The JSON API /api/v1: key authentication, the members list, invitations, and its error format."""
import pytest
from sqlalchemy import select

from app.auth import services as auth_services
from app.auth.models import ApiKey, Invitation, Membership
from app.core.security import sha256_hex
from app.extensions import db
from tests import factories
from tests.api.conftest import assert_json_error, bearer, make_key, revoke
from tests.conftest import run_jobs
from tests.support import free_port

# ---- /me and authentication -----------------------------------------------------------------------

def test_me_returns_account_user_and_key(client, workspace):
    key, headers = make_key(workspace["account"], workspace["admin"], "Zapier")
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    account = workspace["account"]
    assert body["account"] == {"id": str(account.id), "name": "Olive's Agency", "timezone": "UTC",
                               "currency": "USD", "created_at": account.created_at.isoformat()}
    assert body["user"] == {"id": str(workspace["admin"].id), "email": "admin@example.com",
                            "name": "Ada Admin", "role": "admin"}
    assert body["api_key"]["id"] == str(key.id)
    assert body["api_key"]["name"] == "Zapier"
    assert body["api_key"]["prefix"] == key.prefix and key.prefix.startswith("lf_")
    assert body["api_key"]["created_at"] == key.created_at.isoformat()
    assert "key_hash" not in response.get_data(as_text=True)
    db.session.refresh(key)
    assert key.last_used_at is not None


def test_bearer_scheme_is_case_insensitive(client, workspace):
    _, headers = make_key(workspace["account"], workspace["viewer"])
    secret = headers["Authorization"].split(" ", 1)[1]
    response = client.get("/api/v1/me", headers={"Authorization": f"bearer {secret}"})
    assert response.status_code == 200
    assert response.get_json()["user"]["role"] == "viewer"


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer    "},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Token lf_abcdefghijklmnopqrstuvwxyz"},
    {"Authorization": "lf_abcdefghijklmnopqrstuvwxyz"},
    {"Authorization": "Bearer lf_unknownunknownunknownunknownunknown"},
    {"Authorization": "Bearer not-even-a-leadforge-key"},
    {"Authorization": "Bearer lf_" + "x" * 500},
], ids=["no-header", "empty", "scheme-only", "blank-secret", "basic", "token-scheme", "no-scheme",
        "unknown-key", "foreign-format", "over-long"])
def test_me_refuses_missing_malformed_and_unknown_keys(client, workspace, headers):
    assert_json_error(client.get("/api/v1/me", headers=headers), 401, "unauthorized")


def test_revoked_key_is_refused(client, workspace):
    key, headers = make_key(workspace["account"], workspace["admin"])
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    revoke(key)
    error = assert_json_error(client.get("/api/v1/me", headers=headers), 401, "unauthorized")
    assert "revoked" in error["message"]
    assert_json_error(client.get("/api/v1/members", headers=headers), 401)


def test_key_of_a_user_removed_from_the_workspace_is_refused(client, workspace):
    account, admin = workspace["account"], workspace["admin"]
    _, headers = make_key(account, admin)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    membership = auth_services.membership_of(admin, account.id)
    db.session.delete(membership)
    db.session.commit()
    assert_json_error(client.get("/api/v1/me", headers=headers), 401, "unauthorized")
    assert_json_error(client.post("/api/v1/invitations", json={"email": "new@example.com"}, headers=headers), 401)


def test_key_follows_its_users_role(client, workspace):
    """The role is read at each request: demoting the user demotes the key."""
    account, admin = workspace["account"], workspace["admin"]
    _, headers = make_key(account, admin)
    auth_services.membership_of(admin, account.id).role = "viewer"
    db.session.commit()
    assert client.get("/api/v1/me", headers=headers).get_json()["user"]["role"] == "viewer"
    assert_json_error(client.post("/api/v1/invitations", json={"email": "new@example.com"}, headers=headers), 403)


def test_session_cookie_does_not_authenticate_the_api(client, login, owner):
    user, account = owner
    login(user, account)
    assert client.get("/").status_code == 200
    assert_json_error(client.get("/api/v1/me"), 401)


# ---- /members --------------------------------------------------------------------------------------

@pytest.fixture
def big_team(workspace):
    """25 members in all: the 4 of `workspace` and 21 more (member-00 … member-20)."""
    for i in range(21):
        factories.add_member(workspace["account"], "user", email=f"member-{i:02d}@example.com", name=f"Member {i:02d}")
    return workspace


def emails(response) -> list[str]:
    return [item["email"] for item in response.get_json()["items"]]


def test_members_default_page(client, big_team, admin_headers):
    response = client.get("/api/v1/members", headers=admin_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"items", "page", "page_size", "total"}
    assert (body["page"], body["page_size"], body["total"]) == (1, 20, 25)
    assert len(body["items"]) == 20
    everyone = sorted(["owner@example.com", "admin@example.com", "user@example.com", "viewer@example.com"]
                      + [f"member-{i:02d}@example.com" for i in range(21)])
    assert emails(response) == everyone[:20]
    first = body["items"][0]
    assert set(first) == {"id", "user_id", "email", "name", "role", "joined_at"}
    assert first["email"] == "admin@example.com" and first["role"] == "admin" and first["name"] == "Ada Admin"


def test_members_pages(client, big_team, admin_headers):
    second = client.get("/api/v1/members?page=2", headers=admin_headers).get_json()
    assert (second["page"], second["page_size"], second["total"], len(second["items"])) == (2, 20, 25, 5)
    pages = [emails(client.get(f"/api/v1/members?page={n}&page_size=10", headers=admin_headers)) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert len(set(sum(pages, []))) == 25  # no overlap, nobody missing
    past_end = client.get("/api/v1/members?page=9&page_size=10", headers=admin_headers).get_json()
    assert past_end["items"] == [] and past_end["total"] == 25 and past_end["page"] == 9
    full = client.get("/api/v1/members?page_size=100", headers=admin_headers).get_json()
    assert len(full["items"]) == 25 and full["page_size"] == 100


@pytest.mark.parametrize("query, field", [
    ("page_size=101", "page_size"),
    ("page_size=0", "page_size"),
    ("page_size=-5", "page_size"),
    ("page_size=ten", "page_size"),
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=abc", "page"),
    ("page=1.5", "page"),
    ("page=99999999999999999999999", "page"),
    ("page=" + "9" * 5000, "page"),
    ("q=" + "x" * 201, "q"),
    ("q=a%00b", "q"),
])
def test_members_bad_query_parameters_are_400(client, workspace, admin_headers, query, field):
    response = client.get(f"/api/v1/members?{query}", headers=admin_headers)
    assert_json_error(response, 400, "bad_request", field)


def test_members_search_by_email_or_name(client, big_team, admin_headers):
    def search(q):
        response = client.get("/api/v1/members", query_string={"q": q}, headers=admin_headers)
        assert response.status_code == 200
        return response.get_json()

    by_email = search("member-1")
    assert by_email["total"] == 10 and len(by_email["items"]) == 10
    assert all(e.startswith("member-1") for e in emails_of(by_email))
    by_name = search("ada admin")  # case-insensitive, on the name
    assert emails_of(by_name) == ["admin@example.com"] and by_name["total"] == 1
    assert search("  VIEWER@example.COM  ")["total"] == 1  # trimmed, case-insensitive
    assert search("nobody-like-this")["total"] == 0
    assert search("")["total"] == 25  # empty q: no filter
    combined = client.get("/api/v1/members?q=member&page=2&page_size=5", headers=admin_headers).get_json()
    assert combined["total"] == 21 and len(combined["items"]) == 5 and combined["page"] == 2


def emails_of(body) -> list[str]:
    return [item["email"] for item in body["items"]]


def test_members_search_treats_wildcards_literally(client, big_team, admin_headers):
    for q in ("%", "_", "%%", "member_0", "\\"):
        response = client.get("/api/v1/members", query_string={"q": q}, headers=admin_headers)
        assert response.status_code == 200
        assert response.get_json()["total"] == 0, q


def test_members_lists_only_the_keys_workspace(client, workspace, admin_headers):
    stranger = factories.make_user("stranger@example.com", name="Stranger Danger")
    other = factories.make_account(stranger, "Other Agency")
    factories.add_member(other, "admin", email="other-admin@example.com", name="Ada Elsewhere")
    # someone in both workspaces appears once, with this workspace's role
    db.session.add(Membership(account_id=other.id, user_id=workspace["viewer"].id, role="owner"))
    db.session.commit()

    body = client.get("/api/v1/members?page_size=100", headers=admin_headers).get_json()
    assert body["total"] == 4
    assert sorted(emails_of(body)) == ["admin@example.com", "owner@example.com", "user@example.com",
                                       "viewer@example.com"]
    assert {i["email"]: i["role"] for i in body["items"]}["viewer@example.com"] == "viewer"
    assert client.get("/api/v1/members?q=stranger", headers=admin_headers).get_json()["total"] == 0
    assert client.get("/api/v1/members?q=Ada", headers=admin_headers).get_json()["total"] == 1

    _, other_headers = make_key(other, stranger)
    other_body = client.get("/api/v1/members", headers=other_headers).get_json()
    assert sorted(emails_of(other_body)) == ["other-admin@example.com", "stranger@example.com",
                                             "viewer@example.com"]


@pytest.mark.parametrize("role", ["viewer", "user", "admin", "owner"])
def test_every_role_may_list_members(client, key_for, role):
    assert client.get("/api/v1/members", headers=key_for(role)).status_code == 200


# ---- POST /invitations -------------------------------------------------------------------------------

def invite(client, headers, body=None, **kwargs):
    if body is None and "data" not in kwargs:
        kwargs["json"] = {"email": "new.person@example.com", "role": "user"}
    elif body is not None:
        kwargs["json"] = body
    response = client.post("/api/v1/invitations", headers=headers, **kwargs)
    run_jobs(client.application)  # the e-mail is sent by a job
    return response


def invitations() -> list[Invitation]:
    return list(db.session.execute(select(Invitation)).scalars())


def test_invitation_created_and_mailed(client, workspace, admin_headers, outbox):
    response = invite(client, admin_headers, {"email": "  New.Person@Example.COM ", "role": "viewer"})
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"id", "email", "role", "status", "expires_at", "created_at"}
    invitation = db.session.get(Invitation, body["id"])
    assert invitation is not None and invitation.account_id == workspace["account"].id
    assert body["email"] == "new.person@example.com" == invitation.email
    assert body["role"] == "viewer" and body["status"] == "pending"
    assert invitation.invited_by_id == workspace["admin"].id
    assert body["expires_at"] == invitation.expires_at.isoformat()

    assert len(outbox) == 1  # really received by the local SMTP server
    message = outbox[0]
    assert message["To"] == "new.person@example.com"
    assert "Olive's Agency" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "as viewer" in text
    token = text.split("/invitations/", 1)[1].split()[0]
    assert sha256_hex(token) == invitation.token_hash  # the link in the mail is the live one
    assert client.get(f"/invitations/{token}").status_code == 200


def test_invitation_role_defaults_to_user(client, workspace, admin_headers, outbox):
    response = invite(client, admin_headers, {"email": "someone@example.com"})
    assert response.status_code == 201
    assert response.get_json()["role"] == "user"
    assert len(outbox) == 1


@pytest.mark.parametrize("address, stored", [
    ("josé@example.com", "josé@example.com"),
    ("a@xn--bcher-kva.example", "a@bücher.example"),
    ("用户@例子.广告", "用户@例子.广告"),
])
def test_internationalized_addresses_are_invited_and_mailed(client, workspace, admin_headers, outbox, address, stored):
    response = invite(client, admin_headers, {"email": address})
    assert response.status_code == 201
    assert response.get_json()["email"] == stored
    assert len(outbox) == 1 and outbox[0]["To"] == stored


def test_json_with_charset_is_accepted_and_unknown_fields_are_named(client, workspace, admin_headers, outbox):
    response = invite(client, admin_headers, data='{"email": "new@example.com", "role": "user"}',
                      content_type="application/json; charset=utf-8")
    assert response.status_code == 201
    refused = invite(client, admin_headers, data='{"email": "other@example.com", "role": "user", "note": [1]}',
                     content_type="application/json; charset=utf-8")
    body = assert_json_error(refused, 422, "validation_failed", "note")
    assert body["message"] == "Unknown field: note."
    assert db.session.execute(select(Invitation).where(Invitation.email == "other@example.com")).first() is None


def test_inviting_again_replaces_the_pending_invitation(client, workspace, admin_headers, outbox):
    first = invite(client, admin_headers).get_json()
    second = invite(client, admin_headers).get_json()
    assert first["id"] != second["id"]
    assert db.session.get(Invitation, first["id"]).status == "revoked"
    assert db.session.get(Invitation, second["id"]).status == "pending"
    assert len(outbox) == 2


def test_invitation_stands_when_the_mail_server_is_down(app, client, workspace, admin_headers, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 2)
    response = invite(client, admin_headers)
    assert response.status_code == 201
    assert len(invitations()) == 1


@pytest.mark.parametrize("kwargs", [
    {"data": "email=new@example.com&role=user", "content_type": "application/x-www-form-urlencoded"},
    {"data": '{"email": "new@example.com"}', "content_type": "text/plain"},
    {"data": '{"email": "new@example.com",', "content_type": "application/json"},
    {"data": "", "content_type": "application/json"},
    {"data": "[]", "content_type": "application/json"},
    {"data": '["new@example.com"]', "content_type": "application/json"},
    {"data": '"new@example.com"', "content_type": "application/json"},
    {"data": "null", "content_type": "application/json"},
    {"data": b"\xff\xfe{}", "content_type": "application/json"},
    {"data": "[" * 100_000 + "]" * 100_000, "content_type": "application/json"},
    {"data": '{"a":' * 50_000 + "1" + "}" * 50_000, "content_type": "application/json"},
], ids=["form", "text-plain", "truncated-json", "empty", "array", "array-of-email", "string", "null",
        "bad-utf8", "deeply-nested-array", "deeply-nested-object"])
def test_invitation_body_must_be_a_json_object(client, workspace, admin_headers, outbox, kwargs):
    assert_json_error(invite(client, admin_headers, **kwargs), 400, "bad_request")
    assert invitations() == [] and outbox == []


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-email"}, "email"),
    ({"email": "two@@example.com"}, "email"),
    ({"email": "spaces in@example.com"}, "email"),
    ({"email": "new@example.com\r\nBcc: victim@example.com"}, "email"),
    ({"email": ""}, "email"),
    ({"email": "   "}, "email"),
    ({}, "email"),
    ({"role": "admin"}, "email"),
    ({"email": "a" * 64 + "@" + "b" * 180 + ".example.com"}, "email"),  # 255 characters
    ({"email": "x" * 10_000 + "@example.com"}, "email"),
    ({"email": "new@example.com", "role": "superuser"}, "role"),
    ({"email": "new@example.com", "role": ""}, "role"),
    ({"email": "new@example.com", "role": "Admin"}, "role"),
])
def test_invalid_invitations_are_422(client, workspace, admin_headers, outbox, body, field):
    assert_json_error(invite(client, admin_headers, body), 422, "validation_failed", field)
    assert invitations() == [] and outbox == []


@pytest.mark.parametrize("body, fields", [
    ({"email": 123}, {"email"}),
    ({"email": None}, {"email"}),
    ({"email": ["new@example.com"]}, {"email"}),
    ({"email": {"address": "new@example.com"}}, {"email"}),
    ({"email": True}, {"email"}),
    ({"email": "new@example.com", "role": 3}, {"role"}),
    ({"email": "new@example.com", "role": None}, {"role"}),
    ({"email": "new@example.com", "role": ["admin"]}, {"role"}),
    ({"email": 1.5, "role": False}, {"email", "role"}),
])
def test_wrong_types_are_422_with_a_reason(client, workspace, admin_headers, outbox, body, fields):
    error = assert_json_error(invite(client, admin_headers, body), 422, "validation_failed")
    assert set(error["fields"]) == fields
    assert all("string" in message for message in error["fields"].values())
    assert invitations() == [] and outbox == []


def test_inviting_a_member_is_409(client, workspace, admin_headers, outbox):
    for email in ("user@example.com", "VIEWER@Example.com", "owner@example.com"):
        assert_json_error(invite(client, admin_headers, {"email": email}), 409, "conflict", "email")
    assert invitations() == [] and outbox == []


def test_inviting_a_member_of_another_workspace_is_fine(client, workspace, admin_headers, outbox):
    stranger = factories.make_user("stranger@example.com")
    factories.make_account(stranger, "Other Agency")
    assert invite(client, admin_headers, {"email": "stranger@example.com"}).status_code == 201


def test_admin_cannot_invite_an_owner(client, workspace, admin_headers, outbox):
    assert_json_error(invite(client, admin_headers, {"email": "boss@example.com", "role": "owner"}),
                      403, "forbidden", "role")
    assert invitations() == [] and outbox == []


def test_owner_can_invite_an_owner(client, workspace, key_for, outbox):
    response = invite(client, key_for("owner"), {"email": "boss@example.com", "role": "owner"})
    assert response.status_code == 201
    assert response.get_json()["role"] == "owner"
    assert len(outbox) == 1


@pytest.mark.parametrize("role", ["viewer", "user"])
def test_viewer_and_user_keys_cannot_invite(client, key_for, outbox, role):
    error = assert_json_error(invite(client, key_for(role)), 403, "forbidden")
    assert "admin" in error["message"]
    assert invitations() == [] and outbox == []


def test_invitations_need_a_key(client, workspace, outbox):
    assert_json_error(invite(client, {}), 401)
    assert_json_error(invite(client, bearer("lf_nope")), 401)
    assert invitations() == [] and outbox == []


# ---- routing, methods, and the error format everywhere -------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/whatever", "/api/v1/", "/api/v1", "/api/v1/me/", "/api/v1/members/1",
                                  "/api/v2/me", "/api/", "/api/v1/openapi.yaml"])
def test_unknown_api_routes_are_404_json(client, workspace, admin_headers, path):
    assert_json_error(client.get(path), 404, "not_found")
    assert_json_error(client.get(path, headers=admin_headers), 404, "not_found")
    assert_json_error(client.post(path, json={}, headers=admin_headers), 404, "not_found")


@pytest.mark.parametrize("method, path, allowed", [
    ("POST", "/api/v1/me", {"GET"}),
    ("DELETE", "/api/v1/me", {"GET"}),
    ("PUT", "/api/v1/members", {"GET"}),
    ("PATCH", "/api/v1/members", {"GET"}),
    ("GET", "/api/v1/invitations", {"POST"}),
    ("DELETE", "/api/v1/invitations", {"POST"}),
    ("POST", "/api/v1/openapi.json", {"GET"}),
])
def test_wrong_method_is_405_json_with_allow(client, workspace, admin_headers, method, path, allowed):
    for headers in ({}, admin_headers):
        response = client.open(path, method=method, headers=headers)
        assert_json_error(response, 405, "method_not_allowed")
        assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_head_and_options_work(client, workspace, admin_headers):
    assert client.head("/api/v1/me", headers=admin_headers).status_code == 200
    assert client.head("/api/v1/me").status_code == 401
    response = client.options("/api/v1/invitations")
    assert response.status_code == 200 and "POST" in response.headers["Allow"]


def test_unexpected_error_is_500_json_not_html(app, client, workspace, admin_headers, monkeypatch):
    """A bug in a view still answers in the error format (and is logged with its request id)."""
    def broken(account):
        raise RuntimeError("boom")

    monkeypatch.setattr("app.api.views.account.serialize_account", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production, not TESTING
    error = assert_json_error(client.get("/api/v1/me", headers=admin_headers), 500, "internal_error")
    assert "boom" not in error["message"]


def test_csrf_is_not_required_for_api_keys(client, workspace, admin_headers, outbox, csrf_enabled):
    assert invite(client, admin_headers).status_code == 201


BAD_REQUESTS = [
    ("GET", "/api/v1/me", {}, {}),
    ("GET", "/api/v1/members?page=x", {"auth": True}, {}),
    ("GET", "/api/v1/members?page_size=1000", {"auth": True}, {}),
    ("GET", "/api/v1/members?q=%00", {"auth": True}, {}),
    ("POST", "/api/v1/invitations", {"auth": True}, {"data": "<html>", "content_type": "text/html"}),
    ("POST", "/api/v1/invitations", {"auth": True}, {"json": {"email": {"$ne": None}}}),
    ("POST", "/api/v1/invitations", {"auth": True}, {"json": {"email": "\udcff@example.com"}}),
    ("POST", "/api/v1/invitations", {"auth": True}, {"json": {"email": "a\x00b@example.com"}}),
    ("POST", "/api/v1/invitations", {"auth": True}, {"json": {"email": "ok@example.com", "role": "\x00"}}),
    ("PUT", "/api/v1/invitations", {"auth": True}, {"json": {}}),
    ("GET", "/api/v1/nope", {"auth": True}, {}),
    ("GET", "/api/v1/me", {"raw": "Bearer \x00\x01"}, {}),
    ("GET", "/api/v1/me", {"raw": "Bearer lf_\u00e9\u00e9\u00e9"}, {}),
]


@pytest.mark.parametrize("method, path, auth, kwargs", BAD_REQUESTS)
def test_bad_requests_never_answer_html_or_500(client, workspace, admin_headers, outbox, method, path, auth, kwargs):
    headers = admin_headers if auth.get("auth") else ({"Authorization": auth["raw"]} if "raw" in auth else {})
    response = client.open(path, method=method, headers=headers, **kwargs)
    assert 400 <= response.status_code < 500, response.status_code
    assert response.mimetype == "application/json"
    assert "<html" not in response.get_data(as_text=True).lower()
    assert_json_error(response, response.status_code)


def test_openapi_document_is_public_json(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json()["openapi"].startswith("3.1")


def test_api_key_rows_store_only_a_hash(workspace):
    key, headers = make_key(workspace["account"], workspace["admin"])
    secret = headers["Authorization"].split(" ", 1)[1]
    stored = db.session.execute(select(ApiKey)).scalar_one()
    assert stored.key_hash == sha256_hex(secret) and secret not in (stored.prefix, stored.key_hash)
