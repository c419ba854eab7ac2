"""Coupons (being built: issue 10)."""
from app.core.roles import role_required
from app.core.web import render
from app.orders import bp


@bp.route("/coupons")
@role_required("viewer")
def coupons():
    return render("orders/coupons.html")
