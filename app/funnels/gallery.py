"""Routes of funnels: gallery (being written)."""
from app.funnels import bp  # noqa: F401
