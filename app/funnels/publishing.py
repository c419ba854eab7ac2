"""Publishing: the checks a page must pass (`problems`), then its tree rendered once into a whole HTML
document, stored with the page and served as it is to visitors on the site host (app/site); a page or a
whole funnel. Unpublishing clears the stored document. Also the public addresses of funnels and steps.

The stored document is what visitors get, except for two things, both about forms:
- each form's anti-bot token, which must be fresh, is stored as a placeholder
  (``{{lf-form-token:<form id>}}``) that the site fills in when it caches the page (app/site/serving.py);
- a page with a form ends with a comment holding the published source (tree and settings,
  `versions.page_snapshot`), cut off before serving: a visitor's submission is validated, and
  re-rendered with its errors, against the page as published, not against later draft edits.
`published_etag` is the sha256 of the visible document; the site answers the sha256 of the bytes it
actually sends (the same for a page without a form).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import current_app
from markupsafe import escape
from sqlalchemy import select

from app.assets import services as asset_services
from app.assets.models import Asset
from app.core import audit, events
from app.core.db import utcnow
from app.core.errors import ValidationError
from app.extensions import db
from app.funnels.models import Page, SplitTest, SplitVariant
from app.funnels.services import next_step
from app.funnels.versions import page_snapshot
from app.pages import tree as trees
from app.pages.elements import CONTACT_FIELDS, FORM_TYPES, element_type, video_embed
from app.pages.render import (
    RenderContext,
    checkout_stylesheet,
    render_tree,
    site_script_version,
    site_stylesheet,
)

FORM_TOKEN_SLOT = re.compile(r"\{\{lf-form-token:([A-Za-z0-9_-]+)\}\}")
CHECKOUT_SCRIPT = "/static/site/checkout.js"  # served by the site host
SITE_SCRIPT_URL = "/_site.js"  # served by the site host itself, so that CSP script-src 'self' allows it
SOURCE_MARK = "<!--lf-source:"
SCRIPTED_TYPES = {"form", "order_form", "offer_buttons", "countdown_timer", "countdown_evergreen"}
CHECKOUT_TYPES = {"order_form", "offer_buttons"}  # pages that also load the checkout script
IMAGE_TYPES = ("image", "gif")


class PublishRefused(ValidationError):
    """Publishing refused: `problems` lists what is wrong, [{"element_id", "type", "message"}], with
    "step_id" and "step_name" too when a whole funnel was being published."""

    def __init__(self, problems: list[dict], message: str | None = None):
        count = len(problems)
        super().__init__(message or f"Fix {count} problem{'' if count == 1 else 's'} before publishing.")
        self.problems = problems


# ---- addresses ----------------------------------------------------------------------------------------

def site_origin(funnel=None) -> str:
    """The origin a funnel's pages are published on: its custom domain (with SITE_URL's scheme) or SITE_URL."""
    site_url = current_app.config["SITE_URL"].rstrip("/")
    if funnel is not None and funnel.custom_domain:
        return f"{urlsplit(site_url).scheme or 'https'}://{funnel.custom_domain}"
    return site_url


def funnel_address(funnel) -> str:
    """Where visitors open the funnel: its custom domain (its root is the first step), or SITE_URL/<slug>."""
    return site_origin(funnel) + ("" if funnel.custom_domain else f"/{funnel.slug}")


def public_path(step) -> str:
    """The step's path on its host: /<step slug> on a custom domain, else /<funnel slug>/<step slug>."""
    if step.funnel.custom_domain:
        return f"/{step.slug}"
    return f"/{step.funnel.slug}/{step.slug}"


def public_url(step) -> str:
    """SITE_URL/<funnel slug>/<step slug>, or https://<custom domain>/<step slug>."""
    return site_origin(step.funnel) + public_path(step)


def form_action(page: Page) -> str:
    """Where the page's forms post: a path of the host the page is served on (site host or custom domain)."""
    return f"/_forms/{page.id}"


# ---- checks before publishing -------------------------------------------------------------------------

