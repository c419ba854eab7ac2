"""Kit (formerly ConvertKit), API v4 with an API key.

Auth: an `X-Kit-Api-Key` header (v4 API keys; the v3 api_key/api_secret query parameters are not used).
Base URL https://api.kit.com; paths start with /v4. Kit has no lists as such: subscribers join forms and carry
tags, so both are offered as lists, with ids "form:<id>" and "tag:<id>".
- check: GET /v4/account.
- lists: GET /v4/forms and GET /v4/tags (cursor pages: ?after=<pagination.end_cursor> while has_next_page).
- subscribe: POST /v4/subscribers {email_address, first_name, fields} (an upsert by e-mail; the subscriber id comes
  back), then POST /v4/forms/{id}/subscribers or POST /v4/tags/{id}/subscribers {email_address}, and the same for
  each tag (found by name in GET /v4/tags, created by POST /v4/tags {name} when missing).
Kit has no last-name property: a last name goes to the custom field the connection names (last_name_field).
"""
from app.integrations.providers.base import Field, ListInfo, Provider, ProviderError, Subscriber, register

MAX_PAGES = 20
PAGE_SIZE = 1000


@register
class KitProvider(Provider):
    key = "convertkit"
    name = "Kit (ConvertKit)"
    kind = "email"
    docs_url = "https://developers.kit.com/api-reference/overview"
    default_base_url = "https://api.kit.com"
    has_lists = True
    fields = (
        Field("api_key", "API key (v4)", secret=True, kind="password", help="Settings → Developer → API keys"),
        Field("last_name_field", "Custom field for the last name", required=False,
              help="The key of a Kit custom field (e.g. last_name); leave blank to send no last name"),
    )

    def __init__(self, credentials: dict, settings: dict, base_url: str | None = None, timeout: float = 10):
        super().__init__(credentials, settings, base_url, timeout)
        self._tags: dict[str, str] | None = None

    def auth_headers(self) -> dict:
        return {"X-Kit-Api-Key": self.credentials.get("api_key") or "", "Accept": "application/json"}

    def check(self) -> str:
        body = self.request("GET", "/v4/account").json()
        account, user = body.get("account") or {}, body.get("user") or {}
        name = account.get("name") or "?"
        email = user.get("email") or account.get("primary_email_address")
        return f"Account: {name}" + (f" <{email}>" if email else "")

    def lists(self) -> list[ListInfo]:
        forms = [ListInfo(id=f"form:{item['id']}", name=f"Form: {item.get('name') or item['id']}")
                 for item in self._all("/v4/forms", "forms")]
        tags = [ListInfo(id=f"tag:{item['id']}", name=f"Tag: {item.get('name') or item['id']}")
                for item in self._all("/v4/tags", "tags")]
        return forms + tags

    def subscribe(self, list_id: str, subscriber: Subscriber) -> str | None:
        kind, target = _target(list_id)
        body = {"email_address": subscriber.email}
        if subscriber.first_name:
            body["first_name"] = subscriber.first_name
        fields = {key: value for key, value in (subscriber.fields or {}).items() if key}
        last_name_field = (self.settings.get("last_name_field") or "").strip()
        if subscriber.last_name and last_name_field:
            fields.setdefault(last_name_field, subscriber.last_name)
        if fields:
            body["fields"] = fields
        created = self.request("POST", "/v4/subscribers", json=body).json()
        subscriber_id = (created.get("subscriber") or {}).get("id")
        self.request("POST", f"/v4/{kind}s/{target}/subscribers", json={"email_address": subscriber.email})
        for tag in subscriber.tags:
            tag_id = self._tag_id(tag)
            if kind == "tag" and tag_id == target:
                continue
            self.request("POST", f"/v4/tags/{tag_id}/subscribers", json={"email_address": subscriber.email})
        return str(subscriber_id) if subscriber_id is not None else None

    def _all(self, path: str, key: str) -> list[dict]:
        found, params = [], {"per_page": PAGE_SIZE}
        for _ in range(MAX_PAGES):
            page = self.request("GET", path, params=params).json()
            found += page.get(key) or []
            pagination = page.get("pagination") or {}
            if not pagination.get("has_next_page") or not pagination.get("end_cursor"):
                break
            params = {"per_page": PAGE_SIZE, "after": pagination["end_cursor"]}
        return found

    def _tag_id(self, name: str) -> str:
        if self._tags is None:
            self._tags = {(item.get("name") or "").strip().lower(): str(item["id"])
                          for item in self._all("/v4/tags", "tags")}
        key = name.strip().lower()
        if key not in self._tags:
            created = self.request("POST", "/v4/tags", json={"name": name.strip()}).json()
            self._tags[key] = str((created.get("tag") or {})["id"])
        return self._tags[key]


def _target(list_id: str) -> tuple[str, str]:
    """("form", "12") from "form:12", ("tag", "34") from "tag:34" or "34"."""
    kind, _, target = str(list_id).strip().rpartition(":")
    kind = kind or "tag"
    if kind not in ("form", "tag") or not target.isdigit():
        raise ProviderError(f"{list_id!r} is not a Kit form or tag (expected form:<id> or tag:<id>).")
    return kind, target
