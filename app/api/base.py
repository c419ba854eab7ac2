"""Conventions of the JSON API: key auth, errors, lists, and the OpenAPI registry.

Errors:  {"error": {"code": "...", "message": "...", "fields": {"field": "message"}}}
Lists:   {"items": [...], "page": 1, "page_size": 20, "total": 57}; `page` (max 1,000,000), `page_size`
         (max 100), `q` (max 200 characters, matched literally); anything else is a 400 naming the field.
Bodies:  `json_body()` (a JSON object or 400), `body_strings()` (wrong types are a 422 naming the fields).
Create:  201 with the object, its "id" included.

Every route is declared with `@api_route(...)`, which registers the view and its OpenAPI operation,
so the document (/api/v1/openapi.json) cannot forget a route.
"""
from datetime import date
from functools import wraps

from flask import g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.auth import services as auth_services
from app.core.errors import ServiceError, ValidationError
from app.core.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    Page,
    PageParamError,
    paginate,
    parse_page_args,
)
from app.core.roles import role_at_least
from app.core.tenancy import set_current
from app.core.validation import text_value, uuid_or_none
from app.core.web import json_error

OPERATIONS: dict[str, dict[str, dict]] = {}  # OpenAPI path -> method -> operation
PUBLIC_ENDPOINTS: set[str] = set()
BODIES: dict[str, dict] = {}  # endpoint -> the schema of its request body
MAX_Q_LENGTH = 200
NO_NUL = "^[^\\u0000]*$"  # JSON-schema patterns of strings: no NUL character,
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"  # ... and something besides spaces,
BLANK = "^\\s*$"  # ... or only spaces
STORED_DATE_PATTERN = "^(19|20|21)[0-9]{2}-"  # dates that are stored: years 1900-2199 (app/core/dates.py)

class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


def handle_error(error):
    """Every error under /api/v1 is JSON with a reason, never an HTML page."""
    if isinstance(error, ApiError):
        return json_error(error.status, error.message, error.fields)
    if isinstance(error, ServiceError):
        return json_error(error.status, error.message, error.fields, error.code)
    if isinstance(error, PageParamError):
        return json_error(400, str(error), {error.field: str(error)})
    if isinstance(error, HTTPException):
        allow = error.valid_methods if isinstance(error, MethodNotAllowed) else None
        return json_error(error.code or 500, error.description or error.name, allow=allow)
    raise error  # the app's handler logs it and answers a JSON 500 (tests see the exception itself)


def authenticate_request() -> None:
    """before_request of the API: resolve the Bearer key to an account, membership and user."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None or request.method == "OPTIONS":
        return None  # OPTIONS only lists the allowed methods
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "Send an API key as `Authorization: Bearer <key>`.")
    found = auth_services.api_key_for_secret(secret.strip())
    if found is None:
        raise ApiError(401, "This API key is not valid or has been revoked.")
    key, membership = found
    g.api_key = key
    set_current(membership.account, membership, key.user)
    return None


def require_role(minimum: str) -> None:
    if not role_at_least(g.membership.role, minimum):
        raise ApiError(403, f"This API key's user needs the {minimum} role or higher.")


def json_body() -> dict:
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes; not a ValueError, so not silenced
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, "Send a JSON object in the body with Content-Type: application/json.")
    if request.endpoint in BODIES:
        check_known(data, body_fields(BODIES[request.endpoint]))
    return data


def body_strings(data: dict, **defaults: str) -> dict[str, str]:
    """The named fields of a JSON body, each a string (its default when absent).

    Any other type (number, null, list...) is a 422 that names every such field."""
    values = {name: data.get(name, default) for name, default in defaults.items()}
    wrong = {name: "Must be a string." for name, value in values.items() if not isinstance(value, str)}
    if wrong:
        raise ApiError(422, f"{', '.join(wrong)} must be a string.", wrong)
    return values


def list_response(query, serialize, search=None) -> dict:
    """Paginate a SELECT by the request's page/page_size (strict) and optional `q`."""
    page, page_size = parse_page_args(request.args, strict=True)
    q = (request.args.get("q") or "").strip()
    if len(q) > MAX_Q_LENGTH:
        raise ApiError(400, f"q has at most {MAX_Q_LENGTH} characters.", {"q": f"At most {MAX_Q_LENGTH} characters."})
    if "\x00" in q:
        raise ApiError(400, "q cannot contain NUL characters.", {"q": "No NUL characters."})
    if q and search is not None:
        query = search(query, q)
    result: Page = paginate(query, page, page_size)
    return {"items": [serialize(item) for item in result.items], "page": result.page,
            "page_size": result.page_size, "total": result.total}