def problems(page: Page) -> list[dict]:
    """What would be wrong on the published page: [{"element_id", "message"}], empty when fine."""
    found = []
    steps = {str(step.id): step for step in page.step.funnel.steps}
    is_last = next_step(page.step) is None

    def link_problem(element, label):
        props = element["props"]
        action = props.get("action")
        if action == "url" and not props.get("url"):
            return f"{label} has no link: enter a web address or choose a step."
        if action == "step" and props.get("step_id") not in steps:
            return f"{label} links to a step that no longer exists."
        if action == "next_step" and is_last:
            return f"{label} goes to the next step, but this is the last step of the funnel."
        return None

    for element, _, _ in trees.walk(page.tree):
        kind, props, label = element["type"], element.get("props", {}), element_type(element["type"]).label
        message = None
        if kind == "button":
            in_form = any(a["type"] in FORM_TYPES for a in trees.ancestors(page.tree, element["id"]))
            if props.get("action") == "submit" and not in_form:
                message = "The button submits a form, but it is not in one."
            elif props.get("action") != "submit":
                message = link_problem(element, "The button")
        elif kind in FORM_TYPES:
            fields = [child for child in element.get("children", [])]
            if not any(child["props"].get("maps_to") == "email" for child in fields):
                message = "The form has no e-mail field: add an input field that saves to E-mail."
            else:
                message = link_problem(element, "The form")
            names = [child["props"].get("maps_to") for child in fields]
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if not message and duplicates:
                message = f"Two fields of the form save to {duplicates[0]}."
        elif kind in ("input_field", "textarea", "dropdown", "checkbox_group"):
            target = props.get("maps_to", "")
            if target not in CONTACT_FIELDS and not target.startswith("custom:"):
                message = f"The {label.lower()} saves to {target!r}, which is not a contact field."
        elif kind in ("image", "gif"):
            if not props.get("alt"):
                message = f"The {label.lower()} has no alt text: describe it for people who cannot see it."
        elif kind == "image_gallery":
            if any(not image.get("alt") for image in props.get("images", [])):
                message = "An image of the gallery has no alt text."
        elif kind == "video" and video_embed(props.get("url", "")) is None:
            message = "The video address is not a YouTube, Vimeo or .mp4 link."
        if message:
            found.append({"element_id": element["id"], "type": kind, "message": message})
    return found


# ---- the document -------------------------------------------------------------------------------------

def _asset_ids(page: Page) -> set:
    ids = {page.og_image_id, page.favicon_id}
    for element, _, _ in trees.walk(page.tree or {}):
        props = element.get("props") or {}
        if element.get("type") in IMAGE_TYPES and props.get("asset_id"):
            ids.add(props["asset_id"])
        for item in props.get("images") or [] if element.get("type") == "image_gallery" else []:
            if item.get("asset_id"):
                ids.add(item["asset_id"])
    return {str(value) for value in ids if value}


def page_assets(page: Page) -> dict[str, Asset]:
    """The account's assets the page uses (images, social image, favicon), by id, in one query."""
    wanted = []
    for value in _asset_ids(page):
        try:
            wanted.append(uuid.UUID(value))
        except ValueError:
            continue
    if not wanted:
        return {}
    rows = db.session.execute(select(Asset).where(Asset.account_id == page.account_id, Asset.id.in_(wanted)))
    return {str(asset.id): asset for asset in rows.scalars()}


def publish_context(page: Page, assets: dict[str, Asset] | None = None) -> RenderContext:
    """The RenderContext of the published page: public step and asset addresses, forms posting to the site."""
    assets = page_assets(page) if assets is None else assets
    following = next_step(page.step)

    def url_of_asset(asset_id: str) -> str:
        asset = assets.get(str(asset_id))
        return asset_services.public_url(asset) if asset is not None else ""

    return RenderContext(
        step_urls={str(step.id): public_url(step) for step in page.step.funnel.steps},
        next_url=public_url(following) if following is not None else "",
        form_action=form_action(page),
        form_token_slots=True,
        asset_url=url_of_asset,
        page_id=str(page.id),
        checkout=True,
    )


def needs_script(tree: dict) -> bool:
    """Only pages with a countdown or a form load site.js (forms: one submit per click)."""
    return any(element.get("type") in SCRIPTED_TYPES for element, _, _ in trees.walk(tree or {}))


def has_form(tree: dict) -> bool:
    return any(element.get("type") in FORM_TYPES for element, _, _ in trees.walk(tree or {}))


def has_checkout(tree: dict) -> bool:
    return any(element.get("type") in CHECKOUT_TYPES for element, _, _ in trees.walk(tree or {}))


def script_url() -> str:
    """/_site.js?v=<hash of the file>: the site serves it with a long cache lifetime."""
    return f"{SITE_SCRIPT_URL}?v={site_script_version()}"


