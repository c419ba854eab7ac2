"""The SMS adapters (Twilio, Plivo, MessageBird, Bandwidth, Telnyx) against a local stand-in: the exact
requests their documentation specifies, what a refused credential, a 5xx, a 429 and a timeout become, and
each provider's callback signature: accepted when right, refused (403) when tampered with."""
import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.integrations import providers
from app.integrations.providers.base import ProviderError
from tests.integrations.standin import StandIn

CALLBACK = "https://app.example.com/api/v1/hooks/sms/tok3n"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def server():
    with StandIn() as standin:
        yield standin


def make(key: str, server, credentials: dict, settings: dict, timeout: float = 2):
    return providers.get(key)(credentials, settings, base_url=server.url, timeout=timeout)


# -- what each adapter declares --

@pytest.mark.parametrize("key", ["twilio", "plivo", "messagebird", "bandwidth", "telnyx"])
def test_each_sms_adapter_is_registered_with_its_fields(key):
    cls = providers.get(key)
    assert cls.kind == "sms" and cls.has_status_callbacks and cls.docs_url.startswith("https://")
    assert cls.default_base_url.startswith("https://")
    assert any(field.secret for field in cls.fields)
    assert cls in providers.of_kind("sms")


# -- Twilio --

TWILIO = {"credentials": {"auth_token": "tw-token"},
          "settings": {"account_sid": "AC123", "from_number": "+15005550006"}}


def twilio(server, **kw):
    return make("twilio", server, TWILIO["credentials"], TWILIO["settings"], **kw)


def test_twilio_check_reads_the_account_with_basic_auth(server):
    server.expect("GET", "/2010-04-01/Accounts/AC123.json", json={"friendly_name": "Acme", "status": "active"})
    assert twilio(server).check() == "Account: Acme (active)"
    request = server.requests[0]
    assert request.headers["Authorization"] == basic("AC123", "tw-token")


def test_twilio_send_posts_the_form_its_docs_specify(server):
    server.expect("POST", "/2010-04-01/Accounts/AC123/Messages.json", status=201,
                  json={"sid": "SM1", "status": "queued"})
    sent = twilio(server).send_sms("+14155550123", "Hello there", CALLBACK)
    assert (sent.provider_message_id, sent.status) == ("SM1", "queued")
    request = server.requests[0]
    assert request.headers["Authorization"] == basic("AC123", "tw-token")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {"To": "+14155550123", "From": "+15005550006", "Body": "Hello there",
                            "StatusCallback": CALLBACK}


def test_twilio_sends_through_a_messaging_service(server):
    server.expect("POST", "/2010-04-01/Accounts/AC123/Messages.json", status=201,
                  json={"sid": "SM2", "status": "accepted"})
    adapter = make("twilio", server, {"auth_token": "t"}, {"account_sid": "AC123", "from_number": "MG99"})
    assert adapter.send_sms("+14155550123", "Hi").status == "queued"
    assert server.requests[0].form == {"To": "+14155550123", "MessagingServiceSid": "MG99", "Body": "Hi"}


def test_twilio_wrong_credentials_say_what_twilio_answered(server):
    server.expect("GET", "/2010-04-01/Accounts/AC123.json", status=401,
                  json={"code": 20003, "message": "Authenticate", "status": 401})
    with pytest.raises(ProviderError) as caught:
        twilio(server).check()
    assert caught.value.status_code == 401 and not caught.value.retryable
    assert caught.value.message == "Twilio refused the credentials (401): Authenticate"


def twilio_signature(token: str, url: str, params: dict) -> str:
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_twilio_status_callback_with_its_signature_is_read():
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+14155550123", "AccountSid": "AC123"}
    headers = {"X-Twilio-Signature": twilio_signature("tw-token", CALLBACK, params),
               "Content-Type": "application/x-www-form-urlencoded"}
    adapter = providers.get("twilio")(TWILIO["credentials"], TWILIO["settings"])
    assert adapter.read_status_callback(url=CALLBACK, headers=headers, body=urlencode(params).encode()) == (
        "SM1", "delivered")
    # The documented example of Twilio's security page signs to the same value.
    example = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
               "From": "+12349013030", "To": "+18005551212"}
    assert twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", example) == \
        providers.twilio.signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
                                   {k: [v] for k, v in example.items()})


