"""The funnels blueprint's pages, one module each: funnels (the list, a funnel's page, its settings and
steps), versions (list, view, restore) and templates (the template gallery)."""
from app.funnels.views import funnels, templates, versions  # noqa: F401
