"""The element tree: validation of a whole tree, and the edits the builder makes to one.

Every function here is pure: it takes a tree (a dict) and returns a new one, or raises
ValidationError. Nothing is saved here (see app.pages.history for the undo history, and
app.builder.services for a saved edit).
"""
import copy
import secrets

from app.core.errors import ValidationError
from app.pages.elements import (
    COMMERCE,
    CONTENT,
    FORM_TYPES,
    ID_PATTERN,
    MAX_DEPTH,
    MAX_ELEMENTS,
    PAGE,
    clean_hide_on,
    clean_props,
    clean_style,
    element_type,
)

ELEMENT_KEYS = {"id", "type", "props", "style", "hide_on", "children"}


def clone(tree: dict) -> dict:
    """A deep copy: the edits below return new trees and never change the one they were given."""
    return copy.deepcopy(tree)


def new_id() -> str:
    return "e" + secrets.token_hex(5)


def new_element(type_name: str, props: dict | None = None, style: dict | None = None,
                children: list | None = None) -> dict:
    """An element of this type with its default props and style (and the given overrides)."""
    spec = element_type(type_name)
    element = {"id": new_id(), "type": type_name,
               "props": clean_props(type_name, {**{k: p.default for k, p in spec.props.items()}, **(props or {})}),
               "style": clean_style({**spec.default_style, **(style or {})}), "hide_on": []}
    if spec.is_container:
        element["children"] = children or []
    return element


def empty_page() -> dict:
    return {"id": "root", "type": "page", "props": {}, "style": dict(PAGE.default_style), "hide_on": [],
            "children": [section_with([])]}


def section_with(elements: list[dict]) -> dict:
    """A section with one row and one column holding `elements`."""
    return new_element("section", children=[new_element("row", children=[new_element("columns", children=elements)])])


# ---- validation ---------------------------------------------------------------------------------------

def validate(tree) -> dict:
    """A clean copy of a posted tree, or ValidationError naming the first problem.

    Refused: an unknown type, a missing or unknown key, a bad prop, a duplicate id (which is also what a
    cycle looks like once serialised), an element where its parent may not hold it, nesting deeper than
    MAX_DEPTH, more than MAX_ELEMENTS elements.
    """
    if not isinstance(tree, dict) or tree.get("type") != "page":
        raise ValidationError("The page must be an object of type page.", field="tree")
    seen: set[str] = set()
    on_path: set[int] = set()
    return _validate_node(tree, None, 0, seen, on_path)


def _validate_node(node, parent_type: str | None, depth: int, seen: set, on_path: set) -> dict:
    if not isinstance(node, dict):
        raise ValidationError("Every element must be an object.", field="tree")
    if id(node) in on_path:  # only possible for trees built in Python, not parsed JSON
        raise ValidationError("An element contains itself.", field="tree")
    missing = {"id", "type"} - set(node)
    if missing:
        raise ValidationError(f"An element is missing its {' and '.join(sorted(missing))}.", field="tree")
    unknown = set(node) - ELEMENT_KEYS
    if unknown:
        raise ValidationError(f"An element has unknown keys: {', '.join(sorted(unknown))}.", field="tree")
    element_id, type_name = node["id"], node["type"]
    valid_id = isinstance(element_id, str) and (element_id == "root" if type_name == "page"
                                                 else ID_PATTERN.match(element_id))
    if not valid_id:
        raise ValidationError(f"The element id {str(element_id)[:40]!r} is not valid.", field="tree")
    if element_id in seen:
        raise ValidationError(f"The element {element_id} appears twice (or inside itself).", field=element_id)
    seen.add(element_id)
    if len(seen) > MAX_ELEMENTS:
        raise ValidationError(f"A page has at most {MAX_ELEMENTS:,} elements.", field="tree")
    if not isinstance(type_name, str):
        raise ValidationError("An element type must be text.", field=element_id)
    try:
        spec = element_type(type_name)
    except KeyError:
        raise ValidationError(f"There is no element type {type_name[:40]!r}.", field=element_id) from None
    if parent_type is None and type_name != "page" or parent_type is not None and type_name == "page":
        raise ValidationError("The page is the root of the tree, and only the root.", field=element_id)
    if parent_type is not None and type_name not in element_type(parent_type).children:
        raise ValidationError(f"A {element_type(parent_type).label.lower()} cannot hold a {spec.label.lower()}.",
                              field=element_id)
    if depth > MAX_DEPTH:
        raise ValidationError(f"Elements are nested more than {MAX_DEPTH} levels deep.", field=element_id)
    clean = {"id": element_id, "type": type_name,
             "props": clean_props(type_name, node.get("props") or {}, element_id),
             "style": clean_style(node.get("style"), element_id, spec.label.lower()),
             "hide_on": clean_hide_on(node.get("hide_on"), element_id)}
    children = node.get("children")
    if spec.is_container:
        if children is None:
            children = []
        if not isinstance(children, list):
            raise ValidationError(f"The children of {element_id} must be a list.", field=element_id)
        on_path.add(id(node))
        clean["children"] = [_validate_node(child, type_name, depth + 1, seen, on_path) for child in children]
        on_path.discard(id(node))
    elif children:
        raise ValidationError(f"A {spec.label.lower()} cannot hold other elements.", field=element_id)
    return clean


