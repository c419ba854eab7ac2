"""The integrations pages, one module per area."""
from app.integrations.views import callbacks, connections, inbound, mail, overview, pixels, webhooks  # noqa: F401
