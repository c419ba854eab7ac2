"""The page API: read a page's tree, replace it (validated, nothing saved when refused), check a tree, and
the element library."""
import pytest

from app.auth import services as auth_services
from app.pages import tree as trees
from app.pages.elements import MAX_DEPTH
from tests import factories
from tests.builder.conftest import fresh


@pytest.fixture
def headers(owner):
    user, account = owner
    _, secret = auth_services.create_api_key(account, user, "Builder key")
    return {"Authorization": f"Bearer {secret}"}


def with_headline(tree: dict, text: str = "From the API") -> dict:
    column = next(node for node, _, _ in trees.walk(tree) if node["type"] == "columns")
    return trees.insert(tree, column["id"], 0, trees.new_element("headline", {"text": text}))[0]


def test_get_and_put_a_tree(client, page, headers):
    response = client.get(f"/api/v1/pages/{page.id}", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["revision"] == 0 and body["tree"]["type"] == "page"
    tree = with_headline(body["tree"])
    response = client.put(f"/api/v1/pages/{page.id}/tree", json={"tree": tree, "revision": 0}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["revision"] == 1 and response.get_json()["can_undo"] is True
    assert "From the API" in str(fresh(page).tree)
    # the same revision again: the page changed since
    response = client.put(f"/api/v1/pages/{page.id}/tree", json={"tree": tree, "revision": 0}, headers=headers)
    assert response.status_code == 409


def cyclic(tree: dict) -> dict:
    section = tree["children"][0]
    column = section["children"][0]["children"][0]
    column["children"] = [{"id": section["id"], "type": "container", "children": []}]  # an id seen above it
    return tree


def long_headline(tree: dict) -> dict:
    tree = with_headline(tree)
    headline = next(node for node, _, _ in trees.walk(tree) if node["type"] == "headline")
    headline["props"]["text"] = "x" * 400
    return tree


def too_deep(tree: dict) -> dict:
    column = next(node for node, _, _ in trees.walk(tree) if node["type"] == "columns")
    box = column
    for _ in range(MAX_DEPTH):
        inner = trees.new_element("container")
        box.setdefault("children", []).append(inner)
        box = inner
    return tree


@pytest.mark.parametrize("break_it, message", [
    (lambda t: {**t, "children": [{**t["children"][0], "type": "marquee"}]}, "no element type"),
    (lambda t: {**t, "children": [{key: v for key, v in t["children"][0].items() if key != "id"}]}, "missing its id"),
    (cyclic, "appears twice"),
    (too_deep, "levels deep"),
    (lambda t: {**t, "children": [trees.new_element("headline")]}, "cannot hold a headline"),
    (lambda t: long_headline(t), "at most 300"),
])
def test_a_bad_tree_is_refused_and_nothing_saved(client, page, headers, break_it, message):
    tree = break_it(trees.clone(fresh(page).tree))
    response = client.put(f"/api/v1/pages/{page.id}/tree", json={"tree": tree}, headers=headers)
    assert response.status_code == 422, response.get_json()
    assert message in response.get_json()["error"]["message"]
    assert fresh(page).revision == 0
    verdict = client.post(f"/api/v1/pages/{page.id}/validate", json={"tree": tree}, headers=headers).get_json()
    assert verdict["valid"] is False and message in verdict["error"]["message"]


def test_validate_answers_the_element_count(client, page, headers):
    tree = with_headline(fresh(page).tree)
    response = client.post(f"/api/v1/pages/{page.id}/validate", json={"tree": tree}, headers=headers)
    assert response.get_json() == {"valid": True, "element_count": 4, "error": None}
    assert fresh(page).revision == 0


def test_rich_text_put_through_the_api_is_stored_sanitised(client, page, headers):
    tree = fresh(page).tree
    column = next(node for node, _, _ in trees.walk(tree) if node["type"] == "columns")
    text = trees.new_element("text")
    text["props"]["html"] = '<p onclick="x()">Hi <a href="javascript:alert(1)">there</a><script>bad()</script></p>'
    column["children"] = [text]
    assert client.put(f"/api/v1/pages/{page.id}/tree", json={"tree": tree}, headers=headers).status_code == 200
    stored = trees.find(fresh(page).tree, text["id"])[0]["props"]["html"]
    assert "onclick" not in stored and "javascript:" not in stored and "bad()" not in stored and "Hi" in stored


def test_the_element_library_lists_every_type(client, headers):
    body = client.get("/api/v1/elements", headers=headers).get_json()
    assert len(body["types"]) == 27  # 25, and the order form and one-click offer of issue 10
    headline = next(t for t in body["types"] if t["type"] == "headline")
    assert headline["props"]["level"]["choices"] == ["h1", "h2", "h3"]
    assert body["style"]["font_size"]["maximum"] == 120


def test_viewer_keys_read_but_cannot_write_and_other_accounts_pages_are_not_found(client, owner, page):
    user, account = owner
    viewer = factories.add_member(account, "viewer")
    _, secret = auth_services.create_api_key(account, viewer, "Viewer key")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"/api/v1/pages/{page.id}", headers=headers).status_code == 200
    response = client.put(f"/api/v1/pages/{page.id}/tree", json={"tree": fresh(page).tree}, headers=headers)
    assert response.status_code == 403
    stranger = factories.make_user("s@example.com")
    other = factories.make_account(stranger, "Other")
    _, secret = auth_services.create_api_key(other, stranger, "Other key")
    assert client.get(f"/api/v1/pages/{page.id}", headers={"Authorization": f"Bearer {secret}"}).status_code == 404
