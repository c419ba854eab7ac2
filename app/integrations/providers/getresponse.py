"""GetResponse API v3: campaigns (GetResponse's name for lists), contacts, tags, custom fields.

Auth: `X-Auth-Token: api-key <key>` (GetResponse MAX accounts also send `X-Domain: <their domain>`). Base URL
https://api.getresponse.com (MAX: https://api3.getresponse360.com or .pl); paths start with /v3.
- check: GET /v3/accounts.
- lists: GET /v3/campaigns?page=N&perPage=1000 (the TotalPages header tells when to stop).
- subscribe: POST /v3/contacts {email, name, campaign: {campaignId}, customFieldValues: [{customFieldId, value:
  [..]}], tags: [{tagId}]} — answered 202 (added later, no id yet). When the contact is already on the campaign
  (409), it is updated instead: GET /v3/contacts?query[email]=..&query[campaignId]=.. finds it, then
  POST /v3/contacts/{id} {name}, POST /v3/contacts/{id}/custom-fields {customFieldValues} and
  POST /v3/contacts/{id}/tags {tags} (both upserts, nothing removed).
Tags are found by name with GET /v3/tags?query[name]=.. and created with POST /v3/tags {name}; GetResponse tag
names hold letters, digits and underscores, so other characters become "_". Custom fields are given by name or id
(GET /v3/custom-fields resolves names).
"""
import re

from app.integrations.providers.base import Field, ListInfo, Provider, ProviderError, Subscriber, register

PLATFORMS = (
    ("standard", "GetResponse (api.getresponse.com)"),
    ("max_com", "GetResponse MAX (api3.getresponse360.com)"),
    ("max_pl", "GetResponse MAX Poland (api3.getresponse360.pl)"),
)
BASE_URLS = {"standard": "https://api.getresponse.com", "max_com": "https://api3.getresponse360.com",
             "max_pl": "https://api3.getresponse360.pl"}
MAX_PAGES = 20
PAGE_SIZE = 1000


@register
class GetResponseProvider(Provider):
    key = "getresponse"
    name = "GetResponse"
    kind = "email"
    docs_url = "https://apidocs.getresponse.com/v3"
    default_base_url = BASE_URLS["standard"]
    has_lists = True
    fields = (
        Field("api_key", "API key", secret=True, kind="password", help="Tools → Integrations and API → API"),
        Field("platform", "Platform", kind="select", choices=PLATFORMS, default="standard", required=False),
        Field("max_domain", "MAX domain", required=False,
              help="GetResponse MAX only: the domain the account is registered with (example.com)"),
    )

    def __init__(self, credentials: dict, settings: dict, base_url: str | None = None, timeout: float = 10):
        platform = settings.get("platform") or "standard"
        super().__init__(credentials, settings, base_url or BASE_URLS.get(platform, BASE_URLS["standard"]), timeout)
        self._custom_fields: dict[str, str] | None = None

    def auth_headers(self) -> dict:
        headers = {"X-Auth-Token": f"api-key {self.credentials.get('api_key') or ''}"}
        domain = (self.settings.get("max_domain") or "").strip()
        if domain:
            headers["X-Domain"] = domain
        return headers

    def check(self) -> str:
        account = self.request("GET", "/v3/accounts").json()
        name = account.get("companyName") or " ".join(
            part for part in (account.get("firstName"), account.get("lastName")) if part) or "?"
        return f"Account: {name}" + (f" <{account['email']}>" if account.get("email") else "")

    def lists(self) -> list[ListInfo]:
        found = []
        for page in range(1, MAX_PAGES + 1):
            response = self.request("GET", "/v3/campaigns", params={"page": page, "perPage": PAGE_SIZE})
            items = response.json() or []
            found += [ListInfo(id=item["campaignId"], name=item.get("name") or item["campaignId"]) for item in items]
            total_pages = int(response.headers.get("TotalPages") or 1)
            if not items or page >= total_pages:
                break
        return found

    def subscribe(self, list_id: str, subscriber: Subscriber) -> str | None:
        name = " ".join(part for part in (subscriber.first_name, subscriber.last_name) if part).strip()
        values = [{"customFieldId": self._custom_field_id(key), "value": _values(value)}
                  for key, value in (subscriber.fields or {}).items()]
        tags = [{"tagId": self._tag_id(tag)} for tag in subscriber.tags]
        body = {"email": subscriber.email, "campaign": {"campaignId": list_id}}
        if name:
            body["name"] = name
        if values:
            body["customFieldValues"] = values
        if tags:
            body["tags"] = tags
        response = self.request("POST", "/v3/contacts", json=body, expected=(200, 201, 202, 409))
        if response.status_code != 409:
            return None  # GetResponse adds the contact a moment later; its id is not known yet
        contact_id = self._contact_id(subscriber.email, list_id)
        if name:
            self.request("POST", f"/v3/contacts/{contact_id}", json={"name": name})
        if values:
            self.request("POST", f"/v3/contacts/{contact_id}/custom-fields", json={"customFieldValues": values})
        if tags:
            self.request("POST", f"/v3/contacts/{contact_id}/tags", json={"tags": tags})
        return contact_id

    def _contact_id(self, email: str, campaign_id: str) -> str:
        found = self.request("GET", "/v3/contacts", params={
            "query[email]": email, "query[campaignId]": campaign_id, "fields": "contactId,email"}).json() or []
        for contact in found:
            if (contact.get("email") or "").lower() == email.lower():
                return contact["contactId"]
        raise ProviderError(f"GetResponse says {email} is already on the list but did not find the contact yet "
                            "(it may still be waiting for confirmation).", status_code=409, retryable=True)

    def _tag_id(self, name: str) -> str:
        name = tag_name(name)
        found = self.request("GET", "/v3/tags", params={"query[name]": name}).json() or []
        for tag in found:
            if (tag.get("name") or "").lower() == name.lower():
                return tag["tagId"]
        return self.request("POST", "/v3/tags", json={"name": name}).json()["tagId"]

    def _custom_field_id(self, key: str) -> str:
        if self._custom_fields is None:
            fields = self.request("GET", "/v3/custom-fields", params={
                "perPage": PAGE_SIZE, "fields": "customFieldId,name"}).json() or []
            self._custom_fields = {}
            for item in fields:
                self._custom_fields[item["customFieldId"]] = item["customFieldId"]
                self._custom_fields.setdefault((item.get("name") or "").lower(), item["customFieldId"])
        for candidate in (str(key), str(key).lower()):
            if candidate in self._custom_fields:
                return self._custom_fields[candidate]
        raise ProviderError(f"GetResponse has no custom field {key!r} (use its name or id).")


def tag_name(name: str) -> str:
    """GetResponse tag names hold letters, digits and underscores only."""
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name.strip()).strip("_")
    if not cleaned:
        raise ProviderError(f"The tag {name!r} has no letter or digit GetResponse can use.")
    return cleaned[:255]


def _values(value) -> list[str]:
    if isinstance(value, list | tuple | set):
        return [str(item) for item in value]
    return ["" if value is None else str(value)]
