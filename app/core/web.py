"""Request plumbing shared by every blueprint: full page or fragment, request ids, safe redirects."""
import re
import uuid
from urllib.parse import urlsplit

from flask import g, render_template, request
from flask.typing import ResponseReturnValue
from jinja2_fragments.flask import render_block

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


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
