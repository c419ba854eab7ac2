"""Which events a workspace's integrations want, known without a query per event.

Every domain event passes through the webhook fan-out and the contact sync. Most workspaces have neither
for most events, and an import publishes one event per contact: asking the database each time cost a 50,000
row import half again its time. So each process keeps, per workspace, the set of event names its active
webhook endpoints and its syncing connections subscribe to, for a couple of seconds; any change of an endpoint
or a connection flushed in this process forgets its workspace's set at once. Another process sees a change
within INTEREST_TTL seconds.
"""
import time
import uuid

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.extensions import db
from app.integrations.models import Connection, WebhookEndpoint

INTEREST_TTL = 2.0
_cache: dict[uuid.UUID, tuple[float, frozenset[str]]] = {}


def wants(account_id, name: str) -> bool:
    """Whether an endpoint or a connection of the workspace subscribes to the event `name`."""
    try:
        account_id = uuid.UUID(str(account_id))
    except ValueError:
        return False
    cached = _cache.get(account_id)
    if cached is None or time.monotonic() - cached[0] > INTEREST_TTL:
        cached = (time.monotonic(), _load(account_id))
        _cache[account_id] = cached
    return name in cached[1]


def forget(account_id=None) -> None:
    if account_id is None:
        _cache.clear()
    else:
        _cache.pop(uuid.UUID(str(account_id)), None)


def _load(account_id: uuid.UUID) -> frozenset[str]:
    names: set[str] = set()
    with db.session.no_autoflush:  # the publisher's session: read only, nothing of theirs flushed
        for events in db.session.execute(select(WebhookEndpoint.events).where(
                WebhookEndpoint.account_id == account_id, WebhookEndpoint.is_active.is_(True))).scalars():
            names.update(events or [])
        for events in db.session.execute(select(Connection.sync_events).where(
                Connection.account_id == account_id, Connection.status == "connected")).scalars():
            names.update(events or [])
    return frozenset(names)


@sa_event.listens_for(Session, "after_flush")
def _forget_changed(session, flush_context) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, WebhookEndpoint | Connection) and obj.account_id is not None:
            forget(obj.account_id)
