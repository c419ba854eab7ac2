from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from app.dashboard import notification_views, views  # noqa: E402,F401
