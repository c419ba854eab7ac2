"""Funnel analytics: tracking, ingestion into rollups, reports, split-test results, exports, privacy."""
from flask import Blueprint

bp = Blueprint("analytics", __name__)

from app.analytics import export_views, privacy_views, views  # noqa: E402,F401 (their routes)