@pytest.mark.parametrize("tamper", ["body", "url", "token", "missing"])
def test_twilio_tampered_status_callback_is_refused(tamper):
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    signature = twilio_signature("tw-token" if tamper != "token" else "other", CALLBACK, params)
    body = urlencode({**params, "MessageStatus": "failed"} if tamper == "body" else params).encode()
    url = CALLBACK + "x" if tamper == "url" else CALLBACK
    headers = {} if tamper == "missing" else {"X-Twilio-Signature": signature}
    adapter = providers.get("twilio")(TWILIO["credentials"], TWILIO["settings"])
    with pytest.raises(ProviderError) as caught:
        adapter.read_status_callback(url=url, headers=headers, body=body)
    assert caught.value.status_code == 403


# -- Plivo --

PLIVO_CREDS, PLIVO_SETTINGS = {"auth_token": "pl-token"}, {"auth_id": "MAXXXX", "from_number": "+14155550100"}


def test_plivo_check_and_send_make_the_documented_calls(server):
    server.expect("GET", "/v1/Account/MAXXXX/", json={"name": "Acme", "account_type": "standard"})
    server.expect("POST", "/v1/Account/MAXXXX/Message/", status=202,
                  json={"api_id": "a1", "message": "message(s) queued", "message_uuid": ["db3ce55a"]})
    adapter = make("plivo", server, PLIVO_CREDS, PLIVO_SETTINGS)
    assert adapter.check() == "Account: Acme (standard)"
    sent = adapter.send_sms("+14155550123", "Hello", CALLBACK)
    assert (sent.provider_message_id, sent.status) == ("db3ce55a", "queued")
    check, send = server.requests
    assert check.headers["Authorization"] == basic("MAXXXX", "pl-token")
    assert send.headers["Authorization"] == basic("MAXXXX", "pl-token")
    assert send.headers["Content-Type"] == "application/json"
    assert send.json == {"src": "14155550100", "dst": "14155550123", "text": "Hello", "url": CALLBACK,
                         "method": "POST"}


def test_plivo_wrong_credentials_say_what_plivo_answered(server):
    server.expect("GET", "/v1/Account/MAXXXX/", status=401, json={"api_id": "a2", "error": "authentication failed"})
    with pytest.raises(ProviderError) as caught:
        make("plivo", server, PLIVO_CREDS, PLIVO_SETTINGS).check()
    assert caught.value.message == "Plivo refused the credentials (401): authentication failed"
    assert not caught.value.retryable


def plivo_v3(token: str, url: str, params: dict, nonce: str) -> str:
    # As Plivo's SDK builds it for a POST to a URL without a query: url + "?" + sorted name+value, "." nonce.
    message = url + "?" + "".join(f"{name}{params[name]}" for name in sorted(params)) + "." + nonce
    return base64.b64encode(hmac.new(token.encode(), message.encode(), hashlib.sha256).digest()).decode()


def test_plivo_status_callback_with_a_v3_signature_is_read():
    params = {"MessageUUID": "db3ce55a", "Status": "delivered", "To": "14155550123", "From": "14155550100"}
    headers = {"X-Plivo-Signature-V3": plivo_v3("pl-token", CALLBACK, params, "1234"),
               "X-Plivo-Signature-V3-Nonce": "1234", "Content-Type": "application/x-www-form-urlencoded"}
    adapter = providers.get("plivo")(PLIVO_CREDS, PLIVO_SETTINGS)
    assert adapter.read_status_callback(url=CALLBACK, headers=headers, body=urlencode(params).encode()) == (
        "db3ce55a", "delivered")


