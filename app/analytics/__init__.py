"""Funnel analytics: tracking, ingestion into rollups, reports, split-test results, exports, privacy."""
from flask import Blueprint

bp = Blueprint("analytics", __name__)

# Their routes; abtests registers the split-test results with app.funnels.splittests.
from app.analytics import abtests, export_views, privacy_views, views  # noqa: E402,F401
