"""The funnels part of the JSON API: funnels (list with q and filters, create, get, PATCH, DELETE, clone),
steps (add, PATCH, DELETE, reorder) and versions (list, get, restore), with good and bad input, roles and
another workspace's ids."""
import uuid

import pytest
from sqlalchemy import func, select

from app.builder import services as builder
from app.extensions import db
from app.funnels import services, versions
from app.funnels.models import Funnel, FunnelStep, FunnelVersion
from app.pages import tree as trees
from tests import factories
from tests.api.conftest import assert_json_error, make_key

API = "/api/v1/funnels"


@pytest.fixture
def fx(workspace, key_for):
    account, owner = workspace["account"], workspace["owner"]
    funnel = services.create_funnel(account, {"name": "Free guide", "slug": "free-guide"}, owner)
    return {**workspace, "funnel": funnel, "headers": key_for("user"), "viewer_headers": key_for("viewer")}


def headline_page(text: str) -> dict:
    tree = trees.empty_page()
    tree["children"] = [trees.section_with([trees.new_element("headline", {"text": text})])]
    return tree


# ---- funnels ------------------------------------------------------------------------------------------

def test_list_funnels_with_step_counts_filters_and_search(client, fx):
    account, owner = fx["account"], fx["owner"]
    sale = services.create_funnel(account, {"name": "Spring sale", "funnel_type": "sales"}, owner)
    services.set_status(account, sale, "archived", owner)
    body = client.get(API, headers=fx["viewer_headers"]).get_json()
    assert body["total"] == 2 and {item["name"] for item in body["items"]} == {"Free guide", "Spring sale"}
    guide = next(item for item in body["items"] if item["name"] == "Free guide")
    assert guide["step_count"] == 2 and guide["status"] == "draft"
    assert guide["public_url"] == "http://pages.example.com/free-guide"
    def names(query):
        return [item["name"] for item in client.get(API + query, headers=fx["headers"]).get_json()["items"]]

    assert names("?q=SPRING") == ["Spring sale"]
    assert names("?status=archived") == ["Spring sale"]
    assert names("?funnel_type=lead_generation") == ["Free guide"]
    assert_json_error(client.get(API + "?status=gone", headers=fx["headers"]), 400, field="status")
    assert_json_error(client.get(API + "?page=0", headers=fx["headers"]), 400, field="page")
    assert_json_error(client.get(API + "?q=" + "x" * 201, headers=fx["headers"]), 400, field="q")


def test_create_get_patch_delete_a_funnel(client, fx):
    response = client.post(API, json={"name": "My Offer", "funnel_type": "sales"}, headers=fx["headers"])
    assert response.status_code == 201
    body = response.get_json()
    assert (body["slug"], body["status"], body["funnel_type"]) == ("my-offer", "draft", "sales")
    assert [step["step_type"] for step in body["steps"]] == ["page", "thank_you"]
    url = f"{API}/{body['id']}"
    assert client.get(url, headers=fx["viewer_headers"]).get_json()["name"] == "My Offer"
    patched = client.patch(url, json={"name": "Our offer", "slug": "ÉTÉ", "custom_domain": "Offers.Example.com"},
                           headers=fx["headers"])
    assert patched.status_code == 200
    assert (patched.get_json()["name"], patched.get_json()["slug"], patched.get_json()["custom_domain"]) == (
        "Our offer", "ete", "offers.example.com")
    assert client.delete(url, headers=fx["headers"]).status_code == 204
    assert_json_error(client.get(url, headers=fx["headers"]), 404)
    assert_json_error(client.patch(url, json={"name": "x"}, headers=fx["headers"]), 404)
    assert body["id"] not in [i["id"] for i in client.get(API, headers=fx["headers"]).get_json()["items"]]


def test_bad_funnel_bodies(client, fx):
    headers = fx["headers"]
    assert_json_error(client.post(API, json={"funnel_type": "sales"}, headers=headers), 422, field="name")
    assert_json_error(client.post(API, json={"name": "X", "funnel_type": "pyramid"}, headers=headers), 422,
                      field="funnel_type")
    assert_json_error(client.post(API, json={"name": 5}, headers=headers), 422, field="name")
    assert_json_error(client.post(API, json={"name": "X", "slug": "日本"}, headers=headers), 422, field="slug")
    assert_json_error(client.post(API, json={"name": "X", "custom_domain": "not a domain"}, headers=headers), 422,
                      field="custom_domain")
    assert_json_error(client.post(API, data="[]", content_type="application/json", headers=headers), 400)
    assert_json_error(client.post(API, json={"name": "X", "slug": "Free Guide"}, headers=headers), 409, field="slug")
    assert_json_error(client.post(API, json={"name": "X", "slug": "static"}, headers=headers), 409, field="slug")
    assert_json_error(client.post(API, json={"name": "X", "custom_domain": "pages.example.com"}, headers=headers), 409,
                      field="custom_domain")
    assert db.session.execute(select(func.count(Funnel.id))).scalar_one() == 1


