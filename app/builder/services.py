"""The builder's operations on a funnel step's page. An edit is three things: the page's new state and
its undo history (app.pages.history), a page version (app.funnels.versions) and the commit, here, so
that every path (the editor, the JSON API) saves the same way. Plain functions: the account and plain
data in, the page out, ServiceError on bad input."""
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.assets.models import Asset
from app.core import audit
from app.core.db import utcnow
from app.core.errors import NotFoundError
from app.core.validation import FieldErrors, row_of_account, text_value, uuid_or_none
from app.extensions import db
from app.funnels import services as funnels
from app.funnels.models import FunnelStep, Page
from app.funnels.versions import SETTINGS_SUMMARY, record_page_save, record_version
from app.pages import history
from app.pages import tree as trees
from app.pages.history import TEXT_FIELDS


def get_page(account, page_id) -> Page:
    """The account's page, with its step and funnel; NotFoundError when its funnel is deleted (then it is
    gone for the builder too), for another account's page or a bad id."""
    page_id = uuid_or_none(page_id)
    query = (select(Page).where(Page.account_id == account.id, Page.id == page_id)
             .options(joinedload(Page.step).joinedload(FunnelStep.funnel)))
    page = db.session.execute(query).unique().scalar_one_or_none() if page_id else None
    if page is None or page.step is None or page.step.funnel.deleted_at is not None:
        raise NotFoundError("No such page.")
    return page


def save_tree(account, page: Page, new_tree: dict, actor=None, summary: str = "Edited the page",
              revision=None, validated: bool = False, autosave: bool = False) -> Page:
    """Validate (unless the caller just did), keep the old tree for undo, save, record a version. A stale
    `revision` (the page changed since it was read) is a ConflictError; the same tree again changes nothing.
    An `autosave` (the editor's edits) folds into the version of the same person's save of a few minutes
    ago (versions.record_page_save); any other save makes a version of its own."""
    history.check_revision(page, revision)
    new_tree = new_tree if validated else trees.validate(new_tree)
    if history.save(page, new_tree):
        _store(account, page, actor, summary, autosave)
    return page


def undo(account, page: Page, actor=None, revision=None, autosave: bool = False) -> Page:
    history.check_revision(page, revision)
    history.undo(page)
    _store(account, page, actor, "Undo", autosave)
    return page


def redo(account, page: Page, actor=None, revision=None, autosave: bool = False) -> Page:
    history.check_revision(page, revision)
    history.redo(page)
    _store(account, page, actor, "Redo", autosave)
    return page


def _store(account, page: Page, actor, summary: str, autosave: bool) -> None:
    page.updated_at = utcnow()
    page.step.funnel.updated_at = page.updated_at
    if autosave:
        record_page_save(account, page, actor, summary)
    else:
        record_version(account, page.step.funnel, actor, f"{page.step.name}: {summary}", page=page)
    db.session.commit()


def update_settings(account, page: Page, data: dict, actor=None) -> Page:
    """Title, slug (the step's), SEO title and description, social image and favicon (assets)."""
    fields = FieldErrors(data, partial=True)
    fields.add("title", lambda: text_value(data, "title", "title", TEXT_FIELDS["title"], required=True))
    fields.add("seo_title", lambda: text_value(data, "seo_title", "SEO title", TEXT_FIELDS["seo_title"]) or "")
    fields.add("seo_description", lambda: text_value(data, "seo_description", "SEO description",
                                                     TEXT_FIELDS["seo_description"]) or "")
    fields.add("og_image_id", lambda: getattr(row_of_account(Asset, account, data.get("og_image_id"), "og_image_id",
                                                             "social image"), "id", None))
    fields.add("favicon_id", lambda: getattr(row_of_account(Asset, account, data.get("favicon_id"), "favicon_id",
                                                            "favicon"), "id", None))
    values = fields.values_or_raise()
    step: FunnelStep = page.step
    if "slug" in data:
        funnels.update_step(account, step.funnel, step, {"slug": data["slug"]}, actor)
    changed = [key for key, value in values.items() if getattr(page, key) != value]
    for key, value in values.items():
        setattr(page, key, value)
    if changed:
        page.updated_at = utcnow()
        record_version(account, step.funnel, actor, f"{step.name}: {SETTINGS_SUMMARY}", page=page)
        audit.record("page.updated", page, f"Page {page.title} settings changed", account=account, user=actor)
    db.session.commit()
    return page
