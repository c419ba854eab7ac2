"""POST /api/v1/analytics/track: what is accepted, what is refused and why, and that accepted events reach
the database (through Redis, or the inbox when Redis is down)."""
import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.analytics import ingest
from app.analytics.models import AnalyticsEvent, AnalyticsInbox
from app.extensions import db
from tests import factories
from tests.analytics.test_ingest import IPHONE, WINDOWS, make_funnel

TRACK = "/api/v1/analytics/track"
SITE_ORIGIN = "http://pages.example.com"


def event(funnel, kind="page_view", **fields):
    step = funnel.steps[0]
    base = {"event_type": kind, "funnel_id": str(funnel.id), "page_id": str(step.page.id),
            "funnel_step_id": str(step.id), "session_id": "sess-1", "visitor_id": str(uuid.uuid4()),
            "url": f"{SITE_ORIGIN}/{funnel.slug}", "referrer": "https://www.google.com/search?q=x"}
    if kind == "step_exit":
        base["exit_outcome"] = "bounce"
    if kind == "conversion":
        base["conversion_type"] = "form_submit"
    return {**base, **fields}


def post(client, body, origin=SITE_ORIGIN, agent=WINDOWS, content_type="text/plain", **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    if origin:
        headers["Origin"] = origin
    environ = {"REMOTE_ADDR": headers.pop("REMOTE_ADDR", "192.0.2.1")}
    return client.post(TRACK, data=data, headers={"User-Agent": agent, "Content-Type": content_type, **headers},
                       environ_base=environ)


def stored():
    return db.session.scalar(select(func.count()).select_from(AnalyticsEvent))


def test_one_event_is_accepted_at_once_and_stored_by_the_worker(client, funnel):
    response = post(client, event(funnel, utm_source="Newsletter"), REMOTE_ADDR="203.0.113.77")
    assert response.status_code == 202
    assert response.json == {"accepted": 1, "rejected": 0, "ignored": 0, "errors": []}
    assert response.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    assert stored() == 0  # not written by the request
    assert ingest.drain() == 1
    row = db.session.execute(select(AnalyticsEvent)).scalar_one()
    assert (row.event_type, row.funnel_id, row.step_id) == ("page_view", funnel.id, funnel.steps[0].id)
    assert row.source == "newsletter" and row.utm_source == "Newsletter"
    assert (row.device_type, row.browser, row.os) == ("desktop", "Chrome", "Windows")


def test_a_batch_keeps_the_valid_events_and_says_why_the_others_were_refused(client, funnel, owner):
    user, account = owner
    other = make_funnel(factories.make_account(factories.make_user("x@example.com"), "Other"), user, "Theirs")
    batch = [
        event(funnel),
        event(funnel, "step_entry"),
        event(funnel, "click"),
        {k: v for k, v in event(funnel).items() if k != "visitor_id"},
        {k: v for k, v in event(funnel).items() if k != "session_id"},
        event(funnel, funnel_step_id=str(other.steps[0].id), page_id=None),
        event(funnel, funnel_id=str(uuid.uuid4())),
        event(funnel, metadata={"blob": "x" * 1_000_000}),
        event(funnel, timestamp=(datetime.now(UTC) + timedelta(days=2)).isoformat()),
        event(funnel, timestamp=(datetime.now(UTC) - timedelta(days=30)).isoformat()),
        event(funnel, "step_exit", exit_outcome="teleported"),
        event(funnel, "conversion", conversion_type="purchase", value_cents=2400, timestamp=1_000),
    ]
    response = post(client, {"events": batch})
    assert response.status_code == 202
    assert response.json["accepted"] == 2 and response.json["rejected"] == 10
    reasons = {error["index"]: error["reason"] for error in response.json["errors"]}
    assert "event_type must be one of" in reasons[2]
    assert reasons[3] == "visitor_id is required" and "session_id is required" in reasons[4]
    assert reasons[5] == "funnel_step_id is not a step of this funnel"
    assert reasons[6] == "unknown funnel_id"
    assert "metadata is larger" in reasons[7]
    assert reasons[8] == "timestamp is in the future" and reasons[9] == "timestamp is more than 48 hours old"
    assert "exit_outcome must be one of" in reasons[10]
    assert ingest.drain() == 2


def test_bad_requests_are_refused_with_the_reason(client, funnel):
    assert post(client, "{not json").status_code == 400
    assert post(client, "{not json").json == {"error": "The body is not valid JSON."}
    too_many = post(client, [event(funnel) for _ in range(51)])
    assert too_many.status_code == 400 and "At most 50 events" in too_many.json["error"]
    only_bad = post(client, event(funnel, "click"))
    assert only_bad.status_code == 400 and only_bad.json["rejected"] == 1
    assert client.get(TRACK).status_code == 405
    assert stored() == 0 and ingest.drain() == 0


def test_only_the_published_site_and_the_funnels_domain_may_send(client, funnel):
    funnel.custom_domain = "offers.example.org"
    db.session.commit()
    assert post(client, event(funnel), origin="https://offers.example.org").status_code == 202
    refused = post(client, event(funnel), origin="https://evil.example")
    assert refused.status_code == 400 and refused.json["errors"][0]["reason"] == (
        "this funnel is not served from the page's origin")
    assert post(client, event(funnel), origin="http://localhost").status_code == 403  # the app's own host
    preflight = client.options(TRACK, headers={"Origin": SITE_ORIGIN, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Methods"] == "POST"
    assert ingest.drain() == 1


def test_bots_are_dropped_and_do_not_track_is_honoured_when_the_workspace_asks(client, funnel, owner, endpoint):
    bot = post(client, event(funnel), agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    assert bot.status_code == 202 and bot.json["accepted"] == 0 and bot.json["ignored"] == 1
    assert post(client, event(funnel), DNT="1").json["accepted"] == 1
    owner[1].analytics_respect_dnt = True
    db.session.commit()
    endpoint.directory.entries.clear()
    assert post(client, event(funnel), DNT="1").json == {"accepted": 0, "rejected": 0, "ignored": 1, "errors": []}
    assert ingest.drain() == 1


def test_ip_addresses_are_stored_truncated_or_not_at_all(client, funnel, owner, endpoint):
    post(client, event(funnel), REMOTE_ADDR="203.0.113.77", agent=IPHONE)
    owner[1].analytics_ip_mode = "none"
    db.session.commit()
    endpoint.directory.entries.clear()
    post(client, event(funnel), REMOTE_ADDR="203.0.113.78")
    ingest.drain()
    ips = [row.ip_address for row in db.session.execute(select(AnalyticsEvent).order_by(AnalyticsEvent.id)).scalars()]
    assert ips == ["203.0.113.0", None]


def test_more_than_100_events_a_second_from_one_address_are_refused(client, funnel):
    answers = [post(client, [event(funnel) for _ in range(30)], REMOTE_ADDR="198.51.100.9").status_code
               for _ in range(5)]
    assert 429 in answers and answers[:3] == [202, 202, 202]
    assert post(client, [event(funnel)], REMOTE_ADDR="198.51.100.10").status_code == 202  # another address


def test_with_redis_down_events_go_to_the_database_inbox_and_nothing_is_lost(client, funnel, endpoint):
    endpoint.redis_url, endpoint.push = "redis://127.0.0.1:1/0", None  # nothing listens there
    try:
        assert post(client, [event(funnel), event(funnel, "step_entry")]).status_code == 202
    finally:
        endpoint.redis_url, endpoint.push = client.application.config["REDIS_URL"], None
    assert db.session.scalar(select(func.count()).select_from(AnalyticsInbox)) == 1
    assert ingest.drain() == 2
    assert stored() == 2
    inbox = db.session.execute(select(AnalyticsInbox)).scalar_one()
    assert inbox.drained_at is not None  # kept two days: the same item found in Redis later is skipped
    assert ingest.drain() == 0


def test_an_item_that_reached_both_redis_and_the_inbox_is_stored_once(client, funnel, endpoint, app):
    """A push whose reply was lost (Redis stopping mid-command) went to the inbox, yet Redis had it."""
    from redis import Redis

    assert post(client, [event(funnel)]).status_code == 202
    raw = Redis.from_url(app.config["REDIS_URL"]).lindex(ingest.BUFFER_KEY, 0)
    item = json.loads(raw)
    db.session.add(AnalyticsInbox(item_id=item["i"], payload=item))
    db.session.commit()
    assert ingest.drain() == 1 and stored() == 1
