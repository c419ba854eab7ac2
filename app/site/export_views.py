"""The app-host routes of the site blueprint: the static export of a published funnel and its progress.
(The site host never reaches them: the dispatcher puts its requests under /_site.)"""
from flask import url_for
from flask_login import current_user

from app.core.errors import ServiceError
from app.core.models import Job
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404
from app.core.web import redirect_to, render
from app.funnels import services as funnels
from app.site import bp, export


@bp.route("/funnels/<uuid:funnel_id>/export", methods=["POST"])
@role_required("user")
def export_funnel(funnel_id):
    account = current_account()
    funnel = funnels.get_funnel(account, funnel_id)
    try:
        job = export.start(account, funnel, current_user)
    except ServiceError as error:
        return render("site/export.html", status=error.status, funnel=funnel, job=None, error=error.message)
    return redirect_to(url_for("site.export_progress", funnel_id=funnel.id, job_id=job.id))


@bp.route("/funnels/<uuid:funnel_id>/export/<uuid:job_id>")
@role_required("viewer")
def export_progress(funnel_id, job_id):
    account = current_account()
    funnel = funnels.get_funnel(account, funnel_id)
    job = get_or_404(Job, job_id)  # the account's job (the page shows its progress, whatever it is)
    return render("site/export.html", funnel=funnel, job=job, error=None)
