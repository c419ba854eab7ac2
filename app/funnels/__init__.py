"""Funnels: steps, versions, templates."""
from flask import Blueprint

bp = Blueprint("funnels", __name__)

from app.funnels import gallery, views  # noqa: E402,F401
