"""Serving published pages: the host dispatch (a WSGI layer in front of Flask) and the page lookup.

Hosts. SITE_URL's host and the funnels' custom domains are the published site; every other host is the
app. `SiteDispatcher` decides per request, before Flask does anything:
- on an app host it hands the request to Flask untouched (the app never serves published pages: its
  URL map has no page route, and the site's routes refuse requests that did not come through here);
- on a site host, a GET/HEAD of a page path whose response is cached (and current, see app/site/cache.py)
  is answered right here: no Flask request, no session, no user, no database; 304 on If-None-Match.
- every other site request (cache miss, form post, /_assets/, /_site.js, /_track.js, anything else) goes to Flask
  with its path prefixed by /_site, where only the site blueprint's routes (app/site/views.py) match:
  an app URL on the site host (/login, /contacts) is therefore the site's own 404, never the app.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import logging
import os
import time
import uuid
from functools import lru_cache
from urllib.parse import urlsplit

from flask import current_app, render_template
from markupsafe import escape
from sqlalchemy import select

from app.funnels.publishing import FORM_TOKEN_SLOT, etag_of, visible_document
from app.funnels.slugs import DOMAIN_PATTERN
from app.site.cache import Entry, SiteCache

log = logging.getLogger(__name__)

PREFIX = "/_site"
SITE_FLAG = "leadforge.site"  # environ: "site" for SITE_URL's host, else the custom domain
VERSION_FLAG = "leadforge.site_version"
PAGE_CACHE_CONTROL = "public, max-age=0, must-revalidate"
CSP = ("default-src 'none'; img-src https: data: 'self'; style-src 'unsafe-inline'; script-src 'self'{stripe}; "
       "connect-src 'self'{stripe_api}{track}; "
       "frame-src https://www.youtube-nocookie.com https://player.vimeo.com{stripe}; "
       "media-src https: 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# Stripe's documented needs for Stripe.js (the order form's card field and the bank's authentication).
STRIPE_HOSTS = " https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com"
OTHER_SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
]
HTML_TYPE = "text/html; charset=utf-8"
UNKNOWN = object()  # the cache version, not asked yet
NOT_FOUND_KEY = ("", "404")  # no host is "": never an address's key
GZIP_MIN_BYTES = 1024
TOKEN_REFRESH_SECONDS = 3600  # cached pages with forms get new tokens hourly (tokens live 24 h)
VISITOR_COOKIE = "lf_vid"  # the visitor's id (a UUID), set by the tracking script, or here on a split test
VISITOR_COOKIE_ATTRIBUTES = "; Max-Age=63072000; Path=/; SameSite=Lax"  # two years
TRACK_SCRIPT = "site/track.js"  # under static/: the tracker every published page loads (see TRACKER below)
TRACK_SCRIPT_URL = "/_track.js"  # served by the site host itself (script-src 'self')
TRACK_PATH = "/api/v1/analytics/track"  # the endpoint, on the app's host (app/analytics/tracking.py)


# ---- hosts --------------------------------------------------------------------------------------------

def _netloc(url: str) -> str:
    parts = urlsplit(url or "")
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def _hostname(host: str) -> str:
    """The Host header without its port."""
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if ":" in host else host


def _normal_host(host: str, scheme: str) -> str:
    host = host.strip().lower().rstrip(".")
    default = ":443" if scheme == "https" else ":80"
    return host[: -len(default)] if host.endswith(default) else host


def _load_domains(app) -> frozenset:
    from app.funnels.models import Funnel

    reserved = {_hostname(_netloc(app.config.get("SITE_URL", ""))), _hostname(_netloc(app.config.get("BASE_URL", "")))}
    with app.app_context():
        from app.extensions import db

        rows = db.session.execute(select(Funnel.custom_domain).where(
            Funnel.custom_domain.is_not(None), Funnel.deleted_at.is_(None))).scalars()
        # A funnel can never take over the app's (or the site's) own host.
        return frozenset(domain for domain in rows if domain and domain not in reserved)


# ---- responses ----------------------------------------------------------------------------------------

def _origin(url: str) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


@lru_cache(maxsize=8)
def _site_csp(stripe_js_url: str, stripe_api_base: str, base_url: str = "") -> str:
    """The published pages' CSP: their own scripts, Stripe.js where it is served from (Stripe, or
    localstripe in development and tests, whose fake Stripe.js calls its own API from the page), and the
    tracker's beacons to the track endpoint on the app's host (BASE_URL)."""
    js_origin = _origin(stripe_js_url)
    stripe = STRIPE_HOSTS if js_origin == "https://js.stripe.com" else f" {js_origin}" if js_origin else ""
    api = " https://api.stripe.com" if js_origin == "https://js.stripe.com" else f" {_origin(stripe_api_base)}"
    track = _origin(base_url)
    return CSP.format(stripe=stripe, stripe_api=api.rstrip() if api.strip() else "",
                      track=f" {track}" if track and track not in api.split() else "")


@lru_cache(maxsize=64)
def with_sources(csp: str, sources: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    """The policy with more sources in some of its directives: ((directive, (source, ...)), ...). A source
    the directive has already is not repeated; a directive the policy lacks is added."""
    directives = [part.strip() for part in csp.split(";") if part.strip()]
    for name, extra in sources:
        for index, directive in enumerate(directives):
            words = directive.split()
            if words[0] == name:
                directives[index] = " ".join([*words, *(source for source in extra if source not in words)])
                break
        else:
            directives.append(" ".join([name, *extra]))
    return "; ".join(directives)


def security_headers(csp_sources: tuple = ()) -> list[tuple[str, str]]:
    """The published pages' security headers; `csp_sources` are the page's extra CSP sources (PageExtras)."""
    config = current_app.config
    csp = _site_csp(config.get("STRIPE_JS_URL") or "", config.get("STRIPE_API_BASE") or "",
                    config.get("BASE_URL") or "")
    if csp_sources:
        csp = with_sources(csp, csp_sources)
    return [("Content-Security-Policy", csp), *OTHER_SECURITY_HEADERS]


def make_entry(status: int, body: bytes, etag: str = "", cache_control: str = PAGE_CACHE_CONTROL,
               version: str = "", refresh_at: float = float("inf"), vary_cookie: bool = False,
               csp_sources: tuple = ()) -> Entry:
    """A response with every header computed once: plain and gzip'd bodies, and the 304's headers.
    `vary_cookie`: the answer depends on the visitor's cookie (a split test's variant). `csp_sources`: what
    the page's CSP allows beyond the site's (PageExtras.csp)."""
    from http import HTTPStatus

    base = [("Content-Type", HTML_TYPE), ("Cache-Control", cache_control), *security_headers(csp_sources)]
    gzip_body = gzip.compress(body, 6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    vary = [name for name, wanted in (("Accept-Encoding", gzip_body is not None), ("Cookie", vary_cookie)) if wanted]
    if vary:
        base.append(("Vary", ", ".join(vary)))
    tagged = [("ETag", f'"{etag}"')] if etag else []
    entry = Entry(status=f"{status} {HTTPStatus(status).phrase}",
                  headers=base + tagged + [("Content-Length", str(len(body)))], body=body,
                  etag=etag, gzip_body=gzip_body, refresh_at=refresh_at, version=version or "")
    if gzip_body is not None:
        entry.extra["gzip_headers"] = base + ([("ETag", f'"{etag}-gz"')] if etag else []) + [
            ("Content-Encoding", "gzip"), ("Content-Length", str(len(gzip_body)))]
    entry.extra["not_modified"] = [(k, v) for k, v in base if k not in ("Content-Type",)] + tagged
    return entry


def _matches(if_none_match: str, etag: str) -> str:
    """The ETag (as sent) that the If-None-Match header names, or ""."""
    for candidate in if_none_match.split(","):
        candidate = candidate.strip().removeprefix("W/").strip('"')
        if candidate == "*" or candidate == etag:
            return etag
        if candidate == etag + "-gz":
            return candidate
    return ""


def choose(entry: Entry, environ) -> tuple[str, list, bytes]:
    """(status, headers, body) for this request: 304, gzip'd or plain; no body for HEAD. An address with a
    running split test answers the visitor's variant (`choose_variant`)."""
    if entry.split is not None:
        return choose_variant(entry.split, environ)
    if entry.etag:
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match:
            matched = _matches(if_none_match, entry.etag)
            if matched:
                headers = [(k, v) for k, v in entry.extra["not_modified"] if k != "ETag"] + [("ETag", f'"{matched}"')]
                return "304 Not Modified", headers, b""
    if entry.gzip_body is not None and "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
        status, headers, body = entry.status, entry.extra["gzip_headers"], entry.gzip_body
    else:
        status, headers, body = entry.status, entry.headers, entry.body
    return status, headers, b"" if environ.get("REQUEST_METHOD") == "HEAD" else body


