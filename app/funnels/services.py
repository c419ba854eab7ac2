"""Funnels and their steps: create, update, soft delete, clone, reorder, and versions (snapshots that
can be restored). Plain functions: the account and plain data in, models out, ServiceError on bad input.
"""
import copy
import re
import unicodedata
import uuid

from sqlalchemy import Text, cast, func, or_, select

from app.assets import services as asset_services
from app.builder.models import Page
from app.core import audit, events
from app.core.db import like_pattern, utcnow
from app.core.errors import ConflictError, ValidationError
from app.core.tenancy import scoped
from app.core.validation import FieldErrors, choice_value, text_value
from app.extensions import db
from app.funnels.models import FUNNEL_TYPES, STEP_TYPES, Funnel, FunnelStep, FunnelVersion
from app.pages import history
from app.pages import tree as trees

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 60
RESERVED_SLUGS = {"static", "assets", "api", "_", "site", "favicon.ico", "robots.txt", "f"}
DOMAIN_PATTERN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class AddressTaken(ConflictError):
    """A slug or domain another funnel (or step) already uses, or a reserved one: a conflict with what exists
    (409 in the API; the forms show it next to the field like any other error)."""


# ---- slugs --------------------------------------------------------------------------------------------

def slugify(text: str) -> str:
    """"Été 2026 Offer!" -> "ete-2026-offer": accents dropped, lower case, dashes."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_MAX].strip("-")


def clean_slug(raw, field: str = "slug", fallback: str = "") -> str:
    """A typed slug normalised (spaces, capitals and accents fixed); refused when nothing usable is left."""
    if raw is not None and not isinstance(raw, str):
        raise ValidationError("The slug must be text.", field=field)
    raw = (raw or "").strip()
    if len(raw) > SLUG_MAX * 2:
        raise ValidationError(f"A slug has at most {SLUG_MAX} characters.", field=field)
    slug = slugify(raw) if raw else slugify(fallback)
    if not slug:
        raise ValidationError("Use letters a–z, digits and dashes in the slug (e.g. free-guide).", field=field)
    if slug in RESERVED_SLUGS:
        raise AddressTaken(f"“{slug}” is reserved: choose another slug.", field=field)
    return slug


def _typed_or_named_slug(raw, name: str, base: str) -> str:
    """A typed slug (normalised, or refused with a message); with none typed, one made from the name, or
    `base` when the name gives nothing usable (e.g. a name in Japanese) or a reserved word."""
    if raw is not None and (not isinstance(raw, str) or raw.strip()):
        return clean_slug(raw)
    made = slugify(name or "")
    return made if made and made not in RESERVED_SLUGS else base


def _funnel_slug_taken(slug: str, exclude_id=None) -> bool:
    query = select(Funnel.id).where(Funnel.slug == slug, Funnel.deleted_at.is_(None))
    if exclude_id is not None:
        query = query.where(Funnel.id != exclude_id)
    return db.session.execute(query.limit(1)).first() is not None


def free_funnel_slug(base: str) -> str:
    """`base`, or base-2, base-3... the first one no funnel uses (for clones and templates)."""
    base = base[:SLUG_MAX - 4].strip("-") or "funnel"
    slug, number = base, 1
    while _funnel_slug_taken(slug):
        number += 1
        slug = f"{base}-{number}"
    return slug


def _step_slug_taken(funnel: Funnel, slug: str, exclude_id=None) -> bool:
    return any(step.slug == slug and step.id != exclude_id for step in funnel.steps)


def free_step_slug(funnel: Funnel, base: str) -> str:
    base = base[:SLUG_MAX - 4].strip("-") or "step"
    slug, number = base, 1
    while _step_slug_taken(funnel, slug):
        number += 1
        slug = f"{base}-{number}"
    return slug


def clean_domain(raw) -> str | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise ValidationError("The domain must be text.", field="custom_domain")
    domain = raw.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not domain:
        return None
    if not DOMAIN_PATTERN.match(domain):
        raise ValidationError("Enter a domain name like offers.example.com (no path, no port).",
                              field="custom_domain")
    return domain


def _own_hosts() -> set[str]:
    from urllib.parse import urlsplit

    from flask import current_app, has_app_context

    if not has_app_context():
        return set()
    hosts = {(urlsplit(current_app.config.get(key) or "").hostname or "").lower() for key in ("BASE_URL", "SITE_URL")}
    return hosts - {""}


# ---- funnels ------------------------------------------------------------------------------------------

def active_funnels(account):
    return scoped(Funnel, account).where(Funnel.deleted_at.is_(None))


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
    """The account's live funnel, or 404."""
    from app.core.tenancy import get_or_404

    funnel = get_or_404(Funnel, funnel_id, account)
    if funnel.deleted_at is not None:
        from flask import abort

        abort(404)
    return funnel


