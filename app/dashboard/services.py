"""The workspace at a glance for a marketer, and the activity log."""
import csv
from datetime import timedelta

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import load_only, selectinload

from app.auth import services as auth_services
from app.auth.models import Account, Invitation, Membership, User
from app.core import dates
from app.core.db import utcnow
from app.core.models import AuditEvent
from app.core.tenancy import scoped
from app.core.validation import uuid_or_none
from app.crm.models import Activity, Contact, Deal
from app.extensions import db
from app.funnels.models import Funnel

NEW_LEADS_DAYS = 7
NEWEST_LEADS = 5


def _overview_statement():
    """Every figure of the dashboard in one statement, built once: its values are bound at each request
    (making and caching a statement of a dozen subqueries costs more CPU than PostgreSQL spends running
    it). Each subquery is scoped to the account like core.tenancy.scoped does, through :account_id."""
    account_id = bindparam("account_id")

    def count(model, *where):
        return select(func.count()).select_from(model).where(model.account_id == account_id, *where).scalar_subquery()

    def any_of(model, *where):  # the checklist needs to know there is one, not how many (100,000 contacts)
        return exists().where(model.account_id == account_id, *where)

    def deal_value(*where):
        return (select(func.coalesce(func.sum(Deal.value_cents), 0))
                .where(Deal.account_id == account_id, *where).scalar_subquery())

    live = Contact.deleted_at.is_(None)
    my_open_tasks = (Activity.assignee_id == bindparam("user_id"), Activity.status.in_(("pending", "in_progress")))
    return select(
        any_of(Contact, live).label("has_contacts"),
        count(Contact, live, Contact.created_at >= bindparam("week_ago")).label("new_leads"),
        count(Contact, live, Contact.created_at >= bindparam("two_weeks_ago"),
              Contact.created_at < bindparam("week_ago")).label("previous_leads"),
        any_of(Funnel, Funnel.deleted_at.is_(None)).label("has_funnels"),
        count(Funnel, Funnel.deleted_at.is_(None), Funnel.status == "published").label("live_funnels"),
        count(Deal, Deal.status == "open").label("open_deals"),
        deal_value(Deal.status == "open").label("open_deal_value"),
        deal_value(Deal.status == "won", Deal.closed_at >= bindparam("month_start")).label("won_this_month"),
        count(Activity, *my_open_tasks, Activity.due_at < bindparam("now")).label("tasks_overdue"),
        count(Activity, *my_open_tasks, Activity.due_at >= bindparam("now"),
              Activity.due_at < bindparam("end_of_today")).label("tasks_today"),
        count(Membership).label("members"),
        count(Invitation, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
              Invitation.expires_at > bindparam("now")).label("pending_invitations"),
    )


OVERVIEW = _overview_statement()


def overview(account: Account, user: User) -> dict:
    """What a marketer checks first: new leads, live funnels, open deals, the user's tasks due, the first-run
    checklist's state, the newest leads and the latest activity (three statements whatever the data)."""
    now = utcnow()
    zone = user.timezone or account.timezone
    week_ago = now - timedelta(days=NEW_LEADS_DAYS)
    figures = db.session.execute(OVERVIEW, {
        "account_id": account.id, "user_id": user.id, "now": now, "week_ago": week_ago,
        "two_weeks_ago": week_ago - timedelta(days=NEW_LEADS_DAYS), "end_of_today": dates.end_of_today(zone),
        "month_start": dates.start_of_day(dates.today(zone).replace(day=1), zone),
    }).one()._asdict()
    newest = (scoped(Contact, account).where(Contact.deleted_at.is_(None))
              .options(load_only(Contact.first_name, Contact.last_name, Contact.email, Contact.phone,
                                 Contact.created_at))
              .order_by(Contact.created_at.desc(), Contact.id).limit(NEWEST_LEADS))
    activity = (scoped(AuditEvent, account).options(load_only(AuditEvent.summary, AuditEvent.action,
                                                              AuditEvent.created_at))
                .order_by(AuditEvent.created_at.desc()).limit(8))
    return {
        **figures, "new_leads_days": NEW_LEADS_DAYS,
        "new_leads_since": dates.today(zone) - timedelta(days=NEW_LEADS_DAYS - 1),
        "checklist": _checklist(figures["has_funnels"], figures["live_funnels"], figures["has_contacts"],
                                figures["members"] + figures["pending_invitations"]),
        "newest_leads": db.session.execute(newest).scalars().all(),
        "recent_activity": db.session.execute(activity).scalars().all(),
    }


def _checklist(has_funnels: bool, live_funnels: int, has_contacts: bool, people: int) -> list[dict]:
    """The first steps of a new workspace, each done or not; the dashboard shows them until all are done."""
    return [
        {"key": "funnel", "done": bool(has_funnels)},
        {"key": "publish", "done": live_funnels > 0},
        {"key": "contacts", "done": bool(has_contacts)},
        {"key": "team", "done": people > 1},
    ]


def activity_query(account: Account, user_id: str | None = None, action: str | None = None):
    query = (scoped(AuditEvent, account).options(selectinload(AuditEvent.user))
             .order_by(AuditEvent.created_at.desc(), AuditEvent.id))
    if user_id:
        wanted = uuid_or_none(user_id)
        query = query.where(AuditEvent.user_id == wanted) if wanted else query.where(False)
    if action:
        query = query.where(AuditEvent.action == action)
    return query


def activity_actions(account: Account) -> list[str]:
    return list(db.session.execute(
        select(AuditEvent.action).where(AuditEvent.account_id == account.id).distinct().order_by(AuditEvent.action)
    ).scalars())


ACTIVITY_COLUMNS = ["time_utc", "user", "action", "object_type", "object_id", "summary", "ip_address"]


def write_activity_csv(account: Account, user_id: str | None, action: str | None, handle,
                       report=lambda done, total: None, batch: int = 500) -> int:
    """Write the (filtered) activity log as CSV to `handle`, calling report(rows done, total) after each
    batch; returns the number of rows."""
    query = activity_query(account, user_id, action)
    total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    emails = {user.id: user.email for user in auth_services.members(account)}
    writer = csv.writer(handle)
    writer.writerow(ACTIVITY_COLUMNS)
    for offset in range(0, max(total, 1), batch):
        for event in db.session.execute(query.limit(batch).offset(offset)).scalars():
            writer.writerow([event.created_at.isoformat(), emails.get(event.user_id, ""), event.action,
                             event.object_type or "", event.object_id or "", event.summary, event.ip_address or ""])
        report(min(offset + batch, total), total)
    return total
