"""Inbound webhooks: a secret URL per hook that creates or updates a contact from a JSON body, every call
logged; the pages that make, edit and show hooks (admins only, per workspace)."""
import json

import pytest
from sqlalchemy import select

from app.core import crypto
from app.crm.models import Contact, TimelineEntry
from app.extensions import db
from app.integrations import inbound
from app.integrations.models import InboundCall, InboundHook
from tests import factories

MAP = {"email": "data.email", "first_name": "data.first", "last_name": "contact.last_name",
       "phone": "fields[0].value", "city": "fields[1].value"}
BODY = {"data": {"email": "Ada@Example.com", "first": "Ada"}, "contact": {"last_name": "Lovelace"},
        "fields": [{"value": "+44 20 7946 0958"}, {"value": "London"}]}


@pytest.fixture
def hook(owner):
    user, account = owner
    return inbound.create_hook(account, {"name": "Zapier", "field_map": MAP, "tags": "zapier, webinar"}, user)


def token_of(hook) -> str:
    return crypto.decrypt(db.session.get(InboundHook, hook.id).token_encrypted)


def send(client, hook_or_token, body=None, data=None, **kwargs):
    token = hook_or_token if isinstance(hook_or_token, str) else token_of(hook_or_token)
    if data is None:
        data = json.dumps(body if body is not None else BODY)
    kwargs.setdefault("content_type", "application/json")
    return client.post(f"/api/v1/hooks/inbound/{token}", data=data, **kwargs)


def calls_of(hook) -> list[InboundCall]:
    return list(db.session.execute(select(InboundCall).where(InboundCall.hook_id == hook.id)
                                   .order_by(InboundCall.created_at)).scalars())


# ---- the secret URL ---------------------------------------------------------------------------------

