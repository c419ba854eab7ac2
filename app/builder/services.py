"""Page edits: every change to a page's tree goes through `save_tree`, which keeps the undo history
(50 edits, stored with the page), bumps the revision and records a page version."""

from app.builder import tree as trees
from app.builder.elements import CONTACT_FIELDS, element_type
from app.builder.models import Page
from app.core import audit
from app.core.db import utcnow
from app.core.errors import ConflictError, ValidationError
from app.extensions import db
from app.funnels import services as funnels
from app.funnels.models import FunnelStep

HISTORY_LIMIT = 50


def check_revision(page: Page, revision) -> None:
    """Refuse an edit made on an older copy of the page (another tab or person saved since)."""
    if revision in (None, ""):
        return
    try:
        revision = int(revision)
    except (TypeError, ValueError):
        raise ValidationError("The revision must be a whole number.", field="revision") from None
    if revision != page.revision:
        raise ConflictError("This page was changed somewhere else since you opened it: reload to get the "
                            "latest version (your last change was not saved).")


def save_tree(account, page: Page, new_tree: dict, actor=None, summary: str = "Edited the page",
              revision=None, validated: bool = False) -> Page:
    """Validate (unless the caller just did), keep the old tree for undo, save, record a version."""
    check_revision(page, revision)
    new_tree = new_tree if validated else trees.validate(new_tree)
    if new_tree == page.tree:
        return page
    page.history = (list(page.history or []) + [change_back(new_tree, page.tree)])[-HISTORY_LIMIT:]
    page.future = []
    _store(account, page, new_tree, actor, summary)
    return page


# ---- the undo history: each entry is the way back, as small as the change ---------------------------------
#
# An entry is either a whole tree (type "page": what restoring a version writes) or
# {"patch": element_id, "old": that element as it was}: the smallest subtree that differs. Editing one
# headline of a 150-element page keeps a few hundred bytes, not the page, so the history of 50 edits
# stays small and every edit stays fast. Entries are applied to the very tree they were taken from
# (history and future move in step), so the element is always there.

def change_back(current: dict, previous: dict) -> dict:
    """The entry that turns `current` back into `previous`."""
    node, old = current, previous
    while True:
        kids, old_kids = node.get("children") or [], old.get("children") or []
        same_self = all(node.get(key) == old.get(key) for key in ("id", "type", "props", "style", "hide_on"))
        if not same_self or [kid["id"] for kid in kids] != [kid["id"] for kid in old_kids]:
            break
        differing = [index for index, (kid, old_kid) in enumerate(zip(kids, old_kids)) if kid != old_kid]
        if len(differing) != 1:
            break
        node, old = kids[differing[0]], old_kids[differing[0]]
    if node is current:
        return trees.clone(previous)
    return {"patch": node["id"], "old": trees.clone(old)}


def apply_change(tree: dict, entry: dict) -> dict:
    """The tree with one history entry applied (a new tree: the one given is left as it was)."""
    if entry.get("type") == "page":
        return trees.clone(entry)
    chain = trees.path(tree, entry["patch"])
    if chain is None:  # cannot happen with entries made here; refuse rather than guess
        raise ConflictError("The edit history does not match this page any more: undo is not possible.")
    return trees.replace_at(chain, trees.clone(entry["old"]))


def _store(account, page: Page, new_tree: dict, actor, summary: str) -> None:
    page.tree = new_tree
    page.revision += 1
    page.updated_at = utcnow()
    page.step.funnel.updated_at = page.updated_at
    funnels.record_version(account, page.step.funnel, actor, f"{page.step.name}: {summary}", page=page)
    db.session.commit()


def undo(account, page: Page, actor=None, revision=None) -> Page:
    check_revision(page, revision)
    history = list(page.history or [])
    if not history:
        raise ConflictError("There is nothing to undo.")
    previous = apply_change(page.tree, history.pop())
    page.future = (list(page.future or []) + [change_back(previous, page.tree)])[-HISTORY_LIMIT:]
    page.history = history
    _store(account, page, previous, actor, "Undo")
    return page


def redo(account, page: Page, actor=None, revision=None) -> Page:
    check_revision(page, revision)
    future = list(page.future or [])
    if not future:
        raise ConflictError("There is nothing to redo.")
    following = apply_change(page.tree, future.pop())
    page.history = (list(page.history or []) + [change_back(following, page.tree)])[-HISTORY_LIMIT:]
    page.future = future
    _store(account, page, following, actor, "Redo")
    return page


def restore_tree(account, page: Page, snapshot: dict, actor=None, summary: str = "Restored a version") -> Page:
    """Put a page version back (undoable, and itself a new version)."""
    for key in ("title", "seo_title", "seo_description"):
        setattr(page, key, snapshot.get(key) or "")
    tree = trees.validate(snapshot.get("tree") or trees.empty_page())
    page.history = (list(page.history or []) + [change_back(tree, page.tree)])[-HISTORY_LIMIT:]
    page.future = []
    _store(account, page, tree, actor, summary)
    return page


# ---- checks before publishing -------------------------------------------------------------------------

def problems(page: Page) -> list[dict]:
    """What would be wrong on the published page: [{"element_id", "message"}], empty when fine."""
    found = []
    steps = {str(step.id): step for step in page.step.funnel.steps}
    is_last = funnels.next_step(page.step) is None

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
            in_form = any(a["type"] == "form" for a in trees.ancestors(page.tree, element["id"]))
            if props.get("action") == "submit" and not in_form:
                message = "The button submits a form, but it is not in one."
            elif props.get("action") != "submit":
                message = link_problem(element, "The button")
        elif kind == "form":
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
        elif kind == "video":
            from app.builder.elements import video_embed

            if video_embed(props.get("url", "")) is None:
                message = "The video address is not a YouTube, Vimeo or .mp4 link."
        if message:
            found.append({"element_id": element["id"], "type": kind, "message": message})
    return found


def update_settings(account, page: Page, data: dict, actor=None) -> Page:
    """Title, slug (the step's), SEO title and description, social image and favicon (assets)."""
    from app.builder.models import Asset
    from app.core.validation import FieldErrors, row_of_account, text_value

    fields = FieldErrors(data, partial=True)
    fields.add("title", lambda: text_value(data, "title", "title", 200, required=True))
    fields.add("seo_title", lambda: text_value(data, "seo_title", "SEO title", 200) or "")
    fields.add("seo_description", lambda: text_value(data, "seo_description", "SEO description", 320) or "")
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
        funnels.record_version(account, step.funnel, actor, f"{step.name}: page settings", page=page)
        audit.record("page.updated", page, f"Page {page.title} settings changed", account=account, user=actor)
    db.session.commit()
    return page
