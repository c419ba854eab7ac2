import json
import logging
from collections import defaultdict

import pytest

from app.core import events, mail
from tests.conftest import run_jobs


@pytest.fixture
def own_subscribers(monkeypatch):
    """Only the test's own subscribers (the app's, e.g. outgoing webhooks' "*", are left out of the counts)."""
    monkeypatch.setattr(events, "_subscribers", defaultdict(list))


def test_publish_reaches_named_and_wildcard_subscribers_with_string_ids(own_subscribers):
    received = []

    def on_created(name, payload):
        received.append(("named", name, payload))

    def on_any(name, payload):
        received.append(("any", name, payload))

    import uuid

    contact_id = uuid.uuid4()
    events.subscribe("contact.created")(on_created)
    events.subscribe(events.ALL)(on_any)
    try:
        assert events.publish("contact.created", account_id="a1", contact_id=contact_id) == 2
        assert events.publish("tag.added", account_id="a1") == 1
    finally:
        events.unsubscribe("contact.created", on_created)
        events.unsubscribe(events.ALL, on_any)
    assert received[0] == ("named", "contact.created", {"account_id": "a1", "contact_id": str(contact_id)})
    assert received[1][0] == "any" and received[2] == ("any", "tag.added", {"account_id": "a1"})
    assert events.publish("contact.created", account_id="a1") == 0


def test_a_failing_subscriber_does_not_break_the_publisher(own_subscribers, caplog):
    def broken(name, payload):
        raise ValueError("bug in a subscriber")

    events.subscribe("test.happened")(broken)  # an event no domain subscribes to
    try:
        with caplog.at_level(logging.ERROR):
            assert events.publish("test.happened", order_id="o1") == 0
    finally:
        events.unsubscribe("test.happened", broken)
    assert "event subscriber failed" in caplog.text


def test_send_delivers_html_and_text_over_smtp(app, outbox):
    mail.send("someone@example.com", "Hello", "Plain body", "<p>HTML body</p>")
    run_jobs(app)  # queued, sent by a job
    assert len(outbox) == 1
    message = outbox[0]
    assert message["Subject"] == "Hello"
    assert message.get_body(preferencelist=("plain",)).get_content().strip() == "Plain body"
    assert "<p>HTML body</p>" in message.get_body(preferencelist=("html",)).get_content()


def test_without_smtp_mail_goes_to_the_outbox_and_the_dev_page(app, tmp_path, caplog):
    server = app.config["MAIL_SERVER"]
    app.config.update(MAIL_SERVER=None, OUTBOX_DIR=str(tmp_path))
    try:
        with caplog.at_level(logging.INFO):
            mail.send("dev@example.com", "Dev mail", "Read me in the outbox")
            run_jobs(app)
        assert "mail written to outbox" in caplog.text
        messages = mail.outbox_messages()
        assert messages[0]["subject"] == "Dev mail" and "Read me" in messages[0]["text"]
        client = app.test_client()
        assert client.get("/dev/outbox").status_code == 404  # only in debug mode
        app.debug = True
        try:
            page = app.test_client().get("/dev/outbox")
        finally:
            app.debug = False
        assert page.status_code == 200 and "Dev mail" in page.text
    finally:
        app.config["MAIL_SERVER"] = server


def test_json_log_lines_carry_the_request_id(app):
    from app.core.logging import JsonFormatter
    from app.core.web import assign_request_id

    record = logging.LogRecord("app.test", logging.INFO, __file__, 1, "probe", (), None)
    record.detail = 42
    with app.test_request_context("/probe", headers={"X-Request-ID": "req-12345678"}):
        assign_request_id()
        entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "req-12345678" and entry["message"] == "probe" and entry["detail"] == 42
    assert entry["path"] == "/probe" and entry["level"] == "INFO"


def test_httpx_request_lines_are_not_logged(app, caplog):
    """httpx logs every request's URL at INFO, and a webhook's or provider's URL may carry a secret token."""
    import httpx

    from app.core.logging import configure_logging

    configure_logging(app)  # as create_app does
    with caplog.at_level(logging.INFO):
        with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200))) as client:
            assert client.get("https://hooks.example.com/catch/secret-token-9f8e7d").status_code == 200
        logging.getLogger("app.probe").info("an app line at INFO")
    assert "an app line at INFO" in caplog.text
    assert "secret-token-9f8e7d" not in caplog.text and "HTTP Request" not in caplog.text
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING


def test_every_response_carries_a_request_id(client):
    given = client.get("/login", headers={"X-Request-ID": "req-12345678"})
    assert given.status_code == 200 and "Log in" in given.text
    assert given.headers["X-Request-ID"] == "req-12345678"
    invented = client.get("/login", headers={"X-Request-ID": "bad id with spaces"})
    assert len(invented.headers["X-Request-ID"]) == 32
