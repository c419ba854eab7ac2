"""Exports of the funnel reports (REQ-FUN-004-12): overview, conversions, drop-offs or revenue of a funnel over a
period, as CSV, XLSX (with native charts) or PDF (weasyprint, charts drawn as SVG by app/analytics/svgcharts.py).

- `check(account, data)` reads what is asked (the API's body, the pages' form): 404 for a funnel that is not the
  workspace's, 400 with the reason for a report type, format or range it does not take (PeriodError of
  app.analytics.reports for the range: at most a year, not reversed).
- `start(account, user, asked)` makes the tracked Job and enqueues `app.analytics.tasks.export_report`, which
  calls `write()`: the report's data comes from the report functions (app/analytics/reports*.py), which read the
  rollups, so a year costs the same as a week; the one list read from raw events, the converting visitors, is
  streamed in chunks (a server-side cursor), never held whole.
- When the file is written, `deliver()` gives the Job its result and tells the person who asked: an in-app
  notification and an e-mail, both with a signed link (`link_token`: itsdangerous with the app's SECRET_KEY,
  salt "analytics-export", 24 hours) that downloads the file without a session. `open_link()` answers the
  download or says why not (LinkGone: 410, expired or cleaned up). The `exports-cleanup` schedule deletes the
  files after their 24 hours (app.core.jobs.remove_expired_results).
"""
import csv
import logging
import smtplib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select, update

from app.analytics import reports
from app.analytics.models import AnalyticsEvent
from app.analytics.reports import Period
from app.auth.models import Account, User
from app.core import jobs, mail, notifications
from app.core.db import utcnow
from app.core.errors import NotFoundError, ServiceError
from app.core.formatting import ZERO_DECIMAL_CURRENCIES, format_money
from app.core.models import Job
from app.extensions import db
from app.funnels.models import Funnel

log = logging.getLogger(__name__)

REPORT_TYPES = {"overview": "Overview", "conversions": "Conversions", "dropoffs": "Drop-offs", "revenue": "Revenue"}
FORMATS = {"csv": "CSV", "xlsx": "Excel (XLSX)", "pdf": "PDF"}
JOB_KIND = "analytics_export"
LINK_SALT = "analytics-export"
LINK_LIFETIME = jobs.RESULT_LIFETIME  # 24 hours, as long as the file is kept
VISITOR_CHUNK = 2000  # converting visitors read per round trip of the cursor
PDF_VISITORS = 500  # a PDF lists this many converting visitors; the CSV and XLSX list them all
CONTENT_TYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "pdf": "application/pdf"}


class ExportError(ServiceError):
    """What is asked cannot be exported (a report type or format that does not exist): 400 with the reason."""

    status = 400
    code = "invalid_export"


class LinkGone(Exception):
    """The download link is past its 24 hours, or its file was cleaned up: 410."""


# ---- what is asked ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportRequest:
    funnel: Funnel
    report_type: str
    period: Period
    file_format: str
    include_charts: bool

    @property
    def title(self) -> str:
        return f"{REPORT_TYPES[self.report_type]} of {self.funnel.name} ({self.file_format.upper()})"


