"""Activities and tasks: My tasks, status changes, the activity panel on records, edit and delete.

The panel (templates/crm/activities/_record_activities.html) is included by the contact, company and
deal pages with `activity_context = {"contact_id": ...}` (or company_id / deal_id); it loads its own
data through the `activity_panel()` template global, and it is also served alone by
GET /activities/for?contact_id=..., the target of its htmx swaps.
"""
import math
import uuid

from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.models import User
from app.core.db import utcnow
from app.core.errors import NotFoundError, ServiceError
from app.core.formatting import display_zone
from app.core.forms import apply_error, refusal
from app.core.pagination import Page, paginate, parse_page_args
from app.core.roles import can, role_required
from app.core.tenancy import current_account, get_or_404
from app.core.web import redirect_to, render, safe_next_url, wants_fragment
from app.crm import bp
from app.crm.forms import ACTIVITY_TYPE_LABELS as TYPE_LABELS
from app.crm.forms import ActivityForm, assignee_choices
from app.crm.models import ACTIVITY_TRANSITIONS, Activity, Company, Contact, Deal
from app.crm.services import activities
from app.extensions import db

STATUS_BADGES = {"pending": ("pending", ""), "in_progress": ("in progress", "accent"),
                 "completed": ("completed", "success"), "cancelled": ("cancelled", "")}
# The buttons for status changes, in the order shown; only those ACTIVITY_TRANSITIONS allows appear.
ACTIONS = (("in_progress", "Start", "Mark as in progress"), ("completed", "Complete", "Mark as completed"),
           ("pending", "Reopen", "Back to pending"), ("cancelled", "Cancel", "Cancel this activity"))
DONE_MESSAGES = {"in_progress": "started", "completed": "completed", "pending": "reopened", "cancelled": "cancelled"}
# The record an activity may belong to: form field, model, and the page of such a record.
RECORDS = (("contact_id", Contact, "/contacts/"), ("company_id", Company, "/companies/"), ("deal_id", Deal, "/deals/"))
GROUPS = (("overdue", "Overdue"), ("today", "Today"), ("upcoming", "Upcoming"), ("no_date", "No date"))
PANEL_PAGE_SIZE = 10
GROUP_PAGE_SIZE = 20


def _zone_name() -> str:
    return display_zone().key


def _form(formdata=True, activity: Activity | None = None) -> ActivityForm:
    if formdata:
        form = ActivityForm(prefix="activity")
    else:
        form = ActivityForm(prefix="activity", formdata=None)
        if activity is None:
            form.assignee_id.data = str(current_user.id)
        else:
            form.activity_type.data = activity.activity_type
            form.subject.data = activity.subject
            form.description.data = activity.description
            form.assignee_id.data = str(activity.assignee_id) if activity.assignee_id else ""
            form.due_at.data = (activity.due_at.astimezone(display_zone()).strftime("%Y-%m-%dT%H:%M")
                                if activity.due_at else "")
    form.assignee_id.choices = assignee_choices(current_account())
    form.due_at.description = f"In your time zone, {_zone_name()}."
    return form


def _context_ids(source, strict: bool = False) -> dict:
    """{"contact_id": UUID, ...} from the panel's context or a request's values.

    strict (request values): the records must exist in this account, else 404."""
    context = {}
    for key, model, _ in RECORDS:
        raw = source.get(key) if source else None
        if raw in (None, ""):
            continue
        try:
            value = raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
        except ValueError:
            if strict:
                raise NotFoundError("Not found.") from None
            continue
        if strict:
            get_or_404(model, value)
        context[key] = value
    return context


def _record_url(context: dict) -> str:
    for key, _, prefix in RECORDS:
        if context.get(key):
            return f"{prefix}{context[key]}"
    return url_for("crm.my_tasks")


def _activity_home(activity: Activity) -> str:
    """Where an activity lives: its deal, contact or company page, else My tasks."""
    for key in ("deal_id", "contact_id", "company_id"):
        if getattr(activity, key):
            return _record_url({key: getattr(activity, key)})
    return url_for("crm.my_tasks")


def _preload(items) -> None:
    """Load the contacts, companies, deals and assignees of these activities in four queries; the
    many-to-one relationships then come from the session instead of one query per row."""
    if not items:
        return
    for attribute, model in (("contact_id", Contact), ("company_id", Company), ("deal_id", Deal),
                             ("assignee_id", User)):
        ids = {getattr(a, attribute) for a in items if getattr(a, attribute)}
        if ids:
            db.session.execute(select(model).where(model.id.in_(ids))).scalars().all()


