"""Mailchimp Marketing API 3.0: audiences (lists), members, member tags.

Auth: HTTP Basic with any user name and the API key as password. Base URL https://<dc>.api.mailchimp.com, the
data center <dc> being the end of the key ("...-us6") unless the connection names it.
- check: GET /3.0/ (the API root: account name).
- lists: GET /3.0/lists?count=1000&offset=N (total_items tells when to stop).
- subscribe: PUT /3.0/lists/{list_id}/members/{md5 of the lower-cased e-mail} — an upsert, with status_if_new
  (subscribed, or pending when double opt-in is on) and merge_fields (FNAME, LNAME and the field map's merge tags);
  then POST /3.0/lists/{list_id}/members/{hash}/tags {"tags": [{"name", "status": "active"}]} (204).
"""
import hashlib
import re

import httpx

from app.integrations.providers.base import Field, ListInfo, Provider, ProviderError, Subscriber, register

MAX_PAGES = 20
PAGE_SIZE = 1000
_DATA_CENTER = re.compile(r"^[a-z]{2}\d{1,3}$")


@register
class MailchimpProvider(Provider):
    key = "mailchimp"
    name = "Mailchimp"
    kind = "email"
    docs_url = "https://mailchimp.com/developer/marketing/api/"
    default_base_url = "https://{dc}.api.mailchimp.com"
    has_lists = True
    fields = (
        Field("api_key", "API key", secret=True, kind="password", help="Account → Extras → API keys"),
        Field("data_center", "Data center", required=False,
              help="Found from the key when blank (the part after the dash, e.g. us6)"),
        Field("double_opt_in", "Double opt-in", kind="bool", required=False,
              help="New subscribers get Mailchimp's confirmation e-mail first (status pending)"),
    )

    def __init__(self, credentials: dict, settings: dict, base_url: str | None = None, timeout: float = 10):
        super().__init__(credentials, settings, base_url or "https://unset.invalid", timeout)
        self._base_problem = None
        if base_url is None:
            try:
                self.base_url = self.default_base_url.format(dc=self.data_center())
            except ProviderError as problem:  # said on the first call, not when the adapter is built
                self._base_problem = problem

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        if self._base_problem:
            raise self._base_problem
        return super().request(method, path, **kwargs)

    def data_center(self) -> str:
        dc = (self.settings.get("data_center") or "").strip().lower()
        if not dc:
            dc = (self.credentials.get("api_key") or "").rpartition("-")[2].strip().lower()
        if not _DATA_CENTER.match(dc):
            raise ProviderError("Mailchimp API keys end with their data center (for example …-us6); this key does "
                                "not, so enter the data center in the connection's settings.")
        return dc

    def auth(self):
        return httpx.BasicAuth("leadforge", self.credentials.get("api_key") or "")

    def error_detail(self, response: httpx.Response) -> str:
        """Mailchimp answers problem+json: {title, detail, errors: [{field, message}]}."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200].strip()
        if not isinstance(body, dict):
            return super().error_detail(response)
        parts = [body.get("title"), body.get("detail")]
        for error in body.get("errors") or []:
            if isinstance(error, dict) and error.get("message"):
                parts.append(f"{error.get('field') or 'field'}: {error['message']}")
        return " — ".join(p for p in parts if p) or super().error_detail(response)

    def check(self) -> str:
        account = self.request("GET", "/3.0/").json()
        name = account.get("account_name") or account.get("login_id") or "?"
        return f"Account: {name}"

    def lists(self) -> list[ListInfo]:
        found, offset = [], 0
        for _ in range(MAX_PAGES):
            page = self.request("GET", "/3.0/lists", params={
                "count": PAGE_SIZE, "offset": offset,
                "fields": "lists.id,lists.name,lists.stats.member_count,total_items"}).json()
            items = page.get("lists") or []
            found += [ListInfo(id=item["id"], name=item.get("name") or item["id"],
                               members=(item.get("stats") or {}).get("member_count")) for item in items]
            offset += len(items)
            if not items or offset >= int(page.get("total_items") or 0):
                break
        return found

    def subscribe(self, list_id: str, subscriber: Subscriber) -> str | None:
        email = subscriber.email.strip()
        member_hash = hashlib.md5(email.lower().encode()).hexdigest()
        merge_fields = {}
        if subscriber.first_name:
            merge_fields["FNAME"] = subscriber.first_name
        if subscriber.last_name:
            merge_fields["LNAME"] = subscriber.last_name
        merge_fields.update({key: value for key, value in (subscriber.fields or {}).items() if key})
        body = {"email_address": email, "status_if_new": "pending" if _on(self.settings.get("double_opt_in"))
                else "subscribed"}
        if merge_fields:
            body["merge_fields"] = merge_fields
        path = f"/3.0/lists/{_segment(list_id)}/members/{member_hash}"
        member = self.request("PUT", path, json=body).json()
        if subscriber.tags:
            self.request("POST", f"{path}/tags",
                         json={"tags": [{"name": tag, "status": "active"} for tag in subscriber.tags]})
        return member.get("id") or member_hash


def _on(value) -> bool:
    return str(value).strip().lower() in {"1", "true", "on", "yes", "y"}


def _segment(value: str) -> str:
    value = str(value).strip()
    if not value or "/" in value or value in {".", ".."}:
        raise ProviderError(f"{value!r} is not a Mailchimp audience id.")
    return value