def test_plivo_status_callback_with_a_v2_signature_is_read():
    nonce = "05429567804466091622"
    signature = base64.b64encode(hmac.new(b"pl-token", (CALLBACK + nonce).encode(), hashlib.sha256).digest())
    headers = {"X-Plivo-Signature-V2": signature.decode(), "X-Plivo-Signature-V2-Nonce": nonce}
    body = urlencode({"MessageUUID": "u1", "Status": "undelivered", "ErrorCode": "30"}).encode()
    adapter = providers.get("plivo")(PLIVO_CREDS, PLIVO_SETTINGS)
    assert adapter.read_status_callback(url=CALLBACK + "?a=1", headers=headers, body=body) == ("u1", "undelivered")


def test_plivo_tampered_status_callback_is_refused():
    params = {"MessageUUID": "db3ce55a", "Status": "failed"}
    headers = {"X-Plivo-Signature-V3": plivo_v3("pl-token", CALLBACK, {**params, "Status": "delivered"}, "9"),
               "X-Plivo-Signature-V3-Nonce": "9"}
    adapter = providers.get("plivo")(PLIVO_CREDS, PLIVO_SETTINGS)
    with pytest.raises(ProviderError) as caught:
        adapter.read_status_callback(url=CALLBACK, headers=headers, body=urlencode(params).encode())
    assert caught.value.status_code == 403
    with pytest.raises(ProviderError) as unsigned:
        adapter.read_status_callback(url=CALLBACK, headers={}, body=urlencode(params).encode())
    assert unsigned.value.status_code == 403


# -- MessageBird --

MB_CREDS, MB_SETTINGS = {"access_key": "live_key", "signing_key": "sign-key"}, {"originator": "Acme"}


def test_messagebird_check_and_send_make_the_documented_calls(server):
    server.expect("GET", "/balance", json={"payment": "prepaid", "type": "credits", "amount": 12})
    server.expect("POST", "/messages", status=201, json={
        "id": "e8077d80", "recipients": {"totalCount": 1, "items": [{"recipient": 31612345678, "status": "sent"}]}})
    adapter = make("messagebird", server, MB_CREDS, MB_SETTINGS)
    assert adapter.check() == "Balance: 12 credits (prepaid)"
    sent = adapter.send_sms("+31612345678", "Hallo", CALLBACK)
    assert (sent.provider_message_id, sent.status) == ("e8077d80", "sent")
    for request in server.requests:
        assert request.headers["Authorization"] == "AccessKey live_key"
    assert server.requests[1].json == {"originator": "Acme", "recipients": [31612345678], "body": "Hallo",
                                       "reference": "leadforge", "reportUrl": CALLBACK}


def test_messagebird_wrong_credentials_say_what_messagebird_answered(server):
    server.expect("GET", "/balance", status=401, json={
        "errors": [{"code": 2, "description": "Request not allowed (incorrect access_key)",
                    "parameter": "access_key"}]})
    with pytest.raises(ProviderError) as caught:
        make("messagebird", server, MB_CREDS, MB_SETTINGS).check()
    assert caught.value.message == ("MessageBird refused the credentials (401): "
                                    "Request not allowed (incorrect access_key)")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def messagebird_jwt(key: str, claims: dict) -> str:
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def report_url() -> str:
    return CALLBACK + "?" + urlencode({"id": "e8077d80", "reference": "leadforge", "recipient": "31612345678",
                                       "status": "delivered", "statusDatetime": "2026-05-03T14:26:57+00:00"})


def test_messagebird_status_report_signed_with_a_jwt_is_read():
    now = int(time.time())
    url = report_url()
    token = messagebird_jwt("sign-key", {"iss": "MessageBird", "nbf": now, "exp": now + 60, "jti": "x",
                                         "url_hash": hashlib.sha256(url.encode()).hexdigest()})
    adapter = providers.get("messagebird")(MB_CREDS, MB_SETTINGS)
    assert adapter.read_status_callback(url=url, headers={"MessageBird-Signature-JWT": token}, body=b"") == (
        "e8077d80", "delivered")


