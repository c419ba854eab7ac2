"""POST /api/v1/analytics/track: the tracking endpoint, a WSGI layer in front of Flask.

It is the busiest address of the product (every visitor's every page), so it never touches the database on
the way: each request's events are validated against an in-process directory of funnels (refreshed every
minute), then pushed with the request's IP and user agent as ONE item on a Redis list, in the same round
trip as the per-IP rate count (a Lua script). The ingest worker (app/analytics/ingest.py) stores them in
batches. When Redis does not answer, the item goes to the database inbox instead (slower, but nothing
accepted is lost); without Redis at all (the embedded default) it always does, and a job drains it.

Answers: 202 {"accepted", "rejected", "ignored", "errors"} (ignored: bots, Do-Not-Track); 400 with the reason
for malformed JSON, a batch over 50, or no valid event; 403 for an Origin other than the published site
or a custom domain; 405; 413 over 2 MB; 429 over RATE_LIMIT events a second from one IP.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from app.analytics.models import CONVERSION_TYPES, EVENT_TYPES, EXIT_OUTCOMES
from app.analytics.useragents import is_bot

log = logging.getLogger(__name__)

TRACK_PATH = "/api/v1/analytics/track"
MAX_EVENTS = 50
MAX_BODY = 2 * 1024 * 1024
MAX_METADATA = 4096  # bytes of JSON per event
MAX_AHEAD = timedelta(minutes=10)  # clocks are wrong, but not by more
MAX_BEHIND = timedelta(hours=48)  # a beacon queued by a sleeping laptop
DIRECTORY_TTL = 60.0
UNKNOWN_TTL = 10.0
RATE_WINDOW = 1  # second
PUSH_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], 2) end
if tonumber(ARGV[2]) > 0 and count > tonumber(ARGV[2]) then return -count end
redis.call('RPUSH', KEYS[2], ARGV[3])
return count
"""
ID_FIELDS = ("page_id", "funnel_step_id", "previous_step_id", "next_step_id", "variant_id", "conversion_goal_id")
TEXT_LIMITS = {"url": 2000, "referrer": 2000, "utm_source": 255, "utm_medium": 255, "utm_campaign": 255}


class Invalid(Exception):
    """Why one event is refused (the rest of the batch goes on)."""


@dataclass
class FunnelInfo:
    account_id: str
    custom_domain: str | None
    step_of_page: dict[str, str]  # page id (the step's page or a variant page) -> step id
    variants: dict[str, str]  # split variant id -> step id
    ip_mode: str
    respect_dnt: bool
    steps: frozenset = field(default_factory=frozenset)


class FunnelDirectory:
    """What the endpoint must know of each funnel, loaded once a minute per process (unknown ids: 10 s)."""

    def __init__(self, app):
        self.app = app
        self.entries: dict[str, tuple[float, FunnelInfo | None]] = {}
        self.lock = threading.Lock()

    def get(self, funnel_id: str) -> FunnelInfo | None:
        now = time.monotonic()
        cached = self.entries.get(funnel_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        info = self._load(funnel_id)
        with self.lock:
            if len(self.entries) > 50_000:
                self.entries.clear()
            self.entries[funnel_id] = (now + (DIRECTORY_TTL if info else UNKNOWN_TTL), info)
        return info

    def _load(self, funnel_id: str) -> FunnelInfo | None:
        from sqlalchemy import select

        from app.auth.models import Account
        from app.extensions import db
        from app.funnels.models import Funnel, FunnelStep, Page, SplitTest, SplitVariant

        funnel = uuid.UUID(funnel_id)
        with self.app.app_context():
            row = db.session.execute(
                select(Funnel.account_id, Funnel.custom_domain, Account.analytics_ip_mode,
                       Account.analytics_respect_dnt)
                .join(Account, Account.id == Funnel.account_id)
                .where(Funnel.id == funnel, Funnel.deleted_at.is_(None))).first()
            if row is None:
                return None
            pages = db.session.execute(select(Page.id, Page.step_id).join(FunnelStep, FunnelStep.id == Page.step_id)
                                       .where(FunnelStep.funnel_id == funnel)).all()
            variants = db.session.execute(select(SplitVariant.id, SplitTest.step_id)
                                          .join(SplitTest, SplitTest.id == SplitVariant.test_id)
                                          .where(SplitTest.funnel_id == funnel)).all()
            steps = db.session.execute(select(FunnelStep.id).where(FunnelStep.funnel_id == funnel)).scalars()
            return FunnelInfo(account_id=str(row.account_id), custom_domain=row.custom_domain,
                              step_of_page={str(p): str(s) for p, s in pages},
                              variants={str(v): str(s) for v, s in variants}, ip_mode=row.analytics_ip_mode,
                              respect_dnt=row.analytics_respect_dnt, steps=frozenset(str(s) for s in steps))


# ---- one event ----------------------------------------------------------------------------------------

CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid_text(value, name: str, required: bool = False) -> str | None:
    """The UUID in its canonical text (lower case, dashes): what every table and sketch keys on."""
    if value is None or value == "":
        if required:
            raise Invalid(f"{name} is required")
        return None
    if isinstance(value, str) and CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, AttributeError, TypeError):
        raise Invalid(f"{name} is not a UUID") from None


