"""Funnel routes of the JSON API: funnels (list, create, get, change, delete, clone), their steps (add,
change, delete, reorder) and versions (list, get, restore).

Reading needs the viewer role, writing the user role. Another workspace's ids, and deleted funnels, are
simply not found (404). A slug or domain that another funnel (or step) uses, or that the site reserves, is a
409 naming the field; a body of the wrong shape is a 422 naming the fields.
"""
from flask import jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.api.base import (
    MAX_Q_LENGTH,
    NO_NUL,
    NOT_BLANK,
    ApiError,
    api_route,
    check_types,
    id_or_none,
    iso,
    json_body,
    list_response,
    query_filters,
    query_param,
)
from app.api.openapi import SCHEMAS, error_response, json_response, list_of, ref
from app.core.db import like_pattern
from app.core.pagination import paginate, parse_page_args
from app.core.tenancy import current_account, current_actor
from app.core.validation import uuid_or_none
from app.extensions import db
from app.funnels import publishing, services, versions
from app.funnels.models import FUNNEL_STATUSES, FUNNEL_TYPES, STEP_TYPES, Funnel, FunnelStep, FunnelVersion

TAG = "Funnels"
# A slug is normalised (spaces, capitals, accents); it needs at least one letter a-z or digit to keep.
SLUG = {"type": "string", "maxLength": 120, "pattern": "^([^\\u0000]*[A-Za-z0-9][^\\u0000]*)?$",
        "description": "Lower-case letters, digits and dashes; anything else is normalised (\"My Offer\" → "
                       "my-offer, \"Été\" → ete). Empty or absent: made from the name."}
DOMAIN = {"type": ["string", "null"], "maxLength": 253,
          "pattern": "^((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63})?$",
          "description": "A domain of yours (e.g. offers.example.com) whose DNS points at the site; null or \"\" "
                         "removes it."}
UUID = {"type": "string", "format": "uuid"}
NULLABLE_STRING = {"type": ["string", "null"]}
DATETIME = {"type": "string", "format": "date-time"}
FUNNEL_FIELDS = {
    "name": {"type": "string", "maxLength": 120, "pattern": NOT_BLANK},
    "funnel_type": {"type": "string", "enum": list(FUNNEL_TYPES)},
    "slug": SLUG,
    "description": {"type": "string", "maxLength": 2000, "pattern": NO_NUL},
    "custom_domain": DOMAIN,
}
STEP_FIELDS = {
    "name": {"type": "string", "maxLength": 120, "pattern": NOT_BLANK},
    "step_type": {"type": "string", "enum": list(STEP_TYPES)},
    "slug": SLUG,
}
STEP = {"type": "object", "required": ["id", "name", "slug", "step_type", "position", "page_id", "published",
                                       "public_url"],
        "properties": {"id": UUID, "name": {"type": "string"}, "slug": {"type": "string"},
                       "step_type": {"type": "string", "enum": list(STEP_TYPES)}, "position": {"type": "integer"},
                       "page_id": {"type": ["string", "null"], "format": "uuid"}, "published": {"type": "boolean"},
                       "public_url": {"type": "string"}}}
FUNNEL_SUMMARY_PROPS = {
    "id": UUID, "name": {"type": "string"}, "funnel_type": {"type": "string", "enum": list(FUNNEL_TYPES)},
    "status": {"type": "string", "enum": list(FUNNEL_STATUSES)}, "slug": {"type": "string"},
    "custom_domain": NULLABLE_STRING, "description": {"type": "string"}, "public_url": {"type": "string"},
    "step_count": {"type": "integer"}, "published_at": {"type": ["string", "null"], "format": "date-time"},
    "created_at": DATETIME, "updated_at": DATETIME}
SUMMARY_REQUIRED = ["id", "name", "funnel_type", "status", "slug", "custom_domain", "public_url", "step_count",
                    "created_at", "updated_at"]
VERSION_PROPS = {
    "id": UUID, "number": {"type": "integer"}, "kind": {"type": "string", "enum": ["funnel", "page"]},
    "summary": {"type": "string"}, "page_id": {"type": ["string", "null"], "format": "uuid"},
    "step_name": NULLABLE_STRING,
    "created_by": {"type": ["object", "null"], "properties": {"id": UUID, "name": {"type": "string"}}},
    "created_at": DATETIME}

