"""Tracking pixels (admins only): the workspace's and the funnels' pixel ids, and the code preview of what a
funnel's published pages get. Importing app.integrations.pixels here registers it with the site (the blueprint
imports its views in every process that builds the app)."""
from flask import flash, request, url_for

from app.core.errors import ServiceError
from app.core.forms import ActionForm, apply_error, flashed_refusal
from app.core.roles import role_required
from app.core.tenancy import current_account, current_actor, get_or_404
from app.core.validation import uuid_or_none
from app.core.web import redirect_to, render
from app.integrations import bp, pixels
from app.integrations.forms import pixel_form, pixel_values
from app.integrations.models import TrackingPixel


def _page(form, status=200, editing=None):
    account = current_account()
    funnels = pixels.funnels_of(account)
    chosen_id = uuid_or_none(request.args.get("funnel"))
    funnel = next((item for item in funnels if item.id == chosen_id), funnels[0] if funnels else None)
    return render("integrations/pixels/index.html", status=status, form=form, editing=editing,
                  rows=pixels.pixels_of(account), funnels={item.id: item for item in funnels},
                  funnel_list=funnels, preview=pixels.preview(account, funnel) if funnel else None,
                  providers=pixels.PROVIDERS, action_form=ActionForm())


def _form(pixel=None, formdata=None):
    return pixel_form(pixels.provider_choices(), pixels.funnels_of(current_account()), pixel, formdata)


@bp.route("/integrations/pixels")
@role_required("admin")
def pixels_page():
    return _page(_form())


@bp.route("/integrations/pixels/new", methods=["POST"])
@role_required("admin")
def pixel_create():
    form = _form(formdata=request.form)
    if form.validate():
        try:
            pixel = pixels.create_pixel(current_account(), pixel_values(form), current_actor())
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"{pixels.label_of(pixel)} added: published pages include it from now on.", "success")
            return redirect_to(url_for("integrations.pixels_page"))
    return _page(form, status=422)


@bp.route("/integrations/pixels/<uuid:pixel_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def pixel_edit(pixel_id):
    pixel = get_or_404(TrackingPixel, pixel_id)
    if request.method == "GET":
        return _page(_form(pixel), editing=pixel)
    form = _form(formdata=request.form)
    if form.validate():
        try:
            pixels.update_pixel(current_account(), pixel, pixel_values(form), current_actor())
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"{pixels.label_of(pixel)} saved: published pages use it from now on.", "success")
            return redirect_to(url_for("integrations.pixels_page"))
    return _page(form, status=422, editing=pixel)


@bp.route("/integrations/pixels/<uuid:pixel_id>/toggle", methods=["POST"])
@role_required("admin")
def pixel_toggle(pixel_id):
    pixel = get_or_404(TrackingPixel, pixel_id)
    if ActionForm().validate_on_submit():
        with flashed_refusal():
            pixels.set_active(current_account(), pixel, not pixel.is_active, current_actor())
            flash(f"{pixels.label_of(pixel)} {'active' if pixel.is_active else 'paused'}.", "success")
    return redirect_to(url_for("integrations.pixels_page"))


@bp.route("/integrations/pixels/<uuid:pixel_id>/delete", methods=["POST"])
@role_required("admin")
def pixel_delete(pixel_id):
    pixel = get_or_404(TrackingPixel, pixel_id)
    if ActionForm().validate_on_submit():
        with flashed_refusal():
            label = pixels.label_of(pixel)
            pixels.delete_pixel(current_account(), pixel, current_actor())
            flash(f"{label} removed from the published pages.", "success")
    return redirect_to(url_for("integrations.pixels_page"))
