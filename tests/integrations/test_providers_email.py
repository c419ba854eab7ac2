"""The e-mail provider adapters against local stand-ins: the exact request each operation sends (method, path,
auth header, body), what the adapter makes of the answer, and the failures a marketer meets (refused credentials,
provider errors, rate limits, timeouts). SMTP runs against local aiosmtpd servers (plain, STARTTLS, SSL)."""
import base64
import datetime
import hashlib
import ipaddress
import socket
import ssl
import time
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from app.integrations.providers import REGISTRY, ProviderError
from app.integrations.providers.activecampaign import account_url
from app.integrations.providers.base import Email, ListInfo, Subscriber
from app.integrations.providers.getresponse import tag_name
from tests.integrations.standin import StandIn
from tests.support import free_port


@pytest.fixture(scope="module")
def standin():
    with StandIn() as running:  # one for the module: stopping a stand-in takes half a second
        yield running


@pytest.fixture
def server(standin):
    standin.reset()
    yield standin
    standin.reset()


def make(key: str, server: StandIn, credentials: dict, settings: dict | None = None, timeout: float = 5):
    return REGISTRY[key](credentials, settings or {}, base_url=server.url, timeout=timeout)


def header(request, name: str) -> str | None:
    return next((value for key, value in request.headers.items() if key.lower() == name.lower()), None)


def basic_auth(request) -> tuple[str, str]:
    scheme, _, encoded = header(request, "Authorization").partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    return user, password


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Every HTTP adapter: wrong credentials, provider errors, rate limits, timeouts, an unreachable host
# ---------------------------------------------------------------------------------------------------------------

# key, credentials, settings, the path check() calls first, the refusal the provider documents, what it says
REFUSALS = [
    ("sendgrid", {"api_key": "SG.bad"}, {}, "/v3/scopes", 401,
     {"errors": [{"field": None, "message": "The provided authorization grant is invalid, expired, or revoked"}]},
     "The provided authorization grant is invalid, expired, or revoked"),
    ("mailchimp", {"api_key": "bad-us6"}, {}, "/3.0/", 401,
     {"type": "https://mailchimp.com/developer/marketing/docs/errors/", "title": "API Key Invalid", "status": 401,
      "detail": "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
      "instance": "2b4d3d3c-54b1-4d1c-9f5e-3b3f8d2a1e0c"},
     "API Key Invalid — Your API key may be invalid, or you've attempted to access the wrong datacenter."),
    ("activecampaign", {"api_key": "bad"}, {}, "/api/3/users/me", 403,
     {"message": "The request could not be authenticated or the authenticated user is not authorized to access "
                 "the requested resource."},
     "The request could not be authenticated"),
    ("convertkit", {"api_key": "kit_bad"}, {}, "/v4/account", 401,
     {"errors": ["The API key is invalid"]}, "The API key is invalid"),
    ("getresponse", {"api_key": "bad"}, {}, "/v3/accounts", 401,
     {"httpStatus": 401, "code": 1014, "codeDescription": "Problem during authentication process, check headers!",
      "message": "Unable to authenticate request. Check credentials or authentication method details",
      "moreInfo": "https://apidocs.getresponse.com/v3/errors/1014", "context": {"sentToken": "bad"},
      "uuid": "c4f1b0a2-2d0e-4a5e-8d3a-0b7f1b9c1d22"},
     "Unable to authenticate request. Check credentials or authentication method details"),
    ("aweber", {"access_token": "bad"}, {}, "/1.0/accounts", 401,
     {"error": {"status": 401, "message": "Invalid access token", "type": "UnauthorizedError",
                "documentation_url": "https://api.aweber.com/#tag/Troubleshooting"}},
     "Invalid access token"),
]
IDS = [case[0] for case in REFUSALS]


@pytest.mark.parametrize("key,credentials,settings,path,status,body,said", REFUSALS, ids=IDS)
def test_wrong_credentials_say_what_the_provider_answered(server, key, credentials, settings, path, status, body,
                                                          said):
    server.expect("GET", path, status, json=body)
    with pytest.raises(ProviderError) as caught:
        make(key, server, credentials, settings).check()
    error = caught.value
    assert error.message.startswith(f"{REGISTRY[key].name} refused the credentials ({status}): ")
    assert said in error.message
    assert error.status_code == status
    assert error.retryable is False
    assert [r.path for r in server.requests] == [path]  # one call: nothing retried, nothing else tried


@pytest.mark.parametrize("status", [500, 502, 503, 429])
@pytest.mark.parametrize("key,credentials,settings,path", [case[:4] for case in REFUSALS], ids=IDS)
def test_provider_failures_and_rate_limits_are_retryable(server, key, credentials, settings, path, status):
    server.expect("GET", path, status, json={"message": "Service is busy, try later"})
    with pytest.raises(ProviderError) as caught:
        make(key, server, credentials, settings).check()
    assert caught.value.retryable is True
    assert caught.value.status_code == status
    assert caught.value.message == f"{REGISTRY[key].name} answered {status}: Service is busy, try later"


@pytest.mark.parametrize("key,credentials,settings,path", [case[:4] for case in REFUSALS], ids=IDS)
def test_a_provider_that_does_not_answer_in_time_is_a_retryable_timeout(server, key, credentials, settings, path):
    server.expect("GET", path, json={}, delay=1.0)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        make(key, server, credentials, settings, timeout=0.3).check()
    assert time.monotonic() - started < 0.9
    assert caught.value.retryable is True
    assert caught.value.message == f"{REGISTRY[key].name} did not answer within 0.3 seconds."


