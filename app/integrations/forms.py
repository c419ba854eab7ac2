"""Every Flask-WTF form of integrations, and the choices they offer."""

# -- connections and contact sync --
# The connection form is made from the adapter's `fields` (one form class per provider, built here); the fields
# only carry the values, the service (app.integrations.connections.clean_values) checks them. Secret inputs are
# password inputs that never render a value: on an edit, blank keeps the stored secret, and an optional secret that
# is stored gets a "Clear" checkbox under it (blank cannot mean "remove" since it means "keep").

CONNECTION_NAME_FIELD = "connection_name"
CLEAR_PREFIX = "clear__"  # the "Clear" checkbox of an optional secret: "clear__" + the field's key
MAP_PREFIX = "map_"  # the field map's inputs: "map_" + the contact field's key ("map_city", "map_custom.plan")


def connection_form(cls, connection=None, bind: bool = False):
    """The form of a provider's fields, with the connection's name; `connection` (an edit) gives the current
    settings and the hints of the stored secrets. `bind`: read the posted values (the form that was sent)."""
    from flask_wtf import FlaskForm
    from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
    from wtforms.fields.choices import SelectChoice

    hints = dict(connection.credential_hints or {}) if connection is not None else {}
    settings = dict(connection.settings or {}) if connection is not None else {}

    class ConnectionForm(FlaskForm):
        pass

    setattr(ConnectionForm, CONNECTION_NAME_FIELD, StringField(
        "Name", default=connection.name if connection is not None else cls.name,
        description="How this connection is named in Leadforge."))
    for item in cls.fields:
        label = item.label if item.required or item.kind == "bool" else f"{item.label} (optional)"
        render_kw = {"autocomplete": "off"}
        if item.secret or item.kind == "password":
            stored = hints.get(item.key) if connection is not None else None
            clearable = bool(stored) and item.secret and not item.required
            description = (f"{stored} — leave blank to keep" + (", or tick Clear to remove it" if clearable else "")
                           if stored else item.help)
            render_kw["autocomplete"] = "new-password"
            field = PasswordField(label, description=description, render_kw=render_kw)
            if clearable:
                setattr(ConnectionForm, item.key, field)  # the checkbox comes right after its input
                setattr(ConnectionForm, CLEAR_PREFIX + item.key,
                        BooleanField(f"Clear the {item.label} ({stored})", default=False))
                continue
        elif item.kind == "bool":
            default = settings.get(item.key) if connection is not None else str(item.default).lower() in (
                "1", "true", "yes", "on")
            field = BooleanField(label, default=bool(default), description=item.help)
        elif item.kind == "select":
            field = SelectField(label, choices=[SelectChoice(value, text) for value, text in item.choices],
                                validate_choice=False, description=item.help,
                                default=settings.get(item.key, item.default))
        else:
            if item.kind == "number":
                render_kw["inputmode"] = "numeric"
            kind = EmailField if item.kind == "email" else StringField
            value = settings.get(item.key, "" if connection is not None else item.default)
            field = kind(label, description=item.help, render_kw=render_kw,
                         default="" if value is None else str(value))
        setattr(ConnectionForm, item.key, field)
    return ConnectionForm() if bind else ConnectionForm(formdata=None)


def connection_values(form, cls) -> dict:
    """The provider fields' values as the service takes them."""
    return {item.key: form[item.key].data for item in cls.fields}


def connection_clears(form, cls) -> list[str]:
    """The optional secrets whose "Clear" box is ticked (connections.update's `clear`)."""
    return [item.key for item in cls.fields
            if CLEAR_PREFIX + item.key in form and form[CLEAR_PREFIX + item.key].data]


