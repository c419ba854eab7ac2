"""The published site: pages served to visitors on SITE_URL and custom domains."""
from flask import Blueprint

bp = Blueprint("site", __name__)

from app.site import errorpages, views  # noqa: E402,F401
