"""Exports of the funnel reports (REQ-FUN-004-12): the API and the app's form start a job that writes CSV, XLSX (with
native charts) or PDF (with SVG charts) from the reports, tells the person who asked (notification, e-mail) and
serves the file from a signed link for 24 hours; bad requests are refused with the reason."""
import csv
import io
import re
import uuid
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.analytics import exports, svgcharts
from app.auth import services as auth_services
from app.core import dates, jobs
from app.core.db import utcnow
from app.core.models import Job, Notification
from app.extensions import db
from tests import factories
from tests.analytics import report_data
from tests.api.conftest import assert_json_error
from tests.conftest import run_jobs

API = "/api/v1/analytics"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def sales(owner):
    """The reports' known traffic and orders (tests/analytics/report_data.py), and a viewer's API key."""
    user, account = owner
    funnel = report_data.sales_funnel(account, user)
    other = report_data.sales_funnel(account, user, name="Other funnel")
    traffic = report_data.known_traffic(funnel)
    report_data.known_orders(account, funnel, other, traffic["at"])
    viewer = factories.add_member(account, "viewer", email="viewer@example.com", name="Vic Viewer")
    _, secret = auth_services.create_api_key(account, viewer, "Exports")
    today = dates.today("UTC")
    return {"account": account, "owner": user, "viewer": viewer, "funnel": funnel,
            "headers": {"Authorization": f"Bearer {secret}"},
            "date_from": (today - timedelta(days=29)).isoformat(), "date_to": today.isoformat()}


def fetch(app, url: str):
    """GET a download link (absolute or a path) without a session; the response is read and closed."""
    response = app.test_client().get(url.removeprefix(app.config["BASE_URL"]))
    response.get_data()
    response.close()
    return response


def start(client, sales, **body):
    payload = {"funnel_id": str(sales["funnel"].id), "report_type": "overview", "date_from": sales["date_from"],
               "date_to": sales["date_to"], "format": "csv", **body}
    return client.post(f"{API}/export", json=payload, headers=sales["headers"])


def export_file(app, client, sales, **body) -> tuple[Job, bytes]:
    """Start an export through the API, run the job, download the file from the notified link."""
    response = start(client, sales, **body)
    assert response.status_code == 202, response.text
    run_jobs(app)
    job = db.session.get(Job, uuid.UUID(response.get_json()["job_id"]))
    assert job.state == "finished", job.error
    notification = db.session.query(Notification).filter_by(user_id=sales["viewer"].id).order_by(
        Notification.created_at.desc()).first()
    download = fetch(app, notification.url)
    assert download.status_code == 200, download.text
    return job, download.data


def sections(data: bytes) -> dict[str, list[list[str]]]:
    """The CSV's blocks: the details (first block) under "details", then each block under its first cell."""
    found, name, rows = {}, "details", []
    for row in csv.reader(io.StringIO(data.decode("utf-8"))):
        if not row:
            found[name], name, rows = rows, None, []
        elif name is None:
            name = row[0]
        else:
            rows.append(row)
    found[name] = rows
    return found


def table(block: list[list[str]]) -> list[dict]:
    header, *rows = block
    return [dict(zip(header, row, strict=True)) for row in rows]


# ---- the API ---------------------------------------------------------------------------------------------------

def test_export_answers_202_then_the_job_writes_the_overview_csv(app, client, sales, outbox):
    response = start(client, sales)
    assert response.status_code == 202, response.text
    body = response.get_json()
    assert set(body) == {"job_id", "status", "estimated_completion"} and body["status"] == "processing"
    assert datetime.fromisoformat(body["estimated_completion"]) > utcnow()
    job = db.session.get(Job, uuid.UUID(body["job_id"]))
    assert job.kind == "analytics_export" and job.state == "queued" and job.created_by_id == sales["viewer"].id

    run_jobs(app)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert (job.state, job.progress) == ("finished", 100)
    assert job.result_name.endswith(f"overview-{sales['date_from']}-to-{sales['date_to']}.csv")
    assert job.expires_at > utcnow() + timedelta(hours=23)

    # told in the app and by e-mail, with the same signed link
    notification = db.session.query(Notification).filter_by(user_id=sales["viewer"].id).one()
    assert notification.title == "Your export is ready" and notification.read_at is None
    assert notification.url.startswith(app.config["BASE_URL"] + "/analytics/exports/")
    assert notification.account_id == sales["account"].id
    [message] = [m for m in outbox if m["To"] == "viewer@example.com"]
    assert message["Subject"] == "Your export is ready"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert notification.url in text and "24 hours" in text
    assert notification.url in message.get_body(preferencelist=("html",)).get_content()

    # the link downloads the file without a session
    download = fetch(app, notification.url)
    assert download.status_code == 200
    assert download.mimetype == "text/csv" and "attachment" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "private, no-store"
    found = sections(download.data)
    details = dict(found["details"])
    assert datetime.fromisoformat(details.pop("generated_at")) <= utcnow()
    assert details == {"report": "overview", "funnel": "Spring sale", "funnel_id": str(sales["funnel"].id),
                       "date_from": sales["date_from"], "date_to": sales["date_to"], "time_zone": "UTC",
                       "currency": "USD"}
    summary = dict(found["summary"][1:])
    assert summary["visitors.unique"] == "4" and summary["visitors.total"] == "5" and summary["visitors.new"] == "3"
    assert summary["conversions.total"] == "3" and summary["conversions.rate"] == "0.75"
    assert summary["revenue.total_cents"] == "7000"
    steps = table(found["steps"])
    assert [(row["step_name"], row["entries"], row["drop_offs"]) for row in steps] == [
        ("Landing", "5", "3"), ("Order form", "2", "1"), ("Thanks", "1", "0")]
    assert steps[0]["step_id"] == str(sales["funnel"].steps[0].id)