@bp.app_template_global()
def activity_actions(activity: Activity) -> list[tuple[str, str, str]]:
    """The status changes offered for this activity: (status, button label, title)."""
    allowed = ACTIVITY_TRANSITIONS.get(activity.status, set())
    return [action for action in ACTIONS if action[0] in allowed]


@bp.app_template_global()
def activity_type_label(activity_type: str) -> str:
    return TYPE_LABELS.get(activity_type, activity_type)


@bp.app_template_global()
def activity_status_badge(status: str) -> tuple[str, str]:
    return STATUS_BADGES.get(status, (status, ""))


@bp.app_template_global()
def activity_is_overdue(activity: Activity, now=None) -> bool:
    return bool(activity.due_at and activity.status in ("pending", "in_progress")
                and activity.due_at < (now or utcnow()))


def _panel(context: dict, form: ActivityForm | None = None, message: str | None = None,
           error: str | None = None, page: int | None = None) -> dict:
    account = current_account()
    if context:
        query = activities.for_record(account, **context).order_by(Activity.created_at.desc(), Activity.id)
        if page is None:
            page = parse_page_args(request.args, page_field="activities_page")[0]
        items = paginate(query, page, PANEL_PAGE_SIZE)
        if items.page > items.pages:  # e.g. the last row of the last page was just deleted
            items = paginate(query, items.pages, PANEL_PAGE_SIZE)
    else:
        items = Page(items=[], page=1, page_size=PANEL_PAGE_SIZE, total=0)
    _preload(items.items)
    editable = can("user")
    if form is None and editable:
        form = _form(formdata=False)
    return {"context": context, "activities": items, "form": form if editable else None,
            "open_form": bool(form is not None and form.errors), "message": message, "error": error,
            "now": utcnow(), "next": _record_url(context), "zone": _zone_name(), "editable": editable,
            "pager": [(label, n) for label, n, show in (("← Previous", items.page - 1, items.has_prev),
                                                         ("Next →", items.page + 1, items.has_next)) if show]}


@bp.app_template_global()
def activity_panel(activity_context) -> dict:
    """The data of the activity panel of a contact, company or deal page."""
    return _panel(_context_ids(activity_context or {}))


def _panel_response(context: dict, status: int = 200, **kwargs):
    panel = _panel(context, **kwargs)
    return render("crm/activities/for_record.html", block="panel", status=status,
                  activity_panel_data=panel, activity_context=context, records=_records_of(context))


def _records_of(context: dict) -> list[tuple[str, str, str]]:
    """(kind, name, url) of the records a panel is about, for the standalone page's heading."""
    names = []
    for key, model, prefix in RECORDS:
        if context.get(key):
            row = db.session.get(model, context[key])
            names.append((key.removesuffix("_id"), getattr(row, "title", None) or row.name, f"{prefix}{row.id}"))
    return names


def _groups_context(form: ActivityForm | None = None, message: str | None = None, error: str | None = None) -> dict:
    groups = activities.my_tasks(current_account(), current_user, _zone_name())
    pages = {}
    for key, _ in GROUPS:
        rows = groups[key]
        page = parse_page_args(request.args, page_field=f"{key}_page")[0]
        page = min(page, max(1, math.ceil(len(rows) / GROUP_PAGE_SIZE)))
        pages[key] = Page(items=rows[(page - 1) * GROUP_PAGE_SIZE:page * GROUP_PAGE_SIZE], page=page,
                          page_size=GROUP_PAGE_SIZE, total=len(rows))
    _preload([a for p in pages.values() for a in p.items])
    if form is None and can("user"):
        form = _form(formdata=False)
    return {"groups": pages, "group_titles": GROUPS, "total": sum(p.total for p in pages.values()),
            "form": form if can("user") else None, "message": message, "error": error, "now": utcnow(),
            "zone": _zone_name()}


@bp.route("/tasks")
@role_required("viewer")
def my_tasks():
    return render("crm/activities/my_tasks.html", **_groups_context())


@bp.route("/activities/for")
@role_required("viewer")
def task_for_record():
    """The activity panel of a record, alone (htmx target) or as a page of its own."""
    context = _context_ids(request.args, strict=True)
    if not context:
        abort(400, description="Name a contact_id, company_id or deal_id.")
    return _panel_response(context)


