"""Sending e-mail: queued in the request, sent by a job through the workspace's channel.

- `send(...)` and `send_template(...)` store a `MailMessage` (status queued) with its rendered bodies, commit it
  and enqueue the job `app.core.tasks.send_mail`: no request ever waits for a mail server. They commit the
  session they are called in (call them once your own changes are ready to be committed too).
- The job (`deliver_now`) claims the message (queued -> sending, one run at a time), sends it through the
  channel of its workspace and records the attempt: `attempts`, `channel`, `last_error`. A failure raises, so
  RQ tries again (60, 120, 240 s: `core.jobs.RETRY_INTERVALS`); the last attempt, or a refusal that no retry
  can change (a 5xx SMTP answer, a provider refusing the credentials), marks it failed with the reason. Once
  sent or failed, its bodies are erased: a reset link does not stay in the database.
- The channel: integrations registers `@channel_resolver` (account id -> `Channel` or None: the workspace's
  chosen SMTP or SendGrid connection); core knows no provider. Without a workspace (password reset) or a
  chosen connection, the app's own: SMTP from the MAIL_* settings, or, with no MAIL_SERVER (development), the
  outbox folder, readable at /dev/outbox while the app runs in debug mode.
"""
import logging
import smtplib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app, render_template
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from app.core import jobs
from app.core.db import utcnow
from app.core.models import MailMessage
from app.extensions import db

log = logging.getLogger(__name__)

MAIL_STATUSES = ("queued", "sending", "sent", "failed")
MAX_ATTEMPTS = 1 + len(jobs.RETRY_INTERVALS)  # the first run and RQ's retries
JOB_TIMEOUT = 5 * 60
DEFAULT_CHANNEL = "default"  # MailMessage.channel of the app's own SMTP server
OUTBOX_CHANNEL = "outbox"  # ... of the development outbox (no MAIL_SERVER)
STALLED_AFTER = timedelta(minutes=15)  # a queued message this old lost its job (Redis was down): queue it again


class MailError(Exception):
    """A message the channel did not send, in words for the mail log. `retryable`: trying later may work (a
    timeout, a refused connection, a 4xx SMTP answer, a provider's 5xx); otherwise the message fails at once."""

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class Channel:
    """How a message leaves: `key` is recorded on it (MailMessage.channel: "default", "outbox", or a
    provider's key such as "sendgrid"), `label` is what the mail log shows, `deliver(message)` sends it or
    raises (MailError with the reason, or any exception: retried)."""

    key: str
    label: str
    deliver: Callable[[MailMessage], None]


# ---- queuing (what requests and other jobs call) -----------------------------------------------------------

def send(to: str, subject: str, text: str, html: str | None = None, reply_to: str | None = None,
         account_id=None, template: str = "") -> MailMessage:
    """Queue one message and return it. `account_id`: the workspace it is sent for, whose channel carries
    it (None: the app's own channel). Commits the session; never touches a mail server."""
    message = MailMessage(account_id=_uuid(account_id), to=to, subject=subject[:255], template=template[:64],
                          text_body=text, html_body=html, reply_to=reply_to, status="queued", attempts=0)
    db.session.add(message)
    db.session.commit()
    start_job(message.id)
    return message


def send_template(to: str, subject: str, template: str, account_id=None, **context) -> MailMessage:
    """Render templates/mail/<template>.txt and .html with the context now, and queue them (see `send`)."""
    text = render_template(f"mail/{template}.txt", **context)
    html = render_template(f"mail/{template}.html", subject=subject, **context)
    return send(to, subject, text, html, account_id=account_id, template=template)


def start_job(mail_id) -> bool:
    """Start the job of a queued message. A queue that cannot take it (Redis down) is logged, not raised:
    the message stays queued and the `mail-requeue` schedule starts it later."""
    from app.core import tasks

    try:
        jobs.enqueue(tasks.send_mail, mail_id, timeout=JOB_TIMEOUT)
    except Exception:
        log.exception("mail job not enqueued; it will be queued again", extra={"mail": str(mail_id)})
        return False
    return True


def requeue_stalled(now=None) -> int:
    """Queue again the messages still queued STALLED_AFTER after they were written (their job was lost, or
    never enqueued), and those left "sending" by a worker that died: claimed longer ago than the job's
    timeout and STALLED_AFTER more (a live attempt is over by then, RQ kills it at the timeout). The second
    kind is at least once: the server may have taken the message before the worker died. A message whose job
    still exists is then claimed by one of the two runs only."""
    now = now or utcnow()
    cutoff = now - STALLED_AFTER
    abandoned = now - STALLED_AFTER - timedelta(seconds=JOB_TIMEOUT)
    db.session.execute(update(MailMessage).where(
        MailMessage.status == "sending", MailMessage.claimed_at <= abandoned).values(status="queued"))
    ids = db.session.execute(select(MailMessage.id).where(
        MailMessage.status == "queued", MailMessage.created_at <= cutoff).limit(1000)).scalars().all()
    db.session.commit()
    return sum(start_job(mail_id) for mail_id in ids)


# ---- channels ---------------------------------------------------------------------------------------------

_resolvers: list[Callable] = []


def channel_resolver(func: Callable) -> Callable:
    """Register func(account_id) -> Channel | None: the channel a workspace chose (None: the app's own).
    app/integrations/channel.py registers itself; a decorator, the last registered is the one asked."""
    _resolvers[:] = [func]
    return func


