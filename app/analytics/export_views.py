"""The export of a funnel's reports from the app (REQ-FUN-004-12), and the signed download link.

- The form is a partial, templates/analytics/_export_form.html: a report page includes it with `funnel` in its
  context (and `report_type`, `period` to preselect its own report and range); /analytics/funnels/<id>/export is
  the same form on a page of its own. Posting starts the job (app/analytics/exports.py) and answers the form
  again with the job's progress (templates/components/_job.html) in place.
- /analytics/exports/<token> downloads the file of a finished export without a session (the link e-mailed and
  notified): 410 with a page saying why once the 24 hours are over or the file was cleaned up.
"""
from flask import abort, request, send_file, url_for
from flask_login import current_user

from app.analytics import bp, exports, reports
from app.analytics.forms import ExportForm
from app.core.errors import ServiceError
from app.core.forms import apply_error
from app.core.models import Job
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404
from app.core.web import redirect_to, render, wants_fragment

PREFIX = "export"


@bp.app_template_global("analytics_export_form")
def export_form_for(funnel=None, report_type=None, period=None) -> ExportForm:
    """A fresh export form, preselecting the report and the range (a reports.Period) of the page showing it."""
    data = {"report_type": report_type if report_type in exports.REPORT_TYPES else "overview", "format": "csv",
            "include_charts": True}
    if period is not None:
        data.update(date_from=period.start.isoformat(), date_to=period.end.isoformat())
    else:
        default = reports.last_days(current_account(), reports.DEFAULT_DAYS)
        data.update(date_from=default.start.isoformat(), date_to=default.end.isoformat())
    return ExportForm(prefix=PREFIX, formdata=None, data=data)


@bp.route("/analytics/funnels/<uuid:funnel_id>/export", methods=["GET", "POST"])
@role_required("viewer")
def export_report(funnel_id):
    account = current_account()
    funnel = reports.funnel_of(account, funnel_id)
    if request.method == "GET":
        job_id = request.args.get("job")
        job = get_or_404(Job, job_id) if job_id else None
        return render("analytics/export.html", funnel=funnel, export_job=job,
                      export_form=export_form_for(funnel, request.args.get("report")))
    form = ExportForm(prefix=PREFIX)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400, description="The form expired. Reload the page and try again.")
        return render("analytics/export.html", block="export", status=422, funnel=funnel, export_form=form)
    try:
        asked = exports.check(account, {"funnel_id": funnel.id, "report_type": form.report_type.data,
                                        "format": form.format.data, "date_from": form.date_from.data,
                                        "date_to": form.date_to.data, "include_charts": form.include_charts.data})
        job = exports.start(account, current_user, asked)
    except ServiceError as error:
        apply_error(form, error)
        return render("analytics/export.html", block="export", status=422, funnel=funnel, export_form=form)
    if not wants_fragment():
        return redirect_to(url_for("analytics.export_report", funnel_id=funnel.id, job=job.id))
    return render("analytics/export.html", block="export", status=202, funnel=funnel, export_form=form,
                  export_job=job)


@bp.route("/analytics/exports/<token>")
def export_download(token):
    """The file of an export, for whoever has its signed link (no session: it is e-mailed)."""
    try:
        job = exports.open_link(token)
    except exports.LinkGone as gone:
        return render("analytics/export_gone.html", reason=str(gone), status=410)
    response = send_file(job.result_path, mimetype=exports.content_type(job), as_attachment=True,
                         download_name=job.result_name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token never leaves in a Referer header
    return response
