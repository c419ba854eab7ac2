"""Pipelines and deals: the board, the list, a deal's page, the forecast."""
from app.core.roles import role_required
from app.core.web import render
from app.crm import bp


@bp.route("/deals")
@role_required("viewer")
def board():
    return render("crm/placeholder.html", title="Deals")
