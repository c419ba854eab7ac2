"""Forms of the funnel pages and of the template gallery. The funnel and step forms only carry the values
(and the CSRF token): the services validate them, and app.core.forms.apply_error puts each message next
to its field. The gallery's check the required name and the lengths first, like the services do."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
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


# ---- split tests ---------------------------------------------------------------------------------

class SplitTestForm(FlaskForm):
    """A new split test of a step: its name, the minimum sample, and up to five variants (name and share of the
    traffic, in percent); the first is the step's own page. Rows left empty are not variants. The service
    checks everything (app/funnels/splittests.py: weights adding up to 100, one running test per step) and
    names the field at fault: variant_<i>_name, variant_<i>_weight, or `weights` for the total."""

    name = StringField("Test name", render_kw={"autocomplete": "off", "maxlength": 255,
                                               "placeholder": "e.g. Shorter headline"})
    min_sample = StringField("Minimum sample per variant", default="100",
                             description="Visitors each variant needs before a winner can be declared. Results "
                                         "looked at too early often show a “winner” that is only chance: 100 is "
                                         "a floor, a few hundred per variant is better.",
                             render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 7})
    weights = HiddenField()  # carries the error of the total (not a value)

    ROWS = 5  # the variant rows (SPLIT_ROWS below)

    def service_data(self) -> dict:
        variants = []
        for index in range(self.ROWS):
            name = (self[f"variant_{index}_name"].data or "").strip()
            weight = (self[f"variant_{index}_weight"].data or "").strip()
            if index < 2 or name or weight:
                variants.append({"name": name, "weight": weight})
        return {"name": self.name.data or "", "min_sample": self.min_sample.data or "", "variants": variants}

    def rows(self) -> list[tuple]:
        """(name field, weight field) of each variant row, the control first."""
        return [(self[f"variant_{index}_name"], self[f"variant_{index}_weight"]) for index in range(self.ROWS)]


SPLIT_ROWS = (("A", "Original", "50"), ("B", "Variant B", "50"), ("C", "", ""), ("D", "", ""), ("E", "", ""))
for _index, (_letter, _name, _weight) in enumerate(SPLIT_ROWS):  # variant_0_name, variant_0_weight, ...
    setattr(SplitTestForm, f"variant_{_index}_name", StringField(
        f"Variant {_letter} name" + (" (the step's page)" if _index == 0 else ""), default=_name,
        render_kw={"autocomplete": "off", "maxlength": 100, "placeholder": "" if _index < 2 else "Optional"}))
    setattr(SplitTestForm, f"variant_{_index}_weight", StringField(
        "Traffic %", default=_weight, render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 3,
                                                 "data-split-weight": ""}))
