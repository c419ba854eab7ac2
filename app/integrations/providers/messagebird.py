"""MessageBird (Bird) SMS API: send an SMS, read its status reports.

Auth: "Authorization: AccessKey <key>". Status reports are requests to the message's `reportUrl` (a GET
with the report in the query, `id` and `status`). With a signing key set in the dashboard they carry
MessageBird-Signature-JWT: an HS256 JWT signed with that key whose claims hold the SHA-256 of the URL called
(`url_hash`) and of the body (`payload_hash`, when there is one); older accounts send MessageBird-Signature,
base64(HMAC-SHA256(key, timestamp \\n sorted query \\n SHA-256 of the body)), with
MessageBird-Request-Timestamp. https://developers.messagebird.com/api/#verifying-http-requests
"""
import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlencode, urlsplit

from app.integrations.providers.base import Field, Provider, ProviderError, Sent, header, register

STATUSES = {"scheduled": "queued", "buffered": "queued", "sent": "sent", "delivered": "delivered",
            "expired": "undelivered", "delivery_failed": "undelivered"}
JWT_ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
LEEWAY = 1  # seconds of clock difference allowed on the JWT's nbf/exp, as MessageBird's own libraries do
TIMESTAMP_TOLERANCE = 300  # seconds, for the older HMAC signature


@register
class MessageBird(Provider):
    key = "messagebird"
    name = "MessageBird"
    kind = "sms"
    docs_url = "https://developers.messagebird.com/api/sms-messaging/"
    default_base_url = "https://rest.messagebird.com"
    has_status_callbacks = True
    fields = (
        Field("access_key", "Access key", secret=True, kind="password",
              help="A live access key from Developers > API access in the dashboard."),
        Field("originator", "Sender", help="A number (+31612345678) or an alphanumeric sender of up to 11 characters."),
        Field("signing_key", "Signing key", secret=True, required=False, kind="password",
              help="From Developers > API settings; needed to accept delivery reports."),
    )

    def auth_headers(self) -> dict:
        return {"Authorization": f"AccessKey {self.credentials.get('access_key', '')}"}

    def check(self) -> str:
        balance = self.request("GET", "/balance").json()
        return f"Balance: {balance.get('amount', 0)} {balance.get('type', 'credits')} ({balance.get('payment', '')})"

    def send_sms(self, to: str, body: str, status_callback_url: str | None = None) -> Sent:
        message = {"originator": (self.settings.get("originator") or "").strip(),
                   "recipients": [int(to.lstrip("+"))] if to.lstrip("+").isdigit() else [to], "body": body}
        if status_callback_url:
            # MessageBird sends status reports only for messages with a reference.
            message.update(reference="leadforge", reportUrl=status_callback_url)
        answer = self.request("POST", "/messages", json=message).json()
        items = (answer.get("recipients") or {}).get("items") or [{}]
        return Sent(answer.get("id"), STATUSES.get(items[0].get("status", ""), "queued"))

    def read_status_callback(self, *, url: str, headers: dict, body: bytes) -> tuple[str, str | None]:
        key = self.credentials.get("signing_key", "")
        if not key:
            raise ProviderError("No signing key is set for this connection, so its status reports cannot be "
                                "verified: add the signing key from MessageBird's dashboard.", status_code=403)
        if header(headers, "MessageBird-Signature-JWT"):
            check_jwt(key, header(headers, "MessageBird-Signature-JWT"), url, body)
        elif header(headers, "MessageBird-Signature"):
            check_hmac(key, header(headers, "MessageBird-Signature"), header(headers, "MessageBird-Request-Timestamp"),
                       url, body)
        else:
            raise ProviderError("The status report is not signed (no MessageBird-Signature-JWT).", status_code=403)
        report = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
        if body:
            try:
                report.update(json.loads(body) if header(headers, "Content-Type").startswith("application/json")
                              else {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
            except (ValueError, TypeError, AttributeError):
                raise ProviderError("The status report's body cannot be read.", status_code=400) from None
        if not report.get("id"):
            raise ProviderError("The status report names no message id.", status_code=400)
        return str(report["id"]), STATUSES.get(str(report.get("status", "")))


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def check_jwt(key: str, token: str, url: str, body: bytes, now: float | None = None) -> dict:
    """The claims of MessageBird-Signature-JWT, once its signature, issuer, lifetime, URL and body hashes hold;
    ProviderError (403) otherwise."""
    def refuse(why: str):
        raise ProviderError(f"The MessageBird-Signature-JWT is not valid: {why}.", status_code=403)

    try:
        header_part, claims_part, signature_part = token.split(".")
        jwt_header = json.loads(_b64url_decode(header_part))
        claims = json.loads(_b64url_decode(claims_part))
        signature = _b64url_decode(signature_part)
    except (ValueError, TypeError):
        refuse("it cannot be read")
    digest = JWT_ALGORITHMS.get(jwt_header.get("alg") if isinstance(jwt_header, dict) else None)
    if digest is None or not isinstance(claims, dict):
        refuse("unexpected algorithm")
    expected = hmac.new(key.encode(), f"{header_part}.{claims_part}".encode(), digest).digest()
    if not hmac.compare_digest(expected, signature):
        refuse("the signature does not match this connection's signing key")
    now = time.time() if now is None else now
    if claims.get("iss") != "MessageBird":
        refuse("not issued by MessageBird")
    try:
        if float(claims["nbf"]) > now + LEEWAY or float(claims["exp"]) <= now - LEEWAY:
            refuse("it has expired or is not valid yet")
    except (KeyError, TypeError, ValueError):
        refuse("it has no validity period")
    if not hmac.compare_digest(str(claims.get("url_hash", "")).encode(),
                               hashlib.sha256(url.encode()).hexdigest().encode()):
        refuse("it was made for another URL")
    payload_hash = claims.get("payload_hash")
    if body and not hmac.compare_digest(str(payload_hash or "").encode(), hashlib.sha256(body).hexdigest().encode()):
        refuse("the body was changed")
    if not body and payload_hash:
        refuse("it signs a body that is missing")
    return claims


def hmac_signature(key: str, timestamp: str, url: str, body: bytes) -> str:
    """The older MessageBird-Signature of a request to `url` with `body` at `timestamp`."""
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    signed = (f"{timestamp}\n{urlencode(sorted(query.items()), doseq=True)}\n".encode()
              + hashlib.sha256(body or b"").digest())
    return base64.b64encode(hmac.new(key.encode(), signed, hashlib.sha256).digest()).decode()


def check_hmac(key: str, signature: str, timestamp: str, url: str, body: bytes, now: float | None = None) -> None:
    now = time.time() if now is None else now
    try:
        recent = abs(now - int(timestamp)) <= TIMESTAMP_TOLERANCE
    except ValueError:
        recent = False
    if not recent:
        raise ProviderError("The MessageBird-Request-Timestamp is missing or too old.", status_code=403)
    if not hmac.compare_digest(hmac_signature(key, timestamp, url, body).encode(), signature.encode()):
        raise ProviderError("The MessageBird-Signature does not match this connection's signing key.",
                            status_code=403)
