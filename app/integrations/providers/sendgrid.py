"""SendGrid (Twilio SendGrid v3 Web API): sending e-mail, and the Marketing Campaigns lists and contacts.

Auth: `Authorization: Bearer <API key>`. Base URL https://api.sendgrid.com (https://api.eu.sendgrid.com for EU
regional subusers).
- check: GET /v3/scopes (works with any key, even a restricted one), then GET /v3/user/username when the key may.
- send: POST /v3/mail/send, answered 202 with the message id in the X-Message-Id header.
- lists: GET /v3/marketing/lists?page_size=1000, following `_metadata.next` (page_token).
- subscribe: PUT /v3/marketing/contacts {list_ids, contacts: [...]} — an upsert by e-mail, answered 202 with a
  job id (the contact's id is not known yet, so none is returned). Marketing Campaigns has no tags.
- Event Webhook: SendGrid posts bounces, spam reports and unsubscribes to the connection's address
  (`app.integrations.callbacks`), signed with ECDSA; the setting `event_webhook_public_key` is the verification
  key SendGrid shows under "Signed Event Webhook Requests" (`event_webhook_key` reads it).
"""
import base64
import binascii
import re
from email.utils import parseaddr
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from app.integrations.providers.base import Email, Field, ListInfo, Provider, ProviderError, Sent, Subscriber, register

REGIONS = (("global", "Global (api.sendgrid.com)"), ("eu", "EU regional subuser (api.eu.sendgrid.com)"))
BASE_URLS = {"global": "https://api.sendgrid.com", "eu": "https://api.eu.sendgrid.com"}
# A contact's reserved fields go at the top level of the contact; any other field is a custom field (by its id).
RESERVED_FIELDS = {"address_line_1", "address_line_2", "alternate_emails", "city", "country", "postal_code",
                   "state_province_region", "phone_number", "whatsapp", "line", "facebook", "unique_name"}
MAX_PAGES = 20


@register
class SendGridProvider(Provider):
    key = "sendgrid"
    name = "SendGrid"
    kind = "email"
    docs_url = "https://www.twilio.com/docs/sendgrid/api-reference"
    default_base_url = BASE_URLS["global"]
    can_send_email = True
    has_lists = True
    fields = (
        Field("api_key", "API key", secret=True, kind="password",
              help="Settings → API Keys; Mail Send for sending, Marketing for lists"),
        Field("from_email", "From address", kind="email", required=False,
              help="A verified sender or an address of an authenticated domain; needed to send e-mail"),
        Field("from_name", "From name", required=False),
        Field("region", "Region", kind="select", choices=REGIONS, default="global", required=False),
        Field("event_webhook_public_key", "Event Webhook verification key", kind="text", required=False,
              help="Event Webhook settings → Signed Event Webhook Requests: the verification key SendGrid shows. "
                   "Needed to accept its bounces, spam reports and unsubscribes."),
    )

    def __init__(self, credentials: dict, settings: dict, base_url: str | None = None, timeout: float = 10):
        super().__init__(credentials, settings,
                         base_url or BASE_URLS.get(settings.get("region") or "global", BASE_URLS["global"]), timeout)

    @classmethod
    def settings_errors(cls, settings: dict) -> dict:
        key = settings.get("event_webhook_public_key")
        if key:
            try:
                event_webhook_key(key)
            except ValueError:
                return {"event_webhook_public_key": "This is not a verification key: copy the whole key SendGrid "
                                                    "shows under Signed Event Webhook Requests."}
        return {}

    def auth_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.credentials.get('api_key', '')}"}

    def check(self) -> str:
        scopes = self.request("GET", "/v3/scopes").json().get("scopes") or []
        who = "API key accepted"
        if "user.username.read" in scopes:
            username = self.request("GET", "/v3/user/username").json().get("username")
            if username:
                who = f"Account: {username}"
        if "mail.send" in scopes:
            return f"{who}; it may send e-mail."
        return f"{who}; it may not send e-mail (the key lacks the Mail Send permission)."

    def send_email(self, email: Email) -> Sent:
        to_name, to_address = parseaddr(email.to)
        if not to_address or "@" not in to_address:
            raise ProviderError(f"{email.to!r} is not an e-mail address.")
        from_name, from_address = parseaddr(email.sender) if email.sender else (
            self.settings.get("from_name") or "", self.settings.get("from_email") or "")
        if not from_address:
            raise ProviderError("Set the connection's From address before sending e-mail.")
        content = [{"type": "text/plain", "value": email.text or " "}]  # text/plain must come first
        if email.html:
            content.append({"type": "text/html", "value": email.html})
        body = {
            "personalizations": [{"to": [_address(to_address, to_name)]}],
            "from": _address(from_address, from_name),
            "subject": email.subject,
            "content": content,
        }
        if email.reply_to:
            reply_name, reply_address = parseaddr(email.reply_to)
            body["reply_to"] = _address(reply_address, reply_name)
        response = self.request("POST", "/v3/mail/send", json=body, expected=(200, 202))
        return Sent(provider_message_id=response.headers.get("X-Message-Id"), status="sent")

    def lists(self) -> list[ListInfo]:
        found, params = [], {"page_size": 1000}
        for _ in range(MAX_PAGES):
            page = self.request("GET", "/v3/marketing/lists", params=params).json()
            found += [ListInfo(id=str(item["id"]), name=item.get("name") or str(item["id"]),
                               members=item.get("contact_count")) for item in page.get("result") or []]
            token = _page_token((page.get("_metadata") or {}).get("next"))
            if not token:
                break
            params = {"page_size": 1000, "page_token": token}
        return found

    def subscribe(self, list_id: str, subscriber: Subscriber) -> str | None:
        contact = {"email": subscriber.email}
        if subscriber.first_name:
            contact["first_name"] = subscriber.first_name
        if subscriber.last_name:
            contact["last_name"] = subscriber.last_name
        if subscriber.phone:
            contact["phone_number"] = subscriber.phone
        custom = {}
        for name, value in (subscriber.fields or {}).items():
            if name in RESERVED_FIELDS:
                contact[name] = value
            else:
                custom[name] = value
        if custom:
            contact["custom_fields"] = custom
        self.request("PUT", "/v3/marketing/contacts", json={"list_ids": [list_id], "contacts": [contact]},
                     expected=(200, 202))
        return None  # SendGrid processes the upsert later; the contact id is not known yet


PEM_MARKER = re.compile(r"-----(BEGIN|END) [A-Z ]+-----")


def event_webhook_key(text: str) -> ec.EllipticCurvePublicKey:
    """The Event Webhook verification key: base64 of a DER SubjectPublicKeyInfo, as SendGrid shows it, or the
    same as PEM (with or without its line breaks, which a one-line input drops). ValueError for anything else."""
    encoded = "".join(PEM_MARKER.sub("", text or "").split())
    if not encoded:
        raise ValueError("no key")
    try:
        key = load_der_public_key(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("not a public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve key")
    return key


def _address(email: str, name: str = "") -> dict:
    return {"email": email, "name": name} if name else {"email": email}


def _page_token(next_url: str | None) -> str | None:
    if not next_url:
        return None
    return (parse_qs(urlsplit(next_url).query).get("page_token") or [None])[0]
