"""Contact import: upload a CSV, preview it, match its columns, then follow the background job to its result."""
from pathlib import Path

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.auth.models import User
from app.core.errors import ServiceError
from app.core.formatting import size_label
from app.core.forms import ActionForm, apply_error
from app.core.models import Job
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404, scoped
from app.core.web import redirect_to, render, wants_fragment
from app.crm import bp
from app.crm.models import ContactImport
from app.crm.services import imports
from app.extensions import csrf, db


class UploadForm(FlaskForm):
    class Meta:
        csrf = False  # checked by the view once the upload size limit is raised (see contact_import_upload)

    file = FileField("CSV file", render_kw={"accept": ".csv,.tsv,.txt,text/csv,text/plain"})


class StartForm(FlaskForm):
    duplicate_mode = RadioField("Contacts that exist already (same e-mail)", default="update", validate_choice=False,
                                choices=[SelectChoice("update", "Update them with the values of the file"),
                                         SelectChoice("skip", "Skip them: leave them as they are")])
    tags = StringField("Tags to add to every imported contact", validators=[Length(max=1100)],
                       description="Comma-separated, e.g. webinar-2026, imported. New tags are created.")


def _index(form=None, status=200):
    uploads = paginate(scoped(ContactImport).order_by(ContactImport.created_at.desc(), ContactImport.id),
                       *parse_page_args(request.args))
    ids = {upload.created_by_id for upload in uploads.items if upload.created_by_id}
    people = {user.id: user for user in db.session.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    return render("crm/imports/index.html", block="upload", status=status, form=form or UploadForm(),
                  uploads=uploads, people=people, max_size=size_label(imports.max_upload_bytes()))


@bp.route("/contacts/import")
@role_required("viewer")
def contact_import():
    return _index()


@bp.route("/contacts/import/upload", methods=["POST"])
@csrf.exempt
@role_required("user")
def contact_import_upload():
    # Imports may be far larger than MAX_CONTENT_LENGTH: raise the limit for this request before the body is
    # read, then check the CSRF token (the global check, which reads the form, is skipped for this view).
    request.max_content_length = imports.max_upload_bytes()
    form = UploadForm(formdata=None)
    try:
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        storage = request.files.get("file")
    except RequestEntityTooLarge:
        form.file.errors = [f"The file is larger than {size_label(imports.max_upload_bytes())}: split it."]
        return _index(form, 422)
    if storage is None or not storage.filename:
        form.file.errors = ["Choose a CSV file to upload."]
        return _index(form, 422)
    try:
        upload = imports.save_upload(current_account(), storage.stream, storage.filename, actor=current_user)
    except ServiceError as error:
        apply_error(form, error)
        return _index(form, 422)
    return redirect_to(url_for("crm.contact_import_detail", import_id=upload.id))


def _detail(upload: ContactImport, form=None, mapping=None, errors=None) -> dict:
    account = current_account()
    context = {"upload": upload, "job": None, "form": form or StartForm(), "action_form": ActionForm(),
               "errors": errors or {}, "rows": [], "info": {"available": False, "delimiter": None}, "remembered": False,
               "choices": [], "mapping": {}}
    if upload.job_id:
        context["job"] = db.session.execute(scoped(Job).where(Job.id == upload.job_id)).scalar_one_or_none()
    if upload.status == "uploaded":
        context["info"] = imports.file_info(upload)
        if context["info"]["available"]:
            context["rows"] = imports.preview(upload)
        suggested, context["remembered"] = imports.suggest_mapping(account, upload.headers)
        context["mapping"] = mapping or suggested
        context["choices"] = imports.target_choices(account)
    return context


def _in_progress(upload: ContactImport, job) -> bool:
    return upload.status in ("queued", "running") or (job is not None and not job.done)


@bp.route("/contacts/import/<uuid:import_id>")
@role_required("viewer")
def contact_import_detail(import_id):
    upload = get_or_404(ContactImport, import_id)
    context = _detail(upload)
    return render("crm/imports/detail.html", in_progress=_in_progress(upload, context["job"]), **context)


@bp.route("/contacts/import/<uuid:import_id>/start", methods=["POST"])
@role_required("user")
def contact_import_start(import_id):
    upload = get_or_404(ContactImport, import_id)
    form = StartForm()
    mapping = {header: request.form.get(f"map_{index}") or imports.IGNORE
               for index, header in enumerate(upload.headers)}
    errors = {}
    if form.validate_on_submit():
        try:
            imports.start(current_account(), upload, mapping, form.duplicate_mode.data, form.tags.data or "",
                          actor=current_user)
        except ServiceError as error:
            if error.status == 409:
                flash(error.message, "error")
                return redirect_to(url_for("crm.contact_import_detail", import_id=upload.id))
            errors = dict(error.fields)
            apply_error(form, error)
        else:
            return redirect_to(url_for("crm.contact_import_detail", import_id=upload.id))
    context = _detail(upload, form, mapping, errors)
    return render("crm/imports/detail.html", block="mapping", status=422, in_progress=False, **context)


@bp.route("/contacts/import/<uuid:import_id>/status")
@role_required("viewer")
def contact_import_status(import_id):
    """Polled by the page while the job runs: 204 (nothing to swap) until the import is over."""
    upload = get_or_404(ContactImport, import_id)
    if not wants_fragment():
        return redirect(url_for("crm.contact_import_detail", import_id=upload.id))
    context = _detail(upload)
    if _in_progress(upload, context["job"]):
        return "", 204
    return render("crm/imports/detail.html", block="status", in_progress=False, **context)


@bp.route("/contacts/import/<uuid:import_id>/report")
@role_required("viewer")
def contact_import_report(import_id):
    upload = get_or_404(ContactImport, import_id)
    path = Path(upload.report_path) if upload.report_path else None
    if path is None or not path.is_file():
        flash("This import has no report: no row was rejected, or it has not finished yet.", "info")
        return redirect(url_for("crm.contact_import_detail", import_id=upload.id))
    return send_file(path, as_attachment=True, download_name=imports.report_name(upload), mimetype="text/csv")


@bp.route("/contacts/import/<uuid:import_id>/discard", methods=["POST"])
@role_required("user")
def contact_import_discard(import_id):
    upload = get_or_404(ContactImport, import_id)
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    filename = upload.filename
    try:
        imports.discard(current_account(), upload, actor=current_user)
    except ServiceError as error:
        flash(error.message, "error")
        return redirect_to(url_for("crm.contact_import_detail", import_id=import_id))
    flash(f"{filename} discarded: nothing was imported.", "success")
    return redirect_to(url_for("crm.contact_import"))
