"""In-app notifications (the bell in the header): a message for one user in one workspace, with where it leads.

Any domain tells someone with `notify(...)` (an export is ready); the bell and /notifications read them
through `for_user` and mark them read. A user sees those of the workspace they are in.
"""
import uuid

from sqlalchemy import func, select, update

from app.core.db import utcnow
from app.core.errors import NotFoundError
from app.core.models import Notification
from app.extensions import db

LISTED = 50  # the notifications page shows the latest 50
MENU = 5  # the bell's menu, the latest 5


def notify(user_id, account_id, title: str, body: str = "", url: str = "", commit: bool = True) -> Notification:
    notification = Notification(user_id=user_id, account_id=account_id, title=title[:200], body=body[:500],
                                url=url[:500])
    db.session.add(notification)
    if commit:
        db.session.commit()
    return notification


def _mine(user, account):
    return (Notification.user_id == user.id, Notification.account_id == account.id)


def for_user(user, account, limit: int = LISTED) -> list[Notification]:
    """The user's latest notifications in the workspace, newest first."""
    return list(db.session.execute(select(Notification).where(*_mine(user, account))
                                   .order_by(Notification.created_at.desc(), Notification.id).limit(limit)).scalars())


def unread_count(user, account) -> int:
    return db.session.execute(select(func.count()).select_from(Notification)
                              .where(*_mine(user, account), Notification.read_at.is_(None))).scalar_one()


def get(user, account, notification_id) -> Notification:
    """One of the user's notifications; NotFoundError for anyone else's (another member's too)."""
    found = notification_id if isinstance(notification_id, uuid.UUID) else None
    notification = db.session.execute(select(Notification).where(
        Notification.id == found, *_mine(user, account))).scalar_one_or_none() if found else None
    if notification is None:
        raise NotFoundError("No such notification.")
    return notification


def mark_read(notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.commit()
    return notification


def mark_all_read(user, account) -> int:
    done = db.session.execute(update(Notification).where(*_mine(user, account), Notification.read_at.is_(None))
                              .values(read_at=utcnow())).rowcount
    db.session.commit()
    return done
