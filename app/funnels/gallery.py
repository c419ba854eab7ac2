"""Routes of the template gallery (being written by the templates helper)."""
from app.core.roles import role_required
from app.funnels import bp


@bp.route("/funnels/templates")
@role_required("viewer")
def gallery():
    return "Templates: being written"
