"""Sending e-mail: `send()` over SMTP (MAIL_* settings), HTML and text parts.

With no MAIL_SERVER (development), messages go to the outbox folder instead, are logged, and can be
read in the browser at /dev/outbox while the app runs in debug mode.
"""
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app, render_template

from app.core.db import utcnow

log = logging.getLogger(__name__)


def build_message(to: str, subject: str, text: str, html: str | None = None,
                  reply_to: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="leadforge.local")
    if reply_to:
        message["Reply-To"] = reply_to
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send(to: str, subject: str, text: str, html: str | None = None, reply_to: str | None = None) -> EmailMessage:
    """Send one message now. Raises smtplib/OSError errors to the caller when SMTP fails."""
    message = build_message(to, subject, text, html, reply_to)
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        _write_to_outbox(message)
        return message
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)
    log.info("mail sent", extra={"to": to, "subject": subject})
    return message


def send_template(to: str, subject: str, template: str, **context) -> EmailMessage:
    """Render templates/mail/<template>.txt and .html with the context and send them."""
    text = render_template(f"mail/{template}.txt", **context)
    html = render_template(f"mail/{template}.html", subject=subject, **context)
    return send(to, subject, text, html)


def _write_to_outbox(message: EmailMessage) -> None:
    outbox = Path(current_app.config["OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S%f}.eml"
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