# ---- reading ------------------------------------------------------------------------------------------

def walk(tree: dict, parent: dict | None = None, depth: int = 0):
    """(element, parent, depth) for every element, parents first."""
    yield tree, parent, depth
    for child in tree.get("children") or []:
        yield from walk(child, tree, depth + 1)


def find(tree: dict, element_id: str) -> tuple[dict, dict | None]:
    """(element, parent), or ValidationError when there is no such element."""
    for element, parent, _ in walk(tree):
        if element["id"] == element_id:
            return element, parent
    raise ValidationError("That element is no longer on the page (reload to see the latest version).",
                          field="element_id")


def count(tree: dict) -> int:
    return sum(1 for _ in walk(tree)) - 1


def path(tree: dict, element_id: str) -> list[dict] | None:
    """The elements from the root down to `element_id`, or None when it is not in the tree."""
    if tree["id"] == element_id:
        return [tree]
    for child in tree.get("children") or []:
        found = path(child, element_id)
        if found is not None:
            return [tree] + found
    return None


def ancestors(tree: dict, element_id: str) -> list[dict]:
    """The chain from the root to the element's parent."""
    return (path(tree, element_id) or [None])[:-1]


def replace_at(chain: list[dict], element: dict) -> dict:
    """A new tree in which `element` takes the place of the last of `chain` (a root-to-element path): only
    its ancestors are new objects, the rest is shared with the old tree (which is left unchanged)."""
    for parent in reversed(chain[:-1]):
        element = {**parent, "children": [element if kid["id"] == element["id"] else kid for kid in parent["children"]]}
    return element


# ---- edits (each returns a new tree) ------------------------------------------------------------------

def insert(tree: dict, parent_id: str, index: int, element: dict) -> tuple[dict, str]:
    """Put `element` into the container `parent_id` at `index`. Content dropped where it may not go
    directly is wrapped: into a column in a row, or a section > row > column on the page.
    Returns (new tree, id of the container that changed)."""
    tree = clone(tree)
    parent, _ = find(tree, parent_id)
    element = _wrap_for(parent["type"], element)
    siblings = parent.setdefault("children", [])
    siblings.insert(_clamp(index, len(siblings)), element)
    return validate(tree), parent_id


def _wrap_for(parent_type: str, element: dict) -> dict:
    allowed = element_type(parent_type).children
    if not allowed:
        raise ValidationError(f"A {element_type(parent_type).label.lower()} cannot hold other elements.",
                              field="parent_id")
    if element["type"] in allowed:
        return element
    chain = {"page": ("section", "row", "columns"), "section": ("row", "columns"), "row": ("columns",)}.get(parent_type)
    if chain is None or element["type"] not in CONTENT + COMMERCE + FORM_TYPES + ("container", "row", "columns"):
        raise ValidationError(f"A {element_type(parent_type).label.lower()} cannot hold a "
                              f"{element_type(element['type']).label.lower()}.", field="parent_id")
    for wrapper in reversed(chain):
        if element["type"] in element_type(wrapper).children:
            element = new_element(wrapper, children=[element])
        elif element["type"] == wrapper:
            continue
    if element["type"] not in allowed:
        raise ValidationError(f"A {element_type(parent_type).label.lower()} cannot hold a "
                              f"{element_type(element['type']).label.lower()}.", field="parent_id")
    return element


def move(tree: dict, element_id: str, parent_id: str, index: int) -> tuple[dict, list[str]]:
    """Move an element into `parent_id` at `index` (index counted without the element itself).
    Returns (new tree, ids of the containers that changed)."""
    if element_id == "root":
        raise ValidationError("The page itself cannot move.", field="element_id")
    tree = clone(tree)
    element, old_parent = find(tree, element_id)
    if parent_id == element_id or any(node["id"] == element_id for node in ancestors(tree, parent_id)):
        raise ValidationError("An element cannot go inside itself.", field="parent_id")
    new_parent, _ = find(tree, parent_id)
    if element["type"] not in element_type(new_parent["type"]).children:
        raise ValidationError(f"A {element_type(new_parent['type']).label.lower()} cannot hold a "
                              f"{element_type(element['type']).label.lower()}.", field="parent_id")
    old_parent["children"].remove(element)
    siblings = new_parent.setdefault("children", [])
    siblings.insert(_clamp(index, len(siblings)), element)
    return validate(tree), list(dict.fromkeys([old_parent["id"], parent_id]))


