"""Funnel pages: the list, create, a funnel's page (steps: add, configure, reorder, delete; publish,
clone, archive, delete) and its settings. Versions are views/versions.py's, templates views/templates.py's.

Viewers read everything; users change. Another account's funnel, step or version is a 404, and so is
a deleted funnel."""

from flask import flash, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.core.errors import ServiceError
from app.core.forms import apply_error, refusal
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account
from app.core.web import redirect_to, render, wants_fragment
from app.extensions import db
from app.funnels import bp, publishing, services, splittests, versions
from app.funnels.forms import FunnelForm, FunnelSettingsForm, StepForm
from app.funnels.models import FUNNEL_STATUSES, FUNNEL_TYPES, STEP_TYPES, Funnel, FunnelStep

STATUS_BADGES = {"draft": "", "published": "success", "archived": "warning"}
STATUS_LABELS = {"draft": "Draft", "published": "Published", "archived": "Archived"}


# ---- helpers shared by the templates ------------------------------------------------------------------

def builder_url(page) -> str:
    """The page builder for a step's page."""
    return url_for("builder.editor", page_id=page.id) if page is not None else "#"


@bp.context_processor
def _funnel_helpers():
    return {"builder_url": builder_url, "funnel_url": publishing.funnel_address,
            "step_url": publishing.public_url, "site_url": publishing.site_origin, "status_badges": STATUS_BADGES,
            "status_labels": STATUS_LABELS, "funnel_types": FUNNEL_TYPES, "step_types": STEP_TYPES,
            "version_step_name": versions.version_step_name}


def _funnel(funnel_id) -> Funnel:
    return services.get_funnel(current_account(), funnel_id)


def _step(funnel: Funnel, step_id) -> FunnelStep:
    return services.get_step(current_account(), funnel, step_id)


# ---- the list -----------------------------------------------------------------------------------------

def _list_filters(args) -> dict:
    """q, status and type from the query; unknown values are ignored (a page never fails on a filter)."""
    filters = {}
    q = (args.get("q") or "").strip()[:200].replace("\x00", "")
    if q:
        filters["q"] = q
    if args.get("status") in FUNNEL_STATUSES:
        filters["status"] = args["status"]
    if args.get("type") in FUNNEL_TYPES:
        filters["funnel_type"] = args["type"]
    return filters


@bp.route("/funnels")
@role_required("viewer")
def index():
    filters = _list_filters(request.args)
    page = paginate(services.filtered(current_account(), filters), *parse_page_args(request.args), scalars=False)
    return render("funnels/index.html", block="results", page=page, filters=filters,
                  statuses=FUNNEL_STATUSES)


# ---- create -------------------------------------------------------------------------------------------

@bp.route("/funnels/new", methods=["GET", "POST"])
@role_required("user")
def new():
    form = FunnelForm()
    if form.validate_on_submit():
        try:
            funnel = services.create_funnel(current_account(), form.service_data(), current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"Funnel “{funnel.name}” created with an opt-in page and a thank-you page.", "success")
            return redirect_to(url_for("funnels.detail", funnel_id=funnel.id))
    status = 422 if form.is_submitted() else 200
    return render("funnels/new.html", block="form", status=status, form=form)


# ---- a funnel's page ----------------------------------------------------------------------------------

def _detail_context(funnel: Funnel, step_form=None, **extra) -> dict:
    steps = db.session.execute(
        db.select(FunnelStep).where(FunnelStep.funnel_id == funnel.id)
        .options(selectinload(FunnelStep.page)).order_by(FunnelStep.position, FunnelStep.created_at)
    ).scalars().all()
    context = {"funnel": funnel, "steps": steps, "step_form": step_form or StepForm(formdata=None),
               "problems": [], "notice": None, "step_error": None,
               "split_tests": splittests.running_tests(current_account(), funnel)}
    context.update(extra)
    return context


@bp.route("/funnels/<uuid:funnel_id>")
@role_required("viewer")
def detail(funnel_id):
    return render("funnels/detail.html", **_detail_context(_funnel(funnel_id)))


