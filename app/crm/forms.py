"""Forms of the CRM pages, and the choices they offer.

Fields check presence and length only; the services validate the rest (e-mail, phone, company, owner, custom
field types, dates) and their errors are put next to the field with app.core.forms.apply_error. The choice
helpers (members, companies, the chosen contact or company of a picker, stages) are here once each, for every
form and filter that offers them."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import func, select
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.auth.services import members
from app.core.tenancy import scoped
from app.core.validation import uuid_or_none
from app.crm.models import (
    ACTIVITY_TYPES,
    COMPANY_SIZES,
    CONTACT_SOURCES,
    CUSTOM_FIELD_TYPES,
    TAG_COLORS,
    Company,
    Contact,
    Deal,
)
from app.crm.services import deals
from app.crm.services.imports.sniffing import ENCODINGS
from app.crm.services.phones import format_phone
from app.extensions import db

REQUIRED = DataRequired(message="This field is required.")
CHOICE_LIMIT = 1000  # companies offered in a select


# ---- choices ---------------------------------------------------------------------------------------

def member_choices(account) -> list[tuple[str, str]]:
    """(user id, name) of the workspace's members, by name: owner and assignee selects, owner filters."""
    return [(str(user.id), user.display_name) for user in members(account)]


def company_choices(account) -> list[tuple[str, str]]:
    """(id, name) of the workspace's companies (not deleted) by name, the first CHOICE_LIMIT."""
    rows = db.session.execute(
        select(Company.id, Company.name).where(Company.account_id == account.id, Company.deleted_at.is_(None))
        .order_by(func.lower(Company.name)).limit(CHOICE_LIMIT))
    return [(str(company_id), name) for company_id, name in rows]


def chosen_company(value, exclude=None) -> list[SelectChoice]:
    """The chosen company as the one choice of a picker (its name looked up), when there is one."""
    company_id = uuid_or_none(value)
    company = db.session.execute(scoped(Company).where(
        Company.id == company_id, Company.deleted_at.is_(None))).scalar_one_or_none() if company_id else None
    if company is None or (exclude is not None and company.id == exclude):
        return []
    return [SelectChoice(str(company.id), company.name)]


def contact_label(contact: Contact) -> str:
    """A contact as a picker shows it: the name, and the e-mail when it is not the name."""
    return f"{contact.name} ({contact.email})" if contact.email and contact.name != contact.email else contact.name


def chosen_contact(value) -> list[SelectChoice]:
    """The chosen contact as the one choice of a picker, when there is one (not in the trash)."""
    contact_id = uuid_or_none(value)
    contact = db.session.execute(scoped(Contact).where(
        Contact.id == contact_id, Contact.deleted_at.is_(None))).scalar_one_or_none() if contact_id else None
    return [SelectChoice(str(contact.id), contact_label(contact))] if contact else []


def _stage_label(stage) -> str:
    return f"{stage.name} ({stage.probability}%)"


def stage_choices(account, deal: Deal | None = None):
    """Stages of the deal's pipeline; for a new deal, every pipeline's stages in groups."""
    if deal is not None:
        return [SelectChoice(str(s.id), _stage_label(s)) for s in deal.pipeline.stages]
    pipelines = deals.pipelines_of(account)
    if len(pipelines) == 1:
        return [SelectChoice(str(s.id), _stage_label(s)) for s in pipelines[0].stages]
    return {p.name: [(str(s.id), _stage_label(s)) for s in p.stages] for p in pipelines}


# ---- contacts --------------------------------------------------------------------------------------

SOURCE_LABELS = {"manual": "Added by hand", "import": "Import", "form": "Form", "api": "API",
                 "checkout": "Checkout", "referral": "Referral", "webhook": "Inbound webhook", "other": "Other"}


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


def contact_form(account, definitions, contact=None, **kwargs) -> ContactForm:
    """A contact form with the account's custom fields (CustomField rows), company and owner choices."""
    attrs = {f"cf_{d.key}": _custom_field(d) for d in definitions}
    attrs["custom_field_defs"] = list(definitions)
    form_class = type("AccountContactForm", (ContactForm,), attrs)
    if contact is not None:
        for name in ContactForm.FIXED:
            value = getattr(contact, name)
            kwargs.setdefault(name, "" if value is None else str(value))
        kwargs["phone"] = format_phone(contact.phone)
        for definition in definitions:
            kwargs.setdefault(f"cf_{definition.key}", (contact.custom_fields or {}).get(definition.key))
    form = form_class(**kwargs)  # on POST, Flask-WTF reads the submitted values instead
    form.company_id.choices = [SelectChoice("", "— No company —")] + [
        SelectChoice(i, n) for i, n in company_choices(account)]
    form.owner_id.choices = [SelectChoice("", "— Nobody —")] + [SelectChoice(i, n) for i, n in member_choices(account)]
    return form


