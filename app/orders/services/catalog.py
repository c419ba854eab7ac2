"""The catalog: products and their one-time prices, coupons, and what each funnel step sells (StepOffer).

Plain functions: the account and plain data in, models out, `app.core.errors` raised on bad input. The
checkout reads the catalog through `step_offers`, `find_coupon` and `coupon_problem`, so that what the
marketer archived or deactivated is never sold again. A price is never edited once created (orders
reference it): it is archived and another one added.
"""
import re
from datetime import datetime, time
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, func, select
from sqlalchemy.orm import contains_eager, selectinload

from app.assets.models import Asset
from app.core import audit
from app.core.dates import read_datetime
from app.core.db import like_pattern, utcnow
from app.core.errors import ConflictError, ValidationError
from app.core.formatting import ZERO_DECIMAL_CURRENCIES, format_money
from app.core.tenancy import scoped
from app.core.validation import FieldErrors, as_uuid, choice_value, row_of_account, text_value
from app.extensions import db
from app.funnels.models import FunnelStep
from app.orders.models import CURRENCIES, PRODUCT_STATUSES, Coupon, Price, Product, StepOffer

MAX_AMOUNT = Decimal("999999.99")
AMOUNT_PATTERN = re.compile(r"^\d+(\.\d+)?$")
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{3,40}$")
MAX_REDEMPTIONS = 1_000_000_000
SELLING_STEP_TYPES = ("order_form", "upsell", "downsell")
OFFER_STEP_TYPES = ("upsell", "downsell")


# ---- amounts --------------------------------------------------------------------------------------------

def parse_amount(raw, currency: str, field: str = "amount") -> int:
    """An amount typed in the currency's main unit ("49.00", "49", "1,250.50") as its minor units (cents),
    more than 0 and at most 999,999.99; a 422 naming the field otherwise. A zero-decimal currency (JPY)
    takes whole numbers, which are its minor units already."""
    if isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        text = str(raw)
    elif isinstance(raw, str):
        text = raw.strip().replace(",", "").replace(" ", "")
    else:
        text = ""
    if not text:
        raise ValidationError("Enter an amount, like 49.00.", field=field)
    if text.startswith("-"):
        raise ValidationError("The amount must be more than 0.", field=field)
    if not AMOUNT_PATTERN.match(text):
        raise ValidationError("Enter an amount in numbers, like 49.00.", field=field)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationError("Enter an amount in numbers, like 49.00.", field=field) from None
    if value <= 0:
        raise ValidationError("The amount must be more than 0.", field=field)
    if value > MAX_AMOUNT:
        raise ValidationError("The amount is at most 999,999.99.", field=field)
    zero_decimal = (currency or "").upper() in ZERO_DECIMAL_CURRENCIES
    if zero_decimal:
        if value != value.to_integral_value():
            raise ValidationError(f"{currency.upper()} amounts have no decimals.", field=field)
        return int(value)
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError("Use at most two decimals, like 49.99.", field=field)
    return int(value * 100)


def amount_text(cents: int, currency: str) -> str:
    """The minor units as a person types them back ("49.00"; JPY "4900")."""
    if (currency or "").upper() in ZERO_DECIMAL_CURRENCIES:
        return str(cents)
    return f"{Decimal(cents) / 100:.2f}"


def _currency(data: dict, field: str = "currency", default: str | None = None) -> str:
    raw = data.get(field)
    value = raw.strip().lower() if isinstance(raw, str) else raw
    return choice_value({field: value}, field, "currency", CURRENCIES, default=default, required=True)


# ---- products -------------------------------------------------------------------------------------------

def filtered_products(account, filters: dict):
    """SELECT the account's products by name, their prices loaded. Filters: q (in the name), status
    (active or archived; both when empty)."""
    query = scoped(Product, account).options(selectinload(Product.prices))
    q = (filters.get("q") or "").strip().lower()
    if q:
        query = query.where(func.lower(Product.name).like(like_pattern(q), escape="\\"))
    if filters.get("status") in PRODUCT_STATUSES:
        query = query.where(Product.status == filters["status"])
    return query.order_by(func.lower(Product.name), Product.id)


