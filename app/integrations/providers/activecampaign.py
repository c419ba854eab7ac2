"""ActiveCampaign API v3: lists, contacts (synced by e-mail), list membership, tags, custom fields.

Auth: an `Api-Token` header. Base URL: the account's own API URL (Settings → Developer), e.g.
https://youraccount.api-us1.com; paths start with /api/3.
- check: GET /api/3/users/me.
- lists: GET /api/3/lists?limit=100&offset=N (meta.total tells when to stop).
- subscribe: POST /api/3/contact/sync {"contact": {email, firstName, lastName, phone, fieldValues}} (create or
  update by e-mail; the contact id comes back), POST /api/3/contactLists {"contactList": {list, contact,
  status: 1}}, and for each tag: GET /api/3/tags?search=<name> (POST /api/3/tags when it does not exist yet), then
  POST /api/3/contactTags {"contactTag": {contact, tag}}. Custom fields are given by id, or by title or
  personalization tag, which GET /api/3/fields resolves.
"""
import re
from urllib.parse import urlsplit

from app.integrations.providers.base import Field, ListInfo, Provider, ProviderError, Subscriber, register

MAX_PAGES = 20
PAGE_SIZE = 100
# Only ActiveCampaign's own hosts: the URL is typed by a user, and the API token is sent to it.
_ACCOUNT_HOST = re.compile(r"^[a-z0-9][a-z0-9-]*\.(api-[a-z]{2}\d+\.com|activehosted\.com)$")


@register
class ActiveCampaignProvider(Provider):
    key = "activecampaign"
    name = "ActiveCampaign"
    kind = "email"
    docs_url = "https://developers.activecampaign.com/reference/overview"
    default_base_url = ""  # each account has its own URL (the api_url setting)
    has_lists = True
    fields = (
        Field("api_url", "API URL", kind="text",
              help="Settings → Developer, for example https://youraccount.api-us1.com"),
        Field("api_key", "API key", secret=True, kind="password", help="Settings → Developer"),
    )

    def __init__(self, credentials: dict, settings: dict, base_url: str | None = None, timeout: float = 10):
        self._base_problem = None
        if base_url is None:
            try:
                base_url = account_url(settings.get("api_url") or "")
            except ProviderError as problem:  # said on the first call, not when the adapter is built
                self._base_problem, base_url = problem, "https://unset.invalid"
        super().__init__(credentials, settings, base_url, timeout)
        self._fields: dict[str, str] | None = None

    def request(self, method, path, **kwargs):
        if self._base_problem:
            raise self._base_problem
        return super().request(method, path, **kwargs)

    def auth_headers(self) -> dict:
        return {"Api-Token": self.credentials.get("api_key") or "", "Accept": "application/json"}

    def check(self) -> str:
        user = self.request("GET", "/api/3/users/me").json().get("user") or {}
        name = " ".join(part for part in (user.get("firstName"), user.get("lastName")) if part)
        who = name or user.get("username") or "?"
        return f"User: {who}" + (f" <{user['email']}>" if user.get("email") else "")

    def lists(self) -> list[ListInfo]:
        found, offset = [], 0
        for _ in range(MAX_PAGES):
            page = self.request("GET", "/api/3/lists", params={"limit": PAGE_SIZE, "offset": offset}).json()
            items = page.get("lists") or []
            found += [ListInfo(id=str(item["id"]), name=item.get("name") or str(item["id"])) for item in items]
            offset += len(items)
            if not items or offset >= int((page.get("meta") or {}).get("total") or 0):
                break
        return found

    def subscribe(self, list_id: str, subscriber: Subscriber) -> str | None:
        list_id = _id(list_id)
        contact = {"email": subscriber.email}
        if subscriber.first_name:
            contact["firstName"] = subscriber.first_name
        if subscriber.last_name:
            contact["lastName"] = subscriber.last_name
        if subscriber.phone:
            contact["phone"] = subscriber.phone
        if subscriber.fields:
            contact["fieldValues"] = [{"field": self._field_id(name), "value": "" if value is None else str(value)}
                                      for name, value in subscriber.fields.items()]
        synced = self.request("POST", "/api/3/contact/sync", json={"contact": contact}).json()
        contact_id = str((synced.get("contact") or {}).get("id") or "")
        if not contact_id:
            raise ProviderError("ActiveCampaign did not return the contact's id.", retryable=True)
        self.request("POST", "/api/3/contactLists",
                     json={"contactList": {"list": list_id, "contact": contact_id, "status": 1}})
        for tag in subscriber.tags:
            self.request("POST", "/api/3/contactTags",
                         json={"contactTag": {"contact": contact_id, "tag": self._tag_id(tag)}})
        return contact_id

    def _tag_id(self, name: str) -> str:
        found = self.request("GET", "/api/3/tags", params={"search": name, "limit": PAGE_SIZE}).json()
        for tag in found.get("tags") or []:
            if (tag.get("tag") or "").strip().lower() == name.strip().lower():
                return str(tag["id"])
        created = self.request("POST", "/api/3/tags", json={"tag": {"tag": name, "tagType": "contact",
                                                                      "description": "Added by Leadforge"}})
        return str(created.json()["tag"]["id"])

    def _field_id(self, name: str) -> str:
        name = str(name).strip()
        if name.isdigit():
            return name
        if self._fields is None:
            self._fields = {}
            body = self.request("GET", "/api/3/fields", params={"limit": PAGE_SIZE}).json()
            for item in body.get("fields") or []:
                for label in (item.get("title"), item.get("perstag")):
                    if label:
                        self._fields.setdefault(label.strip("%").strip().lower(), str(item["id"]))
        try:
            return self._fields[name.strip("%").lower()]
        except KeyError:
            raise ProviderError(f"ActiveCampaign has no custom field {name!r} (use its id, title or "
                                "personalization tag).") from None


def account_url(value: str) -> str:
    """The account's API base URL from what the marketer pasted (https, an ActiveCampaign host, no /api/3)."""
    value = value.strip().rstrip("/")
    if value.endswith("/api/3"):
        value = value[: -len("/api/3")]
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not _ACCOUNT_HOST.match(host) or parts.path not in ("", "/") or parts.port:
        raise ProviderError("Enter the ActiveCampaign API URL from Settings → Developer, for example "
                            "https://youraccount.api-us1.com.")
    return f"https://{host}"


def _id(value) -> str:
    value = str(value).strip()
    if not value.isdigit():
        raise ProviderError(f"{value!r} is not an ActiveCampaign list id.")
    return value
