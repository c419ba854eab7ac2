"""Routes of builder: views (being written)."""
from app.builder import bp  # noqa: F401
