"""The workspace at a glance for a marketer, and the activity log."""
import csv
from datetime import timedelta

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import selectinload

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


def _count(query):
    """A scalar subquery counting the rows of `query` (so that every figure comes from one statement)."""
    return select(func.count()).select_from(query.with_only_columns(literal_column("1")).subquery()).scalar_subquery()


def overview(account: Account, user: User) -> dict:
    """What a marketer checks first: new leads, live funnels, open deals, the user's tasks due, the first-run
    checklist's state, the newest leads and the latest activity (three statements whatever the data)."""
    now = utcnow()
    zone = user.timezone or account.timezone
    week_ago, two_weeks_ago = now - timedelta(days=NEW_LEADS_DAYS), now - timedelta(days=2 * NEW_LEADS_DAYS)
    live_contacts = scoped(Contact, account).where(Contact.deleted_at.is_(None))
    funnels = scoped(Funnel, account).where(Funnel.deleted_at.is_(None))
    open_deals = scoped(Deal, account).where(Deal.status == "open")
    my_tasks = scoped(Activity, account).where(Activity.assignee_id == user.id,
                                               Activity.status.in_(("pending", "in_progress")))
    month_start = dates.start_of_day(dates.today(zone).replace(day=1), zone)
    row = db.session.execute(select(
        _count(live_contacts),
        _count(live_contacts.where(Contact.created_at >= week_ago)),
        _count(live_contacts.where(Contact.created_at >= two_weeks_ago, Contact.created_at < week_ago)),
        _count(funnels),
        _count(funnels.where(Funnel.status == "published")),
        _count(open_deals),
        open_deals.with_only_columns(func.coalesce(func.sum(Deal.value_cents), 0)).scalar_subquery(),
        scoped(Deal, account).where(Deal.status == "won", Deal.closed_at >= month_start)
        .with_only_columns(func.coalesce(func.sum(Deal.value_cents), 0)).scalar_subquery(),
        _count(my_tasks.where(Activity.due_at < now)),
        _count(my_tasks.where(Activity.due_at >= now, Activity.due_at < dates.end_of_today(zone))),
        _count(scoped(Membership, account)),
        _count(scoped(Invitation, account).where(
            Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now)),
    )).one()
    (contacts, new_leads, previous_leads, funnel_count, live_funnels, deal_count, deal_value, won_value,
     overdue, due_today, members, pending) = row
    return {
        "new_leads": new_leads, "previous_leads": previous_leads, "new_leads_days": NEW_LEADS_DAYS,
        "new_leads_since": dates.today(zone) - timedelta(days=NEW_LEADS_DAYS - 1),
        "live_funnels": live_funnels, "open_deals": deal_count, "open_deal_value": deal_value,
        "won_this_month": won_value, "tasks_overdue": overdue, "tasks_today": due_today,
        "members": members, "pending_invitations": pending,
        "checklist": _checklist(funnel_count, live_funnels, contacts, members + pending),
        "newest_leads": db.session.execute(
            live_contacts.order_by(Contact.created_at.desc(), Contact.id).limit(NEWEST_LEADS)).scalars().all(),
        "recent_activity": db.session.execute(
            scoped(AuditEvent, account).order_by(AuditEvent.created_at.desc()).limit(8)
        ).scalars().all(),
    }


def _checklist(funnels: int, live_funnels: int, contacts: int, people: int) -> list[dict]:
    """The first steps of a new workspace, each done or not; the dashboard shows them until all are done."""
    return [
        {"key": "funnel", "done": funnels > 0},
        {"key": "publish", "done": live_funnels > 0},
        {"key": "contacts", "done": contacts > 0},
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