def _flag(value, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n"):
        return False
    raise ExportError("include_charts must be true or false.", field="include_charts")


def check(account, data: dict) -> ExportRequest:
    """The export asked for; NotFoundError (404) for a funnel that is not the workspace's, ExportError or
    PeriodError (400, naming the field) for the rest. The format defaults to CSV, charts to included."""
    if data.get("funnel_id") in (None, ""):
        raise ExportError("funnel_id is required.", field="funnel_id")
    funnel = reports.funnel_of(account, data.get("funnel_id"))
    report_type = data.get("report_type")
    if not isinstance(report_type, str) or report_type not in REPORT_TYPES:
        raise ExportError(f"report_type must be one of: {', '.join(REPORT_TYPES)}.", field="report_type")
    file_format = data.get("format") or "csv"
    if not isinstance(file_format, str) or file_format not in FORMATS:
        raise ExportError(f"format must be one of: {', '.join(FORMATS)}.", field="format")
    period = reports.read_period(account, data.get("date_from"), data.get("date_to"), "day")
    return ExportRequest(funnel, report_type, period, file_format, _flag(data.get("include_charts"), True))


def estimated_completion(asked: ExportRequest, now: datetime | None = None) -> datetime:
    """When the file should be ready: reports read rollups (seconds); the converting visitors of a long range and
    PDFs take longer. A guess for the API's answer, not a promise."""
    seconds = 5 + asked.period.days // 30
    if asked.report_type == "conversions":
        seconds += asked.period.days // 4
    if asked.file_format == "pdf":
        seconds += 5
    return (now or utcnow()) + timedelta(seconds=seconds)


def start(account, user, asked: ExportRequest) -> Job:
    """The tracked job that writes the file (`tasks.export_report`)."""
    from app.analytics import tasks  # the job this starts (tasks call this service, so it is imported here)

    job = jobs.create_job(account, JOB_KIND, asked.title, user=user)
    jobs.enqueue(tasks.export_report, account.id, user.id if user is not None else None, asked.funnel.id,
                 asked.report_type, asked.period.start.isoformat(), asked.period.end.isoformat(),
                 asked.file_format, asked.include_charts, job=job)
    return job


# ---- the document: a summary, tables and their charts ------------------------------------------------------

@dataclass(frozen=True)
class Column:
    field: str  # the spec's name (the CSV's header)
    label: str  # what people read (XLSX, PDF)
    kind: str = "text"  # text, int, rate (0-1), percent (0-100), cents, seconds


@dataclass(frozen=True)
class Chart:
    kind: str  # bar or line
    title: str
    label_field: str
    value_field: str


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: Iterable[dict]
    chart: Chart | None = None
    total: int | None = None  # rows to come, for a streamed list (progress)
    note: str = ""


@dataclass
class Document:
    report_type: str
    funnel: Funnel
    period: Period
    currency: str
    generated_at: datetime
    summary: list[tuple[Column, object]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{REPORT_TYPES[self.report_type]}: {self.funnel.name}"

    @property
    def period_text(self) -> str:
        return f"{self.period.start:%b %-d, %Y} to {self.period.end:%b %-d, %Y} ({self.period.zone_name})"


STEP = Column("step_name", "Step")
STEP_ID = Column("step_id", "Step id")


def _joined_reasons(reasons: list[dict]) -> str:
    return "; ".join(f"{row['reason']} ({row['count']}, {row['percentage']}%)" for row in reasons)


def _overview(account, funnel, period) -> Document:
    data = reports.overview(account, funnel, period)
    document = Document("overview", funnel, period, account.currency, utcnow())
    document.summary = [
        (Column("visitors.total", "Visits", "int"), data["visitors"]["total"]),
        (Column("visitors.unique", "Unique visitors", "int"), data["visitors"]["unique"]),
        (Column("visitors.new", "New visitors", "int"), data["visitors"]["new"]),
        (Column("visitors.returning", "Returning visitors", "int"), data["visitors"]["returning"]),
        (Column("conversions.total", "Conversions", "int"), data["conversions"]["total"]),
        (Column("conversions.rate", "Conversion rate", "rate"), data["conversions"]["rate"]),
        (Column("conversions.value_cents", "Conversion value", "cents"), data["conversions"]["value_cents"]),
        (Column("revenue.total_cents", "Revenue (net of refunds)", "cents"), data["revenue"]["total_cents"]),
        (Column("revenue.per_visitor_cents", "Revenue per visitor", "cents"), data["revenue"]["per_visitor_cents"]),
        (Column("revenue.per_conversion_cents", "Revenue per conversion", "cents"),
         data["revenue"]["per_conversion_cents"]),
    ]
    document.tables.append(Table("steps", "Steps", [
        STEP, Column("step_type", "Type"), Column("visitors", "Visitors", "int"),
        Column("entries", "Entries", "int"), Column("exits", "Exits", "int"),
        Column("drop_offs", "Drop-offs", "int"), Column("drop_off_rate", "Drop-off rate", "rate"),
        Column("avg_time_seconds", "Avg. time (s)", "seconds"),
        Column("conversion_rate", "Conversion rate", "rate"), STEP_ID],
        data["steps"], Chart("bar", "Visitors per step", "step_name", "visitors")))
    return document


def _conversions(account, funnel, period, report, visitors_limit=None) -> Document:
    from app.analytics.reports_conversions import conversions

    data = conversions(account, funnel, period, 1, 1)  # the visitors are streamed below, not paged
    document = Document("conversions", funnel, period, account.currency, utcnow())
    summary = data["summary"]
    document.summary = [
        (Column("total_conversions", "Conversions", "int"), summary["total_conversions"]),
        (Column("conversion_rate", "Conversion rate", "rate"), summary["conversion_rate"]),
        (Column("total_value_cents", "Conversion value", "cents"), summary["total_value_cents"]),
        (Column("avg_value_cents", "Average value", "cents"), summary["avg_value_cents"]),
    ]
    total = data.get("pagination", {}).get("total") or 0

    def streamed(done: int) -> None:
        if report is not None:
            report(done, total)
    document.tables += [
        Table("over_time", "Conversions per day", [
            Column("timestamp", "Day"), Column("conversions", "Conversions", "int"),
            Column("rate", "Rate", "rate"), Column("value_cents", "Value", "cents")],
            data["over_time"], Chart("line", "Conversions per day", "timestamp", "conversions")),
        Table("by_type", "By type", [
            Column("conversion_type", "Type"), Column("count", "Conversions", "int"), Column("rate", "Rate", "rate"),
            Column("value_cents", "Value", "cents")], data["by_type"]),
        Table("by_step", "By step", [
            STEP, Column("conversions", "Conversions", "int"), Column("conversion_rate", "Conversion rate", "rate"),
            STEP_ID], data["by_step"], Chart("bar", "Conversions per step", "step_name", "conversions")),
        Table("converting_visitors", "Converting visitors", [
            Column("visitor_id", "Visitor"), Column("session_id", "Session of the last conversion"),
            Column("conversions", "Conversions", "int"), Column("total_value_cents", "Value", "cents"),
            Column("first_conversion_at", "First conversion (UTC)"),
            Column("last_conversion_at", "Last conversion (UTC)")],
            converting_visitors(funnel, period, streamed, visitors_limit), total=total),
    ]
    return document


def _dropoffs(account, funnel, period) -> Document:
    from app.analytics.reports_dropoffs import dropoffs

    data = dropoffs(account, funnel, period)
    document = Document("dropoffs", funnel, period, account.currency, utcnow())
    document.summary = [(Column("overall_drop_off_rate", "Overall drop-off rate", "rate"),
                         data["overall_drop_off_rate"])]
    document.tables += [
        Table("drop_off_funnel", "Drop-off funnel", [
            STEP, Column("visitors", "Visitors", "int"), Column("drop_offs", "Drop-offs", "int"),
            Column("cumulative_drop_off_rate", "Lost so far", "rate"), STEP_ID],
            data["drop_off_funnel"], Chart("bar", "Visitors reaching each step", "step_name", "visitors")),
        Table("steps_with_drop_off", "Steps with drop-off (worst first)", [
            STEP, Column("drop_offs", "Drop-offs", "int"), Column("drop_off_rate", "Drop-off rate", "rate"),
            Column("severity", "Severity"), Column("common_exit_reasons", "Common exit reasons"),
            Column("suggestions", "Suggestions"), STEP_ID],
            [{**row, "common_exit_reasons": _joined_reasons(row["common_exit_reasons"]),
              "suggestions": " | ".join(row["suggestions"])} for row in data["steps_with_drop_off"]]),
    ]
    return document


def _revenue(account, funnel, period) -> Document:
    from app.analytics.reports_revenue import revenue

    data = revenue(account, funnel, period)
    document = Document("revenue", funnel, period, account.currency, utcnow())
    summary = data["summary"]
    document.summary = [
        (Column("total_revenue_cents", "Revenue", "cents"), summary["total_revenue_cents"]),
        (Column("net_revenue_cents", "Net revenue (less refunds)", "cents"), summary["net_revenue_cents"]),
        (Column("refund_rate", "Refund rate", "rate"), summary["refund_rate"]),
        (Column("revenue_per_visitor_cents", "Revenue per visitor", "cents"), summary["revenue_per_visitor_cents"]),
        (Column("revenue_per_conversion_cents", "Revenue per conversion", "cents"),
         summary["revenue_per_conversion_cents"]),
    ]
    money = Column("revenue_cents", "Net revenue", "cents")
    document.tables += [
        Table("over_time", "Net revenue per day", [
            Column("timestamp", "Day"), money, Column("orders", "Orders", "int"),
            Column("avg_order_value_cents", "Avg. order value", "cents")],
            data["over_time"], Chart("line", "Net revenue per day", "timestamp", "revenue_cents")),
        Table("by_source", "By source", [Column("source", "Source"), money, Column("percentage", "Share", "percent")],
              data["by_source"], Chart("bar", "Net revenue by source", "source", "revenue_cents")),
        Table("by_step", "By step", [STEP, money, Column("orders", "Orders", "int"),
                                     Column("avg_order_value_cents", "Avg. order value", "cents"), STEP_ID],
              data["by_step"]),
        Table("top_products", "Top products", [Column("product_name", "Product"), money,
                                               Column("units_sold", "Units sold", "int"),
                                               Column("product_id", "Product id")], data["top_products"]),
    ]
    return document


def document_of(account, funnel, report_type: str, period: Period, report=None, visitors_limit=None) -> Document:
    """The report's data as a document to write; `report(done, total)` hears of the streamed rows, of which
    `visitors_limit` are read at most (a PDF's)."""
    if report_type == "conversions":
        return _conversions(account, funnel, period, report, visitors_limit)
    builders = {"overview": _overview, "dropoffs": _dropoffs, "revenue": _revenue}
    if report_type not in builders:
        raise ExportError(f"report_type must be one of: {', '.join(REPORT_TYPES)}.", field="report_type")
    return builders[report_type](account, funnel, period)


def converting_visitors(funnel, period: Period, report: Callable | None = None,
                        limit: int | None = None) -> Iterator[dict]:
    """Every visitor who converted in the range (latest conversion first), as REQ-07's converting_visitors, with
    the session of their latest conversion; anonymized visitors are left out. On PostgreSQL one grouped query read
    through a server-side cursor VISITOR_CHUNK rows at a time (the session picked by the grouping itself)."""
    conditions = [AnalyticsEvent.account_id == funnel.account_id, AnalyticsEvent.funnel_id == funnel.id,
                  AnalyticsEvent.created_at >= period.since, AnalyticsEvent.created_at < period.until,
                  AnalyticsEvent.event_type == "conversion", AnalyticsEvent.visitor_id.is_not(None)]
    last = func.max(AnalyticsEvent.created_at)
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        session = func.array_agg(aggregate_order_by(AnalyticsEvent.session_id, AnalyticsEvent.created_at.desc()))[1]
    else:
        session = func.max(AnalyticsEvent.session_id)  # replaced below: SQLite has no ordered aggregate
    query = (select(AnalyticsEvent.visitor_id, func.count(), func.coalesce(func.sum(AnalyticsEvent.value_cents), 0),
                    func.min(AnalyticsEvent.created_at), last, session)
             .where(*conditions).group_by(AnalyticsEvent.visitor_id).order_by(last.desc(), AnalyticsEvent.visitor_id))
    if limit is not None:
        query = query.limit(limit)
    if postgres:
        chunks = db.session.execute(query.execution_options(yield_per=VISITOR_CHUNK)).partitions()
    else:  # SQLite (`make run`): read at once (an open read would keep progress, another writer, waiting)
        found = db.session.execute(query).all()
        chunks = (found[index:index + VISITOR_CHUNK] for index in range(0, len(found), VISITOR_CHUNK))
    done = 0
    for chunk in chunks:
        sessions = {}
        if not postgres:  # the session of each visitor's latest conversion
            for visitor_id, session_id in db.session.execute(
                    select(AnalyticsEvent.visitor_id, AnalyticsEvent.session_id)
                    .where(*conditions, AnalyticsEvent.visitor_id.in_([row[0] for row in chunk]))
                    .order_by(AnalyticsEvent.created_at)):
                sessions[visitor_id] = session_id
        for visitor_id, count, value, first, latest, session_id in chunk:
            yield {"visitor_id": str(visitor_id), "session_id": sessions.get(visitor_id, session_id) or "",
                   "conversions": int(count), "total_value_cents": int(value),
                   "first_conversion_at": first.isoformat(), "last_conversion_at": latest.isoformat()}
        done += len(chunk)
        if report is not None:
            report(done)


# ---- writers --------------------------------------------------------------------------------------------------

def _safe_text(value):
    """A text cell a spreadsheet will not run as a formula (names are people's text)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _header_rows(document: Document) -> list[list]:
    return [["report", document.report_type], ["funnel", _safe_text(document.funnel.name)],
            ["funnel_id", str(document.funnel.id)], ["date_from", document.period.start.isoformat()],
            ["date_to", document.period.end.isoformat()], ["time_zone", document.period.zone_name],
            ["currency", document.currency], ["generated_at", document.generated_at.isoformat()]]


def write_csv(document: Document, path: Path) -> int:
    """One CSV file: the report's details and summary (field, value), then each table under its name, its
    header the spec's field names; values as the API gives them (cents, rates from 0 to 1). Returns rows."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerows(_header_rows(document))
        writer.writerow([])
        writer.writerow(["summary"])
        writer.writerow(["field", "value"])
        writer.writerows([column.field, value] for column, value in document.summary)
        for table in document.tables:
            writer.writerow([])
            writer.writerow([table.key])
            writer.writerow([column.field for column in table.columns])
            for row in table.rows:
                writer.writerow([_safe_text(row.get(column.field)) for column in table.columns])
                count += 1
    return count


def _xlsx_formats(workbook, currency: str) -> dict:
    money = '#,##0 "{0}"' if currency.upper() in ZERO_DECIMAL_CURRENCIES else '#,##0.00 "{0}"'
    return {"title": workbook.add_format({"bold": True, "font_size": 14}),
            "bold": workbook.add_format({"bold": True}),
            "header": workbook.add_format({"bold": True, "bottom": 1, "bg_color": "#EEF2FF"}),
            "int": workbook.add_format({"num_format": "#,##0"}),
            "seconds": workbook.add_format({"num_format": "#,##0"}),
            "rate": workbook.add_format({"num_format": "0.00%"}),
            "percent": workbook.add_format({"num_format": "0.00%"}),
            "cents": workbook.add_format({"num_format": money.format(currency.upper())}),
            "text": None}


def _cell(value, kind: str, currency: str):
    if value is None:
        return None
    if kind == "cents":
        return value if currency.upper() in ZERO_DECIMAL_CURRENCIES else value / 100
    if kind == "percent":
        return value / 100
    return _safe_text(value) if isinstance(value, str) else value


def _sheet_name(title: str, used: set) -> str:
    name = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31] or "Sheet"
    base, number = name, 2
    while name.lower() in used:
        name = f"{base[:28]} {number}"
        number += 1
    used.add(name.lower())
    return name


def write_xlsx(document: Document, path: Path, include_charts: bool) -> int:
    """A workbook: a Summary sheet (the details and the figures), then a sheet per table, with a native chart
    of the tables that have one when `include_charts`. Money in the currency, rates as percentages."""
    import xlsxwriter

    count = 0
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                               "strings_to_urls": False, "strings_to_numbers": False})
    formats = _xlsx_formats(workbook, document.currency)
    used: set = set()
    summary = workbook.add_worksheet(_sheet_name("Summary", used))
    summary.set_column(0, 0, 28)
    summary.set_column(1, 1, 40)
    summary.write(0, 0, document.title, formats["title"])
    summary.write(1, 0, document.period_text)
    line = 3
    for key, value in _header_rows(document):
        summary.write(line, 0, key, formats["bold"])
        summary.write(line, 1, value)
        line += 1
    line += 1
    for column, value in document.summary:
        summary.write(line, 0, column.label, formats["bold"])
        summary.write(line, 1, _cell(value, column.kind, document.currency), formats[column.kind])
        line += 1
    for table in document.tables:
        sheet_name = _sheet_name(table.title, used)
        sheet = workbook.add_worksheet(sheet_name)
        for index, column in enumerate(table.columns):
            sheet.set_column(index, index, 40 if column.field in ("suggestions", "common_exit_reasons") else
                             max(12, min(36, len(column.label) + 4)))
            sheet.write(0, index, column.label, formats["header"])
        rows = 0
        for row in table.rows:
            rows += 1
            for index, column in enumerate(table.columns):
                sheet.write(rows, index, _cell(row.get(column.field), column.kind, document.currency),
                            formats[column.kind])
        count += rows
        if include_charts and table.chart is not None and rows:
            labels = [index for index, column in enumerate(table.columns) if column.field == table.chart.label_field]
            values = [index for index, column in enumerate(table.columns) if column.field == table.chart.value_field]
            chart = workbook.add_chart({"type": "column" if table.chart.kind == "bar" else "line"})
            chart.add_series({"name": table.chart.title,
                              "categories": [sheet_name, 1, labels[0], rows, labels[0]],
                              "values": [sheet_name, 1, values[0], rows, values[0]],
                              "fill": {"color": "#4F46E5"}, "line": {"color": "#4F46E5"}})
            chart.set_title({"name": table.chart.title})
            chart.set_legend({"none": True})
            sheet.insert_chart(1, len(table.columns) + 1, chart, {"x_scale": 1.4, "y_scale": 1.2})
    workbook.close()
    return count