# ---- split tests ---------------------------------------------------------------------------------------
# A step with a running split test: its address's cached entry holds every variant's response and the
# cumulative weights (`Split`). Per request, the visitor's id (cookie lf_vid; made and set when missing or
# not a UUID) and the test's id are hashed to a number in [0, 100) that falls in one variant's share: at
# random by weight across visitors, the same variant for a visitor at every visit, in every process,
# without storing anything. Each variant's response says `Vary: Cookie` and has an ETag of its own.

@dataclasses.dataclass(frozen=True)
class Split:
    test_id: str
    bounds: tuple[int, ...]  # cumulative weights: variant i takes [bounds[i-1], bounds[i]) of [0, total)
    entries: tuple[Entry, ...]  # the variants' responses, in the same order
    variant_ids: tuple[str, ...]

    @property
    def total(self) -> int:
        return self.bounds[-1]


def visitor_cookie(environ) -> str | None:
    """The visitor id of the request's lf_vid cookie, normalised, or None when missing or not a UUID."""
    header = environ.get("HTTP_COOKIE")
    if not header or VISITOR_COOKIE not in header:
        return None
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == VISITOR_COOKIE:
            try:
                return str(uuid.UUID(value.strip().strip('"')))
            except ValueError:
                return None
    return None


def bucket(test_id: str, visitor_id: str) -> int:
    """The visitor's place in [0, 100) for this test: a hash, uniform across visitors, fixed for one."""
    digest = hashlib.blake2b(f"{test_id}:{visitor_id}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") * 100) >> 64