@pytest.mark.parametrize("key,credentials,settings,path", [case[:4] for case in REFUSALS], ids=IDS)
def test_an_unreachable_provider_is_retryable(key, credentials, settings, path):
    adapter = REGISTRY[key](credentials, settings, base_url=f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(ProviderError) as caught:
        adapter.check()
    assert caught.value.retryable is True
    assert caught.value.message.startswith(f"Could not reach {REGISTRY[key].name}")


def test_every_email_provider_is_registered_with_its_form_fields():
    email = {key: cls for key, cls in REGISTRY.items() if cls.kind == "email"}
    assert set(email) >= {"smtp", "sendgrid", "mailchimp", "activecampaign", "convertkit", "getresponse", "aweber"}
    assert {key for key, cls in email.items() if cls.can_send_email} == {"smtp", "sendgrid"}
    assert all(cls.has_lists for key, cls in email.items() if key != "smtp")
    for cls in email.values():
        assert cls.docs_url.startswith("https://")
        secrets = {f.key for f in cls.fields if f.secret}
        assert secrets, cls.key
        assert all(f.kind == "password" for f in cls.fields if f.secret)
    assert {f.key for f in REGISTRY["smtp"].fields if f.secret} == {"password"}


# ---------------------------------------------------------------------------------------------------------------
# SendGrid (v3 Web API)
# ---------------------------------------------------------------------------------------------------------------

def test_sendgrid_check_reads_the_keys_scopes_and_the_account_name(server):
    server.expect("GET", "/v3/scopes", json={"scopes": ["mail.send", "marketing.read", "user.username.read"]})
    server.expect("GET", "/v3/user/username", json={"username": "acme-shop", "user_id": 42})
    assert make("sendgrid", server, {"api_key": "SG.key"}).check() == "Account: acme-shop; it may send e-mail."
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/v3/scopes"), ("GET", "/v3/user/username")]
    assert all(header(r, "Authorization") == "Bearer SG.key" for r in server.requests)


def test_sendgrid_check_of_a_key_that_cannot_send_says_so(server):
    server.expect("GET", "/v3/scopes", json={"scopes": ["marketing.read"]})
    assert make("sendgrid", server, {"api_key": "SG.key"}).check() == \
        "API key accepted; it may not send e-mail (the key lacks the Mail Send permission)."
    assert len(server.requests) == 1


def test_sendgrid_sends_mail_and_returns_the_message_id(server):
    server.expect("POST", "/v3/mail/send", 202, headers={"X-Message-Id": "Zx8kq2TnQ1ygWb1YlW5vEw"})
    adapter = make("sendgrid", server, {"api_key": "SG.key"})
    sent = adapter.send_email(Email(to="Ann Lee <ann@example.com>", subject="Your receipt", text="Thanks!",
                                    html="<p>Thanks!</p>", sender="Acme Shop <shop@acme.test>",
                                    reply_to="help@acme.test"))
    assert sent.provider_message_id == "Zx8kq2TnQ1ygWb1YlW5vEw"
    assert sent.status == "sent"
    request = server.requests[0]
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert header(request, "Authorization") == "Bearer SG.key"
    assert header(request, "Content-Type") == "application/json"
    assert request.json == {
        "personalizations": [{"to": [{"email": "ann@example.com", "name": "Ann Lee"}]}],
        "from": {"email": "shop@acme.test", "name": "Acme Shop"},
        "reply_to": {"email": "help@acme.test"},
        "subject": "Your receipt",
        "content": [{"type": "text/plain", "value": "Thanks!"}, {"type": "text/html", "value": "<p>Thanks!</p>"}],
    }


def test_sendgrid_sends_from_the_connections_address_when_the_email_names_none(server):
    server.expect("POST", "/v3/mail/send", 202, headers={"X-Message-Id": "abc"})
    adapter = make("sendgrid", server, {"api_key": "SG.key"}, {"from_email": "news@acme.test", "from_name": "Acme"})
    adapter.send_email(Email(to="bob@example.com", subject="Hi", text="Hello"))
    body = server.requests[0].json
    assert body["from"] == {"email": "news@acme.test", "name": "Acme"}
    assert body["personalizations"] == [{"to": [{"email": "bob@example.com"}]}]
    assert body["content"] == [{"type": "text/plain", "value": "Hello"}]
    assert "reply_to" not in body


def test_sendgrid_refuses_to_send_without_a_from_address_or_to_a_non_address(server):
    adapter = make("sendgrid", server, {"api_key": "SG.key"})
    with pytest.raises(ProviderError, match="From address"):
        adapter.send_email(Email(to="bob@example.com", subject="Hi", text="Hello"))
    with pytest.raises(ProviderError, match="not an e-mail address"):
        adapter.send_email(Email(to="bob", subject="Hi", text="Hello", sender="a@acme.test"))
    assert server.requests == []


def test_sendgrid_send_refused_for_an_unverified_sender_is_not_retried(server):
    server.expect("POST", "/v3/mail/send", 403, json={"errors": [{
        "message": "The from address does not match a verified Sender Identity.", "field": "from", "help": None}]})
    with pytest.raises(ProviderError) as caught:
        make("sendgrid", server, {"api_key": "SG.key"}).send_email(
            Email(to="bob@example.com", subject="Hi", text="Hello", sender="x@unverified.test"))
    assert "does not match a verified Sender Identity" in caught.value.message
    assert caught.value.retryable is False


def test_sendgrid_lists_follow_the_page_token(server):
    server.expect("GET", "/v3/marketing/lists", times=1, json={
        "result": [{"id": "ca7a3796-e8a8-4029-9ccb-df8937940562", "name": "Customers", "contact_count": 1203}],
        "_metadata": {"self": "https://api.sendgrid.com/v3/marketing/lists?page_size=1000",
                      "next": "https://api.sendgrid.com/v3/marketing/lists?page_size=1000&page_token=tok2",
                      "count": 2}})
    server.expect("GET", "/v3/marketing/lists", times=1, json={
        "result": [{"id": "0e2ad6c8-e7b3-4c3a-9f0b-0c38d7d0b0f1", "name": "Leads", "contact_count": 0}],
        "_metadata": {"self": "https://api.sendgrid.com/v3/marketing/lists?page_token=tok2", "count": 2}})
    lists = make("sendgrid", server, {"api_key": "SG.key"}).lists()
    assert lists == [ListInfo("ca7a3796-e8a8-4029-9ccb-df8937940562", "Customers", 1203),
                     ListInfo("0e2ad6c8-e7b3-4c3a-9f0b-0c38d7d0b0f1", "Leads", 0)]
    assert [r.query for r in server.requests] == [{"page_size": ["1000"]},
                                                  {"page_size": ["1000"], "page_token": ["tok2"]}]


def test_sendgrid_subscribe_upserts_the_contact_on_the_list(server):
    server.expect("PUT", "/v3/marketing/contacts", 202, json={"job_id": "2387e363-4104-4225-8960-4a5758492351"})
    result = make("sendgrid", server, {"api_key": "SG.key"}).subscribe("ca7a3796", Subscriber(
        email="ann@example.com", first_name="Ann", last_name="Lee", phone="+15551234567",
        fields={"city": "Lisbon", "e1_T": "gold"}, tags=["vip"]))
    assert result is None  # SendGrid gives a job id, not the contact's id
    request = server.requests[0]
    assert (request.method, request.path, header(request, "Authorization")) == \
        ("PUT", "/v3/marketing/contacts", "Bearer SG.key")
    assert request.json == {"list_ids": ["ca7a3796"], "contacts": [{
        "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "phone_number": "+15551234567",
        "city": "Lisbon", "custom_fields": {"e1_T": "gold"}}]}


def test_sendgrid_eu_region_uses_the_eu_host():
    assert REGISTRY["sendgrid"]({"api_key": "k"}, {"region": "eu"}).base_url == "https://api.eu.sendgrid.com"
    assert REGISTRY["sendgrid"]({"api_key": "k"}, {}).base_url == "https://api.sendgrid.com"


# ---------------------------------------------------------------------------------------------------------------
# Mailchimp (Marketing API 3.0)
# ---------------------------------------------------------------------------------------------------------------

def test_mailchimp_check_uses_basic_auth_with_the_key_and_names_the_account(server):
    server.expect("GET", "/3.0/", json={"account_id": "8d3a3db4d97663a9074efcc16", "account_name": "Acme Shop",
                                        "email": "owner@acme.test"})
    assert make("mailchimp", server, {"api_key": "0123456789abcdef-us6"}).check() == "Account: Acme Shop"
    request = server.requests[0]
    assert (request.method, request.path) == ("GET", "/3.0/")
    assert basic_auth(request)[1] == "0123456789abcdef-us6"


def test_mailchimp_data_center_comes_from_the_key_or_the_setting():
    cls = REGISTRY["mailchimp"]
    assert cls({"api_key": "abc-us6"}, {}).base_url == "https://us6.api.mailchimp.com"
    assert cls({"api_key": "abc-us6"}, {"data_center": "US19"}).base_url == "https://us19.api.mailchimp.com"
    adapter = cls({"api_key": "no-data-center-here"}, {})
    with pytest.raises(ProviderError, match="data center"):
        adapter.check()
    with pytest.raises(ProviderError, match="data center"):  # nothing odd can become the host name
        cls({"api_key": "abc-evil.com/x"}, {}).lists()


def test_mailchimp_lists_page_by_offset_until_total_items(server):
    server.expect("GET", "/3.0/lists", times=1, json={"lists": [
        {"id": "a1b2c3d4e5", "name": "Newsletter", "stats": {"member_count": 320}},
        {"id": "f6g7h8i9j0", "name": "Customers", "stats": {"member_count": 41}}], "total_items": 3})
    server.expect("GET", "/3.0/lists", times=1, json={"lists": [
        {"id": "k1l2m3n4o5", "name": "Webinar", "stats": {"member_count": 0}}], "total_items": 3})
    lists = make("mailchimp", server, {"api_key": "k-us6"}).lists()
    assert lists == [ListInfo("a1b2c3d4e5", "Newsletter", 320), ListInfo("f6g7h8i9j0", "Customers", 41),
                     ListInfo("k1l2m3n4o5", "Webinar", 0)]
    assert [r.query["offset"] for r in server.requests] == [["0"], ["2"]]
    assert server.requests[0].query["count"] == ["1000"]
    assert server.requests[0].query["fields"] == ["lists.id,lists.name,lists.stats.member_count,total_items"]


def test_mailchimp_subscribe_puts_the_member_by_hash_then_adds_the_tags(server):
    member_hash = md5("ann.lee@example.com")
    path = f"/3.0/lists/a1b2c3d4e5/members/{member_hash}"
    server.expect("PUT", path, json={"id": member_hash, "email_address": "Ann.Lee@Example.com",
                                     "status": "subscribed"})
    server.expect("POST", f"{path}/tags", 204)
    member_id = make("mailchimp", server, {"api_key": "k-us6"}).subscribe("a1b2c3d4e5", Subscriber(
        email="Ann.Lee@Example.com", first_name="Ann", last_name="Lee", fields={"COMPANY": "Acme"},
        tags=["customer", "vip"]))
    assert member_id == member_hash
    put, tags = server.requests
    assert (put.method, put.path) == ("PUT", path)
    assert put.json == {"email_address": "Ann.Lee@Example.com", "status_if_new": "subscribed",
                        "merge_fields": {"FNAME": "Ann", "LNAME": "Lee", "COMPANY": "Acme"}}
    assert (tags.method, tags.path) == ("POST", f"{path}/tags")
    assert tags.json == {"tags": [{"name": "customer", "status": "active"}, {"name": "vip", "status": "active"}]}
    assert basic_auth(tags)[1] == "k-us6"


def test_mailchimp_double_opt_in_makes_new_members_pending_and_no_tags_means_one_call(server):
    member_hash = md5("bob@example.com")
    server.expect("PUT", f"/3.0/lists/L1/members/{member_hash}", json={"id": member_hash, "status": "pending"})
    make("mailchimp", server, {"api_key": "k-us6"}, {"double_opt_in": "true"}).subscribe(
        "L1", Subscriber(email="bob@example.com"))
    assert len(server.requests) == 1
    assert server.requests[0].json == {"email_address": "bob@example.com", "status_if_new": "pending"}


def test_mailchimp_invalid_merge_fields_are_reported_field_by_field(server):
    server.expect("PUT", f"/3.0/lists/L1/members/{md5('bob@example.com')}", 400, json={
        "type": "https://mailchimp.com/developer/marketing/docs/errors/", "title": "Invalid Resource", "status": 400,
        "detail": "Your merge fields were invalid.", "instance": "",
        "errors": [{"field": "BIRTHDAY", "message": "Please enter a complete date"}]})
    with pytest.raises(ProviderError) as caught:
        make("mailchimp", server, {"api_key": "k-us6"}).subscribe(
            "L1", Subscriber(email="bob@example.com", fields={"BIRTHDAY": "13"}))
    assert caught.value.message == ("Mailchimp answered 400: Invalid Resource — Your merge fields were invalid. — "
                                    "BIRTHDAY: Please enter a complete date")
    assert caught.value.retryable is False


# ---------------------------------------------------------------------------------------------------------------
# ActiveCampaign (API v3)
# ---------------------------------------------------------------------------------------------------------------

def test_activecampaign_check_sends_the_api_token_header(server):
    server.expect("GET", "/api/3/users/me", json={"user": {
        "username": "jdoe", "firstName": "John", "lastName": "Doe", "email": "john@acme.test", "id": "1"}})
    assert make("activecampaign", server, {"api_key": "ac-token"}).check() == "User: John Doe <john@acme.test>"
    assert header(server.requests[0], "Api-Token") == "ac-token"
    assert header(server.requests[0], "Authorization") is None


@pytest.mark.parametrize("pasted,base", [
    ("https://acme.api-us1.com", "https://acme.api-us1.com"),
    ("https://Acme.api-us1.com/api/3/", "https://acme.api-us1.com"),
    ("https://acme123.activehosted.com/", "https://acme123.activehosted.com"),
])
def test_activecampaign_account_url_is_normalised(pasted, base):
    assert account_url(pasted) == base
    assert REGISTRY["activecampaign"]({"api_key": "k"}, {"api_url": pasted}).base_url == base


@pytest.mark.parametrize("pasted", ["http://acme.api-us1.com", "https://127.0.0.1", "https://localhost",
                                    "https://evil.test", "https://acme.api-us1.com.evil.test",
                                    "https://acme.api-us1.com:8443", "https://acme.api-us1.com/other", ""])
def test_activecampaign_refuses_an_account_url_that_is_not_activecampaigns(server, pasted):
    adapter = REGISTRY["activecampaign"]({"api_key": "k"}, {"api_url": pasted}, timeout=1)
    with pytest.raises(ProviderError, match="API URL"):
        adapter.check()


def test_activecampaign_lists_page_by_offset(server):
    server.expect("GET", "/api/3/lists", times=1, json={"lists": [
        {"id": "1", "name": "Email Subscription", "stringid": "email-subscription"},
        {"id": "2", "name": "Robert List", "stringid": "robert-list"}], "meta": {"total": "3"}})
    server.expect("GET", "/api/3/lists", times=1, json={"lists": [{"id": "5", "name": "Webinar"}],
                                                        "meta": {"total": "3"}})
    lists = make("activecampaign", server, {"api_key": "k"}).lists()
    assert lists == [ListInfo("1", "Email Subscription"), ListInfo("2", "Robert List"), ListInfo("5", "Webinar")]
    assert [(r.query["limit"], r.query["offset"]) for r in server.requests] == [(["100"], ["0"]), (["100"], ["2"])]


def test_activecampaign_subscribe_syncs_the_contact_adds_it_to_the_list_and_tags_it(server):
    server.expect("GET", "/api/3/fields", json={"fields": [
        {"id": "7", "title": "Company", "perstag": "COMPANY"}, {"id": "9", "title": "Plan", "perstag": "PLAN"}]})
    server.expect("POST", "/api/3/contact/sync", 201, json={"fieldValues": [], "contact": {
        "email": "ann@example.com", "id": "113"}})
    server.expect("POST", "/api/3/contactLists", 201, json={"contactList": {"contact": "113", "list": "2"}})
    server.expect("GET", "/api/3/tags", times=1, json={"tags": [
        {"tag": "VIP customers", "id": "20"}, {"tag": "vip", "id": "21", "tagType": "contact"}],
        "meta": {"total": "2"}})
    server.expect("GET", "/api/3/tags", times=1, json={"tags": [], "meta": {"total": "0"}})
    server.expect("POST", "/api/3/tags", 201, json={"tag": {"tag": "Webinar 2026", "tagType": "contact", "id": "30"}})
    server.expect("POST", "/api/3/contactTags", 201, json={"contactTag": {"id": "1"}})
    contact_id = make("activecampaign", server, {"api_key": "k"}).subscribe("2", Subscriber(
        email="ann@example.com", first_name="Ann", last_name="Lee", phone="+351 912 345 678",
        fields={"%COMPANY%": "Acme", "9": "gold"}, tags=["VIP", "Webinar 2026"]))
    assert contact_id == "113"
    calls = [(r.method, r.path) for r in server.requests]
    assert calls == [("GET", "/api/3/fields"), ("POST", "/api/3/contact/sync"), ("POST", "/api/3/contactLists"),
                     ("GET", "/api/3/tags"), ("POST", "/api/3/contactTags"), ("GET", "/api/3/tags"),
                     ("POST", "/api/3/tags"), ("POST", "/api/3/contactTags")]
    fields, sync, contact_list, search_vip, tag_vip, search_new, create, tag_new = server.requests
    assert sync.json == {"contact": {"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee",
                                     "phone": "+351 912 345 678",
                                     "fieldValues": [{"field": "7", "value": "Acme"}, {"field": "9", "value": "gold"}]}}
    assert contact_list.json == {"contactList": {"list": "2", "contact": "113", "status": 1}}
    assert search_vip.query["search"] == ["VIP"]
    assert tag_vip.json == {"contactTag": {"contact": "113", "tag": "21"}}
    assert search_new.query["search"] == ["Webinar 2026"]
    assert create.json == {"tag": {"tag": "Webinar 2026", "tagType": "contact", "description": "Added by Leadforge"}}
    assert tag_new.json == {"contactTag": {"contact": "113", "tag": "30"}}
    assert all(header(r, "Api-Token") == "k" for r in server.requests)


def test_activecampaign_unknown_custom_field_is_named_and_nothing_is_synced(server):
    server.expect("GET", "/api/3/fields", json={"fields": [{"id": "7", "title": "Company", "perstag": "COMPANY"}]})
    with pytest.raises(ProviderError, match="no custom field 'Shoe size'"):
        make("activecampaign", server, {"api_key": "k"}).subscribe(
            "2", Subscriber(email="ann@example.com", fields={"Shoe size": "42"}))
    assert [r.path for r in server.requests] == ["/api/3/fields"]


def test_activecampaign_refuses_a_list_id_that_is_not_a_number(server):
    with pytest.raises(ProviderError, match="not an ActiveCampaign list id"):
        make("activecampaign", server, {"api_key": "k"}).subscribe("../users", Subscriber(email="a@example.com"))
    assert server.requests == []


# ---------------------------------------------------------------------------------------------------------------
# Kit / ConvertKit (API v4, API key)
# ---------------------------------------------------------------------------------------------------------------

def test_kit_check_sends_the_v4_api_key_header(server):
    server.expect("GET", "/v4/account", json={"user": {"email": "alice@kit.test"}, "account": {
        "id": 31474, "name": "Kit Greetings", "plan_type": "creator", "primary_email_address": "alice@kit.test"}})
    assert make("convertkit", server, {"api_key": "kit_abc"}).check() == "Account: Kit Greetings <alice@kit.test>"
    assert header(server.requests[0], "X-Kit-Api-Key") == "kit_abc"


def test_kit_lists_forms_and_tags_following_the_cursor(server):
    server.expect("GET", "/v4/forms", times=1, json={"forms": [{"id": 12, "name": "Newsletter signup"}],
                                                     "pagination": {"has_next_page": True, "end_cursor": "WzEyXQ=="}})
    server.expect("GET", "/v4/forms", times=1, json={"forms": [{"id": 13, "name": "Webinar"}],
                                                     "pagination": {"has_next_page": False, "end_cursor": "WzEzXQ=="}})
    server.expect("GET", "/v4/tags", json={"tags": [{"id": 5, "name": "Customer"}],
                                           "pagination": {"has_next_page": False}})
    lists = make("convertkit", server, {"api_key": "kit_abc"}).lists()
    assert lists == [ListInfo("form:12", "Form: Newsletter signup"), ListInfo("form:13", "Form: Webinar"),
                     ListInfo("tag:5", "Tag: Customer")]
    assert [r.query for r in server.requests] == [{"per_page": ["1000"]},
                                                  {"per_page": ["1000"], "after": ["WzEyXQ=="]},
                                                  {"per_page": ["1000"]}]


def test_kit_subscribe_upserts_then_adds_to_the_form_and_tags(server):
    server.expect("POST", "/v4/subscribers", 201, json={"subscriber": {"id": 358, "email_address": "a@kit.test"}})
    server.expect("POST", "/v4/forms/12/subscribers", 201, json={"subscriber": {"id": 358}})
    server.expect("GET", "/v4/tags", json={"tags": [{"id": 5, "name": "Customer"}], "pagination": {}})
    server.expect("POST", "/v4/tags", 201, json={"tag": {"id": 6, "name": "Webinar"}})
    server.expect("POST", "/v4/tags/5/subscribers", 201, json={"subscriber": {"id": 358}})
    server.expect("POST", "/v4/tags/6/subscribers", 201, json={"subscriber": {"id": 358}})
    adapter = make("convertkit", server, {"api_key": "kit_abc"}, {"last_name_field": "last_name"})
    subscriber_id = adapter.subscribe("form:12", Subscriber(
        email="a@kit.test", first_name="Alice", last_name="Lamarr", fields={"company": "Acme"},
        tags=["customer", "Webinar"]))
    assert subscriber_id == "358"
    assert [(r.method, r.path) for r in server.requests] == [
        ("POST", "/v4/subscribers"), ("POST", "/v4/forms/12/subscribers"), ("GET", "/v4/tags"),
        ("POST", "/v4/tags/5/subscribers"), ("POST", "/v4/tags"), ("POST", "/v4/tags/6/subscribers")]
    upsert, form, _, tag_customer, create, tag_webinar = server.requests
    assert upsert.json == {"email_address": "a@kit.test", "first_name": "Alice",
                           "fields": {"company": "Acme", "last_name": "Lamarr"}}
    assert form.json == tag_customer.json == tag_webinar.json == {"email_address": "a@kit.test"}
    assert create.json == {"name": "Webinar"}
    assert all(header(r, "X-Kit-Api-Key") == "kit_abc" for r in server.requests)


def test_kit_subscribe_to_a_tag_without_a_last_name_field_sends_no_last_name(server):
    server.expect("POST", "/v4/subscribers", 200, json={"subscriber": {"id": 9}})
    server.expect("POST", "/v4/tags/5/subscribers", 200, json={"subscriber": {"id": 9}})
    assert make("convertkit", server, {"api_key": "k"}).subscribe(
        "tag:5", Subscriber(email="b@kit.test", last_name="Lee")) == "9"
    assert server.requests[0].json == {"email_address": "b@kit.test"}
    assert [r.path for r in server.requests] == ["/v4/subscribers", "/v4/tags/5/subscribers"]


@pytest.mark.parametrize("list_id", ["list:3", "form:", "form:../account", "sequence:4"])
def test_kit_refuses_a_list_that_is_not_a_form_or_tag(server, list_id):
    with pytest.raises(ProviderError, match="not a Kit form or tag"):
        make("convertkit", server, {"api_key": "k"}).subscribe(list_id, Subscriber(email="b@kit.test"))
    assert server.requests == []


# ---------------------------------------------------------------------------------------------------------------
# GetResponse (API v3)
# ---------------------------------------------------------------------------------------------------------------

def test_getresponse_check_sends_the_api_key_token(server):
    server.expect("GET", "/v3/accounts", json={"accountId": "Vp3", "email": "owner@acme.test", "firstName": "Ann",
                                               "lastName": "Lee", "companyName": "Acme Shop"})
    assert make("getresponse", server, {"api_key": "gr-key"}).check() == "Account: Acme Shop <owner@acme.test>"
    assert header(server.requests[0], "X-Auth-Token") == "api-key gr-key"
    assert header(server.requests[0], "X-Domain") is None


def test_getresponse_max_sends_its_domain_and_uses_its_host(server):
    server.expect("GET", "/v3/accounts", json={"firstName": "Ann", "lastName": "Lee"})
    assert make("getresponse", server, {"api_key": "k"}, {"max_domain": "acme.test"}).check() == "Account: Ann Lee"
    assert header(server.requests[0], "X-Domain") == "acme.test"
    assert REGISTRY["getresponse"]({"api_key": "k"}, {"platform": "max_pl"}).base_url == \
        "https://api3.getresponse360.pl"


def test_getresponse_lists_are_campaigns_paged_by_total_pages(server):
    server.expect("GET", "/v3/campaigns", times=1, json=[{"campaignId": "p86zQ", "name": "newsletter"}],
                  headers={"TotalPages": "2", "TotalCount": "2", "CurrentPage": "1"})
    server.expect("GET", "/v3/campaigns", times=1, json=[{"campaignId": "V8kz", "name": "customers"}],
                  headers={"TotalPages": "2", "TotalCount": "2", "CurrentPage": "2"})
    lists = make("getresponse", server, {"api_key": "k"}).lists()
    assert lists == [ListInfo("p86zQ", "newsletter"), ListInfo("V8kz", "customers")]
    assert [r.query for r in server.requests] == [{"page": ["1"], "perPage": ["1000"]},
                                                  {"page": ["2"], "perPage": ["1000"]}]


def test_getresponse_subscribe_creates_the_contact_with_fields_and_tags(server):
    server.expect("GET", "/v3/custom-fields", json=[{"customFieldId": "z9Kgt", "name": "city"},
                                                    {"customFieldId": "y8jnp", "name": "age"}])
    server.expect("GET", "/v3/tags", times=1, json=[{"tagId": "Xs", "name": "vip"}])
    server.expect("GET", "/v3/tags", times=1, json=[])
    server.expect("POST", "/v3/tags", 201, json={"tagId": "Yt", "name": "webinar_2026"})
    server.expect("POST", "/v3/contacts", 202)
    result = make("getresponse", server, {"api_key": "k"}).subscribe("p86zQ", Subscriber(
        email="ann@example.com", first_name="Ann", last_name="Lee", fields={"city": "Lisbon", "y8jnp": "30-44"},
        tags=["VIP", "Webinar 2026"]))
    assert result is None  # 202: GetResponse adds the contact later
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/v3/custom-fields"), ("GET", "/v3/tags"), ("GET", "/v3/tags"), ("POST", "/v3/tags"),
        ("POST", "/v3/contacts")]
    fields, search_vip, search_new, create, contact = server.requests
    assert search_vip.query["query[name]"] == ["VIP"]
    assert search_new.query["query[name]"] == ["Webinar_2026"]
    assert create.json == {"name": "Webinar_2026"}
    assert contact.json == {
        "email": "ann@example.com", "campaign": {"campaignId": "p86zQ"}, "name": "Ann Lee",
        "customFieldValues": [{"customFieldId": "z9Kgt", "value": ["Lisbon"]},
                              {"customFieldId": "y8jnp", "value": ["30-44"]}],
        "tags": [{"tagId": "Xs"}, {"tagId": "Yt"}]}
    assert all(header(r, "X-Auth-Token") == "api-key k" for r in server.requests)


