"""Routes of site: views (being written)."""
from app.site import bp  # noqa: F401
