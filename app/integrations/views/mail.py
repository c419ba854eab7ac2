"""The mail log: the workspace's e-mails (invitations, receipts, exports ready), how each went, and the
channel they are sent through."""
from flask import request

from app.core import mail
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account
from app.core.web import render
from app.integrations import bp, channel

STATUS_LABELS = {"queued": "Queued", "sending": "Sending", "sent": "Sent", "failed": "Failed"}


@bp.route("/integrations/mail")
@role_required("admin")
def mail_log():
    account = current_account()
    status = request.args.get("status") or ""
    status = status if status in mail.MAIL_STATUSES else ""
    page, page_size = parse_page_args(request.args)
    messages = paginate(channel.mail_log_query(account, status or None), page, page_size)
    return render("integrations/mail/log.html", block="results", messages=messages, selected_status=status,
                  statuses=list(STATUS_LABELS.items()), channel_label=channel.channel_label(account.id),
                  channel_names=channel.channel_names())