def test_getresponse_subscribe_updates_a_contact_already_on_the_campaign(server):
    server.expect("GET", "/v3/tags", json=[{"tagId": "Xs", "name": "vip"}])
    server.expect("POST", "/v3/contacts", 409, json={
        "httpStatus": 409, "code": 1008, "codeDescription": "Cannot add resource duplicate",
        "message": "Contact already added", "moreInfo": "https://apidocs.getresponse.com/v3/errors/1008"})
    server.expect("GET", "/v3/contacts", json=[{"contactId": "pV3r", "email": "ann@example.com"}])
    server.expect("POST", "/v3/contacts/pV3r", json={"contactId": "pV3r"})
    server.expect("POST", "/v3/contacts/pV3r/tags", json={"tags": [{"tagId": "Xs"}]})
    contact_id = make("getresponse", server, {"api_key": "k"}).subscribe(
        "p86zQ", Subscriber(email="ann@example.com", first_name="Ann", tags=["vip"]))
    assert contact_id == "pV3r"
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/v3/tags"), ("POST", "/v3/contacts"), ("GET", "/v3/contacts"), ("POST", "/v3/contacts/pV3r"),
        ("POST", "/v3/contacts/pV3r/tags")]
    _, _, search, update, tags = server.requests
    assert search.query["query[email]"] == ["ann@example.com"]
    assert search.query["query[campaignId]"] == ["p86zQ"]
    assert update.json == {"name": "Ann"}
    assert tags.json == {"tags": [{"tagId": "Xs"}]}


