"""Page edits: every change to a page's tree goes through `save_tree`, which keeps the undo history
(50 edits, stored with the page), bumps the revision and records a page version."""

from app.builder.models import Page
from app.core import audit
from app.core.db import utcnow
from app.extensions import db
from app.funnels import services as funnels
from app.funnels.models import FunnelStep
from app.pages import history
from app.pages import tree as trees
from app.pages.elements import CONTACT_FIELDS, element_type


def check_revision(page: Page, revision) -> None:
    history.check_revision(page, revision)


def save_tree(account, page: Page, new_tree: dict, actor=None, summary: str = "Edited the page",
              revision=None, validated: bool = False) -> Page:
    """Validate (unless the caller just did), keep the old tree for undo, save, record a version."""
    history.check_revision(page, revision)
    new_tree = new_tree if validated else trees.validate(new_tree)
    if history.save(page, new_tree):
        _store(account, page, actor, summary)
    return page


def _store(account, page: Page, actor, summary: str) -> None:
    page.updated_at = utcnow()
    page.step.funnel.updated_at = page.updated_at
    funnels.record_version(account, page.step.funnel, actor, f"{page.step.name}: {summary}", page=page)
    db.session.commit()


def undo(account, page: Page, actor=None, revision=None) -> Page:
    history.check_revision(page, revision)
    history.undo(page)
    _store(account, page, actor, "Undo")
    return page


def redo(account, page: Page, actor=None, revision=None) -> Page:
    history.check_revision(page, revision)
    history.redo(page)
    _store(account, page, actor, "Redo")
    return page


def restore_tree(account, page: Page, snapshot: dict, actor=None, summary: str = "Restored a version") -> Page:
    """Put a page version back (undoable, and itself a new version)."""
    history.restore(page, snapshot)
    _store(account, page, actor, summary)
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
            from app.pages.elements import video_embed

            if video_embed(props.get("url", "")) is None:
                message = "The video address is not a YouTube, Vimeo or .mp4 link."
        if message:
            found.append({"element_id": element["id"], "type": kind, "message": message})
    return found


def update_settings(account, page: Page, data: dict, actor=None) -> Page:
    """Title, slug (the step's), SEO title and description, social image and favicon (assets)."""
    from app.assets.models import Asset
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