def test_conversions_csv_lists_every_converting_visitor_streamed_in_chunks(app, client, sales, monkeypatch):
    monkeypatch.setattr(exports, "VISITOR_CHUNK", 1)  # A and D: two round trips of the cursor
    messages = []
    real_progress = exports._progress_while_streaming
    monkeypatch.setattr(exports, "_progress_while_streaming",
                        lambda job_id, percent, message: messages.append(message) or real_progress(
                            job_id, percent, message))
    _, data = export_file(app, client, sales, report_type="conversions")
    found = sections(data)
    assert dict(found["summary"][1:])["total_conversions"] == "3"
    by_type = {row["conversion_type"]: row["count"] for row in table(found["by_type"])}
    assert by_type == {"form_submit": "1", "purchase": "1", "signup": "1", "custom": "0"}
    visitors = table(found["converting_visitors"])
    a, _, _, d = report_data.VISITORS
    assert {row["visitor_id"]: (row["conversions"], row["total_value_cents"]) for row in visitors} == {
        str(a): ("2", "5000"), str(d): ("1", "0")}
    assert all(row["session_id"] for row in visitors)
    assert len(table(found["over_time"])) == 30
    assert messages == ["1 of 2 converting visitors", "2 of 2 converting visitors"]


def test_dropoffs_and_revenue_csv(app, client, sales):
    _, data = export_file(app, client, sales, report_type="dropoffs")
    found = sections(data)
    funnel_rows = table(found["drop_off_funnel"])
    assert [(row["step_name"], row["visitors"]) for row in funnel_rows] == [
        ("Landing", "4"), ("Order form", "2"), ("Thanks", "1")]
    worst = table(found["steps_with_drop_off"])
    assert worst[0]["severity"] in ("low", "medium", "high") and worst[0]["suggestions"]
    assert "form_abandoned" in "".join(row["common_exit_reasons"] for row in worst)

    _, data = export_file(app, client, sales, report_type="revenue")
    found = sections(data)
    summary = dict(found["summary"][1:])
    assert (summary["total_revenue_cents"], summary["net_revenue_cents"]) == ("7700", "7000")
    assert {row["source"]: row["revenue_cents"] for row in table(found["by_source"])} == {
        "google": "5000", "facebook": "2000"}
    assert [row["product_name"] for row in table(found["top_products"])][:1] == ["Course"]


@pytest.mark.parametrize("report_type", list(exports.REPORT_TYPES))
def test_xlsx_has_a_sheet_per_table_and_native_charts(app, client, sales, report_type):
    _, data = export_file(app, client, sales, report_type=report_type, format="xlsx")
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    sheets = [name for name in names if name.startswith("xl/worksheets/sheet")]
    assert len(sheets) >= 2  # the summary and the tables
    assert any(name.startswith("xl/charts/chart") for name in names), names
    workbook = archive.read("xl/workbook.xml").decode()
    assert 'name="Summary"' in workbook
    assert "Spring sale" in archive.read("xl/worksheets/sheet1.xml").decode()


def test_xlsx_without_charts(app, client, sales):
    _, data = export_file(app, client, sales, format="xlsx", include_charts=False)
    assert not [name for name in zipfile.ZipFile(io.BytesIO(data)).namelist() if "chart" in name]


