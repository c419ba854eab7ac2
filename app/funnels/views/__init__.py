"""The funnels blueprint's pages, one module each: funnels (the list, a funnel's page, its settings and
steps), versions (list, view, restore), templates (the template gallery) and splittests (a step's A/B tests)."""
from app.funnels.views import funnels, splittests, templates, versions  # noqa: F401
