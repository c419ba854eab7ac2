"""Funnels: their steps and the steps' pages, versions, publishing, templates."""
from flask import Blueprint

bp = Blueprint("funnels", __name__)

from app.funnels import views  # noqa: E402,F401