def _image_id(account, raw):
    asset = row_of_account(Asset, account, raw, "image_id", "image")
    return asset.id if asset is not None else None


def _clean_product(account, data: dict, partial: bool) -> dict:
    fields = FieldErrors(data, partial)
    fields.add("name", lambda: text_value(data, "name", "product name", 160, required=True))
    fields.add("description", lambda: text_value(data, "description", "description", 5000) or "")
    fields.add("image_id", lambda: _image_id(account, data.get("image_id")))
    return fields.values_or_raise()


def create_product(account, data: dict, actor=None) -> Product:
    """A new active product (name required, at most 160 characters; description; an image of the account's
    library). Its prices are added with `add_price`; `data` may carry a first one (amount, currency, label)."""
    values = _clean_product(account, data, partial=False)
    price_values = None
    if data.get("amount") not in (None, ""):
        price_values = _clean_price(data)
    product = Product(account_id=account.id, status="active", **values)
    db.session.add(product)
    db.session.flush()
    if price_values:
        db.session.add(Price(account_id=account.id, product_id=product.id, position=0, **price_values))
    audit.record("product.created", product, f"Product {product.name} created", account=account, user=actor)
    db.session.commit()
    return product


def update_product(account, product: Product, data: dict, actor=None, partial: bool = False) -> Product:
    """Change the name, description or image (its prices are added and archived on their own)."""
    for name, value in _clean_product(account, data, partial).items():
        setattr(product, name, value)
    audit.record("product.updated", product, f"Product {product.name} updated", account=account, user=actor)
    db.session.commit()
    return product


def set_product_status(account, product: Product, status: str, actor=None) -> Product:
    """Archive a product (no new checkout sells it; orders keep it) or bring it back (status "active")."""
    status = choice_value({"status": status}, "status", "status", PRODUCT_STATUSES, required=True)
    if product.status != status:
        product.status = status
        verb = "archived" if status == "archived" else "restored"
        audit.record(f"product.{verb}", product, f"Product {product.name} {verb}", account=account, user=actor)
    db.session.commit()
    return product


def _clean_price(data: dict) -> dict:
    fields = FieldErrors(data)
    fields.add("label", lambda: text_value(data, "label", "label", 80) or "")
    fields.add("currency", lambda: _currency(data))
    currency = fields.values.get("currency") or "usd"
    fields.add("amount_cents", lambda: parse_amount(data.get("amount"), currency), key="amount")
    return fields.values_or_raise()


def add_price(account, product: Product, data: dict, actor=None) -> Price:
    """A new one-time price of the product: label (optional), amount (a decimal in the currency's main unit,
    more than 0 and at most 999,999.99) and currency (one of CURRENCIES)."""
    values = _clean_price(data)
    position = db.session.execute(
        scoped(Price, account).with_only_columns(func.coalesce(func.max(Price.position), -1))
        .where(Price.product_id == product.id)).scalar_one() + 1
    price = Price(account_id=account.id, product_id=product.id, position=position, active=True, **values)
    db.session.add(price)
    db.session.flush()
    audit.record("price.created", price, f"Price {format_money(price.amount_cents, price.currency)} added to "
                 f"{product.name}", account=account, user=actor)
    db.session.commit()
    return price


def archive_price(account, price: Price, actor=None) -> Price:
    """Archive a price: no new checkout sells it, orders keep it. (A price is never edited: archive, add.)"""
    if price.active:
        price.active = False
        audit.record("price.archived", price, f"Price {format_money(price.amount_cents, price.currency)} of "
                     f"{price.product.name} archived", account=account, user=actor)
    db.session.commit()
    return price


def price_label(price: Price) -> str:
    """A price as a select or a checkbox shows it: "Course — Early bird · $49.00"."""
    name = price.product.name + (f" — {price.label}" if price.label else "")
    return f"{name} · {format_money(price.amount_cents, price.currency)}"


