"""The price of a checkout, computed from the database alone: the step's products, the bumps the visitor
ticked (only among the step's own bumps), and the coupon. The browser's numbers are never read."""
from __future__ import annotations

from dataclasses import dataclass, field

from app.core.db import utcnow
from app.core.errors import ValidationError
from app.orders.models import Coupon, Price, StepOffer
from app.orders.services import catalog


@dataclass
class Line:
    price: Price
    kind: str  # main or bump
    name: str
    unit_amount_cents: int
    discount_cents: int = 0

    @property
    def amount_cents(self) -> int:
        return self.unit_amount_cents - self.discount_cents


@dataclass
class Quote:
    currency: str
    lines: list[Line] = field(default_factory=list)
    coupon: Coupon | None = None
    coupon_error: str = ""
    bumps: list[StepOffer] = field(default_factory=list)  # every bump the step offers (ticked or not)

    @property
    def subtotal_cents(self) -> int:
        return sum(line.unit_amount_cents for line in self.lines)

    @property
    def discount_cents(self) -> int:
        return sum(line.discount_cents for line in self.lines)

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents - self.discount_cents

    @property
    def ticked(self) -> set[str]:
        return {str(line.price.id) for line in self.lines if line.kind == "bump"}


def quote(account, step, bump_price_ids, coupon_code: str = "", strict: bool = True) -> Quote:
    """The checkout's lines and totals. A bump id that the step does not offer (tampered, another
    workspace's) is a ValidationError when `strict` (the order is being placed), ignored otherwise (the
    summary while the visitor ticks boxes). A coupon that cannot be used leaves `coupon_error` set."""
    offers = catalog.step_offers(step)
    mains = [offer for offer in offers if offer.role == "main"]
    if not mains:
        raise ValidationError("This product is not available right now.", fields={"": "Nothing to buy on this step."})
    bumps = [offer for offer in offers if offer.role == "bump"]
    offered = {str(offer.price_id): offer for offer in bumps}
    wanted = [str(value) for value in bump_price_ids or [] if value]
    unknown = [value for value in wanted if value not in offered]
    if unknown and strict:
        raise ValidationError("An extra you chose is not offered on this page. Reload the page and try again.",
                              fields={"bumps": "This extra is not offered here."})
    result = Quote(currency=mains[0].price.currency, bumps=bumps)
    for offer in mains:
        result.lines.append(_line(offer, "main"))
    for value in dict.fromkeys(wanted):
        if value in offered:
            result.lines.append(_line(offered[value], "bump"))
    code = (coupon_code or "").strip()
    if code:
        coupon = catalog.find_coupon(account, code)
        problem = "This coupon code does not exist." if coupon is None else catalog.coupon_problem(
            coupon, result.currency, utcnow())
        if problem:
            result.coupon_error = problem
        else:
            result.coupon = coupon
            _apply(coupon, result.lines)
    return result


def _line(offer: StepOffer, kind: str) -> Line:
    price = offer.price
    return Line(price=price, kind=kind, name=price.product.name, unit_amount_cents=price.amount_cents)


def _apply(coupon: Coupon, lines: list[Line]) -> None:
    """Spread the coupon's discount over the lines in proportion to their amounts, in whole cents that add
    up exactly (largest remainders), never more than a line's amount."""
    subtotal = sum(line.unit_amount_cents for line in lines)
    if subtotal <= 0:
        return
    if coupon.percent_off:
        discount = subtotal * coupon.percent_off // 100
    else:
        discount = min(coupon.amount_off_cents or 0, subtotal)
    shares = [(discount * line.unit_amount_cents, index) for index, line in enumerate(lines)]
    given = 0
    for share, index in shares:
        lines[index].discount_cents = share // subtotal
        given += share // subtotal
    by_remainder = sorted(shares, key=lambda pair: (-(pair[0] % subtotal), pair[1]))
    for _, index in by_remainder[:discount - given]:
        lines[index].discount_cents += 1