SCHEMAS.update({
    "FunnelStep": STEP,
    "FunnelSummary": {"type": "object", "required": SUMMARY_REQUIRED, "properties": FUNNEL_SUMMARY_PROPS},
    "Funnel": {"type": "object", "required": SUMMARY_REQUIRED + ["steps"],
               "properties": {**FUNNEL_SUMMARY_PROPS,
                              "steps": {"type": "array", "items": {"$ref": "#/components/schemas/FunnelStep"}}}},
    "FunnelList": list_of("#/components/schemas/FunnelSummary"),
    "FunnelCreate": {"type": "object", "required": ["name"], "properties": FUNNEL_FIELDS,
                     "description": "A draft funnel with an opt-in page and a thank-you page."},
    "FunnelUpdate": {"type": "object", "properties": FUNNEL_FIELDS, "description": "Only the fields sent change."},
    "FunnelStepCreate": {"type": "object", "required": ["name"], "properties": STEP_FIELDS,
                         "description": "Added at the end of the funnel, with an empty page."},
    "FunnelStepUpdate": {"type": "object", "properties": STEP_FIELDS, "description": "Only the fields sent change."},
    "FunnelStepOrder": {"type": "object", "required": ["step_ids"], "properties": {
        "step_ids": {"type": "array", "maxItems": 200, "items": UUID,
                     "description": "Every step of the funnel once, in the new order."}}},
    "FunnelVersion": {"type": "object", "required": ["id", "number", "kind", "summary", "created_at"],
                      "properties": VERSION_PROPS},
    "FunnelVersionDetail": {"type": "object", "required": ["id", "number", "kind", "summary", "created_at", "snapshot"],
                            "properties": {**VERSION_PROPS, "snapshot": {
                                "type": "object", "description": "kind funnel: {funnel, steps (with their pages)}; "
                                                                 "kind page: the page's title, SEO fields and tree."}}},
    "FunnelVersionList": list_of("#/components/schemas/FunnelVersion"),
})


NOT_FOUND = error_response("No such funnel (or step, or version of it) in the key's workspace.")
TAKEN = error_response("The slug or domain is taken or reserved; `fields` names it.")
FUNNEL_TYPES_SPEC = {"name": "string", "funnel_type": "string", "slug": "string", "description": "string",
                     "custom_domain": "text"}
STEP_TYPES_SPEC = {"name": "string", "step_type": "string", "slug": "string"}


# ---- serialization ------------------------------------------------------------------------------------

def step_json(step: FunnelStep) -> dict:
    page = step.page
    return {"id": str(step.id), "name": step.name, "slug": step.slug, "step_type": step.step_type,
            "position": step.position, "page_id": id_or_none(page.id if page else None),
            "published": bool(page is not None and page.is_published), "public_url": publishing.public_url(step)}


def funnel_summary_json(funnel: Funnel, step_count: int) -> dict:
    return {"id": str(funnel.id), "name": funnel.name, "funnel_type": funnel.funnel_type, "status": funnel.status,
            "slug": funnel.slug, "custom_domain": funnel.custom_domain, "description": funnel.description,
            "public_url": publishing.funnel_address(funnel), "step_count": step_count,
            "published_at": iso(funnel.published_at),
            "created_at": iso(funnel.created_at), "updated_at": iso(funnel.updated_at)}


def funnel_json(funnel: Funnel) -> dict:
    steps = db.session.execute(select(FunnelStep).where(FunnelStep.funnel_id == funnel.id)
                               .options(selectinload(FunnelStep.page)).order_by(FunnelStep.position)).scalars().all()
    return {**funnel_summary_json(funnel, len(steps)), "steps": [step_json(step) for step in steps]}


def version_json(version: FunnelVersion, with_snapshot: bool = False) -> dict:
    user = version.created_by
    data = {"id": str(version.id), "number": version.number, "kind": version.kind, "summary": version.summary,
            "page_id": id_or_none(version.page_id), "step_name": versions.version_step_name(version),
            "created_by": {"id": str(user.id), "name": user.display_name} if user else None,
            "created_at": iso(version.created_at)}
    if with_snapshot:
        data["snapshot"] = version.snapshot or {}
    return data