@pytest.mark.parametrize("report_type", list(exports.REPORT_TYPES))
def test_pdf_with_charts(app, client, sales, report_type):
    job, data = export_file(app, client, sales, report_type=report_type, format="pdf")
    assert data.startswith(b"%PDF") and len(data) > 5000
    assert job.result_name.endswith(".pdf")


def test_pdf_draws_the_charts_as_svg_and_names_the_funnel(app, sales, monkeypatch):
    """What weasyprint is given: the funnel's name, the figures, a chart per table that has one (no JavaScript)."""
    from app.analytics import reports

    seen = {}

    class FakeHTML:
        def __init__(self, string, base_url):
            seen["html"] = string

        def write_pdf(self, target, stylesheets=None):
            seen["target"] = target

    monkeypatch.setattr("weasyprint.HTML", FakeHTML)
    account, funnel = sales["account"], sales["funnel"]
    document = exports.document_of(account, funnel, "overview", reports.last_days(account, 30))
    assert exports.write_pdf(document, Path(app.config["EXPORTS_DIR"]) / "x.pdf", include_charts=True) == 3
    html = seen["html"]
    assert "Overview: Spring sale" in html and "Unique visitors" in html
    assert html.count("<svg") == 1 and "Visitors per step" in html and "<script" not in html
    assert "style=" not in html.split("<body>")[1]
    # a PDF lists the first converting visitors only, and says so
    monkeypatch.setattr(exports, "PDF_VISITORS", 1)
    document = exports.document_of(account, funnel, "conversions", reports.last_days(account, 30), None, 1)
    exports.write_pdf(document, Path(app.config["EXPORTS_DIR"]) / "y.pdf", include_charts=True)
    assert "The first 1 of 2: the CSV and Excel exports list them all." in seen["html"]
    assert seen["html"].count("<svg") == 2  # conversions per day, per step


def test_bad_requests_are_refused_with_the_reason(client, sales):
    assert_json_error(start(client, sales, report_type="funnel"), 400, "invalid_export", "report_type")
    assert_json_error(start(client, sales, report_type=7), 400, "invalid_export", "report_type")
    assert_json_error(start(client, sales, format="docx"), 400, "invalid_export", "format")
    assert_json_error(start(client, sales, date_from=sales["date_to"], date_to=sales["date_from"]), 400,
                      field="date_to")
    assert_json_error(start(client, sales, date_from="2024-01-01", date_to="2025-06-01"), 400, field="date_from")
    assert_json_error(start(client, sales, date_from="soon"), 400, field="date_from")
    assert_json_error(start(client, sales, funnel_id=""), 400, field="funnel_id")
    assert_json_error(start(client, sales, include_charts="maybe"), 422, field="include_charts")
    assert_json_error(start(client, sales, formats="pdf"), 422, field="formats")
    assert_json_error(start(client, sales, funnel_id=str(uuid.uuid4())), 404)
    assert db.session.query(Job).count() == 0


def test_another_accounts_funnel_is_not_found(client, sales):
    stranger = factories.make_user("stranger@example.com")
    theirs = factories.make_account(stranger, "Theirs")
    funnel = report_data.sales_funnel(theirs, stranger, name="Their funnel")
    assert_json_error(start(client, sales, funnel_id=str(funnel.id)), 404)
    _, secret = auth_services.create_api_key(theirs, stranger, "Theirs")
    mine = start(client, sales)
    job_id = mine.get_json()["job_id"]
    other = client.get(f"{API}/exports/{job_id}", headers={"Authorization": f"Bearer {secret}"})
    assert_json_error(other, 404)


def test_export_status_gives_the_link_once_ready(app, client, sales):
    job_id = start(client, sales, format="xlsx").get_json()["job_id"]
    status = client.get(f"{API}/exports/{job_id}", headers=sales["headers"]).get_json()
    assert status["status"] == "processing" and status["download_url"] is None and status["expires_at"] is None
    run_jobs(app)
    status = client.get(f"{API}/exports/{job_id}", headers=sales["headers"]).get_json()
    assert status["status"] == "completed" and status["progress"] == 100
    assert status["download_url"].startswith(app.config["BASE_URL"] + "/analytics/exports/")
    assert fetch(app, status["download_url"]).status_code == 200
    # another job of the workspace is not an export
    other = jobs.create_job(sales["account"], "activity_export", "Activity")
    assert_json_error(client.get(f"{API}/exports/{other.id}", headers=sales["headers"]), 404)


# ---- the signed link ----------------------------------------------------------------------------------------

