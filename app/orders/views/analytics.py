"""Order analytics: the figures of a date range in the workspace's time zone and currency, per funnel, per
product and per day (a chart drawn by static/js/charts.js with the vendored Chart.js)."""
from flask import request

from app.core.forms import refusal
from app.core.pagination import Page, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account
from app.core.web import render
from app.orders import bp
from app.orders.services import reports


def _page(rows: list, param: str) -> Page:
    """One page of a table computed whole (its rows are groups, a few per funnel or product)."""
    number, size = parse_page_args(request.args, page_field=param)
    last = max(1, -(-len(rows) // size))
    number = min(number, last)
    return Page(items=rows[(number - 1) * size:number * size], page=number, page_size=size, total=len(rows))


@bp.route("/orders/analytics")
@role_required("viewer")
def analytics():
    account = current_account()
    asked = {key: (request.args.get(key) or "").strip()[:40] for key in ("from", "to", "funnel")}
    report = None
    with refusal() as refused:
        period = reports.read_period(account, asked["from"], asked["to"])
        funnel_id = reports.read_funnel(account, asked["funnel"])
        report = reports.build(account, period, funnel_id)
    errors = refused.error.fields if refused else {}
    if refused and not errors:
        errors = {"from": refused.error.message}
    shown = dict(asked)
    if report is not None:  # the range actually used (the defaults filled in)
        shown.update({"from": report.period.start.isoformat(), "to": report.period.end.isoformat()})
    return render("orders/analytics.html", block="analytics", status=422 if refused else 200, report=report,
                  asked=shown, errors=errors, funnels=reports.funnel_choices(account),
                  funnel_rows=_page(report.funnels, "funnel_page") if report else None,
                  product_rows=_page(report.products, "product_page") if report else None)
