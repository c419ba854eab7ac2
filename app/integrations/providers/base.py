"""The one interface every provider adapter implements, and the HTTP client they share.

An adapter is a class in a module of this package (one module per provider), registered by
`@register`. It knows the provider's documented API and nothing of the database: the connection's
decrypted credentials and settings come in, plain results or a `ProviderError` come out. Recording the
call (usage figures, last error) is the caller's: `app.integrations.connections.call`.
"""
from dataclasses import dataclass, field

import httpx

REGISTRY: dict[str, type["Provider"]] = {}


def register(cls: type["Provider"]) -> type["Provider"]:
    REGISTRY[cls.key] = cls
    return cls


class ProviderError(Exception):
    """What the provider answered, in words a marketer can act on. `retryable`: a timeout, a 5xx, a 429 —
    trying again later may work; a refused credential or a bad request will not."""

    def __init__(self, message: str, status_code: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retryable = retryable


@dataclass(frozen=True)
class Field:
    """A field of the connection form. `secret` ones are stored encrypted and never shown again."""

    key: str
    label: str
    secret: bool = False
    required: bool = True
    kind: str = "text"  # text | password | number | bool | select | email
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    default: str = ""


@dataclass(frozen=True)
class ListInfo:
    id: str
    name: str
    members: int | None = None


@dataclass
class Subscriber:
    email: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    fields: dict = field(default_factory=dict)  # provider field name -> value (from the connection's field map)
    tags: list[str] = field(default_factory=list)


@dataclass
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None
    sender: str = ""  # "Name <address>"
    reply_to: str | None = None


@dataclass
class Sent:
    provider_message_id: str | None
    status: str = "sent"  # for SMS: queued | sent | delivered ...


class Provider:
    key: str = ""
    name: str = ""
    kind: str = ""  # email | sms
    docs_url: str = ""
    default_base_url: str = ""
    fields: tuple[Field, ...] = ()
    can_send_email: bool = False  # SMTP and SendGrid: may be the workspace's sending channel
    has_lists: bool = False  # e-mail marketing tools: lists, subscribers
    has_status_callbacks: bool = False  # SMS providers that report delivery
    # Where the provider takes its status callback address when it is not given with each message (Bandwidth: the
    # messaging application's callback URL); shown on the connection's page beside the address to paste.
    status_callback_setup: str = ""

    def __init__(self, credentials: dict, settings: dict, base_url: str | None = None, timeout: float = 10):
        self.credentials = credentials
        self.settings = settings
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.timeout = timeout

    # -- what adapters implement (those their provider offers) --
    @classmethod
    def settings_errors(cls, settings: dict) -> dict:
        """What is wrong with the (already cleaned) settings that only the provider knows, as {field key:
        message}: a value that has the field's kind but cannot work (a verification key that is not a key)."""
        return {}

    def check(self) -> str:
        """Prove the credentials work with a harmless call; returns what to show ("Account: Acme Inc.")."""
        raise NotImplementedError

    def lists(self) -> list[ListInfo]:
        raise ProviderError(f"{self.name} has no lists.")

    def subscribe(self, list_id: str, subscriber: Subscriber) -> str | None:
        """Add or update the subscriber on the list (with tags and fields); returns the provider's id."""
        raise ProviderError(f"{self.name} has no lists.")

    def send_email(self, email: Email) -> Sent:
        raise ProviderError(f"{self.name} does not send e-mail for Leadforge.")

    def send_sms(self, to: str, body: str, status_callback_url: str | None = None) -> Sent:
        raise ProviderError(f"{self.name} does not send SMS.")

    def read_status_callback(self, *, url: str, headers: dict, body: bytes) -> tuple[str, str | None]:
        """A delivery-status callback the provider sent us: check its signature (where the provider signs
        them; a mismatch raises ProviderError with status_code 403; a body that cannot be read, 400), then
        return (provider message id, one of SMS_STATUSES: queued, sent, delivered, undelivered, failed).
        The status may be None, meaning "nothing to apply": the call is genuine but reports no delivery (an
        inbound message, or an event without a status, sent to the same address); it is logged and answered
        200 so the provider does not retry it, and changes no SMS."""
        raise ProviderError(f"{self.name} sends no status callbacks.", status_code=404)

    # -- the HTTP client they share --
    def request(self, method: str, path: str, *, expected=(200, 201, 202, 204), **kwargs) -> httpx.Response:
        """One call to the provider's API with the adapter's auth (`auth_headers`/`auth`), mapped errors."""
        headers = {"User-Agent": "Leadforge/1.0", **self.auth_headers(), **kwargs.pop("headers", {})}
        try:
            with httpx.Client(base_url=self.base_url, timeout=self.timeout, auth=self.auth()) as client:
                response = client.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise ProviderError(f"{self.name} did not answer within {self.timeout:g} seconds.", retryable=True) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"Could not reach {self.name}: {exc}", retryable=True) from exc
        if response.status_code not in expected:
            raise self.error_for(response)
        return response

    def auth_headers(self) -> dict:
        return {}

    def auth(self):
        return None

    def error_for(self, response: httpx.Response) -> ProviderError:
        """A ProviderError saying what the provider answered (its own message where it gives one)."""
        detail = self.error_detail(response) or response.reason_phrase or "no reason given"
        status = response.status_code
        if status in (401, 403):
            message = f"{self.name} refused the credentials ({status}): {detail}"
        else:
            message = f"{self.name} answered {status}: {detail}"
        return ProviderError(message[:500], status_code=status, retryable=status == 429 or status >= 500)

    def error_detail(self, response: httpx.Response) -> str:
        """The provider's own error text; adapters whose API nests it elsewhere override this."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200].strip()
        return _first_message(body)


def _first_message(body) -> str:
    """The first human message in a JSON error body, whatever its shape (message, error, errors[...], detail)."""
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        return next((m for m in (_first_message(item) for item in body) if m), "")
    if isinstance(body, dict):
        for key in ("message", "error_message", "detail", "error", "errors", "title", "description"):
            if key in body:
                found = _first_message(body[key])
                if found:
                    return found
    return ""


def header(headers: dict, name: str) -> str:
    """A request header by its name in any case (callbacks hand headers over as a plain dict)."""
    return next((value for key, value in headers.items() if key.lower() == name.lower()), "")
