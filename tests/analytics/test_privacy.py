"""Privacy: anonymizing a visitor (their events keep their counts but lose the visitor, IP address and user agent;
split-test exposures and orders forget them), from the API and the app; the workspace's IP and Do-Not-Track
settings."""
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.analytics import ingest, privacy, reports, reports_live
from app.analytics.models import AnalyticsEvent, Exposure
from app.auth import services as auth_services
from app.core.errors import NotFoundError
from app.core.jobs import redis_connection
from app.core.models import AuditEvent
from app.extensions import db
from app.orders.models import Order
from tests import factories
from tests.analytics import report_data
from tests.analytics.report_data import VISITORS
from tests.api.conftest import assert_json_error

A, B, C, D = VISITORS


def forget_cache():
    for key in redis_connection().scan_iter("analytics:report:*"):
        redis_connection().delete(key)


@pytest.fixture
def traffic(owner):
    """The reports' known traffic with IP addresses, orders of visitors A and B, a split test A and D saw."""
    user, account = owner
    funnel = report_data.sales_funnel(account, user)
    other = report_data.sales_funnel(account, user, name="Other funnel")
    at = report_data.day_start(10) + timedelta(hours=10)
    report_data.known_traffic(funnel, at)
    # the addresses as the track endpoint keeps them (truncated)
    db.session.execute(AnalyticsEvent.__table__.update().values(ip_address="203.0.113.0"))
    db.session.commit()
    orders = report_data.known_orders(account, funnel, other, at)
    first = orders["orders"][0]
    first.session_id = db.session.execute(select(AnalyticsEvent.session_id).where(
        AnalyticsEvent.visitor_id == A).limit(1)).scalar_one()
    from app.funnels import splittests

    test = splittests.create_test(account, funnel, funnel.steps[0], {"name": "Headline", "variants": [
        {"name": "Original", "weight": 50}, {"name": "B", "weight": 50}]}, user)
    db.session.add_all([Exposure(account_id=account.id, test_id=test.id, visitor_id=A,
                                 variant_id=test.variants[1].id, conversions=2, value_cents=5000),
                        Exposure(account_id=account.id, test_id=test.id, visitor_id=D,
                                 variant_id=test.variants[0].id, conversions=1)])
    db.session.commit()
    forget_cache()
    return {"account": account, "owner": user, "funnel": funnel, "at": at, "orders": orders["orders"], "test": test}


def figures(account, funnel):
    forget_cache()
    period = reports.last_days(account, 30)
    return reports.overview(account, funnel, period)


def events_of(visitor):
    return db.session.scalar(select(func.count()).select_from(AnalyticsEvent)
                             .where(AnalyticsEvent.visitor_id == visitor))


def test_anonymizing_removes_the_visitor_and_ip_and_keeps_every_count(traffic):
    account, funnel, owner = traffic["account"], traffic["funnel"], traffic["owner"]
    before = figures(account, funnel)
    total = db.session.scalar(select(func.count()).select_from(AnalyticsEvent))
    a_events = events_of(A)
    assert a_events and reports_live.journey(account, str(A))["total_sessions"] == 2

    changed = privacy.anonymize_visitor(account, str(A), owner)
    assert changed == {"visitor_id": str(A), "events": a_events, "exposures": 1, "orders": 1}

    db.session.expire_all()
    assert events_of(A) == 0 and db.session.scalar(select(func.count()).select_from(AnalyticsEvent)) == total
    orphans = db.session.execute(select(AnalyticsEvent).where(AnalyticsEvent.visitor_id.is_(None))).scalars().all()
    assert len(orphans) == a_events
    assert all(row.ip_address is None and row.user_agent is None for row in orphans)
    others = db.session.execute(select(AnalyticsEvent).where(AnalyticsEvent.visitor_id == B)).scalars().all()
    assert others and all(row.ip_address == "203.0.113.0" and row.user_agent for row in others)
    # the rollups and sketches are untouched: every figure of the reports is the same
    assert figures(account, funnel) == before
    # the split test keeps the exposure and its conversions, tied to nobody
    exposures = db.session.execute(select(Exposure).where(Exposure.test_id == traffic["test"].id)).scalars().all()
    assert len(exposures) == 2 and A not in {row.visitor_id for row in exposures}
    assert sorted((row.conversions, row.value_cents) for row in exposures) == [(1, 0), (2, 5000)]
    # the order forgets the visitor and the session; its money and source stay
    first = db.session.get(Order, traffic["orders"][0].id)
    assert (first.visitor_id, first.session_id, first.traffic_source) == (None, None, "google")
    assert db.session.get(Order, traffic["orders"][1].id).visitor_id == B
    # the journey is gone, and the request is in the audit log
    with pytest.raises(NotFoundError):
        reports_live.journey(account, str(A))
    audit = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "analytics.visitor_anonymized")).scalar_one()
    assert audit.user_id == owner.id and audit.details["events"] == a_events
    # a second request finds nothing left
    with pytest.raises(NotFoundError):
        privacy.anonymize_visitor(account, str(A), owner)