class NoteForm(FlaskForm):
    # The length (1 to 10,000 characters) is checked by services.notes, with its own message.
    body = TextAreaField("Note", render_kw={"rows": 3, "placeholder": "Write a note…"})


class TagForm(FlaskForm):
    """A tag's name and colour: CRM settings create and edit both; a contact's or a company's tag field posts
    the name alone (an existing tag is found by it, a new one is created gray). An empty name is refused by
    the service ("Enter a tag name.")."""

    name = StringField("Name", validators=[Length(max=50, message="A tag name has at most 50 characters.")],
                       render_kw={"autocomplete": "off", "maxlength": 50, "placeholder": "e.g. VIP"})
    color = RadioField("Colour", choices=[SelectChoice(c, c.capitalize()) for c in TAG_COLORS], default="gray",
                       validate_choice=False)


class SegmentForm(FlaskForm):
    name = StringField("Segment name", validators=[Length(max=80, message="At most 80 characters.")],
                       render_kw={"placeholder": "e.g. Hot leads in France", "autocomplete": "off"})


# ---- companies -------------------------------------------------------------------------------------

class CompanyForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=160)], render_kw={"autocomplete": "off"})
    domain = StringField("Domain", validators=[Length(max=253)],
                         description="e.g. example.com — one company per domain.",
                         render_kw={"autocomplete": "off", "placeholder": "example.com"})
    industry = StringField("Industry", validators=[Length(max=80)],
                           render_kw={"autocomplete": "off", "list": "industry-suggestions"})
    size = SelectField("Size", validate_choice=False,
                       choices=[SelectChoice("", "—")] + [SelectChoice(s, f"{s} employees") for s in COMPANY_SIZES])
    phone = TelField("Phone", validators=[Length(max=40)], render_kw={"autocomplete": "off"})
    owner_id = SelectField("Owner", validate_choice=False)
    parent_id = SelectField("Parent company", validate_choice=False)

    FIELDS = ("name", "domain", "industry", "size", "phone", "owner_id", "parent_id")

    def service_data(self) -> dict:
        return {name: self[name].data or "" for name in self.FIELDS}


def company_form(account, company=None, formdata=None, **defaults) -> CompanyForm:
    """The company form (its values on GET; the posted ones on POST) with owner and parent choices."""
    if company is not None:
        for name in CompanyForm.FIELDS:
            value = getattr(company, name)
            defaults.setdefault(name, "" if value is None else str(value))
        defaults["phone"] = format_phone(company.phone)
    form = CompanyForm(formdata=formdata, **defaults) if formdata is not None else CompanyForm(**defaults)
    form.owner_id.choices = [SelectChoice("", "— Nobody —")] + [SelectChoice(i, n) for i, n in member_choices(account)]
    form.parent_id.choices = [SelectChoice("", "— No parent —")] + chosen_company(
        form.parent_id.data, exclude=company.id if company else None)
    return form


# ---- deals -----------------------------------------------------------------------------------------