def channel_for(account_id) -> Channel:
    """The channel that carries the mail of this workspace (None: no workspace): its chosen connection, or
    the app's own."""
    if account_id is not None and _resolvers:
        chosen = _resolvers[0](_uuid(account_id))
        if chosen is not None:
            return chosen
    return default_channel()


def default_channel() -> Channel:
    if not current_app.config.get("MAIL_SERVER"):
        return Channel(OUTBOX_CHANNEL, "Development outbox", _write_to_outbox)
    return Channel(DEFAULT_CHANNEL, "Leadforge default", _send_smtp)


# ---- the job ----------------------------------------------------------------------------------------------

def deliver_now(mail_id) -> str | None:
    """Send one queued message through its channel (what the job runs). Returns its status afterwards, or
    None when there was nothing to do (sent, failed, or being sent by another run). Raises after a failed
    attempt that will be retried."""
    mail_id = _uuid(mail_id)
    claimed = db.session.execute(
        update(MailMessage).where(MailMessage.id == mail_id, MailMessage.status == "queued")
        .values(status="sending", attempts=MailMessage.attempts + 1, claimed_at=utcnow())).rowcount
    db.session.commit()
    if not claimed:
        return None
    message = db.session.get(MailMessage, mail_id)
    try:
        channel = channel_for(message.account_id)
        message.channel = channel.key[:32]
        channel.deliver(message)
    except Exception as error:
        if isinstance(error, SQLAlchemyError):
            db.session.rollback()
            message = db.session.get(MailMessage, mail_id)
        reason, retryable = _reason(error)
        final = (not retryable or message.attempts >= MAX_ATTEMPTS
                 or current_app.config.get("JOBS_MODE") != "rq")  # only RQ retries
        message.last_error = reason[:500]
        message.status = "failed" if final else "queued"
        if final:
            _erase_bodies(message)
        db.session.commit()
        log.warning("mail not sent%s", "" if final else ", will retry",
                    extra={"mail": str(mail_id), "attempt": message.attempts, "error": reason})
        if final:
            return "failed"
        raise MailError(reason) from error
    message.status, message.sent_at, message.last_error = "sent", utcnow(), None
    _erase_bodies(message)
    db.session.commit()
    log.info("mail sent", extra={"mail": str(mail_id), "channel": message.channel})
    return "sent"


def _erase_bodies(message: MailMessage) -> None:
    message.text_body, message.html_body = "", None


def _reason(error: Exception) -> tuple[str, bool]:
    if isinstance(error, MailError):
        return error.message, error.retryable
    return f"{type(error).__name__}: {error}", True


def _uuid(value):
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


# ---- the app's own channel: SMTP from the MAIL_* settings, or the outbox --------------------------------------

def build_message(to: str, subject: str, text: str, html: str | None = None,
                  reply_to: str | None = None, sender: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender or current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="leadforge.local")
    if reply_to:
        message["Reply-To"] = reply_to
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def _message_of(row: MailMessage) -> EmailMessage:
    return build_message(row.to, row.subject, row.text_body, row.html_body, row.reply_to)


def _send_smtp(row: MailMessage) -> None:
    config = current_app.config
    host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    try:
        with smtp_class(host, port, timeout=timeout) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(_message_of(row))
    except (smtplib.SMTPException, OSError) as error:
        raise smtp_error(error, f"{host}:{port}", timeout) from error


def smtp_error(error: Exception, server: str, timeout: float) -> MailError:
    """What an SMTP server's failure means for the log, and whether a retry may help: a 5xx answer (a refused
    recipient, sender or login) will not, a timeout, a refused connection or a 4xx answer may."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = list(error.recipients.values())
        code, text = answers[0] if answers else (0, b"")
        return MailError(f"The mail server {server} refused the recipient ({code}): {_text(text)}",
                         retryable=all(c < 500 for c, _ in answers))
    if isinstance(error, smtplib.SMTPResponseException):
        return MailError(f"The mail server {server} answered {error.smtp_code}: {_text(error.smtp_error)}",
                         retryable=error.smtp_code < 500)
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):  # smtplib wraps a
        # timeout while reading the server's answer in SMTPServerDisconnected
        return MailError(f"The mail server {server} did not answer within {timeout:g} seconds.")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return MailError(f"The mail server {server} closed the connection: {error}")
    if isinstance(error, OSError):
        return MailError(f"Could not connect to the mail server {server}: {error.strerror or error}")
    return MailError(f"The mail server {server} failed: {error}")


def _text(value) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else str(value)).strip()


def _write_to_outbox(row: MailMessage) -> None:
    message = _message_of(row)
    outbox = Path(current_app.config["OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S%f}-{row.id.hex[:8]}.eml"
    (outbox / name).write_bytes(bytes(message))
    log.info("mail written to outbox (no MAIL_SERVER set)",
             extra={"to": message["To"], "subject": message["Subject"], "file": name})


def outbox_messages(limit: int = 50) -> list[dict]:
    """The newest messages of the development outbox, for /dev/outbox."""
    from email import policy
    from email.parser import BytesParser

    outbox = Path(current_app.config["OUTBOX_DIR"])
    if not outbox.exists():
        return []
    messages = []
    for path in sorted(outbox.glob("*.eml"), reverse=True)[:limit]:
        parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        body = parsed.get_body(preferencelist=("plain",))
        messages.append({
            "file": path.name, "to": parsed["To"], "subject": parsed["Subject"],
            "text": body.get_content() if body else "",
        })
    return messages
