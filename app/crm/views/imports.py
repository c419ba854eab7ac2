"""Contact import: upload a CSV, preview it (in the encoding the person picks), match its columns, then follow
the background job to its result."""
from pathlib import Path

from flask import current_app, flash, redirect, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from app.auth.models import User
from app.core.errors import ServiceError, ValidationError
from app.core.formatting import size_label
from app.core.forms import ActionForm, apply_error, checked_action, flashed_refusal
from app.core.models import Job
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404, scoped
from app.core.web import redirect_to, render, wants_fragment
from app.crm import bp
from app.crm.forms import ImportEncodingForm, ImportStartForm, ImportUploadForm
from app.crm.models import ContactImport
from app.crm.services.imports import files, mapping
from app.crm.services.imports import job as import_job
from app.crm.services.imports.sniffing import choice_of, encoding_label
from app.extensions import csrf, db


def _index(form=None, status=200):
    uploads = paginate(scoped(ContactImport).order_by(ContactImport.created_at.desc(), ContactImport.id),
                       *parse_page_args(request.args))
    ids = {upload.created_by_id for upload in uploads.items if upload.created_by_id}
    people = ({user.id: user for user in db.session.execute(select(User).where(User.id.in_(ids))).scalars()}
              if ids else {})
    return render("crm/imports/index.html", block="upload", status=status, form=form or ImportUploadForm(),
                  uploads=uploads, people=people, max_size=size_label(files.max_upload_bytes()))


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
    request.max_content_length = files.max_upload_bytes()
    form = ImportUploadForm(formdata=None)
    try:
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        storage = request.files.get("file")
    except RequestEntityTooLarge:
        form.file.errors = [f"The file is larger than {size_label(files.max_upload_bytes())}: split it."]
        return _index(form, 422)
    if storage is None or not storage.filename:
        form.file.errors = ["Choose a CSV file to upload."]
        return _index(form, 422)
    try:
        upload = files.save_upload(current_account(), storage.stream, storage.filename, actor=current_user)
    except ServiceError as error:
        apply_error(form, error)
        return _index(form, 422)
    return redirect_to(url_for("crm.contact_import_detail", import_id=upload.id))


def _detail(upload: ContactImport, form=None, encoding_form=None, columns=None, errors=None) -> dict:
    account = current_account()
    context = {"upload": upload, "job": None, "form": form or ImportStartForm(), "action_form": ActionForm(),
               "encoding_form": encoding_form or ImportEncodingForm(encoding=choice_of(upload.encoding)),
               "errors": errors or {}, "rows": [], "samples": [], "remembered": False, "choices": [], "mapping": {},
               "info": {"available": False, "delimiter": None, "warnings": [],
                        "encoding": encoding_label(upload.encoding)}}
    if upload.job_id:
        context["job"] = db.session.execute(scoped(Job).where(Job.id == upload.job_id)).scalar_one_or_none()
    if upload.status == "uploaded":
        info = context["info"] = files.file_info(upload)
        if info["available"]:
            found = files.preview(upload, samples=bool(info["warnings"] or upload.encoding_chosen))
            context["rows"], context["samples"] = found.rows, found.samples
        suggested, context["remembered"] = mapping.suggest_mapping(account, upload.headers)
        context["mapping"] = columns or suggested
        context["choices"] = mapping.target_choices(account)
    return context


def _in_progress(upload: ContactImport, job) -> bool:
    return upload.status in ("queued", "running") or (job is not None and not job.done)


def _detail_url(upload: ContactImport) -> str:
    return url_for("crm.contact_import_detail", import_id=upload.id)


@bp.route("/contacts/import/<uuid:import_id>")
@role_required("viewer")
def contact_import_detail(import_id):
    upload = get_or_404(ContactImport, import_id)
    context = _detail(upload)
    return render("crm/imports/detail.html", in_progress=_in_progress(upload, context["job"]), **context)


@bp.route("/contacts/import/<uuid:import_id>/encoding", methods=["POST"])
@role_required("user")
def contact_import_encoding(import_id):
    """Read the file again in the encoding picked, and show its preview again."""
    upload = get_or_404(ContactImport, import_id)
    form = ImportEncodingForm()
    if form.validate_on_submit():
        with flashed_refusal() as refused:  # started meanwhile, or the file gone: said by a flash message
            try:
                files.change_encoding(current_account(), upload, form.encoding.data, actor=current_user)
            except ValidationError as error:  # not in the list, or no CSV when read so: next to the select
                apply_error(form, error)
            else:
                return redirect_to(_detail_url(upload))
        if refused:
            return redirect_to(_detail_url(upload))
    context = _detail(upload, encoding_form=form)
    return render("crm/imports/detail.html", block="preview", status=422, in_progress=False, **context)


@bp.route("/contacts/import/<uuid:import_id>/start", methods=["POST"])
@role_required("user")
def contact_import_start(import_id):
    upload = get_or_404(ContactImport, import_id)
    form = ImportStartForm()
    columns = {header: request.form.get(f"map_{index}") or mapping.IGNORE
               for index, header in enumerate(upload.headers)}
    errors = {}
    if form.validate_on_submit():
        with flashed_refusal() as refused:  # started already, the file gone, the queue down: a flash message
            try:
                import_job.start(current_account(), upload, columns, form.duplicate_mode.data, form.tags.data or "",
                                 actor=current_user)
            except ValidationError as error:  # the mapping: next to its fields
                errors = dict(error.fields)
                apply_error(form, error)
            else:
                return redirect_to(_detail_url(upload))
        if refused:
            return redirect_to(_detail_url(upload))
    context = _detail(upload, form, columns=columns, errors=errors)
    return render("crm/imports/detail.html", block="mapping", status=422, in_progress=False, **context)


@bp.route("/contacts/import/<uuid:import_id>/status")
@role_required("viewer")
def contact_import_status(import_id):
    """Polled by the page while the job runs: 204 (nothing to swap) until the import is over."""
    upload = get_or_404(ContactImport, import_id)
    if not wants_fragment():
        return redirect(_detail_url(upload))
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
        return redirect(_detail_url(upload))
    return send_file(path, as_attachment=True, download_name=import_job.report_name(upload), mimetype="text/csv")


@bp.route("/contacts/import/<uuid:import_id>/discard", methods=["POST"])
@role_required("user")
def contact_import_discard(import_id):
    upload = get_or_404(ContactImport, import_id)
    checked_action()
    filename = upload.filename
    with flashed_refusal() as refused:
        files.discard(current_account(), upload, actor=current_user)
        flash(f"{filename} discarded: nothing was imported.", "success")
    if refused:
        return redirect_to(url_for("crm.contact_import_detail", import_id=import_id))
    return redirect_to(url_for("crm.contact_import"))
