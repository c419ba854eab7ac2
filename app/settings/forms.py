"""Forms of the workspace settings: team, invitations, roles, API keys, deleting the workspace (the
workspace's own settings use auth's WorkspaceForm, which also creates workspaces)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.auth.forms import REQUIRED, email_field
from app.auth.services import ANALYTICS_IP_MODES
from app.core.roles import ROLE_LABELS


class DeleteWorkspaceForm(FlaskForm):
    confirm_name = StringField("Type the workspace name to confirm", validators=[REQUIRED, Length(max=120)])


class InviteForm(FlaskForm):
    email = email_field()
    role = SelectField("Role", choices=[SelectChoice(role, label) for role, label in ROLE_LABELS.items()],
                       default="user", validate_choice=False)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(role, role.title()) for role in ROLE_LABELS],
                       validate_choice=False)


class ApiKeyForm(FlaskForm):
    name = StringField("Key name", validators=[REQUIRED, Length(max=80)],
                       description="Where the key is used, e.g. “Zapier” or “Website backend”.")


class AnalyticsPrivacyForm(FlaskForm):
    """How the funnel analytics treat visitors (the workspace's Account.analytics_ip_mode and _respect_dnt)."""

    analytics_ip_mode = SelectField(
        "IP addresses", choices=[SelectChoice(mode, label) for mode, label in ANALYTICS_IP_MODES.items()],
        validate_choice=False,
        description="Truncated: the last part is removed (203.0.113.0 for 203.0.113.42), enough for a country, not "
                    "for a person. Don't store: events keep no address at all. Applies to new events.")
    analytics_respect_dnt = BooleanField(
        "Respect Do-Not-Track",
        description="Visitors whose browser asks not to be tracked (Do-Not-Track) are not tracked at all: your "
                    "reports then count fewer visitors than came. Published pages follow within a minute.")