def _clean_funnel(data: dict, funnel: Funnel | None, partial: bool) -> dict:
    fields = FieldErrors(data, partial)
    fields.add("name", lambda: text_value(data, "name", "name", 120, required=True))
    fields.add("funnel_type", lambda: choice_value(data, "funnel_type", "type", tuple(FUNNEL_TYPES),
                                                   default=funnel.funnel_type if funnel else "lead_generation"))
    fields.add("description", lambda: text_value(data, "description", "description", 2000) or "")
    fields.add("slug", lambda: _typed_or_named_slug(data.get("slug"), data.get("name") or (funnel.name if funnel else ""),
                                                    "funnel"))
    fields.add("custom_domain", lambda: clean_domain(data.get("custom_domain")))
    values = fields.values_or_raise()
    exclude = funnel.id if funnel else None
    if "slug" in values and _funnel_slug_taken(values["slug"], exclude):
        if funnel is None and not (data.get("slug") or "").strip():
            values["slug"] = free_funnel_slug(values["slug"])  # made from the name: pick a free one
        else:
            raise AddressTaken(f"The address /{values['slug']} is taken: choose another slug.", field="slug")
    if values.get("custom_domain") in _own_hosts():
        raise AddressTaken("This is Leadforge's own address: use a domain of yours.", field="custom_domain")
    if values.get("custom_domain"):
        query = select(Funnel.id).where(Funnel.custom_domain == values["custom_domain"], Funnel.deleted_at.is_(None))
        if exclude:
            query = query.where(Funnel.id != exclude)
        if db.session.execute(query.limit(1)).first():
            raise AddressTaken("Another funnel already uses this domain.", field="custom_domain")
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
    record_version(account, funnel, actor, summary)
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
        record_version(account, funnel, actor, "Changed " + ", ".join(n.replace("_", " ") for n in changed))
        audit.record("funnel.updated", funnel, f"Funnel {funnel.name} updated", account=account, user=actor)
    db.session.commit()
    return funnel


STATUS_SUMMARIES = {"draft": "Set back to draft", "published": "Published the funnel", "archived": "Archived the funnel"}


def set_status(account, funnel: Funnel, status: str, actor=None, keep_published_at: bool = False) -> Funnel:
    if status not in ("draft", "published", "archived"):
        raise ValidationError("Choose draft, published or archived.", field="status")
    if status == funnel.status:
        return funnel
    funnel.status = status
    if status == "published" and not keep_published_at:
        funnel.published_at = utcnow()
    record_version(account, funnel, actor, STATUS_SUMMARIES[status])
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
    snapshot = snapshot_of(funnel)
    copy_name = (name or f"{funnel.name} (copy)")[:120]
    return create_from_snapshot(account, snapshot, {"name": copy_name, "slug": free_funnel_slug(funnel.slug + "-copy")},
                                actor, summary=f"Cloned from {funnel.name}")


# ---- steps --------------------------------------------------------------------------------------------

def _clean_step(funnel: Funnel, data: dict, step: FunnelStep | None, partial: bool) -> dict:
    fields = FieldErrors(data, partial)
    fields.add("name", lambda: text_value(data, "name", "name", 120, required=True))
    fields.add("step_type", lambda: choice_value(data, "step_type", "step type", tuple(STEP_TYPES),
                                                 default=step.step_type if step else "page"))
    fields.add("slug", lambda: _typed_or_named_slug(data.get("slug"), data.get("name") or (step.name if step else ""),
                                                    "step"))
    values = fields.values_or_raise()
    if "slug" in values and _step_slug_taken(funnel, values["slug"], step.id if step else None):
        if step is None and not (data.get("slug") or "").strip():
            values["slug"] = free_step_slug(funnel, values["slug"])
        else:
            raise AddressTaken(f"Another step of this funnel is at /{values['slug']}: choose another slug.",
                               field="slug")
    return values


