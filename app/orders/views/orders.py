"""Orders (being built: issue 10)."""
from app.core.roles import role_required
from app.core.web import render
from app.orders import bp


@bp.route("/orders")
@role_required("viewer")
def orders():
    return render("orders/orders.html")
