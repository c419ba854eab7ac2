"""Routes of funnels: views (being written)."""
from app.funnels import bp  # noqa: F401
