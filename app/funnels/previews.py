"""Renderings of pages on the app host, never served to visitors: the builder's canvas and preview, the
previews of versions and of templates. Images come from the app's copies of the files (logged in, this
workspace only) and nothing is stored: a page's step links go to the builder's previews of the other
steps; a template's to the other steps' preview frames. What visitors get is app/funnels/publishing.py's."""
from collections.abc import Callable

from flask import url_for
from markupsafe import Markup, escape
from sqlalchemy import select

from app.assets.models import Asset
from app.assets.services import app_url
from app.core.errors import ValidationError
from app.core.validation import uuid_or_none
from app.extensions import db
from app.funnels.models import FunnelStep, Page
from app.pages import tree as trees
from app.pages.render import RenderContext, render_tree, site_script_path, site_stylesheet


def preview_context(page: Page) -> RenderContext:
    """The RenderContext of a page's renderings on the app host. One query for the funnel's steps and
    their pages; the account's assets are read once, at the first image that needs one."""
    steps = db.session.execute(
        select(FunnelStep.id, Page.id).join(Page, Page.step_id == FunnelStep.id)
        .where(FunnelStep.funnel_id == page.funnel_id).order_by(FunnelStep.position)).all()
    previews = {str(step_id): url_for("builder.preview", page_id=step_page_id) for step_id, step_page_id in steps}
    ids = list(previews)
    here = ids.index(str(page.step_id)) if str(page.step_id) in ids else len(ids)
    by_id: dict | None = None

    def asset_url(asset_id: str) -> str:
        nonlocal by_id
        if by_id is None:
            rows = db.session.execute(select(Asset).where(Asset.account_id == page.account_id)).scalars()
            by_id = {str(asset.id): asset for asset in rows}
        asset = by_id.get(str(asset_id))
        return app_url(asset) if asset is not None else ""

    return RenderContext(step_urls=previews, next_url=previews[ids[here + 1]] if here + 1 < len(ids) else "#",
                         form_action="#", asset_url=asset_url, page_id=str(page.id))


def version_body(page: Page | None, page_snapshot: dict) -> Markup:
    """The body of a page as a version holds it (publish mode), its links and images as the page's
    previews have them (when the page still exists). ValueError or ValidationError when it cannot be
    rendered (a snapshot in an older format): the caller shows a note instead."""
    ctx = preview_context(page) if page is not None else None
    return render_tree(page_snapshot.get("tree") or {"id": "root", "type": "page", "children": []}, "publish", ctx)


# ---- templates (the gallery's preview frames, and their screenshots) -----------------------------------

def frame_document(step: dict, steps: list[dict], index: int, url_of: Callable[[int], str],
                   asset_url: Callable[[str], str] | None = None) -> Markup:
    """A whole HTML document with one step of a snapshot (a template) rendered as visitors would see it;
    its buttons and form go to the other steps' frames (`url_of(index)`)."""
    step_urls = {str(other.get("id")): url_of(position) for position, other in enumerate(steps)}
    next_url = url_of(index + 1) if index + 1 < len(steps) else "#"
    ctx = RenderContext(step_urls=step_urls, next_url=next_url, form_action=next_url if next_url != "#" else "",
                        asset_url=asset_url, page_id="preview")
    page = step.get("page") or {}
    body = render_tree(_clean_tree(page.get("tree")), "publish", ctx)
    title = escape(page.get("title") or step.get("name") or "Preview")
    script = escape(url_for("static", filename=site_script_path()))
    return Markup(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{title}</title><style>{site_stylesheet()}</style>"
        f"<script src=\"{script}\" defer></script></head><body>{body}</body></html>")


def _clean_tree(tree) -> dict:
    """The tree validated again (rich text sanitised) before it is shown on the app's origin: a stored
    snapshot is trusted no more than a posted one."""
    try:
        return trees.validate(tree)
    except ValidationError:
        return trees.empty_page()


def snapshot_asset_urls(account, snapshot: dict) -> Callable[[str], str] | None:
    """The app URLs of the account's own images a snapshot uses (one query for them all); None for none."""
    ids = set()
    for step in snapshot.get("steps") or []:
        for element, _, _ in trees.walk((step.get("page") or {}).get("tree") or {}):
            props = element.get("props") or {}
            ids.update(item.get("asset_id") for item in [props, *(props.get("images") or [])] if item.get("asset_id"))
    valid = {found for found in (uuid_or_none(value) for value in ids) if found is not None}
    if not valid:
        return None
    rows = db.session.execute(select(Asset).where(Asset.account_id == account.id, Asset.id.in_(valid))).scalars()
    urls = {str(asset.id): app_url(asset) for asset in rows}
    return lambda asset_id: urls.get(str(asset_id), "")