# ---- body checks --------------------------------------------------------------------------------------

def _body(spec: dict) -> dict:
    data = json_body()
    check_types(data, spec)
    return {name: data[name] for name in spec if name in data}


def _live_funnel(funnel_id) -> Funnel:
    return services.get_funnel(current_account(), funnel_id)


def _step_of(funnel: Funnel, step_id) -> FunnelStep:
    return services.get_step(current_account(), funnel, step_id)


# ---- funnels ------------------------------------------------------------------------------------------

@api_route("/funnels", summary="List funnels (search names and slugs with q), most recently edited first",
           paginated=True, tag=TAG,
           params=[query_param("status", {"type": "string", "enum": list(FUNNEL_STATUSES)},
                               "Funnels with this status."),
                   query_param("funnel_type", {"type": "string", "enum": list(FUNNEL_TYPES)}, "Funnels of this type.")],
           responses={200: json_response("A page of funnels.", "FunnelList")})
def list_funnels():
    filters = query_filters({"status": FUNNEL_STATUSES, "funnel_type": tuple(FUNNEL_TYPES)})
    page, page_size = parse_page_args(request.args, strict=True)
    q = (request.args.get("q") or "").strip()
    if len(q) > MAX_Q_LENGTH or "\x00" in q:
        message = f"q has at most {MAX_Q_LENGTH} characters and no NUL characters."
        raise ApiError(400, message, {"q": message})
    result = paginate(services.filtered(current_account(), {**filters, "q": q}), page, page_size, scalars=False)
    return jsonify({"items": [funnel_summary_json(funnel, count) for funnel, count in result.items],
                    "page": result.page, "page_size": result.page_size, "total": result.total})


@api_route("/funnels", methods=("POST",), summary="Create a funnel", role="user", tag=TAG,
           body=ref("FunnelCreate"), responses={201: json_response("The funnel with its steps.", "Funnel"), 409: TAKEN})
def create_funnel():
    data = _body(FUNNEL_TYPES_SPEC)
    funnel = services.create_funnel(current_account(), data, current_actor())
    return jsonify(funnel_json(funnel)), 201


@api_route("/funnels/<uuid:funnel_id>", summary="Get a funnel with its steps", tag=TAG,
           responses={200: json_response("The funnel with its steps.", "Funnel"), 404: NOT_FOUND})
def get_funnel(funnel_id):
    return jsonify(funnel_json(_live_funnel(funnel_id)))


@api_route("/funnels/<uuid:funnel_id>", methods=("PATCH",), summary="Change a funnel's settings", role="user",
           tag=TAG, body=ref("FunnelUpdate"),
           responses={200: json_response("The funnel with its steps.", "Funnel"), 404: NOT_FOUND, 409: TAKEN})
def update_funnel(funnel_id):
    funnel = _live_funnel(funnel_id)
    data = _body(FUNNEL_TYPES_SPEC)
    services.update_funnel(current_account(), funnel, data, current_actor())
    return jsonify(funnel_json(funnel))


@api_route("/funnels/<uuid:funnel_id>", methods=("DELETE",),
           summary="Delete a funnel (its pages go offline and its slug is free again)", role="user", tag=TAG,
           responses={204: {"description": "Deleted."}, 404: NOT_FOUND})
def delete_funnel(funnel_id):
    services.soft_delete(current_account(), _live_funnel(funnel_id), current_actor())
    return "", 204


@api_route("/funnels/<uuid:funnel_id>/clone", methods=("POST",),
           summary="Clone a funnel: a draft copy of its steps and pages at a new slug", role="user", tag=TAG,
           responses={201: json_response("The copy.", "Funnel"), 404: NOT_FOUND})
def clone_funnel(funnel_id):
    copy = services.clone(current_account(), _live_funnel(funnel_id), current_actor())
    return jsonify(funnel_json(copy)), 201


# ---- steps --------------------------------------------------------------------------------------------

@api_route("/funnels/<uuid:funnel_id>/steps", methods=("POST",), summary="Add a step at the end of a funnel",
           role="user", tag=TAG, body=ref("FunnelStepCreate"),
           responses={201: json_response("The step.", "FunnelStep"), 404: NOT_FOUND, 409: TAKEN})
