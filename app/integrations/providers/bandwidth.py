"""Bandwidth Messaging API v2: send an SMS, read its delivery callbacks.

Auth: HTTP Basic with an API user's name and password. Bandwidth sends the callbacks of a message to the
callback URL of its messaging application (set in the Bandwidth App, not per message), as a JSON array of
events (`message-delivered`, `message-failed`, ...). They are not signed: the application's callback
credentials (a user name and password you choose in the Bandwidth App) come as HTTP Basic auth, and are
checked against the ones stored here. https://dev.bandwidth.com/docs/messaging/webhooks
"""
import base64
import binascii
import hmac
import json

import httpx

from app.integrations.providers.base import Field, Provider, ProviderError, Sent, header, register

EVENTS = {"message-sending": "queued", "message-delivered": "delivered", "message-read": "delivered",
          "message-failed": "failed"}


@register
class Bandwidth(Provider):
    key = "bandwidth"
    name = "Bandwidth"
    kind = "sms"
    docs_url = "https://dev.bandwidth.com/docs/messaging/createMessage/"
    default_base_url = "https://messaging.bandwidth.com"
    has_status_callbacks = True
    status_callback_setup = ("Bandwidth sends delivery reports to the callback URL of the messaging application, not "
                             "to an address given with each message: in the Bandwidth App, set this as the "
                             "application's callback URL, with the callback user name and password entered in "
                             "the credentials below.")
    fields = (
        Field("account_id", "Account ID", help="The number at the top of the Bandwidth App."),
        Field("username", "API user name", help="A user with the Messaging role."),
        Field("password", "API password", secret=True, kind="password"),
        Field("application_id", "Messaging application ID",
              help="The application of the sending number; set its callback URL to this connection's "
                   "status callback address to receive delivery reports."),
        Field("from_number", "Sender", help="A Bandwidth number of that application (+14155550123)."),
        Field("callback_username", "Callback user name", required=False,
              help="The callback credentials set on the application; needed to accept delivery reports."),
        Field("callback_password", "Callback password", secret=True, required=False, kind="password"),
    )

    @property
    def account_id(self) -> str:
        return (self.settings.get("account_id") or "").strip()

    def auth(self):
        return httpx.BasicAuth((self.settings.get("username") or "").strip(), self.credentials.get("password", ""))

    def check(self) -> str:
        if not self.account_id:
            raise ProviderError("Enter the account ID.")
        # Listing one message is the harmless authenticated call of the Messaging API.
        self.request("GET", f"/api/v2/users/{self.account_id}/messages", params={"limit": 1})
        return f"Account {self.account_id}: the Messaging API accepted the credentials"

    def send_sms(self, to: str, body: str, status_callback_url: str | None = None) -> Sent:
        # Delivery reports go to the application's callback URL: there is no per-message one.
        message = {"applicationId": (self.settings.get("application_id") or "").strip(), "to": [to],
                   "from": (self.settings.get("from_number") or "").strip(), "text": body}
        answer = self.request("POST", f"/api/v2/users/{self.account_id}/messages", json=message).json()
        return Sent(answer.get("id"), "queued")

    def read_status_callback(self, *, url: str, headers: dict, body: bytes) -> tuple[str, str | None]:
        username = (self.settings.get("callback_username") or "").strip()
        password = self.credentials.get("callback_password", "")
        if not (username and password):
            raise ProviderError("No callback credentials are set for this connection, so its callbacks cannot be "
                                "verified: set the same user name and password here and on the application.",
                                status_code=403)
        if not basic_auth_ok(header(headers, "Authorization"), username, password):
            raise ProviderError("The callback's credentials are not this connection's callback credentials.",
                                status_code=403)
        try:
            events = json.loads(body)
        except ValueError:
            raise ProviderError("The callback's body is not JSON.", status_code=400) from None
        events = events if isinstance(events, list) else [events]
        outbound = [event for event in events if isinstance(event, dict) and event.get("type") in EVENTS]
        if not outbound:
            inbound = next((event for event in events if isinstance(event, dict)), {})
            message_id = str((inbound.get("message") or {}).get("id") or "")
            if not message_id:
                raise ProviderError("The callback names no message.", status_code=400)
            return message_id, None  # an inbound message or an event without a delivery status
        event = outbound[-1]
        message_id = str((event.get("message") or {}).get("id") or "")
        if not message_id:
            raise ProviderError("The callback names no message.", status_code=400)
        return message_id, EVENTS[event["type"]]


def basic_auth_ok(authorization: str, username: str, password: str) -> bool:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given_user, _, given_password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return (hmac.compare_digest(given_user.encode(), username.encode())
            & hmac.compare_digest(given_password.encode(), password.encode()))
