"""Contacts: list with search, filters and segments, detail with timeline, edit, trash, bulk, export."""
from app.core.roles import role_required
from app.core.web import render
from app.crm import bp


@bp.route("/contacts")
@role_required("viewer")
def contacts():
    return render("crm/placeholder.html", title="Contacts")
