"""Forms of accounts and access. Fields check presence and length; the services check the rest
and their errors are put next to the field (see app.core.forms.apply_error)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from app.core.formatting import CURRENCIES, timezone_names
from app.core.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

REQUIRED = DataRequired(message="This field is required.")
PASSWORD_LENGTH = Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH,
                         message=f"Use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.")


def _new_password_field(label="New password", **kwargs):
    return PasswordField(label, validators=[REQUIRED, PASSWORD_LENGTH], render_kw={"autocomplete": "new-password"},
                         **kwargs)


def _confirm_field(of: str):
    return PasswordField("Repeat the new password",
                         validators=[REQUIRED, EqualTo(of, message="The two passwords differ.")],
                         render_kw={"autocomplete": "new-password"})


def _timezone_field(description: str):
    return SelectField("Time zone", validators=[REQUIRED], validate_choice=False, choices=timezone_names,
                       description=description)


def email_field(label="E-mail"):
    return EmailField(label, validators=[REQUIRED, Length(max=254)], render_kw={"autocomplete": "email"})


class SignupForm(FlaskForm):
    name = StringField("Your name", validators=[REQUIRED, Length(max=120)], render_kw={"autocomplete": "name"})
    email = email_field("Work e-mail")
    password = _new_password_field("Password", description=f"At least {MIN_PASSWORD_LENGTH} characters.")
    workspace_name = StringField("Workspace name", validators=[REQUIRED, Length(max=120)],
                                 description="Your company or agency. You can add more workspaces later.")


class LoginForm(FlaskForm):
    email = email_field()
    password = PasswordField("Password", validators=[REQUIRED, Length(max=MAX_PASSWORD_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me logged in on this device")
    next = HiddenField()


class ForgotPasswordForm(FlaskForm):
    email = email_field()


class ResetPasswordForm(FlaskForm):
    password = _new_password_field()
    confirm = _confirm_field("password")


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[REQUIRED, Length(max=120)])
    timezone = _timezone_field("Dates and times are shown in this zone.")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[REQUIRED, Length(max=MAX_PASSWORD_LENGTH)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = _new_password_field()
    confirm = _confirm_field("new_password")


class WorkspaceForm(FlaskForm):
    name = StringField("Workspace name", validators=[REQUIRED, Length(max=120)])
    timezone = _timezone_field("Reports count days in this zone.")
    currency = SelectField("Currency", validators=[REQUIRED], validate_choice=False, choices=CURRENCIES)


class JoinForm(FlaskForm):
    name = StringField("Your name", validators=[REQUIRED, Length(max=120)])
    password = _new_password_field("Choose a password")


class SwitchWorkspaceForm(FlaskForm):
    account_id = HiddenField(validators=[REQUIRED])
