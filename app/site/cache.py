"""The published site's cache: (host, path) -> the response to send, in each process, invalidated in every
process at once through one version value.

Why a version and not per-key deletes: each gunicorn worker has its own in-process LRU, and a publish
happens in one of them. Every change that can alter what the site answers (publish, unpublish, funnel
status / slug / custom domain / deletion, step slug / order / deletion, a split test started, ended or
re-weighted) sets a new random version in
Redis after its commit; each site request reads the version (one Redis GET, ~0.1 ms) and uses a cached
entry only if it was filled under the same version. So an unpublish is effective on the very next
request of every worker, with no time window. (SITE_VERSION_TTL > 0 trades that for throughput: each
process then reuses Redis's answer for that many seconds, so another worker may serve an unpublished
page that long; the default, 0, is exact.) Random values, not INCR, so that a flushed or restarted
Redis can never make an old entry look current. Without Redis (SQLite development mode, one process)
the version lives in the process.

Anything that changes those rows goes through the session listener below, so every change, made by
app/builder/publishing.py or elsewhere (an admin script, `funnels.set_status`), invalidates once, after
its commit. A higher package whose rows change the pages (tracking pixels) adds its model with `watch`.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

VERSION_KEY = "leadforge:site:version"
DEFAULT_SIZE = 512
# Attributes whose change alters what the site answers for some (host, path).
WATCHED = {
    "Funnel": ("slug", "status", "custom_domain", "deleted_at"),
    "FunnelStep": ("slug", "position", "funnel_id"),
    "Page": ("published_html", "published_etag"),
    # A split test's start, end and traffic split change which document a step's address answers.
    "SplitTest": ("status", "step_id"),
    "SplitVariant": ("weight", "page_id"),
    "Account": ("analytics_respect_dnt",),  # the tracker's tag says it (data-dnt)
}
# Kinds whose rows, when added or deleted, change some address's answer (beside a Page with a document).
ADDED_OR_DELETED = {"Funnel", "FunnelStep", "SplitTest", "SplitVariant"}


def watch(kind: str, attributes: tuple[str, ...], added_or_deleted: bool = True) -> None:
    """Another domain's model whose rows change what published pages answer (a higher package registers it,
    so that site never imports it: integrations' tracking pixels, app/integrations/pixels.py). Any committed
    change of these `attributes` of a row of class `kind` (and, with `added_or_deleted`, a row added or
    deleted) renews the version, as the site's own rows do."""
    WATCHED[kind] = tuple(dict.fromkeys((*WATCHED.get(kind, ()), *attributes)))
    if added_or_deleted:
        ADDED_OR_DELETED.add(kind)


@dataclass
class Entry:
    """A response ready to send: precomputed headers, bytes, and the gzip'd bytes."""
    status: str  # "200 OK"
    headers: list[tuple[str, str]]
    body: bytes
    etag: str = ""  # the quoted ETag, "" for none
    gzip_body: bytes | None = None
    refresh_at: float = float("inf")  # when its form tokens must be minted again (monotonic clock)
    version: str = ""
    extra: dict = field(default_factory=dict)
    split: object | None = None  # a running split test's variants (app/site/serving.py Split), else None


class SiteCache:
    """One per app (app.extensions["site_cache"]). Thread-safe (gthread workers)."""

    def __init__(self, redis_url: str | None, size: int = DEFAULT_SIZE, version_ttl: float = 0.0):
        self.size = size
        self.version_ttl = version_ttl  # 0: ask Redis at every request (exact); else reuse an answer that long
        self._checked: tuple[float, str] | None = None
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._local_version = uuid.uuid4().hex
        self._redis = None
        self._reader = None
        if redis_url:
            from redis import Redis

            self._redis = Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
            self._reader = VersionReader.for_url(redis_url)
        self.domains: tuple[str, frozenset] | None = None  # (version, custom domains) cached by serving

    # ---- the version ----

    def version(self) -> str | None:
        """The current version, or None when Redis cannot be reached (then nothing is served from cache)."""
        if self._redis is None:
            return self._local_version
        if self.version_ttl:
            checked = self._checked
            if checked is not None and time.monotonic() - checked[0] < self.version_ttl:
                return checked[1]
            value = self._ask_redis()
            self._checked = (time.monotonic(), value) if value else None
            return value
        return self._ask_redis()

    def _ask_redis(self) -> str | None:
        if self._reader is not None:
            value = self._reader.get()
            if value:
                return value
        try:
            value = self._redis.get(VERSION_KEY)
            if value is None:
                self._redis.set(VERSION_KEY, uuid.uuid4().hex, nx=True)
                value = self._redis.get(VERSION_KEY)
        except Exception:  # Redis down: serve from the database, never a possibly stale copy
            log.warning("site cache: cannot read the version from Redis", exc_info=True)
            return None
        return value.decode() if isinstance(value, bytes) else value

    def invalidate(self) -> None:
        """Every process forgets every entry (at its next request)."""
        self._local_version = uuid.uuid4().hex
        self._checked = None
        with self._lock:
            self._entries.clear()
            self.domains = None
        if self._redis is not None:
            try:
                self._redis.set(VERSION_KEY, uuid.uuid4().hex)
            except Exception:
                log.error("site cache: cannot bump the version in Redis; other processes may serve a stale page",
                          exc_info=True)

    # ---- entries ----

    def get(self, key, version: str | None) -> Entry | None:
        if version is None:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.version != version or entry.refresh_at <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key, entry: Entry) -> None:
        if not entry.version:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.domains = None

    def close(self) -> None:
        """Close this thread's connections (a cache that is thrown away)."""
        if self._reader is not None:
            self._reader.close()
        if self._redis is not None:
            self._redis.close()

    def __len__(self) -> int:
        return len(self._entries)


