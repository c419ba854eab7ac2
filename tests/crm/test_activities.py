"""Activities and tasks: the panel on records, My tasks, status changes, edit and delete."""
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from app.crm.models import Activity
from app.crm.services import activities
from app.extensions import db
from tests import factories
from tests.crm.conftest import HTMX
from tests.factories import make_company, make_contact, make_deal

UTC = UTC


@pytest.fixture
def crm(owner):
    """The owner's workspace with a company, a contact of it and a deal of the contact."""
    user, account = owner
    company = make_company(account, "Acme", user, domain="acme.example")
    contact = make_contact(account, user, first_name="Pat", last_name="Lee", email="pat@example.com",
                           company_id=str(company.id))
    deal = make_deal(account, title="Big deal", value="1000", user=user, contact_id=str(contact.id),
                     company_id=str(company.id))
    return {"user": user, "account": account, "company": company, "contact": contact, "deal": deal}


def add(crm, subject="Call Pat", status=None, **data):
    data.setdefault("contact_id", str(crm["contact"].id))
    data.setdefault("assignee_id", str(crm["user"].id))
    activity = activities.create(crm["account"], {"subject": subject, "activity_type": "call", **data}, crm["user"])
    if status == "in_progress":
        activities.transition(crm["account"], activity, "in_progress", crm["user"])
    elif status in ("completed", "cancelled"):
        activities.transition(crm["account"], activity, status, crm["user"])
    return activity


def reload(activity):
    db.session.expire_all()
    return db.session.get(Activity, activity.id)


def status_buttons(html: str, activity) -> list[str]:
    """The status buttons shown for an activity, by label."""
    item = html.split(f'id="activity-{activity.id}"', 1)[1].split("</li>", 1)[0]
    return re.findall(r'name="status" value="[a-z_]+"\s+title="[^"]*" aria-label="([A-Za-z]+):', item)


def count_activities():
    return db.session.execute(select(func.count()).select_from(Activity)).scalar_one()


def completions(published) -> list:
    """The activity.completed events among those published."""
    return [event for event in published if event[0] == "activity.completed"]


# ---------- the panel on a record ----------

