"""The JSON API for machines: /api/v1, authenticated with `Authorization: Bearer <API key>`."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
docs_bp = Blueprint("api_docs", __name__)  # the HTML reference, outside the JSON API

from app.api.views import (  # noqa: E402,F401 (the modules register their routes)
    ab_tests,
    account,
    analytics,
    analytics_exports,
    crm,
    funnels,
    orders,
    pages,
    webhooks,
)