def pick(split: Split, visitor_id: str) -> int:
    """The index of the visitor's variant."""
    place = bucket(split.test_id, visitor_id)
    if split.total != 100:  # some variant is not published: the others share the traffic by their weights
        place = place * split.total // 100
    for index, bound in enumerate(split.bounds):
        if place < bound:
            return index
    return len(split.bounds) - 1


def _secure(environ) -> bool:
    return environ.get("wsgi.url_scheme") == "https" or environ.get("HTTP_X_FORWARDED_PROTO", "").startswith("https")


def choose_variant(split: Split, environ) -> tuple[str, list, bytes]:
    """The visitor's variant's response; with a Set-Cookie of a new visitor id when they had none."""
    visitor_id = visitor_cookie(environ)
    new_visitor = visitor_id is None
    if new_visitor:
        visitor_id = str(uuid.uuid4())
    status, headers, body = choose(split.entries[pick(split, visitor_id)], environ)
    if new_visitor:
        cookie = f"{VISITOR_COOKIE}={visitor_id}{VISITOR_COOKIE_ATTRIBUTES}" + ("; Secure" if _secure(environ) else "")
        headers = [*headers, ("Set-Cookie", cookie)]
    return status, headers, body


def split_entry(control: Entry, test_id, variants: list[tuple[str, int, Entry]]) -> Entry:
    """The address's entry for a running test: the control's, holding every variant's (id, weight, entry)."""
    bounds, total = [], 0
    for _, weight, _ in variants:
        total += weight
        bounds.append(total)
    split = Split(test_id=str(test_id), bounds=tuple(bounds), entries=tuple(entry for _, _, entry in variants),
                  variant_ids=tuple(str(variant_id) for variant_id, _, _ in variants))
    refresh_at = min(entry.refresh_at for _, _, entry in variants)
    return dataclasses.replace(control, split=split, refresh_at=refresh_at)


