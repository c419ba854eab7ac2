"""The integrations overview (being built): each connection's state and use, webhook delivery health."""
from app.core.roles import role_required
from app.core.web import render
from app.integrations import bp


@bp.route("/integrations")
@role_required("admin")
def index():
    return render("integrations/overview.html")