def test_getresponse_unknown_custom_field_is_named(server):
    server.expect("GET", "/v3/custom-fields", json=[{"customFieldId": "z9Kgt", "name": "city"}])
    with pytest.raises(ProviderError, match="no custom field 'shoe'"):
        make("getresponse", server, {"api_key": "k"}).subscribe("p", Subscriber(email="a@x.test", fields={"shoe": 4}))
    assert [r.path for r in server.requests] == ["/v3/custom-fields"]


def test_getresponse_tag_names_keep_letters_digits_and_underscores():
    assert tag_name("VIP customer!") == "VIP_customer"
    assert tag_name("  black-friday 2026 ") == "black_friday_2026"
    with pytest.raises(ProviderError):
        tag_name("!!!")


# ---------------------------------------------------------------------------------------------------------------
# AWeber (API 1.0, OAuth 2)
# ---------------------------------------------------------------------------------------------------------------

def test_aweber_check_uses_the_bearer_token(server):
    server.expect("GET", "/1.0/accounts", json={"entries": [{"id": 1234567, "self_link": "x"}], "total_size": 1})
    assert make("aweber", server, {"access_token": "aw-token"}).check() == "Account: 1234567"
    assert header(server.requests[0], "Authorization") == "Bearer aw-token"


def test_aweber_check_of_an_account_the_token_cannot_see(server):
    server.expect("GET", "/1.0/accounts", json={"entries": [{"id": 1}], "total_size": 1})
    with pytest.raises(ProviderError, match="no access to account 99"):
        make("aweber", server, {"access_token": "t"}, {"account_id": "99"}).check()


