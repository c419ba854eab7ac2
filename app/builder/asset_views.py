"""Routes of the asset library (being written by the assets helper)."""
from app.builder import bp
from app.core.roles import role_required


@bp.route("/assets")
@role_required("viewer")
def assets():
    return "Assets: being written"
