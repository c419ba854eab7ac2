"""Funnel analytics: tracking, ingestion into rollups, reports, split-test results, exports, privacy."""
from flask import Blueprint

bp = Blueprint("analytics", __name__)

