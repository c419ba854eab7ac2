"""Forms of the funnel pages and of the template gallery. The funnel and step forms only carry the values
(and the CSRF token): the services validate them, and app.core.forms.apply_error puts each message next
to its field. The gallery's check the required name and the lengths first, like the services do."""
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.funnels.models import FUNNEL_TYPES, STEP_TYPES

SLUG_HINT = "Lower-case letters, digits and dashes. Leave empty to make it from the name."
REQUIRED = DataRequired(message="This field is required.")


class FunnelForm(FlaskForm):
    name = StringField("Name", render_kw={"autocomplete": "off", "maxlength": 120,
                                          "placeholder": "e.g. Free guide: 10 email templates"})
    funnel_type = SelectField("Type", choices=[SelectChoice(key, label) for key, label in FUNNEL_TYPES.items()],
                              default="lead_generation", validate_choice=False)
    slug = StringField("Address (slug)", description=SLUG_HINT,
                       render_kw={"autocomplete": "off", "maxlength": 120, "spellcheck": "false",
                                  "autocapitalize": "none", "placeholder": "e.g. free-guide"})
    description = TextAreaField("Description", description="For your team; visitors do not see it.",
                                render_kw={"rows": 3, "maxlength": 2000})

    FIELDS = ("name", "funnel_type", "slug", "description")

    def service_data(self) -> dict:
        return {name: self[name].data or "" for name in self.FIELDS}


class FunnelSettingsForm(FunnelForm):
    custom_domain = StringField(
        "Custom domain", description="Optional, e.g. offers.example.com: point its DNS (a CNAME) at our site "
                                     "address, and the funnel's first step opens at its root.",
        render_kw={"autocomplete": "off", "maxlength": 253, "spellcheck": "false", "autocapitalize": "none",
                   "placeholder": "offers.example.com", "inputmode": "url"})

    FIELDS = FunnelForm.FIELDS + ("custom_domain",)


class StepForm(FlaskForm):
    name = StringField("Step name", render_kw={"autocomplete": "off", "maxlength": 120,
                                               "placeholder": "e.g. Order form"})
    step_type = SelectField("Step type", choices=[SelectChoice(key, label) for key, label in STEP_TYPES.items()],
                            default="page", validate_choice=False)
    slug = StringField("Address (slug)", description=SLUG_HINT,
                       render_kw={"autocomplete": "off", "maxlength": 120, "spellcheck": "false",
                                  "autocapitalize": "none", "placeholder": "e.g. order"})

    FIELDS = ("name", "step_type", "slug")

    def service_data(self) -> dict:
        return {name: self[name].data or "" for name in self.FIELDS}


# ---- the template gallery ------------------------------------------------------------------------

class UseTemplateForm(FlaskForm):
    name = StringField("Funnel name", validators=[REQUIRED, Length(max=120, message="At most 120 characters.")],
                       render_kw={"maxlength": 120, "autocomplete": "off"})
    slug = StringField("Address (slug)", validators=[Length(max=120, message="At most 120 characters.")],
                       description="The funnel's address: letters a–z, digits and dashes. Leave empty to make it "
                                   "from the name.",
                       render_kw={"maxlength": 120, "autocomplete": "off", "spellcheck": "false",
                                  "placeholder": "e.g. free-guide"})


class SaveTemplateForm(FlaskForm):
    name = StringField("Template name", validators=[REQUIRED, Length(max=120, message="At most 120 characters.")],
                       render_kw={"maxlength": 120, "autocomplete": "off"})
    description = TextAreaField("Description", validators=[Length(max=2000, message="At most 2,000 characters.")],
                                description="What the template is for, so your team picks the right one.",
                                render_kw={"rows": 3, "maxlength": 2000})