def _display(value, kind: str, currency: str) -> str:
    if value is None or value == "":
        return "—"
    if kind == "cents":
        return format_money(int(value), currency)
    if kind == "rate":
        return f"{100 * float(value):.1f}%"
    if kind == "percent":
        return f"{float(value):.1f}%"
    if kind in ("int", "seconds"):
        return f"{int(value):,}"
    return str(value)


def _chart_svg(table: Table, rows: list[dict], currency: str):
    from app.analytics import svgcharts

    kind = next(column.kind for column in table.columns if column.field == table.chart.value_field)
    labels = [str(row.get(table.chart.label_field) or "")[:10] if table.chart.label_field == "timestamp"
              else str(row.get(table.chart.label_field) or "—") for row in rows]
    values = [row.get(table.chart.value_field) or 0 for row in rows]
    if kind == "cents":
        def format_value(value):
            return format_money(int(value), currency).split(".")[0]
    else:
        format_value = svgcharts.compact
    draw = svgcharts.bar_chart if table.chart.kind == "bar" else svgcharts.line_chart
    return draw(labels, values, table.chart.title, format_value=format_value)


def write_pdf(document: Document, path: Path, include_charts: bool) -> int:
    """A PDF (weasyprint) of templates/analytics/export_pdf.html, styled by static/css/export_pdf.css; charts are
    inline SVG. Long lists stop at PDF_VISITORS rows, saying so (the CSV and XLSX have them all)."""
    from weasyprint import CSS, HTML

    count = 0
    sections = []
    for table in document.tables:
        rows, seen = [], 0
        for row in table.rows:
            seen += 1
            if len(rows) < PDF_VISITORS:
                rows.append(row)
        count += seen
        note = table.note
        if max(seen, table.total or 0) > len(rows):
            note = (f"The first {len(rows):,} of {max(seen, table.total or 0):,}: the CSV and Excel exports list "
                    "them all.")
        shown = [column for column in table.columns if column.field not in ("step_id", "product_id")]
        sections.append({
            "title": table.title, "note": note, "columns": shown,
            "rows": [[_display(row.get(column.field), column.kind, document.currency) for column in shown]
                     for row in rows],
            "chart": _chart_svg(table, rows, document.currency) if include_charts and table.chart and rows else None,
        })
    html = render_template("analytics/export_pdf.html", document=document, sections=sections,
                           summary=[(column.label, _display(value, column.kind, document.currency))
                                    for column, value in document.summary])
    stylesheet = Path(current_app.static_folder) / "css" / "export_pdf.css"
    HTML(string=html, base_url=current_app.static_folder).write_pdf(
        str(path), stylesheets=[CSS(filename=str(stylesheet))])
    return count


