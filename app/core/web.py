"""Request plumbing shared by every blueprint: full page or fragment, request ids, safe redirects."""
import re
import uuid
from urllib.parse import urlsplit

from flask import g, jsonify, make_response, render_template, request
from flask.typing import ResponseReturnValue
from jinja2_fragments.flask import render_block
from werkzeug.exceptions import MethodNotAllowed

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"  # for addresses whose bytes never change
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 410: "gone", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_failed", 429: "rate_limited",
               500: "internal_error"}


def wants_fragment() -> bool:
    """A fragment only for an htmx request that is neither boosted nor a history restore."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(template: str, block: str | None = None, status: int = 200, **context) -> ResponseReturnValue:
    """Render the whole page, or only `block` of the same template for an htmx swap."""
    if block and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    return body, status, {"Vary": "HX-Request"}


def assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex


def refuse_nul_characters() -> None:
    """A NUL in a query or form value is never meant; PostgreSQL rejects it in text (400, not 500)."""
    from flask import abort

    if request.path.startswith("/api/"):
        return  # the JSON API names the offending field itself
    values = list(request.args.values())
    if request.mimetype == "application/x-www-form-urlencoded":  # not uploads: they set their own size limit
        values += list(request.form.values())
    if any("\x00" in value for value in values):
        abort(400, description="The request contains a NUL character, which no field accepts.")


def safe_next_url(target: str | None, fallback: str) -> str:
    """Only same-site relative paths may be redirect targets (no open redirects)."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


def redirect_to(location: str, code: int = 303):
    """Post/Redirect/Get that also works for an htmx swap: htmx navigates (HX-Location) instead of
    swapping the redirected page into the small target."""
    from flask import redirect

    if wants_fragment():
        import json

        response = redirect(location, code)
        response.status_code = 200
        # The follow-up GET says it is a navigation (HX-Boosted), so it gets the whole page, not a block.
        response.headers["HX-Location"] = json.dumps(
            {"path": location, "target": "body", "headers": {"HX-Boosted": "true"}})
        response.set_data("")
        return response
    return redirect(location, code)


def json_error(status: int, message: str, fields: dict | None = None, code: str | None = None,
               allow: list[str] | None = None):
    """The one JSON error body of the app (the API, the builder's edits, uploads answering JSON):
    {"error": {"code", "message", "fields"}}, with the headers its status calls for."""
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


def file_response(data: bytes, content_type: str, etag: str, cache_control: str):
    """A stored file's bytes as they are (an uploaded image, the site's script): its own content type,
    which the browser must not second-guess, never run as a page (a sandboxing CSP), its ETag (a 304
    for a matching If-None-Match) and the caching given."""
    response = make_response(data)
    response.headers["Content-Type"] = content_type
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = cache_control
    response.headers["Content-Disposition"] = "inline"
    response.set_etag(etag)
    return response.make_conditional(request)
