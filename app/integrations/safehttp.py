"""HTTP to URLs that people give us (webhook endpoints), refusing the networks behind the server (SSRF).

A URL someone types could name the cloud's metadata service (169.254.169.254), the database next door
(10.0.0.5), or the server itself (localhost, 127.0.0.1, [::1], [::ffff:127.0.0.1], 0x7f.1 ...). Checking the
URL's text is not enough: a public name may resolve to a private address, or resolve to a public one when
the URL is saved and to 127.0.0.1 when it is requested (DNS rebinding), and a receiver may redirect.

So the check is made where the connection is made: `client()` gives an httpx client whose transport has a
network backend of its own (httpcore's `ConnectionPool(network_backend=...)`). For every connection it
resolves the host itself (`resolve`, which tests replace), refuses when ANY address is private, loopback,
link-local, multicast, reserved, unspecified, shared (100.64.0.0/10, carrier-grade NAT) or otherwise not
public — IPv4-mapped, NAT64 and 6to4 IPv6 addresses are judged by the IPv4 address inside — and then
connects to an address it checked, not to the name again. TLS still names the host (SNI, certificate
check) and so does the Host header: httpcore takes those from the URL, not from the backend.

Every request the client sends, a redirect's included when the caller follows them, is also checked before
it leaves (`check_url`): https only, except hosts of WEBHOOK_DEV_HOSTS (a comma list; empty in production,
"localhost,127.0.0.1" in development), which may use http:// and private addresses; no user name or
password in the URL. Refusals raise `UnsafeURL` with a sentence for the person who typed the URL.
"""
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from functools import lru_cache

import httpcore
import httpx

MAX_URL_LENGTH = 2000
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598): not public, not "private"
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known NAT64 prefix: the last 32 bits are IPv4
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


class UnsafeURL(Exception):
    """A URL (or the address its host resolves to) that outgoing requests may not reach."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order (an IP literal resolves to itself).
    A module function so that tests can make a name resolve to what they need."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def dev_hosts(value: str | Iterable[str] | None = None) -> frozenset[str]:
    """The hosts allowed over http:// and on private addresses: WEBHOOK_DEV_HOSTS, or the ones given."""
    if value is None:
        from flask import current_app

        value = current_app.config.get("WEBHOOK_DEV_HOSTS") or ""
    names = value.split(",") if isinstance(value, str) else value
    return frozenset(_host_key(name) for name in names if name and name.strip())


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def address_problem(address: str) -> str | None:
    """What kind of address this is when requests may not go there ("a loopback address"); None if public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if ip.version == 6:
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:  # the IPv4 address is where the packets go
            return address_problem(str(inner))
    checks = (("is_unspecified", "an unspecified address"), ("is_loopback", "a loopback address"),
              ("is_link_local", "a link-local address"), ("is_multicast", "a multicast address"))
    for attribute, words in checks:
        if getattr(ip, attribute):
            return words
    if ip.version == 4 and ip in SHARED:
        return "a shared (carrier-grade NAT) address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def check_url(url: str | httpx.URL, trusted: frozenset[str] | None = None) -> httpx.URL:
    """The URL parsed, if its form may be requested: http(s), https unless a development host, a host, no
    credentials. (Where the host resolves to is checked by `check_destination`, and again at connect time.)"""
    trusted = dev_hosts() if trusted is None else trusted
    if isinstance(url, str):
        if len(url) > MAX_URL_LENGTH:
            raise UnsafeURL(f"The URL has at most {MAX_URL_LENGTH} characters.")
        try:
            url = httpx.URL(url.strip())
        except (httpx.InvalidURL, ValueError, TypeError):
            raise UnsafeURL("This is not a valid URL: enter one like https://example.com/webhooks.") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise UnsafeURL("Enter a full URL that starts with https://, like https://example.com/webhooks.")
    if url.userinfo:
        raise UnsafeURL("Take the user name and password out of the URL: receivers check the signature "
                        "of each request instead (the signing secret).")
    if url.scheme == "http" and _host_key(url.host) not in trusted:
        raise UnsafeURL("Use an https:// URL: webhooks carry your contacts' data, so they are only sent "
                        "encrypted.")
    return url


def check_host(host: str, port: int, trusted: frozenset[str]) -> list[str]:
    """The addresses to connect to for `host`, every one of them checked (UnsafeURL if any may not be
    reached, or the name does not resolve). A development host is not checked."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"The host {host} could not be found (DNS): check the URL.") from exc
    if not addresses:
        raise UnsafeURL(f"The host {host} could not be found (DNS): check the URL.")
    if _host_key(host) in trusted:
        return addresses
    for address in addresses:
        problem = address_problem(address)
        if problem:
            named = host if _host_key(host) == _host_key(address) else f"{host} resolves to {address}, which"
            raise UnsafeURL(f"{named} is {problem}: requests to private networks are refused.")
    return addresses


def check_destination(url: str, trusted: frozenset[str] | None = None) -> httpx.URL:
    """What a URL is checked for when it is saved: its form, and where its host resolves to now."""
    trusted = dev_hosts() if trusted is None else trusted
    parsed = check_url(url, trusted)
    check_host(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80), trusted)
    return parsed


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend that resolves the host itself, checks every address, and connects to a
    checked one (never resolving the name a second time, so the answer cannot change in between)."""

    def __init__(self, trusted: frozenset[str]):
        self.trusted = trusted
        self.inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = check_host(host, port, self.trusted)
        error: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                              socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise UnsafeURL("Unix sockets are not reachable from webhooks.")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    """Certificate verification with the system's/certifi's roots; made once (loading them costs ~10 ms)."""
    return httpx.create_ssl_context()


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, trusted: frozenset[str], verify: ssl.SSLContext | None = None):
        context = verify or _default_ssl_context()
        super().__init__(verify=context, trust_env=False)
        # httpx 0.28 has no argument for the network backend: the pool it made is replaced by the same one
        # with ours (httpcore 1.0's documented `ConnectionPool(network_backend=...)`).
        self._pool = httpcore.ConnectionPool(ssl_context=context, max_connections=10, max_keepalive_connections=5,
                                             keepalive_expiry=5.0, network_backend=GuardedBackend(trusted))


def client(timeout: float, trusted: str | Iterable[str] | None = None, follow_redirects: bool = False,
           max_redirects: int = 5, verify: ssl.SSLContext | None = None, **kwargs) -> httpx.Client:
    """An httpx.Client whose every request and connection is checked (see the module's docstring).

    `trusted`: the development hosts (WEBHOOK_DEV_HOSTS when None). Redirects are not followed unless asked;
    followed, each hop is checked like the first request. Environment proxies are ignored (a proxy would
    connect for us, unchecked). Use it as a context manager."""
    hosts = dev_hosts(trusted)

    def check_request(request: httpx.Request) -> None:
        check_url(request.url, hosts)

    return httpx.Client(transport=GuardedTransport(hosts, verify), timeout=timeout, trust_env=False,
                        follow_redirects=follow_redirects, max_redirects=max_redirects,
                        event_hooks={"request": [check_request]}, **kwargs)