def test_a_name_with_nothing_for_a_slug_still_makes_a_funnel(client, fx):
    response = client.post(API, json={"name": "日本"}, headers=fx["headers"])
    assert response.status_code == 201 and response.get_json()["slug"] == "funnel"


def test_clone_through_the_api(client, fx):
    response = client.post(f"{API}/{fx['funnel'].id}/clone", headers=fx["headers"])
    assert response.status_code == 201
    body = response.get_json()
    assert body["slug"] == "free-guide-copy" and body["id"] != str(fx["funnel"].id)
    assert [s["slug"] for s in body["steps"]] == [s.slug for s in fx["funnel"].steps]


def test_viewers_read_and_users_write(client, fx):
    url = f"{API}/{fx['funnel'].id}"
    assert client.get(url, headers=fx["viewer_headers"]).status_code == 200
    assert_json_error(client.post(API, json={"name": "X"}, headers=fx["viewer_headers"]), 403)
    assert_json_error(client.patch(url, json={"name": "X"}, headers=fx["viewer_headers"]), 403)
    assert_json_error(client.delete(url, headers=fx["viewer_headers"]), 403)
    assert_json_error(client.post(url + "/steps", json={"name": "X"}, headers=fx["viewer_headers"]), 403)


def test_another_workspaces_funnels_are_not_found(client, fx):
    stranger = factories.make_user("stranger@example.com")
    account = factories.make_account(stranger, "Other")
    _, headers = make_key(account, stranger)
    funnel = fx["funnel"]
    step, version = funnel.steps[0], db.session.execute(versions.versions_query(funnel)).scalars().first()
    url = f"{API}/{funnel.id}"
    assert client.get(API, headers=headers).get_json()["total"] == 0
    for method, path in (("get", ""), ("patch", ""), ("delete", ""), ("post", "/clone"), ("post", "/steps"),
                         ("patch", f"/steps/{step.id}"), ("delete", f"/steps/{step.id}"), ("post", "/steps/reorder"),
                         ("get", "/versions"), ("get", f"/versions/{version.id}"),
                         ("post", f"/versions/{version.id}/restore")):
        assert_json_error(getattr(client, method)(url + path, json={}, headers=headers), 404)


# ---- steps --------------------------------------------------------------------------------------------

def test_add_change_and_delete_steps(client, fx):
    url = f"{API}/{fx['funnel'].id}/steps"
    response = client.post(url, json={"name": "Special Offer", "step_type": "upsell"}, headers=fx["headers"])
    assert response.status_code == 201
    step = response.get_json()
    assert (step["slug"], step["position"], step["published"]) == ("special-offer", 2, False)
    assert step["public_url"] == "http://pages.example.com/free-guide/special-offer"
    patched = client.patch(f"{url}/{step['id']}", json={"name": "One-time offer", "slug": "OTO"}, headers=fx["headers"])
    assert patched.status_code == 200 and patched.get_json()["slug"] == "oto"
    taken = fx["funnel"].steps[0].slug
    assert_json_error(client.patch(f"{url}/{step['id']}", json={"slug": taken}, headers=fx["headers"]), 409,
                      field="slug")
    assert_json_error(client.post(url, json={"name": "Again", "slug": taken}, headers=fx["headers"]), 409, field="slug")
    assert_json_error(client.post(url, json={"name": "X", "step_type": "popup"}, headers=fx["headers"]), 422,
                      field="step_type")
    assert client.delete(f"{url}/{step['id']}", headers=fx["headers"]).status_code == 204
    assert_json_error(client.delete(f"{url}/{step['id']}", headers=fx["headers"]), 404)


def test_the_last_step_cannot_be_deleted(client, fx):
    funnel = fx["funnel"]
    first, second = funnel.steps
    url = f"{API}/{funnel.id}/steps"
    assert client.delete(f"{url}/{second.id}", headers=fx["headers"]).status_code == 204
    error = assert_json_error(client.delete(f"{url}/{first.id}", headers=fx["headers"]), 409)
    assert "at least one step" in error["message"]
    assert db.session.get(FunnelStep, first.id) is not None


def test_a_step_of_another_funnel_is_not_found(client, fx):
    other = services.create_funnel(fx["account"], {"name": "Other"}, fx["owner"])
    assert_json_error(client.patch(f"{API}/{fx['funnel'].id}/steps/{other.steps[0].id}", json={"name": "x"},
                                   headers=fx["headers"]), 404)


def test_reorder_steps(client, fx):
    funnel = fx["funnel"]
    ids = [str(step.id) for step in funnel.steps]
    url = f"{API}/{funnel.id}/steps/reorder"
    response = client.post(url, json={"step_ids": ids[::-1]}, headers=fx["headers"])
    assert response.status_code == 200 and [s["id"] for s in response.get_json()["steps"]] == ids[::-1]
    for bad, status in (([ids[0]], 409), ([ids[0], ids[0]], 409), (ids + [str(uuid.uuid4())], 409),
                        (["nope", "nada"], 422), ("x", 422), ([1, 2], 422)):
        assert_json_error(client.post(url, json={"step_ids": bad}, headers=fx["headers"]), status, field="step_ids")
    db.session.expire_all()
    assert [str(step.id) for step in db.session.get(Funnel, funnel.id).steps] == ids[::-1]


