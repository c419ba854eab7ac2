"""What a funnel step sells: the products and order bumps of an order-form step, the one-click offer of an
upsell or downsell step (app.orders.services.catalog.set_step_offers)."""
from flask import flash, url_for
from flask_login import current_user

from app.core.errors import ServiceError
from app.core.forms import apply_error
from app.core.roles import role_required
from app.core.tenancy import current_account
from app.core.web import redirect_to, render
from app.funnels import services as funnels
from app.orders import bp
from app.orders.forms import PITCH_PREFIX, step_offers_form
from app.orders.services import catalog


def _funnel_step(funnel_id, step_id):
    """The account's live funnel and its step (404 for anything else)."""
    account = current_account()
    funnel = funnels.get_funnel(account, funnel_id)
    return funnel, funnels.get_step(account, funnel, step_id)


def _page(funnel, step, form=None, status=200, pitches=None):
    account = current_account()
    prices = catalog.sellable_prices(account) if step.step_type in catalog.SELLING_STEP_TYPES else []
    offers = catalog.step_offers(step) if step.step_type in catalog.SELLING_STEP_TYPES else []
    if form is None:
        form = step_offers_form(prices, offers)
        pitches = {str(offer.price_id): offer.pitch for offer in offers if offer.role == "bump"}
    else:
        form.offer_price_id.choices = step_offers_form(prices, formdata=None).offer_price_id.choices
    return render("orders/offers.html", block="offers", status=status, funnel=funnel, step=step, form=form,
                  prices=prices, pitches=pitches or {}, pitch_prefix=PITCH_PREFIX,
                  selling=step.step_type in catalog.SELLING_STEP_TYPES,
                  chosen_main=set(form.main_price_ids.data or []), chosen_bumps=set(form.bump_price_ids.data or []),
                  price_label=catalog.price_label)


@bp.route("/funnels/<uuid:funnel_id>/steps/<uuid:step_id>/offers")
@role_required("viewer")
def step_offers(funnel_id, step_id):
    funnel, step = _funnel_step(funnel_id, step_id)
    return _page(funnel, step)


@bp.route("/funnels/<uuid:funnel_id>/steps/<uuid:step_id>/offers", methods=["POST"])
@role_required("user")
def step_offers_save(funnel_id, step_id):
    funnel, step = _funnel_step(funnel_id, step_id)
    form = step_offers_form([])
    if form.validate_on_submit():
        data = form.service_data()
        try:
            catalog.set_step_offers(current_account(), step, data["main_price_ids"], data["bump_price_ids"],
                                    data["bump_pitches"], data["offer_price_id"], actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"What “{step.name}” sells is saved.", "success")
            return redirect_to(url_for("orders.step_offers", funnel_id=funnel_id, step_id=step_id))
    funnel, step = _funnel_step(funnel_id, step_id)
    return _page(funnel, step, form, 422, pitches=form.pitches())
