"""Activities and tasks: My tasks, status changes, and the activity forms on records."""
from app.core.roles import role_required
from app.core.web import render
from app.crm import bp


@bp.route("/tasks")
@role_required("viewer")
def my_tasks():
    return render("crm/placeholder.html", title="My tasks")
