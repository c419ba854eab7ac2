"""The image library: images a workspace uploads for what it publishes (funnel pages today), checked by
their bytes, stored behind app.core.storage, picked in the builder and served on both hosts."""
from flask import Blueprint

bp = Blueprint("assets", __name__)

from app.assets import views  # noqa: E402,F401