# ---- the dispatcher -----------------------------------------------------------------------------------

class SiteDispatcher:
    """WSGI middleware: app.wsgi_app = SiteDispatcher(app, app.wsgi_app)."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.cache: SiteCache = app.extensions["site_cache"]
        self.site_host = _netloc(app.config["SITE_URL"])
        self.app_host = _netloc(app.config.get("BASE_URL", ""))
        if self.site_host == self.app_host:
            log.warning("SITE_URL and BASE_URL have the same host: published pages would share the app's origin")

    def __call__(self, environ, start_response):
        host = _normal_host(environ.get("HTTP_HOST", ""), environ.get("wsgi.url_scheme", "http"))
        version = UNKNOWN
        if host == self.site_host:
            kind = "site"
        else:
            domain = _hostname(host)
            if host == self.app_host or not DOMAIN_PATTERN.match(domain):
                return self.wsgi_app(environ, start_response)  # the app (no Redis round trip)
            version = self.cache.version()
            if domain not in self._domains(version):
                return self.wsgi_app(environ, start_response)  # the app, on another of its names
            kind = domain
        path = environ.get("PATH_INFO") or "/"
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and not path.startswith(("/_", "/static/")):
            # A page: the one Redis round trip (the cache version) happens here, not for assets or forms.
            if version is UNKNOWN:
                version = self.cache.version()
            entry = self.cache.get((kind, normal_path(path)), version)
            if entry is not None:
                status, headers, body = choose(entry, environ)
                start_response(status, headers)
                return [body]
            environ[VERSION_FLAG] = version
        environ[SITE_FLAG] = kind
        environ["PATH_INFO"] = PREFIX + path
        return self.wsgi_app(environ, start_response)

    def _domains(self, version) -> frozenset:
        cached = self.cache.domains
        if cached is not None and cached[0] == version and version is not None:
            return cached[1]
        try:
            domains = _load_domains(self.app)
        except Exception:
            log.exception("site: cannot load the custom domains")
            return frozenset()
        self.cache.domains = (version, domains)
        return domains


def normal_path(path: str) -> str:
    """"/a/b/" and "/a//b" are "/a/b"."""
    return "/" + "/".join(part for part in path.split("/") if part)


# ---- the tracker --------------------------------------------------------------------------------------
# TRACKER. Every published page loads static/site/track.js (served at /_track.js?v=<hash>, cached a year):
# its script tag is added when the page's cached entry is built (`page_entry`), so serving costs nothing
# more per request. The tag says which funnel, step, page and split variant the page is, the funnel's
# step ids in order with their public addresses (data-steps, data-urls: how a link is known to lead to a
# later or an earlier step), whether the workspace respects Do-Not-Track, and the endpoint (BASE_URL +
# TRACK_PATH, which the CSP's connect-src allows). Static exports leave it out (app/site/export.py).
#
# What the script does (the wire format is app/analytics/tracking.py's):
# - cookies on the site host, read by the checkout too: lf_vid = the visitor's UUID (2 years; new_visitor
#   when made now, or when this browser has not seen that id before: the site sets lf_vid itself on a
#   split test's first view), lf_ses = "<session UUID>|<source>|<utm_medium>|<utm_campaign>" (Max-Age
#   1800, set again at each send: 30 minutes without events end a session). A session starts when there
#   is none, or when the visitor comes with another source (a new campaign). The source is utm_source,
#   else the referrer's host when it is another site ("www." left out), else "direct"; it and the UTM
#   medium and campaign are those of the session's first page, sent with every event of the session.
# - on load, one request: page_view (session_start, new_visitor) and step_entry (previous_step_id: the
#   step this tab showed before in the same session and funnel, kept in sessionStorage).
# - on leave (pagehide, or the tab hidden: whichever comes first, once; time_on_step_seconds counts the
#   time the page was visible), one request: step_exit with exit_outcome
#     forward   a form sent (a form_submit conversion too, for the site's opt-in forms), an order paid
#               (checkout.js dispatches "lf:purchase": a purchase conversion with value_cents and
#               metadata.order_id; the server records it too, counted once per order), or a link to a later
#               step followed; next_step_id is that step (a form's: the next step);
#     backward  a link to an earlier step followed;
#     bounce    a link to another site followed (exit_reason "external_link"), or the page left without
#               any interaction: no click, key, scroll or typing ("no_interaction");
#     close     the tab closed or hidden after some interaction; exit_reason "form_abandoned" when a form
#               field was typed in, else "scrolled_less_than_25" (less than a quarter of the page seen)
#               or "no_action".
#   A tab hidden, then shown again and used, has already reported its exit (reporting "once" is what
#   makes mobile browsers, which may discard a hidden tab without pagehide, count their exits).
# - back to a page from the browser's page cache: a new page_view and step_entry.
# - batches: every event of a moment in one request (sendBeacon with a text/plain Blob: no CORS preflight;
#   else fetch with keepalive, no credentials); Do-Not-Track honoured in the browser when the workspace
#   asks (data-dnt="1"), as the endpoint does; visitor and session ids are crypto.randomUUID()s (secure
#   contexts: https, or localhost in development; elsewhere the script does nothing). It never throws
#   into the page and sends nothing the page did not do.

@dataclasses.dataclass(frozen=True)
class Tracking:
    """What a published page's tracker tag says of its funnel (from `find_published`'s row)."""

    funnel_id: str
    step_id: str
    step_ids: tuple[str, ...]  # the funnel's steps in order
    step_urls: tuple[str, ...]  # their public addresses, in the same order
    dnt: bool  # the workspace respects Do-Not-Track


def tracking_of(row) -> Tracking:
    """The Tracking of `find_published`'s row: its steps column is "position:id:slug,..." (any order)."""
    from types import SimpleNamespace

    from app.funnels.publishing import public_url

    funnel = SimpleNamespace(slug=row.funnel_slug, custom_domain=row.custom_domain)
    steps = sorted((int(position), str(uuid.UUID(step_id)), slug) for position, step_id, slug in (
        item.split(":", 2) for item in (row.steps or "").split(",") if item.count(":") >= 2))
    return Tracking(funnel_id=str(row.funnel_id), step_id=str(row.step_id),
                    step_ids=tuple(step_id for _, step_id, _ in steps),
                    step_urls=tuple(public_url(SimpleNamespace(slug=slug, funnel=funnel)) for _, _, slug in steps),
                    dnt=bool(row.respect_dnt))


