"""Funnels and their steps: create, update, archive, soft delete, clone, reorder. Plain functions: the
account and plain data in, models out, ServiceError on bad input. Each change records a version
(app/funnels/versions.py); the rules of addresses are app/funnels/slugs.py's.
"""
import uuid

from sqlalchemy import Text, cast, func, or_, select

from app.assets import services as asset_services
from app.core import audit, events
from app.core.db import like_pattern, utcnow
from app.core.errors import ConflictError, NotFoundError, ValidationError
from app.core.tenancy import get_or_404
from app.core.validation import FieldErrors, choice_value, text_value
from app.extensions import db
from app.funnels import slugs, versions
from app.funnels.models import FUNNEL_TYPES, STEP_TYPES, Funnel, FunnelStep, Page
from app.pages import tree as trees
from app.pages.history import TEXT_FIELDS

# ---- funnels ------------------------------------------------------------------------------------------

def filtered(account, filters: dict):
    """SELECT (Funnel, step count) of the account's live funnels, most recently edited first: one query
    for the whole list page. Filters: q (name or slug), status, funnel_type."""
    step_count = (select(func.count(FunnelStep.id)).where(FunnelStep.funnel_id == Funnel.id)
                  .correlate(Funnel).scalar_subquery())
    query = (select(Funnel, step_count.label("step_count"))
             .where(Funnel.account_id == account.id, Funnel.deleted_at.is_(None))
             .order_by(Funnel.updated_at.desc(), Funnel.id))
    q = (filters.get("q") or "").strip().lower()
    if q:
        like = like_pattern(q)
        query = query.where(or_(func.lower(Funnel.name).like(like, escape="\\"), Funnel.slug.like(like, escape="\\")))
    if filters.get("status"):
        query = query.where(Funnel.status == filters["status"])
    if filters.get("funnel_type"):
        query = query.where(Funnel.funnel_type == filters["funnel_type"])
    return query


def get_funnel(account, funnel_id) -> Funnel:
    """The account's live funnel; NotFoundError for a deleted one, another account's or a bad id."""
    funnel = get_or_404(Funnel, funnel_id, account)
    if funnel.deleted_at is not None:
        raise NotFoundError("This funnel was deleted.")
    return funnel


def get_step(account, funnel: Funnel, step_id) -> FunnelStep:
    """A step of this funnel; NotFoundError for anything else (another funnel's or account's included)."""
    step = get_or_404(FunnelStep, step_id, account)
    if step.funnel_id != funnel.id:
        raise NotFoundError("No such step in this funnel.")
    return step


def _clean_funnel(data: dict, funnel: Funnel | None, partial: bool) -> dict:
    fields = FieldErrors(data, partial)
    fields.add("name", lambda: text_value(data, "name", "name", 120, required=True))
    fields.add("funnel_type", lambda: choice_value(data, "funnel_type", "type", tuple(FUNNEL_TYPES),
                                                   default=funnel.funnel_type if funnel else "lead_generation"))
    fields.add("description", lambda: text_value(data, "description", "description", 2000) or "")
    named = data.get("name") or (funnel.name if funnel else "")
    fields.add("slug", lambda: slugs.typed_or_named_slug(data.get("slug"), named, "funnel"))
    fields.add("custom_domain", lambda: slugs.clean_domain(data.get("custom_domain")))
    values = fields.values_or_raise()
    exclude = funnel.id if funnel else None
    if "slug" in values and slugs.funnel_slug_taken(values["slug"], exclude):
        if funnel is None and not (data.get("slug") or "").strip():
            values["slug"] = slugs.free_funnel_slug(values["slug"])  # made from the name: pick a free one
        else:
            raise slugs.AddressTaken(f"The address /{values['slug']} is taken: choose another slug.", field="slug")
    if values.get("custom_domain") in slugs.own_hosts():
        raise slugs.AddressTaken("This is Leadforge's own address: use a domain of yours.", field="custom_domain")
    if values.get("custom_domain"):
        query = select(Funnel.id).where(Funnel.custom_domain == values["custom_domain"], Funnel.deleted_at.is_(None))
        if exclude:
            query = query.where(Funnel.id != exclude)
        if db.session.execute(query.limit(1)).first():
            raise slugs.AddressTaken("Another funnel already uses this domain.", field="custom_domain")
    return values