def test_panel_lists_the_records_activities_with_only_the_allowed_buttons(crm, client, login):
    login(crm["user"], crm["account"])
    pending = add(crm, "Call Pat", due_at="2020-01-02T10:00")
    started = add(crm, "Send the proposal", status="in_progress")
    done = add(crm, "Meet Pat", status="completed")
    other = add(crm, "About someone else", contact_id=None, company_id=None)

    response = client.get(f"/activities/for?contact_id={crm['contact'].id}", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card activity-panel" id="record-activities"')  # a fragment
    assert "Call Pat" in html and "Send the proposal" in html and "Meet Pat" in html
    assert "About someone else" not in html
    assert status_buttons(html, pending) == ["Start", "Complete", "Cancel"]
    assert status_buttons(html, started) == ["Complete", "Reopen", "Cancel"]
    assert status_buttons(html, done) == []
    # overdue (due in 2020, still open) is highlighted; the due time is shown
    pending_item = html.split(f'id="activity-{pending.id}"', 1)[0].rsplit("<li", 1)[1]
    assert "is-overdue" in pending_item
    assert "Jan 2, 2020 10:00" in html
    assert "completed" in html and "in progress" in html
    assert 'hx-target="#record-activities"' in html
    assert f'name="contact_id" value="{crm["contact"].id}"' in html
    del other

    # Without htmx the same URL is a page of its own, linking back to the contact.
    page = client.get(f"/activities/for?contact_id={crm['contact'].id}").get_data(as_text=True)
    assert "<!doctype html>" in page and f'href="/contacts/{crm["contact"].id}"' in page and "Pat Lee" in page


def test_panel_renders_when_included_by_another_page(app, crm):
    from flask_login import login_user

    from app.auth.services import membership_of
    from app.core.tenancy import set_current

    add(crm, "Call Pat")
    add(crm, "Deal kickoff", contact_id=None, deal_id=str(crm["deal"].id))
    with app.test_request_context("/deals/x"):
        login_user(crm["user"])
        set_current(crm["account"], membership_of(crm["user"], crm["account"].id), crm["user"])
        html = render_template_string('<main>{% set activity_context = {"deal_id": deal.id} %}'
                                      '{% include "crm/activities/_record_activities.html" %}</main>',
                                      deal=crm["deal"], form="the page's own variable")
    assert 'id="record-activities"' in html
    assert "Deal kickoff" in html and "Call Pat" not in html
    assert f'name="deal_id" value="{crm["deal"].id}"' in html
    assert "+ Add activity" in html


def test_panel_needs_a_record_and_hides_other_accounts_records(crm, client, login):
    login(crm["user"], crm["account"])
    assert client.get("/activities/for").status_code == 400
    assert client.get("/activities/for?contact_id=not-a-uuid").status_code == 404
    other_owner = factories.make_user("other@example.com")
    other = factories.make_account(other_owner, "Other")
    ids = factories.populate_crm(other, other_owner)
    for key in ("contact_id", "company_id", "deal_id"):
        assert client.get(f"/activities/for?{key}={ids[key]}").status_code == 404
    assert client.get(f"/activities/for?company_id={crm['company'].id}").status_code == 200


# ---------- adding ----------

def test_due_time_typed_in_the_users_zone_is_stored_in_utc(crm, client, login):
    user = crm["user"]
    user.timezone = "America/New_York"
    db.session.commit()
    login(user, crm["account"])
    response = client.post("/activities", data={
        "view": "record", "contact_id": str(crm["contact"].id), "activity-activity_type": "meeting",
        "activity-subject": "Demo", "activity-due_at": "2026-12-01T09:00", "activity-assignee_id": str(user.id),
        "activity-description": "Show the new plan"}, headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Meeting “Demo” added." in html and "Dec 1, 2026 09:00" in html
    activity = db.session.execute(select(Activity)).scalar_one()
    assert activity.due_at == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert (activity.activity_type, activity.contact_id, activity.assignee_id, activity.status) == (
        "meeting", crm["contact"].id, user.id, "pending")
    # The edit form shows it back in the user's zone.
    edit = client.get(f"/activities/{activity.id}/edit").get_data(as_text=True)
    assert 'value="2026-12-01T09:00"' in edit and "America/New_York" in edit


def test_summer_time_and_date_only_due_values(crm, client, login):
    user = crm["user"]
    user.timezone = "America/New_York"
    db.session.commit()
    login(user, crm["account"])
    for due in ("2026-07-01T09:00", "2026-07-02"):
        client.post("/activities", data={"view": "tasks", "activity-subject": f"Due {due}", "activity-due_at": due})
    rows = {a.subject: a.due_at for a in db.session.execute(select(Activity)).scalars()}
    assert rows["Due 2026-07-01T09:00"] == datetime(2026, 7, 1, 13, 0, tzinfo=UTC)  # EDT is UTC-4
    assert rows["Due 2026-07-02"] == datetime(2026, 7, 2, 13, 0, tzinfo=UTC)  # a date alone means 09:00


@pytest.mark.parametrize("due", ["9999-12-31T23:59", "9999-12-31", "0001-01-01T00:00", "1899-12-31T23:59"])
def test_a_due_date_out_of_range_is_refused_next_to_the_field_in_any_zone(crm, client, login, due):
    """9999-12-31 23:59 in New York is in the year 10000 in UTC: it was a 500 (OverflowError)."""
    user = crm["user"]
    user.timezone = "America/New_York"
    db.session.commit()
    login(user, crm["account"])
    response = client.post("/activities", data={"view": "record", "contact_id": str(crm["contact"].id),
                                                "activity-subject": "Far away", "activity-due_at": due}, headers=HTMX)
    assert response.status_code == 422
    assert 'id="activity-due_at-error">Use a date between 1900 and 2199.<' in response.get_data(as_text=True)
    assert count_activities() == 0
    activity = add(crm, "Soon", due_at="2030-01-01T10:00")
    edited = client.post(f"/activities/{activity.id}/edit", data={"activity-subject": "Soon", "activity-due_at": due})
    assert edited.status_code == 422 and "Use a date between 1900 and 2199." in edited.get_data(as_text=True)
    assert reload(activity).due_at == datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def test_adding_from_a_deal_links_its_contact_and_company(crm, client, login):
    login(crm["user"], crm["account"])
    response = client.post("/activities", data={"view": "record", "deal_id": str(crm["deal"].id),
                                                "activity-subject": "Send the contract"},
                           headers=HTMX)
    assert response.status_code == 200
    activity = db.session.execute(select(Activity)).scalar_one()
    assert (activity.deal_id, activity.contact_id, activity.company_id) == (
        crm["deal"].id, crm["contact"].id, crm["company"].id)


@pytest.mark.parametrize("values, field, message", [
    ({"activity-subject": ""}, "activity-subject", "This field is required."),
    ({"activity-subject": "x" * 201}, "activity-subject", "Field cannot be longer than 200 characters."),
    ({"activity-subject": "Call", "activity-due_at": "next tuesday"}, "activity-due_at",
     "Use a date and time like 2026-12-01 14:30."),
    ({"activity-subject": "Call", "activity-activity_type": "fax"}, "activity-activity_type", "Not a valid choice."),
    ({"activity-subject": "Call", "activity-assignee_id": "not-a-user"}, "activity-assignee_id",
     "Choose a team member from the list."),
])
def test_bad_input_is_refused_next_to_the_field(crm, client, login, values, field, message):
    login(crm["user"], crm["account"])
    response = client.post("/activities", data={"view": "record", "contact_id": str(crm["contact"].id), **values},
                           headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error">{message}' in html
    assert "<details class=\"activity-add\" open>" in html  # the form stays open with what was typed
    assert count_activities() == 0


def test_assignee_must_be_a_member_of_the_workspace(crm, client, login):
    login(crm["user"], crm["account"])
    stranger = factories.make_user("stranger@example.com")
    response = client.post("/activities", data={"view": "tasks", "activity-subject": "Call",
                                                "activity-assignee_id": str(stranger.id)})
    assert response.status_code == 422
    assert "Choose a member of this workspace." in response.get_data(as_text=True)
    assert count_activities() == 0


def test_adding_on_another_accounts_record_is_not_found(crm, client, login):
    login(crm["user"], crm["account"])
    other_owner = factories.make_user("other@example.com")
    ids = factories.populate_crm(factories.make_account(other_owner, "Other"), other_owner)
    before = count_activities()
    for key in ("contact_id", "company_id", "deal_id"):
        response = client.post("/activities", data={"view": "record", key: str(ids[key]), "activity-subject": "Spy"})
        assert response.status_code == 404
    assert count_activities() == before


# ---------- status changes ----------

@pytest.mark.parametrize("start, target, message", [
    ("completed", "in_progress", "A completed activity cannot become in progress."),
    ("completed", "pending", "A completed activity cannot become pending."),
    ("cancelled", "completed", "A cancelled activity cannot become completed."),
    ("cancelled", "in_progress", "A cancelled activity cannot become in progress."),
    ("pending", "pending", "A pending activity cannot become pending."),
])
def test_invalid_transitions_are_refused_with_a_message_and_change_nothing(crm, client, login, start, target,
                                                                            message):
    login(crm["user"], crm["account"])
    activity = add(crm, status=start)
    before = (reload(activity).status, reload(activity).completed_at, reload(activity).updated_at)

    plain = client.post(f"/activities/{activity.id}/status", data={"status": target, "view": "record",
                                                                   "contact_id": str(crm["contact"].id)})
    assert plain.status_code == 409
    assert message in plain.get_data(as_text=True)

    swapped = client.post(f"/activities/{activity.id}/status", data={"status": target, "view": "record",
                                                                     "contact_id": str(crm["contact"].id)},
                          headers=HTMX)
    html = swapped.get_data(as_text=True)
    assert swapped.status_code == 422  # htmx swaps it: the panel shows the message inline
    assert 'role="alert"' in html and message in html and "Nothing was changed." in html
    after = reload(activity)
    assert (after.status, after.completed_at, after.updated_at) == before


def test_an_unknown_status_is_refused(crm, client, login):
    login(crm["user"], crm["account"])
    activity = add(crm)
    response = client.post(f"/activities/{activity.id}/status", data={"status": "done", "view": "tasks"})
    assert response.status_code == 422
    assert "Choose one of: pending, in_progress, completed, cancelled." in response.get_data(as_text=True)
    assert reload(activity).status == "pending"


def test_valid_transitions_set_completed_at_and_publish_activity_completed(crm, client, login, published):
    login(crm["user"], crm["account"])
    activity = add(crm)
    context = {"view": "record", "contact_id": str(crm["contact"].id)}
    htmx = HTMX

    response = client.post(f"/activities/{activity.id}/status", data={"status": "in_progress", **context}, headers=htmx)
    assert response.status_code == 200 and "“Call Pat” started." in response.get_data(as_text=True)
    assert (reload(activity).status, reload(activity).completed_at) == ("in_progress", None)

    response = client.post(f"/activities/{activity.id}/status", data={"status": "pending", **context}, headers=htmx)
    assert response.status_code == 200 and reload(activity).status == "pending"
    assert completions(published) == []

    before = datetime.now(UTC)
    response = client.post(f"/activities/{activity.id}/status", data={"status": "completed", **context}, headers=htmx)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "“Call Pat” completed." in html
    assert status_buttons(html, activity) == []  # nothing more to do with it
    done = reload(activity)
    assert done.status == "completed" and before - timedelta(seconds=5) <= done.completed_at <= datetime.now(UTC)
    assert completions(published) == [("activity.completed", {
        "account_id": str(crm["account"].id), "activity_id": str(activity.id), "contact_id": str(crm["contact"].id)})]

    cancelled = add(crm, "Lunch")
    client.post(f"/activities/{cancelled.id}/status", data={"status": "cancelled", "view": "tasks"})
    assert (reload(cancelled).status, reload(cancelled).completed_at) == ("cancelled", None)
    assert len(completions(published)) == 1


def test_a_plain_form_post_redirects_back_with_a_message(crm, client, login):
    login(crm["user"], crm["account"])
    activity = add(crm)
    response = client.post(f"/activities/{activity.id}/status", data={
        "status": "completed", "view": "record", "contact_id": str(crm["contact"].id),
        "next": f"/contacts/{crm['contact'].id}"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/contacts/{crm['contact'].id}")
    response = client.post(f"/activities/{add(crm, 'Other').id}/status",
                           data={"status": "completed", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/tasks"  # no open redirect


# ---------- My tasks ----------

def test_my_tasks_groups_around_midnight_in_the_users_zone(crm, client, login, monkeypatch):
    user = crm["user"]
    user.timezone = "America/New_York"
    db.session.commit()
    login(user, crm["account"])
    # 04:30 UTC on 15 January is 23:30 on the 14th in New York (UTC-5): "today" ends in 30 minutes there.
    now = datetime(2026, 1, 15, 4, 30, tzinfo=UTC)
    monkeypatch.setattr(activities, "utcnow", lambda: now)
    monkeypatch.setattr("app.crm.views.activities.utcnow", lambda: now)
    due = {"Was due an hour ago": now - timedelta(hours=1),
           "Due at 23:45 New York": datetime(2026, 1, 15, 4, 45, tzinfo=UTC),
           "Due at 00:15 New York": datetime(2026, 1, 15, 5, 15, tzinfo=UTC),
           "Next week": now + timedelta(days=7)}
    for subject, when in due.items():
        add(crm, subject, due_at=when)
    add(crm, "Someday")
    add(crm, "Already done", due_at=now - timedelta(days=1), status="completed")
    add(crm, "Not mine", assignee_id=None, due_at=now)

    html = client.get("/tasks").get_data(as_text=True)

    def group(key):
        if f'id="tasks-{key}"' not in html:
            return []
        section = html.split(f'id="tasks-{key}"', 1)[1].split("</section>", 1)[0]
        return re.findall(r'class="activity-subject">([^<]+)<', section)

    assert group("overdue") == ["Was due an hour ago"]
    assert group("today") == ["Due at 23:45 New York"]
    assert group("upcoming") == ["Due at 00:15 New York", "Next week"]
    assert group("no_date") == ["Someday"]
    assert "Already done" not in html and "Not mine" not in html
    assert html.index('id="tasks-overdue"') < html.index('id="tasks-today"') < html.index('id="tasks-upcoming"')

    # The same tasks for someone in UTC: 05:15 UTC is still today there.
    user.timezone = "UTC"
    db.session.commit()
    html = client.get("/tasks").get_data(as_text=True)
    assert group("today") == ["Due at 23:45 New York", "Due at 00:15 New York"]


def test_my_tasks_links_to_the_records_and_changes_status_in_place(crm, client, login):
    login(crm["user"], crm["account"])
    activity = add(crm, "Follow up", deal_id=str(crm["deal"].id), company_id=str(crm["company"].id))
    html = client.get("/tasks").get_data(as_text=True)
    assert f'href="/contacts/{crm["contact"].id}"' in html
    assert f'href="/companies/{crm["company"].id}"' in html
    assert f'href="/deals/{crm["deal"].id}"' in html
    assert "Pat Lee" in html and "Acme" in html and "Big deal" in html
    assert status_buttons(html, activity) == ["Start", "Complete", "Cancel"]
    assert 'id="add-task-form"' in html

    response = client.post(f"/activities/{activity.id}/status", data={"status": "completed", "view": "tasks"},
                           headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="task-groups"')
    assert "“Follow up” completed." in html and "Nothing on your list" in html


def test_my_tasks_empty_state_and_adding_a_task(crm, client, login):
    login(crm["user"], crm["account"])
    html = client.get("/tasks").get_data(as_text=True)
    assert "Nothing on your list" in html

    response = client.post("/activities", data={"view": "tasks", "activity-subject": "Plan the week",
                                                "activity-activity_type": "task",
                                                "activity-assignee_id": str(crm["user"].id)},
                           headers=HTMX)
    assert response.status_code == 200 and "/tasks" in response.headers["HX-Location"]
    html = client.get("/tasks").get_data(as_text=True)
    assert "Task “Plan the week” added." in html
    assert re.findall(r'class="activity-subject">([^<]+)<', html.split('id="tasks-no_date"', 1)[1]) == ["Plan the week"]

    response = client.post("/activities", data={"view": "tasks", "activity-subject": ""}, headers=HTMX)
    assert response.status_code == 422
    assert response.get_data(as_text=True).lstrip().startswith('<form method="post" action="/activities"')


def test_my_tasks_paginates_each_group(crm, client, login):
    login(crm["user"], crm["account"])
    for number in range(23):
        add(crm, f"Task {number:02d}")
    html = client.get("/tasks").get_data(as_text=True)
    assert "Task 19" in html and "Task 20" not in html and "no_date_page=2" in html
    html = client.get("/tasks?no_date_page=2").get_data(as_text=True)
    assert "Task 20" in html and "Task 19" not in html


# ---------- edit and delete ----------

def test_edit_an_activity(crm, client, login):
    login(crm["user"], crm["account"])
    activity = add(crm, "Call Pat", due_at="2026-05-01T10:00")
    page = client.get(f"/activities/{activity.id}/edit?next=/contacts/{crm['contact'].id}")
    assert page.status_code == 200 and 'value="Call Pat"' in page.get_data(as_text=True)

    bad = client.post(f"/activities/{activity.id}/edit",
                      data={"activity-subject": "", "activity-activity_type": "call"})
    assert bad.status_code == 422 and 'id="activity-subject-error"' in bad.get_data(as_text=True)

    response = client.post(f"/activities/{activity.id}/edit", data={
        "activity-subject": "Call Pat back", "activity-activity_type": "email", "activity-due_at": "",
        "activity-assignee_id": "", "activity-description": "About pricing", "next": f"/contacts/{crm['contact'].id}"})
    assert response.status_code == 303 and response.headers["Location"] == f"/contacts/{crm['contact'].id}"
    edited = reload(activity)
    assert (edited.subject, edited.activity_type, edited.due_at, edited.assignee_id, edited.description) == (
        "Call Pat back", "email", None, None, "About pricing")
    assert edited.contact_id == crm["contact"].id  # the links are kept


def test_delete_an_activity(crm, client, login):
    login(crm["user"], crm["account"])
    activity_id, contact_id = add(crm).id, crm["contact"].id
    page = client.get(f"/activities/{activity_id}/edit").get_data(as_text=True)
    assert 'data-dialog-open="delete-activity"' in page and "This cannot be undone." in page
    response = client.post(f"/activities/{activity_id}/delete", data={"next": f"/activities/{activity_id}/edit"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/contacts/{contact_id}"  # not the edit page of nothing
    assert db.session.get(Activity, activity_id) is None
    assert "Activity “Call Pat” deleted." in client.get("/tasks").get_data(as_text=True)
    assert client.post(f"/activities/{activity_id}/delete").status_code == 404


# ---------- roles and tenancy ----------

def test_viewers_read_but_cannot_change(crm, client, login):
    viewer = factories.add_member(crm["account"], "viewer", name="Vic Viewer")
    activity = add(crm, assignee_id=str(viewer.id))
    login(viewer, crm["account"])
    html = client.get(f"/activities/for?contact_id={crm['contact'].id}").get_data(as_text=True)
    assert "Call Pat" in html and "Add activity" not in html and 'name="status"' not in html and ">Edit<" not in html
    html = client.get("/tasks").get_data(as_text=True)
    assert "Call Pat" in html and 'id="add-task-form"' not in html and 'name="status"' not in html

    assert client.post("/activities", data={"view": "tasks", "activity-subject": "Nope"}).status_code == 403
    assert client.post(f"/activities/{activity.id}/status", data={"status": "completed"}).status_code == 403
    assert client.get(f"/activities/{activity.id}/edit").status_code == 403
    assert client.post(f"/activities/{activity.id}/edit", data={"activity-subject": "Nope"}).status_code == 403
    assert client.post(f"/activities/{activity.id}/delete").status_code == 403
    after = reload(activity)
    assert (after.status, after.subject) == ("pending", "Call Pat")


def test_another_accounts_activity_is_not_found(crm, client, login):
    other_owner = factories.make_user("other@example.com")
    ids = factories.populate_crm(factories.make_account(other_owner, "Other"), other_owner)
    login(crm["user"], crm["account"])
    foreign = ids["activity_id"]
    assert client.post(f"/activities/{foreign}/status", data={"status": "completed"}).status_code == 404
    assert client.get(f"/activities/{foreign}/edit").status_code == 404
    assert client.post(f"/activities/{foreign}/edit", data={"activity-subject": "Mine now"}).status_code == 404
    assert client.post(f"/activities/{foreign}/delete").status_code == 404
    untouched = db.session.get(Activity, foreign)
    assert (untouched.status, untouched.subject) == ("pending", "Call Pat")


def test_the_panel_pages_through_many_activities(crm, client, login):
    login(crm["user"], crm["account"])
    for number in range(12):
        add(crm, f"Call {number:02d}", due_at=f"2030-01-{number + 1:02d}T10:00")
    html = client.get(f"/activities/for?contact_id={crm['contact'].id}", headers=HTMX).get_data(as_text=True)
    assert "Call 09" in html and "Call 10" not in html and "1–10 of 12" in html
    assert f'hx-get="/activities/for?activities_page=2&amp;contact_id={crm["contact"].id}"' in html
    html = client.get(f"/activities/for?activities_page=2&contact_id={crm['contact'].id}",
                      headers=HTMX).get_data(as_text=True)
    assert "Call 10" in html and "Call 11" in html and "Call 09" not in html
