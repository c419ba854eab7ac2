"""The builder's edits through the web client: adding, moving, editing, duplicating, deleting, undo/redo,
stale tabs, bad input (nothing saved), roles and other accounts."""
import json
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.funnels import services as funnels
from app.funnels.models import FunnelVersion
from app.pages import tree as trees
from tests import factories
from tests.builder.conftest import fresh


def column_of(page) -> dict:
    return next(node for node, _, _ in trees.walk(fresh(page).tree) if node["type"] == "columns")


def versions(page) -> int:
    return db.session.execute(select(func.count()).select_from(FunnelVersion).where(
        FunnelVersion.page_id == page.id)).scalar_one()


def add(client, page, type_name, **values):
    current = fresh(page)
    data = {"type": type_name, "revision": current.revision, **values}
    if "parent_id" not in values and "after_id" not in values:
        data["parent_id"], data["index"] = column_of(page)["id"], 0
    return client.post(f"/builder/{page.id}/add", data=data)


def added_id(response) -> str:
    return response.headers["X-Builder-Select"]


def test_the_editor_shows_the_library_canvas_and_panel(editor, page):
    response = editor.get(f"/builder/{page.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Spring guide" in html and "Opt-in" in html
    assert html.count('class="lf-tile"') == 27  # every element type, in the library (27 since issue 10)
    assert 'data-element-id="root"' in html and "lf-children" in html
    assert "site/site.css" in html
    assert "Select an element" in html
    assert response.headers["Cache-Control"] == "no-store"


def test_a_boosted_link_to_the_editor_loads_it_whole(editor, page):
    """A boosted swap would not run the editor's scripts (they are in its own head): htmx is told to load
    the page itself, and funnel pages link to it without boosting."""
    response = editor.get(f"/builder/{page.id}?element=abc", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert response.status_code == 200 and response.get_data() == b""
    assert response.headers["HX-Redirect"] == f"/builder/{page.id}?element=abc"
    funnel_page = editor.get(f"/funnels/{page.funnel_id}").get_data(as_text=True)
    assert f'href="/builder/{page.id}" hx-boost="false"' in funnel_page


def test_adding_an_element_saves_a_version_and_answers_its_list_and_panel(editor, page):
    before, revision = versions(page), fresh(page).revision
    response = add(editor, page, "headline")
    assert response.status_code == 200
    new_id = added_id(response)
    html = response.get_data(as_text=True)
    column = column_of(page)
    assert f'<template data-swap="{column["id"]}">' in html
    assert f'data-element-id="{new_id}"' in html
    assert "<template data-panel>" in html and 'name="p.text"' in html
    assert [child["type"] for child in column["children"]] == ["headline"]
    assert fresh(page).revision == revision + 1
    assert response.headers["X-Page-Revision"] == str(revision + 1)
    assert response.headers["X-Undo"] == "1"
    assert versions(page) == before + 1


def test_a_content_element_dropped_on_the_page_is_wrapped_into_a_section(editor, page):
    response = add(editor, page, "button", parent_id="root", index=5)
    assert response.status_code == 200
    sections = fresh(page).tree["children"]
    assert len(sections) == 2
    assert sections[1]["children"][0]["children"][0]["children"][0]["type"] == "button"
    assert '<template data-swap="root">' in response.get_data(as_text=True)


def test_a_new_section_comes_with_a_row_and_a_column_and_a_form_with_an_email_field(editor, page):
    add(editor, page, "section", parent_id="root", index=1)
    section = fresh(page).tree["children"][1]
    assert section["children"][0]["type"] == "row" and section["children"][0]["children"][0]["type"] == "columns"
    response = add(editor, page, "form")
    form = trees.find(fresh(page).tree, added_id(response))[0]
    assert form["children"][0]["props"]["maps_to"] == "email"


def test_enter_on_a_tile_adds_after_the_selected_element(editor, page):
    first = added_id(add(editor, page, "headline"))
    second = added_id(add(editor, page, "text", after_id=first))
    assert [child["id"] for child in column_of(page)["children"]] == [first, second]
    # nothing selected: at the end of the last column
    third = added_id(add(editor, page, "button", after_id=""))
    assert [child["id"] for child in column_of(page)["children"]] == [first, second, third]
    # a section after a headline: after the headline's section, on the page
    add(editor, page, "section", after_id=first)
    assert len(fresh(page).tree["children"]) == 2


def test_moving_reorders_and_moves_between_containers(editor, page):
    first = added_id(add(editor, page, "headline"))
    second = added_id(add(editor, page, "subheadline", parent_id=column_of(page)["id"], index=1))
    column = column_of(page)
    response = editor.post(f"/builder/{page.id}/move", data={
        "element_id": second, "parent_id": column["id"], "index": 0, "revision": fresh(page).revision})
    assert response.status_code == 200
    assert [child["id"] for child in column_of(page)["children"]] == [second, first]
    # into a container of another section
    add(editor, page, "section", parent_id="root", index=1)
    other_column = [n for n, _, _ in trees.walk(fresh(page).tree) if n["type"] == "columns"][1]
    response = editor.post(f"/builder/{page.id}/move", data={
        "element_id": first, "parent_id": other_column["id"], "index": 0, "revision": fresh(page).revision})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<template data-swap=") == 2  # both lists, re-rendered
    assert trees.find(fresh(page).tree, first)[1]["id"] == other_column["id"]


def test_moving_an_element_into_itself_is_refused_and_nothing_saved(editor, page):
    section = fresh(page).tree["children"][0]
    column = column_of(page)
    revision = fresh(page).revision
    response = editor.post(f"/builder/{page.id}/move", data={
        "element_id": section["id"], "parent_id": column["id"], "index": 0, "revision": revision})
    assert response.status_code == 422
    assert "itself" in response.get_json()["error"]["message"]
    assert fresh(page).revision == revision


def test_moving_where_the_element_may_not_go_is_refused(editor, page):
    headline = added_id(add(editor, page, "headline"))
    revision = fresh(page).revision
    response = editor.post(f"/builder/{page.id}/move", data={
        "element_id": headline, "parent_id": "root", "index": 0, "revision": revision})
    assert response.status_code == 422
    assert response.get_json()["error"]["message"] == "A page cannot hold a headline."
    assert fresh(page).revision == revision


def panel_form(element: dict, **changes) -> dict:
    """What the panel posts: every prop and style field, as the browser sends them."""
    from app.pages.elements import STYLE, element_type

    data = {"element_id": element["id"], "hide_on_present": "1"}
    for key, prop in element_type(element["type"]).props.items():
        value = element["props"].get(key, prop.default)
        if prop.kind == "items":
            value = json.dumps(value)
        elif prop.kind == "list":
            value = "\n".join(value)
        elif prop.kind == "bool":
            value = "true" if value else "false"
        data[f"p.{key}"] = "" if value is None else str(value)
    for key in STYLE:
        data[f"s.{key}"] = str(element["style"].get(key, ""))
    data.update(changes)
    return data


def test_the_panel_edit_answers_only_the_element_and_is_saved_in_a_version(editor, page):
    headline_id = added_id(add(editor, page, "headline"))
    headline = trees.find(fresh(page).tree, headline_id)[0]
    before = versions(page)
    data = panel_form(headline, **{"p.text": "Grow your list", "s.color": "#B91C1C", "hide_on": "mobile",
                                   "revision": fresh(page).revision})
    response = editor.post(f"/builder/{page.id}/update", data=data)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.startswith(f'<template data-swap="{headline_id}">')
    assert html.count("<template") == 1  # not the page, not the panel
    assert "Grow your list" in html and "color:#b91c1c" in html
    saved = trees.find(fresh(page).tree, headline_id)[0]
    assert saved["props"]["text"] == "Grow your list"
    assert saved["style"]["color"] == "#b91c1c"
    assert saved["hide_on"] == ["mobile"]
    # the same person's save of a moment ago (adding the headline): one version, now holding this edit
    assert versions(page) == before
    newest = db.session.execute(select(FunnelVersion).where(FunnelVersion.page_id == page.id)
                                .order_by(FunnelVersion.number.desc())).scalars().first()
    assert newest.summary.endswith("Edited a headline") and "Grow your list" in json.dumps(newest.snapshot)


def test_panel_field_errors_name_each_field_and_nothing_is_saved(editor, page):
    button_id = added_id(add(editor, page, "button"))
    button = trees.find(fresh(page).tree, button_id)[0]
    revision = fresh(page).revision
    data = panel_form(button, **{"p.label": "", "p.url": "javascript:alert(1)", "s.font_size": "900",
                                 "s.color": "red", "revision": revision})
    response = editor.post(f"/builder/{page.id}/update", data=data)
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"p.label", "p.url", "s.font_size", "s.color"}
    assert "between 8 and 120" in fields["s.font_size"]
    assert "https://" in fields["p.url"]
    assert fresh(page).revision == revision


def test_items_are_edited_as_json_with_a_clear_error(editor, page):
    gallery_id = added_id(add(editor, page, "image_gallery"))
    gallery = trees.find(fresh(page).tree, gallery_id)[0]
    response = editor.post(f"/builder/{page.id}/update", data=panel_form(
        gallery, **{"p.images": "[{not json", "revision": fresh(page).revision}))
    assert response.status_code == 422
    assert "not valid JSON" in response.get_json()["error"]["fields"]["p.images"]
    images = [{"src": "https://example.com/a.png", "alt": "A lake", "width": 800, "height": 600, "asset_id": ""}]
    response = editor.post(f"/builder/{page.id}/update", data=panel_form(
        gallery, **{"p.images": json.dumps(images), "revision": fresh(page).revision}))
    assert response.status_code == 200
    assert trees.find(fresh(page).tree, gallery_id)[0]["props"]["images"][0]["alt"] == "A lake"


@pytest.mark.parametrize("dirty, forbidden", [
    ("<p>Hi</p><script>alert(1)</script>", "<script"),
    ('<p><img src=x onerror="alert(1)">Hi</p>', "onerror"),
    ('<p><a href="javascript:alert(1)">Hi</a></p>', "javascript:"),
    ('<p style="width:expression(alert(1))">Hi</p>', "expression"),
])
def test_rich_text_is_stored_sanitised(editor, page, dirty, forbidden):
    text_id = added_id(add(editor, page, "text"))
    text = trees.find(fresh(page).tree, text_id)[0]
    response = editor.post(f"/builder/{page.id}/update", data=panel_form(
        text, **{"p.html": dirty, "revision": fresh(page).revision}))
    assert response.status_code == 200
    stored = trees.find(fresh(page).tree, text_id)[0]["props"]["html"]
    assert forbidden not in stored.lower()
    assert "Hi" in stored
    assert forbidden not in response.get_data(as_text=True).lower()


def test_duplicate_delete_and_shift(editor, page):
    first = added_id(add(editor, page, "headline"))
    response = editor.post(f"/builder/{page.id}/duplicate",
                           data={"element_id": first, "revision": fresh(page).revision})
    assert response.status_code == 200
    twin = added_id(response)
    ids = [child["id"] for child in column_of(page)["children"]]
    assert ids == [first, twin]
    response = editor.post(f"/builder/{page.id}/shift", data={"element_id": twin, "offset": "-1",
                                                              "revision": fresh(page).revision})
    assert [child["id"] for child in column_of(page)["children"]] == [twin, first]
    response = editor.post(f"/builder/{page.id}/delete", data={"element_id": twin, "revision": fresh(page).revision})
    assert response.status_code == 200
    assert added_id(response) == first  # the selection moves to the next element
    assert [child["id"] for child in column_of(page)["children"]] == [first]
    response = editor.post(f"/builder/{page.id}/delete", data={"element_id": first, "revision": fresh(page).revision})
    assert added_id(response) == column_of(page)["id"]  # the last one: to its parent
    response = editor.post(f"/builder/{page.id}/shift", data={"element_id": "root", "offset": "1",
                                                              "revision": fresh(page).revision})
    assert response.status_code == 422


def test_a_stale_revision_is_refused_with_409_and_nothing_saved(editor, page):
    add(editor, page, "headline")
    current = fresh(page)
    response = editor.post(f"/builder/{page.id}/add", data={
        "type": "text", "parent_id": column_of(page)["id"], "index": 0, "revision": current.revision - 1})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "stale" and "changed elsewhere" in error["message"]
    assert fresh(page).revision == current.revision
    assert len(column_of(page)["children"]) == 1


def test_undo_and_redo_fifty_deep_survive_a_reload(editor, owner, page):
    """55 edits; 50 can be undone (the last through the web, the others through the same service), then
    the history is still there on a new page load, and all 50 redo."""
    from app.builder import services

    user, account = owner
    column_id = column_of(page)["id"]
    for _ in range(55):
        current = fresh(page)
        spaced = trees.insert(current.tree, column_id, 0, trees.new_element("spacer"))[0]
        services.save_tree(account, current, spaced, user)
    for _ in range(49):
        services.undo(account, fresh(page), user)
    response = editor.post(f"/builder/{page.id}/undo", data={"revision": fresh(page).revision})
    assert response.status_code == 200
    assert '<template data-swap="root">' in response.get_data(as_text=True)
    assert response.headers["X-Undo"] == "0" and response.headers["X-Redo"] == "1"
    assert len(column_of(page)["children"]) == 5
    response = editor.post(f"/builder/{page.id}/undo", data={"revision": fresh(page).revision})
    assert response.status_code == 409
    assert "nothing to undo" in response.get_json()["error"]["message"]
    # "reload": a new page load, the history is still there
    html = editor.get(f"/builder/{page.id}").get_data(as_text=True)
    assert 'data-redo="1"' in html and 'data-undo="0"' in html
    for _ in range(49):
        services.redo(account, fresh(page), user)
    response = editor.post(f"/builder/{page.id}/redo", data={"revision": fresh(page).revision})
    assert response.status_code == 200 and response.headers["X-Redo"] == "0"
    assert len(column_of(page)["children"]) == 55
    assert editor.post(f"/builder/{page.id}/redo", data={"revision": fresh(page).revision}).status_code == 409
    # undo and redo are edits too: each made a page version, except the editor's own undo and redo, which
    # fold into the same person's version of a moment ago (consecutive saves in the builder are one version)
    assert versions(page) >= 55 + 49 + 49


def test_undo_keeps_the_panel_of_the_selected_element_when_it_is_still_there(editor, page):
    first = added_id(add(editor, page, "headline"))
    second = added_id(add(editor, page, "text"))
    response = editor.post(f"/builder/{page.id}/undo", data={"element_id": second, "revision": fresh(page).revision})
    assert response.headers["X-Builder-Select"] == ""  # the text is gone
    assert "Select an element" in response.get_data(as_text=True)
    response = editor.post(f"/builder/{page.id}/redo", data={"element_id": first, "revision": fresh(page).revision})
    assert response.headers["X-Builder-Select"] == first


def test_unknown_types_and_elements_are_refused(editor, page):
    revision = fresh(page).revision
    response = editor.post(f"/builder/{page.id}/add",
                           data={"type": "marquee", "parent_id": "root", "revision": revision})
    assert response.status_code == 422
    response = editor.post(f"/builder/{page.id}/update", data={"element_id": "enothere123", "revision": revision})
    assert response.status_code == 422
    assert "no longer on the page" in response.get_json()["error"]["message"]
    response = editor.post(f"/builder/{page.id}/add", data={"type": "headline", "parent_id": "root", "index": "x",
                                                           "revision": revision})
    assert response.status_code == 422
    response = editor.post(f"/builder/{page.id}/add", data={"type": "headline", "revision": "abc"})
    assert response.status_code == 422
    assert fresh(page).revision == revision


def test_a_viewer_reads_but_cannot_edit(client, owner, page):
    user, account = owner
    viewer = factories.add_member(account, "viewer")
    factories.login(client, viewer, account)
    response = client.get(f"/builder/{page.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-editable="false"' in html and "Read only" in html
    assert client.get(f"/builder/{page.id}/panel?element_id={column_of(page)['id']}").status_code == 200
    revision = fresh(page).revision
    for path, data in [("add", {"type": "headline", "parent_id": "root"}), ("undo", {}), ("publish", {}),
                       ("settings", {"title": "Hacked"})]:
        assert client.post(f"/builder/{page.id}/{path}", data={**data, "revision": revision}).status_code == 403
    assert fresh(page).revision == revision and fresh(page).title != "Hacked"


def test_another_accounts_page_is_not_found(client, owner, page):
    stranger = factories.make_user("stranger@example.com")
    account = factories.make_account(stranger, "Elsewhere")
    factories.login(client, stranger, account)
    assert client.get(f"/builder/{page.id}").status_code == 404
    assert client.post(f"/builder/{page.id}/add", data={"type": "headline", "parent_id": "root"}).status_code == 404


def test_the_builder_of_a_deleted_funnel_is_gone(editor, owner, page):
    user, account = owner
    funnels.soft_delete(account, fresh(page).step.funnel, user)
    assert editor.get(f"/builder/{page.id}").status_code == 404


def test_the_panel_fields_follow_the_element_type(editor, page):
    button_id = added_id(add(editor, page, "button"))
    html = editor.get(f"/builder/{page.id}/panel?element_id={button_id}").get_data(as_text=True)
    assert 'name="p.label"' in html and 'select id="lfp-step_id"' in html
    assert "Thank you" in html  # the funnel's other step, to link to
    assert 'type="color"' in html and 'name="hide_on" value="tablet"' in html
    assert re.search(r'name="s\.font_size"', html)
    html = editor.get(f"/builder/{page.id}/panel").get_data(as_text=True)
    assert "Select an element" in html