def create_funnel(account, data: dict, actor=None, steps: list[dict] | None = None, commit: bool = True,
                  summary: str = "Funnel created") -> Funnel:
    """A draft funnel. `steps` (name, step_type, slug, tree, page settings) default to one opt-in page
    and a thank-you page."""
    values = _clean_funnel(data, None, partial=False)
    funnel = Funnel(account_id=account.id, created_by_id=getattr(actor, "id", None), **values)
    db.session.add(funnel)
    db.session.flush()
    for step_data in steps if steps is not None else default_steps():
        _add_step(account, funnel, step_data)
    db.session.flush()
    versions.record_version(account, funnel, actor, summary)
    audit.record("funnel.created", funnel, f"Funnel {funnel.name} created", account=account, user=actor)
    if commit:
        db.session.commit()
        events.publish("funnel.created", account_id=account.id, funnel_id=funnel.id)
    return funnel


def default_steps() -> list[dict]:
    return [{"name": "Opt-in", "step_type": "page"}, {"name": "Thank you", "step_type": "thank_you"}]


def update_funnel(account, funnel: Funnel, data: dict, actor=None) -> Funnel:
    values = _clean_funnel(data, funnel, partial=True)
    changed = [name for name, value in values.items() if getattr(funnel, name) != value]
    for name, value in values.items():
        setattr(funnel, name, value)
    if changed:
        funnel.updated_at = utcnow()
        versions.record_version(account, funnel, actor, "Changed " + ", ".join(n.replace("_", " ") for n in changed))
        audit.record("funnel.updated", funnel, f"Funnel {funnel.name} updated", account=account, user=actor)
    db.session.commit()
    return funnel


STATUS_SUMMARIES = {"draft": "Set back to draft", "published": "Published the funnel",
                    "archived": "Archived the funnel"}


def set_status(account, funnel: Funnel, status: str, actor=None, keep_published_at: bool = False) -> Funnel:
    if status not in ("draft", "published", "archived"):
        raise ValidationError("Choose draft, published or archived.", field="status")
    if status == funnel.status:
        return funnel
    funnel.status = status
    if status == "published" and not keep_published_at:
        funnel.published_at = utcnow()
    versions.record_version(account, funnel, actor, STATUS_SUMMARIES[status])
    audit.record(f"funnel.{status}", funnel, f"Funnel {funnel.name} {status}", account=account, user=actor)
    db.session.commit()
    return funnel


def unarchive(account, funnel: Funnel, actor=None) -> Funnel:
    """Back among the active funnels: published if some of its pages still are (nothing is published
    again, so its publication date stays), else a draft."""
    live = any(step.page is not None and step.page.is_published for step in funnel.steps)
    return set_status(account, funnel, "published" if live else "draft", actor, keep_published_at=True)


def soft_delete(account, funnel: Funnel, actor=None) -> None:
    """Gone from lists and offline at once; its slug is free again."""
    funnel.deleted_at = utcnow()
    for step in funnel.steps:
        if step.page is not None:
            step.page.published_html = None
    audit.record("funnel.deleted", funnel, f"Funnel {funnel.name} deleted", account=account, user=actor)
    db.session.commit()
    events.publish("funnel.unpublished", account_id=account.id, funnel_id=funnel.id)


def clone(account, funnel: Funnel, actor=None, name: str | None = None) -> Funnel:
    """A deep copy (steps, pages, new element ids) with a new slug; a draft, not published."""
    snapshot = versions.snapshot_of(funnel)
    copy_name = (name or f"{funnel.name} (copy)")[:120]
    copy_slug = slugs.free_funnel_slug(funnel.slug + "-copy")
    return create_from_snapshot(account, snapshot, {"name": copy_name, "slug": copy_slug}, actor,
                                summary=f"Cloned from {funnel.name}")


# ---- steps --------------------------------------------------------------------------------------------