def test_a_cached_journey_is_dropped(traffic):
    account = traffic["account"]
    assert reports_live.journey(account, str(D))["visitor_id"] == str(D)  # now cached a minute
    privacy.anonymize_visitor(account, D, traffic["owner"])
    with pytest.raises(NotFoundError):
        reports_live.journey(account, str(D))


def test_unknown_visitors_and_other_workspaces_visitors_are_not_found(traffic):
    stranger = factories.make_user("stranger@example.com")
    theirs = factories.make_account(stranger, "Theirs")
    with pytest.raises(NotFoundError):
        privacy.anonymize_visitor(theirs, str(A))
    with pytest.raises(NotFoundError):
        privacy.anonymize_visitor(traffic["account"], "not-a-visitor")
    with pytest.raises(NotFoundError):
        privacy.anonymize_visitor(traffic["account"], str(uuid.uuid4()))
    assert events_of(A) > 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "analytics.visitor_anonymized")) == 0


def test_a_visitor_known_only_by_an_order_is_unlinked(owner):
    user, account = owner
    funnel = report_data.sales_funnel(account, user)
    _, price = factories.make_product(account, "Course", 5000)
    order = factories.make_order(account, [(price, "main")], funnel_id=funnel.id)
    visitor = uuid.uuid4()
    order.visitor_id, order.session_id = visitor, "s-1"
    db.session.commit()
    assert privacy.anonymize_visitor(account, visitor, user) == {"visitor_id": str(visitor), "events": 0,
                                                                 "exposures": 0, "orders": 1}


# ---- the API ----------------------------------------------------------------------------------------------------