class VersionReader:
    """GET of the version key over raw sockets: the hot path's one Redis round trip costs ~10 µs of CPU
    this way against ~100 µs through redis-py (measured; see tests/perf/bench_site.py). A request
    takes an idle socket from the pool (list.pop/append are atomic) and gives it back. Any surprise
    (error, missing key, another reply) returns None, and the caller asks redis-py."""

    def __init__(self, host: str, port: int, db: int, password: str | None, username: str | None):
        import os
        import weakref

        self.address = (host, port)
        self.request = (f"*2\r\n$3\r\nGET\r\n${len(VERSION_KEY)}\r\n{VERSION_KEY}\r\n").encode()
        self.setup = b""
        if password:
            self.setup += _command([b"AUTH"] + ([username.encode()] if username else []) + [password.encode()])
        if db:
            self.setup += _command([b"SELECT", str(db).encode()])
        self.idle: list = []
        self.pid = os.getpid()
        weakref.finalize(self, _close_all, self.idle)

    @classmethod
    def for_url(cls, url: str):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(url)
        if parts.scheme != "redis":
            return None  # TLS, unix sockets: redis-py only
        path = parts.path.strip("/")
        return cls(parts.hostname or "localhost", parts.port or 6379, int(path) if path.isdigit() else 0,
                   unquote(parts.password) if parts.password else None,
                   unquote(parts.username) if parts.username else None)

    def _connect(self):
        import socket

        sock = socket.create_connection(self.address, timeout=1)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.setup:
                sock.sendall(self.setup)
                expected = self.setup.count(b"\r\n*") + 1
                replies = b""
                while replies.count(b"\r\n") < expected:
                    chunk = sock.recv(4096)
                    if not chunk:
                        raise OSError("closed")
                    replies += chunk
                if replies.startswith(b"-") or b"\r\n-" in replies:
                    raise OSError("AUTH/SELECT refused")
        except OSError:
            sock.close()
            raise
        return sock

    def get(self) -> str | None:
        import os

        if os.getpid() != self.pid:  # a forked child: its own connections
            self.idle.clear()
            self.pid = os.getpid()
        try:
            sock = self.idle.pop()
        except IndexError:
            sock = None
        try:
            sock = sock or self._connect()
            sock.sendall(self.request)
            reply = sock.recv(256)
            while not reply.endswith(b"\r\n") or (reply.startswith(b"$") and not reply.startswith(b"$-1")
                                                   and reply.count(b"\r\n") < 2):
                chunk = sock.recv(256)
                if not chunk:
                    raise OSError("closed")
                reply += chunk
        except OSError:
            if sock is not None:
                sock.close()
            return None
        self.idle.append(sock)
        if not reply.startswith(b"$") or reply.startswith(b"$-1"):
            return None
        return reply.partition(b"\r\n")[2][:-2].decode()

    def close(self) -> None:
        _close_all(self.idle)


def _close_all(sockets: list) -> None:
    while sockets:
        try:
            sockets.pop().close()
        except (IndexError, OSError):
            pass


def _command(parts: list[bytes]) -> bytes:
    out = b"*%d\r\n" % len(parts)
    for part in parts:
        out += b"$%d\r\n%s\r\n" % (len(part), part)
    return out


def init_app(app) -> SiteCache:
    cache = SiteCache(app.config.get("REDIS_URL"), int(app.config.get("SITE_CACHE_SIZE") or DEFAULT_SIZE),
                      float(app.config.get("SITE_VERSION_TTL") or 0))
    app.extensions["site_cache"] = cache
    _listen_once()
    return cache


def site_cache() -> SiteCache | None:
    return current_app.extensions.get("site_cache") if has_app_context() else None


def invalidate() -> None:
    cache = site_cache()
    if cache is not None:
        cache.invalidate()


# ---- invalidation: any committed change to a watched column -------------------------------------------

def _changed(obj) -> bool:
    watched = WATCHED.get(type(obj).__name__)
    if not watched:
        return False
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in watched)


def _alters_site(obj) -> bool:
    """Adding or deleting it changes some address's answer (a new slug, a page gone)."""
    kind = type(obj).__name__
    return kind in ADDED_OR_DELETED or (kind == "Page" and obj.published_html is not None)


def _after_flush(session, flush_context) -> None:
    if session.info.get("lf_site_changed"):
        return
    if any(_alters_site(obj) for obj in session.new) or any(_changed(obj) for obj in session.dirty):
        session.info["lf_site_changed"] = True


def _on_deleted(session, obj) -> None:
    """Every delete, those of orphans too (a step removed from its funnel is never in session.deleted)."""
    if _alters_site(obj):
        session.info["lf_site_changed"] = True


def _after_commit(session) -> None:
    if session.info.pop("lf_site_changed", False):
        invalidate()


def _after_soft_rollback(session, previous_transaction) -> None:
    session.info.pop("lf_site_changed", None)


_listening = False


def _listen_once() -> None:
    global _listening
    if _listening:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "persistent_to_deleted", _on_deleted)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)
    _listening = True