@pytest.mark.parametrize("tamper", ["key", "url", "expired", "issuer", "body"])
def test_messagebird_tampered_jwt_is_refused(tamper):
    now = int(time.time())
    url = report_url()
    claims = {"iss": "MessageBird" if tamper != "issuer" else "Someone", "nbf": now - 120,
              "exp": now + 60 if tamper != "expired" else now - 60,
              "url_hash": hashlib.sha256(url.encode()).hexdigest()}
    token = messagebird_jwt("other-key" if tamper == "key" else "sign-key", claims)
    called = url.replace("delivered", "delivery_failed") if tamper == "url" else url
    adapter = providers.get("messagebird")(MB_CREDS, MB_SETTINGS)
    with pytest.raises(ProviderError) as caught:
        adapter.read_status_callback(url=called, headers={"MessageBird-Signature-JWT": token},
                                     body=b"{}" if tamper == "body" else b"")
    assert caught.value.status_code == 403


def test_messagebird_status_report_with_the_older_hmac_signature():
    url, timestamp = report_url(), str(int(time.time()))
    query = urlencode(sorted({"id": "e8077d80", "recipient": "31612345678", "reference": "leadforge",
                              "status": "delivered", "statusDatetime": "2026-05-03T14:26:57+00:00"}.items()))
    signed = f"{timestamp}\n{query}\n".encode() + hashlib.sha256(b"").digest()
    signature = base64.b64encode(hmac.new(b"sign-key", signed, hashlib.sha256).digest()).decode()
    adapter = providers.get("messagebird")(MB_CREDS, MB_SETTINGS)
    headers = {"MessageBird-Signature": signature, "MessageBird-Request-Timestamp": timestamp}
    assert adapter.read_status_callback(url=url, headers=headers, body=b"") == ("e8077d80", "delivered")
    with pytest.raises(ProviderError) as caught:
        adapter.read_status_callback(url=url.replace("delivered", "expired"), headers=headers, body=b"")
    assert caught.value.status_code == 403


def test_messagebird_without_a_signing_key_refuses_reports():
    adapter = providers.get("messagebird")({"access_key": "k"}, MB_SETTINGS)
    with pytest.raises(ProviderError) as caught:
        adapter.read_status_callback(url=report_url(), headers={}, body=b"")
    assert caught.value.status_code == 403 and "signing key" in caught.value.message


# -- Bandwidth --

BW_CREDS = {"password": "bw-pass", "callback_password": "cb-pass"}
BW_SETTINGS = {"account_id": "9900000", "username": "api-user", "application_id": "93de2206",
               "from_number": "+19195551234", "callback_username": "leadforge"}


def test_bandwidth_check_and_send_make_the_documented_calls(server):
    server.expect("GET", "/api/v2/users/9900000/messages", json={"totalCount": 0, "messages": []})
    server.expect("POST", "/api/v2/users/9900000/messages", status=202,
                  json={"id": "1589228074636lm4k2je7j7jklbn2", "owner": "+19195551234", "to": ["+14155550123"]})
    adapter = make("bandwidth", server, BW_CREDS, BW_SETTINGS)
    assert "9900000" in adapter.check()
    sent = adapter.send_sms("+14155550123", "Hey", CALLBACK)
    assert (sent.provider_message_id, sent.status) == ("1589228074636lm4k2je7j7jklbn2", "queued")
    check, send = server.requests
    assert check.query == {"limit": ["1"]}
    for request in (check, send):
        assert request.headers["Authorization"] == basic("api-user", "bw-pass")
    assert send.json == {"applicationId": "93de2206", "to": ["+14155550123"], "from": "+19195551234", "text": "Hey"}