def _moment(value, now: datetime) -> datetime:
    if value is None or value == "":
        return now
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value / 1000, UTC)
        else:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise Invalid("timestamp is not ISO 8601 or epoch milliseconds") from None
    if moment > now + MAX_AHEAD:
        raise Invalid("timestamp is in the future")
    if moment < now - MAX_BEHIND:
        raise Invalid("timestamp is more than 48 hours old")
    return moment.astimezone(UTC)


def _text(event: dict, name: str) -> str | None:
    value = event.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    return value[:TEXT_LIMITS[name]]


def source_of(event: dict, own_hosts: set[str]) -> str:
    """utm_source, else the tracker's session source, else the referrer's host when it is another site."""
    for candidate in (event.get("utm_source"), event.get("source")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip().lower()[:100]
    referrer = event.get("referrer")
    if isinstance(referrer, str) and referrer:
        host = (urlsplit(referrer).hostname or "").lower().removeprefix("www.")
        if host and host not in own_hosts:
            return host[:100]
    return "direct"


def truncate_ip(address: str | None, mode: str) -> str | None:
    """IPv4 without its last octet, IPv6 without its last 80 bits; nothing at all in mode "none"."""
    if not address or mode == "none":
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def validate(event, info_of, now: datetime, own_hosts: set[str], origin_host: str | None) -> dict:
    """The events-table row of one tracked event, or Invalid with the reason."""
    if not isinstance(event, dict):
        raise Invalid("an event must be a JSON object")
    kind = event.get("event_type")
    if kind not in EVENT_TYPES:
        raise Invalid(f"event_type must be one of {', '.join(EVENT_TYPES)}")
    funnel_id = _uuid_text(event.get("funnel_id"), "funnel_id", required=True)
    info: FunnelInfo | None = info_of(funnel_id)
    if info is None:
        raise Invalid("unknown funnel_id")
    if origin_host and origin_host not in own_hosts and origin_host != info.custom_domain:
        raise Invalid("this funnel is not served from the page's origin")
    visitor_id = _uuid_text(event.get("visitor_id"), "visitor_id", required=True)
    session_id = event.get("session_id")
    if not isinstance(session_id, str) or not 1 <= len(session_id) <= 100:
        raise Invalid("session_id is required (1 to 100 characters)")
    ids = {name: _uuid_text(event.get(name), name) for name in ID_FIELDS}
    step_id = ids["funnel_step_id"] or info.step_of_page.get(ids["page_id"] or "")
    if ids["page_id"] and ids["page_id"] not in info.step_of_page:
        raise Invalid("page_id is not a page of this funnel")
    for name in ("funnel_step_id", "previous_step_id", "next_step_id"):
        if ids[name] and ids[name] not in info.steps:
            raise Invalid(f"{name} is not a step of this funnel")
    if ids["variant_id"] and info.variants.get(ids["variant_id"]) != step_id:
        raise Invalid("variant_id is not a variant of this step")
    if kind in ("step_entry", "step_exit") and not step_id:
        raise Invalid(f"{kind} needs funnel_step_id")
    outcome = event.get("exit_outcome")
    if kind == "step_exit" and outcome not in EXIT_OUTCOMES:
        raise Invalid(f"exit_outcome must be one of {', '.join(EXIT_OUTCOMES)}")
    conversion_type = event.get("conversion_type")
    if kind == "conversion" and conversion_type not in CONVERSION_TYPES:
        raise Invalid(f"conversion_type must be one of {', '.join(CONVERSION_TYPES)}")
    value = event.get("value_cents")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10**10):
        raise Invalid("value_cents must be a whole number of cents, 0 or more")
    metadata = event.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise Invalid("metadata must be an object")
    if metadata and len(json.dumps(metadata, separators=(",", ":"))) > MAX_METADATA:
        raise Invalid(f"metadata is larger than {MAX_METADATA} bytes")
    seconds = event.get("time_on_step_seconds")
    if seconds is not None and (not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0):
        raise Invalid("time_on_step_seconds must be a whole number of seconds")
    exit_reason = event.get("exit_reason")
    return {
        "account_id": info.account_id, "funnel_id": funnel_id, "event_type": kind, "visitor_id": visitor_id,
        "session_id": session_id, "page_id": ids["page_id"], "step_id": step_id,
        "previous_step_id": ids["previous_step_id"],
        "next_step_id": ids["next_step_id"] if kind == "step_exit" else None,
        "variant_id": ids["variant_id"], "exit_outcome": outcome if kind == "step_exit" else None,
        "conversion_type": conversion_type if kind == "conversion" else None, "value_cents": value,
        "conversion_goal_id": ids["conversion_goal_id"], "url": _text(event, "url"),
        "referrer": _text(event, "referrer"), "source": source_of(event, own_hosts),
        "utm_source": _text(event, "utm_source"), "utm_medium": _text(event, "utm_medium"),
        "utm_campaign": _text(event, "utm_campaign"), "is_new_visitor": bool(event.get("new_visitor")),
        "session_start": bool(event.get("session_start")), "time_on_step_seconds": min(seconds, 86_400)
        if seconds is not None else None, "exit_reason": exit_reason[:40] if isinstance(exit_reason, str) else None,
        "metadata": metadata or None, "created_at": _moment(event.get("timestamp"), now).isoformat(),
        "_ip_mode": info.ip_mode, "_dnt": info.respect_dnt,
    }


