"""The guarded HTTP client of user-given URLs (app/integrations/safehttp.py): private, loopback, link-local...
addresses refused when the URL is checked and again at every connection (DNS rebinding, redirects), http://
only for development hosts, the connection made to the checked address with TLS still naming the host."""
import datetime
import http.server
import ipaddress
import ssl
import threading

import httpcore
import pytest

from app.integrations import safehttp
from tests.integrations.standin import StandIn

NO_DEV_HOSTS = frozenset()
PUBLIC_IP = "93.184.215.14"


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("127.10.20.30", "loopback"), ("10.1.2.3", "private"), ("172.16.5.4", "private"),
    ("192.168.1.1", "private"), ("169.254.169.254", "link-local"), ("100.64.0.1", "shared"),
    ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"), ("240.0.0.1", "private"), ("203.0.113.9", "private"),
    ("::1", "loopback"), ("::", "unspecified"), ("fe80::1%eth0", "link-local"), ("fc00::1", "private"),
    ("ff02::1", "multicast"), ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "link-local"), ("64:ff9b::7f00:1", "loopback"), ("2002:7f00:1::", "loopback"),
])
def test_addresses_that_are_not_public_are_named(address, kind):
    assert kind in safehttp.address_problem(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert safehttp.address_problem(address) is None


@pytest.mark.parametrize("url, words", [
    ("http://example.com/hook", "Use an https:// URL"),
    ("https://user:secret@example.com/hook", "Take the user name and password out"),
    ("ftp://example.com/hook", "starts with https://"),
    ("not a url", "starts with https://"),
    ("https://10.0.0.8/hook", "10.0.0.8 is a private address"),
    ("https://192.168.0.10/hook", "192.168.0.10 is a private address"),
    ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("https://[::1]/hook", "::1 is a loopback address"),
    ("https://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1 is a loopback address"),
    ("https://localhost/hook", "localhost resolves to 127.0.0.1, which is a loopback address"),
    ("https://2130706433/hook", "resolves to 127.0.0.1"),  # 127.0.0.1 as one number
    ("https://0x7f.1/hook", "resolves to 127.0.0.1"),
    ("https://no-such-host.invalid/hook", "could not be found"),
])
def test_urls_refused_when_saved(url, words):
    with pytest.raises(safehttp.UnsafeURL) as refused:
        safehttp.check_destination(url, NO_DEV_HOSTS)
    assert words in refused.value.message


def test_a_name_resolving_to_loopback_is_refused(monkeypatch):
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: ["127.0.0.1"])
    with pytest.raises(safehttp.UnsafeURL, match="hooks.example.com resolves to 127.0.0.1, which is a loopback"):
        safehttp.check_destination("https://hooks.example.com/in", NO_DEV_HOSTS)


def test_every_address_of_a_name_is_checked(monkeypatch):
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: [PUBLIC_IP, "10.0.0.7"])
    with pytest.raises(safehttp.UnsafeURL, match="10.0.0.7, which is a private address"):
        safehttp.check_destination("https://hooks.example.com/in", NO_DEV_HOSTS)


def test_development_hosts_may_use_http_and_private_addresses():
    trusted = safehttp.dev_hosts("localhost, 127.0.0.1")
    assert str(safehttp.check_destination("http://127.0.0.1:8000/hook", trusted)) == "http://127.0.0.1:8000/hook"
    assert safehttp.check_destination("http://LOCALHOST:9/x", trusted).host == "localhost"
    with pytest.raises(safehttp.UnsafeURL):  # a name is trusted as written, not by where it resolves to
        safehttp.check_destination("http://127.0.0.2/hook", trusted)


def test_the_connection_goes_to_the_checked_address_not_the_name(monkeypatch):
    asked, connected = [], []
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: asked.append((host, port)) or [PUBLIC_IP])

    def connect_tcp(self, host, port, **kwargs):
        connected.append((host, port))
        raise httpcore.ConnectError("no network in the tests")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    with safehttp.client(timeout=2, trusted=NO_DEV_HOSTS) as client, pytest.raises(Exception, match="no network"):
        client.post("https://hooks.example.com/in", content=b"{}")
    assert asked == [("hooks.example.com", 443)]
    assert connected == [(PUBLIC_IP, 443)]


