"""What the outgoing-webhook tests share: a receiver on 127.0.0.1 allowed as a development host, endpoints,
and checking our signatures the way a receiver does, with the `standardwebhooks` package. A test module gets
the `receiver` fixture by importing `receiver_fixture`."""
import json

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from app.extensions import db
from app.integrations import webhooks
from app.integrations.models import WebhookAttempt, WebhookMessage
from tests.integrations.standin import StandIn


@pytest.fixture(name="receiver")
def receiver_fixture(app, monkeypatch):
    """A stand-in webhook receiver on 127.0.0.1 (a development host for the test)."""
    monkeypatch.setitem(app.config, "WEBHOOK_DEV_HOSTS", "127.0.0.1")
    with StandIn() as server:
        yield server


def make_endpoint(account, user, url: str, events=("contact.created",), **data):
    return webhooks.create_endpoint(account, {"url": url, "events": list(events), **data}, user)


def messages_of(endpoint) -> list[WebhookMessage]:
    db.session.expire_all()
    return list(db.session.execute(select(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint.id)
                                   .order_by(WebhookMessage.created_at)).scalars())


def attempts_of(message) -> list[WebhookAttempt]:
    db.session.expire_all()
    return list(db.session.execute(select(WebhookAttempt).where(WebhookAttempt.message_id == message.id)
                                   .order_by(WebhookAttempt.number)).scalars())


def verified(request, secret: str) -> dict:
    """The receiver's check: Standard Webhooks verification of the request as received (raises if it fails)."""
    return Webhook(secret).verify(request.body, request.headers)


def signatures(request) -> list[str]:
    return request.headers["webhook-signature"].split(" ")


def body(request) -> dict:
    return json.loads(request.body)