def sellable_prices(account) -> list[Price]:
    """The active prices of the account's active products, by product name then position: what a step may sell."""
    return list(db.session.execute(
        scoped(Price, account).join(Price.product).options(contains_eager(Price.product))
        .where(Price.active.is_(True), Product.status == "active")
        .order_by(func.lower(Product.name), Product.id, Price.position, Price.created_at)).scalars())


# ---- coupons --------------------------------------------------------------------------------------------

def filtered_coupons(account):
    """SELECT the account's coupons, active ones first, newest first."""
    return scoped(Coupon, account).order_by(Coupon.active.desc(), Coupon.created_at.desc(), Coupon.id)


def _code(data: dict) -> str:
    code = text_value(data, "code", "code", 40, required=True)
    if not CODE_PATTERN.match(code):
        raise ValidationError("A code has 3 to 40 letters, digits, dashes or underscores (e.g. SPRING-25).",
                              field="code")
    return code


def _whole_number(raw, field: str, label: str, low: int, high: int) -> int | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, bool):
        raise ValidationError(f"The {label} must be a whole number.", field=field)
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValidationError(f"The {label} must be a whole number.", field=field) from None
    if not low <= value <= high:
        raise ValidationError(f"The {label} must be between {low:,} and {high:,}.", field=field)
    return value


def _clean_coupon(account, data: dict, coupon: Coupon | None, zone_name: str | None) -> dict:
    fields = FieldErrors(data)
    fields.add("code", lambda: _code(data))
    fields.add("percent_off", lambda: _whole_number(data.get("percent_off"), "percent_off", "percent off", 1, 100))
    fields.add("expires_at", lambda: read_datetime(data.get("expires_at"), zone_name, "expires_at",
                                                   default_time=time(23, 59)))
    fields.add("max_redemptions", lambda: _whole_number(data.get("max_redemptions"), "max_redemptions",
                                                        "usage limit", 1, MAX_REDEMPTIONS))
    amount_given = data.get("amount_off") not in (None, "")
    percent_given = data.get("percent_off") not in (None, "")
    if amount_given:
        fields.add("currency", lambda: _currency(data))
        currency = fields.values.get("currency")
        if currency:
            fields.add("amount_off_cents", lambda: parse_amount(data.get("amount_off"), currency, "amount_off"),
                       key="amount_off")
    if amount_given and percent_given:
        fields.errors.setdefault("amount_off", "Give either a percent off or an amount off, not both.")
    elif not amount_given and not percent_given:
        fields.errors.setdefault("percent_off", "Give a percent off or an amount off.")
    values = fields.values_or_raise()
    values.setdefault("amount_off_cents", None)
    if not amount_given:
        values["currency"] = None
    expires_at = values.get("expires_at")
    changed = coupon is None or coupon.expires_at != expires_at
    if expires_at is not None and changed and expires_at <= utcnow():
        raise ValidationError("The expiry is in the past: choose a later date.", field="expires_at")
    query = scoped(Coupon, account).where(func.lower(Coupon.code) == values["code"].lower())
    if coupon is not None:
        query = query.where(Coupon.id != coupon.id)
    if db.session.execute(query.limit(1)).scalar_one_or_none() is not None:
        raise ConflictError(f"There is already a coupon {values['code'].upper()} (codes ignore case).", field="code")
    return values


def create_coupon(account, data: dict, zone_name: str | None = None, actor=None) -> Coupon:
    """A new active coupon: code (3-40 of [A-Za-z0-9_-], unique in the workspace whatever the case), exactly
    one of percent_off (1-100) or amount_off (a decimal, with its currency), optional expires_at (a date and
    time in `zone_name`) and max_redemptions (1 or more)."""
    coupon = Coupon(account_id=account.id, active=True, times_redeemed=0,
                    **_clean_coupon(account, data, None, zone_name))
    db.session.add(coupon)
    db.session.flush()
    audit.record("coupon.created", coupon, f"Coupon {coupon.code} created", account=account, user=actor)
    db.session.commit()
    return coupon


