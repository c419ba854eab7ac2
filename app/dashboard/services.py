"""The workspace at a glance, the activity log and its export."""
import csv
import uuid
from pathlib import Path

from flask import current_app
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import selectinload

from app.auth.models import Account, ApiKey, Invitation, Membership, User
from app.core import jobs
from app.core.db import utcnow
from app.core.models import AuditEvent
from app.core.tenancy import scoped
from app.extensions import db


def overview(account: Account) -> dict:
    """Counts for the dashboard's cards (one query) and the latest activity."""
    def count(query):
        return select(func.count()).select_from(query.with_only_columns(literal_column("1")).subquery()).scalar_subquery()

    members, pending, keys = db.session.execute(select(
        count(scoped(Membership, account)),
        count(scoped(Invitation, account).where(
            Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow())),
        count(scoped(ApiKey, account).where(ApiKey.revoked_at.is_(None))),
    )).one()
    return {
        "members": members,
        "pending_invitations": pending,
        "api_keys": keys,
        "recent_activity": db.session.execute(
            scoped(AuditEvent, account).order_by(AuditEvent.created_at.desc()).limit(8)
        ).scalars().all(),
    }


def activity_query(account: Account, user_id: str | None = None, action: str | None = None):
    query = (scoped(AuditEvent, account).options(selectinload(AuditEvent.user))
             .order_by(AuditEvent.created_at.desc(), AuditEvent.id))
    if user_id:
        try:
            query = query.where(AuditEvent.user_id == uuid.UUID(user_id))
        except ValueError:
            query = query.where(False)
    if action:
        query = query.where(AuditEvent.action == action)
    return query


def activity_actions(account: Account) -> list[str]:
    return list(db.session.execute(
        select(AuditEvent.action).where(AuditEvent.account_id == account.id).distinct().order_by(AuditEvent.action)
    ).scalars())


def activity_users(account: Account) -> list[User]:
    return list(db.session.execute(
        select(User).join(Membership).where(Membership.account_id == account.id).order_by(User.name, User.email)
    ).scalars())


def export_activity_csv(job_id: str, account_id: str, user_id: str | None, action: str | None) -> dict:
    """Tracked job: write the (filtered) activity log to a CSV file, reporting progress."""
    account = db.session.get(Account, uuid.UUID(account_id))
    query = activity_query(account, user_id, action)
    total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    folder = Path(current_app.config["EXPORTS_DIR"]) / account_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"activity-{job_id}.csv"
    emails = {u.id: u.email for u in activity_users(account)}
    batch = 500
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time_utc", "user", "action", "object_type", "object_id", "summary", "ip_address"])
        for offset in range(0, max(total, 1), batch):
            for event in db.session.execute(query.limit(batch).offset(offset)).scalars():
                writer.writerow([event.created_at.isoformat(), emails.get(event.user_id, ""), event.action,
                                 event.object_type or "", event.object_id or "", event.summary, event.ip_address or ""])
            jobs.progress(job_id, (offset + batch) * 100 // max(total, 1), f"{min(offset + batch, total):,} of {total:,} rows")
    return {"path": str(path), "name": f"activity-{utcnow():%Y-%m-%d}.csv", "message": f"{total:,} rows exported."}