def _clean_step(funnel: Funnel, data: dict, step: FunnelStep | None, partial: bool) -> dict:
    fields = FieldErrors(data, partial)
    fields.add("name", lambda: text_value(data, "name", "name", 120, required=True))
    fields.add("step_type", lambda: choice_value(data, "step_type", "step type", tuple(STEP_TYPES),
                                                 default=step.step_type if step else "page"))
    named = data.get("name") or (step.name if step else "")
    fields.add("slug", lambda: slugs.typed_or_named_slug(data.get("slug"), named, "step"))
    values = fields.values_or_raise()
    if "slug" in values and slugs.step_slug_taken(funnel, values["slug"], step.id if step else None):
        if step is None and not (data.get("slug") or "").strip():
            values["slug"] = slugs.free_step_slug(funnel, values["slug"])
        else:
            raise slugs.AddressTaken(f"Another step of this funnel is at /{values['slug']}: choose another slug.",
                               field="slug")
    return values


def _add_step(account, funnel: Funnel, data: dict, position: int | None = None) -> FunnelStep:
    values = _clean_step(funnel, data, None, partial=False)
    step = FunnelStep(id=uuid.UUID(data["id"]) if data.get("id") else uuid.uuid4(), account_id=account.id,
                      funnel=funnel, position=len(funnel.steps) if position is None else position,
                      settings=dict(data.get("settings") or {}), **values)
    db.session.add(step)
    page_data = data.get("page") or {}
    tree = trees.validate(page_data["tree"]) if page_data.get("tree") else trees.empty_page()
    texts = {key: (page_data.get(key) or "")[:limit] for key, limit in TEXT_FIELDS.items()}
    step.page = Page(account_id=account.id, funnel_id=funnel.id, tree=tree,
                     **{**texts, "title": texts["title"] or step.name[:TEXT_FIELDS["title"]]})
    versions.set_page_images(account, step.page, page_data)
    db.session.flush()
    return step


def add_step(account, funnel: Funnel, data: dict, actor=None) -> FunnelStep:
    step = _add_step(account, funnel, data)
    _touch(funnel)
    versions.record_version(account, funnel, actor, f"Added step {step.name}")
    db.session.commit()
    return step


def duplicate_step(account, funnel: Funnel, step: FunnelStep, actor=None) -> FunnelStep:
    """A copy of the step right after it: the same type and page (its elements with new ids), a free slug.
    The copy's page is a draft until it is published."""
    page = versions.page_snapshot(step.page)
    page["tree"] = trees.with_new_ids(page["tree"])
    page["tree"]["id"] = "root"
    position = step.position + 1
    for later in funnel.steps:
        if later.position >= position:
            later.position += 1
    copy = _add_step(account, funnel, {"name": f"{step.name} (copy)"[:120], "step_type": step.step_type,
                                       "slug": slugs.free_step_slug(funnel, f"{step.slug}-copy"),
                                       "settings": step.settings, "page": page}, position=position)
    db.session.expire(funnel, ["steps"])
    _touch(funnel)
    versions.record_version(account, funnel, actor, f"Duplicated step {step.name}")
    db.session.commit()
    return copy


def update_step(account, funnel: Funnel, step: FunnelStep, data: dict, actor=None) -> FunnelStep:
    values = _clean_step(funnel, data, step, partial=True)
    if "settings" in data:
        if not isinstance(data["settings"], dict):
            raise ValidationError("Step settings must be an object.", field="settings")
        values["settings"] = data["settings"]
    changed = [name for name, value in values.items() if getattr(step, name) != value]
    old_slug = step.slug
    for name, value in values.items():
        setattr(step, name, value)
    if changed:
        _touch(funnel)
        what = ", ".join(changed).replace("_", " ")
        versions.record_version(account, funnel, actor, f"Changed step {step.name}: {what}")
    db.session.commit()
    if old_slug != step.slug:
        events.publish("funnel.unpublished", account_id=account.id, funnel_id=funnel.id)  # the old URL is gone
    return step


def delete_step(account, funnel: Funnel, step: FunnelStep, actor=None) -> None:
    if len(funnel.steps) <= 1:
        raise ConflictError("A funnel needs at least one step: add another before deleting this one.")
    name = step.name
    funnel.steps.remove(step)
    db.session.flush()
    for index, remaining in enumerate(funnel.steps):
        remaining.position = index
    _touch(funnel)
    versions.record_version(account, funnel, actor, f"Deleted step {name}")
    db.session.commit()
    events.publish("funnel.unpublished", account_id=account.id, funnel_id=funnel.id)