@lru_cache(maxsize=2)
def _track_file(path: str, mtime: float) -> tuple[bytes, str]:
    with open(path, "rb") as handle:
        data = handle.read()
    return data, hashlib.sha256(data).hexdigest()[:12]


def track_script() -> tuple[bytes, str]:
    """The tracker's bytes and a short hash of them (its URL carries the hash: cached for a year)."""
    path = os.path.join(current_app.static_folder, TRACK_SCRIPT)
    return _track_file(path, os.path.getmtime(path))


def tracker_tag(tracking: Tracking, page_id, variant_id=None) -> str:
    endpoint = (current_app.config.get("BASE_URL") or "").rstrip("/") + TRACK_PATH
    data = {"endpoint": endpoint, "funnel": tracking.funnel_id, "step": tracking.step_id, "page": str(page_id),
            "variant": str(variant_id or ""), "steps": ",".join(tracking.step_ids),
            "urls": ",".join(tracking.step_urls), "dnt": "1" if tracking.dnt else "0"}
    attributes = " ".join(f'data-{name}="{escape(value)}"' for name, value in data.items())
    return f'<script defer src="{TRACK_SCRIPT_URL}?v={track_script()[1]}" {attributes}></script>'


def with_tracker(document: str, tracking: Tracking, page_id, variant_id=None) -> str:
    """The document with the tracker's tag at the end of its body."""
    tag = tracker_tag(tracking, page_id, variant_id)
    index = document.rfind("</body>")
    return document + tag if index < 0 else f"{document[:index]}{tag}\n{document[index:]}"