# ---- versions -----------------------------------------------------------------------------------------

def test_versions_list_get_and_restore(client, fx):
    account, owner, funnel = fx["account"], fx["owner"], fx["funnel"]
    page = funnel.steps[0].page
    builder.save_tree(account, page, headline_page("Old headline"), owner)
    old = db.session.execute(versions.versions_query(funnel)).scalars().first()
    builder.save_tree(account, page, headline_page("New headline"), owner)
    body = client.get(f"{API}/{funnel.id}/versions", headers=fx["viewer_headers"]).get_json()
    assert body["total"] == 3 and [item["number"] for item in body["items"]] == [3, 2, 1]
    assert body["items"][1]["kind"] == "page" and body["items"][1]["step_name"] == "Opt-in"
    assert body["items"][1]["created_by"]["id"] == str(owner.id)
    detail = client.get(f"{API}/{funnel.id}/versions/{old.id}", headers=fx["headers"]).get_json()
    assert "Old headline" in str(detail["snapshot"]["tree"])
    restored = client.post(f"{API}/{funnel.id}/versions/{old.id}/restore", headers=fx["headers"])
    assert restored.status_code == 200
    assert restored.get_json()["number"] == 4 and restored.get_json()["summary"].endswith("Restored version 2")
    db.session.expire_all()
    assert "Old headline" in str(db.session.get(type(page), page.id).tree)
    assert_json_error(client.post(f"{API}/{funnel.id}/versions/{old.id}/restore", headers=fx["viewer_headers"]), 403)


def test_a_version_of_another_funnel_is_not_found(client, fx):
    other = services.create_funnel(fx["account"], {"name": "Other"}, fx["owner"])
    version = db.session.execute(select(FunnelVersion).where(FunnelVersion.funnel_id == other.id)).scalar_one()
    for method, path in (("get", ""), ("post", "/restore")):
        assert_json_error(getattr(client, method)(f"{API}/{fx['funnel'].id}/versions/{version.id}{path}",
                                                  headers=fx["headers"]), 404)


def test_a_funnel_and_its_versions_cost_the_same_queries_for_more_steps_and_versions(client, fx, count_queries):
    account, owner, funnel = fx["account"], fx["owner"], fx["funnel"]
    url = f"{API}/{funnel.id}"

    def costs():
        return (count_queries(lambda: client.get(url, headers=fx["headers"])),
                count_queries(lambda: client.get(url + "/versions", headers=fx["headers"])))

    def add_steps(count: int):
        for _ in range(count):
            step = services.add_step(account, funnel, {"name": "Bonus"}, owner)
            builder.save_tree(account, step.page, headline_page(step.slug), owner)  # and a page version

    add_steps(1)
    costs()  # the first request loads what every later one finds cached
    few = costs()
    add_steps(4)
    assert costs() == few


def test_unknown_body_fields_are_refused_by_name_and_nothing_changes(client, fx):
    """Every field the funnel, step, order and page operations take is in their schemas; anything else is a 422."""
    funnel = fx["funnel"]
    before = client.get(f"{API}/{funnel.id}", headers=fx["headers"]).get_json()
    cases = [
        ("post", API, {"name": "Sneaky", "status": "published"}, "status"),
        ("patch", f"{API}/{funnel.id}", {"name": "Renamed", "published_at": "2026-01-01"}, "published_at"),
        ("post", f"{API}/{funnel.id}/steps", {"name": "Upsell", "page": {"tree": {}}}, "page"),
        ("patch", f"{API}/{funnel.id}/steps/{funnel.steps[0].id}", {"name": "X", "position": 3}, "position"),
        ("post", f"{API}/{funnel.id}/steps/reorder", {"step_ids": [str(s.id) for s in funnel.steps], "x": 1}, "x"),
        ("put", f"/api/v1/pages/{funnel.steps[0].page.id}/tree", {"tree": headline_page("Hi"), "title": "T"}, "title"),
        ("post", f"/api/v1/pages/{funnel.steps[0].page.id}/validate", {"tree": headline_page("Hi"), "x": 1}, "x"),
    ]
    for method, url, body, field in cases:
        assert_json_error(getattr(client, method)(url, json=body, headers=fx["headers"]), 422, field=field)
    assert client.get(API, headers=fx["headers"]).get_json()["total"] == 1
    assert client.get(f"{API}/{funnel.id}", headers=fx["headers"]).get_json() == before
    # The fields each operation does take are accepted.
    assert client.patch(f"{API}/{funnel.id}", json={"name": "Guide", "funnel_type": "webinar", "slug": "guide",
                                                    "description": "d", "custom_domain": None},
                        headers=fx["headers"]).status_code == 200
    page = client.get(f"/api/v1/pages/{funnel.steps[0].page.id}", headers=fx["headers"]).get_json()
    body = {"tree": headline_page("Hi"), "revision": page["revision"]}
    assert client.put(f"/api/v1/pages/{page['id']}/tree", json=body, headers=fx["headers"]).status_code == 200
