"""AWeber API 1.0 with an OAuth 2.0 access token.

Auth: `Authorization: Bearer <access token>`. Base URL https://api.aweber.com; paths start with /1.0. AWeber's
access tokens last two hours: when the connection also holds the refresh token (and the app's client id, with
its secret for a confidential app), a refused token is refreshed once at https://auth.aweber.com/oauth2/token
(grant_type=refresh_token) and the call retried; the new tokens are left in `adapter.updated_credentials` for the
caller to store.
- check: GET /1.0/accounts.
- lists: GET /1.0/accounts/{account_id}/lists?ws.start=N&ws.size=100 (next_collection_link while there is more).
- subscribe: POST /1.0/accounts/{account_id}/lists/{list_id}/subscribers {email, name, custom_fields, tags,
  update_existing: "true"} — 201 with the new subscriber's URL in Location, or 209 with the updated subscriber.
The account id is the connection's setting, or else the first account the token can see.
"""
import httpx

from app.integrations.providers.base import Field, ListInfo, Provider, ProviderError, Subscriber, register

MAX_PAGES = 20
PAGE_SIZE = 100
TOKEN_URL = "https://auth.aweber.com/oauth2/token"


@register
class AWeberProvider(Provider):
    key = "aweber"
    name = "AWeber"
    kind = "email"
    docs_url = "https://api.aweber.com/"
    default_base_url = "https://api.aweber.com"
    token_url = TOKEN_URL
    has_lists = True
    fields = (
        Field("access_token", "OAuth access token", secret=True, kind="password"),
        Field("refresh_token", "OAuth refresh token", secret=True, kind="password", required=False,
              help="Lets Leadforge renew the access token, which AWeber expires after two hours"),
        Field("client_id", "OAuth client id", required=False, help="Of your AWeber app; needed to renew tokens"),
        Field("client_secret", "OAuth client secret", secret=True, kind="password", required=False,
              help="Only for a confidential AWeber app"),
        Field("account_id", "Account id", required=False, help="Found from the token when blank"),
    )

    def __init__(self, credentials: dict, settings: dict, base_url: str | None = None, timeout: float = 10):
        super().__init__(dict(credentials), settings, base_url, timeout)
        self.updated_credentials: dict | None = None
        self._refreshed = False

    def auth_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.credentials.get('access_token') or ''}", "Accept": "application/json"}

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return super().request(method, path, **kwargs)
        except ProviderError as error:
            if error.status_code != 401 or self._refreshed or not self._can_refresh():
                raise
        self._refresh()
        return super().request(method, path, **kwargs)

    def check(self) -> str:
        accounts = self._accounts()
        wanted = (self.settings.get("account_id") or "").strip()
        if wanted and wanted not in [str(account.get("id")) for account in accounts]:
            raise ProviderError(f"The AWeber token has no access to account {wanted}.")
        return f"Account: {wanted or accounts[0].get('id')}" + (
            f" (of {len(accounts)} accounts)" if len(accounts) > 1 else "")

    def lists(self) -> list[ListInfo]:
        account_id, found, start = self._account_id(), [], 0
        for _ in range(MAX_PAGES):
            page = self.request("GET", f"/1.0/accounts/{account_id}/lists",
                                params={"ws.start": start, "ws.size": PAGE_SIZE}).json()
            entries = page.get("entries") or []
            found += [ListInfo(id=str(item["id"]), name=item.get("name") or str(item["id"]),
                               members=item.get("total_subscribers")) for item in entries]
            start += len(entries)
            if not entries or not page.get("next_collection_link"):
                break
        return found

    def subscribe(self, list_id: str, subscriber: Subscriber) -> str | None:
        list_id = str(list_id).strip()
        if not list_id.isdigit():
            raise ProviderError(f"{list_id!r} is not an AWeber list id.")
        body = {"email": subscriber.email, "update_existing": "true"}
        name = " ".join(part for part in (subscriber.first_name, subscriber.last_name) if part).strip()
        if name:
            body["name"] = name
        if subscriber.fields:
            body["custom_fields"] = {key: "" if value is None else str(value)
                                     for key, value in subscriber.fields.items()}
        if subscriber.tags:
            body["tags"] = list(subscriber.tags)
        response = self.request("POST", f"/1.0/accounts/{self._account_id()}/lists/{list_id}/subscribers",
                                json=body, expected=(200, 201, 202, 209))
        location = response.headers.get("Location") or ""
        if location:
            return location.rstrip("/").rpartition("/")[2] or None
        try:
            subscriber_id = response.json().get("id")
        except ValueError:
            return None
        return str(subscriber_id) if subscriber_id is not None else None

    # -- account and token --
    def _accounts(self) -> list[dict]:
        accounts = self.request("GET", "/1.0/accounts").json().get("entries") or []
        if not accounts:
            raise ProviderError("The AWeber token gives access to no account.")
        return accounts

    def _account_id(self) -> str:
        account_id = (self.settings.get("account_id") or "").strip()
        if not account_id:
            account_id = str(self._accounts()[0]["id"])
            self.settings = {**self.settings, "account_id": account_id}
        if not account_id.isdigit():
            raise ProviderError(f"{account_id!r} is not an AWeber account id.")
        return account_id

    def _can_refresh(self) -> bool:
        return bool(self.credentials.get("refresh_token") and self.settings.get("client_id"))

    def _refresh(self) -> None:
        """Trade the refresh token for a new access token (RFC 6749 §6), once per adapter."""
        self._refreshed = True
        data = {"grant_type": "refresh_token", "refresh_token": self.credentials["refresh_token"]}
        client_id, secret = self.settings.get("client_id") or "", self.credentials.get("client_secret") or ""
        auth = httpx.BasicAuth(client_id, secret) if secret else None
        if not secret:
            data["client_id"] = client_id  # a public (PKCE) app names itself in the body
        try:
            with httpx.Client(timeout=self.timeout) as client:
                response = client.post(self.token_url, data=data, auth=auth,
                                       headers={"User-Agent": "Leadforge/1.0", "Accept": "application/json"})
        except httpx.TimeoutException as exc:
            raise ProviderError(f"{self.name} did not answer within {self.timeout:g} seconds.", retryable=True) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"Could not reach {self.name}: {exc}", retryable=True) from exc
        if response.status_code != 200:
            error = self.error_for(response)
            raise ProviderError(f"{self.name} refused to renew the access token ({response.status_code}): "
                                f"{self.error_detail(response) or 'no reason given'}"[:500],
                                status_code=response.status_code, retryable=error.retryable)
        token = response.json()
        self.credentials["access_token"] = token["access_token"]
        if token.get("refresh_token"):
            self.credentials["refresh_token"] = token["refresh_token"]
        self.updated_credentials = dict(self.credentials)

    def error_detail(self, response: httpx.Response) -> str:
        """AWeber answers {"error": {"status", "message", "type", "documentation_url"}}; OAuth errors
        {"error": "invalid_grant", "error_description": ...}."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200].strip()
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return ": ".join(p for p in (body["error"], body.get("error_description")) if p)
        return super().error_detail(response)