def update_coupon(account, coupon: Coupon, data: dict, zone_name: str | None = None, actor=None) -> Coupon:
    """Change a coupon's code, discount, expiry or usage limit (same rules as `create_coupon`)."""
    for name, value in _clean_coupon(account, data, coupon, zone_name).items():
        setattr(coupon, name, value)
    audit.record("coupon.updated", coupon, f"Coupon {coupon.code} updated", account=account, user=actor)
    db.session.commit()
    return coupon


def set_coupon_active(account, coupon: Coupon, active: bool, actor=None) -> Coupon:
    """Deactivate a coupon (the order form refuses it from now on) or activate it again."""
    if coupon.active != active:
        coupon.active = active
        verb = "activated" if active else "deactivated"
        audit.record(f"coupon.{verb}", coupon, f"Coupon {coupon.code} {verb}", account=account, user=actor)
    db.session.commit()
    return coupon


def find_coupon(account, code) -> Coupon | None:
    """The account's coupon with this code, whatever its case ("spring-25" finds SPRING-25); None when the
    code is empty, malformed or another workspace's. Whether it may be used is `coupon_problem`'s answer."""
    if not isinstance(code, str):
        return None
    code = code.strip()
    if not CODE_PATTERN.match(code):
        return None
    return db.session.execute(
        scoped(Coupon, account).where(func.lower(Coupon.code) == code.lower())).scalar_one_or_none()


def coupon_problem(coupon: Coupon | None, currency: str, now: datetime) -> str | None:
    """Why this coupon cannot be used now on an order in `currency`, as the visitor reads it, or None when
    it can: unknown, inactive, expired, used up, or an amount off in another currency."""
    if coupon is None:
        return "This coupon code is not valid."
    if not coupon.active:
        return "This coupon is no longer active."
    if coupon.expires_at is not None and coupon.expires_at <= now:
        return "This coupon has expired."
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        return "This coupon has been used up."
    if coupon.amount_off_cents is not None and (coupon.currency or "").lower() != (currency or "").lower():
        return f"This coupon applies to orders in {(coupon.currency or '').upper()} only."
    return None


def coupon_state(coupon: Coupon, now: datetime) -> tuple[str, str]:
    """(label, badge kind) of a coupon for the list: Active, Inactive, Expired or Used up."""
    if not coupon.active:
        return "Inactive", ""
    if coupon.expires_at is not None and coupon.expires_at <= now:
        return "Expired", "warning"
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        return "Used up", "warning"
    return "Active", "success"


def discount_text(coupon: Coupon) -> str:
    """"25% off" or "$10.00 off"."""
    if coupon.percent_off is not None:
        return f"{coupon.percent_off}% off"
    return f"{format_money(coupon.amount_off_cents, coupon.currency)} off"


# ---- step offers ----------------------------------------------------------------------------------------

def step_offers(step: FunnelStep, role: str | None = None) -> list[StepOffer]:
    """What the step sells, by position, with each offer's price and product loaded: only active prices of
    active products (an archived one is hidden from new checkouts). `role`: "main", "bump" or "offer"."""
    query = (select(StepOffer).join(StepOffer.price).join(Price.product)
             .options(contains_eager(StepOffer.price).contains_eager(Price.product))
             .where(StepOffer.account_id == step.account_id, StepOffer.step_id == step.id,
                    Price.active.is_(True), Product.status == "active")
             .order_by(StepOffer.position, StepOffer.id))
    if role is not None:
        query = query.where(StepOffer.role == role)
    return list(db.session.execute(query).unique().scalars())


def _unique_ids(raw) -> list:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        raw = [raw]
    seen, ids = set(), []
    for value in raw:
        if value in (None, ""):
            continue
        key = str(value).strip().lower()
        if key not in seen:
            seen.add(key)
            ids.append(value)
    return ids