class DealForm(FlaskForm):
    title = StringField("Title", validators=[Length(max=160)], render_kw={"autocomplete": "off"})
    value = StringField("Value", description="In your currency, e.g. 1250.50",
                        render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"})
    stage_id = SelectField("Stage", validate_choice=False)
    contact_id = SelectField("Contact", validate_choice=False)
    company_id = SelectField("Company", validate_choice=False)
    owner_id = SelectField("Owner", validate_choice=False)
    expected_close_date = StringField("Expected close date",
                                      render_kw={"type": "date", "min": "1900-01-01", "max": "2199-12-31"})

    FIELDS = ("title", "value", "stage_id", "contact_id", "company_id", "owner_id", "expected_close_date")

    def service_data(self) -> dict:
        return {name: self[name].data or "" for name in self.FIELDS}


class QuickDealForm(FlaskForm):
    """Quick-add in a board column: a title and a value."""

    title = StringField("Title", validators=[Length(max=160)],
                        render_kw={"autocomplete": "off", "placeholder": "Deal title"})
    value = StringField("Value", render_kw={"inputmode": "decimal", "autocomplete": "off",
                                            "placeholder": "Value, e.g. 1250.50"})


def deal_form(account, deal: Deal | None = None, formdata=None, **defaults) -> DealForm:
    """The deal form (its values on GET; the posted ones on POST) with stage, contact, company and owner
    choices; the contact and company pickers offer the chosen one (they search for the others)."""
    if deal is not None:
        defaults.update(title=deal.title, value=f"{deal.value_cents / 100:.2f}", stage_id=str(deal.stage_id),
                        contact_id=str(deal.contact_id or ""), company_id=str(deal.company_id or ""),
                        owner_id=str(deal.owner_id or ""),
                        expected_close_date=deal.expected_close_date.isoformat() if deal.expected_close_date else "")
    form = DealForm(formdata=formdata, **defaults) if formdata is not None else DealForm(**defaults)
    form.stage_id.choices = stage_choices(account, deal)
    form.owner_id.choices = [SelectChoice("", "— Nobody —")] + [SelectChoice(i, n) for i, n in member_choices(account)]
    form.contact_id.choices = [SelectChoice("", "— No contact —")] + chosen_contact(form.contact_id.data)
    form.company_id.choices = [SelectChoice("", "— No company —")] + chosen_company(form.company_id.data)
    return form


# ---- activities ------------------------------------------------------------------------------------

ACTIVITY_TYPE_LABELS = {"call": "Call", "email": "E-mail", "meeting": "Meeting", "task": "Task", "note": "Note",
                        "sms": "SMS", "other": "Other"}


class ActivityForm(FlaskForm):
    """Used with prefix="activity" so its ids do not clash with the page that includes the panel."""

    activity_type = SelectField("Type", choices=[SelectChoice(t, ACTIVITY_TYPE_LABELS[t]) for t in ACTIVITY_TYPES],
                                default="task")
    subject = StringField("Subject", validators=[REQUIRED, Length(max=200)],
                          render_kw={"placeholder": "e.g. Call about the proposal", "maxlength": 200})
    due_at = StringField("Due", render_kw={"type": "datetime-local", "class": "input", "min": "1900-01-01T00:00",
                                           "max": "2199-12-31T23:59"})
    assignee_id = SelectField("Assignee", validate_choice=False)
    description = TextAreaField("Description", validators=[Length(max=5000)], render_kw={"rows": 3})

    def values(self) -> dict:
        return {"activity_type": self.activity_type.data, "subject": self.subject.data,
                "description": self.description.data or "", "due_at": (self.due_at.data or "").strip(),
                "assignee_id": self.assignee_id.data or None}


def assignee_choices(account) -> list[SelectChoice]:
    return [SelectChoice("", "Nobody")] + [SelectChoice(i, n) for i, n in member_choices(account)]


# ---- CRM settings: custom fields -------------------------------------------------------------------

FIELD_TYPE_LABELS = {"text": "Text", "number": "Number", "date": "Date", "dropdown": "Dropdown",
                     "checkbox": "Checkbox (yes / no)", "url": "Web address (URL)"}


class CustomFieldForm(FlaskForm):
    label = StringField("Label", validators=[REQUIRED, Length(max=80, message="At most 80 characters.")],
                        render_kw={"autocomplete": "off", "maxlength": 80, "placeholder": "e.g. Plan"})
    key = StringField("Key", validators=[Length(max=50, message="At most 50 characters.")],
                      description="Names the field in imports, exports and the API. Lower-case letters, digits "
                                  "and _, starting with a letter. Leave empty to make it from the label.",
                      render_kw={"autocomplete": "off", "maxlength": 50, "placeholder": "e.g. plan",
                                 "spellcheck": "false"})
    field_type = SelectField("Type", choices=[SelectChoice(t, FIELD_TYPE_LABELS[t]) for t in CUSTOM_FIELD_TYPES],
                             default="text", validate_choice=False)
    options = TextAreaField("Options", description="For a dropdown: one option a line.", render_kw={"rows": 4})
    required = BooleanField("Required: a contact cannot be saved without it")


class CustomFieldEditForm(FlaskForm):
    """The type and key of a field stay as they were made."""

    label = CustomFieldForm.label
    options = CustomFieldForm.options
    required = CustomFieldForm.required


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