def sync_settings_form(connection, lists, contact_fields, bind: bool = False):
    """The contact sync settings of a connection: lists (`lists`: the provider's, or None when they could not be
    fetched: the chosen ones are offered), triggers, the field map (one input per contact field) and the tags."""
    from flask_wtf import FlaskForm
    from wtforms import SelectMultipleField, StringField
    from wtforms.fields.choices import SelectChoice

    from app.integrations import sync

    offered = [(str(item.id), item.name) for item in lists] if lists is not None else [
        (str(item["id"]), item.get("name") or str(item["id"])) for item in connection.sync_lists or []]

    class SyncSettingsForm(FlaskForm):
        lists = SelectMultipleField("Lists to keep current", choices=[SelectChoice(*pair) for pair in offered],
                                    validate_choice=False,
                                    default=[str(item["id"]) for item in connection.sync_lists or []])
        events = SelectMultipleField("Sync when", choices=[SelectChoice(*pair) for pair in sync.SYNC_EVENTS.items()],
                                     validate_choice=False,
                                     default=list(connection.sync_events or []))
        tags = StringField("Tags sent", default=", ".join(connection.sync_tags or []),
                           description="Names of the contact's tags to send, comma-separated; * sends them all.")

    for key, label in contact_fields:
        setattr(SyncSettingsForm, MAP_PREFIX + key, StringField(
            label, default=(connection.field_map or {}).get(key, ""), render_kw={"autocomplete": "off"}))
    form = SyncSettingsForm() if bind else SyncSettingsForm(formdata=None)
    form.map_fields = [form[MAP_PREFIX + key] for key, _ in contact_fields]
    return form


def field_map_values(form, contact_fields) -> dict:
    return {key: form[MAP_PREFIX + key].data or "" for key, _ in contact_fields}


def sms_test_form(bind: bool = False):
    """Send a test SMS: the number and the text."""
    from flask_wtf import FlaskForm
    from wtforms import TelField, TextAreaField
    from wtforms.validators import DataRequired, Length

    class TestSmsForm(FlaskForm):
        to = TelField("To", validators=[DataRequired(message="Enter the phone number."), Length(max=20)],
                      description="In international format, e.g. +15555550100.", render_kw={"autocomplete": "tel"})
        body = TextAreaField("Message", validators=[DataRequired(message="Write the message."), Length(max=1600)],
                             default="A test message from Leadforge.")

    return TestSmsForm() if bind else TestSmsForm(formdata=None)


# -- outgoing webhooks --
# The endpoint form: URL, description, the events as checkboxes grouped as the catalogue groups them
# (webhooks.EVENT_GROUPS), and per group an "all of them" box that subscribes to every event of the group (no
# script needed). The service (webhooks.create_endpoint / update_endpoint) checks the URL and the events.

def webhook_endpoint_form(endpoint=None, bind: bool = False):
    """The form of a webhook endpoint; `endpoint` (an edit) gives the current values. `bind`: read the post."""
    from flask_wtf import FlaskForm
    from wtforms import SelectMultipleField, StringField
    from wtforms.fields.choices import SelectChoice

    from app.integrations import webhooks

    class WebhookEndpointForm(FlaskForm):
        url = StringField("Endpoint URL", default=endpoint.url if endpoint else "",
                          description="Where the events are POSTed. https:// is required.",
                          render_kw={"inputmode": "url", "autocomplete": "off", "spellcheck": "false",
                                     "placeholder": "https://example.com/webhooks/leadforge"})
        description = StringField("Description (optional)", default=endpoint.description if endpoint else "",
                                  description="What receives them, for your team: “Zapier: new leads”.")
        events = SelectMultipleField("Events", validate_choice=False,
                                     choices=[SelectChoice(name, label) for name, label in webhooks.EVENTS.items()],
                                     default=list(endpoint.events or []) if endpoint else [])
        groups = SelectMultipleField("All events of", validate_choice=False,
                                     choices=[SelectChoice(key, label) for key, label, _ in webhooks.EVENT_GROUPS])

    return WebhookEndpointForm() if bind else WebhookEndpointForm(formdata=None)


def webhook_endpoint_values(form) -> dict:
    """The form's values as the service takes them: the events ticked, and every event of each group ticked."""
    from app.integrations import webhooks

    chosen = list(form.events.data or [])
    for group in form.groups.data or []:
        chosen += webhooks.GROUP_EVENTS.get(group, [])
    return {"url": form.url.data or "", "description": form.description.data or "", "events": chosen}


# -- inbound webhooks --
# The hook form: name, tags, active, and the field map as rows of (contact field, path in the body); two blank
# rows are offered, "Add a row" posts the form back with one more (no script needed). The sample body is only
# for the "test it" panel (never saved). The service (app.integrations.inbound.clean) checks everything.

INBOUND_BLANK_ROWS = 2
INBOUND_NEW_MAP = (("email", "email"), ("first_name", "first_name"), ("last_name", "last_name"))


