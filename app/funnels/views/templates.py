"""The template gallery: system templates and the workspace's own, their previews, "use template",
"save as template" and deleting a workspace template (the operations are app/funnels/templates.py's).

A preview shows each step's page in an iframe (`*_frame` routes): a real document with the published
pages' stylesheet, so the phone width behaves like a phone (the site's breakpoints are container queries).
The frame is served from the app, same origin only, with its own Content-Security-Policy; its document is
`previews.frame_document`.
"""
from datetime import date
from functools import lru_cache

from flask import abort, flash, request, url_for

from app.core.errors import ServiceError
from app.core.forms import apply_error
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, current_actor, get_or_404, scoped
from app.core.web import redirect_to, render
from app.extensions import csrf, db
from app.funnels import bp, previews, templates
from app.funnels import services as funnels
from app.funnels.forms import SaveTemplateForm, UseTemplateForm
from app.funnels.models import FUNNEL_TYPES, STEP_TYPES, FunnelTemplate
from app.funnels.system_templates import all_templates
from app.funnels.system_templates import get as get_system_template

SYSTEM_KEYS = ", ".join(repr(template.key) for template in all_templates())  # any(...) converter args
DEVICES = {"desktop": "Desktop", "mobile": "Phone"}
FRAME_CSP = ("default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
             "frame-src https://www.youtube-nocookie.com https://player.vimeo.com; media-src 'self' https:; "
             "frame-ancestors 'self'; base-uri 'none'; form-action 'self'")


# ---- what the pages show about a template -------------------------------------------------------------

class TemplateView:
    """A system template or a workspace one, as the gallery and the preview show it."""

    def __init__(self, *, name, description, funnel_type, steps, preview_url, use_url, thumbnail=None,
                 category="", row: FunnelTemplate | None = None, snapshot_source=None, funnel_name="",
                 checklist=()):
        self.name, self.description, self.funnel_type = name, description, funnel_type
        self.funnel_name = funnel_name or name  # what "use template" proposes to call the new funnel
        self.steps = steps  # [(name, step_type)]
        self.preview_url, self.use_url, self.thumbnail, self.category = preview_url, use_url, thumbnail, category
        self.row, self.checklist = row, checklist
        self._snapshot_source = snapshot_source

    @property
    def type_label(self) -> str:
        return FUNNEL_TYPES.get(self.funnel_type, self.funnel_type)

    @property
    def is_system(self) -> bool:
        return self.row is None

    def snapshot(self) -> dict:
        return self._snapshot_source()


def _system_view(template) -> TemplateView:
    return TemplateView(name=template.name, description=template.description, funnel_type=template.funnel_type,
                        steps=[(s.name, s.step_type) for s in template.outline], category=template.category,
                        preview_url=url_for("funnels.gallery_preview", key=template.key),
                        use_url=url_for("funnels.gallery_use", key=template.key),
                        thumbnail=url_for("static", filename=template.thumbnail), snapshot_source=template.snapshot,
                        funnel_name=template.funnel_name, checklist=template.checklist)


def _workspace_view(row: FunnelTemplate) -> TemplateView:
    steps = [(step.get("name") or "Step", step.get("step_type") or "page")
             for step in (row.snapshot or {}).get("steps") or []]
    return TemplateView(name=row.name, description=row.description, funnel_type=row.funnel_type, steps=steps,
                        preview_url=url_for("funnels.gallery_workspace_preview", template_id=row.id),
                        use_url=url_for("funnels.gallery_workspace_use", template_id=row.id),
                        category="Your template", row=row, snapshot_source=lambda: row.snapshot or {})


def _system_or_404(key: str):
    try:
        return get_system_template(key)
    except KeyError:
        abort(404)


# ---- the gallery --------------------------------------------------------------------------------------

@bp.route("/funnels/templates")
@role_required("viewer")
def gallery():
    account = current_account()
    funnel_type = templates.clean_type_filter(request.args.get("type"))
    system = [_system_view(t) for t in all_templates() if not funnel_type or t.funnel_type == funnel_type]
    own_page = paginate(templates.workspace_templates_query(account, funnel_type), *parse_page_args(request.args))
    own = [_workspace_view(row) for row in own_page.items]
    has_any_own = own_page.total > 0 or db.session.execute(
        scoped(FunnelTemplate, account).with_only_columns(FunnelTemplate.id).limit(1)).first() is not None
    return render("funnels/gallery.html", system=system, own=own, own_page=own_page, funnel_type=funnel_type,
                  funnel_types=FUNNEL_TYPES, step_types=STEP_TYPES, has_any_own=has_any_own)


# ---- previews -----------------------------------------------------------------------------------------

def _preview(view: TemplateView, frame_endpoint: str, **frame_args):
    step_index = _step_index(len(view.steps))
    device = request.args.get("device") if request.args.get("device") in DEVICES else "desktop"
    frame_url = url_for(frame_endpoint, step=step_index, **frame_args)
    return render("funnels/gallery_preview.html", tpl=view, step_index=step_index, device=device,
                  devices=DEVICES, frame_url=frame_url, step_types=STEP_TYPES)


def _step_index(count: int) -> int:
    try:
        index = int(request.args.get("step", 0))
    except (TypeError, ValueError):
        index = 0
    return index if 0 <= index < max(count, 1) else 0


