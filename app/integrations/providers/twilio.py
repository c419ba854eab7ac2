"""Twilio Programmable Messaging (REST API 2010-04-01): send an SMS, read its delivery status callbacks.

Auth: HTTP Basic with the Account SID and the auth token. Status callbacks are form posts signed with
X-Twilio-Signature: base64(HMAC-SHA1(auth token, the URL Twilio called + each POST parameter's name and
value, sorted by name)). https://www.twilio.com/docs/usage/security#validating-requests
"""
import base64
import hashlib
import hmac
from urllib.parse import parse_qs

import httpx

from app.integrations.providers.base import Field, Provider, ProviderError, Sent, header, register

# Twilio's MessageStatus -> ours; read receipts count as delivered, "receiving"/"received" are inbound.
STATUSES = {"accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued",
            "sent": "sent", "delivered": "delivered", "read": "delivered", "undelivered": "undelivered",
            "failed": "failed", "canceled": "failed"}


@register
class Twilio(Provider):
    key = "twilio"
    name = "Twilio"
    kind = "sms"
    docs_url = "https://www.twilio.com/docs/messaging/api/message-resource"
    default_base_url = "https://api.twilio.com"
    has_status_callbacks = True
    fields = (
        Field("account_sid", "Account SID", help="Starts with AC; on the dashboard of the Twilio console."),
        Field("auth_token", "Auth token", secret=True, kind="password",
              help="Also signs the delivery reports Twilio sends back."),
        Field("from_number", "Sender",
              help="A Twilio number in international format (+14155550123), or a Messaging Service SID (MG...)."),
    )

    @property
    def account_sid(self) -> str:
        return (self.settings.get("account_sid") or "").strip()

    def auth(self):
        return httpx.BasicAuth(self.account_sid, self.credentials.get("auth_token", ""))

    def check(self) -> str:
        if not self.account_sid:
            raise ProviderError("Enter the Account SID.")
        account = self.request("GET", f"/2010-04-01/Accounts/{self.account_sid}.json").json()
        return f"Account: {account.get('friendly_name') or self.account_sid} ({account.get('status', 'active')})"

    def send_sms(self, to: str, body: str, status_callback_url: str | None = None) -> Sent:
        sender = (self.settings.get("from_number") or "").strip()
        form = {"To": to, "Body": body}
        form["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        if status_callback_url:
            form["StatusCallback"] = status_callback_url
        message = self.request("POST", f"/2010-04-01/Accounts/{self.account_sid}/Messages.json", data=form).json()
        return Sent(message.get("sid"), STATUSES.get(message.get("status", ""), "queued"))

    def read_status_callback(self, *, url: str, headers: dict, body: bytes) -> tuple[str, str | None]:
        params = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        expected = signature(self.credentials.get("auth_token", ""), url, params)
        if not hmac.compare_digest(expected.encode(), header(headers, "X-Twilio-Signature").encode()):
            raise ProviderError("The X-Twilio-Signature does not match this connection's auth token.",
                                status_code=403)
        sid = (params.get("MessageSid") or params.get("SmsSid") or [""])[0]
        if not sid:
            raise ProviderError("The callback names no MessageSid.", status_code=400)
        status = (params.get("MessageStatus") or params.get("SmsStatus") or [""])[0]
        return sid, STATUSES.get(status)


def signature(auth_token: str, url: str, params: dict[str, list[str]]) -> str:
    """What Twilio puts in X-Twilio-Signature for a form post of `params` to `url`."""
    signed = url + "".join(name + value for name in sorted(params) for value in sorted(params[name]))
    return base64.b64encode(hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()).decode()