def page_document(page: Page, ctx: RenderContext, assets: dict[str, Asset] | None = None,
                  asset_url: Callable[[Asset], str] | None = None, script_src: str | None = None) -> str:
    """The whole HTML document of the published page: head (title, description, Open Graph and Twitter
    tags, canonical link, favicon, the site CSS inlined: no render-blocking request), the body rendered
    by `render_tree` in publish mode, and site.js (deferred) only when the page needs it."""
    assets = page_assets(page) if assets is None else assets
    asset_url = asset_url or asset_services.public_url
    title = page.seo_title or page.title or page.step.name
    description = page.seo_description
    canonical = public_url(page.step)
    og_image = assets.get(str(page.og_image_id)) if page.og_image_id else None
    favicon = assets.get(str(page.favicon_id)) if page.favicon_id else None
    og_image_url = _absolute(asset_url(og_image)) if og_image is not None else ""
    head = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
    ]
    if description:
        head.append(f'<meta name="description" content="{escape(description)}">')
    head.append(f'<link rel="canonical" href="{escape(canonical)}">')
    head += [
        '<meta property="og:type" content="website">',
        f'<meta property="og:title" content="{escape(title)}">',
        f'<meta property="og:url" content="{escape(canonical)}">',
    ]
    if description:
        head.append(f'<meta property="og:description" content="{escape(description)}">')
    if og_image_url:
        head.append(f'<meta property="og:image" content="{escape(og_image_url)}">')
        if og_image.alt:
            head.append(f'<meta property="og:image:alt" content="{escape(og_image.alt)}">')
    head += [
        f'<meta name="twitter:card" content="{"summary_large_image" if og_image_url else "summary"}">',
        f'<meta name="twitter:title" content="{escape(title)}">',
    ]
    if description:
        head.append(f'<meta name="twitter:description" content="{escape(description)}">')
    if og_image_url:
        head.append(f'<meta name="twitter:image" content="{escape(og_image_url)}">')
    if favicon is not None:
        head.append(f'<link rel="icon" href="{escape(asset_url(favicon))}" type="{escape(favicon.content_type)}">')
    else:
        head.append('<link rel="icon" href="data:,">')  # no favicon: no request for /favicon.ico either
    head.append(f"<style>{site_stylesheet()}</style>")
    if needs_script(page.tree):
        head.append(f'<script src="{escape(script_src or script_url())}" defer></script>')
    if has_checkout(page.tree):  # the order's summary and payment (Stripe.js, loaded by checkout.js)
        head.append(f"<style>{checkout_stylesheet()}</style>")
        head.append(f'<script src="{CHECKOUT_SCRIPT}" defer></script>')
    body = render_tree(page.tree, "publish", ctx)
    html = ("<!doctype html>\n<html lang=\"en\">\n<head>\n" + "\n".join(head) + "\n</head>\n"
            f"<body class=\"lf-body\">\n{body}\n</body>\n</html>\n")
    return html


def _absolute(url: str) -> str:
    """og:image must be absolute: a path is made absolute on SITE_URL."""
    if url.startswith("/"):
        return current_app.config["SITE_URL"].rstrip("/") + url
    return url


def etag_of(document: str | bytes) -> str:
    data = document.encode("utf-8") if isinstance(document, str) else document
    return hashlib.sha256(data).hexdigest()


# ---- publish and unpublish ----------------------------------------------------------------------------

def with_source(document: str, page: Page) -> str:
    """The document plus, for a page with a form, its source in a trailing comment (never served)."""
    if not has_form(page.tree):
        return document
    encoded = base64.b64encode(json.dumps(page_snapshot(page), separators=(",", ":")).encode()).decode()
    return f"{document}{SOURCE_MARK}{encoded}-->\n"


def visible_document(stored: str) -> str:
    """What visitors get of a stored document: it without its trailing source comment."""
    index = stored.rfind(SOURCE_MARK)
    return stored if index < 0 else stored[:index]


def published_source(stored: str) -> dict | None:
    """The page as published (tree and settings) that a stored document with a form carries, or None."""
    index = stored.rfind(SOURCE_MARK)
    if index < 0:
        return None
    encoded = stored[index + len(SOURCE_MARK):].strip().removesuffix("-->")
    try:
        return json.loads(base64.b64decode(encoded))
    except ValueError:
        return None


def _store_document(page: Page) -> None:
    assets = page_assets(page)
    document = page_document(page, publish_context(page, assets), assets)
    page.published_html = with_source(document, page)
    page.published_etag = etag_of(document)
    page.published_revision = page.revision
    page.published_at = utcnow()


def _clear_document(page: Page) -> None:
    page.published_html = page.published_etag = page.published_revision = page.published_at = None