# ---- what other domains add to a published page ---------------------------------------------------------
# EXTRAS. A higher package that must add markup to the published pages (integrations: the tracking pixels'
# script tag) registers a provider with `page_extras_provider`; site never imports it. When a page's cached
# entry is built (`entry_for`), each provider is asked once for the page's funnel and step: its markup goes
# at the end of the document's <head> and the sources it names are added to the page's CSP, so a page
# without extras keeps the site's policy unchanged. A provider must also make its rows' changes renew the
# cache version (`app.site.cache.watch`). A provider that fails is logged and left out: the page is served.

@dataclasses.dataclass(frozen=True)
class PageExtras:
    html: str = ""  # markup for the end of <head>: built by the provider, escaped there (trusted here)
    csp: tuple[tuple[str, tuple[str, ...]], ...] = ()  # ((directive, (source, ...)), ...) the CSP adds

    def __bool__(self) -> bool:
        return bool(self.html or self.csp)


_extras_providers: list = []


def page_extras_provider(func):
    """Register func(funnel_id: str, step_id: str) -> PageExtras | None, asked when a published page's
    cached entry is built (app/integrations/pixels.py registers the tracking pixels). A decorator."""
    if func not in _extras_providers:
        _extras_providers.append(func)
    return func


def page_extras(funnel_id: str, step_id: str) -> PageExtras:
    """What every registered provider adds to this step's published page, together."""
    html, csp = [], []
    for provider in list(_extras_providers):
        try:
            extras = provider(funnel_id, step_id)
        except Exception:
            log.exception("site: a page extras provider failed; the page is served without its extras")
            continue
        if extras and extras.html:
            html.append(extras.html)
        if extras:
            csp.extend(extras.csp)
    return PageExtras(html="\n".join(html), csp=tuple(csp))


def with_extras(document: str, extras: PageExtras | None) -> str:
    """The document with the extras' markup at the end of its head."""
    if not extras or not extras.html:
        return document
    index = document.find("</head>")
    return extras.html + document if index < 0 else f"{document[:index]}{extras.html}\n{document[index:]}"


# ---- the lookup (inside a Flask request: app context, database) ---------------------------------------

def _page_query(kind: str, segments: list[str]):
    from sqlalchemy import String, cast, func
    from sqlalchemy.orm import aliased

    from app.auth.models import Account
    from app.funnels.models import Funnel, FunnelStep, Page, SplitTest
    from app.funnels.slugs import SLUG_PATTERN

    if kind == "site":
        if not 1 <= len(segments) <= 2:
            return None
        funnel_condition = Funnel.slug == segments[0]
        step_slug = segments[1] if len(segments) == 2 else None
    else:
        if len(segments) > 1:
            return None
        funnel_condition = Funnel.custom_domain == kind
        step_slug = segments[0] if segments else None
    if not all(SLUG_PATTERN.match(slug) for slug in segments):
        return None  # not a slug: no query
    # The step's own page (a split test's variant pages have no address), and its running test if any.
    running_test = (select(SplitTest.id).where(SplitTest.step_id == FunnelStep.id, SplitTest.status == "running")
                    .correlate(FunnelStep).limit(1).scalar_subquery())
    # What the tracker's tag says (`tracking_of`): the funnel's steps as "position:id:slug", in one string.
    other = aliased(FunnelStep)
    steps = (select(func.aggregate_strings(
        cast(other.position, String) + ":" + cast(other.id, String) + ":" + other.slug, ","))
        .where(other.funnel_id == Funnel.id).correlate(Funnel).scalar_subquery())
    query = (select(Page.id, Page.published_html, Page.published_etag, running_test.label("test_id"),
                    Page.step_id, FunnelStep.funnel_id, Funnel.slug.label("funnel_slug"), Funnel.custom_domain,
                    Account.analytics_respect_dnt.label("respect_dnt"), steps.label("steps"))
             .join(FunnelStep, Page.step_id == FunnelStep.id).join(Funnel, FunnelStep.funnel_id == Funnel.id)
             .join(Account, Account.id == Funnel.account_id)
             .where(funnel_condition, Page.is_variant.is_(False), Funnel.deleted_at.is_(None),
                    Funnel.status != "archived"))
    if step_slug is not None:
        return query.where(FunnelStep.slug == step_slug).limit(1)
    return query.order_by(FunnelStep.position).limit(1)  # the funnel's address is its first step


