"""Pipelines and deals: the board, the list, a deal's page, the forecast, pipeline settings."""
import calendar

from flask import flash, request, url_for
from flask_login import current_user
from sqlalchemy import func
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from app.core.dates import today
from app.core.errors import ServiceError, ValidationError
from app.core.forms import apply_error, flashed_refusal, refusal
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404, scoped
from app.core.validation import text_value, uuid_or_none
from app.core.web import redirect_to, render, wants_fragment
from app.crm import bp
from app.crm.forms import QuickDealForm, chosen_contact, contact_label, deal_form, member_choices
from app.crm.models import DEAL_STATUSES, Contact, Deal, Pipeline, Stage
from app.crm.services import contacts as contacts_service
from app.crm.services import deals as service
from app.crm.views.notes import add_note, delete_note, edit_note, note_on, notes_panel
from app.extensions import db

PICKER_LIMIT = 20
STATUS_LABELS = {"open": "Open", "won": "Won", "lost": "Lost", "abandoned": "Abandoned"}
STATUS_BADGES = {"open": "accent", "won": "success", "lost": "danger", "abandoned": ""}
LIST_FILTERS = {"q": "q", "pipeline": "pipeline_id", "stage": "stage_id", "status": "status", "owner": "owner"}


# ---- helpers --------------------------------------------------------------------------------------

def _chosen_pipeline(pipelines, raw) -> Pipeline | None:
    """The pipeline asked for, else the first one (None when the workspace has none)."""
    wanted = uuid_or_none(raw)
    return next((p for p in pipelines if p.id == wanted), pipelines[0] if pipelines else None)


def _today(account):
    return today(account.timezone)


def _board_filters(source, members) -> tuple[dict, dict]:
    """Owner and expected-close range from query or form values: (filters, errors by field)."""
    filters, errors = {}, {}
    owner = (source.get("owner") or "").strip()
    if owner:
        if owner in {user_id for user_id, _ in members}:
            filters["owner"] = owner
        else:
            errors["owner"] = "Choose a member of this workspace."
    for key in ("close_from", "close_to"):
        raw = (source.get(key) or "").strip()
        if raw:
            try:
                filters[key] = service.bound_date(raw, key).isoformat()
            except ValidationError as error:
                errors[key] = error.message
    return filters, errors


def _board_context(account, pipeline, pipelines, filters, filter_errors=None, members=None, **extra):
    return dict(pipeline=pipeline, pipelines=pipelines, columns=service.board(account, pipeline, filters),
                filters=filters, filter_errors=filter_errors or {}, members=members or member_choices(account),
                today=_today(account), page_size=service.COLUMN_PAGE, quick_forms=_quick_forms(pipeline), **extra)


def _quick_forms(pipeline, override=None) -> dict:
    forms = {stage.id: QuickDealForm(prefix=_quick_prefix(stage), formdata=None) for stage in pipeline.stages}
    if override is not None:
        forms[override[0]] = override[1]
    return forms


def _quick_prefix(stage) -> str:
    return f"qa{stage.id.hex[:10]}"


def _head_columns(account, pipeline, filters) -> list[dict]:
    """Counts and totals of every column (no cards), for out-of-band header swaps."""
    return service.board(account, pipeline, filters, per_column=0)


# ---- the board ------------------------------------------------------------------------------------

@bp.route("/deals")
@role_required("viewer")
def board():
    account = current_account()
    pipelines = service.pipelines_of(account)
    pipeline = _chosen_pipeline(pipelines, request.args.get("pipeline"))
    if pipeline is None:  # every workspace gets one when it is made; this one's was deleted in the database
        return render("crm/deals/board.html", pipeline=None, pipelines=[])
    members = member_choices(account)
    filters, errors = _board_filters(request.args, members)
    context = _board_context(account, pipeline, pipelines, filters, errors, members)
    return render("crm/deals/board.html", block="board", status=422 if errors else 200, **context)


@bp.route("/deals/stages/<uuid:stage_id>/cards")
@role_required("viewer")
def deal_column(stage_id):
    """The next cards of a column ("Show more"), appended below the ones shown."""
    account = current_account()
    stage = get_or_404(Stage, stage_id)
    pipeline = stage.pipeline
    try:
        offset = max(0, min(int(request.args.get("offset", service.COLUMN_PAGE)), 10_000_000))
    except ValueError:
        offset = service.COLUMN_PAGE
    filters, _ = _board_filters(request.args, member_choices(account))
    cards = service.column_page(account, pipeline, stage, offset, filters)
    total = next((c["count"] for c in _head_columns(account, pipeline, filters) if c["stage"].id == stage.id), 0)
    return render("crm/deals/_column_more.html", stage=stage, cards=cards, shown=offset + len(cards), total=total,
                  filters=filters, today=_today(account), page_size=service.COLUMN_PAGE)