def _after_change(name: str, account, pages: list[Page]) -> None:
    """After the commit (which made the site cache forget, see app/site/cache.py): subscribers hear of it."""
    for page in pages:
        events.publish(name, account_id=account.id, funnel_id=page.funnel_id, step_id=page.step_id, page_id=page.id)


def publish_page(account, page: Page, actor=None) -> Page:
    """Render and store the page's document; PublishRefused (nothing stored) when it has problems."""
    found = problems(page)
    if found:
        raise PublishRefused(found)
    _store_document(page)
    audit.record("page.published", page, f"Page {page.title or page.step.name} published", account=account,
                 user=actor, details={"revision": page.revision})
    db.session.commit()
    _after_change("page.published", account, [page])
    return page


def unpublish_page(account, page: Page, actor=None) -> Page:
    """Offline at once (the site's caches in every process are invalidated)."""
    was_published = page.is_published
    _clear_document(page)
    if was_published:
        audit.record("page.unpublished", page, f"Page {page.title or page.step.name} unpublished",
                     account=account, user=actor)
    db.session.commit()
    if was_published:
        _after_change("page.unpublished", account, [page])
    return page


def running_variants(funnel) -> list[SplitVariant]:
    """The variants (not the controls: those are the steps' own pages) of the funnel's running split tests,
    with their pages. They are published with the funnel and served in place of their step's page
    (app/site/serving.py), never at an address of their own."""
    query = (select(SplitVariant).join(SplitTest, SplitTest.id == SplitVariant.test_id)
             .where(SplitTest.funnel_id == funnel.id, SplitTest.status == "running", SplitVariant.is_control.is_(False))
             .order_by(SplitTest.step_id, SplitVariant.position))
    return list(db.session.execute(query).scalars())


def publish_variant_pages(pages: list[Page]) -> list[Page]:
    """Store the documents of split-test variant pages that pass the checks (the caller commits); those
    that do not stay unpublished (the builder lists their problems). The pages stored are returned."""
    stored = []
    for page in pages:
        if not problems(page):
            _store_document(page)
            stored.append(page)
    return stored


def funnel_problems(funnel) -> list[dict]:
    """The problems of every step's page, each with the step's id and name; and of the variant pages of the
    funnel's running split tests (with the variant's name)."""
    found = []
    for step in funnel.steps:
        for problem in problems(step.page):
            found.append({**problem, "step_id": str(step.id), "step_name": step.name, "page_id": str(step.page.id)})
    for variant in running_variants(funnel):
        page = variant.page
        for problem in problems(page):
            found.append({**problem, "message": f"{variant.name} (split test variant): {problem['message']}",
                          "step_id": str(page.step_id), "step_name": page.step.name, "page_id": str(page.id)})
    return found


def publish_funnel(account, funnel, actor=None):
    """Every step's page, or none: PublishRefused listing the problems of every step."""
    found = funnel_problems(funnel)
    if found:
        steps = len({problem["step_id"] for problem in found})
        problems_count = f"{len(found)} problem{'' if len(found) == 1 else 's'}"
        steps_count = f"{steps} step{'' if steps == 1 else 's'}"
        raise PublishRefused(found, f"Nothing was published: fix {problems_count} on {steps_count} first.")
    pages = [step.page for step in funnel.steps]
    pages += [variant.page for variant in running_variants(funnel)]  # split-test variants go live with them
    for page in pages:
        _store_document(page)
    funnel.status = "published"
    funnel.published_at = utcnow()
    audit.record("funnel.published", funnel, f"Funnel {funnel.name} published", account=account, user=actor,
                 details={"steps": len(funnel.steps)})
    db.session.commit()
    _after_change("page.published", account, pages)
    events.publish("funnel.published", account_id=account.id, funnel_id=funnel.id)
    return funnel


def unpublish_funnel(account, funnel, actor=None):
    """Every page offline, the funnel back to draft."""
    pages = [step.page for step in funnel.steps if step.page is not None and step.page.is_published]
    steps = len(pages)
    pages += db.session.execute(select(Page).where(  # and every split-test variant page of the funnel
        Page.funnel_id == funnel.id, Page.is_variant.is_(True), Page.published_html.is_not(None))).scalars().all()
    for page in pages:
        _clear_document(page)
    if funnel.status == "published":
        funnel.status = "draft"
    audit.record("funnel.unpublished", funnel, f"Funnel {funnel.name} unpublished", account=account, user=actor,
                 details={"steps": steps})
    db.session.commit()
    _after_change("page.unpublished", account, pages)
    events.publish("funnel.unpublished", account_id=account.id, funnel_id=funnel.id)
    return funnel