def _prices(account, ids: list, field: str) -> list[Price]:
    prices = []
    for value in ids:
        price = row_of_account(Price, account, value, field, "price")
        if not price.active or price.product.status != "active":
            raise ValidationError(f"{price_label(price)} is archived: choose an active price.", field=field)
        prices.append(price)
    return prices


def _pitch(raw, price: Price) -> str:
    text = text_value({"pitch": raw}, "pitch", "pitch", 300) if isinstance(raw, str) else None
    if text:
        return text
    return f"Yes! Add {price.product.name} for {format_money(price.amount_cents, price.currency)}"


def set_step_offers(account, step: FunnelStep, main_price_ids=(), bump_price_ids=(), bump_pitches: dict | None = None,
                    offer_price_id=None, actor=None) -> list[StepOffer]:
    """Replace what the step sells. An order-form step takes its products (`main_price_ids`, at least one as
    soon as anything is given) and order bumps (`bump_price_ids`, each with the line of its checkbox from
    `bump_pitches` by price id; a default line when blank); an upsell or downsell step takes exactly one
    price, `offer_price_id`. Every price must be the account's (another's id: a 422 naming the field) and
    active, and all prices of a step share one currency. Returns the step's offers as saved."""
    bump_pitches = bump_pitches or {}
    if step.account_id != account.id:
        raise ValidationError("That step does not exist in this workspace.", field="step_id")
    if step.step_type not in SELLING_STEP_TYPES:
        raise ValidationError("Only order form, upsell and downsell steps sell products.", field="step_id")
    main_ids, bump_ids = _unique_ids(main_price_ids), _unique_ids(bump_price_ids)
    rows: list[tuple[str, Price, str]] = []
    if step.step_type == "order_form":
        if offer_price_id not in (None, ""):
            raise ValidationError("An order form sells products and bumps, not a one-click offer.",
                                  field="offer_price_id")
        errors = {}
        mains = bumps = []
        for field, ids in (("main_price_ids", main_ids), ("bump_price_ids", bump_ids)):
            try:
                found = _prices(account, ids, field)
            except ValidationError as error:
                errors.update(error.fields)
            else:
                if field == "main_price_ids":
                    mains = found
                else:
                    bumps = found
        if errors:
            raise ValidationError("Some prices are not valid.", fields=errors)
        if bumps and not mains:
            raise ValidationError("Choose at least one product before adding order bumps.", field="main_price_ids")
        both = {p.id for p in mains} & {p.id for p in bumps}
        if both:
            raise ValidationError("A price is either a product or an order bump of the step, not both.",
                                  field="bump_price_ids")
        rows = [("main", price, "") for price in mains]
        rows += [("bump", price, _pitch(bump_pitches.get(str(price.id)), price)) for price in bumps]
    else:
        if main_ids or bump_ids:
            raise ValidationError("An upsell or downsell step sells one offer, without products or bumps.",
                                  field="offer_price_id")
        price_id = as_uuid(offer_price_id, "offer_price_id", "price")
        if price_id is None:
            raise ValidationError("Choose the one price this step offers.", field="offer_price_id")
        rows = [("offer", price, "") for price in _prices(account, [price_id], "offer_price_id")]
    currencies = {price.currency for _, price, _ in rows}
    if len(currencies) > 1:
        field = "bump_price_ids" if {p.currency for role, p, _ in rows if role == "main"} != currencies \
            else "main_price_ids"
        raise ValidationError("All prices of a step must be in one currency (found "
                              f"{', '.join(sorted(c.upper() for c in currencies))}).", field=field)
    db.session.execute(delete(StepOffer).where(StepOffer.step_id == step.id, StepOffer.account_id == account.id))
    for position, (role, price, pitch) in enumerate(rows):
        db.session.add(StepOffer(account_id=account.id, step_id=step.id, price_id=price.id, role=role, pitch=pitch,
                                 position=position))
    audit.record("funnel.step_offers_changed", step, f"Offers of the step “{step.name}” changed",
                 account=account, user=actor, details={"prices": [str(price.id) for _, price, _ in rows]})
    db.session.commit()
    return step_offers(step)