def add_step(funnel_id):
    funnel = _live_funnel(funnel_id)
    data = _body(STEP_TYPES_SPEC)
    step = services.add_step(current_account(), funnel, data, current_actor())
    return jsonify(step_json(step)), 201


@api_route("/funnels/<uuid:funnel_id>/steps/<uuid:step_id>", methods=("PATCH",),
           summary="Rename or change a step (name, type, slug)", role="user", tag=TAG, body=ref("FunnelStepUpdate"),
           responses={200: json_response("The step.", "FunnelStep"), 404: NOT_FOUND, 409: TAKEN})
def update_step(funnel_id, step_id):
    funnel = _live_funnel(funnel_id)
    step = _step_of(funnel, step_id)
    data = _body(STEP_TYPES_SPEC)
    services.update_step(current_account(), funnel, step, data, current_actor())
    db.session.refresh(step)
    return jsonify(step_json(step))


@api_route("/funnels/<uuid:funnel_id>/steps/<uuid:step_id>", methods=("DELETE",),
           summary="Delete a step and its page (never the last step)", role="user", tag=TAG,
           responses={204: {"description": "Deleted."}, 404: NOT_FOUND,
                      409: error_response("This is the funnel's last step.")})
def delete_step(funnel_id, step_id):
    funnel = _live_funnel(funnel_id)
    services.delete_step(current_account(), funnel, _step_of(funnel, step_id), current_actor())
    return "", 204


@api_route("/funnels/<uuid:funnel_id>/steps/reorder", methods=("POST",), summary="Put a funnel's steps in a new order",
           role="user", tag=TAG, body=ref("FunnelStepOrder"),
           responses={200: json_response("The funnel with its steps in the new order.", "Funnel"), 404: NOT_FOUND,
                      409: error_response("The ids are not the funnel's steps, each once (nothing changed).")})
def reorder_steps(funnel_id):
    funnel = _live_funnel(funnel_id)
    ids = json_body().get("step_ids")
    if not isinstance(ids, list) or len(ids) > 200 or not all(isinstance(value, str) for value in ids):
        raise ApiError(422, "step_ids must be an array of step ids.", {"step_ids": "Must be an array of step ids."})
    wanted = [str(uuid_or_none(value) or "") for value in ids]
    if "" in wanted:
        raise ApiError(422, "step_ids must be step ids (UUIDs).", {"step_ids": "Must be step ids (UUIDs)."})
    services.reorder_steps(current_account(), funnel, wanted, current_actor())
    return jsonify(funnel_json(funnel))


# ---- versions -----------------------------------------------------------------------------------------

@api_route("/funnels/<uuid:funnel_id>/versions", summary="List a funnel's versions, newest first", paginated=True,
           tag=TAG, responses={200: json_response("A page of versions.", "FunnelVersionList"), 404: NOT_FOUND})
def list_versions(funnel_id):
    funnel = _live_funnel(funnel_id)
    query = versions.versions_query(funnel)
    return jsonify(list_response(query, version_json,
                                 lambda query, q: query.where(func.lower(FunnelVersion.summary).like(
                                     like_pattern(q), escape="\\"))))


@api_route("/funnels/<uuid:funnel_id>/versions/<uuid:version_id>", summary="Get a version with its snapshot", tag=TAG,
           responses={200: json_response("The version.", "FunnelVersionDetail"), 404: NOT_FOUND})
def get_version(funnel_id, version_id):
    funnel = _live_funnel(funnel_id)
    return jsonify(version_json(versions.get_version(current_account(), funnel, version_id), with_snapshot=True))


@api_route("/funnels/<uuid:funnel_id>/versions/<uuid:version_id>/restore", methods=("POST",),
           summary="Restore a version (a page's content, or the whole funnel); the restore is a new version",
           role="user", tag=TAG,
           responses={200: json_response("The new version the restore made.", "FunnelVersion"), 404: NOT_FOUND,
                      409: error_response("The page of this version was deleted since.")})
def restore_version(funnel_id, version_id):
    funnel = _live_funnel(funnel_id)
    found = versions.get_version(current_account(), funnel, version_id)
    restored = versions.restore_version(current_account(), funnel, found, current_actor())
    return jsonify(version_json(restored))