# ---- the endpoint -------------------------------------------------------------------------------------

def _host_of(url: str) -> str:
    return (urlsplit(url or "").hostname or "").lower()


class TrackingEndpoint:
    """WSGI middleware: app.wsgi_app = TrackingEndpoint(app, app.wsgi_app)."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.directory = FunnelDirectory(app)
        config = app.config
        site = urlsplit(config.get("SITE_URL") or "")
        self.site_origin = f"{site.scheme}://{site.netloc}".lower()
        self.own_hosts = {_host_of(config.get("SITE_URL", "")), _host_of(config.get("BASE_URL", ""))} - {""}
        self.redis_url = config.get("REDIS_URL")
        self.push = None

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != TRACK_PATH:
            return self.wsgi_app(environ, start_response)
        origin = environ.get("HTTP_ORIGIN")
        allowed_origin = self._allowed(origin)
        method = environ.get("REQUEST_METHOD")
        if origin and allowed_origin is None:
            status, body = 403, {"error": "Tracking is accepted from published funnel pages only."}
        elif method == "OPTIONS":
            return self._respond(start_response, 204, None, origin, preflight=True)
        elif method != "POST":
            status, body = 405, {"error": "Send events with POST."}
        else:
            status, body = self._track(environ, _host_of(origin) if origin else None)
        return self._respond(start_response, status, body, origin if allowed_origin else None)

    def _allowed(self, origin: str | None) -> str | None:
        """The origin when it is the site's or could be a custom domain (checked per event)."""
        if not origin:
            return None
        if origin.lower() == self.site_origin:
            return origin
        host = _host_of(origin)
        return origin if host and "." in host and host not in self.own_hosts else None

    def _respond(self, start_response, status: int, body, origin: str | None, preflight: bool = False):
        from http import HTTPStatus

        payload = b"" if body is None else json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                   ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
        if origin:
            headers += [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
            if preflight:
                headers += [("Access-Control-Allow-Methods", "POST"), ("Access-Control-Allow-Headers", "Content-Type"),
                            ("Access-Control-Max-Age", "86400")]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [payload]

    def _read(self, environ) -> object:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            raise OverflowError
        raw = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise OverflowError
        return json.loads(raw)

    def _track(self, environ, origin_host: str | None) -> tuple[int, dict]:
        try:
            payload = self._read(environ)
        except OverflowError:
            return 413, {"error": "The request is larger than 2 MB."}
        except (ValueError, UnicodeDecodeError):
            return 400, {"error": "The body is not valid JSON."}
        events = payload.get("events") if isinstance(payload, dict) and "events" in payload else payload
        events = events if isinstance(events, list) else [events]
        if len(events) > MAX_EVENTS:
            return 400, {"error": f"At most {MAX_EVENTS} events per request ({len(events)} sent)."}
        if not events:
            return 400, {"error": "No event sent."}
        user_agent = environ.get("HTTP_USER_AGENT", "")
        relayed = origin_host is None  # a server relaying its visitors' events may name their user agent
        now = datetime.now(UTC)
        rows, errors, ignored = [], [], 0
        for index, event in enumerate(events):
            agent = (event.get("user_agent") if relayed and isinstance(event, dict) else None) or user_agent
            if isinstance(agent, str) and is_bot(agent):
                ignored += 1
                continue
            try:
                row = validate(event, self.directory.get, now, self.own_hosts, origin_host)
            except Invalid as refusal:
                errors.append({"index": index, "reason": str(refusal)})
                continue
            if row.pop("_dnt") and environ.get("HTTP_DNT") == "1":
                ignored += 1
                continue
            ip = (event.get("ip_address") if relayed else None) or environ.get("REMOTE_ADDR")
            row["ip_address"] = truncate_ip(ip if isinstance(ip, str) else None, row.pop("_ip_mode"))
            row["user_agent"] = agent[:1000] if isinstance(agent, str) else None
            rows.append({key: value for key, value in row.items() if value is not None and value is not False})
        if errors:
            log.info("analytics: invalid events refused", extra={"refused": len(errors), "first": errors[0]["reason"]})
        result = {"accepted": len(rows), "rejected": len(errors), "ignored": ignored, "errors": errors[:10]}
        if not rows:
            if ignored and not errors:
                return 202, result
            return 400, {"error": "No valid event in the request.", **result}
        if not self._buffer(rows, environ.get("REMOTE_ADDR") or "-"):
            return 429, {"error": "Too many events from this address: at most "
                                  f"{self.app.config['ANALYTICS_RATE_LIMIT']} a second."}
        return 202, result

    def _buffer(self, rows: list[dict], client_ip: str) -> bool:
        """Push to Redis (False when over the rate limit); the database inbox when Redis fails."""
        item_id = uuid.uuid4().hex
        item = json.dumps({"i": item_id, "e": rows}, separators=(",", ":"))
        if self.redis_url:
            try:
                if self.push is None:
                    from redis import Redis

                    # Short timeouts: a Redis that hangs must send us to the inbox, not stall the visitor.
                    # No retry: a push whose reply was lost may have been done; the inbox copy is then the
                    # one skipped (by item id, app/analytics/ingest.py), never stored twice.
                    client = Redis.from_url(self.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                            retry=None)
                    self.push = client.register_script(PUSH_SCRIPT)
                from app.analytics.ingest import BUFFER_KEY

                count = self.push(keys=[f"analytics:rate:{client_ip}:{int(time.time()) // RATE_WINDOW}", BUFFER_KEY],
                                  args=[len(rows), self.app.config["ANALYTICS_RATE_LIMIT"], item])
                return count > 0
            except Exception:
                log.warning("analytics: Redis unreachable, events kept in the database inbox")
        self._to_inbox(item_id, item)
        return True

    def _to_inbox(self, item_id: str, item: str) -> None:
        from app.analytics.models import AnalyticsInbox
        from app.extensions import db

        with self.app.app_context():
            db.session.add(AnalyticsInbox(item_id=item_id, payload=json.loads(item)))
            db.session.commit()
            if not self.redis_url:
                from app.analytics import tasks
                from app.core.jobs import enqueue

                enqueue(tasks.catch_up_rollups)  # the embedded default: no worker drains, a thread does


def install(app) -> None:
    """Called by create_app after the site dispatcher, so that tracking requests skip it (and Flask)."""
    endpoint = TrackingEndpoint(app, app.wsgi_app)
    app.extensions["analytics_tracking"] = endpoint
    app.wsgi_app = endpoint
