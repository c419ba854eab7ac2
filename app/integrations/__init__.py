"""Integrations: e-mail and SMS provider connections, contact sync, outgoing (Standard Webhooks) and inbound
webhooks, provider callbacks, tracking pixels, and the workspace's mail channel."""
from flask import Blueprint

bp = Blueprint("integrations", __name__)  # pages under /integrations; machine callbacks under /api/v1/hooks

from app.integrations import views  # noqa: E402,F401