def test_aweber_lists_page_with_ws_start_and_find_the_account(server):
    server.expect("GET", "/1.0/accounts", json={"entries": [{"id": 123}], "total_size": 1})
    server.expect("GET", "/1.0/accounts/123/lists", times=1, json={
        "entries": [{"id": 456, "name": "awlist_news", "total_subscribers": 88}], "total_size": 2,
        "next_collection_link": "https://api.aweber.com/1.0/accounts/123/lists?ws.start=1&ws.size=100"})
    server.expect("GET", "/1.0/accounts/123/lists", times=1, json={
        "entries": [{"id": 789, "name": "awlist_buyers", "total_subscribers": 5}], "total_size": 2})
    lists = make("aweber", server, {"access_token": "t"}).lists()
    assert lists == [ListInfo("456", "awlist_news", 88), ListInfo("789", "awlist_buyers", 5)]
    assert [r.path for r in server.requests] == ["/1.0/accounts", "/1.0/accounts/123/lists",
                                                 "/1.0/accounts/123/lists"]
    assert [r.query for r in server.requests[1:]] == [{"ws.start": ["0"], "ws.size": ["100"]},
                                                      {"ws.start": ["1"], "ws.size": ["100"]}]


def test_aweber_subscribe_adds_or_updates_and_returns_the_subscriber_id(server):
    path = "/1.0/accounts/123/lists/456/subscribers"
    server.expect("POST", path, 201,
                  headers={"Location": "https://api.aweber.com/1.0/accounts/123/lists/456/subscribers/98765"})
    subscriber_id = make("aweber", server, {"access_token": "t"}, {"account_id": "123"}).subscribe(
        "456", Subscriber(email="ann@example.com", first_name="Ann", last_name="Lee", fields={"Plan": "gold"},
                          tags=["customer", "vip"]))
    assert subscriber_id == "98765"
    request = server.requests[0]
    assert (request.method, request.path, header(request, "Authorization")) == ("POST", path, "Bearer t")
    assert request.json == {"email": "ann@example.com", "update_existing": "true", "name": "Ann Lee",
                            "custom_fields": {"Plan": "gold"}, "tags": ["customer", "vip"]}


