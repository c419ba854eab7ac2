"""The dashboard, the activity log, job progress and downloads, and the development outbox."""
from pathlib import Path

from flask import abort, current_app, request, send_file
from flask_login import current_user

from app.auth import services as auth_services
from app.core import jobs, mail
from app.core.db import utcnow
from app.core.forms import ActionForm
from app.core.models import Job
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404
from app.core.web import render
from app.dashboard import bp, services, tasks


@bp.route("/")
@role_required("viewer")
def index():
    return render("dashboard/index.html", overview=services.overview(current_account(), current_user))


@bp.route("/activity")
@role_required("viewer")
def activity():
    account = current_account()
    user_id, action = request.args.get("user") or None, request.args.get("action") or None
    page, page_size = parse_page_args(request.args)
    events = paginate(services.activity_query(account, user_id, action), page, page_size)
    return render("dashboard/activity.html", block="results", events=events, users=auth_services.members(account),
                  actions=services.activity_actions(account), selected_user=user_id or "",
                  selected_action=action or "", action_form=ActionForm())


@bp.route("/activity/export", methods=["POST"])
@role_required("viewer")
def export_activity():
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    account = current_account()
    job = jobs.create_job(account, "activity_export", "Export activity log (CSV)", user=current_user)
    jobs.enqueue(tasks.export_activity_csv, account.id, request.form.get("user") or None,
                 request.form.get("action") or None, job=job)
    return render("components/_job.html", job=get_or_404(Job, job.id), status=202)


@bp.route("/jobs/<uuid:job_id>")
@role_required("viewer")
def job_status(job_id):
    return render("components/_job.html", job=get_or_404(Job, job_id))


@bp.route("/jobs/<uuid:job_id>/download")
@role_required("viewer")
def job_download(job_id):
    job = get_or_404(Job, job_id)
    if job.state != "finished" or not job.result_path:
        abort(404)
    if job.expires_at and job.expires_at < utcnow():
        abort(410, description="This export has expired (exports are kept 24 hours). Run it again.")
    path = Path(job.result_path)
    if not path.is_file():
        abort(410, description="This file is no longer available. Run the export again.")
    return send_file(path, as_attachment=True, download_name=job.result_name or path.name)


@bp.route("/dev/outbox")
def dev_outbox():
    """E-mails written instead of sent when no SMTP server is configured (debug mode only)."""
    if not current_app.debug:
        abort(404)
    return render("dashboard/outbox.html", messages=mail.outbox_messages())
