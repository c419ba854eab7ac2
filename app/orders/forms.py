"""Forms of the orders pages, and the choices they offer, one section per group of pages.

Fields check presence and length only; the services (app/orders/services/) validate the rest (amounts,
currencies, codes, dates, the prices of a step) and their errors are put next to the field with
app.core.forms.apply_error."""
from flask import request
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.assets.models import Asset
from app.core.tenancy import scoped
from app.extensions import db
from app.orders.models import CURRENCIES
from app.orders.services.catalog import amount_text, price_label

ASSET_CHOICE_LIMIT = 500  # images offered in a product's select


# ---- choices ---------------------------------------------------------------------------------------

def currency_choices() -> list[SelectChoice]:
    return [SelectChoice(code, code.upper()) for code in CURRENCIES]


def default_currency(account) -> str:
    """The workspace's currency when the catalog takes it, else USD."""
    code = (getattr(account, "currency", "") or "").lower()
    return code if code in CURRENCIES else "usd"


def image_choices(account) -> list[SelectChoice]:
    """The images of the workspace's library, newest first (the first ASSET_CHOICE_LIMIT), after "No image"."""
    assets = db.session.execute(scoped(Asset, account).order_by(Asset.created_at.desc(), Asset.id)
                                .limit(ASSET_CHOICE_LIMIT)).scalars()
    return [SelectChoice("", "— No image —")] + [
        SelectChoice(str(asset.id), asset.filename + (f" ({asset.alt})" if asset.alt else "")) for asset in assets]


# ---- products and prices ---------------------------------------------------------------------------

class ProductForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=160, message="A product name has at most 160 characters.")],
                       render_kw={"autocomplete": "off", "maxlength": 160, "placeholder": "e.g. Template pack"})
    description = TextAreaField("Description", validators=[Length(max=5000)], render_kw={"rows": 4})
    image_id = SelectField("Image", validate_choice=False,
                           description="From your image library (Assets).")

    def service_data(self) -> dict:
        return {"name": self.name.data or "", "description": self.description.data or "",
                "image_id": self.image_id.data or None}


def product_form(account, product=None, **kwargs) -> ProductForm:
    """The product form with the library's images; filled from the product when one is given (GET)."""
    if product is not None:
        kwargs.setdefault("name", product.name)
        kwargs.setdefault("description", product.description)
        kwargs.setdefault("image_id", str(product.image_id) if product.image_id else "")
    form = ProductForm(**kwargs)
    form.image_id.choices = image_choices(account)
    return form


class PriceForm(FlaskForm):
    """A new one-time price (prefix "price" on the product's page, so its ids do not clash)."""

    label = StringField("Label", validators=[Length(max=80)],
                        description="Optional, e.g. Early bird.", render_kw={"autocomplete": "off", "maxlength": 80})
    amount = StringField("Amount", description="e.g. 49.00",
                         render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "49.00"})
    currency = SelectField("Currency", choices=currency_choices(), validate_choice=False)

    def service_data(self) -> dict:
        return {"label": self.label.data or "", "amount": self.amount.data or "", "currency": self.currency.data}


def price_form(account, **kwargs) -> PriceForm:
    kwargs.setdefault("prefix", "price")
    kwargs.setdefault("currency", default_currency(account))
    return PriceForm(**kwargs)


# ---- coupons ---------------------------------------------------------------------------------------

class CouponForm(FlaskForm):
    code = StringField("Code", validators=[Length(max=40, message="A code has at most 40 characters.")],
                       description="3 to 40 letters, digits, dashes or underscores. Visitors may type it in any case.",
                       render_kw={"autocomplete": "off", "maxlength": 40, "placeholder": "SPRING-25"})
    percent_off = StringField("Percent off", description="1 to 100. Leave empty for an amount off.",
                              render_kw={"inputmode": "numeric", "autocomplete": "off", "placeholder": "25"})
    amount_off = StringField("Amount off", description="e.g. 10.00. Leave empty for a percent off.",
                             render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "10.00"})
    currency = SelectField("Currency of the amount", choices=currency_choices(), validate_choice=False)
    expires_at = StringField("Expires", render_kw={"type": "datetime-local", "class": "input",
                                                   "min": "1900-01-01T00:00", "max": "2199-12-31T23:59"})
    max_redemptions = StringField("Usage limit", description="How many orders may use it. Empty: no limit.",
                                  render_kw={"inputmode": "numeric", "autocomplete": "off"})

    def service_data(self) -> dict:
        return {name: (self[name].data or "").strip() for name in
                ("code", "percent_off", "amount_off", "currency", "expires_at", "max_redemptions")}