def test_aweber_subscribe_of_an_existing_subscriber_returns_its_id(server):
    server.expect("POST", "/1.0/accounts/123/lists/456/subscribers", 209,
                  json={"id": 98765, "email": "ann@example.com", "status": "subscribed"})
    assert make("aweber", server, {"access_token": "t"}, {"account_id": "123"}).subscribe(
        "456", Subscriber(email="ann@example.com")) == "98765"


def test_aweber_renews_an_expired_token_once_and_hands_the_new_one_back(server):
    server.expect("GET", "/1.0/accounts", 401, times=1, json={"error": {
        "status": 401, "message": "Expired access token", "type": "UnauthorizedError"}})
    server.expect("POST", "/oauth2/token", json={"access_token": "new-token", "refresh_token": "refresh-2",
                                                 "token_type": "bearer", "expires_in": 7200})
    server.expect("GET", "/1.0/accounts", json={"entries": [{"id": 123}], "total_size": 1})
    adapter = make("aweber", server, {"access_token": "old-token", "refresh_token": "refresh-1",
                                      "client_secret": "app-secret"}, {"client_id": "app-id"})
    adapter.token_url = f"{server.url}/oauth2/token"
    assert adapter.check() == "Account: 123"
    expired, renew, retried = server.requests
    assert header(expired, "Authorization") == "Bearer old-token"
    assert (renew.method, renew.path) == ("POST", "/oauth2/token")
    assert renew.form == {"grant_type": "refresh_token", "refresh_token": "refresh-1"}
    assert basic_auth(renew) == ("app-id", "app-secret")
    assert header(retried, "Authorization") == "Bearer new-token"
    assert adapter.updated_credentials == {"access_token": "new-token", "refresh_token": "refresh-2",
                                           "client_secret": "app-secret"}


