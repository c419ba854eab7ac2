"""Telnyx Messaging API v2: send an SMS, read its delivery webhooks.

Auth: "Authorization: Bearer <API key>". Webhooks (JSON posts to the message's `webhook_url`) are signed with
Ed25519: telnyx-signature-ed25519 is the base64 signature of "<telnyx-timestamp>|<raw body>", verified with
the account's public key (Mission Control > Keys & Credentials > Public Key).
https://developers.telnyx.com/docs/messaging/messages/receiving-webhooks
"""
import base64
import binascii
import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key

from app.integrations.providers.base import Field, Provider, ProviderError, Sent, header, register

# A recipient's status -> ours. "delivery_unconfirmed" is final without a receipt: it left Telnyx, so "sent".
STATUSES = {"queued": "queued", "sending": "queued", "sent": "sent", "delivery_unconfirmed": "sent",
            "delivered": "delivered", "delivery_failed": "undelivered", "expired": "undelivered",
            "sending_failed": "failed"}
TIMESTAMP_TOLERANCE = 300  # seconds, as Telnyx's own libraries check


@register
class Telnyx(Provider):
    key = "telnyx"
    name = "Telnyx"
    kind = "sms"
    docs_url = "https://developers.telnyx.com/api/messaging/send-message"
    default_base_url = "https://api.telnyx.com"
    has_status_callbacks = True
    fields = (
        Field("api_key", "API key", secret=True, kind="password", help="Mission Control > API Keys (KEY...)."),
        Field("from_number", "Sender", help="A Telnyx number on a messaging profile (+14155550123)."),
        Field("messaging_profile_id", "Messaging profile ID", required=False,
              help="Only for sending from a number pool or an alphanumeric sender."),
        Field("public_key", "Public key", required=False,
              help="Mission Control > Keys & Credentials > Public Key; needed to accept delivery reports."),
    )

    def auth_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.credentials.get('api_key', '')}"}

    def check(self) -> str:
        balance = (self.request("GET", "/v2/balance").json() or {}).get("data") or {}
        return f"Balance: {balance.get('balance', '0')} {balance.get('currency', '')}".strip()

    def send_sms(self, to: str, body: str, status_callback_url: str | None = None) -> Sent:
        message = {"from": (self.settings.get("from_number") or "").strip(), "to": to, "text": body}
        if (self.settings.get("messaging_profile_id") or "").strip():
            message["messaging_profile_id"] = self.settings["messaging_profile_id"].strip()
        if status_callback_url:
            message["webhook_url"] = status_callback_url
        data = (self.request("POST", "/v2/messages", json=message).json() or {}).get("data") or {}
        recipients = data.get("to") or [{}]
        return Sent(data.get("id"), STATUSES.get(recipients[0].get("status", ""), "queued"))

    def read_status_callback(self, *, url: str, headers: dict, body: bytes) -> tuple[str, str | None]:
        verify(self.settings.get("public_key") or "", header(headers, "telnyx-signature-ed25519"),
               header(headers, "telnyx-timestamp"), body)
        try:
            event = json.loads(body).get("data") or {}
        except (ValueError, AttributeError):
            raise ProviderError("The webhook's body is not a JSON object.", status_code=400) from None
        payload = event.get("payload") or {}
        if not payload.get("id"):
            raise ProviderError("The webhook names no message.", status_code=400)
        outbound_status = event.get("event_type") in ("message.sent", "message.finalized")
        if not outbound_status or payload.get("direction") == "inbound":
            return str(payload["id"]), None
        recipients = payload.get("to") or [{}]
        return str(payload["id"]), STATUSES.get(recipients[0].get("status", ""))


def public_key_from(text: str) -> Ed25519PublicKey:
    """The key as the portal shows it: base64 of the raw 32 bytes (or of its DER SubjectPublicKeyInfo)."""
    raw = base64.b64decode(text.strip(), validate=True)
    if len(raw) == 32:
        return Ed25519PublicKey.from_public_bytes(raw)
    key = load_der_public_key(raw)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    return key


def verify(public_key: str, signature: str, timestamp: str, body: bytes, now: float | None = None) -> None:
    if not public_key.strip():
        raise ProviderError("No public key is set for this connection, so its webhooks cannot be verified: add "
                            "the public key from Telnyx's Mission Control.", status_code=403)
    try:
        key = public_key_from(public_key)
    except (ValueError, binascii.Error):
        raise ProviderError("The public key set for this connection is not a valid Ed25519 key.",
                            status_code=403) from None
    now = time.time() if now is None else now
    try:
        recent = abs(now - int(timestamp)) <= TIMESTAMP_TOLERANCE
    except ValueError:
        recent = False
    if not recent:
        raise ProviderError("The telnyx-timestamp is missing or more than 5 minutes away.", status_code=403)
    try:
        key.verify(base64.b64decode(signature, validate=True), timestamp.encode() + b"|" + body)
    except (InvalidSignature, ValueError, binascii.Error):
        raise ProviderError("The telnyx-signature-ed25519 does not match this connection's public key.",
                            status_code=403) from None
