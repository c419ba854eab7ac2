import re
from datetime import UTC, datetime, timedelta
from unittest import mock

from app.auth.models import User
from app.core.security import verify_password
from app.extensions import db
from tests import factories
from tests.conftest import run_jobs


def request_reset(client, outbox, email="bob@example.com"):
    response = client.post("/forgot-password", data={"email": email})
    assert response.status_code == 200
    run_jobs(client.application)  # the e-mail is sent by a job
    return response


def reset_link(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://\S+/reset-password/\S+", text).group(0)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_reset_mail_arrives_and_link_sets_a_new_password_once(client, outbox):
    user = factories.make_user("bob@example.com")
    response = request_reset(client, outbox)
    assert "If an account exists for" in response.text
    assert len(outbox) == 1
    message = outbox[0]
    assert message["To"] == "bob@example.com"
    assert "Reset your Leadforge password" in message["Subject"]
    assert message.get_body(preferencelist=("html",)) is not None
    link = path_of(reset_link(message))

    assert client.get(link).status_code == 200
    done = client.post(link, data={"password": "brand-new-secret", "confirm": "brand-new-secret"})
    assert done.status_code in (302, 303)
    db.session.expire_all()
    assert verify_password(db.session.get(User, user.id).password_hash, "brand-new-secret")

    reused = client.get(link)
    assert reused.status_code == 400
    assert "already been used" in reused.text
    again = client.post(link, data={"password": "another-secret1", "confirm": "another-secret1"})
    assert again.status_code == 400
    db.session.expire_all()
    assert verify_password(db.session.get(User, user.id).password_hash, "brand-new-secret")


def test_unknown_email_gets_the_same_answer_and_no_mail(client, outbox):
    response = request_reset(client, outbox, "nobody@example.com")
    assert "If an account exists for" in response.text
    assert outbox == []


def test_expired_link_is_refused(client, outbox):
    factories.make_user("bob@example.com")
    request_reset(client, outbox)
    link = path_of(reset_link(outbox[0]))
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    with mock.patch("itsdangerous.timed.time.time", return_value=later.timestamp()):
        response = client.get(link)
    assert response.status_code == 400
    assert "expired" in response.text


def test_tampered_link_is_refused(client, outbox):
    factories.make_user("bob@example.com")
    request_reset(client, outbox)
    link = path_of(reset_link(outbox[0]))
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    response = client.post(tampered, data={"password": "brand-new-secret", "confirm": "brand-new-secret"})
    assert response.status_code == 400
    assert "not valid" in response.text


def test_mismatched_or_short_new_password_is_a_form_error(client, outbox):
    factories.make_user("bob@example.com")
    request_reset(client, outbox)
    link = path_of(reset_link(outbox[0]))
    assert "differ" in client.post(link, data={"password": "brand-new-secret", "confirm": "other-secret"}).text
    short = client.post(link, data={"password": "short", "confirm": "short"})
    assert short.status_code == 422


def test_smtp_failure_is_not_a_500_and_the_mail_waits_for_a_retry(client, app):
    from app.core.models import MailMessage

    factories.make_user("bob@example.com")
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = 1  # nothing listens there
    try:
        response = client.post("/forgot-password", data={"email": "bob@example.com"})
        assert response.status_code == 200  # the request only queues the e-mail
        assert "If an account exists for" in response.text
        run_jobs(app)
    finally:
        app.config["MAIL_PORT"] = port
    message = db.session.query(MailMessage).one()
    assert message.status == "queued" and message.attempts == 1  # tried once, retried by RQ later
    assert "Could not connect to the mail server 127.0.0.1:1" in message.last_error


def test_a_reset_logs_out_every_other_session(app, client, outbox):
    user = factories.make_user("bob@example.com")
    account = factories.make_account(user, "Bob's")
    elsewhere = app.test_client()
    factories.login(elsewhere, user, account)
    assert elsewhere.get("/").status_code == 200
    request_reset(client, outbox)
    client.post(path_of(reset_link(outbox[0])), data={"password": "brand-new-secret", "confirm": "brand-new-secret"})
    assert "/login" in elsewhere.get("/").headers["Location"]


def test_a_password_change_keeps_this_session_and_ends_the_others(app, client):
    user = factories.make_user("bob@example.com")
    account = factories.make_account(user, "Bob's")
    factories.login(client, user, account)
    elsewhere = app.test_client()
    factories.login(elsewhere, user, account)
    changed = client.post("/profile/password", data={
        "pw-current_password": factories.PASSWORD, "pw-new_password": "new-password-1", "pw-confirm": "new-password-1"})
    assert changed.status_code in (302, 303)
    assert client.get("/").status_code == 200
    assert "/login" in elsewhere.get("/").headers["Location"]