def test_aweber_renewed_tokens_are_stored_for_the_next_call(app, owner, server, monkeypatch):
    """Through `connections.call`: 401, the renewal, the retried call; the connection then holds the new tokens
    (encrypted) and the next call goes out with the new access token, without renewing again."""
    from app.extensions import db
    from app.integrations import connections
    from app.integrations.providers.aweber import AWeberProvider

    user, account = owner
    monkeypatch.setitem(app.config, "PROVIDER_BASE_URLS", {"aweber": server.url})
    monkeypatch.setattr(AWeberProvider, "token_url", f"{server.url}/oauth2/token")
    connection = connections.create(account, user, "aweber", {
        "access_token": "old-token-0001", "refresh_token": "refresh-1", "client_id": "app-id",
        "client_secret": "app-secret"})
    server.expect("GET", "/1.0/accounts", 401, times=1, json={"error": {
        "status": 401, "message": "Expired access token", "type": "UnauthorizedError"}})
    server.expect("POST", "/oauth2/token", json={"access_token": "new-token-0002", "refresh_token": "refresh-2",
                                                 "token_type": "bearer", "expires_in": 7200})
    server.expect("GET", "/1.0/accounts", json={"entries": [{"id": 123}], "total_size": 1})

    assert connections.test(connection), connection.status_message
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/1.0/accounts"), ("POST", "/oauth2/token"), ("GET", "/1.0/accounts")]
    db.session.expire_all()
    connection = db.session.get(type(connection), connection.id)
    assert connections.credentials(connection) == {"access_token": "new-token-0002", "refresh_token": "refresh-2",
                                                   "client_secret": "app-secret"}
    assert connection.credential_hints["access_token"] == "••••0002"

    server.requests.clear()
    assert connections.test(connection)
    [again] = server.requests
    assert header(again, "Authorization") == "Bearer new-token-0002"


def test_aweber_refused_renewal_is_reported(server):
    server.expect("GET", "/1.0/accounts", 401, json={"error": {"status": 401, "message": "Expired access token"}})
    server.expect("POST", "/oauth2/token", 400, json={"error": "invalid_grant",
                                                      "error_description": "Refresh token is invalid"})
    adapter = make("aweber", server, {"access_token": "old", "refresh_token": "r"}, {"client_id": "public-app"})
    adapter.token_url = f"{server.url}/oauth2/token"
    with pytest.raises(ProviderError) as caught:
        adapter.check()
    assert caught.value.message == ("AWeber refused to renew the access token (400): invalid_grant: "
                                    "Refresh token is invalid")
    assert caught.value.retryable is False
    assert server.requests[1].form == {"grant_type": "refresh_token", "refresh_token": "r", "client_id": "public-app"}
    assert adapter.updated_credentials is None
    assert len(server.requests) == 2  # renewed once, not in a loop


def test_aweber_without_a_refresh_token_reports_the_expired_token(server):
    server.expect("GET", "/1.0/accounts", 401, json={"error": {"status": 401, "message": "Expired access token"}})
    with pytest.raises(ProviderError, match="Expired access token"):
        make("aweber", server, {"access_token": "old"}).check()
    assert len(server.requests) == 1


# ---------------------------------------------------------------------------------------------------------------
# SMTP against local aiosmtpd servers
# ---------------------------------------------------------------------------------------------------------------

class Recorder:
    """An aiosmtpd handler that keeps what it received; `refuse_rcpt`/`refuse_data` script a refusal."""

    def __init__(self):
        self.received = []
        self.refuse_rcpt = None
        self.refuse_data = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data:
            return self.refuse_data
        self.received.append({
            "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
            "message": message_from_bytes(envelope.content, policy=policy.default),
            "starttls": session.ssl is not None, "login": session.auth_data})
        return "250 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, and the files a server and a client need."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Leadforge test SMTP")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def server_tls(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def trust_test_certificate(monkeypatch, certificate):
    """The adapter trusts the test certificate (and verifies it, hostname included)."""
    monkeypatch.setattr(REGISTRY["smtp"], "tls_context",
                        lambda self: ssl.create_default_context(cafile=certificate[0]))


@pytest.fixture
def smtp():
    """Start aiosmtpd servers on free ports: `smtp(**Controller kwargs)` -> (port, recorder)."""
    started = []

    def start(**kwargs):
        recorder = Recorder()
        controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), server_hostname="mx.test",
                                **kwargs)
        controller.start()
        started.append(controller)
        return controller.port, recorder

    yield start
    for controller in started:
        controller.stop()


def smtp_adapter(smtp_port: int, timeout: float = 5, **settings):
    defaults = {"host": "127.0.0.1", "port": str(smtp_port), "security": "none", "from_email": "shop@acme.test",
                "from_name": "Acme Shop", "helo_name": "leadforge.test"}
    password = settings.pop("password", None)
    return REGISTRY["smtp"]({"password": password} if password else {}, {**defaults, **settings}, timeout=timeout)