def api_route(rule: str, methods=("GET",), summary: str = "", public: bool = False, role: str = "viewer",
              params: list | None = None, body: dict | None = None, responses: dict | None = None,
              paginated: bool = False, tag: str = "General"):
    """Register an API view and its OpenAPI operation in one place."""
    from app.api import bp

    def decorator(view):
        endpoint = view.__name__

        @wraps(view)
        def wrapped(*args, **kwargs):
            if not public:
                require_role(role)
            return view(*args, **kwargs)

        bp.add_url_rule(rule, endpoint, wrapped, methods=list(methods))
        if body is not None:
            BODIES[f"{bp.name}.{endpoint}"] = body
        if public:
            PUBLIC_ENDPOINTS.add(f"{bp.name}.{endpoint}")
        path = "/api/v1" + _openapi_path(rule)
        for method in methods:
            OPERATIONS.setdefault(path, {})[method.lower()] = _operation(
                endpoint, method, summary or (view.__doc__ or "").strip().split("\n")[0], public, role,
                rule, params or [], body, responses or {}, paginated, tag)
        return wrapped

    return decorator


def _openapi_path(rule: str) -> str:
    import re

    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _operation(endpoint, method, summary, public, role, rule, params, body, responses, paginated, tag):
    import re

    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "string", "format": "uuid"} if conv == "uuid" else {"type": "string"}}
                  for conv, name in re.findall(r"<(?:([a-z]+):)?([a-z_]+)>", rule)]
    if paginated:
        parameters += [
            {"name": "page", "in": "query",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}},
            {"name": "page_size", "in": "query",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE}},
            {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": MAX_Q_LENGTH,
                                                    "pattern": "^[^\\u0000]*$"},
             "description": "Search text, matched literally (no NUL characters)."},
        ]
    parameters += params
    error_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    all_responses = {str(code): ({"description": desc, **error_ref} if code >= 400 else spec)
                     for code, (desc, spec) in _default_responses(public, paginated, body).items()}
    for code, spec in responses.items():
        all_responses[str(code)] = spec
    operation = {"operationId": endpoint, "summary": summary, "tags": [tag], "parameters": parameters,
                 "responses": all_responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if public:
        operation["security"] = []
    else:
        operation["description"] = f"Needs an API key whose user has the {role} role or higher."
    return operation


def _default_responses(public, paginated, body):
    defaults = {}
    if not public:
        defaults[401] = ("Missing, unknown or revoked API key.", None)
        defaults[403] = ("The key's user lacks the role.", None)
    if paginated or body is not None:
        defaults[400] = ("Bad query parameters or body.", None)
    if body is not None:
        defaults[422] = ("The body failed validation; `fields` says where.", None)
    defaults[429] = ("Too many requests.", None)
    return defaults


# ---- bodies: JSON types, unknown fields -------------------------------------------------------------

def _bad_string(value: str) -> str | None:
    if "\x00" in value:
        return "Must not contain NUL characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Must be valid Unicode text."
    return None


def _type_problem(data: dict, name: str, kind: str) -> str | None:
    value = data[name]
    if kind == "text" and value is not None and not isinstance(value, str):
        return "Must be a string or null."
    if kind == "string" and not isinstance(value, str):
        return "Must be a string."
    if kind == "integer":
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
            data[name] = value = int(value)  # 2000.0 is an integer in JSON
        if not isinstance(value, int) or isinstance(value, bool):
            return "Must be an integer (a whole number)."
    if kind == "values":
        if not isinstance(value, dict):
            return "Must be an object of values by key."
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                return "Each value must be a string, a number, true/false or null."
            message = _bad_string(key) or (_bad_string(item) if isinstance(item, str) else None)
            if message:
                return message
    if kind == "names":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "Must be an array of tag names (strings)."
        if len(value) > 50:
            return "At most 50 tags."
        message = next((m for m in (_bad_string(v) for v in value) if m), None)
        if message is None:
            try:
                for tag_name in value:
                    text_value({"tags": tag_name}, "tags", "tag name", 50, required=True)
            except ValidationError as error:
                return error.message
        return message
    return _bad_string(value) if isinstance(value, str) else None


def check_types(data: dict, spec: dict) -> None:
    """422 naming every field of `data` whose JSON type is not the one `spec` gives (absent fields are fine).

    Kinds: "text" (string or null), "string", "integer", "values" (object of strings, numbers, booleans, nulls),
    "names" (array of strings)."""
    errors = {name: message for name in spec if name in data
              for message in [_type_problem(data, name, spec[name])] if message}
    if errors:
        raise ApiError(422, f"Check {', '.join(sorted(errors))}.", errors)


def check_known(data: dict, known) -> None:
    """422 naming every field of the body that the operation does not take: a misspelt or guessed name
    (`value` for `value_cents`) is an error, never silently ignored. `json_body` checks every body declared
    with `api_route(body=...)` so, when the view reads it (after it has found the record: 404 first)."""
    unknown = sorted(name for name in data if name not in known)
    if unknown:
        raise ApiError(422, f"Unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.",
                       {name: "This field does not exist here." for name in unknown})


def body_fields(schema: dict) -> set[str]:
    """The fields a request body may have: the properties of its schema (a component, by reference)."""
    from app.api.openapi import SCHEMAS

    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return set(schema.get("properties") or {})


def read_body(spec: dict) -> dict:
    """The JSON body's fields named by `spec` ({name: kind}), their types checked."""
    data = json_body()
    check_types(data, spec)
    return {name: data[name] for name in spec if name in data}


# ---- query strings -----------------------------------------------------------------------------------

def query_param(name: str, schema: dict, description: str) -> dict:
    """The OpenAPI description of a query parameter."""
    return {"name": name, "in": "query", "schema": schema, "description": description}


FILTER_MESSAGES = {"uuid": "Must be an id (UUID).", "owner": "Must be a user id (UUID) or none.",
                   "date": "Must be a date like 2026-01-31."}


def query_filters(spec: dict) -> dict:
    """Query filters: {param: kind} with kinds "uuid", "owner" (uuid or none), "date", or a tuple of choices.
    A bad value is a 400 naming the parameter."""
    values, errors = {}, {}
    for name, kind in spec.items():
        raw = request.args.get(name)
        if raw in (None, ""):
            continue
        if "\x00" in raw or len(raw) > 200:
            errors[name] = "Not a valid value."
            continue
        if kind == "uuid" or (kind == "owner" and raw != "none"):
            valid = uuid_or_none(raw) is not None
        elif kind == "date":
            valid = _is_date(raw)
        else:
            valid = kind in ("text", "owner") or raw in kind
        if not valid:
            errors[name] = FILTER_MESSAGES.get(kind) or f"Use one of: {', '.join(kind)}."
            continue
        values[name] = raw
    if errors:
        raise ApiError(400, f"Bad filter: {', '.join(sorted(errors))}.", errors)
    return values


def _is_date(raw: str) -> bool:
    """Any calendar date bounds a filter (0001-01-01 and 9999-12-31 simply bound nothing); only dates
    that are stored are held to core.dates' range."""
    try:
        date.fromisoformat(raw)
    except ValueError:
        return False
    return True


# ---- serialization ---------------------------------------------------------------------------------

def iso(value):
    return value.isoformat() if value is not None else None


def id_or_none(value):
    return str(value) if value is not None else None
