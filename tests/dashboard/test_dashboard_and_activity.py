import csv
import io
from datetime import timedelta

from app.core import audit
from app.core.db import utcnow
from app.core.models import Job
from app.extensions import db
from tests import factories
from tests.conftest import run_jobs


def test_dashboard_greets_and_shows_the_workspace_state(client, owner, login):
    user, account = owner
    factories.add_member(account, "user", email="u@example.com")
    login(user, account)
    page = client.get("/")
    assert page.status_code == 200
    assert "Good to see you, Olive Owner" in page.text
    assert 'id="stat-members">2<' in page.text
    assert "Workspace “Olive&#39;s Agency” created" in page.text or "Olive&#39;s Agency" in page.text


def test_logged_out_visitor_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def many_events(account, user, count, action="test.thing"):
    for i in range(count):
        audit.record(action, None, f"Event number {i}", account=account, user=user)
    db.session.commit()


def test_activity_paginates_and_filters(client, owner, login):
    user, account = owner
    other = factories.add_member(account, "user", email="other@example.com", name="Otto")
    many_events(account, user, 25)
    many_events(account, other, 3, action="other.thing")
    login(user, account)
    first = client.get("/activity")
    assert first.status_code == 200
    assert "1–20 of 29" in first.text  # 28 events + "workspace.created"
    second = client.get("/activity?page=2")
    assert "21–29 of 29" in second.text and "Page 2 of 2" in second.text
    by_user = client.get(f"/activity?user={other.id}")
    assert "1–3 of 3" in by_user.text and "Event number 0" in by_user.text
    by_action = client.get("/activity?action=other.thing", headers={"HX-Request": "true"})
    assert "<html" not in by_action.text and "1–3 of 3" in by_action.text
    nothing = client.get("/activity?action=never.happened")
    assert "No activity matches" in nothing.text
    assert client.get("/activity?page=abc&user=not-a-uuid").status_code == 200


def test_activity_export_runs_as_a_job_with_progress_and_a_download(app, client, owner, login):
    user, account = owner
    many_events(account, user, 12)
    login(user, account)
    started = client.post("/activity/export", data={"action": "test.thing"}, headers={"HX-Request": "true"})
    assert started.status_code == 202
    assert "Export activity log" in started.text and "hx-trigger" in started.text
    job = db.session.query(Job).one()
    assert job.state == "queued"
    run_jobs(app)
    status = client.get(f"/jobs/{job.id}", headers={"HX-Request": "true"})
    assert "finished" in status.text and "hx-trigger" not in status.text  # stops polling
    assert "12 rows exported." in status.text
    download = client.get(f"/jobs/{job.id}/download")
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.data.decode())))
    download.close()
    assert rows[0][:3] == ["time_utc", "user", "action"] and len(rows) == 13
    assert all(row[2] == "test.thing" for row in rows[1:])

    job = db.session.get(Job, job.id)
    job.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert client.get(f"/jobs/{job.id}/download").status_code == 410


def test_viewer_can_read_activity_but_not_settings_forms(client, owner, login):
    user, account = owner
    viewer = factories.add_member(account, "viewer", email="v@example.com")
    login(viewer, account)
    assert client.get("/activity").status_code == 200
    workspace = client.get("/settings/workspace")
    assert workspace.status_code == 200 and "Only admins and owners change these settings." in workspace.text
    assert "Delete this workspace" not in workspace.text


def test_pages_do_not_query_once_per_workspace_or_event(client, owner, login, count_queries):
    user, account = owner
    login(user, account)
    many_events(account, user, 3)
    factories.add_member(account, "user", email="first-extra@example.com")
    baseline = {path: count_queries(lambda p=path: client.get(p)) for path in ("/", "/activity", "/settings/team", "/settings/api-keys")}
    for i in range(5):
        factories.make_account(user, f"Extra {i}")
        member = factories.add_member(account, "user", email=f"extra{i}@example.com")
        many_events(account, member, 3)
        from app.auth import services

        services.create_api_key(account, member, f"key {i}")
    for path, queries in baseline.items():
        assert count_queries(lambda p=path: client.get(p)) == queries, path
    assert baseline["/"] <= 6
