"""The analytics pages: the Analytics section (the workspace's funnels with their last 30 days), a funnel's reports
in tabs (overview, steps, conversions, drop-offs, revenue, realtime) and a visitor's journey.

Each report tab shows the range picker (the last 7, 30, 90 or 365 days, or days chosen: at most a year, the
reason of a refusal next to the field with a 422), the report of app.analytics.reports* (the same data as the
API) and its charts, drawn by static/js/analytics.js from JSON in the page (the CSP allows no inline script).
The realtime tab polls its own address every 5 seconds; htmx gets the live block alone (core.web.render).
"""
from datetime import datetime

from flask import request, url_for

from app.analytics import (
    bp,
    charts,
    reports,
    reports_conversions,
    reports_dropoffs,
    reports_live,
    reports_revenue,
    reports_summary,
)
from app.analytics.forms import ReportFilterForm
from app.core.formatting import format_datetime
from app.core.forms import apply_error
from app.core.pagination import Page, paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, scoped
from app.core.web import render
from app.crm import hooks as crm_hooks
from app.extensions import db
from app.funnels.models import Funnel

RANGE_ARGS = ("days", "date_from", "date_to")
TABS = (("overview", "Overview"), ("steps", "Steps"), ("conversions", "Conversions"), ("dropoffs", "Drop-offs"),
        ("revenue", "Revenue"), ("realtime", "Realtime"))
EXPORTABLE = {"overview", "conversions", "dropoffs", "revenue"}  # the report types of app/analytics/exports.py


@bp.app_template_filter("analytics_time")
def analytics_time(value: str, fmt: str = "%b %-d, %Y %H:%M") -> str:
    """An ISO 8601 time of a report, in the reader's time zone."""
    return format_datetime(datetime.fromisoformat(value), fmt) if value else "—"


@bp.app_template_global("analytics_page")
def analytics_page(rows: list, pagination: dict) -> Page:
    """A report's page of rows as core.pagination.Page, for the data_table macro."""
    return Page(items=rows, page=pagination["page"], page_size=pagination["page_size"], total=pagination["total"])


# ---- the range asked for ------------------------------------------------------------------------------------

def _range(account, form: ReportFilterForm, granularity: str | None = None):
    """(period or None when refused, preset days or None for chosen days). The form's errors say why."""
    custom = bool((form.date_from.data or "").strip() or (form.date_to.data or "").strip())
    days = request.args.get("days", type=int)
    days = days if days in reports.PRESETS else reports.DEFAULT_DAYS
    try:
        if custom:
            period = reports.read_period(account, form.date_from.data, form.date_to.data, granularity, required=False)
        else:
            preset = reports.last_days(account, days)
            period = reports.read_period(account, preset.start.isoformat(), preset.end.isoformat(), granularity)
    except reports.PeriodError as error:
        apply_error(form, error)
        return None, None
    form.date_from.data, form.date_to.data = period.start.isoformat(), period.end.isoformat()
    form.granularity.data = period.granularity
    return period, None if custom else days


def _keep(*names) -> dict:
    """The query arguments to carry along (the range on tab links, the step and granularity on presets)."""
    return {name: request.args[name] for name in names if request.args.get(name)}


def _page(funnel, tab: str, template: str, granularity: bool = False, **extra):
    """Draw a report tab: `extra` maps names to functions of the period that compute the report."""
    account = current_account()
    form = ReportFilterForm(request.args)
    period, days = _range(account, form, request.args.get("granularity") if granularity else None)
    context = {"funnel": funnel, "tab": tab, "tabs": TABS, "form": form, "period": period, "days": days,
               "presets": reports.PRESETS, "range_args": _keep(*RANGE_ARGS),
               "preset_args": _keep("step", "granularity"), "granularity_used": granularity,
               "tracked": reports_summary.has_traffic(funnel), "report_type": tab if tab in EXPORTABLE else None,
               "currency": (account.currency or "USD").upper(), "charts": charts}
    if period is not None:
        context.update({name: build(period) for name, build in extra.items()})
    return render(template, status=200 if period is not None else 422, **context)


# ---- the Analytics section -----------------------------------------------------------------------------------

@bp.route("/analytics")
@role_required("viewer")
def index():
    account = current_account()
    number, size = parse_page_args(request.args)
    funnels = paginate(scoped(Funnel).where(Funnel.deleted_at.is_(None)).order_by(Funnel.updated_at.desc(), Funnel.id),
                       number, size)
    period = reports.last_days(account, reports.DEFAULT_DAYS)
    return render("analytics/index.html", funnels=funnels, period=period,
                  figures=reports_summary.funnel_figures(account, funnels.items, period),
                  currency=(account.currency or "USD").upper())


# ---- a funnel's tabs -------------------------------------------------------------------------------------------

def _funnel(funnel_id):
    return reports.funnel_of(current_account(), funnel_id)


@bp.route("/analytics/funnels/<uuid:funnel_id>")
@role_required("viewer")
def overview(funnel_id):
    account, funnel = current_account(), _funnel(funnel_id)
    return _page(funnel, "overview", "analytics/overview.html",
                 report=lambda period: reports.overview(account, funnel, period),
                 traffic=lambda period: reports_summary.traffic_over_time(account, funnel, period))


@bp.route("/analytics/funnels/<uuid:funnel_id>/steps")
@role_required("viewer")
def steps(funnel_id):
    account, funnel = current_account(), _funnel(funnel_id)
    chosen = reports.step_of(funnel, request.args["step"]) if request.args.get("step") else None
    step = chosen or (funnel.steps[0] if funnel.steps else None)
    return _page(funnel, "steps", "analytics/steps.html", granularity=True, step=lambda period: step,
                 report=lambda period: reports.step_report(account, funnel, step, period) if step else None)


@bp.route("/analytics/funnels/<uuid:funnel_id>/conversions")
@role_required("viewer")
def conversions(funnel_id):
    account, funnel = current_account(), _funnel(funnel_id)
    number, size = parse_page_args(request.args)
    return _page(funnel, "conversions", "analytics/conversions.html", granularity=True,
                 report=lambda period: reports_conversions.conversions(account, funnel, period, number, size))


@bp.route("/analytics/funnels/<uuid:funnel_id>/dropoffs")
@role_required("viewer")
def dropoffs(funnel_id):
    account, funnel = current_account(), _funnel(funnel_id)
    return _page(funnel, "dropoffs", "analytics/dropoffs.html",
                 report=lambda period: reports_dropoffs.dropoffs(account, funnel, period))


@bp.route("/analytics/funnels/<uuid:funnel_id>/revenue")
@role_required("viewer")
def revenue(funnel_id):
    account, funnel = current_account(), _funnel(funnel_id)
    return _page(funnel, "revenue", "analytics/revenue.html", granularity=True,
                 report=lambda period: reports_revenue.revenue(account, funnel, period))


@bp.route("/analytics/funnels/<uuid:funnel_id>/realtime")
@role_required("viewer")
def realtime(funnel_id):
    account, funnel = current_account(), _funnel(funnel_id)
    return render("analytics/realtime.html", block="live", funnel=funnel, tab="realtime", tabs=TABS,
                  range_args=_keep(*RANGE_ARGS), tracked=reports_summary.has_traffic(funnel),
                  report=reports_live.realtime(account, funnel), currency=(account.currency or "USD").upper(),
                  charts=charts)


# ---- a visitor's journey -----------------------------------------------------------------------------------

@bp.route("/analytics/visitors/<visitor_id>")
@role_required("viewer")
def journey(visitor_id):
    account = current_account()
    funnel_id = request.args.get("funnel") or None
    result = reports_live.journey(account, visitor_id, funnel_id)
    funnel_ids = {session["funnel_id"] for session in result["sessions"]}
    funnels = {str(funnel.id): funnel for funnel in db.session.execute(
        scoped(Funnel).where(Funnel.id.in_(funnel_ids))).scalars()}
    step_names = {str(step.id): step.name for funnel in funnels.values() for step in funnel.steps}
    return render("analytics/journey.html", journey=result, funnels=funnels, step_names=step_names,
                  funnel_filter=funnels.get(str(funnel_id)) if funnel_id else None)


@crm_hooks.contact_links
def visitor_journeys(account, contact) -> list[tuple[str, str]]:
    """On a contact's page: the journeys of the visitor ids their orders recorded at checkout."""
    visitors = reports_live.contact_visitors(account, contact.id)
    return [("Visitor journey" if len(visitors) == 1 else f"Visitor journey {number}",
             url_for("analytics.journey", visitor_id=visitor)) for number, visitor in enumerate(visitors, 1)]
