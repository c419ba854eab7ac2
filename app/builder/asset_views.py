"""Routes of builder: asset_views (being written)."""
from app.builder import bp  # noqa: F401
