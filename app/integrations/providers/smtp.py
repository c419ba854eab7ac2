"""SMTP: any mail server the workspace already has (host, port, STARTTLS or SSL, login).

`check()` connects, says EHLO, upgrades to TLS when asked, logs in and quits; `send_email()` does the same and
sends one message. Every failure becomes a ProviderError that says what the server answered; a timeout, a refused
connection or a 4xx reply is `retryable`, a refused login or a 5xx reply is not.
"""
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from app.integrations.providers.base import Email, Field, Provider, ProviderError, Sent, register

SECURITY_CHOICES = (
    ("starttls", "STARTTLS (usually port 587)"),
    ("ssl", "SSL/TLS from the start (usually port 465)"),
    ("none", "None — only for a relay on a private network"),
)


@register
class SMTPProvider(Provider):
    key = "smtp"
    name = "SMTP"
    kind = "email"
    docs_url = "https://www.rfc-editor.org/rfc/rfc5321"
    default_base_url = ""
    can_send_email = True
    fields = (
        Field("host", "SMTP host", help="For example smtp.example.com"),
        Field("port", "Port", kind="number", default="587"),
        Field("security", "Encryption", kind="select", choices=SECURITY_CHOICES, default="starttls"),
        Field("username", "User name", required=False, help="Leave blank if the server needs no login"),
        Field("password", "Password", secret=True, required=False, kind="password"),
        Field("from_email", "From address", kind="email", help="The address e-mails are sent from"),
        Field("from_name", "From name", required=False),
    )

    # -- the operations --
    def check(self) -> str:
        with self._session():
            pass  # connected, EHLO, TLS and login done; QUIT on the way out
        login = f" as {self._username}" if self._username else " (no login)"
        return f"Connected to {self._host}:{self._port}{login}, {self._security_label}."

    def send_email(self, email: Email) -> Sent:
        message = self.build_message(email)
        from_address = parseaddr(message["From"])[1]
        to_address = parseaddr(email.to)[1]
        with self._session() as smtp:
            try:
                smtp.send_message(message, from_addr=from_address, to_addrs=[to_address])
            except (smtplib.SMTPException, OSError) as exc:
                raise self._error(exc) from exc
        return Sent(provider_message_id=message["Message-ID"], status="sent")

    def build_message(self, email: Email) -> EmailMessage:
        sender = email.sender or formataddr((self.settings.get("from_name") or "", self._from_email))
        if not parseaddr(sender)[1]:
            raise ProviderError("Set the connection's From address before sending e-mail.")
        if not parseaddr(email.to)[1]:
            raise ProviderError(f"{email.to!r} is not an e-mail address.")
        message = EmailMessage()
        message["From"] = sender
        message["To"] = email.to
        message["Subject"] = email.subject
        if email.reply_to:
            message["Reply-To"] = email.reply_to
        message["Date"] = formatdate(localtime=False, usegmt=True)
        domain = parseaddr(sender)[1].rpartition("@")[2] or None
        message["Message-ID"] = make_msgid(domain=domain)
        message.set_content(email.text or "")
        if email.html:
            message.add_alternative(email.html, subtype="html")
        return message

    # -- connection --
    def tls_context(self) -> ssl.SSLContext:
        """The TLS settings for STARTTLS and SSL: the system's trusted certificates, hostname checked."""
        return ssl.create_default_context()

    @property
    def _host(self) -> str:
        host = (self.settings.get("host") or "").strip()
        if not host:
            raise ProviderError("Set the SMTP host of the connection.")
        return host

    @property
    def _port(self) -> int:
        try:
            port = int(self.settings.get("port") or (465 if self._security == "ssl" else 587))
        except (TypeError, ValueError):
            raise ProviderError(f"The SMTP port {self.settings.get('port')!r} is not a number.") from None
        if not 0 < port < 65536:
            raise ProviderError(f"The SMTP port {port} is out of range.")
        return port

    @property
    def _security(self) -> str:
        security = self.settings.get("security") or "starttls"
        if security not in dict(SECURITY_CHOICES):
            raise ProviderError(f"Unknown SMTP encryption {security!r}.")
        return security

    @property
    def _security_label(self) -> str:
        return {"starttls": "STARTTLS", "ssl": "SSL/TLS", "none": "unencrypted"}[self._security]

    @property
    def _username(self) -> str:
        return (self.settings.get("username") or self.credentials.get("username") or "").strip()

    @property
    def _from_email(self) -> str:
        return (self.settings.get("from_email") or "").strip()

    def _session(self):
        return _Session(self)

    def _open(self) -> smtplib.SMTP:
        host, port, security = self._host, self._port, self._security
        helo = self.settings.get("helo_name") or None
        smtp = None
        try:
            if security == "ssl":
                smtp = smtplib.SMTP_SSL(host, port, local_hostname=helo, timeout=self.timeout,
                                        context=self.tls_context())
            else:
                smtp = smtplib.SMTP(host, port, local_hostname=helo, timeout=self.timeout)
            smtp.ehlo()
            if security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise ProviderError(f"The SMTP server {host}:{port} does not offer STARTTLS; choose another "
                                        "encryption setting or port.")
                smtp.starttls(context=self.tls_context())
                smtp.ehlo()
            if self._username:
                if not smtp.has_extn("auth"):
                    raise ProviderError(f"The SMTP server {host}:{port} does not offer a login (AUTH)"
                                        + (" before STARTTLS" if security == "none" else "") + ".")
                smtp.login(self._username, self.credentials.get("password") or "")
        except ProviderError:
            _close(smtp)
            raise
        except (smtplib.SMTPException, OSError) as exc:
            _close(smtp)
            raise self._error(exc) from exc
        return smtp

    def _error(self, exc: BaseException) -> ProviderError:
        """What went wrong, in words; 4xx replies, timeouts and unreachable servers may work later."""
        where = f"{self.settings.get('host')}:{self.settings.get('port') or ''}".rstrip(":")
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return ProviderError(f"The SMTP server refused the login ({exc.smtp_code}): {_text(exc.smtp_error)}",
                                 status_code=exc.smtp_code)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            address, (code, text) = next(iter(exc.recipients.items()))
            return ProviderError(f"The SMTP server refused the recipient {address} ({code}): {_text(text)}",
                                 status_code=code, retryable=400 <= code < 500)
        if isinstance(exc, smtplib.SMTPResponseException):  # sender refused, data refused, HELO refused...
            code = exc.smtp_code
            return ProviderError(f"The SMTP server answered {code}: {_text(exc.smtp_error)}", status_code=code,
                                 retryable=not 500 <= code < 600)
        if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError):
            exc = exc.__context__  # smtplib reports a reply that never came as a disconnection
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return ProviderError(f"The SMTP server {where} closed the connection: {exc}", retryable=True)
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return ProviderError(f"The SMTP server {where} does not support this: {exc}")
        if isinstance(exc, smtplib.SMTPException):
            return ProviderError(f"SMTP error with {where}: {exc}", retryable=True)
        if isinstance(exc, TimeoutError | socket.timeout):
            return ProviderError(f"The SMTP server {where} did not answer within {self.timeout:g} seconds.",
                                 retryable=True)
        if isinstance(exc, ConnectionRefusedError):
            return ProviderError(f"The SMTP server {where} refused the connection (is the host and port right?).",
                                 retryable=True)
        if isinstance(exc, ssl.SSLError | ssl.CertificateError):
            return ProviderError(f"The TLS connection to {where} failed: {exc}")
        if isinstance(exc, socket.gaierror):
            return ProviderError(f"The SMTP host {self.settings.get('host')!r} could not be found: {exc}",
                                 retryable=True)
        return ProviderError(f"Could not reach the SMTP server {where}: {exc}", retryable=True)


class _Session:
    """`with adapter._session() as smtp:` — logged in on enter, QUIT (or closed) on exit."""

    def __init__(self, adapter: SMTPProvider):
        self.adapter = adapter
        self.smtp = None

    def __enter__(self) -> smtplib.SMTP:
        self.smtp = self.adapter._open()
        return self.smtp

    def __exit__(self, *exc):
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            _close(self.smtp)
        return False


def _close(smtp) -> None:
    if smtp is not None:
        try:
            smtp.close()
        except OSError:
            pass


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:300]