def find_published(kind: str, path: str):
    """(page id, stored document, stored etag, running split test id or None, and what the tracker's tag
    needs: step_id, funnel_id, funnel_slug, custom_domain, respect_dnt, steps) of the page live at this
    address, or None."""
    from app.extensions import db

    query = _page_query(kind, [part for part in path.split("/") if part])
    if query is None:
        return None
    row = db.session.execute(query).first()
    if row is None or row.published_html is None:
        return None
    return row


def fill_tokens(document: str, page_id: str, export: bool = False) -> str:
    """The document with a fresh token in each form's slot (a static export's live a year)."""
    from app.site.submissions import mint_token

    return FORM_TOKEN_SLOT.sub(lambda match: mint_token(page_id, match[1], export=export), document)


def page_entry(page_id, stored: str, stored_etag: str, version: str = "", variant_id=None,
               tracking: Tracking | None = None, extras: PageExtras | None = None) -> Entry:
    """The response of a published page. `variant_id`: the page is served as this variant of a running
    split test (the tracker's script tag carries it as data-variant): its answer varies with the visitor's
    cookie and its ETag is its own. `tracking`: the page gets the tracker's tag (TRACKER above). `extras`:
    what other domains add (EXTRAS above): markup in the head, sources in the CSP."""
    document = visible_document(stored)
    if tracking is not None:
        document = with_tracker(document, tracking, page_id, variant_id)
        stored_etag = ""  # not the stored document any more
    if extras:
        document = with_extras(document, extras)
        stored_etag = ""
    if FORM_TOKEN_SLOT.search(document):
        body = fill_tokens(document, str(page_id)).encode("utf-8")
        etag, refresh_at = etag_of(body), time.monotonic() + TOKEN_REFRESH_SECONDS
    else:
        body, etag, refresh_at = document.encode("utf-8"), stored_etag or etag_of(document), float("inf")
    if variant_id:
        etag = etag_of(body + f":{variant_id}".encode())
    return make_entry(200, body, etag, version=version, refresh_at=refresh_at, vary_cookie=bool(variant_id),
                      csp_sources=extras.csp if extras else ())


def split_test_entry(row, version: str = "", tracking: Tracking | None = None,
                     extras: PageExtras | None = None) -> Entry:
    """The entry of an address whose step has a running split test (row: find_published's): every
    published variant's response and weight. A variant whose page is not published is left out (the others
    share its traffic by their weights; the test's page says so)."""
    from app.extensions import db
    from app.funnels.models import Page, SplitVariant

    variants = db.session.execute(
        select(SplitVariant.id, SplitVariant.weight, SplitVariant.page_id, Page.published_html, Page.published_etag)
        .join(Page, Page.id == SplitVariant.page_id).where(SplitVariant.test_id == row.test_id)
        .order_by(SplitVariant.position)).all()
    served = []
    for variant in variants:
        stored, stored_etag = variant.published_html, variant.published_etag
        if variant.page_id == row.id:  # the control: the step's page as just read
            stored, stored_etag = row.published_html, row.published_etag
        if stored is None or variant.weight <= 0:
            continue
        served.append((variant.id, variant.weight,
                       page_entry(variant.page_id, stored, stored_etag, version, variant_id=variant.id,
                                  tracking=tracking, extras=extras)))
    if not served:
        return page_entry(row.id, row.published_html, row.published_etag, version, tracking=tracking,
                          extras=extras)
    return split_entry(served[0][2], row.test_id, served)


ERRORS = {
    400: ("This form could not be sent", "The form's security token is not valid. Open the page again and resend it."),
    404: ("Page not found", "This page does not exist or is no longer online. Check the address, or go back "
                            "to where you came from."),
    405: ("Not allowed", "This address does not accept that kind of request."),
    413: ("Too much data", "What was sent is larger than allowed."),
    429: ("Too many attempts", "This form was sent too many times in a short time. Wait a minute, then try again."),
    500: ("Something went wrong", "We hit an error on our side and have logged it. Please try again in a moment."),
}


