"""CRM settings: tags, custom fields, pipelines and stages."""
from app.core.roles import role_required
from app.core.web import render
from app.crm import bp


@bp.route("/settings/crm")
@role_required("viewer")
def crm_settings():
    return render("crm/placeholder.html", title="CRM settings")
