"""The integrations overview: each connection's state and use over the last 30 days, the webhook delivery
success rate, and the way to every integrations page."""
from flask import request, url_for

from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account
from app.core.web import render
from app.integrations import bp, connections

DAYS = 30
STATUS_KINDS = {"connected": "success", "failed": "danger", "untested": "warning"}
# The other integrations pages: (title, text, icon, endpoint).
SECTIONS = (
    ("Webhooks", "Send the workspace's events to your own URLs, signed.", "webhook", "integrations.webhooks"),
    ("Inbound webhooks", "Create or update contacts from n8n, Zapier and your own tools.", "code",
     "integrations.inbound_hooks"),
    ("Tracking pixels", "Facebook, Google Analytics 4, TikTok, Pinterest and X on your published pages.", "chart",
     "integrations.pixels_page"),
    ("Mail log", "Every e-mail the workspace sent, and how it went.", "mail", "integrations.mail_log"),
)


def _sections() -> list[dict]:
    return [{"title": title, "text": text, "glyph": glyph, "href": url_for(endpoint)}
            for title, text, glyph, endpoint in SECTIONS]


@bp.route("/integrations")
@role_required("admin")
def index():
    account = current_account()
    page_number, page_size = parse_page_args(request.args)
    page = paginate(connections.connections_query(account), page_number, page_size)
    return render("integrations/overview.html", page=page, cards=connections.figures(account, page.items, DAYS),
                  totals=connections.totals(account, DAYS), webhooks=connections.webhook_health(account, DAYS),
                  days=DAYS, sections=_sections(), status_kinds=STATUS_KINDS,
                  status_labels=connections.STATUS_LABELS, kind_labels=connections.KIND_LABELS,
                  sending=connections.sending_channel(account))