def error_body(status: int, message: str | None = None, back_url: str = "") -> bytes:
    from app.pages.render import site_stylesheet

    title, default = ERRORS.get(status, ERRORS[500] if status >= 500 else ERRORS[404])
    return render_template("site/error.html", status=status, title=title, message=message or default,
                           back_url=back_url, site_css=site_stylesheet()).encode("utf-8")


def not_found_entry(version: str = "") -> Entry:
    return make_entry(404, error_body(404), cache_control="no-cache", version=version)


def entry_for(kind: str, path: str, version: str | None) -> Entry:
    """The cached response of a site address, or a fresh one (then cached under `version`)."""
    cache: SiteCache = current_app.extensions["site_cache"]
    key = (kind, normal_path(path))
    entry = cache.get(key, version)
    if entry is not None:
        return entry
    row = find_published(kind, key[1])
    if row is None:
        # One 404 per version, not one per address: random paths (scanners) must not push pages out.
        entry = cache.get(NOT_FOUND_KEY, version)
        if entry is None:
            entry = not_found_entry(version or "")
            cache.put(NOT_FOUND_KEY, entry)
        return entry
    tracking = tracking_of(row)
    extras = page_extras(str(row.funnel_id), str(row.step_id))
    if row.test_id is not None:
        entry = split_test_entry(row, version or "", tracking, extras)
    else:
        entry = page_entry(row.id, row.published_html, row.published_etag, version or "", tracking=tracking,
                           extras=extras)
    cache.put(key, entry)
    return entry


def site_only(view):
    """The route answers only requests routed by the SiteDispatcher (site host or custom domain): the site's
    routes (app/site/views.py) and the checkout's (app/orders/views/checkout.py)."""
    from functools import wraps

    from flask import abort, request

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not request.environ.get(SITE_FLAG):
            abort(404)
        return view(*args, **kwargs)

    return wrapper


def site_kind() -> str:
    """"site" on SITE_URL's host, else the custom domain the request came to."""
    from flask import request

    return request.environ.get(SITE_FLAG, "")


def live_page(page_id):
    """The published page a visitor posted to (a form, the checkout), served on this host; else 404."""
    from flask import abort
    from sqlalchemy.orm import joinedload

    from app.extensions import db
    from app.funnels.models import FunnelStep, Page

    # One query for the page, its step and its funnel (what every visitor's post reads next).
    page = db.session.get(Page, page_id, options=[joinedload(Page.step).joinedload(FunnelStep.funnel)])
    if page is None or page.published_html is None:
        abort(404)
    funnel = page.step.funnel
    if funnel.deleted_at is not None or funnel.status == "archived":
        abort(404)
    if site_kind() != "site" and site_kind() != funnel.custom_domain:
        abort(404)
    return page


def published_page_source(page):
    """A stand-in for the page as it was published (tree and settings), for validation and re-rendering."""
    import types

    from app.funnels.publishing import published_source

    source = published_source(page.published_html) or {}
    return types.SimpleNamespace(
        id=page.id, account_id=page.account_id, funnel_id=page.funnel_id, step_id=page.step_id, step=page.step,
        revision=page.published_revision, tree=source.get("tree") or page.tree,
        title=source.get("title", page.title), seo_title=source.get("seo_title", page.seo_title),
        seo_description=source.get("seo_description", page.seo_description),
        og_image_id=source.get("og_image_id") or None, favicon_id=source.get("favicon_id") or None)


def find_form(tree: dict, form_id: str, types: tuple[str, ...]) -> dict | None:
    """The element of one of `types` with this id in the page's tree."""
    from app.pages import tree as trees

    for element, _, _ in trees.walk(tree):
        if element.get("type") in types and element["id"] == form_id:
            return element
    return None


def install(app) -> None:
    """Called by create_app: the site cache and the dispatcher in front of Flask."""
    from app.site.cache import init_app

    init_app(app)
    app.wsgi_app = SiteDispatcher(app, app.wsgi_app)