def inbound_hook_form(targets, hook=None, formdata=None, add_row=False):
    """`targets`: (contact field, label) pairs the rows offer (inbound.field_choices); `hook`: an edit's hook."""
    from flask_wtf import FlaskForm
    from wtforms import BooleanField, FieldList, Form, FormField, SelectField, StringField, TextAreaField
    from wtforms.fields.choices import SelectChoice
    from wtforms.validators import Length

    class MapRowForm(Form):
        target = SelectField("Contact field", validate_choice=False, choices=[
            SelectChoice("", "— Choose a field —"), *(SelectChoice(key, label) for key, label in targets)])
        path = StringField("Path in the body", validators=[Length(max=200)],
                           render_kw={"autocomplete": "off", "spellcheck": "false", "placeholder": "data.email"})

    class InboundHookForm(FlaskForm):
        name = StringField("Name", validators=[Length(max=120)],
                           description="Where the calls come from, e.g. “Zapier: webinar sign-ups”.")
        tags = StringField("Tags to add", validators=[Length(max=1100)],
                           description="Comma-separated; each contact received gets them (new tags are created).")
        is_active = BooleanField("Active (an inactive hook answers 404)", default=True)
        rows = FieldList(FormField(MapRowForm), min_entries=1)
        sample = TextAreaField(
            "Sample body", validators=[Length(max=262144)],
            render_kw={"rows": 6, "spellcheck": "false", "placeholder": '{"email": "ada@example.com"}'},
            description="Paste a JSON body to see what the map takes from it (not saved).")

    if formdata is not None:
        form = InboundHookForm(formdata=formdata)
        if add_row:
            form.rows.append_entry()
        return form
    pairs = list((hook.field_map or {}).items()) if hook is not None else list(INBOUND_NEW_MAP)
    rows = [{"target": target, "path": path} for target, path in pairs]
    rows += [{"target": "", "path": ""} for _ in range(INBOUND_BLANK_ROWS)]
    if hook is not None:
        return InboundHookForm(formdata=None, name=hook.name, tags=", ".join(hook.tags or []),
                               is_active=hook.is_active, rows=rows)
    return InboundHookForm(formdata=None, rows=rows)


def inbound_hook_values(form) -> dict:
    """The form's values as inbound.create_hook / update_hook take them."""
    return {"name": form.name.data or "", "tags": form.tags.data or "", "is_active": bool(form.is_active.data),
            "field_map": [(row.target.data or "", row.path.data or "") for row in form.rows]}


# -- tracking pixels --
# A pixel: provider, id, where (the whole workspace or one funnel) and active. The id's pattern is checked by the
# service (app.integrations.pixels.clean), which names the field at fault.


def pixel_form(providers, funnels, pixel=None, formdata=None):
    """`providers`: (key, label) pairs; `funnels`: the workspace's funnels; `pixel`: an edit's pixel."""
    from flask_wtf import FlaskForm
    from wtforms import BooleanField, SelectField, StringField
    from wtforms.fields.choices import SelectChoice
    from wtforms.validators import Length

    class PixelForm(FlaskForm):
        provider = SelectField("Provider", validate_choice=False,
                               choices=[SelectChoice(key, label) for key, label in providers])
        pixel_code = StringField("Pixel ID", validators=[Length(max=64)],
                                 render_kw={"autocomplete": "off", "spellcheck": "false"},
                                 description="As the provider shows it: Meta 15–16 digits, GA4 G-XXXXXXXXXX, TikTok "
                                             "20 characters, Pinterest 13 digits, X 5–6 characters.")
        funnel_id = SelectField("Where", validate_choice=False, choices=[
            SelectChoice("", "Every funnel of the workspace"),
            *(SelectChoice(str(funnel.id), f"Only “{funnel.name}”") for funnel in funnels)],
            description="A funnel's own pixel replaces the workspace's of the same provider on its pages.")
        is_active = BooleanField("Active", default=True)

    if formdata is not None:
        return PixelForm(formdata=formdata)
    if pixel is not None:
        return PixelForm(formdata=None, provider=pixel.provider, pixel_code=pixel.pixel_code,
                         funnel_id=str(pixel.funnel_id or ""), is_active=pixel.is_active)
    return PixelForm(formdata=None)


def pixel_values(form) -> dict:
    return {"provider": form.provider.data or "", "pixel_code": form.pixel_code.data or "",
            "funnel_id": form.funnel_id.data or None, "is_active": bool(form.is_active.data)}
