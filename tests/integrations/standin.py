"""A local HTTP server standing in for a provider's API or a webhook receiver.

`server.expect(method, path, status=200, json=..., body=..., headers=..., delay=0)` scripts the answer for a
request (the first matching expectation answers; unmatched requests get 404); `server.requests` records
every request received (method, path, query, headers, body bytes, json), so a test checks the exact call the
provider's documentation specifies.

    with StandIn() as server:
        server.expect("GET", "/v3/user/account", json={"type": "free"})
        ...  # point the adapter at server.url
        assert server.requests[0].headers["Authorization"] == "Bearer SG.key"
"""
import json as jsonlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    @property
    def json(self):
        return jsonlib.loads(self.body) if self.body else None

    @property
    def form(self) -> dict:
        return {key: values[0] if len(values) == 1 else values
                for key, values in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Expectation:
    method: str
    path: str
    status: int = 200
    json: object = None
    body: bytes | str = b""
    headers: dict = field(default_factory=dict)
    delay: float = 0
    times: int | None = None  # answer this many times, then let the next expectation answer


class StandIn:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.requests: list[Received] = []
        self.expectations: list[Expectation] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_port}"

    def expect(self, method: str, path: str, status: int = 200, *, json=None, body=b"", headers=None,
               delay: float = 0, times: int | None = None) -> Expectation:
        expectation = Expectation(method.upper(), path, status, json, body, headers or {}, delay, times)
        with self._lock:
            self.expectations.append(expectation)
        return expectation

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.expectations.clear()

    def received(self, method: str | None = None, path: str | None = None) -> list[Received]:
        return [r for r in list(self.requests)
                if (method is None or r.method == method.upper()) and (path is None or r.path == path)]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, method: str, path: str) -> Expectation | None:
        with self._lock:
            for expectation in self.expectations:
                if expectation.method == method and (expectation.path == path or (
                        expectation.path.endswith("*") and path.startswith(expectation.path[:-1]))):
                    if expectation.times is not None:
                        if expectation.times <= 0:
                            continue
                        expectation.times -= 1
                    return expectation
        return None

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                standin.requests.append(Received(self.command, split.path, parse_qs(split.query),
                                                 {k: v for k, v in self.headers.items()}, body))
                expectation = standin._answer(self.command, split.path)
                if expectation is None:
                    return self._send(404, b'{"message": "no such route in the stand-in"}', {})
                if expectation.delay:
                    time.sleep(expectation.delay)
                if expectation.json is not None:
                    payload = jsonlib.dumps(expectation.json).encode()
                    headers = {"Content-Type": "application/json", **expectation.headers}
                else:
                    payload = expectation.body.encode() if isinstance(expectation.body, str) else expectation.body
                    headers = dict(expectation.headers)
                self._send(expectation.status, payload, headers)

            def _send(self, status, payload, headers):
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler
