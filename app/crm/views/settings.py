"""CRM settings: tags and custom fields (pipelines and stages are managed at /deals/pipelines).

Everyone in the workspace reads this page; admins change it."""
import re

from flask import flash, request, url_for

from app.core.errors import ServiceError
from app.core.forms import apply_error
from app.core.pagination import paginate, parse_page_args
from app.core.roles import can, role_required
from app.core.tenancy import current_account, get_or_404, scoped
from app.core.web import redirect_to, render
from app.crm import bp
from app.crm.forms import FIELD_TYPE_LABELS, CustomFieldEditForm, CustomFieldForm, TagForm
from app.crm.models import TAG_COLORS, CustomField, Tag
from app.crm.services import custom_fields, tags
from app.extensions import db

PIPELINES_URL = "/deals/pipelines"
MERGE_HINT = ("Renaming to the name of another tag merges the two: its contacts get that tag and this one is "
              "deleted.")


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
            try:
                change = tags.update(account, tag, {"name": form.name.data, "color": form.color.data})
            except ServiceError as error:
                apply_error(form, error)
            else:
                flash(_tag_message(change), "success")
                return redirect_to(url_for("crm.crm_settings") + "#tags")
        status = 422
    else:
        form, status = TagForm(formdata=None, obj=tag), 200
    others = [name for (name,) in db.session.execute(
        scoped(Tag).with_only_columns(Tag.name).where(Tag.id != tag.id).order_by(Tag.name).limit(500))]
    return render("crm/settings/tag_edit.html", status=status, tag=tag, form=form, count=count,
                  merge_hint=MERGE_HINT, other_names=others)


def _tag_message(change: tags.TagChange) -> str:
    if change.merged:
        return (f"Tag “{change.old_name}” merged into “{change.tag.name}”: its {change.moved:,} contact"
                f"{'' if change.moved == 1 else 's'} now carry “{change.tag.name}” ({change.total:,} in all), and "
                f"“{change.old_name}” was deleted.")
    if change.renamed:
        return f"Tag “{change.old_name}” renamed to “{change.tag.name}”."
    return f"Tag “{change.tag.name}” saved."


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
