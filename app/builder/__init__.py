"""The page builder: the editor of a funnel step's page (edits with undo and redo, page settings, previews)."""
from flask import Blueprint

bp = Blueprint("builder", __name__)

from app.builder import views  # noqa: E402,F401
