"""Inbound webhooks: the hooks' pages (admins only) and the secret URL that receives JSON
(POST /api/v1/hooks/inbound/<token>: no session, no CSRF token; the token is the credential)."""
from flask import flash, make_response, request, url_for

from app.core.errors import ServiceError
from app.core.forms import ActionForm, apply_error, flashed_refusal
from app.core.pagination import parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, current_actor, get_or_404
from app.core.web import json_error, redirect_to, render
from app.extensions import csrf
from app.integrations import bp, inbound
from app.integrations.forms import inbound_hook_form, inbound_hook_values
from app.integrations.models import InboundHook

NO_STORE = "no-store"  # pages that show a hook's secret URL are never kept by a cache


# ---- the secret URL -------------------------------------------------------------------------------------

@bp.route("/api/v1/hooks/inbound/<token>", methods=["POST"])
@csrf.exempt
def inbound_receive(token):
    answer = inbound.receive(token, request.stream.read, request.content_length, request.remote_addr)
    if answer.status >= 400:
        response = json_error(answer.status, answer.message, answer.fields)
        if answer.status == 429:
            response.headers["Retry-After"] = "60"
        return response
    response = make_response(answer.body, answer.status)
    response.headers["Cache-Control"] = NO_STORE
    return response


# ---- the pages ------------------------------------------------------------------------------------------

@bp.route("/integrations/inbound")
@role_required("admin")
def inbound_hooks():
    account = current_account()
    page_number, page_size = parse_page_args(request.args)
    return render("integrations/inbound/list.html", hooks=inbound.hooks_page(account, page_number, page_size))


def _form_page(template_hook, form, status=200):
    """The new or edit page (`template_hook` None for new) with the "test it" panel."""
    account = current_account()
    pairs = inbound_hook_values(form)["field_map"]
    sample = (form.sample.data or "").strip()
    calls = inbound.last_calls(account, template_hook) if template_hook is not None else []
    previews = [(call, inbound.preview(account, pairs, call.body_excerpt)) for call in calls]
    sample_preview = inbound.preview(account, pairs, sample) if sample else None
    return render("integrations/inbound/form.html", status=status, hook=template_hook, form=form,
                  previews=previews, sample_preview=sample_preview)


def _wants_redraw() -> bool:
    """The form was posted to add a map row or to test the map, not to save."""
    return "add_row" in request.form or "try_map" in request.form


@bp.route("/integrations/inbound/new", methods=["GET", "POST"])
@role_required("admin")
def inbound_hook_new():
    account = current_account()
    targets = inbound.field_choices(account)
    if request.method == "GET":
        return _form_page(None, inbound_hook_form(targets))
    form = inbound_hook_form(targets, formdata=request.form, add_row="add_row" in request.form)
    if _wants_redraw():
        return _form_page(None, form)
    if form.validate():
        try:
            hook = inbound.create_hook(account, inbound_hook_values(form), current_actor())
        except ServiceError as error:
            _place_error(form, error)
        else:
            flash(f"Inbound webhook “{hook.name}” created: send it a test call from the example below.", "success")
            return redirect_to(url_for("integrations.inbound_hook", hook_id=hook.id))
    return _form_page(None, form, status=422)


@bp.route("/integrations/inbound/<uuid:hook_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def inbound_hook_edit(hook_id):
    account = current_account()
    hook = get_or_404(InboundHook, hook_id)
    targets = inbound.field_choices(account)
    if request.method == "GET":
        return _form_page(hook, inbound_hook_form(targets, hook))
    form = inbound_hook_form(targets, formdata=request.form, add_row="add_row" in request.form)
    if _wants_redraw():
        return _form_page(hook, form)
    if form.validate():
        try:
            inbound.update_hook(account, hook, inbound_hook_values(form), current_actor())
        except ServiceError as error:
            _place_error(form, error)
        else:
            flash("Inbound webhook saved.", "success")
            return redirect_to(url_for("integrations.inbound_hook", hook_id=hook.id))
    return _form_page(hook, form, status=422)


def _place_error(form, error: ServiceError) -> None:
    """The service's message next to its field; the field map's above the rows."""
    apply_error(form, error)
    form.map_error = error.fields.get("field_map")


@bp.route("/integrations/inbound/<uuid:hook_id>")
@role_required("admin")
def inbound_hook(hook_id):
    account = current_account()
    hook = get_or_404(InboundHook, hook_id)
    page_number, page_size = parse_page_args(request.args)
    response = make_response(render(
        "integrations/inbound/detail.html", hook=hook, url=inbound.url_of(hook), curl=inbound.curl_example(hook),
        calls=inbound.calls_page(account, hook, page_number, page_size), action_form=ActionForm()))
    response.headers["Cache-Control"] = NO_STORE
    return response


@bp.route("/integrations/inbound/<uuid:hook_id>/regenerate", methods=["POST"])
@role_required("admin")
def inbound_hook_regenerate(hook_id):
    account = current_account()
    hook = get_or_404(InboundHook, hook_id)
    if ActionForm().validate_on_submit():
        with flashed_refusal():
            inbound.regenerate(account, hook, current_actor())
            flash("New URL made: the old one stopped working. Update the tools that call it.", "success")
    return redirect_to(url_for("integrations.inbound_hook", hook_id=hook.id))


@bp.route("/integrations/inbound/<uuid:hook_id>/delete", methods=["POST"])
@role_required("admin")
def inbound_hook_delete(hook_id):
    account = current_account()
    hook = get_or_404(InboundHook, hook_id)
    if ActionForm().validate_on_submit():
        with flashed_refusal():
            name = hook.name
            inbound.delete_hook(account, hook, current_actor())
            flash(f"Inbound webhook “{name}” deleted: its URL answers 404 from now on.", "success")
            return redirect_to(url_for("integrations.inbound_hooks"))
    return redirect_to(url_for("integrations.inbound_hook", hook_id=hook.id))