@bp.route("/funnels/<uuid:funnel_id>/settings", methods=["GET", "POST"])
@role_required("user")
def settings(funnel_id):
    funnel = _funnel(funnel_id)
    if request.method == "POST":
        form = FunnelSettingsForm()
        if form.validate_on_submit():
            try:
                services.update_funnel(current_account(), funnel, form.service_data(), current_user)
            except ServiceError as error:
                apply_error(form, error)
            else:
                flash("Funnel settings saved.", "success")
                return redirect_to(url_for("funnels.detail", funnel_id=funnel.id))
        status = 422
        funnel = _funnel(funnel_id)
    else:
        form = FunnelSettingsForm(obj=funnel)
        form.custom_domain.data = funnel.custom_domain or ""
        status = 200
    return render("funnels/settings.html", block="form", status=status, form=form, funnel=funnel)


@bp.route("/funnels/<uuid:funnel_id>/clone", methods=["POST"])
@role_required("user")
def clone(funnel_id):
    funnel = _funnel(funnel_id)
    copy = services.clone(current_account(), funnel, current_user)
    flash(f"“{funnel.name}” cloned: this is the copy, a draft at its own address.", "success")
    return redirect_to(url_for("funnels.detail", funnel_id=copy.id))


@bp.route("/funnels/<uuid:funnel_id>/archive", methods=["POST"])
@role_required("user")
def archive(funnel_id):
    funnel = _funnel(funnel_id)
    services.set_status(current_account(), funnel, "archived", current_user)
    flash(f"“{funnel.name}” archived. Unarchive it to work on it again.", "success")
    return redirect_to(url_for("funnels.detail", funnel_id=funnel.id))


@bp.route("/funnels/<uuid:funnel_id>/unarchive", methods=["POST"])
@role_required("user")
def unarchive(funnel_id):
    funnel = _funnel(funnel_id)
    services.unarchive(current_account(), funnel, current_user)
    flash(f"“{funnel.name}” is back among your active funnels.", "success")
    return redirect_to(url_for("funnels.detail", funnel_id=funnel.id))


@bp.route("/funnels/<uuid:funnel_id>/delete", methods=["POST"])
@role_required("user")
def delete(funnel_id):
    funnel = _funnel(funnel_id)
    name = funnel.name
    services.soft_delete(current_account(), funnel, current_user)
    flash(f"Funnel “{name}” deleted: its pages are offline and its address is free again.", "success")
    return redirect_to(url_for("funnels.index"))


@bp.route("/funnels/<uuid:funnel_id>/publish", methods=["POST"])
@role_required("user")
def publish(funnel_id):
    funnel = _funnel(funnel_id)
    with refusal() as refused:
        publishing.publish_funnel(current_account(), funnel, current_user)
    if refused:
        funnel = _funnel(funnel_id)
        problems = getattr(refused.error, "problems", None) or []
        notice = refused.error.message if not problems else None
        return render("funnels/detail.html", status=422,
                      **_detail_context(funnel, problems=_problems_by_step(funnel, problems), notice=notice))
    flash(f"“{funnel.name}” is published: visitors can open it now.", "success")
    return redirect_to(url_for("funnels.detail", funnel_id=funnel.id))


def _problems_by_step(funnel: Funnel, problems: list) -> list[dict]:
    """[{step, page, builder, items: [{message, link}]}] in the order of the steps, from the problems the
    publisher listed (each names its page or step, and the element at fault)."""
    groups = []
    for step in funnel.steps:
        page = step.page
        ids = {str(step.id), str(page.id) if page is not None else None}
        items = [problem for problem in problems if isinstance(problem, dict)
                 and (str(problem.get("page_id")) in ids or str(problem.get("step_id")) in ids)]
        if items:
            base = builder_url(page)
            groups.append({"step": step, "builder": base, "sources": items, "items": [
                {"message": item.get("message") or "A problem on this page.",
                 "link": _problem_link(item, page, base)} for item in items]})
    placed = {id(item) for group in groups for item in group.get("sources", [])}
    rest = [problem for problem in problems if id(problem) not in placed]
    if rest:  # problems that name no step of this funnel: listed all the same
        groups.append({"step": None, "builder": None, "items": [
            {"message": (p.get("message") if isinstance(p, dict) else str(p)) or "A problem.", "link": None}
            for p in rest]})
    return groups


