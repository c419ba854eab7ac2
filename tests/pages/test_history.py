"""The undo history keeps the way back of each edit, as small as the edit (history.change_back)."""
import json
import random
from types import SimpleNamespace

import pytest

from app.core.errors import ConflictError, ValidationError
from app.pages import history
from app.pages import tree as trees


def sample_tree() -> dict:
    tree = trees.empty_page()
    column = tree["children"][0]["children"][0]["children"][0]
    column["children"] = [trees.new_element("headline"), trees.new_element("text"), trees.new_element("button")]
    tree["children"].append(trees.section_with([trees.new_element("image", {"alt": "A lake"})]))
    return trees.validate(tree)


def random_edit(tree: dict, rng: random.Random) -> dict:
    elements = [node for node, parent, _ in trees.walk(tree) if parent is not None]
    columns = [node for node, _, _ in trees.walk(tree) if node["type"] == "columns"]
    choice = rng.choice(["update", "insert", "move", "remove", "duplicate", "section"])
    content = [node for node in elements if node["type"] in ("headline", "text", "button", "image", "spacer")]
    if choice == "update" and content:
        node = rng.choice(content)
        return trees.update(tree, node["id"], style={"color": f"#{rng.randrange(16 ** 6):06x}"})
    if choice == "move" and content:
        target = rng.choice(columns)
        return trees.move(tree, rng.choice(content)["id"], target["id"], rng.randrange(3))[0]
    if choice == "remove" and content:
        return trees.remove(tree, rng.choice(content)["id"])[0]
    if choice == "duplicate" and content:
        return trees.duplicate(tree, rng.choice(content)["id"])[0]
    if choice == "section":
        return trees.insert(tree, "root", rng.randrange(3), trees.new_element("spacer"))[0]
    return trees.insert(tree, rng.choice(columns)["id"], rng.randrange(4), trees.new_element("spacer"))[0]


def test_undo_entries_lead_back_exactly_through_many_random_edits():
    rng = random.Random(4)
    states = [sample_tree()]
    entries = []
    for _ in range(120):
        new = random_edit(states[-1], rng)
        if new == states[-1]:
            continue
        before = json.dumps(states[-1], sort_keys=True)
        entries.append(history.change_back(new, states[-1]))
        assert json.dumps(states[-1], sort_keys=True) == before  # nothing was changed in place
        states.append(new)
    current = states[-1]
    for entry, expected in zip(reversed(entries), reversed(states[:-1])):
        redo = history.change_back(history.apply_change(current, entry), current)
        back = history.apply_change(current, entry)
        assert back == expected
        assert history.apply_change(back, redo) == current  # and forward again
        current = back


def test_an_element_edit_keeps_only_that_element():
    tree = sample_tree()
    headline = tree["children"][0]["children"][0]["children"][0]["children"][0]
    edited = trees.update(tree, headline["id"], props={"text": "New words"})
    entry = history.change_back(edited, tree)
    assert entry == {"patch": headline["id"], "old": headline}
    assert history.apply_change(edited, entry) == tree
    # a whole tree (as restoring a version writes) is an entry too
    assert history.apply_change(edited, tree) == tree


def a_page(tree: dict, **fields) -> SimpleNamespace:
    return SimpleNamespace(tree=tree, history=[], future=[], revision=3, title="", seo_title="", seo_description="",
                           **fields)


def test_save_undo_and_redo_change_only_the_pages_state():
    page = a_page(sample_tree())
    first = page.tree
    headline_id = first["children"][0]["children"][0]["children"][0]["children"][0]["id"]
    edited = trees.update(first, headline_id, props={"text": "New words"})
    assert history.save(page, edited) and page.revision == 4 and page.tree == edited
    assert not history.save(page, trees.clone(edited)) and page.revision == 4  # the same tree: no change
    assert page.history == [history.change_back(edited, first)] and page.future == []
    history.undo(page)
    assert (page.tree, page.revision, page.history, len(page.future)) == (first, 5, [], 1)
    history.redo(page)
    assert (page.tree, page.revision, len(page.history), page.future) == (edited, 6, 1, [])
    with pytest.raises(ConflictError):
        history.redo(page)


def test_restore_puts_a_snapshot_back_as_one_undoable_entry():
    """The one restore of a page (a page version's, or each page of a funnel version's)."""
    page = a_page(sample_tree())
    current = page.tree
    page.future = [{"type": "page"}]
    older = trees.empty_page()
    older["children"] = [trees.section_with([trees.new_element("headline", {"text": "Old promise"})])]
    snapshot = {"title": "T" * 250, "seo_title": "S", "seo_description": "D" * 400, "tree": older}
    assert history.restore(page, snapshot)
    assert (len(page.title), page.seo_title, len(page.seo_description)) == (200, "S", 320)  # cut to the columns
    assert page.tree == trees.validate(older) and page.revision == 4 and page.future == []
    assert page.history == [history.change_back(page.tree, current)]  # the way back, like any edit
    history.undo(page)
    assert page.tree == current
    # A snapshot's tree is validated again: a broken one is refused and nothing changes.
    before = (page.title, page.tree, page.revision, list(page.history))
    with pytest.raises(ValidationError):
        history.restore(page, {"title": "x", "tree": {"id": "root", "type": "page", "children": [{"type": "nope"}]}})
    assert (page.title, page.tree, page.revision, page.history) == before
    # The same content again: nothing changed.
    same = {"title": page.title, "seo_title": page.seo_title, "seo_description": page.seo_description,
            "tree": page.tree}
    assert not history.restore(page, same) and page.revision == before[2]
