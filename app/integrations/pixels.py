"""Tracking pixels: Meta (Facebook) Pixel, Google Analytics 4, TikTok Pixel, Pinterest Tag and X (Twitter) Pixel
on the published pages.

Ids. A pixel is an id per workspace (funnel_id NULL) or per funnel, which overrides the workspace's for its
provider; an inactive row is as if it were not there (the workspace's applies again). Each provider's id has a
strict pattern (PROVIDERS): anything else, script, quotes, brackets, spaces, is refused with the form's
message, and the tag is built again from the patterns when a page is cached, so only such ids ever reach a page.

The tag. Published pages have a CSP without 'unsafe-inline' for scripts, so the providers' base code (inline
snippets in their documentation) runs from our own file, static/site/pixels.js, which reads the ids from its
data attributes: `<script async src="/static/site/pixels.js?v=<hash>" data-facebook="…" data-ga4="…"
data-funnel="…" data-currency="…" data-lf-pixels></script>`, put at the end of the <head> of every published
page of the funnel. The same tag for every page of a funnel (the code preview shows it as it is). The page's
CSP then allows exactly those providers' hosts (HOSTS), directive by directive; a page without pixels keeps
the site's policy unchanged.

Events. PageView on every page (each provider's own page call). Conversions at the moments the funnel
analytics count them (static/site/track.js): a Lead when a visitor sends an opt-in form of the site (the
`form_submit` conversion), a Purchase with value and currency when checkout.js reports a paid order
(`lf:purchase`, the `purchase` conversion). Both moments are followed at once by a navigation (the form's
post, the checkout's redirect), which would cancel a provider's request or find its library not yet loaded,
so pixels.js notes the conversion in sessionStorage and fires it on the next page of the same funnel, where
the libraries load normally: a Lead on a page other than the one the form was on (a form refused by the
server comes back at another address without pixels, and a visitor going back to the form's page drops the
note), a Purchase once per order id (the providers also get it as an event id, to de-duplicate). Notes live 30
minutes. X's conversions need event ids made in X Ads Manager, which Leadforge does not ask for: X gets its
page views only.

Where the tag is added. app/site may not import integrations, so site offers a hook
(`app.site.serving.page_extras_provider`) that this module registers into at import; the integrations
blueprint imports its views, which import this module, so every process that builds the app (web and worker)
has it registered. The cache of published pages is renewed when a pixel changes (`app.site.cache.watch`
on TrackingPixel), and when a step's offers change (their currency is in the tag). Static exports
(app/site/export.py) leave the pixels out, as they leave the tracker out: the copy runs on another host with
its own policy.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from markupsafe import escape
from sqlalchemy import or_, select

from app.core import audit
from app.core.errors import ConflictError, ValidationError
from app.core.tenancy import scoped
from app.core.validation import row_of_account
from app.extensions import db
from app.funnels.models import Funnel, FunnelStep
from app.integrations.models import PIXEL_PROVIDERS, TrackingPixel
from app.site import cache as site_cache
from app.site import serving

SCRIPT = "site/pixels.js"  # under static/; served by the site host at /static/site/pixels.js (script-src 'self')
SCRIPT_URL = "/static/site/pixels.js"


@dataclass(frozen=True)
class PixelProvider:
    key: str
    label: str
    id_label: str
    pattern: re.Pattern
    rule: str  # what an id looks like, in the refusal
    example: str
    case: str  # "upper", "lower" or "" (digits)
    hosts: tuple[tuple[str, tuple[str, ...]], ...]  # (CSP directive, (host, ...)) the provider's code needs


# The hosts each provider's documented code loads from and sends to:
# - Meta: fbevents.js and its configuration from connect.facebook.net; events to www.facebook.com/tr (an image
#   or a beacon).
# - Google Analytics 4 (Google's CSP guide for the Google tag): gtag.js from *.googletagmanager.com; hits to
#   *.google-analytics.com and *.analytics.google.com (region1..., www...), images from both.
# - TikTok: events.js and its extensions from analytics.tiktok.com, which also receives the events.
# - Pinterest: core.js and its library from s.pinimg.com; events to ct.pinterest.com (images, beacons, and the
#   frame it may open there).
# - X: uwt.js from static.ads-twitter.com; events to analytics.twitter.com and t.co (images) and the ads API.
PROVIDERS: dict[str, PixelProvider] = {provider.key: provider for provider in (
    PixelProvider("facebook", "Meta (Facebook) Pixel", "Pixel ID", re.compile(r"^[0-9]{15,16}$"),
                  "15 or 16 digits", "123456789012345", "",
                  (("script-src", ("https://connect.facebook.net",)),
                   ("img-src", ("https://www.facebook.com",)),
                   ("connect-src", ("https://connect.facebook.net", "https://www.facebook.com")))),
    PixelProvider("ga4", "Google Analytics 4", "Measurement ID", re.compile(r"^G-[A-Z0-9]{4,12}$"),
                  "G- followed by 4 to 12 letters and digits", "G-ABC123XYZ9", "upper",
                  (("script-src", ("https://*.googletagmanager.com",)),
                   ("img-src", ("https://*.google-analytics.com", "https://*.googletagmanager.com")),
                   ("connect-src", ("https://*.google-analytics.com", "https://*.analytics.google.com",
                                    "https://*.googletagmanager.com")))),
    PixelProvider("tiktok", "TikTok Pixel", "Pixel ID", re.compile(r"^[A-Z0-9]{20}$"),
                  "20 capital letters and digits", "C4ABCDEFGH1234567890", "upper",
                  (("script-src", ("https://analytics.tiktok.com",)),
                   ("img-src", ("https://analytics.tiktok.com",)),
                   ("connect-src", ("https://analytics.tiktok.com",)))),
    PixelProvider("pinterest", "Pinterest Tag", "Tag ID", re.compile(r"^[0-9]{13}$"),
                  "13 digits", "2612345678901", "",
                  (("script-src", ("https://s.pinimg.com",)),
                   ("img-src", ("https://ct.pinterest.com",)),
                   ("connect-src", ("https://ct.pinterest.com",)),
                   ("frame-src", ("https://ct.pinterest.com",)))),
    PixelProvider("x", "X (Twitter) Pixel", "Pixel ID", re.compile(r"^[a-z0-9]{5,6}$"),
                  "5 or 6 lower-case letters and digits", "o1a2b", "lower",
                  (("script-src", ("https://static.ads-twitter.com",)),
                   ("img-src", ("https://analytics.twitter.com", "https://t.co")),
                   ("connect-src", ("https://static.ads-twitter.com", "https://analytics.twitter.com",
                                    "https://ads-api.twitter.com")))),
)}
assert tuple(PROVIDERS) == PIXEL_PROVIDERS


def provider_choices() -> list[tuple[str, str]]:
    return [(key, provider.label) for key, provider in PROVIDERS.items()]


def is_valid(provider: str, code: str) -> bool:
    found = PROVIDERS.get(provider)
    return found is not None and bool(found.pattern.fullmatch(code or ""))


# ---- the pixels -------------------------------------------------------------------------------------------

def pixels_of(account) -> list[TrackingPixel]:
    """Every pixel of the workspace: the workspace's first, then by funnel, each in the providers' order."""
    rows = db.session.execute(scoped(TrackingPixel, account)).scalars().all()
    order = list(PROVIDERS)
    return sorted(rows, key=lambda row: (row.funnel_id is not None, str(row.funnel_id or ""),
                                         order.index(row.provider) if row.provider in order else 99))


def funnels_of(account) -> list[Funnel]:
    return list(db.session.execute(scoped(Funnel, account).where(Funnel.deleted_at.is_(None))
                                   .order_by(Funnel.name)).scalars())


def clean(account, data: dict) -> dict:
    """provider, pixel_code (trimmed, cased as the provider writes it, matched against its pattern),
    funnel_id (a funnel of the workspace, or None for the whole workspace), is_active."""
    errors: dict[str, str] = {}
    provider = PROVIDERS.get(data.get("provider") or "")
    if provider is None:
        errors["provider"] = "Choose a provider from the list."
    raw = data.get("pixel_code")
    code = raw.strip() if isinstance(raw, str) else ""
    if provider is not None:
        code = code.upper() if provider.case == "upper" else code.lower() if provider.case == "lower" else code
        if not code:
            errors["pixel_code"] = f"Enter the {provider.id_label}."
        elif not provider.pattern.fullmatch(code):
            shown = code if len(code) <= 40 else code[:40] + "…"
            errors["pixel_code"] = (f"A {provider.label} {provider.id_label} is {provider.rule}, like "
                                    f"{provider.example}: “{shown}” is not one.")
    funnel = None
    try:
        funnel = row_of_account(Funnel, account, data.get("funnel_id") or None, "funnel_id", "funnel")
    except ValidationError as error:
        errors.update(error.fields)
    if errors:
        raise ValidationError(next(iter(errors.values())), fields=errors)
    return {"provider": provider.key, "pixel_code": code, "funnel_id": funnel.id if funnel else None,
            "is_active": bool(data.get("is_active", True))}


def _check_unique(account, values: dict, pixel: TrackingPixel | None = None) -> None:
    query = scoped(TrackingPixel, account).where(TrackingPixel.provider == values["provider"])
    query = query.where(TrackingPixel.funnel_id == values["funnel_id"] if values["funnel_id"]
                        else TrackingPixel.funnel_id.is_(None))
    if pixel is not None:
        query = query.where(TrackingPixel.id != pixel.id)
    if db.session.execute(query.limit(1)).first() is not None:
        where = "this funnel" if values["funnel_id"] else "the workspace"
        raise ConflictError(f"{where.capitalize()} has a {PROVIDERS[values['provider']].label} already: edit it "
                            "instead.", field="provider")


def create_pixel(account, data: dict, actor=None) -> TrackingPixel:
    values = clean(account, data)
    _check_unique(account, values)
    pixel = TrackingPixel(account_id=account.id, **values)
    db.session.add(pixel)
    db.session.flush()
    audit.record("pixel.created", pixel, f"{PROVIDERS[pixel.provider].label} {pixel.pixel_code} added",
                 account=account, user=actor)
    db.session.commit()  # the site's cache is renewed by its session listener (watch, below)
    return pixel


def update_pixel(account, pixel: TrackingPixel, data: dict, actor=None) -> TrackingPixel:
    values = clean(account, data)
    _check_unique(account, values, pixel)
    for name, value in values.items():
        setattr(pixel, name, value)
    audit.record("pixel.updated", pixel, f"{PROVIDERS[pixel.provider].label} {pixel.pixel_code} updated",
                 account=account, user=actor)
    db.session.commit()
    return pixel


def set_active(account, pixel: TrackingPixel, active: bool, actor=None) -> TrackingPixel:
    pixel.is_active = bool(active)
    audit.record("pixel.updated", pixel, f"{label_of(pixel)} {pixel.pixel_code} "
                 f"{'activated' if active else 'paused'}", account=account, user=actor)
    db.session.commit()
    return pixel


def delete_pixel(account, pixel: TrackingPixel, actor=None) -> None:
    audit.record("pixel.deleted", pixel, f"{label_of(pixel)} {pixel.pixel_code} removed", account=account,
                 user=actor)
    db.session.delete(pixel)
    db.session.commit()


def label_of(pixel: TrackingPixel) -> str:
    provider = PROVIDERS.get(pixel.provider)
    return provider.label if provider else pixel.provider


# ---- what a funnel's pages get ----------------------------------------------------------------------------

def effective(rows) -> dict[str, str]:
    """provider -> id from a funnel's candidate rows (the workspace's and the funnel's, active ones): the
    funnel's wins; ids that do not match their provider's pattern are left out."""
    chosen: dict[str, TrackingPixel] = {}
    for row in rows:
        if not row.is_active or not is_valid(row.provider, row.pixel_code):
            continue
        current = chosen.get(row.provider)
        if current is None or (current.funnel_id is None and row.funnel_id is not None):
            chosen[row.provider] = row
    return {key: chosen[key].pixel_code for key in PROVIDERS if key in chosen}


def funnel_pixels(funnel_id) -> tuple[dict[str, str], str]:
    """(provider -> id, currency) of a funnel's published pages: one query for the pixels, one for the
    currency of what the funnel sells (the first offer of its first step that sells), "" when it sells
    nothing."""
    from app.orders.models import Price, StepOffer

    rows = db.session.execute(
        select(TrackingPixel).join(Funnel, Funnel.account_id == TrackingPixel.account_id)
        .where(Funnel.id == funnel_id, TrackingPixel.is_active.is_(True),
               or_(TrackingPixel.funnel_id.is_(None), TrackingPixel.funnel_id == funnel_id))).scalars().all()
    codes = effective(rows)
    if not codes:
        return {}, ""
    currency = db.session.execute(
        select(Price.currency).join(StepOffer, StepOffer.price_id == Price.id)
        .join(FunnelStep, FunnelStep.id == StepOffer.step_id).where(FunnelStep.funnel_id == funnel_id)
        .order_by(FunnelStep.position, StepOffer.role != "main", StepOffer.position).limit(1)).scalar()
    return codes, (currency or "").upper()


def tag(codes: dict[str, str], funnel_id, currency: str = "") -> str:
    """The script tag of these pixels (every value escaped, though the patterns allow no markup)."""
    if not codes:
        return ""
    data = {**{key: codes[key] for key in PROVIDERS if key in codes}, "funnel": str(funnel_id)}
    if currency:
        data["currency"] = currency
    attributes = " ".join(f'data-{name}="{escape(value)}"' for name, value in data.items())
    return f'<script async src="{SCRIPT_URL}?v={script_version()}" {attributes} data-lf-pixels></script>'


def csp_sources(codes: dict[str, str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """((directive, (host, ...)), ...) the CSP of a page with these pixels adds, each directive once."""
    merged: dict[str, list[str]] = {}
    for key in PROVIDERS:
        if key not in codes:
            continue
        for directive, hosts in PROVIDERS[key].hosts:
            bucket = merged.setdefault(directive, [])
            bucket.extend(host for host in hosts if host not in bucket)
    return tuple((directive, tuple(hosts)) for directive, hosts in merged.items())


def extras_of(funnel_id) -> serving.PageExtras | None:
    codes, currency = funnel_pixels(funnel_id)
    if not codes:
        return None
    return serving.PageExtras(html=tag(codes, funnel_id, currency), csp=csp_sources(codes))


@serving.page_extras_provider
def page_extras(funnel_id: str, step_id: str) -> serving.PageExtras | None:
    """The site's hook: what a published page of this funnel gets (the same for each of its steps)."""
    return extras_of(funnel_id)


@dataclass
class Preview:
    funnel: Funnel | None
    html: str  # exactly what the funnel's published pages get at the end of their <head> ("" for nothing)
    csp: tuple  # what their CSP adds
    policy: str  # their whole Content-Security-Policy


def preview(account, funnel: Funnel) -> Preview:
    extras = extras_of(funnel.id)
    sources = extras.csp if extras else ()
    policy = dict(serving.security_headers(sources))["Content-Security-Policy"]
    return Preview(funnel=funnel, html=extras.html if extras else "", csp=sources, policy=policy)


# ---- the script ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _script_hash(path: str, mtime: float) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:12]


def script_version() -> str:
    """A short hash of static/site/pixels.js: its URL changes with the file, so browsers never keep an old one."""
    path = os.path.join(current_app.static_folder, SCRIPT)
    return _script_hash(path, os.path.getmtime(path))


# A pixel's change, and a change of what a funnel sells (the currency in the tag), renew the site's cache.
site_cache.watch("TrackingPixel", ("provider", "pixel_code", "is_active", "funnel_id"))
site_cache.watch("StepOffer", ("price_id", "step_id", "role", "position"))
