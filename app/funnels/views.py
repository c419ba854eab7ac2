"""Routes of funnels (being written by the funnels helper)."""
from app.core.roles import role_required
from app.funnels import bp


@bp.route("/funnels")
@role_required("viewer")
def index():
    return "Funnels: being written"
