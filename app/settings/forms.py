"""Forms of the workspace settings: team, invitations, roles, API keys, deleting the workspace (the
workspace's own settings use auth's WorkspaceForm, which also creates workspaces)."""
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.auth.forms import REQUIRED, email_field
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
