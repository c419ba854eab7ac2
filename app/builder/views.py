"""The page builder: the editor, its edits (htmx + SortableJS), page settings, preview and publishing.

The server owns the page's tree. Every edit posts the page's `revision`; the answer of a successful edit
is a few `<template>`s that static/js/builder.js swaps into the canvas:

    <template data-swap="ELEMENT_ID">the element re-rendered</template>   ("root": the whole canvas)
    <template data-panel>the side panel of the selected element</template>

with the new revision and the undo/redo state in headers (X-Page-Revision, X-Undo, X-Redo,
X-Builder-Select). A refused edit answers JSON `{"error": {"code", "message", "fields"}}`: 409 with
code "stale" when the page changed elsewhere, 422 when the edit is not allowed (nothing saved).

Element ids travel in the form, not in the URL: every route takes only the page's uuid.
"""
import json
from functools import wraps

from flask import abort, make_response, render_template, request, url_for
from flask_login import current_user
from markupsafe import escape

from app.assets.models import Asset
from app.assets.services import app_url
from app.builder import bp, services
from app.builder.forms import PageSettingsForm, settings_values
from app.core.errors import ConflictError, ServiceError, ValidationError
from app.core.forms import apply_error, refusal
from app.core.roles import can, role_required
from app.core.tenancy import current_account, scoped
from app.core.web import json_error, redirect_to, render, wants_fragment
from app.extensions import db
from app.funnels import publishing
from app.funnels.models import Page
from app.funnels.previews import preview_context
from app.pages import history
from app.pages import tree as trees
from app.pages.elements import (
    COMMERCE,
    CONTACT_FIELDS,
    CONTENT,
    DEVICES,
    FORM_TYPES,
    STYLE,
    TYPES,
    clean_hide_on,
    clean_value,
    element_type,
    library,
)
from app.pages.render import render_element, render_tree, site_script_path

