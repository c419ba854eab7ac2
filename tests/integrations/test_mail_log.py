"""The mail log (/integrations/mail): the workspace's e-mails with their status, channel, attempts and last error,
filtered by status and paginated, and the channel the workspace sends through. Admins only."""
from datetime import timedelta

import pytest

from app.core.db import utcnow
from app.core.models import MailMessage
from app.extensions import db
from app.integrations import connections
from app.integrations.models import Connection
from tests import factories
from tests.conftest import run_jobs


def row(account, to, status="sent", **fields) -> MailMessage:
    message = MailMessage(account_id=account.id, to=to, subject=fields.pop("subject", f"About {to}"), status=status,
                          **fields)
    db.session.add(message)
    db.session.commit()
    return message


def test_the_log_lists_the_workspaces_mail_with_its_status_and_channel(app, client, owner, login, outbox):
    user, account = owner
    now = utcnow()
    row(account, "sent@example.com", channel="default", attempts=1, sent_at=now, created_at=now - timedelta(minutes=3))
    row(account, "failed@example.com", status="failed", channel="sendgrid", attempts=4,
        last_error="SendGrid answered 503: Service unavailable", created_at=now - timedelta(minutes=2))
    row(account, "retry@example.com", status="queued", channel="default", attempts=1,
        last_error="The mail server did not answer within 10 seconds.", created_at=now - timedelta(minutes=1))
    row(account, "new@example.com", status="queued", created_at=now)
    other = factories.make_account(factories.make_user("other@example.com"), "Other")
    row(other, "secret@example.com")
    db.session.add(MailMessage(account_id=None, to="reset@example.com", subject="Reset", status="sent"))  # no workspace
    db.session.commit()
    login(user, account)
    page = client.get("/integrations/mail")
    assert page.status_code == 200
    text = page.text
    assert "e-mail is sent through <strong>Leadforge default</strong>" in text
    order = [text.index(address) for address in ("new@example.com", "retry@example.com", "failed@example.com",
                                                 "sent@example.com")]
    assert order == sorted(order)  # newest first
    assert "secret@example.com" not in text and "reset@example.com" not in text  # another workspace's, none's
    assert "SendGrid answered 503: Service unavailable" in text and ">SendGrid<" in text
    assert 'badge badge-danger">failed' in text and 'badge badge-success">sent' in text
    assert 'badge badge-warning">retrying' in text and 'badge">queued' in text


def test_the_log_filters_by_status_and_paginates(client, owner, login):
    user, account = owner
    for number in range(25):
        row(account, f"person{number}@example.com", created_at=utcnow() - timedelta(minutes=number))
    row(account, "failed@example.com", status="failed", last_error="Refused")
    login(user, account)
    first = client.get("/integrations/mail")
    assert "1–20 of 26" in first.text and "person24@example.com" not in first.text
    second = client.get("/integrations/mail?page=2")
    assert "21–26 of 26" in second.text and "person24@example.com" in second.text
    failed = client.get("/integrations/mail?status=failed", headers={"HX-Request": "true"})
    assert failed.status_code == 200 and "<html" not in failed.text  # the results block for htmx
    assert "failed@example.com" in failed.text and "person0@example.com" not in failed.text
    empty = client.get("/integrations/mail?status=sending")
    assert "No e-mails with this status" in empty.text and "Clear filters" in empty.text
    anything = client.get("/integrations/mail?status=<script>&page=x")  # bad values: all, first page
    assert anything.status_code == 200 and "1–20 of 26" in anything.text and "<script>" not in anything.text


def test_an_empty_log_says_so(client, owner, login):
    login(*owner)
    page = client.get("/integrations/mail")
    assert page.status_code == 200 and "No e-mails yet" in page.text


def test_the_chosen_connection_is_named_and_its_mail_is_logged(app, client, owner, login, outbox):
    user, account = owner
    connection = Connection(account_id=account.id, kind="email", provider="smtp", name="Office server",
                            settings={"host": "127.0.0.1", "port": app.config["MAIL_PORT"], "security": "none",
                                      "from_email": "office@olive.example"}, status="connected",
                            is_sending_channel=True)
    connections.store_credentials(connection, {})
    db.session.add(connection)
    db.session.commit()
    login(user, account)
    assert client.post("/settings/team/invite", data={"email": "new@example.com", "role": "user"}).status_code == 303
    queued = client.get("/integrations/mail").text
    assert "sent through <strong>Office server</strong>" in queued
    assert "new@example.com" in queued and 'badge">queued' in queued
    run_jobs(app)
    assert [m["From"] for m in outbox] == ["office@olive.example"]
    sent = client.get("/integrations/mail").text
    assert 'badge badge-success">sent' in sent and ">SMTP<" in sent


@pytest.mark.parametrize("role", ["user", "viewer"])
def test_only_admins_see_the_log(client, owner, login, role):
    _, account = owner
    member = factories.add_member(account, role)
    login(member, account)
    assert client.get("/integrations/mail").status_code == 403


def test_visitors_are_sent_to_log_in(client):
    response = client.get("/integrations/mail")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
