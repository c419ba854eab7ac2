"""Forms of the contacts pages. Fields check presence and length only; the services validate the rest
(e-mail, phone, company, owner, custom field types) and their errors are put next to the field with
app.core.forms.apply_error."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.crm.models import CONTACT_SOURCES
from app.crm.services.imports.sniffing import ENCODINGS

SOURCE_LABELS = {"manual": "Added by hand", "import": "Import", "form": "Form", "api": "API",
                 "checkout": "Checkout", "referral": "Referral", "other": "Other"}


class ContactForm(FlaskForm):
    """The fixed fields; `contact_form()` adds one `cf_<key>` field per custom field of the account."""

    first_name = StringField("First name", validators=[Length(max=80)], render_kw={"autocomplete": "off"})
    last_name = StringField("Last name", validators=[Length(max=80)], render_kw={"autocomplete": "off"})
    email = EmailField("E-mail", validators=[Length(max=254)], render_kw={"autocomplete": "off"})
    phone = TelField("Phone", validators=[Length(max=40)], render_kw={"autocomplete": "off"})
    company_id = SelectField("Company", validate_choice=False)
    owner_id = SelectField("Owner", validate_choice=False)
    source = SelectField("Source", validate_choice=False,
                         choices=[SelectChoice(s, SOURCE_LABELS.get(s, s)) for s in CONTACT_SOURCES])
    street = StringField("Street", validators=[Length(max=200)])
    city = StringField("City", validators=[Length(max=100)])
    region = StringField("Region / state", validators=[Length(max=100)])
    postal_code = StringField("Postal code", validators=[Length(max=20)])
    country = StringField("Country",
                          description="Two-letter code, e.g. US, GB, FR.",
                          render_kw={"maxlength": 2, "autocomplete": "off", "class": "ct-country"})

    FIXED = ("first_name", "last_name", "email", "phone", "company_id", "owner_id", "source", "street", "city",
             "region", "postal_code", "country")

    custom_field_defs: list = []

    def custom_fields_in_form(self):
        """(definition, form field) for every custom field, in the admin's order."""
        return [(definition, self[f"cf_{definition.key}"]) for definition in self.custom_field_defs]

    def service_data(self) -> dict:
        """What services.contacts.create/update expect."""
        data = {name: self[name].data for name in self.FIXED}
        values = {}
        for definition, field in self.custom_fields_in_form():
            values[definition.key] = field.data
        data["custom_fields"] = values
        return data


def _custom_field(definition):
    label = definition.label
    if definition.field_type == "checkbox":
        return BooleanField(label)
    if definition.field_type == "dropdown":
        choices = [SelectChoice("", "—")] + [SelectChoice(o, o) for o in definition.options]
        return SelectField(label, choices=choices, validate_choice=False)
    render_kw = {"autocomplete": "off"}
    if definition.field_type == "number":
        render_kw.update(inputmode="decimal")
    elif definition.field_type == "date":
        render_kw.update(type="date")
    elif definition.field_type == "url":
        render_kw.update(type="url", placeholder="https://")
    if definition.required:
        render_kw["aria-required"] = "true"
    return StringField(label, render_kw=render_kw)


def contact_form(definitions, companies, members, contact=None, **kwargs) -> ContactForm:
    """A contact form with the account's custom fields, company and owner choices.

    definitions: CustomField rows; companies: (id, name) pairs; members: (user id, label) pairs."""
    attrs = {f"cf_{d.key}": _custom_field(d) for d in definitions}
    attrs["custom_field_defs"] = list(definitions)
    form_class = type("AccountContactForm", (ContactForm,), attrs)
    if contact is not None:
        from app.crm.services.phones import format_phone

        for name in ContactForm.FIXED:
            value = getattr(contact, name)
            kwargs.setdefault(name, "" if value is None else str(value))
        kwargs["phone"] = format_phone(contact.phone)
        for definition in definitions:
            kwargs.setdefault(f"cf_{definition.key}", (contact.custom_fields or {}).get(definition.key))
    form = form_class(**kwargs)  # on POST, Flask-WTF reads the submitted values instead
    form.company_id.choices = [SelectChoice("", "— No company —")] + [SelectChoice(str(i), n) for i, n in companies]
    form.owner_id.choices = [SelectChoice("", "— Nobody —")] + [SelectChoice(str(i), n) for i, n in members]
    return form


class NoteForm(FlaskForm):
    # The length (1 to 10,000 characters) is checked by services.notes, with its own message.
    body = TextAreaField("Note", render_kw={"rows": 3, "placeholder": "Write a note…"})


class TagForm(FlaskForm):
    name = StringField("Tag", validators=[Length(max=50, message="A tag name has at most 50 characters.")],
                       render_kw={"autocomplete": "off", "placeholder": "Add a tag…", "list": "tag-suggestions"})


class SegmentForm(FlaskForm):
    name = StringField("Segment name", validators=[Length(max=80, message="At most 80 characters.")],
                       render_kw={"placeholder": "e.g. Hot leads in France", "autocomplete": "off"})


# ---- contact import --------------------------------------------------------------------------------

class ImportUploadForm(FlaskForm):
    class Meta:
        csrf = False  # checked by the view once the upload size limit is raised (see contact_import_upload)

    file = FileField("CSV file", render_kw={"accept": ".csv,.tsv,.txt,text/csv,text/plain"})


class ImportEncodingForm(FlaskForm):
    # Any value is posted on to services.imports.files.change_encoding, which refuses one not in the list.
    encoding = SelectField("Encoding of the file", validate_choice=False,
                           choices=[SelectChoice(name, label) for name, label in ENCODINGS.items()])


class ImportStartForm(FlaskForm):
    duplicate_mode = RadioField("Contacts that exist already (same e-mail)", default="update", validate_choice=False,
                                choices=[SelectChoice("update", "Update them with the values of the file"),
                                         SelectChoice("skip", "Skip them: leave them as they are")])
    tags = StringField("Tags to add to every imported contact", validators=[Length(max=1100)],
                       description="Comma-separated, e.g. webinar-2026, imported. New tags are created.")
