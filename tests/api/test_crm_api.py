"""The CRM part of the JSON API: contacts (list with q and filters, create, get, PATCH, DELETE, upsert by e-mail,
tags), companies and deals (list, get, create, PATCH, move), with good and bad input, roles and other
workspaces' ids."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.core.db import utcnow
from app.crm.models import Company, Contact, Deal, Tag
from app.crm.services import companies, contacts, custom_fields, deals, tags
from app.extensions import db
from tests import factories
from tests.api.conftest import assert_json_error, make_key

CONTACT_KEYS = {"id", "first_name", "last_name", "email", "phone", "company_id", "owner_id", "source", "street",
                "city", "region", "postal_code", "country", "custom_fields", "tags", "created_at", "updated_at"}




@pytest.fixture
def crm(workspace, key_for):
    """The workspace with a company, two contacts, a tag, its pipeline (named Sales) and a deal; keys of each
    role."""
    account, owner = workspace["account"], workspace["owner"]
    acme = companies.create(account, {"name": "Acme", "domain": "acme.com", "industry": "Software"}, owner)
    ann = contacts.create(account, {"first_name": "Ann", "last_name": "Archer", "email": "ann@example.com",
                                    "phone": "+1 415 555 2671", "company_id": str(acme.id), "source": "form",
                                    "owner_id": str(workspace["user"].id), "tags": ["vip"]}, owner)
    bob = contacts.create(account, {"first_name": "Bob", "last_name": "Baker", "email": "bob@example.com"}, owner)
    pipeline = factories.default_pipeline(account, "Sales")
    deal = deals.create(account, {"title": "Acme renewal", "value": "1200", "pipeline_id": str(pipeline.id),
                                  "contact_id": str(ann.id), "company_id": str(acme.id)}, owner)
    return {**workspace, "acme": acme, "ann": ann, "bob": bob, "pipeline": pipeline, "deal": deal,
            "vip": tags.find_by_name(account, "vip"), "headers": key_for("user"), "viewer_headers": key_for("viewer")}


@pytest.fixture
def stranger():
    """Another workspace with one of each record, and a key of its own."""
    user = factories.make_user("stranger@example.com", name="Stranger")
    account = factories.make_account(user, "Other Agency")
    ids = factories.populate_crm(account, user)
    _, headers = make_key(account, user)
    return {"account": account, "user": user, "ids": ids, "headers": headers}


def ids_of(response) -> list[str]:
    return [item["id"] for item in response.get_json()["items"]]


# ---- contacts: list -----------------------------------------------------------------------------------

def test_list_contacts_newest_first_with_every_field(client, crm):
    response = client.get("/api/v1/contacts", headers=crm["headers"])
    assert response.status_code == 200
    body = response.get_json()
    assert (body["total"], body["page"], body["page_size"]) == (2, 1, 20)
    assert [item["email"] for item in body["items"]] == ["bob@example.com", "ann@example.com"]
    ann = body["items"][1]
    assert set(ann) == CONTACT_KEYS
    assert ann["phone"] == "+14155552671" and ann["company_id"] == str(crm["acme"].id)
    assert ann["owner_id"] == str(crm["user"].id) and ann["source"] == "form"
    assert ann["tags"] == [{"id": str(crm["vip"].id), "name": "vip", "color": "gray"}]


def test_list_contacts_search_filters_sort_and_pages(client, crm):
    account, headers = crm["account"], crm["headers"]
    for i in range(25):
        contacts.create(account, {"first_name": f"Zed{i:02d}", "email": f"zed{i}@example.org", "source": "import"})

    def get(**params):
        response = client.get("/api/v1/contacts", query_string=params, headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    assert get(q="archer")["total"] == 1 and get(q="ANN@EXAMPLE")["total"] == 1
    assert get(q="4155552671")["items"][0]["email"] == "ann@example.com"  # phone digits
    assert get(q="acme")["total"] == 1  # the company's name
    assert get(q="%")["total"] == 0  # literal
    assert ids_of_body(get(tag=str(crm["vip"].id))) == [str(crm["ann"].id)]
    assert ids_of_body(get(owner=str(crm["user"].id))) == [str(crm["ann"].id)]
    assert get(owner="none")["total"] == 26
    assert ids_of_body(get(company=str(crm["acme"].id))) == [str(crm["ann"].id)]
    assert get(source="import")["total"] == 25 and get(source="import", q="zed1")["total"] == 11
    today = utcnow().date().isoformat()
    assert get(created_from=today, created_to=today)["total"] == 27
    assert get(created_to=(utcnow().date() - timedelta(days=1)).isoformat())["total"] == 0
    assert get(created_from="0001-01-01", created_to="9999-12-31")["total"] == 27  # any day is a day
    names = [item["first_name"] for item in get(sort="name", page_size=3)["items"]]
    assert names == ["Ann", "Bob", "Zed00"]
    page2 = get(sort="name", page=2, page_size=10)
    assert page2["page"] == 2 and len(page2["items"]) == 10 and page2["total"] == 27


def ids_of_body(body) -> list[str]:
    return [item["id"] for item in body["items"]]


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles"])
def test_the_ends_of_the_calendar_bound_nothing_in_any_time_zone(client, crm, zone):
    account = crm["account"]
    account.timezone = zone
    db.session.commit()
    for filters in ({"created_from": "0001-01-01"}, {"created_to": "9999-12-31"}):
        assert db.session.execute(contacts.filtered(account, filters).with_only_columns(func.count())).scalar_one() == 2
        response = client.get("/api/v1/contacts", query_string=filters, headers=crm["headers"])
        assert response.status_code == 200 and response.get_json()["total"] == 2


@pytest.mark.parametrize("query, field", [
    ("tag=abc", "tag"), ("owner=someone", "owner"), ("company=12", "company"), ("source=web", "source"),
    ("created_from=2026-13-01", "created_from"), ("created_to=yesterday", "created_to"), ("sort=random", "sort"),
    ("tag=a%00b", "tag"), ("page_size=500", "page_size"), ("q=" + "x" * 201, "q"), ("q=a%00", "q"),
])
def test_list_contacts_bad_filters_are_400(client, crm, query, field):
    assert_json_error(client.get(f"/api/v1/contacts?{query}", headers=crm["headers"]), 400, "bad_request", field)


def test_list_contacts_leaves_out_deleted_and_other_workspaces(client, crm, stranger):
    contacts.soft_delete(crm["account"], crm["bob"])
    assert ids_of(client.get("/api/v1/contacts", headers=crm["headers"])) == [str(crm["ann"].id)]
    theirs = client.get("/api/v1/contacts", headers=stranger["headers"]).get_json()
    assert [item["id"] for item in theirs["items"]] == [str(stranger["ids"]["contact_id"])]


# ---- contacts: create, get, change, delete ----------------------------------------------------------------

def test_create_contact_with_every_field(client, crm, published):
    account = crm["account"]
    custom_fields.create(account, {"label": "Seats", "field_type": "number"})
    body = {"first_name": " Cara ", "last_name": "Cole", "email": "Cara@Example.COM", "phone": "(415) 555-2672",
            "company_id": str(crm["acme"].id), "owner_id": str(crm["admin"].id), "street": "1 Main St",
            "city": "Springfield", "region": "IL", "postal_code": "62701", "country": "us",
            "custom_fields": {"seats": "12", "unknown": "ignored"}, "tags": ["lead", "VIP"]}
    response = client.post("/api/v1/contacts", json=body, headers=crm["headers"])
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert set(data) == CONTACT_KEYS
    contact = db.session.get(Contact, data["id"])
    assert contact.account_id == account.id
    assert (data["first_name"], data["email"], data["phone"], data["country"]) == (
        "Cara", "cara@example.com", "+14155552672", "US")
    assert data["source"] == "api" and data["custom_fields"] == {"seats": 12}
    assert sorted(tag["name"] for tag in data["tags"]) == ["lead", "vip"]  # the existing "vip" is reused
    assert data["owner_id"] == str(crm["admin"].id) and data["company_id"] == str(crm["acme"].id)
    assert ("contact.created", {"account_id": str(account.id), "contact_id": data["id"]}) in published
    assert client.post("/api/v1/contacts", json={"phone": "+44 20 7183 8750", "source": "referral"},
                       headers=crm["headers"]).get_json()["source"] == "referral"


@pytest.mark.parametrize("body, field", [
    ({"first_name": "X", "email": "not-an-email"}, "email"),
    ({"first_name": "X", "phone": "12"}, "phone"),
    ({"first_name": "X", "phone": "call me maybe"}, "phone"),
    ({"first_name": "X", "country": "France"}, "country"),
    ({"first_name": "X" * 81}, "first_name"),
    ({"first_name": "X", "postal_code": "1" * 21}, "postal_code"),
    ({"first_name": "X", "source": "web"}, "source"),
    ({}, "first_name"),
    ({"first_name": "  ", "email": "", "phone": None}, "first_name"),
    ({"first_name": "X", "custom_fields": {"seats": "a dozen"}}, "cf_seats"),
    ({"first_name": "X", "company_id": "not-an-id"}, "company_id"),
    ({"first_name": "X", "owner_id": "6f1c3f44-3b2f-4a39-8d3c-2a4a4b1e9a10"}, "owner_id"),
    ({"first_name": 12}, "first_name"),
    ({"first_name": "X", "email": ["a@example.com"]}, "email"),
    ({"first_name": "X", "tags": "vip"}, "tags"),
    ({"first_name": "X", "tags": ["ok", 3]}, "tags"),
    ({"first_name": "X", "tags": ["  "]}, "tags"),
    ({"first_name": "X", "tags": ["t" * 51]}, "tags"),
    ({"first_name": "X", "custom_fields": ["seats"]}, "custom_fields"),
    ({"first_name": "X", "custom_fields": {"seats": {"n": 1}}}, "custom_fields"),
    ({"first_name": "Nul\x00l"}, "first_name"),
    ({"first_name": "X", "city": "a\x00"}, "city"),
])
def test_invalid_contacts_are_422_naming_the_field(client, crm, body, field):
    custom_fields.create(crm["account"], {"label": "Seats", "field_type": "number"})
    before = contact_total()
    assert_json_error(client.post("/api/v1/contacts", json=body, headers=crm["headers"]), 422, "validation_failed",
                      field)
    assert contact_total() == before


def contact_total() -> int:
    return db.session.execute(select(func.count()).select_from(Contact)).scalar_one()


def test_another_workspaces_company_cannot_be_given(client, crm, stranger):
    body = {"first_name": "X", "company_id": str(stranger["ids"]["company_id"])}
    assert_json_error(client.post("/api/v1/contacts", json=body, headers=crm["headers"]), 422, field="company_id")


@pytest.mark.parametrize("email", ["ann@example.com", "ANN@Example.com", " ann@example.com "])
def test_duplicate_email_is_409_with_the_existing_contact(client, crm, email):
    error = assert_json_error(client.post("/api/v1/contacts", json={"email": email}, headers=crm["headers"]),
                              409, "conflict", "email")
    assert str(crm["ann"].id) in error["message"] and str(crm["ann"].id) in error["fields"]["email"]


def test_a_deleted_contacts_email_can_be_used_again(client, crm):
    contacts.soft_delete(crm["account"], crm["bob"])
    assert client.post("/api/v1/contacts", json={"email": "bob@example.com"}, headers=crm["headers"]).status_code == 201


@pytest.mark.parametrize("kwargs", [
    {"data": "first_name=X", "content_type": "application/x-www-form-urlencoded"},
    {"data": "[]", "content_type": "application/json"},
    {"data": "{", "content_type": "application/json"},
    {"data": "", "content_type": "application/json"},
])
def test_contact_body_must_be_a_json_object(client, crm, kwargs):
    assert_json_error(client.post("/api/v1/contacts", headers=crm["headers"], **kwargs), 400, "bad_request")


def test_get_contact(client, crm):
    response = client.get(f"/api/v1/contacts/{crm['ann'].id}", headers=crm["viewer_headers"])
    assert response.status_code == 200
    assert response.get_json()["email"] == "ann@example.com" and response.get_json()["last_name"] == "Archer"


def test_patch_changes_only_the_fields_sent(client, crm, published):
    ann = crm["ann"]
    response = client.patch(f"/api/v1/contacts/{ann.id}", json={"city": "Boston", "phone": "+1 617 555 0100"},
                            headers=crm["headers"])
    assert response.status_code == 200
    data = response.get_json()
    assert (data["city"], data["phone"], data["first_name"], data["email"]) == (
        "Boston", "+16175550100", "Ann", "ann@example.com")
    assert [t["name"] for t in data["tags"]] == ["vip"]  # not sent: unchanged
    assert ("contact.updated", {"account_id": str(crm["account"].id), "contact_id": str(ann.id),
                                "fields": ["city", "phone"]}) in published
    assert client.patch(f"/api/v1/contacts/{ann.id}", json={}, headers=crm["headers"]).status_code == 200


def test_patch_tags_replaces_them(client, crm, published):
    ann = crm["ann"]
    response = client.patch(f"/api/v1/contacts/{ann.id}", json={"tags": ["Customer", "newsletter"]},
                            headers=crm["headers"])
    assert sorted(t["name"] for t in response.get_json()["tags"]) == ["Customer", "newsletter"]
    names = [name for name, _ in published]
    assert names.count("tag.added") == 2 and names.count("tag.removed") == 1
    cleared = client.patch(f"/api/v1/contacts/{ann.id}", json={"tags": []}, headers=crm["headers"])
    assert cleared.get_json()["tags"] == []


@pytest.mark.parametrize("body, status, field", [
    ({"email": "bob@example.com"}, 409, "email"),
    ({"email": "nope"}, 422, "email"),
    ({"phone": "0"}, 422, "phone"),
    ({"first_name": "", "last_name": "", "email": None, "phone": None}, 422, "first_name"),
    ({"tags": [None]}, 422, "tags"),
    ({"country": 33}, 422, "country"),
    ({"source": "manual", "custom_fields": "x"}, 422, "custom_fields"),
])
def test_bad_patches_change_nothing(client, crm, body, status, field):
    ann = crm["ann"]
    before = client.get(f"/api/v1/contacts/{ann.id}", headers=crm["headers"]).get_json()
    response = client.patch(f"/api/v1/contacts/{ann.id}", json=body, headers=crm["headers"])
    assert_json_error(response, status, field=field)
    after = client.get(f"/api/v1/contacts/{ann.id}", headers=crm["headers"]).get_json()
    assert after == before


def test_delete_is_a_soft_delete(client, crm, published):
    bob = crm["bob"]
    response = client.delete(f"/api/v1/contacts/{bob.id}", headers=crm["headers"])
    assert response.status_code == 204 and response.get_data() == b""
    db.session.refresh(bob)
    assert bob.deleted_at is not None  # restorable from the trash
    assert ("contact.deleted", {"account_id": str(crm["account"].id), "contact_id": str(bob.id)}) in published
    for method in ("get", "patch", "delete"):
        assert_json_error(getattr(client, method)(f"/api/v1/contacts/{bob.id}", json={}, headers=crm["headers"]),
                          404, "not_found")


# ---- upsert -----------------------------------------------------------------------------------------------

def test_upsert_creates_then_updates(client, crm, published):
    headers = crm["headers"]
    created = client.post("/api/v1/contacts/upsert", json={"email": "Dora@Example.com", "first_name": "Dora",
                                                           "tags": ["webinar"]}, headers=headers)
    assert created.status_code == 201
    data = created.get_json()
    assert data["source"] == "api" and [t["name"] for t in data["tags"]] == ["webinar"]
    updated = client.post("/api/v1/contacts/upsert", json={"email": "dora@example.com", "last_name": "Diaz",
                                                           "tags": ["customer"]}, headers=headers)
    assert updated.status_code == 200
    again = updated.get_json()
    assert again["id"] == data["id"] and (again["first_name"], again["last_name"]) == ("Dora", "Diaz")
    assert sorted(t["name"] for t in again["tags"]) == ["customer", "webinar"]  # added to the ones it had
    assert db.session.execute(select(func.count()).select_from(Contact).where(
        Contact.email == "dora@example.com")).scalar_one() == 1
    assert [n for n, _ in published].count("contact.created") == 1


def test_upsert_matches_an_existing_contact_case_insensitively(client, crm):
    response = client.post("/api/v1/contacts/upsert", json={"email": " ANN@example.com", "city": "Oslo"},
                           headers=crm["headers"])
    assert response.status_code == 200 and response.get_json()["id"] == str(crm["ann"].id)
    assert response.get_json()["city"] == "Oslo" and response.get_json()["source"] == "form"


@pytest.mark.parametrize("body, field", [
    ({"first_name": "No e-mail"}, "email"), ({"email": ""}, "email"), ({"email": "nope"}, "email"),
    ({"email": 5}, "email"), ({"email": "e@example.com", "phone": "1"}, "phone"),
    ({"email": "ann@example.com", "tags": [""]}, "tags"),
])
def test_upsert_bad_input_is_422(client, crm, body, field):
    assert_json_error(client.post("/api/v1/contacts/upsert", json=body, headers=crm["headers"]), 422, field=field)


# ---- tags --------------------------------------------------------------------------------------------------

def test_add_and_remove_a_tag(client, crm, published):
    bob, headers = crm["bob"], crm["headers"]
    response = client.post(f"/api/v1/contacts/{bob.id}/tags", json={"name": " Hot lead "}, headers=headers)
    assert response.status_code == 200
    assert [t["name"] for t in response.get_json()["tags"]] == ["Hot lead"]
    tag_id = response.get_json()["tags"][0]["id"]
    assert client.post(f"/api/v1/contacts/{bob.id}/tags", json={"name": "hot LEAD"}, headers=headers).get_json()[
        "tags"] == response.get_json()["tags"]  # same tag, not twice
    assert [n for n, _ in published].count("tag.added") == 1
    assert client.delete(f"/api/v1/contacts/{bob.id}/tags/{tag_id}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/contacts/{bob.id}", headers=headers).get_json()["tags"] == []
    assert client.delete(f"/api/v1/contacts/{bob.id}/tags/{tag_id}", headers=headers).status_code == 204  # again
    assert db.session.get(Tag, tag_id) is not None  # the tag itself stays
    assert [n for n, _ in published].count("tag.removed") == 1


@pytest.mark.parametrize("body, status", [({}, 422), ({"name": ""}, 422), ({"name": "x" * 51}, 422),
                                          ({"name": 7}, 422), ({"name": None}, 422), ({"name": "a\x00"}, 422)])
def test_bad_tag_names_are_refused(client, crm, body, status):
    response = client.post(f"/api/v1/contacts/{crm['bob'].id}/tags", json=body, headers=crm["headers"])
    assert_json_error(response, status, "validation_failed")
    assert db.session.execute(select(func.count()).select_from(Tag)).scalar_one() == 1


def test_remove_an_unknown_tag_is_404(client, crm, stranger):
    for tag_id in (stranger["ids"]["tag_id"], "6f1c3f44-3b2f-4a39-8d3c-2a4a4b1e9a10"):
        assert_json_error(client.delete(f"/api/v1/contacts/{crm['ann'].id}/tags/{tag_id}", headers=crm["headers"]),
                          404)


# ---- companies ----------------------------------------------------------------------------------------------

def test_companies_list_get_create_and_patch(client, crm):
    headers = crm["headers"]
    created = client.post("/api/v1/companies", json={"name": "Globex", "domain": "https://www.Globex.com/about",
                                                     "industry": "Energy", "size": "51-200",
                                                     "parent_id": str(crm["acme"].id)}, headers=headers)
    assert created.status_code == 201
    globex = created.get_json()
    assert (globex["domain"], globex["size"], globex["parent_id"]) == ("globex.com", "51-200", str(crm["acme"].id))
    listing = client.get("/api/v1/companies", headers=crm["viewer_headers"]).get_json()
    assert [c["name"] for c in listing["items"]] == ["Acme", "Globex"]
    assert client.get("/api/v1/companies?q=GLOBEX.C", headers=headers).get_json()["total"] == 1
    assert client.get("/api/v1/companies?size=51-200", headers=headers).get_json()["total"] == 1
    assert client.get("/api/v1/companies?industry=Software", headers=headers).get_json()["items"][0]["name"] == "Acme"
    got = client.get(f"/api/v1/companies/{globex['id']}", headers=crm["viewer_headers"])
    assert got.status_code == 200 and got.get_json() == globex
    patched = client.patch(f"/api/v1/companies/{globex['id']}", json={"industry": "Utilities", "parent_id": None},
                           headers=headers).get_json()
    assert (patched["industry"], patched["parent_id"], patched["name"]) == ("Utilities", None, "Globex")


@pytest.mark.parametrize("body, status, field", [
    ({}, 422, "name"), ({"name": "  "}, 422, "name"), ({"name": "X" * 161}, 422, "name"),
    ({"name": "X", "domain": "not a domain"}, 422, "domain"), ({"name": "X", "domain": "ACME.com"}, 409, "domain"),
    ({"name": "X", "size": "huge"}, 422, "size"), ({"name": "X", "phone": "123"}, 422, "phone"),
    ({"name": ["X"]}, 422, "name"), ({"name": "X", "parent_id": "nope"}, 422, "parent_id"),
])
def test_bad_companies_are_refused(client, crm, body, status, field):
    assert_json_error(client.post("/api/v1/companies", json=body, headers=crm["headers"]), status, field=field)
    assert db.session.execute(select(func.count()).select_from(Company)).scalar_one() == 1


def test_a_company_cannot_become_its_own_ancestor(client, crm):
    acme = crm["acme"]
    child = client.post("/api/v1/companies", json={"name": "Acme EU", "parent_id": str(acme.id)},
                        headers=crm["headers"]).get_json()
    for parent in (child["id"], str(acme.id)):
        assert_json_error(client.patch(f"/api/v1/companies/{acme.id}", json={"parent_id": parent},
                                       headers=crm["headers"]), 422, field="parent_id")


def test_bad_company_filters_are_400(client, crm):
    assert_json_error(client.get("/api/v1/companies?size=huge", headers=crm["headers"]), 400, field="size")
    assert_json_error(client.get("/api/v1/companies?industry=a%00", headers=crm["headers"]), 400, field="industry")


def test_a_deleted_company_is_not_found(client, crm):
    companies.delete(crm["account"], crm["acme"])
    assert_json_error(client.get(f"/api/v1/companies/{crm['acme'].id}", headers=crm["headers"]), 404)
    assert client.get("/api/v1/companies", headers=crm["headers"]).get_json()["total"] == 0


# ---- deals ---------------------------------------------------------------------------------------------------

def test_deals_list_get_create_and_patch(client, crm, published):
    headers, pipeline = crm["headers"], crm["pipeline"]
    created = client.post("/api/v1/deals", json={"title": "Expansion", "value_cents": 250_000,
                                                 "contact_id": str(crm["bob"].id), "expected_close_date": "2026-09-30",
                                                 "owner_id": str(crm["user"].id)}, headers=headers)
    assert created.status_code == 201, created.get_json()
    deal = created.get_json()
    assert deal["value_cents"] == 250_000 and deal["currency"] == "USD" and deal["status"] == "open"
    assert deal["pipeline_id"] == str(pipeline.id) and deal["stage_id"] == str(pipeline.stages[0].id)
    assert deal["stage"] == "Lead" and deal["expected_close_date"] == "2026-09-30"
    assert ("deal.created", {"account_id": str(crm["account"].id), "deal_id": deal["id"],
                             "contact_id": str(crm["bob"].id)}) in published
    in_stage = client.post("/api/v1/deals", json={"title": "Later", "stage_id": str(pipeline.stages[2].id)},
                           headers=headers).get_json()
    assert in_stage["stage"] == "Proposal" and in_stage["value_cents"] == 0

    listing = client.get("/api/v1/deals", headers=crm["viewer_headers"]).get_json()
    assert listing["total"] == 3 and listing["items"][0]["title"] == "Later"
    assert client.get(f"/api/v1/deals?contact_id={crm['bob'].id}", headers=headers).get_json()["total"] == 1
    assert client.get(f"/api/v1/deals?stage_id={pipeline.stages[2].id}", headers=headers).get_json()["total"] == 1
    assert client.get("/api/v1/deals?q=renew", headers=headers).get_json()["items"][0]["title"] == "Acme renewal"
    assert client.get("/api/v1/deals?status=won", headers=headers).get_json()["total"] == 0

    patched = client.patch(f"/api/v1/deals/{deal['id']}", json={"value_cents": 300_000.0, "title": "Expansion+"},
                           headers=headers).get_json()
    assert (patched["value_cents"], patched["title"], patched["stage_id"]) == (300_000, "Expansion+", deal["stage_id"])
    won = client.patch(f"/api/v1/deals/{deal['id']}", json={"status": "won"}, headers=headers).get_json()
    assert won["status"] == "won" and won["closed_at"] is not None
    lost = client.patch(f"/api/v1/deals/{in_stage['id']}", json={"status": "lost", "lost_reason": "Budget"},
                        headers=headers).get_json()
    assert (lost["status"], lost["lost_reason"]) == ("lost", "Budget")
    assert {"deal.won", "deal.lost"} <= {name for name, _ in published}
    assert client.get(f"/api/v1/deals/{deal['id']}", headers=crm["viewer_headers"]).get_json()["status"] == "won"


@pytest.mark.parametrize("body, field", [
    ({}, "title"), ({"title": " "}, "title"), ({"title": "X", "value_cents": "100"}, "value_cents"),
    ({"title": "X", "value_cents": 12.5}, "value_cents"), ({"title": "X", "value_cents": -1}, "value_cents"),
    ({"title": "X", "value_cents": 10 ** 15}, "value_cents"), ({"title": "X", "value_cents": True}, "value_cents"),
    ({"title": "X", "expected_close_date": "next week"}, "expected_close_date"),
    ({"title": "X", "contact_id": "6f1c3f44-3b2f-4a39-8d3c-2a4a4b1e9a10"}, "contact_id"),
    ({"title": "X", "pipeline_id": "nope"}, "pipeline_id"),
    ({"title": "X", "value": 500}, "value"),
    ({"title": "X", "expected_close_date": "0999-05-05"}, "expected_close_date"),
    ({"title": "X", "status": "won"}, "status"),  # a new deal is open: its status is not taken (nor ignored)
])
def test_bad_deals_are_422(client, crm, body, field):
    assert_json_error(client.post("/api/v1/deals", json=body, headers=crm["headers"]), 422, field=field)
    assert db.session.execute(select(func.count()).select_from(Deal)).scalar_one() == 1


def test_a_deal_in_a_stage_of_another_pipeline_is_refused(client, crm):
    other = deals.create_pipeline(crm["account"], "Partners", actor=crm["owner"])
    body = {"title": "X", "pipeline_id": str(crm["pipeline"].id), "stage_id": str(other.stages[1].id)}
    assert_json_error(client.post("/api/v1/deals", json=body, headers=crm["headers"]), 422, field="stage_id")


@pytest.mark.parametrize("body, field", [
    ({"status": "lost"}, "lost_reason"), ({"status": "lost", "lost_reason": "  "}, "lost_reason"),
    ({"status": "closed"}, "status"), ({"status": 1}, "status"), ({"title": ""}, "title"),
    ({"value_cents": "1"}, "value_cents"), ({"status": "won", "value_cents": -5}, "value_cents"),
    ({"title": "Renamed", "stage": "Won"}, "stage"), ({"expected_close_date": "9999-12-31"}, "expected_close_date"),
])
def test_bad_deal_patches_change_nothing(client, crm, body, field):
    deal = crm["deal"]
    before = client.get(f"/api/v1/deals/{deal.id}", headers=crm["headers"]).get_json()
    assert_json_error(client.patch(f"/api/v1/deals/{deal.id}", json=body, headers=crm["headers"]), 422, field=field)
    assert client.get(f"/api/v1/deals/{deal.id}", headers=crm["headers"]).get_json() == before


def test_move_a_deal(client, crm, published):
    deal, pipeline = crm["deal"], crm["pipeline"]
    response = client.post(f"/api/v1/deals/{deal.id}/move", json={"stage_id": str(pipeline.stages[3].id)},
                           headers=crm["headers"])
    assert response.status_code == 200
    assert response.get_json()["stage"] == "Negotiation"
    assert ("deal.stage_changed", {"account_id": str(crm["account"].id), "deal_id": str(deal.id),
                                   "from_stage_id": str(pipeline.stages[0].id),
                                   "to_stage_id": str(pipeline.stages[3].id)}) in published


def test_bad_moves_are_refused(client, crm, stranger):
    deal = crm["deal"]
    other = deals.create_pipeline(crm["account"], "Partners", actor=crm["owner"])
    for body in ({"stage_id": str(other.stages[1].id)}, {"stage_id": str(stranger["ids"]["stage_id"])}, {},
                 {"stage_id": "nope"}, {"stage_id": 4}):
        assert_json_error(client.post(f"/api/v1/deals/{deal.id}/move", json=body, headers=crm["headers"]), 422,
                          field="stage_id")
    db.session.refresh(deal)
    assert deal.stage_id == crm["pipeline"].stages[0].id


def test_a_workspace_without_pipeline_cannot_create_deals(client, workspace, key_for):
    factories.remove_pipelines(workspace["account"])
    assert_json_error(client.post("/api/v1/deals", json={"title": "X"}, headers=key_for("user")), 422,
                      field="pipeline_id")


# ---- roles and other workspaces --------------------------------------------------------------------------------

READS = ["/api/v1/contacts", "/api/v1/contacts/{contact}", "/api/v1/companies", "/api/v1/companies/{company}",
         "/api/v1/deals", "/api/v1/deals/{deal}"]
WRITES = [("POST", "/api/v1/contacts", {"first_name": "V"}),
          ("POST", "/api/v1/contacts/upsert", {"email": "v@example.com"}),
          ("PATCH", "/api/v1/contacts/{contact}", {"city": "V"}), ("DELETE", "/api/v1/contacts/{contact}", None),
          ("POST", "/api/v1/contacts/{contact}/tags", {"name": "v"}),
          ("DELETE", "/api/v1/contacts/{contact}/tags/{tag}", None),
          ("POST", "/api/v1/companies", {"name": "V"}), ("PATCH", "/api/v1/companies/{company}", {"name": "V"}),
          ("POST", "/api/v1/deals", {"title": "V"}), ("PATCH", "/api/v1/deals/{deal}", {"title": "V"}),
          ("POST", "/api/v1/deals/{deal}/move", {"stage_id": "{stage}"})]


def fill(path: str, ids: dict) -> str:
    return path.format(**{key: str(value) for key, value in ids.items()})


def own_ids(crm) -> dict:
    return {"contact": crm["ann"].id, "company": crm["acme"].id, "deal": crm["deal"].id, "tag": crm["vip"].id,
            "stage": crm["pipeline"].stages[1].id}


@pytest.mark.parametrize("path", READS)
def test_viewer_key_reads(client, crm, path):
    assert client.get(fill(path, own_ids(crm)), headers=crm["viewer_headers"]).status_code == 200


@pytest.mark.parametrize("method, path, body", WRITES)
def test_viewer_key_cannot_write(client, crm, method, path, body):
    ids = own_ids(crm)
    payload = {k: fill(v, ids) if isinstance(v, str) else v for k, v in body.items()} if body else None
    error = assert_json_error(client.open(fill(path, ids), method=method, json=payload, headers=crm["viewer_headers"]),
                              403, "forbidden")
    assert "user role" in error["message"]
    # the same request with a user's key goes through
    response = client.open(fill(path, ids), method=method, json=payload, headers=crm["headers"])
    assert response.status_code in (200, 201, 204), (method, path, response.get_json())


@pytest.mark.parametrize("method, path, body", [("GET", p, None) for p in READS if "{" in p]
                         + [w for w in WRITES if "{" in w[1]])
def test_other_workspaces_ids_are_404(client, crm, stranger, method, path, body):
    theirs = stranger["ids"]
    ids = {"contact": theirs["contact_id"], "company": theirs["company_id"], "deal": theirs["deal_id"],
           "tag": theirs["tag_id"], "stage": theirs["stage_id"]}
    payload = {k: fill(v, ids) if isinstance(v, str) else v for k, v in body.items()} if body else None
    assert_json_error(client.open(fill(path, ids), method=method, json=payload, headers=crm["headers"]), 404,
                      "not_found")
    # and with their own key, the same request works: the 404 is the workspace boundary
    assert client.open(fill(path, ids), method=method, json=payload, headers=stranger["headers"]).status_code in (
        200, 201, 204)


def test_api_needs_a_key(client, crm):
    assert_json_error(client.get("/api/v1/contacts"), 401)
    assert_json_error(client.post("/api/v1/contacts", json={"first_name": "X"}), 401)


def test_contact_fields_are_documented_with_the_forms_names(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    create = doc["components"]["schemas"]["ContactCreate"]["properties"]
    assert set(contacts.FIELDS) | {"custom_fields", "tags"} == set(create)
    paths = doc["paths"]
    for path, methods in {"/api/v1/contacts": {"get", "post"}, "/api/v1/contacts/upsert": {"post"},
                          "/api/v1/contacts/{contact_id}": {"get", "patch", "delete"},
                          "/api/v1/contacts/{contact_id}/tags": {"post"},
                          "/api/v1/contacts/{contact_id}/tags/{tag_id}": {"delete"},
                          "/api/v1/companies": {"get", "post"}, "/api/v1/companies/{company_id}": {"get", "patch"},
                          "/api/v1/deals": {"get", "post"}, "/api/v1/deals/{deal_id}": {"get", "patch"},
                          "/api/v1/deals/{deal_id}/move": {"post"}}.items():
        assert methods <= set(paths[path]), path
    params = {p["name"] for p in paths["/api/v1/contacts"]["get"]["parameters"]}
    assert {"q", "page", "page_size", "tag", "owner", "company", "source", "created_from", "created_to"} <= params
    assert "409" in paths["/api/v1/contacts"]["post"]["responses"]
    assert "404" in paths["/api/v1/contacts/{contact_id}"]["delete"]["responses"]
    upsert = paths["/api/v1/contacts/upsert"]["post"]["responses"]
    assert {"200", "201"} <= set(upsert)


def test_every_body_schema_lists_the_fields_its_operation_reads():
    """json_body() refuses any field the schema of the body lacks: so each operation's schema must list
    exactly the fields its view reads (or a field it reads would always be refused)."""
    from app.api.base import BODIES, body_fields
    from app.api.openapi import ref
    from app.api.views.crm import BODY_TYPES

    for name, types in BODY_TYPES.items():
        assert body_fields(ref(name)) == set(types), name
    crm_endpoints = {"create_contact", "upsert_contact", "update_contact", "add_contact_tag", "create_company",
                     "update_company", "create_deal", "update_deal", "move_deal"}
    declared = {endpoint.partition(".")[2]: schema["$ref"].rsplit("/", 1)[-1] for endpoint, schema in BODIES.items()
                if endpoint.partition(".")[2] in crm_endpoints}
    assert set(declared) == crm_endpoints and set(declared.values()) <= set(BODY_TYPES)


def test_every_field_of_a_deal_body_is_taken(client, crm):
    headers, pipeline = crm["headers"], crm["pipeline"]
    everything = {"title": "All fields", "value_cents": 5000, "contact_id": str(crm["ann"].id),
                  "company_id": str(crm["acme"].id), "owner_id": str(crm["user"].id),
                  "expected_close_date": "2030-01-31", "pipeline_id": str(pipeline.id),
                  "stage_id": str(pipeline.stages[1].id)}
    created = client.post("/api/v1/deals", json=everything, headers=headers)
    assert created.status_code == 201, created.get_json()
    deal = created.get_json()
    assert {key: deal[key] for key in everything} == everything
    patch = {"title": "Renamed", "value_cents": 7000, "contact_id": None, "company_id": None, "owner_id": None,
             "expected_close_date": "2199-12-31", "status": "lost", "lost_reason": "Budget"}
    patched = client.patch(f"/api/v1/deals/{deal['id']}", json=patch, headers=headers)
    assert patched.status_code == 200, patched.get_json()
    assert {key: patched.get_json()[key] for key in patch} == patch
