"""Companies: list with search and filters, detail with contacts and children, edit."""
from app.core.roles import role_required
from app.core.web import render
from app.crm import bp


@bp.route("/companies")
@role_required("viewer")
def companies():
    return render("crm/placeholder.html", title="Companies")