@bp.route("/deals/<uuid:deal_id>/move", methods=["POST"])
@role_required("user")
def deal_move(deal_id):
    """Drop on the board (htmx: answers the columns' new counts and totals) or the stage form of a deal."""
    account = current_account()
    deal = get_or_404(Deal, deal_id)
    members = member_choices(account)
    filters, _ = _board_filters(request.form, members)
    order = [value for value in request.form.getlist("order") if uuid_or_none(value)]
    with refusal() as refused:
        service.move(account, deal, request.form.get("stage_id"), order or None, actor=current_user)
    if refused:
        error = refused.error
        if wants_fragment():
            # The server is the source of truth: the whole board again, as it is.
            pipelines = service.pipelines_of(account)
            context = _board_context(account, deal.pipeline, pipelines, filters, members=members,
                                     board_error=error.message, oob=True)
            return render("crm/deals/board.html", block="board", status=422, **context)
        return render("crm/deals/detail.html", status=422, **_detail_context(deal, move_error=error.message))
    if wants_fragment():
        return render("crm/deals/_heads.html", columns=_head_columns(account, deal.pipeline, filters))
    flash(f"{deal.title} moved to {deal.stage.name}.", "success")
    return redirect_to(url_for("crm.deal_detail", deal_id=deal.id))