def _problem_link(item: dict, page, base: str) -> str:
    """The builder at the element at fault, on the page it is on (the step's, or a split-test variant's)."""
    if item.get("page_id") and page is not None and str(item["page_id"]) != str(page.id):
        base = url_for("builder.editor", page_id=item["page_id"])
    return f"{base}?element={item['element_id']}" if item.get("element_id") else base


@bp.route("/funnels/<uuid:funnel_id>/unpublish", methods=["POST"])
@role_required("user")
def unpublish(funnel_id):
    funnel = _funnel(funnel_id)
    publishing.unpublish_funnel(current_account(), funnel, current_user)
    flash(f"“{funnel.name}” is offline: its pages answer “not found” to visitors.", "success")
    return redirect_to(url_for("funnels.detail", funnel_id=funnel.id))


# ---- steps --------------------------------------------------------------------------------------------

@bp.route("/funnels/<uuid:funnel_id>/steps", methods=["POST"])
@role_required("user")
def step_add(funnel_id):
    funnel = _funnel(funnel_id)
    form = StepForm()
    if form.validate_on_submit():
        try:
            step = services.add_step(current_account(), funnel, form.service_data(), current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"Step “{step.name}” added at the end of the funnel.", "success")
            return redirect_to(url_for("funnels.detail", funnel_id=funnel.id) + f"#step-{step.id}")
    funnel = _funnel(funnel_id)
    return render("funnels/detail.html", block="step_form", status=422, **_detail_context(funnel, step_form=form))


@bp.route("/funnels/<uuid:funnel_id>/steps/<uuid:step_id>/edit", methods=["GET", "POST"])
@role_required("user")
def step_edit(funnel_id, step_id):
    funnel = _funnel(funnel_id)
    step = _step(funnel, step_id)
    if request.method == "POST":
        form = StepForm()
        if form.validate_on_submit():
            try:
                services.update_step(current_account(), funnel, step, form.service_data(), current_user)
            except ServiceError as error:
                apply_error(form, error)
            else:
                flash(f"Step “{step.name}” saved.", "success")
                return redirect_to(url_for("funnels.detail", funnel_id=funnel.id) + f"#step-{step.id}")
        status = 422
        funnel = _funnel(funnel_id)
        step = _step(funnel, step_id)
    else:
        form, status = StepForm(obj=step), 200
    return render("funnels/step_edit.html", block="form", status=status, form=form, funnel=funnel, step=step)


@bp.route("/funnels/<uuid:funnel_id>/steps/<uuid:step_id>/duplicate", methods=["POST"])
@role_required("user")
def step_duplicate(funnel_id, step_id):
    funnel = _funnel(funnel_id)
    step = _step(funnel, step_id)
    copy = services.duplicate_step(current_account(), funnel, step, current_user)
    flash(f"“{step.name}” duplicated: the copy, right after it, is a draft at /{copy.slug}.", "success")
    return redirect_to(url_for("funnels.detail", funnel_id=funnel.id) + f"#step-{copy.id}")


@bp.route("/funnels/<uuid:funnel_id>/steps/<uuid:step_id>/delete", methods=["POST"])
@role_required("user")
def step_delete(funnel_id, step_id):
    funnel = _funnel(funnel_id)
    step = _step(funnel, step_id)
    name = step.name
    with refusal() as refused:
        services.delete_step(current_account(), funnel, step, current_user)
    if refused:
        context = _detail_context(_funnel(funnel_id), notice=refused.error.message)
        return render("funnels/detail.html", status=422, **context)
    flash(f"Step “{name}” deleted.", "success")
    return redirect_to(url_for("funnels.detail", funnel_id=funnel.id) + "#steps")


@bp.route("/funnels/<uuid:funnel_id>/steps/order", methods=["POST"])
@role_required("user")
def step_order(funnel_id):
    """The steps in their new order (dragged, or moved with the arrows): every step once."""
    funnel = _funnel(funnel_id)
    with refusal() as refused:
        services.reorder_steps(current_account(), funnel, request.form.getlist("step_ids"), current_user)
    if refused:
        context = _detail_context(_funnel(funnel_id), step_error=refused.error.message)
        return render("funnels/detail.html", block="steps", status=422, **context)
    if wants_fragment():
        return render("funnels/detail.html", block="steps", **_detail_context(_funnel(funnel_id)))
    return redirect_to(url_for("funnels.detail", funnel_id=funnel.id) + "#steps")
