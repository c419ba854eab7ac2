"""The CRM: every lead lands here."""
from flask import Blueprint

bp = Blueprint("crm", __name__)

from app.crm.views import activities, companies, contacts, deals, imports, settings  # noqa: E402,F401
