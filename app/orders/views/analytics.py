"""Order analytics (being built: issue 10)."""
from app.core.roles import role_required
from app.core.web import render
from app.orders import bp


@bp.route("/orders/analytics")
@role_required("viewer")
def analytics():
    return render("orders/analytics.html")
