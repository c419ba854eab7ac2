"""Routes of the published site, and the static export of a funnel (app host).

Site routes live under /_site: `SiteDispatcher` (app/site/serving.py) prefixes the path of every site-host
request that it does not answer itself, so only these routes can match a site-host request, and a
request that reaches them without coming through the dispatcher (the app host asking for /_site/...) is
a 404. Visitors have no session: the form post is CSRF-exempt and protected by its form token,
a honeypot and a rate limit per IP and page.
"""
from __future__ import annotations

from flask import abort, current_app, make_response, request, send_from_directory, url_for
from flask_login import current_user

from app.assets import services as assets
from app.core.errors import ServiceError, ValidationError
from app.core.models import Job
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404
from app.core.web import IMMUTABLE_CACHE, file_response, redirect_to, render
from app.extensions import csrf, db, limiter
from app.funnels import publishing
from app.funnels import services as funnels
from app.funnels.models import Page
from app.funnels.services import next_step
from app.pages.render import site_script, site_script_version
from app.site import bp, export, serving, submissions
from app.site.serving import site_kind, site_only

SITE_STATIC = ("site/", "img/")  # the only static folders a published page may use


def entry_response(entry):
    status, headers, body = serving.choose(entry, request.environ)
    response = make_response(body, int(status.split()[0]))
    response.headers.clear()
    for name, value in headers:
        response.headers.add(name, value)  # on HEAD, Werkzeug keeps the Content-Length of the body not sent
    return response


def site_error(status: int, message: str | None = None, back_url: str = ""):
    entry = serving.make_entry(status, serving.error_body(status, message, back_url), cache_control="no-store")
    return entry_response(entry)


# ---- pages --------------------------------------------------------------------------------------------

