"""The workspace's sending channel: the e-mail connection it chose ("Use for sending") carries the app's mail.

core.mail knows no provider: it asks the resolver registered here, which answers with the workspace's
connection that is marked `is_sending_channel`, is "connected" and whose adapter can send e-mail (SMTP,
SendGrid), or None (the app's own mail server then). Every message goes through `connections.call`, so the
provider call is recorded like any other (usage figures, last error). Imported by app/integrations/tasks.py,
which every process imports, so the resolver is always registered.
"""
from sqlalchemy import select

from app.core import mail
from app.core.crypto import DecryptionError
from app.core.models import MailMessage
from app.extensions import db
from app.integrations import connections, providers
from app.integrations.models import Connection
from app.integrations.providers.base import Email, ProviderError

DEFAULT_LABEL = "Leadforge default"


def sending_connection(account_id) -> Connection | None:
    """The connection that sends this workspace's e-mail now, or None (the app's own channel does)."""
    connection = db.session.execute(select(Connection).where(
        Connection.account_id == account_id, Connection.is_sending_channel.is_(True),
        Connection.kind == "email", Connection.status == "connected")).scalar_one_or_none()
    if connection is None:
        return None
    adapter = providers.REGISTRY.get(connection.provider)
    return connection if adapter is not None and adapter.can_send_email else None


def channel_label(account_id) -> str:
    """What the mail log says the workspace sends through: the connection's name, or "Leadforge default"."""
    connection = sending_connection(account_id)
    return connection.name if connection is not None else DEFAULT_LABEL


def channel_names() -> dict[str, str]:
    """MailMessage.channel -> the words for it: the app's own channels and every provider's name."""
    return {mail.DEFAULT_CHANNEL: DEFAULT_LABEL, mail.OUTBOX_CHANNEL: "Development outbox",
            **{key: cls.name for key, cls in providers.REGISTRY.items()}}


@mail.channel_resolver
def workspace_channel(account_id) -> mail.Channel | None:
    connection = sending_connection(account_id)
    if connection is None:
        return None

    def deliver(message: MailMessage) -> None:
        # no sender: the connection's own From address (a verified sender at SendGrid)
        email = Email(to=message.to, subject=message.subject, text=message.text_body, html=message.html_body,
                      reply_to=message.reply_to)
        try:
            connections.call(connection, "send_email", lambda adapter: adapter.send_email(email))
        except ProviderError as error:
            raise mail.MailError(f"{connection.name}: {error.message}", retryable=error.retryable) from error
        except DecryptionError as error:
            raise mail.MailError(f"{connection.name}: the stored credentials cannot be read with the current keys; "
                                 "enter them again.", retryable=False) from error

    return mail.Channel(key=connection.provider, label=connection.name, deliver=deliver)


def mail_log_query(account, status: str | None = None):
    """The workspace's e-mails, newest first; `status` one of core.mail.MAIL_STATUSES (anything else: all)."""
    query = select(MailMessage).where(MailMessage.account_id == account.id)
    if status in mail.MAIL_STATUSES:
        query = query.where(MailMessage.status == status)
    return query.order_by(MailMessage.created_at.desc(), MailMessage.id.desc())
