"""The undo history keeps the way back of each edit, as small as the edit (services.change_back)."""
import json
import random

from app.builder import services
from app.builder import tree as trees


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
        entries.append(services.change_back(new, states[-1]))
        assert json.dumps(states[-1], sort_keys=True) == before  # nothing was changed in place
        states.append(new)
    current = states[-1]
    for entry, expected in zip(reversed(entries), reversed(states[:-1])):
        redo = services.change_back(services.apply_change(current, entry), current)
        back = services.apply_change(current, entry)
        assert back == expected
        assert services.apply_change(back, redo) == current  # and forward again
        current = back


def test_an_element_edit_keeps_only_that_element():
    tree = sample_tree()
    headline = tree["children"][0]["children"][0]["children"][0]["children"][0]
    edited = trees.update(tree, headline["id"], props={"text": "New words"})
    entry = services.change_back(edited, tree)
    assert entry == {"patch": headline["id"], "old": headline}
    assert services.apply_change(edited, entry) == tree
    # a whole tree (as restoring a version writes) is an entry too
    assert services.apply_change(edited, tree) == tree