@bp.route("/_site/", defaults={"path": ""}, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/_site/<path:path>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
@site_only
def page(path):
    """A published page (the dispatcher's cache missed), or the site's 404 for anything else."""
    if request.method not in ("GET", "HEAD") or path.startswith(("_", "static/")):
        abort(404)
    return entry_response(serving.entry_for(site_kind(), "/" + path, request.environ.get(serving.VERSION_FLAG)))


@bp.route("/_site/_site.js")
@site_only
def script():
    """The published pages' script; its URL carries its hash (?v=...), so it is cached for a year."""
    return file_response(site_script(), "text/javascript; charset=utf-8", site_script_version(),
                         IMMUTABLE_CACHE)


@bp.route("/_site/_track.js")
@site_only
def track_script():
    """The tracker (static/site/track.js) every published page loads; its URL carries its hash (?v=...), so it
    is cached for a year."""
    data, version = serving.track_script()
    return file_response(data, "text/javascript; charset=utf-8", version, IMMUTABLE_CACHE)


@bp.route("/_site/_assets/<path:key>")
@site_only
def asset(key):
    """An uploaded image by its storage key (a new upload gets a new key, so it is cached for a year)."""
    found = assets.by_key(key)
    return file_response(assets.read(found), found.content_type, found.checksum, IMMUTABLE_CACHE)


@bp.route("/_site/static/<path:filename>")
@site_only
def static_file(filename):
    if not filename.startswith(SITE_STATIC) or ".." in filename:
        abort(404)
    return send_from_directory(current_app.static_folder, filename, max_age=86400)


@bp.route("/_site/robots.txt")
@site_only
def robots():
    response = make_response("User-agent: *\nAllow: /\nDisallow: /_forms/\n")
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return response


# ---- forms --------------------------------------------------------------------------------------------

def _form_rate_limit() -> str:
    return current_app.config.get("FORM_RATE_LIMIT") or "10 per minute"


def _form_rate_key() -> str:
    return f"site-form:{request.remote_addr}:{(request.view_args or {}).get('page_id')}"


def _after_submit_url(page: Page, form: dict) -> str:
    props = form.get("props") or {}
    action = props.get("action", "next_step")
    if action == "url" and props.get("url"):
        return props["url"]
    if action == "step":
        target = next((step for step in page.step.funnel.steps if str(step.id) == props.get("step_id")), None)
        if target is not None:
            return publishing.public_url(target)
    if action == "next_step":
        following = next_step(page.step)
        if following is not None:
            return publishing.public_url(following)
    return publishing.public_url(page.step)


def _form_page(page: Page, source, form_id: str, submission, errors: dict, status: int = 422):
    """The page re-rendered with the form's errors and what the visitor typed (and a fresh token)."""
    ctx = publishing.publish_context(source)
    ctx.form_errors = {form_id: errors}
    ctx.form_values = {form_id: submission.values if submission else {}}
    document = publishing.page_document(source, ctx)
    body = serving.fill_tokens(document, str(page.id)).encode("utf-8")
    return entry_response(serving.make_entry(status, body, cache_control="no-store"))


@bp.route("/_site/_forms/<uuid:page_id>", methods=["POST"])
@site_only
@csrf.exempt
@limiter.limit(_form_rate_limit, key_func=_form_rate_key)
def submit_form(page_id):
    page = serving.live_page(page_id)
    source = serving.published_page_source(page)
    form_id = request.form.get("form_id", "")
    form = serving.find_form(source.tree, form_id, ("form",))
    if form is None:
        return site_error(400, "This form is no longer on the page. Open the page again.",
                          publishing.public_url(page.step))
    token = request.form.get("form_token", "")
    verdict = submissions.check_token(token, page.id, form_id)
    if verdict == "bad":
        return site_error(400, back_url=publishing.public_url(page.step))
    submission = submissions.read(form, request.form)
    if verdict == "expired":
        return _form_page(page, source, form_id, submission, {
            "": "This page was open for a long time, so the form expired. Check your answers and send it again."})
    next_url = _after_submit_url(page, form)
    if submissions.is_bot(request.form):
        return _redirect(next_url)  # pretend it worked; save nothing
    if submission.errors:
        return _form_page(page, source, form_id, submission, submission.errors)
    keys = submissions.duplicate_keys(page.id, form_id, token, submission)
    if not submissions.first_time(keys):
        return _redirect(next_url)  # the same submit again (double click, back and resend): done already
    context = {"account_id": page.account_id, "funnel_id": page.funnel_id, "step_id": page.step_id,
               "page_id": page.id, "form_id": form_id}
    try:
        submissions.save(_account_of(page), form, submission, context)
    except ValidationError as error:
        submissions.forget(keys)
        return _form_page(page, source, form_id, submission, error.fields)
    return _redirect(next_url)


def _account_of(page: Page):
    from app.auth.models import Account

    return db.session.get(Account, page.account_id)


def _redirect(url: str):
    from flask import redirect

    return redirect(url, 303)


# ---- the static export of a funnel (app host) ---------------------------------------------------------
# The site host never reaches these: the dispatcher puts its requests under /_site.

@bp.route("/funnels/<uuid:funnel_id>/export", methods=["POST"])
@role_required("user")
def export_funnel(funnel_id):
    account = current_account()
    funnel = funnels.get_funnel(account, funnel_id)
    try:
        job = export.start(account, funnel, current_user)
    except ServiceError as error:
        return render("site/export.html", status=error.status, funnel=funnel, job=None, error=error.message)
    return redirect_to(url_for("site.export_progress", funnel_id=funnel.id, job_id=job.id))


@bp.route("/funnels/<uuid:funnel_id>/export/<uuid:job_id>")
@role_required("viewer")
def export_progress(funnel_id, job_id):
    account = current_account()
    funnel = funnels.get_funnel(account, funnel_id)
    job = get_or_404(Job, job_id)  # the account's job (the page shows its progress, whatever it is)
    return render("site/export.html", funnel=funnel, job=job, error=None)
