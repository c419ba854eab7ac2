"""Plivo Messaging API: send an SMS, read its delivery status callbacks.

Auth: HTTP Basic with the Auth ID and the auth token. Callbacks (form posts to the message's `url`) are
signed with the auth token: X-Plivo-Signature-V3 (HMAC-SHA256 over the URL, the sorted parameters and the
X-Plivo-Signature-V3-Nonce), or the older X-Plivo-Signature-V2 (HMAC-SHA256 over the URL without its query
and the X-Plivo-Signature-V2-Nonce), base64. https://www.plivo.com/docs/messaging/concepts/signature-validation
"""
import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from app.integrations.providers.base import Field, Provider, ProviderError, Sent, header, register

STATUSES = {"queued": "queued", "sent": "sent", "delivered": "delivered", "read": "delivered",
            "undelivered": "undelivered", "failed": "failed", "rejected": "failed"}


def plivo_number(number: str) -> str:
    """Plivo takes numbers with their country code and without the "+"; a sender ID stays as it is."""
    return number[1:] if number.startswith("+") and number[1:].isdigit() else number


@register
class Plivo(Provider):
    key = "plivo"
    name = "Plivo"
    kind = "sms"
    docs_url = "https://www.plivo.com/docs/messaging/api/message/send-a-message"
    default_base_url = "https://api.plivo.com"
    has_status_callbacks = True
    fields = (
        Field("auth_id", "Auth ID", help="On the overview page of the Plivo console."),
        Field("auth_token", "Auth token", secret=True, kind="password",
              help="Also signs the delivery reports Plivo sends back."),
        Field("from_number", "Sender", help="A Plivo number (+14155550123) or an approved sender ID."),
    )

    @property
    def auth_id(self) -> str:
        return (self.settings.get("auth_id") or "").strip()

    def auth(self):
        return httpx.BasicAuth(self.auth_id, self.credentials.get("auth_token", ""))

    def check(self) -> str:
        if not self.auth_id:
            raise ProviderError("Enter the Auth ID.")
        account = self.request("GET", f"/v1/Account/{self.auth_id}/").json()
        return f"Account: {account.get('name') or self.auth_id} ({account.get('account_type', 'standard')})"

    def send_sms(self, to: str, body: str, status_callback_url: str | None = None) -> Sent:
        message = {"src": plivo_number((self.settings.get("from_number") or "").strip()), "dst": plivo_number(to),
                   "text": body}
        if status_callback_url:
            message.update(url=status_callback_url, method="POST")
        answer = self.request("POST", f"/v1/Account/{self.auth_id}/Message/", json=message).json()
        uuids = answer.get("message_uuid") or []
        return Sent(uuids[0] if uuids else None, "queued")

    def read_status_callback(self, *, url: str, headers: dict, body: bytes) -> tuple[str, str | None]:
        params = read_params(headers, body)
        token = self.credentials.get("auth_token", "")
        if not signature_ok(token, url, params, headers):
            raise ProviderError("The X-Plivo-Signature does not match this connection's auth token.", status_code=403)
        message_uuid = first(params.get("MessageUUID"))
        if not message_uuid:
            raise ProviderError("The callback names no MessageUUID.", status_code=400)
        return message_uuid, STATUSES.get(first(params.get("Status")))


def first(value) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)


def read_params(headers: dict, body: bytes) -> dict:
    """The callback's parameters: form fields (name -> [values]), or a JSON object."""
    if "json" in header(headers, "Content-Type"):
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise ProviderError("The callback's body is not JSON.", status_code=400) from None
        return data if isinstance(data, dict) else {}
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def signature_ok(token: str, url: str, params: dict, headers: dict) -> bool:
    """The V3 signature (or, from an older account setting, V2) matches one of the signatures sent."""
    v3_nonce = header(headers, "X-Plivo-Signature-V3-Nonce")
    if v3_nonce:
        expected = signature_v3(token, url, params, v3_nonce)
        sent = header(headers, "X-Plivo-Signature-V3") + "," + header(headers, "X-Plivo-Signature-Ma-V3")
        return any(same(expected, candidate) for candidate in sent.split(",") if candidate.strip())
    v2_nonce = header(headers, "X-Plivo-Signature-V2-Nonce")
    if v2_nonce:
        expected = signature_v2(token, url, v2_nonce)
        sent = [header(headers, "X-Plivo-Signature-V2"), header(headers, "X-Plivo-Signature-Ma-V2")]
        return any(same(expected, candidate) for candidate in sent if candidate.strip())
    return False


def same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def _hmac(token: str, message: str) -> str:
    return base64.b64encode(hmac.new(token.encode(), message.encode(), hashlib.sha256).digest()).decode()


def _sorted_params(params: dict) -> str:
    parts = []
    for name in sorted(params):
        value = params[name]
        if isinstance(value, list):
            parts.extend(name + str(item) for item in sorted(str(v) for v in value))
        elif isinstance(value, dict):
            parts.append(name + _sorted_params(value))
        else:
            parts.append(name + str(value))
    return "".join(parts)


def signature_v3(token: str, url: str, params: dict, nonce: str) -> str:
    """X-Plivo-Signature-V3 of a POST to `url` with `params`: the URL without its query, "?", its query
    parameters sorted ("a=1&b=2") and a "." when there are both, then each POST parameter's name and value
    sorted by name; then "." and the nonce."""
    split = urlsplit(url)
    base = urlunsplit((split.scheme, split.netloc, split.path, "", ""))
    query = parse_qs(split.query, keep_blank_values=True)
    query_string = "&".join(f"{name}={value}" for name in sorted(query) for value in sorted(query[name]))
    if query_string or params:
        base += "?" + query_string
    if query_string and params:
        base += "."
    return _hmac(token, f"{base}{_sorted_params(params)}.{nonce}")


def signature_v2(token: str, url: str, nonce: str) -> str:
    split = urlsplit(url)
    return _hmac(token, urlunsplit((split.scheme, split.netloc, split.path, "", "")) + nonce)