def write(job_id: str, account, funnel, report_type: str, period: Period, file_format: str,
          include_charts: bool) -> dict:
    """Write the export's file (progress reported on the job); the job's result: {path, name, message}."""
    if file_format not in FORMATS:
        raise ExportError(f"format must be one of: {', '.join(FORMATS)}.", field="format")
    folder = Path(current_app.config["EXPORTS_DIR"]) / str(account.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"analytics-{report_type}-{job_id}.{file_format}"
    jobs.progress(job_id, 5, "Reading the report")

    def report(done: int, total: int) -> None:
        total = max(total, done)
        _progress_while_streaming(job_id, 20 + 75 * done // max(total, 1), f"{done:,} of {total:,} converting visitors")

    document = document_of(account, funnel, report_type, period, report,
                           PDF_VISITORS if file_format == "pdf" else None)
    jobs.progress(job_id, 20, f"Writing the {FORMATS[file_format]} file")
    writers = {"csv": lambda: write_csv(document, path), "xlsx": lambda: write_xlsx(document, path, include_charts),
               "pdf": lambda: write_pdf(document, path, include_charts)}
    rows = writers[file_format]()
    slug = "".join(ch if ch.isalnum() else "-" for ch in funnel.name.lower()).strip("-")[:40] or "funnel"
    name = f"{slug}-{report_type}-{period.start.isoformat()}-to-{period.end.isoformat()}.{file_format}"
    return {"path": str(path), "name": name, "message": f"{REPORT_TYPES[report_type]} exported ({rows:,} rows)."}


def _progress_while_streaming(job_id: str, percent: int, message: str) -> None:
    """jobs.progress, on a connection of its own on PostgreSQL: committing the session would close the
    server-side cursor the rows come from. (SQLite reads the rows at once, so the session is free there.)"""
    if db.session.get_bind().dialect.name != "postgresql":
        jobs.progress(job_id, percent, message)
        return
    with db.engine.begin() as connection:
        connection.execute(update(Job).where(Job.id == uuid.UUID(str(job_id)))
                           .values(progress=max(0, min(100, percent)), message=message[:255]))


# ---- the signed link and the messages -----------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)


def link_token(job: Job) -> str:
    return _serializer().dumps({"job": str(job.id)})


def link_url(job: Job) -> str:
    """The absolute download link (also outside a request: the worker sends it)."""
    return f"{current_app.config['BASE_URL'].rstrip('/')}/analytics/exports/{link_token(job)}"


def open_link(token: str, now: datetime | None = None) -> Job:
    """The finished export a link names. NotFoundError for a token that is not ours (or tampered with);
    LinkGone once its 24 hours are over or its file was cleaned up."""
    try:
        payload, signed_at = _serializer().loads(token, return_timestamp=True)
        job_id = uuid.UUID(str(payload["job"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFoundError("This download link is not valid.") from None
    now = now or utcnow()
    job = db.session.get(Job, job_id)
    if job is None or job.kind != JOB_KIND:
        raise LinkGone("This export no longer exists.")
    if now - signed_at > LINK_LIFETIME or (job.expires_at is not None and job.expires_at <= now):
        raise LinkGone("This download link has expired: exports are kept for 24 hours.")
    if not job.result_path or not Path(job.result_path).is_file():
        raise LinkGone("This export's file has been cleaned up: exports are kept for 24 hours.")
    return job


def deliver(job_id: str, result: dict, user_id: str | None) -> dict:
    """The file is written: give the Job its result now (the link works from this moment), then tell the
    person who asked, in the app and by e-mail (an e-mail that fails is logged: the notification is there)."""
    job = db.session.get(Job, uuid.UUID(str(job_id)))
    job.result_path, job.result_name = result["path"], result["name"]
    job.expires_at = utcnow() + jobs.RESULT_LIFETIME
    db.session.commit()
    user = db.session.get(User, uuid.UUID(str(user_id))) if user_id else None
    if user is None:
        return result
    url = link_url(job)
    account = db.session.get(Account, job.account_id)
    notifications.notify(user.id, job.account_id, "Your export is ready",
                         f"{job.title}: download it within 24 hours.", url)
    try:
        mail.send_template(user.email, "Your export is ready", "export_ready", account_id=job.account_id, user=user,
                           job=job, url=url, account=account, hours=int(LINK_LIFETIME.total_seconds() // 3600))
    except (smtplib.SMTPException, OSError) as error:
        log.warning("export e-mail not sent: %s", error, extra={"job": str(job.id)})
    return result


def content_type(job: Job) -> str:
    return CONTENT_TYPES.get(Path(job.result_path).suffix.lstrip("."), "application/octet-stream")