def test_the_link_works_for_24_hours_then_answers_410(app, client, sales, monkeypatch):
    job, _ = export_file(app, client, sales)
    path = f"/analytics/exports/{exports.link_token(job)}"
    later = utcnow() + timedelta(hours=23)
    monkeypatch.setattr(exports, "utcnow", lambda: later)
    assert fetch(app, path).status_code == 200
    later = utcnow() + timedelta(hours=24, minutes=1)
    monkeypatch.setattr(exports, "utcnow", lambda: later)
    gone = fetch(app, path)
    assert gone.status_code == 410 and "expired" in gone.text and "24 hours" in gone.text
    assert "text/html" in gone.content_type


def test_a_link_whose_file_was_cleaned_up_answers_410(app, client, sales):
    job, _ = export_file(app, client, sales)
    path = f"/analytics/exports/{exports.link_token(job)}"
    assert jobs.remove_expired_results(now=utcnow() + timedelta(hours=25)) == 1
    db.session.expire_all()
    assert db.session.get(Job, job.id).result_path is None and not list(Path(app.config["EXPORTS_DIR"]).rglob(
        f"*{job.id}*"))
    gone = fetch(app, path)
    assert gone.status_code == 410 and "cleaned up" in gone.text


def test_the_clean_up_schedule_keeps_fresh_files(app, client, sales):
    from app.dashboard.tasks import remove_expired_exports

    job, _ = export_file(app, client, sales)
    assert remove_expired_exports() == {"message": "0 expired export files deleted."}
    assert fetch(app, f"/analytics/exports/{exports.link_token(job)}").status_code == 200


def test_a_tampered_or_foreign_token_is_not_found(app, client, sales):
    job, _ = export_file(app, client, sales)
    token = exports.link_token(job)
    assert fetch(app, f"/analytics/exports/{token[:-2]}xx").status_code == 404
    from itsdangerous import URLSafeTimedSerializer

    other_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="password-reset").dumps({"job": str(job.id)})
    assert fetch(app, f"/analytics/exports/{other_salt}").status_code == 404
    activity = jobs.create_job(sales["account"], "activity_export", "Activity")
    assert fetch(app, f"/analytics/exports/{exports.link_token(activity)}").status_code == 410


