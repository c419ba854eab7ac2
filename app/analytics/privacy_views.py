"""Anonymizing a visitor from the app (app/analytics/privacy.py): the button of the visitor journey page, a
partial (templates/analytics/_anonymize_form.html) that asks first. Admins and owners only."""
from flask import abort, flash, request, url_for
from flask_login import current_user

from app.analytics import bp, privacy
from app.core.forms import ActionForm, flashed_refusal
from app.core.roles import role_required
from app.core.tenancy import current_account
from app.core.web import redirect_to, safe_next_url


@bp.route("/analytics/visitors/<visitor_id>/anonymize", methods=["POST"])
@role_required("admin")
def anonymize_visitor(visitor_id):
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    back = safe_next_url(request.form.get("next"), url_for("dashboard.index"))
    with flashed_refusal():
        changed = privacy.anonymize_visitor(current_account(), visitor_id, current_user)
        flash(f"Visitor anonymized: {changed['events']:,} events kept for the reports without the visitor, IP "
              f"address or browser details; {changed['exposures']} split-test exposures and {changed['orders']} "
              "orders unlinked.", "success")
    return redirect_to(back)
