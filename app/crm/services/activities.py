"""Activities and tasks: types, a status state machine, due dates in the user's time zone."""
from datetime import time, timedelta

from sqlalchemy import or_

from app.auth.services import member_user_id
from app.core import audit, events
from app.core.dates import read_datetime, start_of_day, zone
from app.core.db import utcnow
from app.core.errors import ConflictError, ValidationError
from app.core.tenancy import scoped
from app.core.validation import FieldErrors, choice_value, row_of_account, text_value
from app.crm.models import ACTIVITY_STATUSES, ACTIVITY_TRANSITIONS, ACTIVITY_TYPES, Activity, Company, Contact, Deal
from app.crm.services import timeline
from app.extensions import db

STATUS_LABELS = {"pending": "pending", "in_progress": "in progress", "completed": "completed",
                 "cancelled": "cancelled"}


def parse_due(raw, zone_name: str):
    """A due time typed in the user's zone ('2026-12-01T14:30', or '2026-12-01' at 9:00) as UTC; a date
    outside core.dates' range (e.g. 9999-12-31, which would overflow in UTC) is refused naming due_at."""
    return read_datetime(raw, zone_name, "due_at", default_time=time(9, 0))


def _clean(account, data: dict, zone_name: str, partial: bool) -> dict:
    fields = FieldErrors(data, partial)
    attempt = fields.add
    attempt("activity_type", lambda: choice_value(data, "activity_type", "type", ACTIVITY_TYPES, default="task"))
    attempt("subject", lambda: text_value(data, "subject", "subject", 200, required=True))
    attempt("description", lambda: text_value(data, "description", "description", 5000) or "")
    attempt("due_at", lambda: parse_due(data.get("due_at"), zone_name))
    attempt("assignee_id", lambda: member_user_id(account, data.get("assignee_id"), "assignee_id"))
    for name, model, label in (("contact_id", Contact, "contact"), ("company_id", Company, "company"),
                               ("deal_id", Deal, "deal")):
        attempt(name, lambda n=name, m=model, lab=label: getattr(
            row_of_account(m, account, data.get(n), n, lab), "id", None))
    values = fields.values_or_raise()
    return values


def create(account, data: dict, actor=None, zone_name: str = "UTC") -> Activity:
    activity = Activity(account_id=account.id, status="pending", created_by_id=getattr(actor, "id", None),
                        **_clean(account, data, zone_name, partial=False))
    db.session.add(activity)
    db.session.flush()
    if activity.contact_id:
        timeline.add(account, activity.contact_id, "activity.created",
                     f"{activity.activity_type.capitalize()}: {activity.subject}", actor, activity)
    audit.record("activity.created", activity, f"{activity.activity_type.capitalize()} “{activity.subject}” added",
                 account=account, user=actor)
    db.session.commit()
    return activity


def update(account, activity: Activity, data: dict, actor=None, zone_name: str = "UTC", partial: bool = False):
    for name, value in _clean(account, data, zone_name, partial).items():
        setattr(activity, name, value)
    db.session.commit()
    return activity


def transition(account, activity: Activity, status: str, actor=None) -> Activity:
    """Change the status if the state machine allows it (ConflictError otherwise)."""
    if status not in ACTIVITY_STATUSES:
        raise ValidationError(f"Choose one of: {', '.join(ACTIVITY_STATUSES)}.", field="status")
    if status not in ACTIVITY_TRANSITIONS[activity.status]:
        raise ConflictError(f"A {STATUS_LABELS[activity.status]} activity cannot become "
                            f"{STATUS_LABELS[status]}.", field="status")
    activity.status = status
    activity.completed_at = utcnow() if status == "completed" else None
    if activity.contact_id and status in ("completed", "cancelled"):
        timeline.add(account, activity.contact_id, f"activity.{status}",
                     f"{activity.activity_type.capitalize()} {status}: {activity.subject}", actor, activity)
    audit.record(f"activity.{status}", activity, f"“{activity.subject}” {STATUS_LABELS[status]}",
                 account=account, user=actor)
    db.session.commit()
    if status == "completed":
        events.publish("activity.completed", account_id=account.id, activity_id=activity.id,
                       contact_id=activity.contact_id)
    return activity


def delete(account, activity: Activity, actor=None) -> None:
    audit.record("activity.deleted", activity, f"“{activity.subject}” deleted", account=account, user=actor)
    db.session.delete(activity)
    db.session.commit()


def my_tasks(account, user, zone_name: str) -> dict:
    """Open activities assigned to the user, grouped overdue / today / upcoming / no date."""
    now = utcnow()
    end_today = start_of_day(now.astimezone(zone(zone_name)).date() + timedelta(days=1), zone_name)
    rows = db.session.execute(
        scoped(Activity, account).where(Activity.assignee_id == user.id,
                                        Activity.status.in_(("pending", "in_progress")))
        .order_by(Activity.due_at.is_(None), Activity.due_at, Activity.created_at)).scalars().all()
    groups = {"overdue": [], "today": [], "upcoming": [], "no_date": []}
    for activity in rows:
        if activity.due_at is None:
            groups["no_date"].append(activity)
        elif activity.due_at < now:
            groups["overdue"].append(activity)
        elif activity.due_at < end_today:
            groups["today"].append(activity)
        else:
            groups["upcoming"].append(activity)
    return groups


def for_record(account, contact_id=None, company_id=None, deal_id=None):
    conditions = [c for c in (Activity.contact_id == contact_id if contact_id else None,
                              Activity.company_id == company_id if company_id else None,
                              Activity.deal_id == deal_id if deal_id else None) if c is not None]
    return scoped(Activity, account).where(or_(*conditions)).order_by(
        Activity.status.in_(("completed", "cancelled")), Activity.due_at.is_(None), Activity.due_at)
