"""Conventions of the JSON API: key auth, errors, lists, and the OpenAPI registry.

Errors:  {"error": {"code": "...", "message": "...", "fields": {"field": "message"}}}
Lists:   {"items": [...], "page": 1, "page_size": 20, "total": 57}; `page`, `page_size` (max 100), `q`.
Create:  201 with the object, its "id" included.

Every route is declared with `@api_route(...)`, which registers the view and its OpenAPI operation,
so the document (/api/v1/openapi.json) cannot forget a route.
"""
from functools import wraps

from flask import g, jsonify, request
from werkzeug.exceptions import HTTPException

from app.auth import services as auth_services
from app.core.errors import ServiceError
from app.core.pagination import Page, PageParamError, parse_page_args, paginate
from app.core.roles import role_at_least
from app.core.tenancy import set_current

OPERATIONS: dict[str, dict[str, dict]] = {}  # OpenAPI path -> method -> operation
PUBLIC_ENDPOINTS: set[str] = set()

ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 410: "gone", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_failed", 429: "rate_limited",
               500: "internal_error"}


def error_response(status: int, message: str, fields: dict | None = None, code: str | None = None):
    body = {"error": {"code": code or ERROR_CODES.get(status, "error"), "message": message, "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="leadforge"'
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
        return error_response(error.code or 500, error.description or error.name)
    raise error


def authenticate_request() -> None:
    """before_request of the API: resolve the Bearer key to an account, membership and user."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
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
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "Send a JSON object in the body with Content-Type: application/json.")
    return data


def list_response(query, serialize, search=None) -> dict:
    """Paginate a SELECT by the request's page/page_size (strict) and optional `q`."""
    page, page_size = parse_page_args(request.args, strict=True)
    q = (request.args.get("q") or "").strip()
    if len(q) > 200:
        raise ApiError(400, "q has at most 200 characters.", {"q": "At most 200 characters."})
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
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
            {"name": "page_size", "in": "query",
             "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
            {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200},
             "description": "Search text."},
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