@bp.route(f"/funnels/templates/<any({SYSTEM_KEYS}):key>/preview")
@role_required("viewer")
def gallery_preview(key):
    return _preview(_system_view(_system_or_404(key)), "funnels.gallery_frame", key=key)


@bp.route("/funnels/templates/<uuid:template_id>/preview")
@role_required("viewer")
def gallery_workspace_preview(template_id):
    row = get_or_404(FunnelTemplate, template_id)
    return _preview(_workspace_view(row), "funnels.gallery_workspace_frame", template_id=row.id)


# The frames accept POST so that a form in the preview moves on to the next step, as on the published
# page; nothing is stored, so there is no CSRF token to check.
@bp.route(f"/funnels/templates/<any({SYSTEM_KEYS}):key>/frame", methods=["GET", "POST"])
@csrf.exempt
@role_required("viewer")
def gallery_frame(key):
    _system_or_404(key)
    return _frame(_preview_snapshot(key, date.today()),
                  lambda index: url_for("funnels.gallery_frame", key=key, step=index))


@lru_cache(maxsize=16)
def _preview_snapshot(key: str, day: date) -> dict:
    """A system template's pages for the preview, built once a day (their dates count from today)."""
    return get_system_template(key).snapshot()


@bp.route("/funnels/templates/<uuid:template_id>/frame", methods=["GET", "POST"])
@csrf.exempt
@role_required("viewer")
def gallery_workspace_frame(template_id):
    row = get_or_404(FunnelTemplate, template_id)
    return _frame(row.snapshot or {}, lambda index: url_for("funnels.gallery_workspace_frame",
                                                              template_id=row.id, step=index),
                  asset_url=previews.snapshot_asset_urls(current_account(), row.snapshot or {}))


def _frame(snapshot: dict, url_of, asset_url=None):
    steps = snapshot.get("steps") or []
    if not steps:
        abort(404)
    index = _step_index(len(steps))
    step = steps[index]
    html = previews.frame_document(step, steps, index, url_of, asset_url)
    return html, 200, {"Content-Security-Policy": FRAME_CSP, "X-Frame-Options": "SAMEORIGIN",
                       "Cache-Control": "private, no-store"}


# ---- use a template -----------------------------------------------------------------------------------

def _use(view: TemplateView, action_url: str):
    form = UseTemplateForm(formdata=None, data={"name": view.funnel_name})
    status = 200
    if request.method == "POST":
        form = UseTemplateForm()
        if form.validate_on_submit():
            try:
                funnel = templates.use_template(current_account(), view.snapshot(), view.name,
                                              {"name": form.name.data, "slug": form.slug.data}, current_actor())
            except ServiceError as error:
                apply_error(form, error)
            else:
                flash(f"Funnel “{funnel.name}” created from the {view.name} template, with its "
                      f"{len(funnel.steps)} step{'' if len(funnel.steps) == 1 else 's'}.", "success")
                return redirect_to(url_for("funnels.detail", funnel_id=funnel.id))
        status = 422
    return render("funnels/gallery_use.html", block="use_form", status=status, tpl=view, form=form,
                  action_url=action_url, step_types=STEP_TYPES)


@bp.route(f"/funnels/templates/<any({SYSTEM_KEYS}):key>/use", methods=["GET", "POST"])
@role_required("user")
def gallery_use(key):
    return _use(_system_view(_system_or_404(key)), url_for("funnels.gallery_use", key=key))


@bp.route("/funnels/templates/<uuid:template_id>/use", methods=["GET", "POST"])
@role_required("user")
def gallery_workspace_use(template_id):
    row = get_or_404(FunnelTemplate, template_id)
    return _use(_workspace_view(row), url_for("funnels.gallery_workspace_use", template_id=row.id))


# ---- save a funnel as a template, delete one ----------------------------------------------------------

@bp.route("/funnels/<uuid:funnel_id>/save-as-template", methods=["GET", "POST"])
@role_required("user")
def save_as_template(funnel_id):
    account = current_account()
    funnel = funnels.get_funnel(account, funnel_id)
    form = SaveTemplateForm(formdata=None, data={"name": funnel.name, "description": funnel.description})
    status = 200
    if request.method == "POST":
        form = SaveTemplateForm()
        if form.validate_on_submit():
            try:
                template = templates.save_as_template(account, funnel, {"name": form.name.data,
                                                                      "description": form.description.data},
                                                    current_actor())
            except ServiceError as error:
                apply_error(form, error)
            else:
                flash(f"Saved as the template “{template.name}”: your team finds it under Your templates.",
                      "success")
                return redirect_to(url_for("funnels.gallery") + "#your-templates")
        status = 422
    return render("funnels/gallery_save.html", block="save_form", status=status, funnel=funnel, form=form,
                  detail_url=url_for("funnels.detail", funnel_id=funnel.id))


@bp.route("/funnels/templates/<uuid:template_id>/delete", methods=["POST"])
@role_required("admin")
def gallery_workspace_delete(template_id):
    row = get_or_404(FunnelTemplate, template_id)
    name = row.name
    templates.delete_template(current_account(), row, current_actor())
    flash(f"Template “{name}” deleted. Funnels made from it are not affected.", "success")
    return redirect_to(url_for("funnels.gallery") + "#your-templates")