def _view_of(context: dict) -> str:
    view = request.form.get("view")
    if view in ("record", "tasks"):
        return view
    return "record" if context else "tasks"


@bp.route("/activities", methods=["POST"])
@role_required("user")
def task_create():
    context = _context_ids(request.form, strict=True)
    view = _view_of(context)
    if view == "record" and not context:
        abort(400, description="Name a contact_id, company_id or deal_id.")
    form = _form()
    if form.validate_on_submit():
        data = form.values()
        data.update({key: str(value) for key, value in context.items()})
        if "deal_id" in context:  # an activity about a deal also shows with its contact and company
            deal = db.session.get(Deal, context["deal_id"])
            for key in ("contact_id", "company_id"):
                if key not in context and getattr(deal, key):
                    data[key] = str(getattr(deal, key))
        try:
            activity = activities.create(current_account(), data, actor=current_user, zone_name=_zone_name())
        except ServiceError as error:
            apply_error(form, error)
        else:
            mine = activity.assignee_id == current_user.id
            who = "" if mine or not activity.assignee else f", assigned to {activity.assignee.display_name}"
            message = f"{TYPE_LABELS[activity.activity_type]} “{activity.subject}” added{who}."
            if view == "record" and wants_fragment():
                return _panel_response(context, message=message)
            flash(message, "success")
            fallback = _record_url(context) if view == "record" else url_for("crm.my_tasks")
            return redirect_to(safe_next_url(request.form.get("next"), fallback))
    if view == "record":
        return _panel_response(context, status=422, form=form)
    return render("crm/activities/my_tasks.html", block="add_form", status=422, **_groups_context(form=form))


@bp.route("/activities/<uuid:activity_id>/status", methods=["POST"])
@role_required("user")
def task_status(activity_id):
    activity = get_or_404(Activity, activity_id)
    status = request.form.get("status", "")
    context = _context_ids(request.form, strict=True)
    view = _view_of(context)
    subject = activity.subject
    with refusal() as refused:
        activities.transition(current_account(), activity, status, actor=current_user)
    if refused:
        # htmx swaps only 2xx and 422 (static/js/app.js): a refused change comes back as 422 there so
        # the panel is re-drawn with the message next to the activity; a plain form post gets the 409.
        code = 422 if wants_fragment() else refused.error.status
        message, error = None, refused.error.message
    else:
        code, message, error = 200, f"“{subject}” {DONE_MESSAGES[status]}.", None
        if not wants_fragment():
            flash(message, "success")
            fallback = _record_url(context) if view == "record" else url_for("crm.my_tasks")
            return redirect_to(safe_next_url(request.form.get("next"), fallback))
    if view == "record" and context:
        return _panel_response(context, status=code, message=message, error=error)
    return render("crm/activities/my_tasks.html", block="groups", status=code,
                  **_groups_context(message=message, error=error))


@bp.route("/activities/<uuid:activity_id>/edit", methods=["GET", "POST"])
@role_required("user")
def task_edit(activity_id):
    activity = get_or_404(Activity, activity_id)
    next_url = safe_next_url(request.values.get("next"), _activity_home(activity))
    if request.method == "POST":
        form = _form()
        if form.validate_on_submit():
            try:
                activities.update(current_account(), activity, form.values(), actor=current_user,
                                  zone_name=_zone_name(), partial=True)
            except ServiceError as error:
                apply_error(form, error)
            else:
                flash(f"“{activity.subject}” saved.", "success")
                return redirect_to(next_url)
        status = 422
    else:
        form, status = _form(formdata=False, activity=activity), 200
    _preload([activity])
    return render("crm/activities/edit.html", status=status, activity=activity, form=form, next_url=next_url,
                  now=utcnow())


@bp.route("/activities/<uuid:activity_id>/delete", methods=["POST"])
@role_required("user")
def task_delete(activity_id):
    activity = get_or_404(Activity, activity_id)
    next_url = safe_next_url(request.form.get("next"), _activity_home(activity))
    if next_url.startswith(url_for("crm.task_edit", activity_id=activity.id)):
        next_url = _activity_home(activity)  # the edit page of a deleted activity would 404
    subject = activity.subject
    activities.delete(current_account(), activity, actor=current_user)
    flash(f"Activity “{subject}” deleted.", "success")
    return redirect_to(next_url)