def _add_step(account, funnel: Funnel, data: dict, position: int | None = None) -> FunnelStep:
    values = _clean_step(funnel, data, None, partial=False)
    step = FunnelStep(id=uuid.UUID(data["id"]) if data.get("id") else uuid.uuid4(), account_id=account.id, funnel=funnel, position=len(funnel.steps) if position is None else position,
                      settings=dict(data.get("settings") or {}), **values)
    db.session.add(step)
    page_data = data.get("page") or {}
    tree = trees.validate(page_data["tree"]) if page_data.get("tree") else trees.empty_page()
    step.page = Page(account_id=account.id, funnel_id=funnel.id, tree=tree,
                     title=(page_data.get("title") or step.name)[:200],
                     seo_title=(page_data.get("seo_title") or "")[:200],
                     seo_description=(page_data.get("seo_description") or "")[:320])
    _set_page_images(account, step.page, page_data)
    db.session.flush()
    return step


def add_step(account, funnel: Funnel, data: dict, actor=None) -> FunnelStep:
    step = _add_step(account, funnel, data)
    _touch(funnel)
    record_version(account, funnel, actor, f"Added step {step.name}")
    db.session.commit()
    return step


def duplicate_step(account, funnel: Funnel, step: FunnelStep, actor=None) -> FunnelStep:
    """A copy of the step right after it: the same type and page (its elements with new ids), a free slug.
    The copy's page is a draft until it is published."""
    page = page_snapshot(step.page)
    page["tree"] = trees.with_new_ids(page["tree"])
    page["tree"]["id"] = "root"
    position = step.position + 1
    for later in funnel.steps:
        if later.position >= position:
            later.position += 1
    copy = _add_step(account, funnel, {"name": f"{step.name} (copy)"[:120], "step_type": step.step_type,
                                       "slug": free_step_slug(funnel, f"{step.slug}-copy"),
                                       "settings": step.settings, "page": page}, position=position)
    db.session.expire(funnel, ["steps"])
    _touch(funnel)
    record_version(account, funnel, actor, f"Duplicated step {step.name}")
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
        record_version(account, funnel, actor, f"Changed step {step.name}: " + ", ".join(changed).replace("_", " "))
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
    record_version(account, funnel, actor, f"Deleted step {name}")
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
    record_version(account, funnel, actor, "Reordered the steps")
    db.session.commit()


def next_step(step: FunnelStep) -> FunnelStep | None:
    steps = step.funnel.steps
    index = steps.index(step)
    return steps[index + 1] if index + 1 < len(steps) else None


def _touch(funnel: Funnel) -> None:
    funnel.updated_at = utcnow()


# ---- snapshots and versions ---------------------------------------------------------------------------

def page_snapshot(page: Page) -> dict:
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


def record_version(account, funnel: Funnel, actor, summary: str, page: Page | None = None) -> FunnelVersion:
    """A funnel version (the whole funnel), or a page version when `page` is given."""
    number = (db.session.execute(select(func.max(FunnelVersion.number)).where(
        FunnelVersion.funnel_id == funnel.id)).scalar() or 0) + 1
    version = FunnelVersion(account_id=account.id, funnel_id=funnel.id, number=number,
                            kind="page" if page is not None else "funnel", page_id=page.id if page else None,
                            summary=summary[:200], created_by_id=getattr(actor, "id", None),
                            snapshot=page_snapshot(page) if page is not None else snapshot_of(funnel))
    db.session.add(version)
    return version


def versions_query(funnel: Funnel):
    """Newest first, with who made each and the page (and step) it is of: a list of them is one query each."""
    from sqlalchemy.orm import selectinload

    return (select(FunnelVersion).where(FunnelVersion.funnel_id == funnel.id)
            .options(selectinload(FunnelVersion.created_by),
                     selectinload(FunnelVersion.page).selectinload(Page.step))
            .order_by(FunnelVersion.number.desc()))


def create_from_snapshot(account, snapshot: dict, data: dict, actor=None, summary: str = "Funnel created") -> Funnel:
    """A new funnel from a snapshot (a template or a clone): every element gets a new id, buttons that
    pointed to a step of the snapshot point to the new step."""
    source = snapshot.get("funnel") or {}
    funnel_data = {"name": source.get("name") or "Untitled funnel", "funnel_type": source.get("funnel_type") or "other",
                   "description": source.get("description") or "", **data}
    if not (funnel_data.get("slug") or "").strip():
        funnel_data["slug"] = free_funnel_slug(slugify(funnel_data["name"]) or "funnel")
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


