"""A funnel's versions: the list, one version (its steps, a preview of its pages) and restoring one.

Viewers read everything; users restore. Another account's funnel or version, or a version of another
funnel, is a 404."""
from flask import abort, current_app, flash, make_response, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from app.core.forms import refusal
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account
from app.core.web import redirect_to, render
from app.funnels import bp, previews, services, versions
from app.funnels.models import Funnel, FunnelVersion
from app.pages.render import site_stylesheet

# The version preview is a document of its own shown in a sandboxed frame of the versions page.
PREVIEW_CSP = ("default-src 'none'; img-src 'self' data: https: http:; media-src 'self' https: http:; "
               "style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
               "frame-src https://www.youtube-nocookie.com https://player.vimeo.com; "
               "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


def _funnel(funnel_id) -> Funnel:
    return services.get_funnel(current_account(), funnel_id)


@bp.route("/funnels/<uuid:funnel_id>/versions", endpoint="versions")
@role_required("viewer")
def version_list(funnel_id):
    funnel = _funnel(funnel_id)
    page = paginate(versions.versions_query(funnel), *parse_page_args(request.args))
    return render("funnels/versions.html", block="results", funnel=funnel, page=page,
                  latest=versions.latest_number(funnel))


@bp.route("/funnels/<uuid:funnel_id>/versions/<uuid:version_id>")
@role_required("viewer")
def version(funnel_id, version_id):
    funnel = _funnel(funnel_id)
    found = versions.get_version(current_account(), funnel, version_id)
    return render("funnels/version.html", **_version_context(funnel, found))


def _version_context(funnel: Funnel, found: FunnelVersion, **extra) -> dict:
    snapshot = found.snapshot or {}
    steps = [step for step in snapshot.get("steps") or [] if isinstance(step, dict)] if found.kind == "funnel" else []
    shown = _int_arg("step", 0, len(steps) - 1) if steps else 0
    context = {"funnel": funnel, "version": found, "snapshot": snapshot, "snapshot_steps": steps, "shown_step": shown,
               "step_name": versions.version_step_name(found), "latest": versions.latest_number(funnel), "notice": None}
    context.update(extra)
    return context


def _int_arg(name: str, low: int, high: int) -> int:
    try:
        value = int(request.args.get(name, low))
    except ValueError:
        return low
    return min(max(value, low), max(high, low))


@bp.route("/funnels/<uuid:funnel_id>/versions/<uuid:version_id>/preview")
@role_required("viewer")
def version_preview(funnel_id, version_id):
    """The page of a version as visitors saw it, read-only: a page version's tree, or one step of a funnel
    version (?step=index). Shown in a sandboxed, scaled frame of the version's page."""
    funnel = _funnel(funnel_id)
    found = versions.get_version(current_account(), funnel, version_id)
    snapshot = found.snapshot or {}
    if found.kind == "page":
        page_snapshot = snapshot
    else:
        steps = [step for step in snapshot.get("steps") or [] if isinstance(step, dict)]
        if not steps:
            abort(404)
        page_snapshot = steps[_int_arg("step", 0, len(steps) - 1)].get("page") or {}
    body, css = _render_snapshot(found, page_snapshot)
    response = make_response(render_template("funnels/version_preview.html", body=body, css=css,
                                             title=page_snapshot.get("title") or funnel.name))
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _render_snapshot(found: FunnelVersion, page_snapshot: dict):
    """(body HTML, site CSS) of a snapshot's tree in publish mode; a note instead when it cannot render."""
    try:
        return previews.version_body(found.page, page_snapshot), site_stylesheet()
    except Exception:
        current_app.logger.exception("version preview failed")
        return Markup("<p>This version cannot be shown (its content is from an older format).</p>"), ""


@bp.route("/funnels/<uuid:funnel_id>/versions/<uuid:version_id>/restore", methods=["POST"])
@role_required("user")
def version_restore(funnel_id, version_id):
    funnel = _funnel(funnel_id)
    found = versions.get_version(current_account(), funnel, version_id)
    number = found.number
    with refusal() as refused:
        restored = versions.restore_version(current_account(), funnel, found, current_user)
    if refused:
        funnel = _funnel(funnel_id)
        found = versions.get_version(current_account(), funnel, version_id)
        context = _version_context(funnel, found, notice=refused.error.message)
        return render("funnels/version.html", status=422, **context)
    flash(f"Version {number} restored (saved as version {restored.number}; you can restore the one before it "
          f"the same way).", "success")
    return redirect_to(url_for("funnels.versions", funnel_id=funnel.id))
