"""Versions of a funnel, their one home: the snapshots (of a whole funnel, or of one page), recording a
version at each save, reading them, and restoring one (a page's content, or the whole funnel).

A funnel version (kind "funnel") holds the funnel's settings, steps and pages: the shape of `snapshot_of`,
which templates share. A page version (kind "page") holds one page's title, SEO fields, images and tree.
Consecutive builder saves of one page by one person within VERSION_COALESCE_MINUTES are one version
(`record_page_save`): the version list stays readable and small. Explicit actions (a restore, the page
settings, a funnel-level save, publishing) make versions of their own, which later saves do not fold into.
Every page that a restore changes goes through `app.pages.history.restore`, so the tree it replaces is
one undo away in the builder, whichever kind of version was restored; the restore is itself a new
version. Plain functions: the services record versions as part of their own transaction.
"""
import copy
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.assets.models import Asset
from app.core import audit, events
from app.core.db import utcnow
from app.core.errors import ConflictError, NotFoundError
from app.core.tenancy import get_or_404
from app.core.validation import uuid_or_none
from app.extensions import db
from app.funnels.models import FUNNEL_TYPES, STEP_TYPES, Funnel, FunnelStep, FunnelVersion, Page
from app.funnels.slugs import SLUG_MAX, SLUG_PATTERN, funnel_slug_taken
from app.pages import history
from app.pages import tree as trees

# The summaries of a page version made by an explicit action ("<step>: page settings", "<step>: Restored
# version 3"): saves in the builder do not fold into those (record_page_save).
SETTINGS_SUMMARY = "page settings"
RESTORED_SUMMARY = "Restored version"

# ---- snapshots ----------------------------------------------------------------------------------------

def page_snapshot(page: Page) -> dict:
    """A page's content and settings (what a page version holds, and each page of a funnel version)."""
    return {"title": page.title, "seo_title": page.seo_title, "seo_description": page.seo_description,
            "og_image_id": str(page.og_image_id) if page.og_image_id else None,
            "favicon_id": str(page.favicon_id) if page.favicon_id else None, "tree": copy.deepcopy(page.tree)}


def snapshot_of(funnel: Funnel) -> dict:
    """Everything needed to rebuild the funnel: its settings, steps and pages (the shape of templates too)."""
    return {
        "funnel": {"name": funnel.name, "funnel_type": funnel.funnel_type, "description": funnel.description,
                   "slug": funnel.slug},
        "steps": [{"id": str(step.id), "name": step.name, "slug": step.slug, "step_type": step.step_type,
                   "settings": copy.deepcopy(step.settings), "page": page_snapshot(step.page)}
                  for step in funnel.steps],
    }


def set_page_images(account, page: Page, snapshot: dict) -> None:
    """The social image and favicon a snapshot names, when they are assets of this account (else none)."""
    for key in ("og_image_id", "favicon_id"):
        asset_id = uuid_or_none(snapshot.get(key))
        asset = db.session.get(Asset, asset_id) if asset_id else None
        setattr(page, key, asset.id if asset is not None and asset.account_id == account.id else None)


# ---- recording and reading ----------------------------------------------------------------------------

def record_version(account, funnel: Funnel, actor, summary: str, page: Page | None = None) -> FunnelVersion:
    """A funnel version (the whole funnel), or a page version when `page` is given; the caller commits."""
    number = (db.session.execute(select(func.max(FunnelVersion.number)).where(
        FunnelVersion.funnel_id == funnel.id)).scalar() or 0) + 1
    version = FunnelVersion(account_id=account.id, funnel_id=funnel.id, number=number,
                            kind="page" if page is not None else "funnel", page_id=page.id if page else None,
                            summary=summary[:200], created_by_id=getattr(actor, "id", None),
                            snapshot=page_snapshot(page) if page is not None else snapshot_of(funnel))
    db.session.add(version)
    return version


def record_page_save(account, page: Page, actor, summary: str) -> FunnelVersion:
    """The page version of a builder save (an autosave). When the funnel's newest version is a page version
    of this page by the same person, made by a save less than VERSION_COALESCE_MINUTES ago, that version is
    updated instead (the new snapshot and summary, its number kept, its time now); else a new one. The
    caller commits."""
    funnel = page.step.funnel
    newest = db.session.execute(select(FunnelVersion).where(FunnelVersion.funnel_id == funnel.id)
                                .order_by(FunnelVersion.number.desc()).limit(1)).scalar_one_or_none()
    if newest is None or not _continues(newest, page, actor):
        return record_version(account, funnel, actor, f"{page.step.name}: {summary}", page=page)
    newest.snapshot = page_snapshot(page)
    newest.summary = f"{page.step.name}: {summary}"[:200]
    newest.created_at = utcnow()
    return newest


def _continues(version: FunnelVersion, page: Page, actor) -> bool:
    """Whether a save of `page` by `actor` folds into `version` (see record_page_save)."""
    minutes = current_app.config.get("VERSION_COALESCE_MINUTES", 5)
    actor_id = getattr(actor, "id", None)
    if not minutes or minutes <= 0 or actor_id is None:
        return False
    return (version.kind == "page" and version.page_id == page.id and version.created_by_id == actor_id
            and version.created_at is not None and version.created_at > utcnow() - timedelta(minutes=minutes)
            and not _explicit(version))


def _explicit(version: FunnelVersion) -> bool:
    """A page version of an explicit action (a restore, the page settings), which no save folds into."""
    summary = version.summary or ""
    return summary.endswith(f": {SETTINGS_SUMMARY}") or f": {RESTORED_SUMMARY} " in summary