def remove(tree: dict, element_id: str) -> tuple[dict, str]:
    if element_id == "root":
        raise ValidationError("The page itself cannot be deleted.", field="element_id")
    tree = clone(tree)
    element, parent = find(tree, element_id)
    parent["children"].remove(element)
    return tree, parent["id"]


def duplicate(tree: dict, element_id: str) -> tuple[dict, str, str]:
    """A copy (with new ids) right after the element. Returns (tree, parent id, the copy's id)."""
    if element_id == "root":
        raise ValidationError("The page itself cannot be duplicated.", field="element_id")
    tree = clone(tree)
    element, parent = find(tree, element_id)
    twin = with_new_ids(element)
    parent["children"].insert(parent["children"].index(element) + 1, twin)
    return validate(tree), parent["id"], twin["id"]


def shift(tree: dict, element_id: str, offset: int) -> tuple[dict, str]:
    """Move an element up (-1) or down (+1) among its siblings (the keyboard's move)."""
    tree = clone(tree)
    element, parent = find(tree, element_id)
    if parent is None:
        raise ValidationError("The page itself cannot move.", field="element_id")
    siblings = parent["children"]
    index = siblings.index(element)
    target = _clamp(index + offset, len(siblings) - 1)
    siblings.insert(target, siblings.pop(index))
    return tree, parent["id"]


def update(tree: dict, element_id: str, props: dict | None = None, style: dict | None = None,
           hide_on: list | None = None) -> dict:
    """Replace the given parts of one element (each cleaned); returns the new tree. Only the element and
    its ancestors are new objects: the rest is shared with the old tree (which is left unchanged)."""
    chain = path(tree, element_id)
    if chain is None:
        find(tree, element_id)  # raises the usual "no longer on the page"
    element = dict(chain[-1])
    label = element_type(element["type"]).label.lower()
    if props is not None:
        element["props"] = clean_props(element["type"], {**element.get("props", {}), **props}, element_id)
    if style is not None:
        element["style"] = clean_style(style, element_id, label)
    if hide_on is not None:
        element["hide_on"] = clean_hide_on(hide_on, element_id)
    return replace_at(chain, element)


def with_new_ids(element: dict) -> dict:
    twin = clone(element)
    for node, _, _ in walk(twin):
        node["id"] = new_id()
    return twin


def _clamp(index, length: int) -> int:
    try:
        index = int(index)
    except (TypeError, ValueError):
        raise ValidationError("The position must be a whole number.", field="index") from None
    return max(0, min(index, length))


# ---- the builder's "add" (a library tile dropped or chosen with the keyboard) ---------------------------

def starter_element(type_name: str) -> dict:
    """A new element ready to use: a section comes with a row and a column, a row with a column, a form
    with an e-mail field (so it passes the checks before publishing)."""
    if type_name == "section":
        return section_with([])
    if type_name == "row":
        return new_element("row", children=[new_element("columns")])
    if type_name == "form":
        return new_element("form", children=[new_element("input_field")])
    if type_name == "order_form":
        return new_element("order_form", children=[
            new_element("input_field", {"label": "E-mail", "maps_to": "email", "input_type": "email"}),
            new_element("input_field", {"label": "First name", "maps_to": "first_name", "input_type": "text"}),
            new_element("input_field", {"label": "Last name", "maps_to": "last_name", "input_type": "text",
                                        "required": False})])
    return new_element(type_name)


def insert_near(tree: dict, element: dict, after_id: str | None) -> tuple[dict, str]:
    """Put `element` right after `after_id`, or after the nearest ancestor of it that may be followed
    by such an element; with nothing selected, at the end of the last column (content) or of the page.
    Returns (new tree, id of the container that changed)."""
    if after_id and after_id != "root":
        selected, _ = find(tree, after_id)
        if element["type"] in element_type(selected["type"]).children:  # a column, container or form
            return insert(tree, after_id, len(selected.get("children") or []), element)
        inner = [node for node, _, _ in walk(selected) if element["type"] in element_type(node["type"]).children]
        if inner:  # a section or row: its last column
            return insert(tree, inner[-1]["id"], len(inner[-1].get("children") or []), element)
        chain = ancestors(tree, after_id)
        follow = after_id
        for parent in reversed(chain):
            if element["type"] in element_type(parent["type"]).children:
                index = [child["id"] for child in parent["children"]].index(follow) + 1
                return insert(tree, parent["id"], index, element)
            follow = parent["id"]
    if element["type"] in CONTENT + ("container", "form"):
        columns = [node for node, _, _ in walk(tree) if node["type"] == "columns"]
        if columns:
            return insert(tree, columns[-1]["id"], len(columns[-1].get("children") or []), element)
    return insert(tree, "root", len(tree.get("children") or []), element)