def test_smtp_sends_a_multipart_message_and_returns_its_message_id(smtp):
    port, recorder = smtp()
    sent = smtp_adapter(port).send_email(Email(to="Ann Lee <ann@example.com>", subject="Your receipt",
                                               text="Thanks for your order.", html="<p>Thanks for your order.</p>",
                                               reply_to="help@acme.test"))
    [received] = recorder.received
    message = received["message"]
    assert received["mail_from"] == "shop@acme.test"
    assert received["rcpt_tos"] == ["ann@example.com"]
    assert message["From"] == "Acme Shop <shop@acme.test>"
    assert message["To"] == "Ann Lee <ann@example.com>"
    assert message["Subject"] == "Your receipt"
    assert message["Reply-To"] == "help@acme.test"
    assert message["Message-ID"] == sent.provider_message_id
    assert sent.provider_message_id.endswith("@acme.test>")
    assert message.get_body(("plain",)).get_content().strip() == "Thanks for your order."
    assert message.get_body(("html",)).get_content().strip() == "<p>Thanks for your order.</p>"


def test_smtp_sender_of_the_email_wins_over_the_connections(smtp):
    port, recorder = smtp()
    smtp_adapter(port).send_email(Email(to="bob@example.com", subject="Hi", text="Hello",
                                        sender="Support <support@acme.test>"))
    [received] = recorder.received
    assert received["mail_from"] == "support@acme.test"
    assert received["message"]["From"] == "Support <support@acme.test>"
    assert received["message"].get_content_type() == "text/plain"


def test_smtp_check_logs_in(smtp):
    port, recorder = smtp(authenticator=authenticator, auth_require_tls=False)
    adapter = smtp_adapter(port, username="mailer", password="s3cret")
    assert adapter.check() == f"Connected to 127.0.0.1:{port} as mailer, unencrypted."
    adapter.send_email(Email(to="bob@example.com", subject="Hi", text="Hello"))
    assert recorder.received[0]["login"] == b"mailer"


def test_smtp_wrong_password_says_the_server_refused_the_login(smtp):
    port, _ = smtp(authenticator=authenticator, auth_require_tls=False)
    with pytest.raises(ProviderError) as caught:
        smtp_adapter(port, username="mailer", password="wrong").check()
    assert caught.value.message.startswith("The SMTP server refused the login (535): ")
    assert "Authentication credentials invalid" in caught.value.message
    assert caught.value.status_code == 535
    assert caught.value.retryable is False


def test_smtp_starttls_then_login_then_send(smtp, certificate, trust_test_certificate):
    port, recorder = smtp(tls_context=server_tls(certificate), authenticator=authenticator)  # AUTH needs TLS
    adapter = smtp_adapter(port, security="starttls", username="mailer", password="s3cret")
    assert adapter.check() == f"Connected to 127.0.0.1:{port} as mailer, STARTTLS."
    adapter.send_email(Email(to="bob@example.com", subject="Over TLS", text="Hello"))
    [received] = recorder.received
    assert received["starttls"] is True
    assert received["login"] == b"mailer"


def test_smtp_starttls_with_a_certificate_nobody_vouches_for_fails_clearly(smtp, certificate):
    port, recorder = smtp(tls_context=server_tls(certificate))
    with pytest.raises(ProviderError) as caught:
        smtp_adapter(port, security="starttls").send_email(Email(to="bob@example.com", subject="Hi", text="x"))
    assert caught.value.message.startswith(f"The TLS connection to 127.0.0.1:{port} failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    assert caught.value.retryable is False
    assert recorder.received == []


def test_smtp_ssl_from_the_start(certificate, trust_test_certificate):
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), ssl_context=server_tls(certificate))
    controller.start()
    try:
        smtp_adapter(controller.port, security="ssl").send_email(Email(to="bob@example.com", subject="S", text="x"))
    finally:
        controller.stop()
    assert recorder.received[0]["rcpt_tos"] == ["bob@example.com"]


def test_smtp_starttls_asked_of_a_server_that_does_not_offer_it(smtp):
    port, _ = smtp()
    with pytest.raises(ProviderError, match="does not offer STARTTLS") as caught:
        smtp_adapter(port, security="starttls").check()
    assert caught.value.retryable is False


def test_smtp_login_asked_of_a_server_without_auth(smtp):
    port, _ = smtp()
    with pytest.raises(ProviderError, match=r"does not offer a login \(AUTH\)"):
        smtp_adapter(port, username="mailer", password="s3cret").check()


def test_smtp_connection_refused_is_retryable():
    port = free_port()
    with pytest.raises(ProviderError) as caught:
        smtp_adapter(port).check()
    assert caught.value.message == f"The SMTP server 127.0.0.1:{port} refused the connection (is the host and port " \
                                   "right?)."
    assert caught.value.retryable is True


def test_smtp_server_that_never_greets_times_out():
    with socket.socket() as listener:  # accepts connections (the backlog) but never says a word
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ProviderError) as caught:
            smtp_adapter(port, timeout=0.3).send_email(Email(to="bob@example.com", subject="Hi", text="x"))
        assert time.monotonic() - started < 2
    assert caught.value.message == f"The SMTP server 127.0.0.1:{port} did not answer within 0.3 seconds."
    assert caught.value.retryable is True


def test_smtp_recipient_refused_permanently_is_not_retried(smtp):
    port, recorder = smtp()
    recorder.refuse_rcpt = "550 5.1.1 <nobody@example.com>: Recipient address rejected"
    with pytest.raises(ProviderError) as caught:
        smtp_adapter(port).send_email(Email(to="nobody@example.com", subject="Hi", text="x"))
    assert caught.value.message == ("The SMTP server refused the recipient nobody@example.com (550): 5.1.1 "
                                    "<nobody@example.com>: Recipient address rejected")
    assert caught.value.status_code == 550
    assert caught.value.retryable is False


def test_smtp_temporary_refusal_is_retryable(smtp):
    port, recorder = smtp()
    recorder.refuse_data = "451 4.3.0 Mail server temporarily rejected message"
    with pytest.raises(ProviderError) as caught:
        smtp_adapter(port).send_email(Email(to="bob@example.com", subject="Hi", text="x"))
    assert caught.value.message == "The SMTP server answered 451: 4.3.0 Mail server temporarily rejected message"
    assert caught.value.retryable is True


@pytest.mark.parametrize("settings,said", [
    ({"from_email": "", "from_name": ""}, "From address"),
    ({"host": ""}, "SMTP host"),
    ({"port": "smtp"}, "not a number"),
    ({"port": "70000"}, "out of range"),
    ({"security": "tls1"}, "Unknown SMTP encryption"),
])
def test_smtp_settings_that_cannot_work_are_named(smtp, settings, said):
    port, recorder = smtp()
    with pytest.raises(ProviderError, match=said):
        smtp_adapter(port, **settings).send_email(Email(to="bob@example.com", subject="Hi", text="x"))
    assert recorder.received == []
