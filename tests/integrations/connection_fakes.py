"""Adapters made for the connection and sync tests, so they depend on the adapter interface only (not on the
real providers' modules): a mail tool with lists that can send, an SMS provider, a tool with lists only. They talk
HTTP to a `StandIn` that `serving_fakes` points them at (PROVIDER_BASE_URLS)."""
from contextlib import contextmanager

from app.integrations.providers import base
from app.integrations.providers.base import Field, ListInfo, Provider, Sent
from tests.integrations.standin import StandIn

SECRET = "fk-live-9f8e7d6c5b4a-SECRETKEY-4321"
OTHER_SECRET = "fk-live-0000111122223333-NEWKEY-8765"


class FakeMail(Provider):
    """An e-mail marketing tool with a bearer API key: GET /v1/account, GET /v1/lists,
    PUT /v1/lists/<id>/members (JSON), POST /v1/mail/send."""

    key = "fakemail"
    name = "FakeMail"
    kind = "email"
    docs_url = "https://fakemail.example.com/docs"
    default_base_url = "http://127.0.0.1:9"  # never used: the tests point it at a stand-in
    fields = (
        Field("api_key", "API key", secret=True, help="Settings → API keys."),
        Field("region", "Data center", kind="select", choices=(("us", "United States"), ("eu", "Europe"))),
        Field("port", "Port", kind="number", default="587"),
        Field("sender", "Sender address", kind="email"),
        Field("use_tls", "Use TLS", kind="bool", required=False),
        Field("account_label", "Account label", required=False),
    )
    can_send_email = True
    has_lists = True

    def auth_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.credentials.get('api_key', '')}"}

    def check(self) -> str:
        return f"Account: {self.request('GET', '/v1/account').json()['name']}"

    def lists(self) -> list[ListInfo]:
        return [ListInfo(str(item["id"]), item["name"], item.get("members"))
                for item in self.request("GET", "/v1/lists").json()["lists"]]

    def subscribe(self, list_id, subscriber) -> str | None:
        body = {"email": subscriber.email, "first_name": subscriber.first_name, "last_name": subscriber.last_name,
                "phone": subscriber.phone, "fields": subscriber.fields, "tags": subscriber.tags}
        return self.request("PUT", f"/v1/lists/{list_id}/members", json=body).json().get("id")


class FakeText(Provider):
    """An SMS provider with an account id and a token: GET /v1/me, POST /v1/messages."""

    key = "faketext"
    name = "FakeText"
    kind = "sms"
    default_base_url = "http://127.0.0.1:9"
    fields = (Field("account_id", "Account id"), Field("token", "Auth token", secret=True),
              Field("sender", "From number"))

    def auth_headers(self) -> dict:
        return {"Authorization": f"Token {self.credentials.get('token', '')}"}

    def check(self) -> str:
        return f"Account {self.request('GET', '/v1/me').json()['id']}"

    def send_sms(self, to, body, status_callback_url=None) -> Sent:
        answer = self.request("POST", "/v1/messages", json={"from": self.settings.get("sender"), "to": to,
                                                            "text": body}).json()
        return Sent(answer["id"], answer.get("status", "queued"))


class FakeLists(Provider):
    """A tool with lists that cannot send e-mail (for the sending channel's refusal)."""

    key = "fakelists"
    name = "FakeLists"
    kind = "email"
    default_base_url = "http://127.0.0.1:9"
    fields = (Field("api_key", "API key", secret=True),)
    has_lists = True

    def check(self) -> str:
        return "OK"


FAKES = (FakeMail, FakeText, FakeLists)
VALUES = {"api_key": SECRET, "region": "eu", "port": "2525", "sender": "news@example.com", "use_tls": "y",
          "account_label": "Main"}


@contextmanager
def serving_fakes(app):
    """The fakes registered and pointed at one stand-in while the block runs; gives the stand-in. Each test module
    makes it its `fake_providers` fixture:

        @pytest.fixture
        def fake_providers(app):
            with serving_fakes(app) as server:
                yield server
    """
    saved = {cls.key: base.REGISTRY.get(cls.key) for cls in FAKES}
    for cls in FAKES:
        base.register(cls)
    previous_urls, previous_timeout = app.config.get("PROVIDER_BASE_URLS"), app.config.get("PROVIDER_TIMEOUT")
    with StandIn() as server:
        app.config["PROVIDER_BASE_URLS"] = {**(previous_urls or {}), **{cls.key: server.url for cls in FAKES}}
        app.config["PROVIDER_TIMEOUT"] = 2
        try:
            yield server
        finally:
            app.config["PROVIDER_BASE_URLS"], app.config["PROVIDER_TIMEOUT"] = previous_urls, previous_timeout
            for key, cls in saved.items():
                if cls is None:
                    base.REGISTRY.pop(key, None)
                else:
                    base.REGISTRY[key] = cls


def expect_account(server, name="Acme Newsletters", status=200, json=None):
    server.expect("GET", "/v1/account", status, json=json if json is not None else {"name": name})


def make_connection(account, user, server, *, connected=True, values=None, provider="fakemail", name=None):
    """A connection made through the service; tested against the stand-in when `connected`."""
    from app.integrations import connections

    if provider == "faketext":
        values = values or {"account_id": "AC123", "token": SECRET, "sender": "+15555550100"}
    connection = connections.create(account, user, provider, dict(values or VALUES), name=name)
    if connected:
        path = "/v1/me" if provider == "faketext" else "/v1/account"
        server.expect("GET", path, json={"name": "Acme Newsletters", "id": "AC123"}, times=1)
        assert connections.test(connection), connection.status_message
    return connection
