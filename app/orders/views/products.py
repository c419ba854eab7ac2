"""Products (being built: issue 10)."""
from app.core.roles import role_required
from app.core.web import render
from app.orders import bp


@bp.route("/products")
@role_required("viewer")
def products():
    return render("orders/products.html")