def coupon_form(account, coupon=None, zone=None, **kwargs) -> CouponForm:
    """The coupon form; filled from the coupon when one is given (GET), its expiry shown in `zone`."""
    if coupon is not None:
        kwargs.setdefault("code", coupon.code)
        kwargs.setdefault("percent_off", "" if coupon.percent_off is None else str(coupon.percent_off))
        kwargs.setdefault("amount_off", "" if coupon.amount_off_cents is None
                          else amount_text(coupon.amount_off_cents, coupon.currency or "usd"))
        kwargs.setdefault("currency", coupon.currency or default_currency(account))
        kwargs.setdefault("expires_at", coupon.expires_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
                          if coupon.expires_at and zone else "")
        kwargs.setdefault("max_redemptions", "" if coupon.max_redemptions is None else str(coupon.max_redemptions))
    else:
        kwargs.setdefault("currency", default_currency(account))
    return CouponForm(**kwargs)


# ---- step offers -----------------------------------------------------------------------------------

PITCH_PREFIX = "pitch-"  # the bump's checkbox line is posted as pitch-<price id>


class StepOffersForm(FlaskForm):
    """What a funnel step sells: the checkboxes (products, bumps) and the one offer are drawn by the template
    from `prices`; the pitches come as pitch-<price id>."""

    main_price_ids = SelectMultipleField("Products", validate_choice=False)
    bump_price_ids = SelectMultipleField("Order bumps", validate_choice=False)
    offer_price_id = SelectField("One-click offer", validate_choice=False)

    def pitches(self) -> dict:
        """{price id: pitch line} as posted."""
        return {key[len(PITCH_PREFIX):]: value for key, value in request.form.items()
                if key.startswith(PITCH_PREFIX)}

    def service_data(self) -> dict:
        return {"main_price_ids": self.main_price_ids.data or [], "bump_price_ids": self.bump_price_ids.data or [],
                "bump_pitches": self.pitches(), "offer_price_id": self.offer_price_id.data or None}


def step_offers_form(prices, offers=None, **kwargs) -> StepOffersForm:
    """The form with the step's saved offers ticked (GET) and the prices as the offer's choices."""
    if offers is not None:
        kwargs.setdefault("main_price_ids", [str(o.price_id) for o in offers if o.role == "main"])
        kwargs.setdefault("bump_price_ids", [str(o.price_id) for o in offers if o.role == "bump"])
        chosen = [str(o.price_id) for o in offers if o.role == "offer"]
        kwargs.setdefault("offer_price_id", chosen[0] if chosen else "")
    form = StepOffersForm(**kwargs)
    form.offer_price_id.choices = [SelectChoice("", "— Choose a price —")] + [
        SelectChoice(str(price.id), price_label(price)) for price in prices]
    return form



# ---- refunds ---------------------------------------------------------------------------------------

class RefundForm(FlaskForm):
    """A refund from the order's page: all that remains when the amount is empty, of the whole order or of one
    item; the amount is read by catalog.parse_amount and checked by refunds.create."""

    item_id = SelectField("Refund", validate_choice=False)
    amount = StringField("Amount", description="Empty: all that remains.",
                         render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "All that remains"})
    reason = SelectField("Reason", validate_choice=False)
    note = TextAreaField("Note", validators=[Length(max=500, message="A note has at most 500 characters.")],
                         description="Seen by your team only.", render_kw={"rows": 2, "maxlength": 500})


def refund_form(order, items, **kwargs) -> RefundForm:
    """The refund form of an order: "The whole order" or one of the refundable `items`, and the reasons."""
    from app.core.formatting import format_money
    from app.orders.models import REFUND_REASONS

    kwargs.setdefault("prefix", "refund")
    form = RefundForm(**kwargs)
    form.item_id.choices = [SelectChoice("", "The whole order")] + [
        SelectChoice(str(item.id), f"{item.name} ({item.kind_label}, "
                                   f"{format_money(item.refundable_cents, order.currency)} refundable)")
        for item in items]
    form.reason.choices = [SelectChoice(key, label) for key, label in REFUND_REASONS.items()]
    return form
