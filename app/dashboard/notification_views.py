"""The bell in the header and the notifications page (app.core.notifications): the signed-in user's messages in
the workspace they are in (an export is ready...), opened and marked read."""
from flask import abort, current_app, url_for
from flask_login import current_user

from app.core import notifications
from app.core.forms import ActionForm
from app.core.roles import role_required
from app.core.tenancy import current_account
from app.core.web import redirect_to, render, safe_next_url
from app.dashboard import bp


@bp.app_template_global()
def unread_notifications() -> int:
    """The bell's count (base.html draws it only for a signed-in member of a workspace)."""
    account = current_account()
    if account is None or not current_user.is_authenticated:
        return 0
    return notifications.unread_count(current_user, account)


def _checked() -> None:
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")


@bp.route("/notifications")
@role_required("viewer")
def notification_list():
    return render("dashboard/notifications.html", items=notifications.for_user(current_user, current_account()),
                  action_form=ActionForm())


@bp.route("/notifications/<uuid:notification_id>/open", methods=["POST"])
@role_required("viewer")
def notification_open(notification_id):
    """Mark it read and go where it leads (a download link, a page of the app)."""
    _checked()
    notification = notifications.mark_read(notifications.get(current_user, current_account(), notification_id))
    fallback = url_for("dashboard.notification_list")
    own = current_app.config["BASE_URL"].rstrip("/") + "/"
    target = notification.url if notification.url.startswith(own) else safe_next_url(notification.url, fallback)
    return redirect_to(target)


@bp.route("/notifications/<uuid:notification_id>/read", methods=["POST"])
@role_required("viewer")
def notification_read(notification_id):
    _checked()
    notifications.mark_read(notifications.get(current_user, current_account(), notification_id))
    return redirect_to(url_for("dashboard.notification_list"))


@bp.route("/notifications/read-all", methods=["POST"])
@role_required("viewer")
def notification_read_all():
    _checked()
    notifications.mark_all_read(current_user, current_account())
    return redirect_to(url_for("dashboard.notification_list"))