@bp.route("/deals/stages/<uuid:stage_id>/deals", methods=["POST"])
@role_required("user")
def deal_quick_add(stage_id):
    """Quick-add in a column: title and value; the card appears at the top of the column."""
    account = current_account()
    stage = get_or_404(Stage, stage_id)
    form = QuickDealForm(prefix=_quick_prefix(stage))
    if form.validate_on_submit():
        try:
            deal = service.create(account, {"title": form.title.data, "value": form.value.data or "",
                                            "stage_id": str(stage.id), "owner_id": str(current_user.id)},
                                  actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            if not wants_fragment():
                flash(f"Deal {deal.title} added to {stage.name}.", "success")
                return redirect_to(url_for("crm.board", pipeline=stage.pipeline_id))
            filters, _ = _board_filters(request.form, member_choices(account))
            deal = db.session.execute(scoped(Deal).where(Deal.id == deal.id)
                                      .options(joinedload(Deal.contact), joinedload(Deal.owner))).scalar_one()
            return render("crm/deals/_quick_added.html", stage=stage, deal=deal,
                          form=QuickDealForm(prefix=_quick_prefix(stage), formdata=None),
                          columns=_head_columns(account, stage.pipeline, filters), today=_today(account))
    if wants_fragment():
        return render("crm/deals/_quick_add.html", status=422, stage=stage, form=form, open=True)
    pipelines = service.pipelines_of(account)
    context = _board_context(account, stage.pipeline, pipelines, {})
    context["quick_forms"] = _quick_forms(stage.pipeline, (stage.id, form))
    return render("crm/deals/board.html", status=422, **context)


# ---- the list -------------------------------------------------------------------------------------

@bp.route("/deals/list")
@role_required("viewer")
def deal_list():
    account = current_account()
    args = {key: (request.args.get(key) or "").strip()[:200] for key in LIST_FILTERS}
    query = service.filtered(account, {LIST_FILTERS[key]: value for key, value in args.items()}).options(
        joinedload(Deal.stage), joinedload(Deal.pipeline), joinedload(Deal.contact), joinedload(Deal.owner))
    results = paginate(query, *parse_page_args(request.args))
    pipelines = service.pipelines_of(account)
    return render("crm/deals/list.html", block="results", results=results, args=args, pipelines=pipelines,
                  stage_groups=[(p.name, [(str(s.id), s.name) for s in p.stages]) for p in pipelines],
                  members=member_choices(account), statuses=[(s, STATUS_LABELS[s]) for s in DEAL_STATUSES],
                  status_labels=STATUS_LABELS, status_badges=STATUS_BADGES, filtered=any(args.values()))


# ---- one deal -------------------------------------------------------------------------------------

@bp.route("/deals/new", methods=["GET", "POST"])
@role_required("user")
def deal_new():
    account = current_account()
    if not service.pipelines_of(account):
        flash("Deals move through the stages of a pipeline: create one first.", "info")
        return redirect_to(url_for("crm.board"))
    defaults, contact = {"owner_id": str(current_user.id)}, None
    if request.method == "GET":
        values, contact = service.draft(account, request.args.get("contact_id"), request.args.get("company_id"),
                                        request.args.get("pipeline"), request.args.get("stage_id"))
        defaults.update(values)
    form = deal_form(account, **defaults)
    if form.validate_on_submit():
        try:
            deal = service.create(account, form.service_data(), actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"Deal {deal.title} created.", "success")
            return redirect_to(url_for("crm.deal_detail", deal_id=deal.id))
    status = 422 if form.is_submitted() else 200
    return render("crm/deals/form.html", block="form", status=status, form=form, deal=None, contact=contact)


def _detail_context(deal: Deal, notes=None, status_errors=None, move_error=None, reason=""):
    account = current_account()
    deal = db.session.execute(scoped(Deal, account).where(Deal.id == deal.id).options(
        joinedload(Deal.stage), joinedload(Deal.pipeline), joinedload(Deal.contact), joinedload(Deal.company),
        joinedload(Deal.owner))).scalar_one()
    return dict(deal=deal, stages=deal.pipeline.stages, status_labels=STATUS_LABELS, status_badges=STATUS_BADGES,
                notes=notes or notes_panel(deal), activity_context={"deal_id": deal.id},
                status_errors=status_errors or {}, move_error=move_error, reason=reason, today=_today(account))


def _page(deal):
    """The deal's page drawn again with a status (a refusal on it)."""
    def page(status, **extra):
        return render("crm/deals/detail.html", status=status, **_detail_context(deal, **extra))
    return page


@bp.route("/deals/<uuid:deal_id>")
@role_required("viewer")
def deal_detail(deal_id):
    deal = get_or_404(Deal, deal_id)
    return render("crm/deals/detail.html", **_detail_context(deal))


@bp.route("/deals/<uuid:deal_id>/edit", methods=["GET", "POST"])
@role_required("user")
def deal_edit(deal_id):
    account = current_account()
    deal = get_or_404(Deal, deal_id)
    form = deal_form(account, deal)
    if form.validate_on_submit():
        data = form.service_data()
        if data["stage_id"] not in {str(stage.id) for stage in deal.pipeline.stages}:
            apply_error(form, ValidationError("Choose a stage of this pipeline.", field="stage_id"))
        else:
            try:
                service.update(account, deal, data, actor=current_user)
                if data["stage_id"] != str(deal.stage_id):
                    service.move(account, deal, data["stage_id"], actor=current_user)
            except ServiceError as error:
                apply_error(form, error)
            else:
                flash("Deal saved.", "success")
                return redirect_to(url_for("crm.deal_detail", deal_id=deal.id))
    status = 422 if form.is_submitted() else 200
    return render("crm/deals/form.html", block="form", status=status, form=form, deal=db.session.get(Deal, deal.id),
                  contact=None)


@bp.route("/deals/<uuid:deal_id>/status", methods=["POST"])
@role_required("user")
def deal_status(deal_id):
    """Won, lost (with a reason), abandoned, or open again."""
    account = current_account()
    deal = get_or_404(Deal, deal_id)
    status, reason = request.form.get("status", ""), request.form.get("reason", "")
    with refusal() as refused:
        service.set_status(account, deal, status, reason, actor=current_user)
    if refused:
        errors = dict(refused.error.fields) or {"status": refused.error.message}
        return render("crm/deals/detail.html", status=422,
                      **_detail_context(db.session.get(Deal, deal.id), status_errors=errors, reason=reason[:255]))
    messages = {"open": "reopened", "won": "marked won", "lost": "marked lost", "abandoned": "marked abandoned"}
    flash(f"{deal.title} {messages[status]}.", "success")
    return redirect_to(url_for("crm.deal_detail", deal_id=deal.id))


@bp.route("/deals/<uuid:deal_id>/delete", methods=["POST"])
@role_required("user")
def deal_delete(deal_id):
    deal = get_or_404(Deal, deal_id)
    title, pipeline_id = deal.title, deal.pipeline_id
    service.delete(current_account(), deal, actor=current_user)
    flash(f"Deal {title} deleted.", "success")
    return redirect_to(url_for("crm.board", pipeline=pipeline_id))


# ---- notes (app/crm/views/notes.py) --------------------------------------------------------------

@bp.route("/deals/<uuid:deal_id>/notes", methods=["POST"])
@role_required("user")
def deal_note_add(deal_id):
    deal = get_or_404(Deal, deal_id)
    return add_note(deal, _page(deal))


@bp.route("/deals/notes/<uuid:note_id>/edit", methods=["POST"])
@role_required("user")
def deal_note_edit(note_id):
    note = note_on(note_id, Deal)
    deal = get_or_404(Deal, note.deal_id)
    return edit_note(deal, note, _page(deal))


@bp.route("/deals/notes/<uuid:note_id>/delete", methods=["POST"])
@role_required("user")
def deal_note_delete(note_id):
    note = note_on(note_id, Deal)
    return delete_note(get_or_404(Deal, note.deal_id), note)


@bp.route("/deals/contact-options")
@role_required("viewer")
def deal_contact_options():
    """<option>s for the contact picker: the current choice, then up to 20 contacts matching `q`."""
    account = current_account()
    q = (request.args.get("q") or "").strip()[:100]
    current = chosen_contact(request.args.get("contact_id"))
    matches = list(db.session.execute(
        contacts_service.filtered(account, {"q": q})
        .order_by(func.lower(Contact.first_name), func.lower(Contact.last_name), Contact.id)
        .limit(PICKER_LIMIT)).scalars())
    options = list(current) + [SelectChoice(str(c.id), contact_label(c)) for c in matches
                               if not current or str(c.id) != current[0].value]
    chosen = str(matches[0].id) if q and matches else (current[0].value if current else "")
    return render("crm/deals/_options.html", options=options, chosen=chosen, q=q, found=len(matches),
                  empty_label=request.args.get("empty") or "— No contact —")


# ---- forecast -------------------------------------------------------------------------------------

def _month_label(key: str) -> str:
    """ "2030-01" as "January 2030" (any year: no strftime, which some platforms do not pad)."""
    if key == "no date":
        return "No close date"
    year, month = key.split("-")
    return f"{calendar.month_name[int(month)]} {int(year)}"


@bp.route("/deals/forecast")
@role_required("viewer")
def deal_forecast():
    account = current_account()
    pipelines = service.pipelines_of(account)
    wanted = uuid_or_none(request.args.get("pipeline"))
    pipeline = next((p for p in pipelines if p.id == wanted), None)
    data = service.forecast(account, pipeline)
    months = [dict(bucket, key=key, label=_month_label(key)) for key, bucket in data["months"]]
    return render("crm/deals/forecast.html", block="results", pipelines=pipelines, pipeline=pipeline,
                  totals=data["totals"], months=months)


# ---- pipeline settings ----------------------------------------------------------------------------

def _pipelines_context(errors=None, values=None, create_form_error=None):
    account = current_account()
    pipelines = service.pipelines_of(account)
    counts = dict(db.session.execute(scoped(Deal, account).with_only_columns(Deal.pipeline_id, func.count())
                                     .group_by(Deal.pipeline_id)).all())
    stage_counts = dict(db.session.execute(scoped(Deal, account).with_only_columns(Deal.stage_id, func.count())
                                           .group_by(Deal.stage_id)).all())
    return dict(pipelines=pipelines, counts=counts, stage_counts=stage_counts, errors=errors or {},
                values=values or {}, create_error=create_form_error)


def _pipeline_response(pipeline, status=200, errors=None, values=None):
    """After a change to one pipeline: its card (htmx) or the page (redirect when it went well)."""
    if wants_fragment():
        context = _pipelines_context(errors, values)
        pipeline = next(p for p in context["pipelines"] if p.id == pipeline.id)
        return render("crm/deals/_pipeline.html", status=status, pipeline=pipeline, **context)
    if status < 400:
        return redirect_to(url_for("crm.deal_pipelines") + f"#pipeline-{pipeline.id}")
    return render("crm/deals/pipelines.html", status=status, **_pipelines_context(errors, values))


@bp.route("/deals/pipelines")
@role_required("viewer")
def deal_pipelines():
    return render("crm/deals/pipelines.html", **_pipelines_context())


@bp.route("/deals/pipelines", methods=["POST"])
@role_required("admin")
def deal_pipeline_create():
    name = request.form.get("name", "")
    with refusal() as refused:
        pipeline = service.create_pipeline(current_account(), name, actor=current_user)
    if refused:
        error = refused.error
        context = _pipelines_context(errors={"create": error.fields or {"name": error.message}},
                                     values={"create": {"name": name[:80]}})
        return render("crm/deals/pipelines.html", block="create_form", status=422, **context)
    flash(f"Pipeline {pipeline.name} created with the usual stages: rename or change them below.", "success")
    return redirect_to(url_for("crm.deal_pipelines") + f"#pipeline-{pipeline.id}")


@bp.route("/deals/pipelines/<uuid:pipeline_id>/rename", methods=["POST"])
@role_required("admin")
def deal_pipeline_rename(pipeline_id):
    pipeline = get_or_404(Pipeline, pipeline_id)
    name = request.form.get("name", "")
    with refusal() as refused:
        service.rename_pipeline(current_account(), pipeline, name, actor=current_user)
    if refused:
        error = refused.error
        return _pipeline_response(pipeline, 422, {f"rename-{pipeline.id}": error.fields or {"name": error.message}},
                                  {f"rename-{pipeline.id}": {"name": name[:80]}})
    return _pipeline_response(pipeline)


@bp.route("/deals/pipelines/<uuid:pipeline_id>/delete", methods=["POST"])
@role_required("admin")
def deal_pipeline_delete(pipeline_id):
    pipeline = get_or_404(Pipeline, pipeline_id)
    name = pipeline.name
    with flashed_refusal() as refused:
        service.delete_pipeline(current_account(), pipeline, actor=current_user)
    if refused:
        return render("crm/deals/pipelines.html", status=422, **_pipelines_context())
    flash(f"Pipeline {name} and its deals were deleted.", "success")
    return redirect_to(url_for("crm.deal_pipelines"))


@bp.route("/deals/pipelines/<uuid:pipeline_id>/stages", methods=["POST"])
@role_required("admin")
def deal_stage_add(pipeline_id):
    pipeline = get_or_404(Pipeline, pipeline_id)
    name, chance = request.form.get("name", ""), request.form.get("probability", "")
    with refusal() as refused:
        _check_stage(name, chance)
        service.add_stage(current_account(), pipeline, name, chance, actor=current_user)
    if refused:
        return _pipeline_response(pipeline, 422, {f"add-{pipeline.id}": refused.error.fields},
                                  {f"add-{pipeline.id}": {"name": name[:80], "probability": chance[:10]}})
    return _pipeline_response(pipeline)


def _check_stage(name, chance) -> None:
    """Both fields' messages at once (the service stops at the first)."""
    errors = {}
    try:
        text_value({"name": name}, "name", "stage name", 80, required=True)
    except ValidationError as error:
        errors.update(error.fields)
    try:
        service.probability(chance)
    except ValidationError as error:
        errors.update(error.fields)
    if errors:
        raise ValidationError("The stage is not valid.", fields=errors)


@bp.route("/deals/stages/<uuid:stage_id>/edit", methods=["POST"])
@role_required("admin")
def deal_stage_edit(stage_id):
    stage = get_or_404(Stage, stage_id)
    pipeline = stage.pipeline
    name, chance = request.form.get("name", ""), request.form.get("probability", "")
    with refusal() as refused:
        service.update_stage(current_account(), stage, name, chance, actor=current_user)
    if refused:
        return _pipeline_response(pipeline, 422, {f"stage-{stage_id}": refused.error.fields},
                                  {f"stage-{stage_id}": {"name": name[:80], "probability": chance[:10]}})
    return _pipeline_response(pipeline)


@bp.route("/deals/stages/<uuid:stage_id>/delete", methods=["POST"])
@role_required("admin")
def deal_stage_delete(stage_id):
    stage = get_or_404(Stage, stage_id)
    pipeline = stage.pipeline
    name = stage.name
    with flashed_refusal() as refused:
        service.delete_stage(current_account(), stage, actor=current_user)
    if refused:
        return render("crm/deals/pipelines.html", status=422, **_pipelines_context())
    flash(f"Stage {name} deleted from {pipeline.name}.", "success")
    return redirect_to(url_for("crm.deal_pipelines") + f"#pipeline-{pipeline.id}")


@bp.route("/deals/pipelines/<uuid:pipeline_id>/stages/order", methods=["POST"])
@role_required("admin")
def deal_stage_order(pipeline_id):
    """The stages in the order they were dragged to (every stage of the pipeline once)."""
    pipeline = get_or_404(Pipeline, pipeline_id)
    with flashed_refusal() as refused:
        service.reorder_stages(current_account(), pipeline, request.form.getlist("stage_ids"))
    return _pipeline_response(pipeline, 422 if refused else 200)