def test_dns_rebinding_is_refused_at_connect_time(monkeypatch):
    """Public when the URL is saved, loopback when it is requested: the request never leaves."""
    answers = iter([[PUBLIC_IP], ["127.0.0.1"]])
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: next(answers))
    safehttp.check_destination("https://rebind.example.com/in", NO_DEV_HOSTS)
    with safehttp.client(timeout=2, trusted=NO_DEV_HOSTS) as client, \
            pytest.raises(safehttp.UnsafeURL, match="rebind.example.com resolves to 127.0.0.1"):
        client.post("https://rebind.example.com/in", content=b"{}")


@pytest.mark.parametrize("target", ["https://evil.example.com:{port}/steal", "http://10.0.0.9/steal",
                                    "http://localhost:{port}/steal"])
def test_followed_redirects_are_checked_like_the_first_request(monkeypatch, target):
    monkeypatch.setattr(safehttp, "resolve", lambda host, port: ["127.0.0.1"])
    with StandIn() as receiver:
        receiver.expect("POST", "/in", 307, headers={"Location": target.format(port=receiver.server.server_port)})
        receiver.expect("POST", "/steal", 200)
        with safehttp.client(timeout=2, trusted="127.0.0.1", follow_redirects=True) as client, \
                pytest.raises(safehttp.UnsafeURL):
            client.post(f"{receiver.url}/in", content=b"{}")
        assert [r.path for r in receiver.requests] == ["/in"]


def test_redirects_are_not_followed_unless_asked():
    with StandIn() as receiver:
        receiver.expect("POST", "/in", 302, headers={"Location": f"{receiver.url}/elsewhere"})
        with safehttp.client(timeout=2, trusted="127.0.0.1") as client:
            response = client.post(f"{receiver.url}/in", content=b"{}")
        assert response.status_code == 302
        assert [r.path for r in receiver.requests] == ["/in"]


def test_environment_proxies_are_ignored(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.255.255.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://10.255.255.1:9")
    with StandIn() as receiver:
        receiver.expect("POST", "/in", 204)
        with safehttp.client(timeout=2, trusted="127.0.0.1") as client:
            assert client.post(f"{receiver.url}/in", content=b"{}").status_code == 204


def _self_signed(tmp_path, name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_names_the_host_while_connecting_to_its_checked_address(monkeypatch, tmp_path):
    """SNI, certificate check and Host are the URL's name; the socket goes to the address resolved."""
    cert_path, key_path = _self_signed(tmp_path, "hooks.test")
    seen = {"sni": [], "host": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen["host"].append(self.headers["Host"])
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_port
    try:
        resolved = []
        monkeypatch.setattr(safehttp, "resolve", lambda host, p: resolved.append(host) or ["127.0.0.1"])
        verify = ssl.create_default_context(cafile=str(cert_path))
        with safehttp.client(timeout=5, trusted="hooks.test", verify=verify) as client:
            response = client.post(f"https://hooks.test:{port}/in", content=b"{}")
        assert response.status_code == 200
        assert resolved == ["hooks.test"]
        assert seen == {"sni": ["hooks.test"], "host": [f"hooks.test:{port}"]}
        # Not trusted as a development host, the same name's loopback address is refused before any TLS.
        with safehttp.client(timeout=5, trusted=NO_DEV_HOSTS, verify=verify) as client, \
                pytest.raises(safehttp.UnsafeURL):
            client.post(f"https://hooks.test:{port}/in", content=b"{}")
        assert len(seen["sni"]) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_ip_module_agrees_on_the_shared_range():
    assert not ipaddress.ip_address("100.64.0.1").is_private  # why the shared range is checked by itself