def test_the_api_anonymizes_for_admins(client, traffic):
    account = traffic["account"]
    admin = factories.add_member(account, "admin", email="admin@example.com")
    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    _, admin_key = auth_services.create_api_key(account, admin, "Admin")
    _, viewer_key = auth_services.create_api_key(account, viewer, "Viewer")
    url = f"/api/v1/analytics/visitors/{A}/anonymize"
    assert_json_error(client.post(url, headers={"Authorization": f"Bearer {viewer_key}"}), 403)
    response = client.post(url, headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 200, response.text
    assert response.get_json()["visitor_id"] == str(A) and response.get_json()["exposures"] == 1
    assert events_of(A) == 0
    assert_json_error(client.post(url, headers={"Authorization": f"Bearer {admin_key}"}), 404)
    assert_json_error(client.post("/api/v1/analytics/visitors/nobody/anonymize",
                                  headers={"Authorization": f"Bearer {admin_key}"}), 404)
    journey = client.get(f"/api/v1/analytics/visitors/{A}/journey", headers={"Authorization": f"Bearer {admin_key}"})
    assert_json_error(journey, 404)


def test_the_api_does_not_reach_another_workspaces_visitor(client, traffic):
    stranger = factories.make_user("stranger@example.com")
    theirs = factories.make_account(stranger, "Theirs")
    _, key = auth_services.create_api_key(theirs, stranger, "Theirs")
    response = client.post(f"/api/v1/analytics/visitors/{A}/anonymize", headers={"Authorization": f"Bearer {key}"})
    assert_json_error(response, 404)
    assert events_of(A) > 0


# ---- the app ----------------------------------------------------------------------------------------------------

def test_the_journey_pages_button_anonymizes_after_a_confirmation(app, client, traffic, login):
    from flask import render_template_string

    account, owner = traffic["account"], traffic["owner"]
    login(owner, account)
    with app.test_request_context():
        from app.core.tenancy import set_current

        set_current(account, auth_services.membership_of(owner, account.id), owner)
        html = render_template_string('{% include "analytics/_anonymize_form.html" %}', visitor_id=str(A),
                                      anonymize_next="/funnels")
    assert f'action="/analytics/visitors/{A}/anonymize"' in html and "<dialog" in html
    assert 'name="next" value="/funnels"' in html and "cannot be undone" in html
    done = client.post(f"/analytics/visitors/{A}/anonymize", data={"next": "/funnels"})
    assert done.status_code == 303 and done.headers["Location"] == "/funnels"
    assert "Visitor anonymized" in client.get("/funnels").text
    assert events_of(A) == 0
    again = client.post(f"/analytics/visitors/{A}/anonymize", data={"next": "https://evil.example/"})
    assert again.status_code == 303 and again.headers["Location"] == "/"
    assert "already anonymized" in client.get("/").text


def test_only_admins_see_and_use_the_button(app, client, traffic, login):
    from flask import render_template_string

    account = traffic["account"]
    user = factories.add_member(account, "user", email="user@example.com")
    login(user, account)
    assert client.post(f"/analytics/visitors/{A}/anonymize", data={}).status_code == 403
    with app.test_request_context():
        from app.core.tenancy import set_current

        set_current(account, auth_services.membership_of(user, account.id), user)
        html = render_template_string('{% include "analytics/_anonymize_form.html" %}', visitor_id=str(A))
    assert "anonymize" not in html.lower().replace("_anonymize_form", "")
    assert events_of(A) > 0


# ---- the workspace's settings -----------------------------------------------------------------------------------

def test_workspace_settings_choose_how_ips_are_kept_and_dnt(app, client, owner, login, endpoint):
    from tests.analytics.test_ingest import make_funnel
    from tests.analytics.test_tracking import event, post

    user, account = owner
    funnel = make_funnel(account, user)
    login(user, account)
    page = client.get("/settings/workspace")
    assert "Analytics privacy" in page.text and 'name="privacy-analytics_ip_mode"' in page.text
    assert "Respect Do-Not-Track" in page.text and "203.0.113.0" in page.text  # the help text

    post(client, event(funnel), REMOTE_ADDR="203.0.113.77")
    saved = client.post("/settings/workspace/analytics-privacy",
                        data={"privacy-analytics_ip_mode": "none", "privacy-analytics_respect_dnt": "y"})
    assert saved.status_code == 303
    db.session.refresh(account)
    assert (account.analytics_ip_mode, account.analytics_respect_dnt) == ("none", True)
    audit = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "workspace.analytics_privacy_changed")).scalar_one()
    assert audit.details == {"analytics_ip_mode": ["truncated", "none"], "analytics_respect_dnt": [False, True]}
    page = client.get("/settings/workspace")
    assert '<option selected value="none">' in page.text

    endpoint.directory.entries.clear()  # the track endpoint reads the settings again within a minute
    post(client, event(funnel), REMOTE_ADDR="203.0.113.78")
    assert post(client, event(funnel), REMOTE_ADDR="203.0.113.79", DNT="1").json["ignored"] == 1
    ingest.drain()
    ips = [row.ip_address for row in db.session.execute(select(AnalyticsEvent).order_by(AnalyticsEvent.id)).scalars()]
    assert ips == ["203.0.113.0", None]


def test_workspace_privacy_settings_refuse_an_unknown_mode_and_non_admins(client, owner, login):
    user, account = owner
    login(user, account)
    refused = client.post("/settings/workspace/analytics-privacy", data={"privacy-analytics_ip_mode": "full"})
    assert refused.status_code == 422 and "Choose how visitors" in refused.text
    db.session.refresh(account)
    assert account.analytics_ip_mode == "truncated"
    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    login(viewer, account)
    assert client.post("/settings/workspace/analytics-privacy",
                       data={"privacy-analytics_ip_mode": "none"}).status_code == 403
    page = client.get("/settings/workspace")
    assert "Only admins and owners change these settings." in page.text
