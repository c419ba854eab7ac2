"""Funnel analytics: tracking, ingestion into rollups, reports, split-test results, exports, privacy."""
from flask import Blueprint

bp = Blueprint("analytics", __name__)


@bp.record_once
def _install_tracking(state) -> None:
    """The track endpoint is a WSGI layer of its own (app/analytics/tracking.py), put in place with the blueprint."""
    from app.analytics.tracking import install

    install(state.app)


from app.analytics import abtests  # noqa: E402,F401 (registers the split-test results with app.funnels.splittests)