def versions_query(funnel: Funnel):
    """Newest first, with who made each and the page (and step) it is of: a list of them is one query each."""
    return (select(FunnelVersion).where(FunnelVersion.funnel_id == funnel.id)
            .options(selectinload(FunnelVersion.created_by),
                     selectinload(FunnelVersion.page).selectinload(Page.step))
            .order_by(FunnelVersion.number.desc()))


def latest_number(funnel: Funnel) -> int:
    """The number of the funnel's newest version (0 for none)."""
    return db.session.execute(select(func.max(FunnelVersion.number))
                              .where(FunnelVersion.funnel_id == funnel.id)).scalar() or 0


def get_version(account, funnel: Funnel, version_id) -> FunnelVersion:
    """A version of this funnel; NotFoundError for anything else (another funnel's or account's included)."""
    version = get_or_404(FunnelVersion, version_id, account)
    if version.funnel_id != funnel.id:
        raise NotFoundError("No such version of this funnel.")
    return version


def version_step_name(version: FunnelVersion) -> str | None:
    """The step a page version belongs to (None when that step was deleted since)."""
    page = version.page
    return page.step.name if page is not None and page.step is not None else None


# ---- restoring ----------------------------------------------------------------------------------------

def restore_version(account, funnel: Funnel, version: FunnelVersion, actor=None) -> FunnelVersion:
    """Put an old version back; the restore is itself a new version (returned), and undoable in the
    builder, since each page's current tree goes to its history first."""
    if version.funnel_id != funnel.id or version.account_id != account.id:
        raise NotFoundError("No such version of this funnel.")
    summary = f"{RESTORED_SUMMARY} {version.number}"
    if version.kind == "page":
        page = version.page
        if page is None or page.step is None or page.step.funnel_id != funnel.id:
            raise ConflictError("The step of this page version was deleted since: restore a funnel version "
                                "from before that instead.")
        restore_page(account, page, version.snapshot or {})
        page.updated_at = funnel.updated_at = utcnow()
        restored = record_version(account, funnel, actor, f"{page.step.name}: {summary}", page=page)
        db.session.commit()
        return restored
    _restore_funnel(account, funnel, version.snapshot or {})
    funnel.updated_at = utcnow()
    db.session.flush()
    db.session.expire(funnel, ["steps"])
    restored = record_version(account, funnel, actor, summary)
    audit.record("funnel.restored", funnel, f"Funnel {funnel.name}: {summary.lower()}", account=account, user=actor)
    db.session.commit()
    events.publish("funnel.unpublished", account_id=account.id, funnel_id=funnel.id)  # step addresses may change
    return restored


def restore_page(account, page: Page, snapshot: dict) -> None:
    """One page's content and settings from a snapshot (app.pages.history.restore: undoable), and the
    images it names that are still the account's."""
    if history.restore(page, snapshot):
        page.updated_at = utcnow()
    set_page_images(account, page, snapshot)


def _restore_funnel(account, funnel: Funnel, snapshot: dict) -> None:
    """The funnel's settings (its old slug only if still free) and its steps: the same steps updated in
    place, steps missing from the snapshot deleted, steps of the snapshot that were deleted recreated."""
    source = snapshot.get("funnel") or {}
    funnel.name = (source.get("name") or funnel.name)[:120]
    if source.get("funnel_type") in FUNNEL_TYPES:
        funnel.funnel_type = source["funnel_type"]
    funnel.description = source.get("description") or ""
    old_slug = source.get("slug")
    if (old_slug and old_slug != funnel.slug and SLUG_PATTERN.match(old_slug)
            and not funnel_slug_taken(old_slug, funnel.id)):
        funnel.slug = old_slug

    wanted = [step for step in snapshot.get("steps") or [] if isinstance(step, dict)]
    if not wanted:
        raise ConflictError("This version has no steps to restore.")
    wanted_ids = {str(step.get("id")) for step in wanted}
    for step in [step for step in funnel.steps if str(step.id) not in wanted_ids]:
        funnel.steps.remove(step)
    # Free every slug first: restored steps may swap addresses, and (funnel, slug) is unique.
    for step in funnel.steps:
        step.slug = f"restoring-{uuid.uuid4().hex[:12]}"
    db.session.flush()
    existing = {str(step.id): step for step in funnel.steps}
    used = set()
    for position, data in enumerate(wanted):
        data = {**data, "slug": _unused(data.get("slug") or f"step-{position + 1}", used)}
        step = existing.get(str(data.get("id")))
        if step is None:
            _recreate_step(account, funnel, data, position)
        else:
            for name, value in _step_values(data, position).items():
                setattr(step, name, value)
            restore_page(account, step.page, data.get("page") or {})
    db.session.flush()


def _unused(slug: str, used: set) -> str:
    base, number = slug, 1
    while slug in used:
        number += 1
        slug = f"{base[:SLUG_MAX - 4]}-{number}"
    used.add(slug)
    return slug


def _step_values(data: dict, position: int) -> dict:
    return {"name": (data.get("name") or "Step")[:120], "slug": data.get("slug") or f"step-{position + 1}",
            "step_type": data.get("step_type") if data.get("step_type") in STEP_TYPES else "page",
            "position": position, "settings": copy.deepcopy(data.get("settings") or {})}


def _recreate_step(account, funnel: Funnel, data: dict, position: int) -> FunnelStep:
    """A step deleted since: back with its old id when that id is free, so links to it work again."""
    step_id = uuid_or_none(data.get("id"))
    if step_id is None or db.session.get(FunnelStep, step_id) is not None:
        step_id = uuid.uuid4()
    step = FunnelStep(id=step_id, account_id=account.id, funnel=funnel, **_step_values(data, position))
    db.session.add(step)
    step.page = Page(account_id=account.id, funnel_id=funnel.id, tree=trees.empty_page(), title=step.name)
    db.session.flush()
    restore_page(account, step.page, data.get("page") or {})
    return step