def test_a_mail_server_that_fails_does_not_fail_the_export(app, client, sales, monkeypatch):
    from app.core import mail

    def down(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(mail, "send_template", down)
    job, data = export_file(app, client, sales)
    assert data and db.session.query(Notification).count() == 1


# ---- the app's export form ------------------------------------------------------------------------------------

def test_the_export_form_starts_the_job_and_shows_its_progress(app, client, sales, login, outbox):
    login(sales["owner"], sales["account"])
    funnel = sales["funnel"]
    url = f"/analytics/funnels/{funnel.id}/export"
    page = client.get(url + "?report=revenue")
    assert page.status_code == 200
    assert 'name="export-report_type"' in page.text and '<option selected value="revenue">' in page.text
    form = {"export-report_type": "conversions", "export-format": "pdf", "export-date_from": sales["date_from"],
            "export-date_to": sales["date_to"], "export-include_charts": "y"}
    started = client.post(url, data=form, headers=HTMX)
    assert started.status_code == 202
    assert f'id="export-{funnel.id}"' in started.text and 'class="job"' in started.text
    assert "Conversions of Spring sale (PDF)" in started.text
    run_jobs(app)
    job = db.session.query(Job).one()
    assert job.state == "finished" and job.result_name.endswith(".pdf") and job.created_by_id == sales["owner"].id
    assert db.session.query(Notification).filter_by(user_id=sales["owner"].id).count() == 1
    assert [m["To"] for m in outbox] == ["owner@example.com"]
    # without htmx: Post/Redirect/Get to the page showing the job
    plain = client.post(url, data=form)
    assert plain.status_code == 303 and "?job=" in plain.headers["Location"]
    assert 'class="job"' in client.get(plain.headers["Location"]).text


def test_the_export_form_puts_refusals_next_to_the_field(client, sales, login):
    login(sales["owner"], sales["account"])
    url = f"/analytics/funnels/{sales['funnel'].id}/export"
    refused = client.post(url, data={"export-report_type": "overview", "export-format": "csv",
                                     "export-date_from": "2024-01-01", "export-date_to": "2025-12-31"}, headers=HTMX)
    assert refused.status_code == 422 and "longer than a year" in refused.text and 'class="job"' not in refused.text
    refused = client.post(url, data={"export-report_type": "visits", "export-format": "csv",
                                     "export-date_from": sales["date_from"], "export-date_to": sales["date_to"]},
                          headers=HTMX)
    assert refused.status_code == 422 and "report_type must be one of" in refused.text
    assert db.session.query(Job).count() == 0


def test_the_export_form_of_another_accounts_funnel_is_not_found(client, sales, login):
    stranger = factories.make_user("stranger@example.com")
    funnel = report_data.sales_funnel(factories.make_account(stranger, "Theirs"), stranger)
    login(sales["owner"], sales["account"])
    assert client.get(f"/analytics/funnels/{funnel.id}/export").status_code == 404
    assert client.post(f"/analytics/funnels/{funnel.id}/export", data={}).status_code == 404


def test_the_partial_can_be_included_by_a_report_page(app, sales, login, client):
    from flask import render_template_string

    from app.analytics import reports

    login(sales["owner"], sales["account"])
    with app.test_request_context():
        from app.core.tenancy import set_current

        set_current(sales["account"], auth_services.membership_of(sales["owner"], sales["account"].id),
                    sales["owner"])
        period = reports.Period(dates.today("UTC") - timedelta(days=6), dates.today("UTC"), "UTC")
        html = render_template_string('{% include "analytics/_export_form.html" %}', funnel=sales["funnel"],
                                      report_type="dropoffs", period=period)
    assert '<option selected value="dropoffs">' in html
    assert f'value="{period.start.isoformat()}"' in html and f'value="{period.end.isoformat()}"' in html
    assert re.search(r'<input checked id="export-include_charts"', html)


# ---- notifications ---------------------------------------------------------------------------------------------

def test_the_bell_counts_unread_notifications_and_the_page_opens_and_marks_them(app, client, sales, login):
    job, _ = export_file(app, client, sales)
    viewer = sales["viewer"]
    login(viewer, sales["account"])
    page = client.get("/notifications")
    assert 'aria-label="Notifications, 1 unread"' in page.text and 'class="notif-count"' in page.text
    assert "Your export is ready" in page.text and "Unread: " in page.text
    notification = db.session.query(Notification).one()
    opened = client.post(f"/notifications/{notification.id}/open")
    assert opened.status_code == 303 and opened.headers["Location"] == notification.url
    db.session.expire_all()
    assert db.session.get(Notification, notification.id).read_at is not None
    page = client.get("/notifications")
    assert 'aria-label="Notifications"' in page.text and 'class="notif-count"' not in page.text

    from app.core import notifications

    for title in ("One", "Two"):
        notifications.notify(viewer.id, sales["account"].id, title, url="/funnels")
    assert 'aria-label="Notifications, 2 unread"' in client.get("/").text
    first = db.session.query(Notification).filter_by(title="One").one()
    assert client.post(f"/notifications/{first.id}/read").status_code == 303
    assert 'aria-label="Notifications, 1 unread"' in client.get("/").text
    assert client.post("/notifications/read-all").status_code == 303
    assert 'class="notif-count"' not in client.get("/").text
    two = db.session.query(Notification).filter_by(title="Two").one()
    assert client.post(f"/notifications/{two.id}/open").headers["Location"] == "/funnels"


def test_another_members_notification_is_not_found(client, sales, login):
    from app.core import notifications

    mine = notifications.notify(sales["viewer"].id, sales["account"].id, "For the viewer")
    login(sales["owner"], sales["account"])
    assert client.post(f"/notifications/{mine.id}/open").status_code == 404
    assert client.post(f"/notifications/{mine.id}/read").status_code == 404
    assert "For the viewer" not in client.get("/notifications").text


def test_a_notification_never_redirects_off_site(client, sales, login):
    from app.core import notifications

    odd = notifications.notify(sales["owner"].id, sales["account"].id, "Odd", url="https://evil.example/x")
    login(sales["owner"], sales["account"])
    assert client.post(f"/notifications/{odd.id}/open").headers["Location"] == "/notifications"


# ---- the SVG charts ------------------------------------------------------------------------------------------

def test_svg_charts_escape_labels_and_carry_no_style():
    bar = str(svgcharts.bar_chart(["<script>alert(1)</script>", "B"], [3, 10], "Visitors & steps"))
    assert "<script>" not in bar and "&lt;script&gt;" in bar and "Visitors &amp; steps" in bar
    assert bar.count("<rect") == 2 and "style=" not in bar and 'role="img"' in bar
    line = str(svgcharts.line_chart([f"2026-01-{day:02d}" for day in range(1, 32)], list(range(31)), "Per day"))
    assert "<polyline" in line and line.count("<circle") == 31 and line.count(">2026-01-") <= svgcharts.MAX_LABELS
    assert svgcharts.nice_ceiling(7300) == 10000 and svgcharts.nice_ceiling(1800) == 2000
    assert svgcharts.compact(2500000) == "2.5M" and svgcharts.compact(0) == "0"
    empty = str(svgcharts.line_chart([], [], "Nothing"))
    assert "<polyline" not in empty
