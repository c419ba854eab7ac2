"""Conventions of the JSON API: key auth, errors, lists, and the OpenAPI registry.

Errors:  {"error": {"code": "...", "message": "...", "fields": {"field": "message"}}}
Lists:   {"items": [...], "page": 1, "page_size": 20, "total": 57}; `page` (max 1,000,000), `page_size`
         (max 100), `q` (max 200 characters, matched literally); anything else is a 400 naming the field.
Bodies:  `json_body()` (a JSON object or 400), `body_strings()` (wrong types are a 422 naming the fields).
Create:  201 with the object, its "id" included.

Every route is declared with `@api_route(...)`, which registers the view and its OpenAPI operation,
so the document (/api/v1/openapi.json) cannot forget a route.
"""
from functools import wraps

from flask import g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.auth import services as auth_services
from app.core.errors import ServiceError
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

OPERATIONS: dict[str, dict[str, dict]] = {}  # OpenAPI path -> method -> operation
PUBLIC_ENDPOINTS: set[str] = set()
MAX_Q_LENGTH = 200

ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 410: "gone", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_failed", 429: "rate_limited",
               500: "internal_error"}


def error_response(status: int, message: str, fields: dict | None = None, code: str | None = None,
                   allow: list[str] | None = None):
    body = {"error": {"code": code or ERROR_CODES.get(status, "error"), "message": message, "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="leadforge"'
    if status == 405:
        # A 405 names the methods the URL does accept (RFC 9110); routing puts them on the exception.
        routing = getattr(request, "routing_exception", None)
        if allow is None and isinstance(routing, MethodNotAllowed):
            allow = routing.valid_methods
        if allow:
            response.headers["Allow"] = ", ".join(sorted(allow))
    return response


class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


def handle_error(error):
    """Every error under /api/v1 is JSON with a reason, never an HTML page."""
    if isinstance(error, ApiError):
        return error_response(error.status, error.message, error.fields)
    if isinstance(error, ServiceError):
        return error_response(error.status, error.message, error.fields, error.code)
    if isinstance(error, PageParamError):
        return error_response(400, str(error), {error.field: str(error)})
    if isinstance(error, HTTPException):
        allow = error.valid_methods if isinstance(error, MethodNotAllowed) else None
        return error_response(error.code or 500, error.description or error.name, allow=allow)
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
