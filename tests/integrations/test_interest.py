"""The events a workspace's integrations want are known without a query per event (an import publishes one
per contact), and a new endpoint or connection is heard at once."""
import uuid

from app.core import crypto, events
from app.extensions import db
from app.integrations import interest
from app.integrations.models import WebhookEndpoint
from tests import factories


def publish_many(account_id, count: int) -> None:
    for _ in range(count):
        events.publish("contact.created", account_id=account_id, contact_id=uuid.uuid4(), source="import")


def test_events_nobody_wants_cost_no_query_after_the_first(app, count_queries):
    account = factories.make_account(factories.make_user("owner@example.com"))
    account_id = account.id
    interest.forget()
    assert count_queries(lambda: publish_many(account_id, 200)) == 2  # the endpoints' and the connections' events


def test_a_new_endpoint_is_heard_at_once(app):
    account = factories.make_account(factories.make_user("owner@example.com"))
    assert not interest.wants(account.id, "contact.created")  # now cached: nothing wanted
    db.session.add(WebhookEndpoint(account_id=account.id, url="https://hooks.example.com/in",
                                   events=["contact.created"], secret_encrypted=crypto.encrypt("whsec_x")))
    db.session.commit()
    assert interest.wants(account.id, "contact.created")
    assert not interest.wants(account.id, "deal.created")
    assert not interest.wants("not-a-uuid", "contact.created")