DEVICE_WIDTHS = {"desktop": "100%", "tablet": "768px", "mobile": "390px"}
STALE_MESSAGE = "This page changed elsewhere (another tab or person saved it): reload to get the latest version."
# The canvas shows what the page will show: pictures and videos from other sites too, and the elements' own
# inline styles ('unsafe-inline': the app's other pages refuse them, docs/architecture.md).
EDITOR_CSP = ("default-src 'self'; img-src 'self' data: https: http:; media-src 'self' https: http:; "
              "frame-src https://www.youtube-nocookie.com https://player.vimeo.com; style-src 'self' 'unsafe-inline'; "
              "script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


# ---- loading and answering ----------------------------------------------------------------------------

def _page(page_id) -> Page:
    """The account's page (NotFoundError, a 404, unless it is the account's and its funnel is live)."""
    return services.get_page(current_account(), page_id)


def _render_element(page: Page, element_id: str, ctx) -> str:
    if element_id == "root":
        return render_tree(page.tree, "edit", ctx)
    element, _ = trees.find(page.tree, element_id)
    return render_element(element, "edit", ctx)


def _outermost(tree: dict, element_ids) -> list[str]:
    """The ids to re-render: an element inside another re-rendered one comes with it."""
    wanted = list(dict.fromkeys(element_ids))
    if "root" in wanted:
        return ["root"]
    inside = {element_id for element_id in wanted
              if any(node["id"] in wanted for node in trees.ancestors(tree, element_id))}
    return [element_id for element_id in wanted if element_id not in inside]


def _answer(page: Page, changed=(), select: str | None = None, panel: bool = False, status: int = 200):
    """The swaps for the canvas (and the panel of `select`), with the page's new state in headers."""
    swapped = _outermost(page.tree, changed)
    ctx = preview_context(page) if swapped else None
    parts = [f'<template data-swap="{escape(element_id)}">{_render_element(page, element_id, ctx)}</template>'
             for element_id in swapped]
    if panel:
        parts.append(f"<template data-panel>{_panel_html(page, select)}</template>")
    response = make_response("".join(parts), status)
    response.headers.update(_state_headers(page))
    if select is not None:
        response.headers["X-Builder-Select"] = select
    return response


def _state_headers(page: Page) -> dict:
    return {"X-Page-Revision": str(page.revision), "X-Undo": "1" if page.history else "0",
            "X-Redo": "1" if page.future else "0", "Cache-Control": "no-store"}


def _error(status: int, code: str, message: str, fields: dict | None = None, page: Page | None = None):
    response = json_error(status, message, fields, code)
    if page is not None:
        response.headers.update(_state_headers(page))
    return response


def edit(view):
    """A builder edit: the user role, the page, its revision checked first (a stale tab gets a 409 with
    code "stale"), and a refused edit answered as JSON with nothing saved."""
    @wraps(view)
    @role_required("user")
    def wrapped(page_id):
        # What the answer needs is in memory after the commit: do not read the page back.
        db.session().expire_on_commit = False
        page = _page(page_id)
        try:
            history.check_revision(page, request.form.get("revision"))
        except ConflictError:
            return _error(409, "stale", STALE_MESSAGE, page=page)
        except ValidationError as error:
            return _error(422, error.code, error.message, error.fields, page=page)
        with refusal() as refused:
            return view(page)
        error = refused.error
        return _error(error.status, error.code, error.message, error.fields, page=page)

    return wrapped


def _save(page: Page, new_tree: dict, summary: str, validated: bool = False) -> None:
    services.save_tree(current_account(), page, new_tree, actor=current_user, summary=summary,
                       validated=validated, autosave=True)


def _element_id() -> str:
    element_id = (request.form.get("element_id") or "").strip()
    if not element_id:
        raise ValidationError("Choose an element first.", field="element_id")
    return element_id


def _label_of(element: dict) -> str:
    return element_type(element["type"]).label


# ---- the editor ---------------------------------------------------------------------------------------

@bp.route("/builder/<uuid:page_id>")
@role_required("viewer")
def editor(page_id):
    page = _page(page_id)
    if request.headers.get("HX-Request"):
        # The builder is a document of its own whose head loads the editor's scripts, which a boosted
        # swap would not run: the browser loads it whole instead (a link from any app page works).
        response = make_response("", 200)
        response.headers["HX-Redirect"] = request.full_path.rstrip("?")
        return response
    funnel = page.step.funnel
    labels = {name: spec.label for name, spec in TYPES.items()}
    labels["page"] = "Page"
    html = render_template(
        "builder/editor.html", page=page, funnel=funnel, step=page.step,
        canvas=render_tree(page.tree, "edit", preview_context(page)), library=library(),
        editable=can("user"), funnel_url=url_for("funnels.detail", funnel_id=funnel.id), devices=DEVICE_WIDTHS,
        state=_publish_state(page), panel=_panel_html(page, None), labels_json=json.dumps(labels),
        content_types=" ".join(CONTENT + COMMERCE + ("container",) + FORM_TYPES))
    response = make_response(html)
    response.headers["Content-Security-Policy"] = EDITOR_CSP
    response.headers["Cache-Control"] = "no-store"  # a tab restored from the cache would edit an old revision
    return response


@bp.route("/builder/<uuid:page_id>/canvas")
@role_required("viewer")
def canvas(page_id):
    """The whole canvas as saved (the builder reloads it after a refused edit)."""
    page = _page(page_id)
    return _answer(page, changed=["root"])


@bp.route("/builder/<uuid:page_id>/panel")
@role_required("viewer")
def panel(page_id):
    """The side panel of one element (or the page's when none is chosen)."""
    page = _page(page_id)
    response = make_response(_panel_html(page, request.args.get("element_id") or None))
    response.headers.update(_state_headers(page))
    return response


# ---- edits --------------------------------------------------------------------------------------------

@bp.route("/builder/<uuid:page_id>/add", methods=["POST"])
@edit
def element_add(page: Page):
    """A library tile dropped into a list (parent_id + index) or chosen with Enter (after_id)."""
    type_name = request.form.get("type", "")
    if type_name not in TYPES:
        raise ValidationError("Choose an element from the library.", field="type")
    element = trees.starter_element(type_name)
    if request.form.get("parent_id"):
        new_tree, parent_id = trees.insert(page.tree, request.form["parent_id"], request.form.get("index", 0), element)
    else:
        new_tree, parent_id = trees.insert_near(page.tree, element, request.form.get("after_id") or None)
    _save(page, new_tree, f"Added a {element_type(type_name).label.lower()}", validated=True)
    return _answer(page, changed=[parent_id], select=element["id"], panel=True)


@bp.route("/builder/<uuid:page_id>/move", methods=["POST"])
@edit
def element_move(page: Page):
    element_id = _element_id()
    element, _ = trees.find(page.tree, element_id)
    new_tree, changed = trees.move(page.tree, element_id, request.form.get("parent_id", ""),
                                   request.form.get("index", 0))
    _save(page, new_tree, f"Moved a {_label_of(element).lower()}", validated=True)
    return _answer(page, changed=changed, select=element_id)


@bp.route("/builder/<uuid:page_id>/update", methods=["POST"])
@edit
def element_update(page: Page):
    """The panel's form (posted as one types): the element re-rendered, or the fields' errors (422)."""
    element_id = _element_id()
    element, _ = trees.find(page.tree, element_id)
    props, style, hide_on, errors = _panel_values(element, request.form)
    if errors:
        return _error(422, "validation_failed", "Check the highlighted fields: nothing was saved.", errors, page=page)
    new_tree = trees.update(page.tree, element_id, props=props, style=style, hide_on=hide_on)
    # update() cleaned the element it changed; the rest of the tree is as it was validated and saved.
    _save(page, new_tree, f"Edited a {_label_of(element).lower()}", validated=True)
    return _answer(page, changed=[element_id], select=element_id)


@bp.route("/builder/<uuid:page_id>/duplicate", methods=["POST"])
@edit
def element_duplicate(page: Page):
    element_id = _element_id()
    element, _ = trees.find(page.tree, element_id)
    new_tree, parent_id, twin_id = trees.duplicate(page.tree, element_id)
    _save(page, new_tree, f"Duplicated a {_label_of(element).lower()}", validated=True)
    return _answer(page, changed=[parent_id], select=twin_id, panel=True)


@bp.route("/builder/<uuid:page_id>/delete", methods=["POST"])
@edit
def element_delete(page: Page):
    """Removes the element; the selection moves to the next sibling, else the previous, else the parent."""
    element_id = _element_id()
    element, parent = trees.find(page.tree, element_id)
    if parent is None:
        raise ValidationError("The page itself cannot be deleted.", field="element_id")
    siblings = [child["id"] for child in parent["children"]]
    index = siblings.index(element_id)
    rest = siblings[:index] + siblings[index + 1:]
    following = rest[index] if index < len(rest) else (rest[index - 1] if rest else parent["id"])
    new_tree, parent_id = trees.remove(page.tree, element_id)
    _save(page, new_tree, f"Deleted a {_label_of(element).lower()}")
    return _answer(page, changed=[parent_id], select=following, panel=True)


@bp.route("/builder/<uuid:page_id>/shift", methods=["POST"])
@edit
def element_shift(page: Page):
    """Move up (offset -1) or down (+1) among its siblings."""
    element_id = _element_id()
    offset = request.form.get("offset", "")
    if offset not in ("-1", "1"):
        raise ValidationError("Move up (-1) or down (1).", field="offset")
    element, _ = trees.find(page.tree, element_id)
    new_tree, parent_id = trees.shift(page.tree, element_id, int(offset))
    _save(page, new_tree, f"Moved a {_label_of(element).lower()} {'up' if offset == '-1' else 'down'}")
    return _answer(page, changed=[parent_id], select=element_id)


@bp.route("/builder/<uuid:page_id>/undo", methods=["POST"])
@edit
def undo(page: Page):
    services.undo(current_account(), page, actor=current_user, autosave=True)
    return _after_history(page)


@bp.route("/builder/<uuid:page_id>/redo", methods=["POST"])
@edit
def redo(page: Page):
    services.redo(current_account(), page, actor=current_user, autosave=True)
    return _after_history(page)


def _after_history(page: Page):
    """Undo and redo can change anything: the whole canvas, and the panel if its element is still there."""
    selected = request.form.get("element_id") or None
    if selected and not any(node["id"] == selected for node, _, _ in trees.walk(page.tree)):
        selected = None
    return _answer(page, changed=["root"], select=selected or "", panel=True)


# ---- the side panel -----------------------------------------------------------------------------------

def _panel_html(page: Page, element_id: str | None, errors: dict | None = None) -> str:
    element = None
    if element_id and element_id != "root":
        element = next((node for node, _, _ in trees.walk(page.tree) if node["id"] == element_id), None)
    if element is None:
        return render_template("builder/_panel.html", page=page, element=None, editable=can("user"),
                               count=trees.count(page.tree))
    spec = element_type(element["type"])
    steps = [(str(step.id), step.name) for step in page.step.funnel.steps if step.id != page.step.id]
    return render_template("builder/_panel.html", page=page, element=element, spec=spec, style_props=STYLE,
                           devices=DEVICES, steps=steps, contact_fields=CONTACT_FIELDS, errors=errors or {},
                           trail=trees.ancestors(page.tree, element["id"]), element_type=element_type,
                           editable=can("user"), picker=_picker_url, json=json)


def _picker_url(field: str) -> str:
    return url_for("assets.picker", field=field)


def _panel_values(element: dict, form) -> tuple[dict, dict, list | None, dict]:
    """The posted panel, field by field: (props, style, hide_on, errors by field name). A field the form
    does not carry keeps its value; a checkbox carries a hidden "false" before it."""
    spec = element_type(element["type"])
    errors: dict[str, str] = {}
    props = {}
    for key, prop in spec.props.items():
        name = f"p.{key}"
        if name not in form:
            continue
        raw = form.getlist(name)[-1]
        if prop.kind == "items":
            try:
                raw = json.loads(raw or "[]")
            except ValueError:
                errors[name] = f"{prop.label}: this is not valid JSON (check the commas and quotes)."
                continue
        try:
            props[key] = clean_value(prop, raw)
        except ValidationError as error:
            errors[name] = error.message
    style = dict(element.get("style") or {}) if not any(name.startswith("s.") for name in form) else {}
    for key, prop in STYLE.items():
        raw = (form.get(f"s.{key}") or "").strip()
        if not raw:
            continue
        try:
            style[key] = clean_value(prop, raw)
        except ValidationError as error:
            errors[f"s.{key}"] = error.message
    hide_on = None
    if "hide_on_present" in form:
        try:
            hide_on = clean_hide_on(form.getlist("hide_on"))
        except ValidationError as error:
            errors["hide_on"] = error.message
    return props, style, hide_on, errors


# ---- page settings ------------------------------------------------------------------------------------

@bp.route("/builder/<uuid:page_id>/settings", methods=["GET", "POST"])
@role_required("viewer")
def page_settings(page_id):
    page = _page(page_id)
    saved = False
    if request.method == "POST":
        if not can("user"):
            abort(403, description="This needs the user role or higher.")
        form = PageSettingsForm()
        if form.validate_on_submit():
            try:
                services.update_settings(current_account(), page, form.service_data(), actor=current_user)
            except ServiceError as error:
                apply_error(form, error)
            else:
                saved = True
                form = PageSettingsForm(formdata=None, data=settings_values(page))  # as saved (the slug cleaned)
    else:
        form = PageSettingsForm(data=settings_values(page))
    if saved and not wants_fragment():
        return redirect_to(url_for("builder.editor", page_id=page.id))
    failed = request.method == "POST" and not saved
    images = db.session.execute(scoped(Asset).order_by(Asset.created_at.desc()).limit(200)).scalars().all()
    form.offer_images(images)
    response = make_response(render("builder/_settings.html", block="settings", status=422 if failed else 200,
                                    page=page, form=form, saved=saved, images=images, editable=can("user"),
                                    step=page.step, fragment=wants_fragment()))
    if saved:
        response.headers["X-Page-Title"] = page.title
        response.headers["X-Step-Name"] = page.step.name
    return response


# ---- preview and publishing ---------------------------------------------------------------------------

@bp.route("/builder/<uuid:page_id>/preview")
@role_required("viewer")
def preview(page_id):
    """The page as visitors will see it (publish mode, a whole document), from the saved tree."""
    page = _page(page_id)
    html = publishing.page_document(page, preview_context(page), asset_url=app_url,
                                    script_src=url_for("static", filename=site_script_path()))
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Content-Security-Policy"] = EDITOR_CSP.replace("form-action 'self'", "form-action 'none'")
    return response


def _publish_state(page: Page, problems=None, just_published: bool = False) -> dict:
    url = publishing.public_url(page.step) if page.is_published else None
    return {"published": page.is_published, "url": url, "problems": problems or [],
            "outdated": page.is_published and page.published_revision != page.revision,
            "just_published": just_published}


def _publish_answer(page: Page, problems=None, just_published=False, status=200):
    labels = {node["id"]: _label_of(node) for node, _, _ in trees.walk(page.tree)}
    html = render_template("builder/_publish.html", page=page, state=_publish_state(page, problems, just_published),
                           labels=labels, editable=can("user"))
    response = make_response(html, status)
    response.headers.update(_state_headers(page))
    return response


@bp.route("/builder/<uuid:page_id>/publish", methods=["POST"])
@role_required("user")
def publish(page_id):
    """Checks first: with problems, the list (each links to its element) and nothing published."""
    page = _page(page_id)
    with refusal() as refused:
        publishing.publish_page(current_account(), page, actor=current_user)
    if isinstance(refused.error, publishing.PublishRefused):
        return _publish_answer(page, refused.error.problems, status=422)
    if refused:
        raise refused.error  # refused for another reason: the app's error page says why
    return _publish_answer(page, just_published=True)


@bp.route("/builder/<uuid:page_id>/unpublish", methods=["POST"])
@role_required("user")
def unpublish(page_id):
    page = _page(page_id)
    publishing.unpublish_page(current_account(), page, actor=current_user)
    return _publish_answer(page)