# ---- restoring versions -------------------------------------------------------------------------------

def get_version(account, funnel: Funnel, version_id) -> FunnelVersion:
    """A version of this funnel, or 404 (a version of another funnel or account included)."""
    from flask import abort

    from app.core.tenancy import get_or_404

    version = get_or_404(FunnelVersion, version_id, account)
    if version.funnel_id != funnel.id:
        abort(404)
    return version


def version_step_name(version: FunnelVersion) -> str | None:
    """The step a page version belongs to (None when that step was deleted since)."""
    page = version.page
    return page.step.name if page is not None and page.step is not None else None


def restore_version(account, funnel: Funnel, version: FunnelVersion, actor=None) -> FunnelVersion:
    """Put an old version back; the restore is itself a new version (and undoable in the builder, since
    each page's current tree goes to its history first)."""
    if version.funnel_id != funnel.id or version.account_id != account.id:
        from flask import abort

        abort(404)
    summary = f"Restored version {version.number}"
    if version.kind == "page":
        page = version.page
        if page is None or page.step is None or page.step.funnel_id != funnel.id:
            raise ConflictError("The step of this page version was deleted since: restore a funnel version "
                                "from before that instead.")
        from app.builder import services as builder

        builder.restore_tree(account, page, version.snapshot, actor, summary=summary)
        return _latest_version(funnel)
    _restore_funnel(account, funnel, version.snapshot or {})
    _touch(funnel)
    db.session.flush()
    db.session.expire(funnel, ["steps"])
    new_version = record_version(account, funnel, actor, summary)
    audit.record("funnel.restored", funnel, f"Funnel {funnel.name}: {summary.lower()}", account=account, user=actor)
    db.session.commit()
    events.publish("funnel.unpublished", account_id=account.id, funnel_id=funnel.id)  # step addresses may change
    return new_version


def _latest_version(funnel: Funnel) -> FunnelVersion:
    return db.session.execute(versions_query(funnel).limit(1)).scalar_one()


def _restore_funnel(account, funnel: Funnel, snapshot: dict) -> None:
    """The funnel's settings (its old slug only if still free) and its steps: the same steps updated in
    place, steps missing from the snapshot deleted, steps of the snapshot that were deleted recreated."""
    source = snapshot.get("funnel") or {}
    funnel.name = (source.get("name") or funnel.name)[:120]
    if source.get("funnel_type") in FUNNEL_TYPES:
        funnel.funnel_type = source["funnel_type"]
    funnel.description = source.get("description") or ""
    old_slug = source.get("slug")
    if old_slug and old_slug != funnel.slug and SLUG_PATTERN.match(old_slug) and not _funnel_slug_taken(old_slug, funnel.id):
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
            step = _recreate_step(account, funnel, data, position)
        else:
            _restore_step(account, step, data, position)
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


def _restore_step(account, step: FunnelStep, data: dict, position: int) -> None:
    for name, value in _step_values(data, position).items():
        setattr(step, name, value)
    _restore_page(account, step.page, data.get("page") or {})


def _recreate_step(account, funnel: Funnel, data: dict, position: int) -> FunnelStep:
    """A step deleted since: back with its old id when that id is free, so links to it work again."""
    step_id = _uuid_or_none(data.get("id"))
    if step_id is None or db.session.get(FunnelStep, step_id) is not None:
        step_id = uuid.uuid4()
    step = FunnelStep(id=step_id, account_id=account.id, funnel=funnel, **_step_values(data, position))
    db.session.add(step)
    step.page = Page(account_id=account.id, funnel_id=funnel.id, tree=trees.empty_page(), title=step.name)
    db.session.flush()
    _restore_page(account, step.page, data.get("page") or {})
    return step


def _restore_page(account, page: Page, snapshot: dict) -> None:
    """The page's content and settings from a snapshot; its current tree goes to the undo history."""
    if history.restore(page, snapshot):
        page.updated_at = utcnow()
    _set_page_images(account, page, snapshot)


def _set_page_images(account, page: Page, snapshot: dict) -> None:
    """The social image and favicon a snapshot names, when they are assets of this account."""
    from app.assets.models import Asset

    for key in ("og_image_id", "favicon_id"):
        asset_id = _uuid_or_none(snapshot.get(key))
        asset = db.session.get(Asset, asset_id) if asset_id else None
        setattr(page, key, asset.id if asset is not None and asset.account_id == account.id else None)


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


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
