"""Renderings of pages on the app host, never served to visitors: the builder's canvas and preview, the
previews of versions. Step links go to the builder's previews of the other steps, images to the app's
copies of the files (logged in, this workspace only), and nothing is submitted. What visitors get is
app/funnels/publishing.py's."""
from flask import url_for
from markupsafe import Markup
from sqlalchemy import select

from app.assets.models import Asset
from app.assets.services import app_url
from app.extensions import db
from app.funnels.models import FunnelStep, Page
from app.pages.render import RenderContext, render_tree


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