def test_bandwidth_wrong_credentials_say_what_bandwidth_answered(server):
    server.expect("GET", "/api/v2/users/9900000/messages", status=401,
                  json={"type": "authentication-error", "description": "Your credentials are invalid"})
    with pytest.raises(ProviderError) as caught:
        make("bandwidth", server, BW_CREDS, BW_SETTINGS).check()
    assert caught.value.message == "Bandwidth refused the credentials (401): Your credentials are invalid"


def bandwidth_event(kind: str, message_id: str = "m-1") -> bytes:
    return json.dumps([{"type": kind, "time": "2026-01-01T00:00:00Z", "description": "ok", "to": "+14155550123",
                        "message": {"id": message_id, "direction": "out", "applicationId": "93de2206"}}]).encode()


@pytest.mark.parametrize("kind,status", [("message-delivered", "delivered"), ("message-failed", "failed"),
                                         ("message-received", None)])
def test_bandwidth_callback_with_its_credentials_is_read(kind, status):
    adapter = providers.get("bandwidth")(BW_CREDS, BW_SETTINGS)
    headers = {"Authorization": basic("leadforge", "cb-pass")}
    assert adapter.read_status_callback(url=CALLBACK, headers=headers, body=bandwidth_event(kind)) == ("m-1", status)


@pytest.mark.parametrize("authorization", [basic("leadforge", "wrong"), basic("other", "cb-pass"), "", "Basic !!"])
def test_bandwidth_callback_with_other_credentials_is_refused(authorization):
    adapter = providers.get("bandwidth")(BW_CREDS, BW_SETTINGS)
    with pytest.raises(ProviderError) as caught:
        adapter.read_status_callback(url=CALLBACK, headers={"Authorization": authorization},
                                     body=bandwidth_event("message-delivered"))
    assert caught.value.status_code == 403


# -- Telnyx --

@pytest.fixture(scope="module")
def telnyx_key():
    private = Ed25519PrivateKey.generate()
    public = base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    return private, public


def test_telnyx_check_and_send_make_the_documented_calls(server):
    server.expect("GET", "/v2/balance",
                  json={"data": {"balance": "300.00", "currency": "USD", "record_type": "balance"}})
    server.expect("POST", "/v2/messages", json={"data": {"id": "40385f64", "to": [{"phone_number": "+14155550123",
                                                                                    "status": "queued"}]}})
    adapter = make("telnyx", server, {"api_key": "KEY123"}, {"from_number": "+18445550001"})
    assert adapter.check() == "Balance: 300.00 USD"
    sent = adapter.send_sms("+14155550123", "Hello, World!", CALLBACK)
    assert (sent.provider_message_id, sent.status) == ("40385f64", "queued")
    for request in server.requests:
        assert request.headers["Authorization"] == "Bearer KEY123"
    assert server.requests[1].json == {"from": "+18445550001", "to": "+14155550123", "text": "Hello, World!",
                                       "webhook_url": CALLBACK}


def test_telnyx_wrong_credentials_say_what_telnyx_answered(server):
    server.expect("GET", "/v2/balance", status=401, json={"errors": [
        {"code": "10009", "title": "Authentication failed", "detail": "The API key looks malformed."}]})
    with pytest.raises(ProviderError) as caught:
        make("telnyx", server, {"api_key": "bad"}, {}).check()
    assert caught.value.message == "Telnyx refused the credentials (401): The API key looks malformed."


def telnyx_webhook(status: str, event_type: str = "message.finalized") -> bytes:
    return json.dumps({"data": {"event_type": event_type, "id": "ev-1", "record_type": "event", "payload": {
        "id": "40385f64", "direction": "outbound", "to": [{"phone_number": "+14155550123", "status": status}]}},
        "meta": {"attempt": 1}}).encode()


def signed_telnyx(private, body: bytes, timestamp: str | None = None) -> dict:
    timestamp = timestamp or str(int(time.time()))
    signature = base64.b64encode(private.sign(timestamp.encode() + b"|" + body)).decode()
    return {"telnyx-signature-ed25519": signature, "telnyx-timestamp": timestamp}


