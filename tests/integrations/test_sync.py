"""Contact sync: the settings (lists from the provider, triggers, field map, tags), contact events -> sync
records -> jobs -> the exact subscribe request on the stand-in, retries of timeouts and 5xx then failure with the
reason, contacts without e-mail skipped, "sync all now" with progress and counts, the sync log page."""
from datetime import timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from app.core import jobs
from app.core.db import utcnow
from app.core.errors import ValidationError
from app.core.models import Job
from app.crm.services import contacts as contact_service
from app.crm.services import custom_fields
from app.extensions import db
from app.integrations import sync
from app.integrations.models import SyncRecord
from app.integrations.providers.base import ListInfo
from tests import factories
from tests.conftest import run_jobs
from tests.integrations.connection_fakes import SECRET, make_connection, serving_fakes

LISTS = [ListInfo("L1", "Newsletter", 120), ListInfo("L2", "Customers", 8)]


@pytest.fixture
def fake_providers(app):
    with serving_fakes(app) as server:
        yield server


@pytest.fixture
def setup(owner, fake_providers):
    """A connected FakeMail syncing the "Newsletter" list on every trigger, with a field map and tags."""
    user, account = owner
    custom_fields.create(account, {"label": "Plan", "key": "plan"})
    connection = make_connection(account, user, fake_providers)
    sync.save_settings(account, user, connection, list_ids=["L1"], sync_events=list(sync.SYNC_EVENTS),
                       field_map={"company": "COMPANY", "city": "CITY", "custom.plan": "PLAN", "country": ""},
                       tags="VIP, webinar", available=LISTS)
    fake_providers.reset()
    return user, account, connection


def records(**where) -> list[SyncRecord]:
    query = select(SyncRecord).order_by(SyncRecord.created_at)
    for key, value in where.items():
        query = query.where(getattr(SyncRecord, key) == value)
    return db.session.execute(query).scalars().all()


def expect_subscribe(server, list_id="L1", status=200, **kwargs):
    kwargs.setdefault("json", {"id": "member-1"} if status < 300 else {"message": "Service unavailable"})
    return server.expect("PUT", f"/v1/lists/{list_id}/members", status, **kwargs)


def run_scheduled_retries(app) -> list[float]:
    """Run now the jobs RQ scheduled for a retry; returns how far ahead each was scheduled (seconds)."""
    queue = jobs.queue()
    registry = ScheduledJobRegistry(queue=queue)
    delays = []
    for job_id in registry.get_job_ids():
        delays.append((registry.get_scheduled_time(job_id) - utcnow()).total_seconds())
        registry.remove(job_id)
        queue.enqueue_job(queue.fetch_job(job_id))
    run_jobs(app)
    db.session.expire_all()
    return delays


# ---- settings ---------------------------------------------------------------------------------------------

def test_the_settings_are_checked(owner, fake_providers):
    user, account = owner
    connection = make_connection(account, user, fake_providers)

    def refused(**changes):
        values = dict(list_ids=["L1"], sync_events=["contact.created"], field_map={}, tags="", available=LISTS)
        values.update(changes)
        with pytest.raises(ValidationError) as error:
            sync.save_settings(account, user, connection, **values)
        return error.value.fields

    assert refused(list_ids=["L9"]) == {"lists": "Choose lists the provider offers."}
    assert refused(sync_events=["contact.deleted"]) == {"events": "Choose the events among those offered."}
    assert refused(field_map={"custom.nope": "X"}) == {"map_custom.nope": "This workspace has no such contact field."}
    assert "map_city" in refused(field_map={"city": "CITY\nX"})
    assert "tags" in refused(sync_events=["tag.added"], tags="")
    assert "tags" in refused(tags="*, vip")
    assert "tags" in refused(tags="x" * 51)
    # The provider could not be asked: the lists chosen before may be kept, no other added.
    sync.save_settings(account, user, connection, list_ids=["L1", "L2"], sync_events=[], field_map={}, tags="",
                       available=LISTS)
    sync.save_settings(account, user, connection, list_ids=["L2"], sync_events=[], field_map={}, tags="",
                       available=None)
    assert connection.sync_lists == [{"id": "L2", "name": "Customers"}]


