"""The page builder: element tree, edits with undo/redo, assets, publishing."""
from flask import Blueprint

bp = Blueprint("builder", __name__)

from app.builder import asset_views, views  # noqa: E402,F401