@pytest.mark.parametrize("their,ours", [("delivered", "delivered"), ("delivery_failed", "undelivered"),
                                        ("sending_failed", "failed"), ("delivery_unconfirmed", "sent")])
def test_telnyx_webhook_signed_with_ed25519_is_read(telnyx_key, their, ours):
    private, public = telnyx_key
    body = telnyx_webhook(their)
    adapter = providers.get("telnyx")({"api_key": "k"}, {"public_key": public})
    assert adapter.read_status_callback(url=CALLBACK, headers=signed_telnyx(private, body), body=body) == (
        "40385f64", ours)


def test_telnyx_tampered_or_stale_webhook_is_refused(telnyx_key):
    private, public = telnyx_key
    body = telnyx_webhook("delivered")
    adapter = providers.get("telnyx")({"api_key": "k"}, {"public_key": public})
    forged = signed_telnyx(private, body)
    stale = signed_telnyx(private, body, str(int(time.time()) - 3600))
    other = signed_telnyx(Ed25519PrivateKey.generate(), body)
    for headers, sent in ((forged, telnyx_webhook("delivery_failed")), (stale, body), (other, body), ({}, body)):
        with pytest.raises(ProviderError) as caught:
            adapter.read_status_callback(url=CALLBACK, headers=headers, body=sent)
        assert caught.value.status_code == 403
    keyless = providers.get("telnyx")({"api_key": "k"}, {})
    with pytest.raises(ProviderError) as caught:
        keyless.read_status_callback(url=CALLBACK, headers=forged, body=body)
    assert caught.value.status_code == 403 and "public key" in caught.value.message


# -- every adapter: 5xx and 429 are retryable, a timeout too, with the reason --

SENDS = {
    "twilio": (TWILIO["credentials"], TWILIO["settings"], "POST", "/2010-04-01/Accounts/AC123/Messages.json"),
    "plivo": (PLIVO_CREDS, PLIVO_SETTINGS, "POST", "/v1/Account/MAXXXX/Message/"),
    "messagebird": (MB_CREDS, MB_SETTINGS, "POST", "/messages"),
    "bandwidth": (BW_CREDS, BW_SETTINGS, "POST", "/api/v2/users/9900000/messages"),
    "telnyx": ({"api_key": "k"}, {"from_number": "+18445550001"}, "POST", "/v2/messages"),
}


@pytest.mark.parametrize("key", sorted(SENDS))
@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_5xx_or_429_is_a_retryable_error_with_the_reason(server, key, status):
    credentials, settings, method, path = SENDS[key]
    server.expect(method, path, status=status, json={"message": "try later", "error": "try later"})
    with pytest.raises(ProviderError) as caught:
        make(key, server, credentials, settings).send_sms("+14155550123", "Hi")
    assert caught.value.retryable and caught.value.status_code == status
    assert f"answered {status}" in caught.value.message and "try later" in caught.value.message


@pytest.mark.parametrize("key", sorted(SENDS))
def test_a_timeout_is_a_retryable_error(server, key):
    credentials, settings, method, path = SENDS[key]
    server.expect(method, path, json={"id": "late"}, delay=1)
    with pytest.raises(ProviderError) as caught:
        make(key, server, credentials, settings, timeout=0.2).send_sms("+14155550123", "Hi")
    assert caught.value.retryable and "did not answer within 0.2 seconds" in caught.value.message


@pytest.mark.parametrize("key", sorted(SENDS))
def test_a_refused_message_is_not_retryable(server, key):
    credentials, settings, method, path = SENDS[key]
    server.expect(method, path, status=400, json={"message": "The 'To' number is not valid."})
    with pytest.raises(ProviderError) as caught:
        make(key, server, credentials, settings).send_sms("+14155550123", "Hi")
    assert not caught.value.retryable and "The 'To' number is not valid." in caught.value.message