def test_the_settings_page_fetches_the_lists_and_saves(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    connection = make_connection(account, user, fake_providers)
    detail = client.get(f"/integrations/connections/{connection.id}")
    # The page does not wait on the provider: it asks for the lists once loaded (htmx).
    assert f'hx-get="/integrations/connections/{connection.id}/sync"' in detail.text
    assert fake_providers.received("GET", "/v1/lists") == []
    fake_providers.expect("GET", "/v1/lists", json={"lists": [{"id": "L1", "name": "Newsletter"},
                                                              {"id": "L2", "name": "Customers"}]})
    block = client.get(f"/integrations/connections/{connection.id}/sync", headers={"HX-Request": "true"})
    assert block.status_code == 200 and block.text.lstrip().startswith('<div id="sync-settings"')
    assert 'value="L1"' in block.text and "Customers" in block.text and "hx-trigger" not in block.text
    assert "To fill a field of FakeMail's list" in block.text and 'placeholder="FakeMail field"' in block.text
    [lists_call] = fake_providers.received("GET", "/v1/lists")
    assert lists_call.headers["Authorization"] == f"Bearer {SECRET}"

    saved = client.post(f"/integrations/connections/{connection.id}/sync", data={
        "lists": ["L2"], "events": ["contact.created", "tag.added"], "map_city": "CITY", "map_company": " ",
        "tags": "vip, VIP, Buyers"})
    assert saved.status_code == 303
    db.session.refresh(connection)
    assert connection.sync_lists == [{"id": "L2", "name": "Customers"}]
    assert connection.sync_events == ["contact.created", "tag.added"]
    assert connection.field_map == {"city": "CITY"} and connection.sync_tags == ["vip", "Buyers"]

    bad = client.post(f"/integrations/connections/{connection.id}/sync", data={"lists": ["L7"], "events": ["x"]})
    assert bad.status_code == 422
    assert "Choose lists the provider offers." in bad.text and "Choose the events among those offered." in bad.text


def test_a_provider_failing_to_list_says_so_and_keeps_the_form(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    connection = make_connection(account, user, fake_providers)
    fake_providers.expect("GET", "/v1/lists", 500, json={"message": "Internal error, try later"})
    page = client.get(f"/integrations/connections/{connection.id}/sync")
    assert page.status_code == 200
    assert "The lists could not be fetched: FakeMail answered 500: Internal error, try later" in page.text
    assert 'id="sync-form"' in page.text


def test_an_untested_connection_is_not_asked_for_its_lists(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    from app.integrations import connections

    connection = connections.create(account, user, "fakemail", {"api_key": SECRET, "region": "us",
                                                                 "sender": "a@example.com"})
    page = client.get(f"/integrations/connections/{connection.id}/sync")
    assert page.status_code == 200 and "Test the connection first" in page.text
    assert fake_providers.requests == []


# ---- events -> records -> jobs -> the request ----------------------------------------------------------------

def test_a_new_contact_is_pushed_with_its_mapped_fields_and_tags(app, setup, fake_providers):
    user, account, connection = setup
    company = factories.make_company(account, "Globex")
    expect_subscribe(fake_providers)
    contact = factories.make_contact(account, user, email="ann@example.com", first_name="Ann", last_name="Archer",
                                     phone="+14155552671", company_id=str(company.id), city="Lyon", country="FR",
                                     custom_fields={"plan": "Pro"}, tags=["VIP", "internal"])
    [record] = records()
    assert (record.status, record.trigger, record.list_id, record.email, record.attempts) == (
        "queued", "contact.created", "L1", "ann@example.com", 0)
    assert fake_providers.requests == []  # nothing is sent inside the request: a job does it
    run_jobs(app)
    db.session.expire_all()
    [request] = fake_providers.received("PUT", "/v1/lists/L1/members")
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert request.json == {"email": "ann@example.com", "first_name": "Ann", "last_name": "Archer",
                            "phone": "+14155552671", "fields": {"COMPANY": "Globex", "CITY": "Lyon", "PLAN": "Pro"},
                            "tags": ["VIP"]}  # "internal" is not among the tags sent; country is not mapped
    record = db.session.get(SyncRecord, record.id)
    assert (record.status, record.attempts, record.error, record.contact_id) == ("synced", 1, None, contact.id)
    # Safe to run twice: a synced record is not pushed again.
    assert sync.push(record.id) == "synced"
    assert len(fake_providers.received("PUT")) == 1


def test_updates_and_tags_sync_only_as_the_triggers_say(app, setup, fake_providers):
    user, account, connection = setup
    expect_subscribe(fake_providers)
    contact = factories.make_contact(account, user, email="bo@example.com", first_name="Bo")
    run_jobs(app)
    contact_service.update(account, contact, {"city": "Oslo"}, partial=True)
    contact_service.add_tag(account, contact, "webinar")  # a tag that is sent
    contact_service.add_tag(account, contact, "unrelated")  # one that is not: nothing to sync
    assert [r.trigger for r in records()] == ["contact.created", "contact.updated"]  # the tag joined the queued one
    run_jobs(app)
    assert [r.status for r in records()] == ["synced", "synced"]
    last = fake_providers.received("PUT")[-1].json
    assert last["fields"] == {"CITY": "Oslo"} and last["tags"] == ["webinar"]

    # Triggers off: no record; a connection that is not connected: no record.
    sync.save_settings(account, user, connection, list_ids=["L1"], sync_events=["contact.created"],
                       field_map={}, tags="", available=LISTS)
    contact_service.update(account, contact, {"city": "Bergen"}, partial=True)
    assert len(records()) == 2
    connection.status = "failed"
    db.session.commit()
    factories.make_contact(account, user, email="cy@example.com")
    assert len(records()) == 2


def test_every_chosen_list_gets_its_record(app, setup, fake_providers):
    user, account, connection = setup
    sync.save_settings(account, user, connection, list_ids=["L1", "L2"], sync_events=["contact.created"],
                       field_map={}, tags="", available=LISTS)
    expect_subscribe(fake_providers, "L1")
    expect_subscribe(fake_providers, "L2")
    factories.make_contact(account, user, email="dee@example.com")
    assert sorted(r.list_id for r in records()) == ["L1", "L2"]
    run_jobs(app)
    assert {r.path for r in fake_providers.received("PUT")} == {"/v1/lists/L1/members", "/v1/lists/L2/members"}
    assert {r.status for r in records()} == {"synced"}


def test_a_contact_without_email_is_skipped_with_the_reason(app, setup, fake_providers):
    user, account, connection = setup
    factories.make_contact(account, user, first_name="Phone", last_name="Only", phone="+14155552671")
    [record] = records()
    assert (record.status, record.error) == ("skipped", "The contact has no e-mail address.")
    run_jobs(app)
    assert fake_providers.requests == []


def test_a_contact_deleted_before_its_push_is_skipped(app, setup, fake_providers):
    user, account, connection = setup
    contact = factories.make_contact(account, user, email="gone@example.com")
    contact_service.soft_delete(account, contact)
    run_jobs(app)
    [record] = records()
    assert (record.status, record.error) == ("skipped", "The contact was deleted.")
    assert fake_providers.requests == []


@pytest.mark.parametrize("trouble", ["5xx", "timeout"])
def test_provider_trouble_is_retried_then_failed_with_the_reason(app, setup, fake_providers, trouble):
    user, account, connection = setup
    if trouble == "5xx":
        expect_subscribe(fake_providers, status=503)
        reason = "FakeMail answered 503: Service unavailable"
    else:
        app.config["PROVIDER_TIMEOUT"] = 0.2
        expect_subscribe(fake_providers, delay=0.6)
        reason = "FakeMail did not answer within 0.2 seconds."
    factories.make_contact(account, user, email="eve@example.com")
    run_jobs(app)
    db.session.expire_all()
    [record] = records()
    assert (record.status, record.attempts) == ("queued", 1)
    assert record.error == f"Attempt 1 failed, trying again: {reason}"
    delays = []
    for _ in range(3):  # RQ's retries, 60, 120 and 240 seconds later
        delays += run_scheduled_retries(app)
    assert [round(delay, -1) for delay in delays] == [60, 120, 240]
    record = records()[0]
    assert (record.status, record.attempts, record.error) == ("failed", 4, reason)
    assert len(fake_providers.received("PUT")) == 4
    assert run_scheduled_retries(app) == []  # given up: nothing more scheduled


def test_a_refusal_fails_at_once_without_retrying(app, setup, fake_providers):
    user, account, connection = setup
    expect_subscribe(fake_providers, status=400, json={"message": "Invalid e-mail domain"})
    factories.make_contact(account, user, email="frank@example.com")
    run_jobs(app)
    db.session.expire_all()
    [record] = records()
    assert (record.status, record.attempts) == ("failed", 1)
    assert record.error == "FakeMail answered 400: Invalid e-mail domain"
    assert run_scheduled_retries(app) == []


# ---- sync all now ------------------------------------------------------------------------------------------

def test_sync_all_pushes_every_contact_with_an_email_in_batches(app, client, login, setup, fake_providers,
                                                                  monkeypatch):
    user, account, connection = setup
    login(user, account)
    sync.save_settings(account, user, connection, list_ids=["L1"], sync_events=[], field_map={"city": "CITY"},
                       tags="*", available=LISTS)
    monkeypatch.setattr(sync, "BATCH_SIZE", 2)
    for n in range(5):
        factories.make_contact(account, user, email=f"p{n}@example.com", city=f"City {n}", tags=[f"t{n}"])
    factories.make_contact(account, user, first_name="No", last_name="Mail")
    gone = factories.make_contact(account, user, email="deleted@example.com")
    contact_service.soft_delete(account, gone)
    expect_subscribe(fake_providers)

    response = client.post(f"/integrations/connections/{connection.id}/sync-all")
    assert response.status_code == 303
    job = db.session.execute(select(Job)).scalar_one()
    assert job.kind == f"integration_sync_all:{connection.id}" and job.state == "queued"
    page = client.get(f"/integrations/connections/{connection.id}").text
    assert f'id="job-{job.id}"' in page and "Sync all contacts to FakeMail" in page
    # A second click while it runs is refused.
    client.post(f"/integrations/connections/{connection.id}/sync-all")
    assert db.session.execute(select(func.count()).select_from(Job)).scalar_one() == 1

    progress = []
    original = jobs.progress
    monkeypatch.setattr(jobs, "progress", lambda job_id, percent, message="": (
        progress.append(percent), original(job_id, percent, message)))
    run_jobs(app)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert (job.state, job.progress) == ("finished", 100)
    assert job.message == "5 of 5 contacts: 5 synced, 0 failed"
    assert progress == [40, 80, 100]  # batches of 2
    sent = fake_providers.received("PUT", "/v1/lists/L1/members")
    assert sorted(r.json["email"] for r in sent) == [f"p{n}@example.com" for n in range(5)]
    assert {r.json["email"]: (r.json["fields"], r.json["tags"]) for r in sent}["p3@example.com"] == (
        {"CITY": "City 3"}, ["t3"])
    synced = records(trigger="sync_all")
    assert len(synced) == 5 and {r.status for r in synced} == {"synced"} and {r.job_id for r in synced} == {job.id}
    # Run again (a worker that died after its work): nothing is pushed twice.
    sync.run_sync_all(str(job.id), str(connection.id))
    assert len(fake_providers.received("PUT")) == 5
    page = client.get(f"/integrations/connections/{connection.id}").text
    assert "5 of 5 contacts: 5 synced, 0 failed" in page


def test_sync_all_hands_transient_failures_to_retried_jobs_and_counts_refusals(app, setup, fake_providers):
    user, account, connection = setup
    for n in range(3):
        factories.make_contact(account, user, email=f"q{n}@example.com")
    db.session.execute(SyncRecord.__table__.delete())
    db.session.commit()
    jobs.queue().empty()
    fake_providers.reset()
    expect_subscribe(fake_providers, status=503, times=1)
    expect_subscribe(fake_providers, status=422, times=1, json={"message": "Member in compliance state"})
    expect_subscribe(fake_providers)
    job = sync.start_sync_all(account, user, connection)
    run_jobs(app)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.message == "3 of 3 contacts: 1 synced, 1 failed, 1 to try again"
    # The refusal is failed with the provider's words; the transient failure became a job of its own, which
    # went through on its second attempt.
    by_attempts = {r.attempts: r for r in records()}
    assert sorted((r.status, r.attempts) for r in records()) == [("failed", 1), ("synced", 1), ("synced", 2)]
    assert [r.error for r in records() if r.status == "failed"] == ["FakeMail answered 422: Member in compliance state"]
    assert by_attempts[2].error is None
    assert len(fake_providers.received("PUT")) == 4


def test_sync_all_is_refused_without_lists_or_connection(owner, fake_providers):
    user, account = owner
    connection = make_connection(account, user, fake_providers)
    with pytest.raises(ValidationError, match="Choose the lists to sync first"):
        sync.start_sync_all(account, user, connection)
    connection.status = "failed"
    with pytest.raises(ValidationError, match="Test the connection first"):
        sync.start_sync_all(account, user, connection)


def test_a_provider_that_stays_down_pauses_sync_all_for_a_retry(app, setup, fake_providers, monkeypatch):
    user, account, connection = setup
    monkeypatch.setattr(sync, "STOP_AFTER_UNANSWERED", 2)
    for n in range(4):
        factories.make_contact(account, user, email=f"r{n}@example.com")
    db.session.execute(SyncRecord.__table__.delete())
    db.session.commit()
    jobs.queue().empty()
    fake_providers.reset()
    expect_subscribe(fake_providers, status=502)
    job = sync.start_sync_all(account, user, connection)
    run_jobs(app)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.state == "queued" and "Paused after 2 failures in a row: FakeMail answered 502" in job.error
    # It stopped asking: two contacts were tried (and handed to retried jobs of their own), two not yet.
    assert len({r.json["email"] for r in fake_providers.received("PUT")}) == 2
    # The provider is back: the job's retry goes on with the contacts it had not done.
    fake_providers.reset()
    expect_subscribe(fake_providers)
    run_scheduled_retries(app)
    job = db.session.get(Job, job.id)
    assert job.state == "finished"
    pushed = sorted(r.json["email"] for r in fake_providers.received("PUT"))
    assert pushed == ["r0@example.com", "r1@example.com", "r2@example.com", "r3@example.com"]
    assert len(records(trigger="sync_all")) == 4


# ---- the sync log page ---------------------------------------------------------------------------------------

def test_the_sync_log_lists_filters_and_pages_the_records(app, client, login, setup, fake_providers):
    user, account, connection = setup
    login(user, account)
    expect_subscribe(fake_providers, status=400, json={"message": "Bounced address"}, times=1)
    expect_subscribe(fake_providers)
    bad = factories.make_contact(account, user, email="bad@example.com")
    run_jobs(app)
    good = factories.make_contact(account, user, email="good@example.com")
    run_jobs(app)
    factories.make_contact(account, user, first_name="No", last_name="Email")
    page = client.get(f"/integrations/connections/{connection.id}").text
    assert 'id="sync-records"' in page
    assert f'href="/contacts/{bad.id}">bad@example.com</a>' in page and "Bounced address" in page
    assert f'href="/contacts/{good.id}">good@example.com</a>' in page and "Newsletter" in page
    assert "0 queued · 1 synced · 1 failed · 1 skipped" in page
    failed_only = client.get(f"/integrations/connections/{connection.id}?sync_status=failed").text
    assert "bad@example.com" in failed_only and "good@example.com" not in failed_only
    skipped = client.get(f"/integrations/connections/{connection.id}?sync_status=skipped").text
    assert "The contact has no e-mail address." in skipped and "bad@example.com" not in skipped
    assert "No queued contact" in client.get(f"/integrations/connections/{connection.id}?sync_status=queued").text
    # Paginated.
    for n in range(21):
        db.session.add(SyncRecord(account_id=account.id, connection_id=connection.id, email=f"old{n}@example.com",
                                  list_id="L1", trigger="contact.created", status="synced",
                                  created_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    first = client.get(f"/integrations/connections/{connection.id}").text
    assert "1–20 of 24" in first and "sync_page=2" in first
    second = client.get(f"/integrations/connections/{connection.id}?sync_page=2").text
    assert "21–24 of 24" in second
    assert SECRET not in first and SECRET not in second


# ---- with a real adapter ---------------------------------------------------------------------------------------

def test_the_sendgrid_adapter_connects_and_syncs_through_these_pages(app, client, owner, login):
    """The whole path with SendGrid's own adapter against a stand-in: connect, choose a list, a new contact
    pushed by a job with the documented upsert (PUT /v3/marketing/contacts)."""
    from app.integrations import providers
    from app.integrations.models import Connection
    from tests.integrations.standin import StandIn

    if "sendgrid" not in providers.REGISTRY:
        pytest.skip("the SendGrid adapter is not installed")
    user, account = owner
    login(user, account)
    saved = app.config.get("PROVIDER_BASE_URLS")
    with StandIn() as server:
        app.config["PROVIDER_BASE_URLS"] = {**(saved or {}), "sendgrid": server.url}
        try:
            server.expect("GET", "/v3/scopes", json={"scopes": ["marketing.read", "mail.send"]})
            server.expect("GET", "/v3/marketing/lists", json={"result": [{"id": "abc-1", "name": "Leads",
                                                                         "contact_count": 3}], "_metadata": {}})
            server.expect("PUT", "/v3/marketing/contacts", 202, json={"job_id": "j1"})
            response = client.post("/integrations/connections/new/sendgrid",
                                   data={"api_key": "SG.test-key-7788", "region": "global"})
            assert response.status_code == 303
            connection = db.session.execute(select(Connection)).scalar_one()
            assert connection.status == "connected"
            assert connection.status_message == "API key accepted; it may send e-mail."
            assert "SG.test-key-7788" not in client.get(response.headers["Location"]).text
            saved_settings = client.post(f"/integrations/connections/{connection.id}/sync", data={
                "lists": ["abc-1"], "events": ["contact.created"], "map_city": "city"})
            assert saved_settings.status_code == 303
            factories.make_contact(account, user, email="sg@example.com", first_name="Sam", city="Paris")
            run_jobs(app)
            [upsert] = server.received("PUT", "/v3/marketing/contacts")
            assert upsert.headers["Authorization"] == "Bearer SG.test-key-7788"
            assert upsert.json == {"list_ids": ["abc-1"], "contacts": [
                {"email": "sg@example.com", "first_name": "Sam", "last_name": "Archer", "city": "Paris"}]}
            assert [r.status for r in records()] == ["synced"]
        finally:
            app.config["PROVIDER_BASE_URLS"] = saved
