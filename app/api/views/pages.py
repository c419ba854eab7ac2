"""Page routes of the JSON API: a page's element tree (read, replace, validate) and the element library.

A tree is the same JSON document the builder edits (see app/pages/elements.py). Replacing it checks the
whole tree first: an unknown type, a missing or unknown key, a duplicate id (a cycle), an element where
it may not go or nesting deeper than allowed is a 422 naming the element, and nothing is saved. Send the
`revision` you read to be refused (409) when the page changed since; each save is undoable in the
builder and makes a page version.
"""
from flask import jsonify

from app.api.base import ApiError, api_route, json_body
from app.api.openapi import SCHEMAS, error_response, json_response, ref
from app.builder import services
from app.core.errors import ValidationError
from app.core.tenancy import current_account, current_actor
from app.pages import history
from app.pages import tree as trees
from app.pages.elements import GROUPS, STYLE, TYPES

TAG = "Pages"


NOT_FOUND = error_response("No such page in the key's workspace (or its funnel was deleted).")
REFUSED = error_response("The tree is not valid: `message` says why and `fields` names the element; nothing was saved.")
TREE = {"type": "object", "description": "The element tree: {id: \"root\", type: \"page\", props, style, hide_on, "
                                         "children: [sections...]}; see GET /elements for the types."}

SCHEMAS.update({
    "PageTree": {"type": "object", "required": ["id", "funnel_id", "step_id", "title", "revision", "tree", "published",
                                                "can_undo", "can_redo"],
                 "properties": {"id": {"type": "string", "format": "uuid"},
                                "funnel_id": {"type": "string", "format": "uuid"},
                                "step_id": {"type": "string", "format": "uuid"}, "title": {"type": "string"},
                                "revision": {"type": "integer"}, "tree": TREE, "published": {"type": "boolean"},
                                "can_undo": {"type": "boolean"}, "can_redo": {"type": "boolean"}}},
    "PageTreeUpdate": {"type": "object", "required": ["tree"], "properties": {
        "tree": TREE, "revision": {"type": ["integer", "null"],
                                   "description": "The revision you read; a 409 when the page changed since."}}},
    "PageTreeCheck": {"type": "object", "required": ["tree"], "properties": {"tree": TREE}},
    "PageTreeValid": {"type": "object", "required": ["valid", "element_count", "error"], "properties": {
        "valid": {"type": "boolean"}, "element_count": {"type": ["integer", "null"]},
        "error": {"type": ["object", "null"], "description": "Why the tree is refused: {message, fields}."}}},
    "ElementLibrary": {"type": "object", "required": ["types", "style"], "properties": {
        "types": {"type": "array", "items": {"type": "object"}}, "style": {"type": "object"}}},
})


def _page(page_id):
    return services.get_page(current_account(), page_id)


def page_json(page) -> dict:
    return {"id": str(page.id), "funnel_id": str(page.funnel_id), "step_id": str(page.step_id), "title": page.title,
            "revision": page.revision, "tree": page.tree, "published": page.is_published,
            "can_undo": bool(page.history), "can_redo": bool(page.future)}


def _tree_of(data: dict) -> dict:
    if "tree" not in data:
        raise ApiError(422, "Send the page's element tree as `tree`.", {"tree": "Required."})
    return trees.validate(data["tree"])


@api_route("/pages/<uuid:page_id>", summary="Get a page's element tree and revision", tag=TAG,
           responses={200: json_response("The page.", "PageTree"), 404: NOT_FOUND})
def get_page_tree(page_id):
    return jsonify(page_json(_page(page_id)))


@api_route("/pages/<uuid:page_id>/tree", methods=("PUT",), summary="Replace a page's element tree (validated first)",
           role="user", tag=TAG, body=ref("PageTreeUpdate"),
           responses={200: json_response("The page, saved.", "PageTree"), 404: NOT_FOUND, 422: REFUSED,
                      409: error_response("The page changed since the `revision` you sent.")})
def put_page_tree(page_id):
    page = _page(page_id)
    data = json_body()
    revision = data.get("revision")
    if revision is not None and (isinstance(revision, bool) or not isinstance(revision, int)):
        raise ApiError(422, "The revision must be a whole number.", {"revision": "Must be an integer."})
    history.check_revision(page, revision)  # a 409 before the tree is even read
    tree = _tree_of(data)
    services.save_tree(current_account(), page, tree, actor=current_actor(), summary="Replaced the page (API)",
                       revision=revision, validated=True)
    return jsonify(page_json(page))


@api_route("/pages/<uuid:page_id>/validate", methods=("POST",), summary="Check an element tree without saving it",
           tag=TAG, body=ref("PageTreeCheck"),
           responses={200: json_response("The verdict: valid, or the reason it would be refused.", "PageTreeValid"),
                      404: NOT_FOUND, 422: error_response("No `tree` in the body.")})
def validate_page_tree(page_id):
    """The same checks as saving; the verdict is the answer (200), so nothing is an error here."""
    _page(page_id)
    try:
        tree = _tree_of(json_body())
    except ValidationError as error:
        return jsonify({"valid": False, "element_count": None,
                        "error": {"message": error.message, "fields": error.fields}})
    return jsonify({"valid": True, "element_count": trees.count(tree), "error": None})


@api_route("/elements", summary="The element types of the page builder, their properties and style keys", tag=TAG,
           responses={200: json_response("The library.", "ElementLibrary")})
def element_library():
    return jsonify({"types": [_type_json(spec) for spec in TYPES.values()],
                    "style": {key: _prop_json(prop) for key, prop in STYLE.items()}})


def _type_json(spec) -> dict:
    return {"type": spec.name, "label": spec.label, "group": spec.group, "group_label": GROUPS[spec.group],
            "description": spec.description, "children": list(spec.children),
            "props": {key: _prop_json(prop) for key, prop in spec.props.items()},
            "default_style": spec.default_style}


def _prop_json(prop) -> dict:
    data = {"kind": prop.kind, "label": prop.label, "default": prop.default, "required": prop.required}
    if prop.kind in ("text", "list", "rich"):
        data["max_length"] = prop.max_length
    if prop.kind == "choice":
        data["choices"] = list(prop.choices)
    if prop.kind == "int":
        data["minimum"], data["maximum"] = prop.minimum, prop.maximum
    if prop.kind in ("list", "items"):
        data["max_items"] = prop.max_items
    if prop.item:
        data["item"] = {key: _prop_json(sub) for key, sub in prop.item.items()}
    if prop.help:
        data["help"] = prop.help
    return data
