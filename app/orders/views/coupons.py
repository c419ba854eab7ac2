"""Coupons: the list (uses, limit, expiry, state), new and edit, deactivate and activate again."""
from flask import flash, request, url_for
from flask_login import current_user

from app.core.db import utcnow
from app.core.errors import ServiceError
from app.core.formatting import display_zone
from app.core.forms import apply_error, flashed_refusal
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404
from app.core.web import redirect_to, render
from app.orders import bp
from app.orders.forms import coupon_form
from app.orders.models import Coupon
from app.orders.services import catalog


@bp.route("/coupons")
@role_required("viewer")
def coupons():
    results = paginate(catalog.filtered_coupons(current_account()), *parse_page_args(request.args))
    now = utcnow()
    return render("orders/coupons/list.html", block="results", results=results,
                  states={coupon.id: catalog.coupon_state(coupon, now) for coupon in results.items},
                  discount=catalog.discount_text)


def _form_page(form, coupon, status):
    form.expires_at.description = f"Optional. In your time zone, {display_zone().key}."
    return render("orders/coupons/form.html", block="form", status=status, form=form, coupon=coupon)


@bp.route("/coupons/new", methods=["GET", "POST"])
@role_required("user")
def coupon_new():
    account = current_account()
    form = coupon_form(account)
    if form.validate_on_submit():
        try:
            coupon = catalog.create_coupon(account, form.service_data(), display_zone().key, actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"Coupon {coupon.code} created.", "success")
            return redirect_to(url_for("orders.coupons"))
    return _form_page(form, None, 422 if form.is_submitted() else 200)


@bp.route("/coupons/<uuid:coupon_id>/edit", methods=["GET", "POST"])
@role_required("user")
def coupon_edit(coupon_id):
    account = current_account()
    coupon = get_or_404(Coupon, coupon_id)
    form = coupon_form(account, None if request.method == "POST" else coupon, zone=display_zone())
    if form.validate_on_submit():
        try:
            catalog.update_coupon(account, coupon, form.service_data(), display_zone().key, actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"Coupon {coupon.code} saved.", "success")
            return redirect_to(url_for("orders.coupons"))
    return _form_page(form, get_or_404(Coupon, coupon_id), 422 if form.is_submitted() else 200)


@bp.route("/coupons/<uuid:coupon_id>/deactivate", methods=["POST"])
@role_required("user")
def coupon_deactivate(coupon_id):
    coupon = get_or_404(Coupon, coupon_id)
    with flashed_refusal():
        catalog.set_coupon_active(current_account(), coupon, False, actor=current_user)
        flash(f"Coupon {coupon.code} deactivated: the order form refuses it from now on.", "success")
    return redirect_to(url_for("orders.coupons"))


@bp.route("/coupons/<uuid:coupon_id>/activate", methods=["POST"])
@role_required("user")
def coupon_activate(coupon_id):
    coupon = get_or_404(Coupon, coupon_id)
    with flashed_refusal():
        catalog.set_coupon_active(current_account(), coupon, True, actor=current_user)
        flash(f"Coupon {coupon.code} is active again.", "success")
    return redirect_to(url_for("orders.coupons"))