def test_a_call_creates_the_contact_with_the_mapped_fields_and_tags(client, owner, hook, published):
    user, account = owner
    response = send(client, hook, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["created"] is True
    contact = db.session.get(Contact, answer["contact_id"])
    assert contact.account_id == account.id
    assert (contact.email, contact.first_name, contact.last_name, contact.phone, contact.city) == (
        "ada@example.com", "Ada", "Lovelace", "+442079460958", "London")
    assert contact.source == "webhook"
    assert sorted(tag.name for tag in contact.tags) == ["webinar", "zapier"]
    line = db.session.execute(select(TimelineEntry).where(TimelineEntry.contact_id == contact.id,
                                                          TimelineEntry.kind == "webhook.received")).scalar_one()
    assert "Zapier" in line.summary
    names = [name for name, _ in published]
    assert names.count("contact.created") == 1 and names.count("tag.added") == 2
    assert ("contact.created", {"account_id": str(account.id), "contact_id": str(contact.id)}) in published
    [call] = calls_of(hook)
    assert (call.status_code, call.outcome, call.contact_id, call.ip_address, call.source) == (
        201, "contact created", contact.id, "203.0.113.7", "inbound")
    assert json.loads(call.body_excerpt) == BODY
    assert db.session.get(InboundHook, hook.id).last_received_at is not None


def test_a_second_call_updates_the_same_contact(client, owner, hook, published):
    assert send(client, hook).status_code == 201
    published.clear()
    again = dict(BODY, data={"email": "ada@example.com", "first": "Augusta Ada"}, fields=[])
    response = send(client, hook, again)
    assert response.status_code == 200 and response.get_json()["created"] is False
    contacts = db.session.execute(select(Contact)).scalars().all()
    assert len(contacts) == 1 and contacts[0].first_name == "Augusta Ada"
    assert contacts[0].city == "London"  # a path the body lacks leaves the field as it is
    assert [name for name, _ in published] == ["contact.updated"]  # tags it has already are not added again
    assert [call.outcome for call in calls_of(hook)] == ["contact created", "contact updated"]


def test_an_unknown_token_is_404_and_logged_nowhere(client, hook):
    for token in ("nope", "x" * 43, "y" * 500):
        response = send(client, token)
        assert response.status_code == 404
        assert response.get_json()["error"]["message"] == "No inbound webhook at this address."
    assert db.session.execute(select(InboundCall)).first() is None
    assert db.session.execute(select(Contact)).first() is None


def test_an_inactive_hook_answers_like_an_unknown_one(client, owner, hook):
    user, account = owner
    inbound.update_hook(account, hook, {"name": "Zapier", "field_map": MAP, "is_active": False}, user)
    response = send(client, hook)
    assert response.status_code == 404
    assert response.get_json() == send(client, "unknown-token").get_json()
    assert db.session.execute(select(Contact)).first() is None
    [call] = calls_of(hook)  # logged in the workspace (the caller cannot tell)
    assert (call.status_code, call.outcome) == (404, "refused: the webhook is inactive")
    assert json.loads(call.body_excerpt) == BODY


@pytest.mark.parametrize("data, reason", [
    ("not json at all", "The body is not valid JSON: Expecting value (line 1, column 1)."),
    ('{"email": "a@example.com",}', "The body is not valid JSON"),
    ("", "The body is empty"),
    ('{"n": ' + "9" * 5000 + "}", "The body is not valid JSON"),
    (b"\xff\xfe{}", "The body is not UTF-8 text"),
])
def test_a_body_that_is_not_json_is_400_with_the_reason(client, hook, data, reason):
    response = send(client, hook, data=data)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith(reason)
    [call] = calls_of(hook)
    assert call.status_code == 400 and call.outcome.startswith("refused: " + reason)
    assert db.session.execute(select(Contact)).first() is None


@pytest.mark.parametrize("body, kind", [([{"email": "a@example.com"}], "a list"), ("a@example.com", "a string"),
                                        (42, "a number"), (None, "null")])
def test_a_body_that_is_not_an_object_is_400(client, hook, body, kind):
    response = send(client, hook, data=json.dumps(body))
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == f"The body must be a JSON object ({{...}}), not {kind}."
    assert calls_of(hook)[0].status_code == 400


def test_no_email_after_mapping_is_422(client, hook):
    response = send(client, hook, {"email": "ada@example.com", "data": {"first": "Ada"}})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert "No e-mail address" in error["message"] and "data.email" in error["message"]
    assert error["fields"] == {"email": error["message"]}
    [call] = calls_of(hook)
    assert call.status_code == 422 and call.contact_id is None and "No e-mail address" in call.outcome
    assert db.session.execute(select(Contact)).first() is None


def test_what_the_crm_refuses_is_422_with_its_fields(client, hook):
    response = send(client, hook, {"data": {"email": "not-an-address"}})
    assert response.status_code == 422
    assert "email" in response.get_json()["error"]["fields"]
    bad_phone = send(client, hook, dict(BODY, fields=[{"value": "call me maybe"}]))
    assert bad_phone.status_code == 422 and "phone" in bad_phone.get_json()["error"]["fields"]
    an_object = send(client, hook, {"data": {"email": {"address": "a@example.com"}}})
    assert an_object.status_code == 422 and "not a value" in an_object.get_json()["error"]["message"]
    assert [call.status_code for call in calls_of(hook)] == [422, 422, 422]
    assert db.session.execute(select(Contact)).first() is None


def test_a_body_over_256_kb_is_413(client, hook):
    big = json.dumps(dict(BODY, padding="x" * (256 * 1024)))
    response = send(client, hook, data=big)
    assert response.status_code == 413
    assert "256 KB" in response.get_json()["error"]["message"]
    [call] = calls_of(hook)
    assert call.status_code == 413 and call.body_excerpt == ""
    assert db.session.execute(select(Contact)).first() is None
    # Under the limit, the same body less its padding goes through; the log keeps its first 2 KB only.
    long_but_fine = json.dumps(dict(BODY, padding="y" * 100_000))
    assert send(client, hook, data=long_but_fine).status_code == 201
    assert len(calls_of(hook)[-1].body_excerpt) == 2048


def test_over_the_rate_limit_is_429_and_the_refusal_logged_once(app, client, owner, hook, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_RATE_LIMIT", "3/minute")
    statuses = [send(client, hook, dict(BODY, data={"email": f"p{n}@example.com"})).status_code for n in range(6)]
    assert statuses == [201, 201, 201, 429, 429, 429]
    refused = send(client, hook)
    assert refused.headers["Retry-After"] == "60"
    assert [call.status_code for call in calls_of(hook)] == [201, 201, 201, 429]
    assert "rate limit" in calls_of(hook)[-1].outcome
    # The limit is per hook: another hook of the workspace still takes calls.
    user, account = owner
    other = inbound.create_hook(account, {"name": "n8n", "field_map": {"email": "email"}}, user)
    assert send(client, other, {"email": "n8n@example.com"}).status_code == 201


def test_regenerating_the_url_retires_the_old_one(client, owner, hook):
    user, account = owner
    old = token_of(hook)
    inbound.regenerate(account, db.session.get(InboundHook, hook.id), user)
    new = token_of(hook)
    assert new != old and len(new) >= 43
    assert send(client, old).status_code == 404
    assert send(client, new).status_code == 201


def test_the_token_is_stored_hashed_and_encrypted(hook):
    token = token_of(hook)
    row = db.session.get(InboundHook, hook.id)
    assert row.token_hash == crypto.digest(token) and token not in row.token_encrypted
    assert inbound.url_of(row).endswith(f"/api/v1/hooks/inbound/{token}")


def test_paths_with_list_indexes_and_values_of_other_types():
    body = {"a": {"b": [{"c": 1}, {"c": [True]}]}, "n": 3.5, "list": ["x", 2]}
    assert inbound.resolve(body, "a.b[0].c") == 1
    assert inbound.resolve(body, "a.b[5].c") is inbound._MISSING
    assert inbound.resolve(body, "a.x") is inbound._MISSING
    assert inbound.resolve(body, "n.x") is inbound._MISSING
    assert inbound._scalar(3.5, "n") == "3.5" and inbound._scalar(["x", 2], "list") == "x, 2"


def test_the_map_is_checked_when_a_hook_is_saved(owner):
    from app.core.errors import ValidationError

    user, account = owner
    for field_map, message in [({"first_name": "name"}, "Map the e-mail"),
                               ({"email": "data..email"}, "is not a path"),
                               ({"email": "a b"}, "is not a path"),
                               ({"email": "email", "password": "p"}, "is not a contact field"),
                               ({"email": ""}, "Say where")]:
        with pytest.raises(ValidationError) as refused:
            inbound.create_hook(account, {"name": "X", "field_map": field_map}, user)
        assert message in refused.value.fields["field_map"], field_map
    with pytest.raises(ValidationError) as refused:
        inbound.create_hook(account, {"name": "", "field_map": {"email": "email"}, "tags": "a" * 51}, user)
    assert set(refused.value.fields) == {"name", "tags"}


# ---- the pages ------------------------------------------------------------------------------------------

def test_list_page_and_its_empty_state(client, owner, login):
    user, account = owner
    login(user, account)
    page = client.get("/integrations/inbound")
    assert page.status_code == 200 and "No inbound webhooks yet" in page.text
    inbound.create_hook(account, {"name": "Zapier", "field_map": {"email": "email"}}, user)
    page = client.get("/integrations/inbound")
    assert "Zapier" in page.text and "No inbound webhooks yet" not in page.text


def test_create_a_hook_through_the_form(client, owner, login):
    user, account = owner
    login(user, account)
    form = client.get("/integrations/inbound/new")
    assert form.status_code == 200 and 'name="rows-0-target"' in form.text
    data = {"name": "Webinar sign-ups", "tags": "webinar", "is_active": "y",
            "rows-0-target": "email", "rows-0-path": "data.email",
            "rows-1-target": "first_name", "rows-1-path": "data.first", "rows-2-target": "", "rows-2-path": ""}
    more = client.post("/integrations/inbound/new", data={**data, "add_row": "1"})
    assert more.status_code == 200 and 'name="rows-3-target"' in more.text  # one more row, nothing saved
    assert db.session.execute(select(InboundHook)).first() is None
    tried = client.post("/integrations/inbound/new", data={**data, "try_map": "1", "sample": json.dumps(BODY)})
    assert tried.status_code == 200 and "Ada@Example.com" in tried.text and "creates or updates" in tried.text
    response = client.post("/integrations/inbound/new", data=data)
    assert response.status_code == 303
    hook = db.session.execute(select(InboundHook)).scalar_one()
    assert hook.field_map == {"email": "data.email", "first_name": "data.first"} and hook.tags == ["webinar"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert f"/api/v1/hooks/inbound/{token_of(hook)}</code>" in page.text and "curl -X POST" in page.text
    assert f'value="{token_of(hook)}' not in page.text  # never in a value attribute


def test_the_form_says_what_is_wrong(client, owner, login):
    user, account = owner
    login(user, account)
    response = client.post("/integrations/inbound/new", data={
        "name": "No e-mail", "rows-0-target": "first_name", "rows-0-path": "first"})
    assert response.status_code == 422 and "Map the e-mail" in response.text
    assert db.session.execute(select(InboundHook)).first() is None


def test_hook_page_logs_calls_and_the_edit_page_tests_the_map_on_them(client, owner, login, hook):
    user, account = owner
    send(client, hook)
    send(client, hook, data="oops")
    login(user, account)
    page = client.get(f"/integrations/inbound/{hook.id}")
    assert "contact created" in page.text and "refused: The body is not valid JSON" in page.text
    contact = db.session.execute(select(Contact)).scalar_one()
    assert f"/contacts/{contact.id}" in page.text
    edit = client.get(f"/integrations/inbound/{hook.id}/edit")
    assert edit.status_code == 200 and "Lovelace" in edit.text  # the body received, and what the map takes
    assert "creates or updates the contact Ada@Example.com" in edit.text


def test_regenerate_and_delete_from_the_pages(client, owner, login, hook):
    user, account = owner
    login(user, account)
    old = token_of(hook)
    assert client.post(f"/integrations/inbound/{hook.id}/regenerate").status_code == 303
    assert token_of(hook) != old and send(client, old).status_code == 404
    send(client, hook)
    hook_id = hook.id
    assert client.post(f"/integrations/inbound/{hook_id}/delete").status_code == 303
    assert db.session.get(InboundHook, hook_id) is None
    assert db.session.execute(select(InboundCall)).first() is None
    assert db.session.execute(select(Contact)).first() is not None  # the contacts it made stay


def test_another_workspaces_hook_is_404_and_members_below_admin_are_refused(client, owner, login, hook):
    other_user = factories.make_user("other@example.com")
    other_account = factories.make_account(other_user, "Other")
    login(other_user, other_account)
    for method, path in [("GET", f"/integrations/inbound/{hook.id}"), ("GET", f"/integrations/inbound/{hook.id}/edit"),
                         ("POST", f"/integrations/inbound/{hook.id}/edit"),
                         ("POST", f"/integrations/inbound/{hook.id}/regenerate"),
                         ("POST", f"/integrations/inbound/{hook.id}/delete")]:
        assert client.open(path, method=method).status_code == 404, path
    assert db.session.get(InboundHook, hook.id) is not None
    user, account = owner
    member = factories.add_member(account, "user", "user@example.com")
    login(member, account)
    assert client.get("/integrations/inbound").status_code == 403
    assert client.get(f"/integrations/inbound/{hook.id}").status_code == 403