def reorder_steps(account, funnel: Funnel, step_ids: list, actor=None) -> None:
    """The posted ids in their new order; every step of the funnel exactly once."""
    by_id = {str(step.id): step for step in funnel.steps}
    posted = [str(value) for value in step_ids or []]
    if sorted(posted) != sorted(by_id):
        raise ConflictError("Post every step of this funnel once, in the new order.", field="step_ids")
    if posted == [str(step.id) for step in funnel.steps]:
        return
    for index, step_id in enumerate(posted):
        by_id[step_id].position = index
    _touch(funnel)
    db.session.flush()
    db.session.expire(funnel, ["steps"])
    versions.record_version(account, funnel, actor, "Reordered the steps")
    db.session.commit()


def next_step(step: FunnelStep) -> FunnelStep | None:
    steps = step.funnel.steps
    index = steps.index(step)
    return steps[index + 1] if index + 1 < len(steps) else None


def _touch(funnel: Funnel) -> None:
    funnel.updated_at = utcnow()


# ---- funnels made from a snapshot (a template or a clone) ----------------------------------------

def create_from_snapshot(account, snapshot: dict, data: dict, actor=None, summary: str = "Funnel created") -> Funnel:
    """A new funnel from a snapshot (a template or a clone): every element gets a new id, buttons that
    pointed to a step of the snapshot point to the new step."""
    source = snapshot.get("funnel") or {}
    funnel_data = {"name": source.get("name") or "Untitled funnel", "funnel_type": source.get("funnel_type") or "other",
                   "description": source.get("description") or "", **data}
    if not (funnel_data.get("slug") or "").strip():
        funnel_data["slug"] = slugs.free_funnel_slug(slugs.slugify(funnel_data["name"]) or "funnel")
    step_ids = {step.get("id"): str(uuid.uuid4()) for step in snapshot.get("steps") or []}
    steps = []
    for step in snapshot.get("steps") or []:
        page = dict(step.get("page") or {})
        page["tree"] = _remap_steps(trees.with_new_ids(page.get("tree") or trees.empty_page()), step_ids)
        page["tree"]["id"] = "root"
        steps.append({"id": step_ids.get(step.get("id")), "name": step.get("name"), "slug": step.get("slug"),
                      "step_type": step.get("step_type"), "settings": step.get("settings") or {}, "page": page})
    return create_funnel(account, funnel_data, actor, steps=steps, summary=summary)


def _remap_steps(tree: dict, step_ids: dict) -> dict:
    for element, _, _ in trees.walk(tree):
        target = (element.get("props") or {}).get("step_id")
        if target:
            element["props"]["step_id"] = step_ids.get(target, "")
    return tree


# ---- the images the pages use -------------------------------------------------------------------------

def pages_using(account, asset) -> list[Page]:
    """Pages of live funnels whose element tree, social image, favicon or published HTML use the asset."""
    query = (select(Page).join(Funnel, Funnel.id == Page.funnel_id)
             .where(Page.account_id == account.id, Funnel.deleted_at.is_(None))
             .where(or_(Page.og_image_id == asset.id, Page.favicon_id == asset.id,
                        cast(Page.tree, Text).contains(str(asset.id)),
                        Page.published_html.contains(asset.storage_key)))
             .order_by(Page.title).limit(50))
    return list(db.session.execute(query).scalars())


def page_label(page: Page) -> str:
    step = page.step
    funnel = step.funnel if step is not None else None
    name = page.title or (step.name if step is not None else "Untitled page")
    return f"{name} ({funnel.name})" if funnel is not None else name


@asset_services.usage_check
def asset_on_pages(account, asset) -> str | None:
    """Why an image cannot be deleted while pages use it (registered with the image library)."""
    using = pages_using(account, asset)
    if not using:
        return None
    names = ", ".join(f"“{page_label(page)}”" for page in using[:5])
    more = f" and {len(using) - 5} more" if len(using) > 5 else ""
    return (f"“{asset.filename}” is used on {len(using)} page{'' if len(using) == 1 else 's'}: {names}{more}. "
            "Remove it from those pages (and publish them again) before deleting it.")
