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
    paths = ("/", "/activity", "/settings/team", "/settings/api-keys")
    baseline = {path: count_queries(lambda p=path: client.get(p)) for path in paths}
    for i in range(5):
        factories.make_account(user, f"Extra {i}")
        member = factories.add_member(account, "user", email=f"extra{i}@example.com")
        many_events(account, member, 3)
        from app.auth import services

        services.create_api_key(account, member, f"key {i}")
    for path, queries in baseline.items():
        assert count_queries(lambda p=path: client.get(p)) == queries, path
    assert baseline["/"] <= 6


# ---- the marketer's dashboard -------------------------------------------------------------------------------

def _checklist(page_text: str) -> dict[str, bool]:
    """Each first-run step shown on the dashboard, and whether it is ticked."""
    import re

    items = re.findall(r'<li class="checklist-item( is-done)?">.*?<strong>(.*?)</strong>', page_text, re.S)
    return {title: bool(done) for done, title in items}


def test_a_new_workspace_gets_a_first_run_checklist_until_it_is_done(client, owner, login):
    from app.crm.services import contacts
    from app.funnels.models import Funnel

    user, account = owner
    login(user, account)
    page = client.get("/").text
    assert _checklist(page) == {"Create a funnel": False, "Publish it": False, "Bring in your contacts": False,
                                "Invite your team": False}
    assert "0 of 4 done" in page
    assert 'href="/funnels/templates"' in page and 'href="/contacts/import"' in page
    assert 'href="/settings/team#invite"' in page

    db.session.add(Funnel(account_id=account.id, name="Guide", slug="guide", status="draft"))
    db.session.commit()
    contacts.create(account, {"email": "lead@example.com"})
    page = client.get("/").text
    assert _checklist(page) == {"Create a funnel": True, "Publish it": False, "Bring in your contacts": True,
                                "Invite your team": False}
    assert "2 of 4 done" in page

    db.session.execute(db.update(Funnel).values(status="published"))
    db.session.commit()
    factories.add_member(account, "user", email="teammate@example.com")
    page = client.get("/").text
    assert _checklist(page) == {} and "Get started" not in page


def test_the_checklist_offers_only_what_the_role_may_do(client, owner, login):
    user, account = owner
    viewer = factories.add_member(account, "viewer", email="v@example.com")
    login(viewer, account)
    page = client.get("/").text
    assert "Create a funnel" in page  # the state is shown to everyone...
    assert "Browse templates" not in page and "Invite a teammate" not in page  # ...the actions only to who may


def test_the_dashboard_counts_leads_funnels_deals_and_my_tasks(client, owner, login):
    from app.crm.models import Activity, Contact, Deal, Pipeline, Stage
    from app.funnels.models import Funnel

    user, account = owner
    other = factories.add_member(account, "user", email="other@example.com")
    now = utcnow()
    for days in (0, 1, 6):  # this week
        db.session.add(Contact(account_id=account.id, first_name=f"New{days}", created_at=now - timedelta(days=days)))
    for days in (8, 13):  # the week before
        db.session.add(Contact(account_id=account.id, first_name=f"Old{days}", created_at=now - timedelta(days=days)))
    db.session.add(Contact(account_id=account.id, first_name="Gone", deleted_at=now))
    for slug, status in (("a", "published"), ("b", "published"), ("c", "draft")):
        db.session.add(Funnel(account_id=account.id, name=slug, slug=f"dash-{slug}", status=status))
    pipeline = Pipeline(account_id=account.id, name="Dashboard pipeline")
    db.session.add(pipeline)
    db.session.flush()
    stage = Stage(account_id=account.id, pipeline_id=pipeline.id, name="Lead", position=0, probability=10)
    db.session.add(stage)
    db.session.flush()
    for cents, status in ((10_000, "open"), (25_050, "open"), (99_900, "lost"), (5_000, "won")):
        db.session.add(Deal(account_id=account.id, pipeline_id=pipeline.id, stage_id=stage.id, title=str(cents),
                            value_cents=cents, status=status, closed_at=now if status != "open" else None))
    for due, assignee, state in ((now - timedelta(hours=2), user, "pending"), (now - timedelta(days=3), user, "done"),
                                 (now - timedelta(days=1), other, "pending"), (None, user, "pending")):
        db.session.add(Activity(account_id=account.id, subject="Call", activity_type="task", assignee_id=assignee.id,
                                due_at=due, status="completed" if state == "done" else state))
    db.session.commit()
    login(user, account)
    page = client.get("/").text
    assert 'id="stat-leads">3<' in page and "2 the 7 days before" in page
    assert 'id="stat-funnels">2<' in page
    assert 'id="stat-deals">2<' in page and "$350.50 in the pipeline" in page and "$50.00 won this month" in page
    assert 'id="stat-tasks">1<' in page and "1 overdue · 0 due today" in page
    leads = page.split('id="leads-h"', 1)[1].split("</section>", 1)[0]
    assert [name for name in ("New0", "New1", "New6", "Old8", "Old13") if name in leads] == [
        "New0", "New1", "New6", "Old8", "Old13"]
    assert leads.index("New0") < leads.index("Old13") and "Gone" not in leads  # newest first, live ones only
    assert 'href="/funnels?status=published"' in page and 'href="/tasks"' in page
