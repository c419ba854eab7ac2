"""CRM settings: tags and custom fields (pipelines and stages are managed at /deals/pipelines).

Everyone in the workspace reads this page; admins change it."""
import re

from flask import flash, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.core.errors import ServiceError
from app.core.forms import apply_error
from app.core.pagination import paginate, parse_page_args
from app.core.roles import can, role_required
from app.core.tenancy import current_account, get_or_404, scoped
from app.core.web import redirect_to, render
from app.crm import bp
from app.crm.models import CUSTOM_FIELD_TYPES, TAG_COLORS, CustomField, Tag
from app.crm.services import custom_fields, tags
from app.extensions import db

REQUIRED = DataRequired(message="This field is required.")
FIELD_TYPE_LABELS = {"text": "Text", "number": "Number", "date": "Date", "dropdown": "Dropdown",
                     "checkbox": "Checkbox (yes / no)", "url": "Web address (URL)"}
PIPELINES_URL = "/deals/pipelines"
MERGE_HINT = ("Renaming to the name of another tag merges the two: its contacts get that tag and this one is "
              "deleted.")


class TagForm(FlaskForm):
    name = StringField("Name", validators=[REQUIRED, Length(max=50, message="At most 50 characters.")],
                       render_kw={"autocomplete": "off", "maxlength": 50, "placeholder": "e.g. VIP"})
    color = RadioField("Colour", choices=[SelectChoice(c, c.capitalize()) for c in TAG_COLORS], default="gray",
                       validate_choice=False)


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
    label = CustomFieldForm.label
    options = CustomFieldForm.options
    required = CustomFieldForm.required


def _option_lines(text: str | None) -> list[str]:
    """One option a line (a comma inside an option is kept)."""
    return [line.strip() for line in re.split(r"\r?\n", text or "") if line.strip()]


def _page_context(tag_form=None, field_form=None) -> dict:
    account = current_account()
    tag_page = paginate(tags.with_counts_query(account), *parse_page_args(request.args, page_field="tags_page"),
                        scalars=False)
    field_page = paginate(scoped(CustomField).order_by(CustomField.position, CustomField.label, CustomField.id),
                          *parse_page_args(request.args, page_field="fields_page"))
    admin = can("admin")
    return {"tag_page": tag_page, "field_page": field_page, "type_labels": FIELD_TYPE_LABELS,
            "tag_form": (tag_form or TagForm(formdata=None)) if admin else None,
            "field_form": (field_form or CustomFieldForm(formdata=None)) if admin else None,
            "pipelines_url": PIPELINES_URL, "merge_hint": MERGE_HINT, "tag_colors": TAG_COLORS}


@bp.route("/settings/crm")
@role_required("viewer")
def crm_settings():
    return render("crm/settings/index.html", **_page_context())


@bp.route("/settings/crm/tags", methods=["POST"])
@role_required("admin")
def settings_tag_create():
    form = TagForm()
    if form.validate_on_submit():
        try:
            tag = tags.create(current_account(), {"name": form.name.data, "color": form.color.data})
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"Tag “{tag.name}” created.", "success")
            return redirect_to(url_for("crm.crm_settings") + "#tags")
    return render("crm/settings/index.html", block="tag_form", status=422, **_page_context(tag_form=form))


@bp.route("/settings/crm/tags/<uuid:tag_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def settings_tag_edit(tag_id):
    tag = get_or_404(Tag, tag_id)
    account = current_account()
    count = tags.contact_count(tag)
    if request.method == "POST":
        form = TagForm()
        if form.validate_on_submit():
            old_name = tag.name
            target = tags.find_by_name(account, form.name.data or "")
            merging = target is not None and target.id != tag.id
            try:
                result = tags.update(account, tag, {"name": form.name.data, "color": form.color.data})
            except ServiceError as error:
                db.session.rollback()
                apply_error(form, error)
            else:
                if merging:
                    total = tags.contact_count(result)
                    flash(f"Tag “{old_name}” merged into “{result.name}”: its {count:,} contact"
                          f"{'' if count == 1 else 's'} now carry “{result.name}” ({total:,} in all), and "
                          f"“{old_name}” was deleted.", "success")
                elif old_name != result.name:
                    flash(f"Tag “{old_name}” renamed to “{result.name}”.", "success")
                else:
                    flash(f"Tag “{result.name}” saved.", "success")
                return redirect_to(url_for("crm.crm_settings") + "#tags")
        status = 422
    else:
        form, status = TagForm(formdata=None, obj=tag), 200
    others = [name for (name,) in db.session.execute(
        scoped(Tag).with_only_columns(Tag.name).where(Tag.id != tag.id).order_by(Tag.name).limit(500))]
    return render("crm/settings/tag_edit.html", status=status, tag=tag, form=form, count=count,
                  merge_hint=MERGE_HINT, other_names=others)


@bp.route("/settings/crm/tags/<uuid:tag_id>/delete", methods=["POST"])
@role_required("admin")
def settings_tag_delete(tag_id):
    tag = get_or_404(Tag, tag_id)
    name, count = tag.name, tags.contact_count(tag)
    tags.delete_tag(current_account(), tag)
    flash(f"Tag “{name}” deleted" + (f" and removed from {count:,} contact{'' if count == 1 else 's'}." if count
                                     else "."), "success")
    return redirect_to(url_for("crm.crm_settings") + "#tags")


@bp.route("/settings/crm/fields", methods=["POST"])
@role_required("admin")
def settings_field_create():
    form = CustomFieldForm()
    if form.validate_on_submit():
        data = {"label": form.label.data, "key": (form.key.data or "").strip(), "field_type": form.field_type.data,
                "options": _option_lines(form.options.data), "required": form.required.data}
        try:
            field = custom_fields.create(current_account(), data)
        except ServiceError as error:
            db.session.rollback()
            apply_error(form, error)
        else:
            flash(f"Custom field “{field.label}” ({FIELD_TYPE_LABELS[field.field_type].lower()}) created. "
                  "It now shows on contact forms, filters, import and export.", "success")
            return redirect_to(url_for("crm.crm_settings") + "#fields")
    return render("crm/settings/index.html", block="field_form", status=422, **_page_context(field_form=form))


@bp.route("/settings/crm/fields/<uuid:custom_field_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def settings_field_edit(custom_field_id):
    field = get_or_404(CustomField, custom_field_id)
    if request.method == "POST":
        form = CustomFieldEditForm()
        if form.validate_on_submit():
            data = {"label": form.label.data, "options": _option_lines(form.options.data),
                    "required": form.required.data}
            try:
                custom_fields.update(current_account(), field, data)
            except ServiceError as error:
                db.session.rollback()
                apply_error(form, error)
            else:
                flash(f"Custom field “{field.label}” saved.", "success")
                return redirect_to(url_for("crm.crm_settings") + "#fields")
        status = 422
    else:
        form = CustomFieldEditForm(formdata=None, label=field.label, options="\n".join(field.options or []),
                                   required=field.required)
        status = 200
    return render("crm/settings/field_edit.html", status=status, custom_field=field, form=form,
                  type_labels=FIELD_TYPE_LABELS)


@bp.route("/settings/crm/fields/<uuid:custom_field_id>/delete", methods=["POST"])
@role_required("admin")
def settings_field_delete(custom_field_id):
    field = get_or_404(CustomField, custom_field_id)
    label = field.label
    custom_fields.delete(current_account(), field)
    flash(f"Custom field “{label}” deleted. Values already entered are kept but no longer shown; "
          "a new field with the same key shows them again.", "success")
    return redirect_to(url_for("crm.crm_settings") + "#fields")
