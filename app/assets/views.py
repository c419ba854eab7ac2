"""The asset library (/assets): upload, browse, alt text, copy URL, delete; the builder's image picker;
the authenticated file route the builder canvas shows images from.

Everyone in the workspace sees the library; users upload, edit and delete."""
from flask import current_app, flash, jsonify, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from app.assets import bp
from app.assets import services as assets
from app.assets.models import Asset
from app.core.formatting import size_label
from app.core.forms import flashed_refusal, refusal
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404, scoped
from app.core.web import file_response, json_error, redirect_to, render, wants_fragment
from app.extensions import csrf

MAX_FILES = 20  # per upload request
PICKER_PAGE_SIZE = 12
APP_FILE_CACHE = "private, max-age=86400"  # tenant-scoped: browsers may keep it, shared caches may not


# ---- context -----------------------------------------------------------------------------------------

def _newest_first():
    return scoped(Asset).order_by(Asset.created_at.desc(), Asset.id)


def _limits() -> dict:
    return {"max_bytes": assets.max_bytes(), "max_label": size_label(assets.max_bytes()),
            "max_total": current_app.config.get("MAX_CONTENT_LENGTH") or 0,
            "max_total_label": size_label(current_app.config.get("MAX_CONTENT_LENGTH") or 0),
            "max_files": MAX_FILES, "public_url": assets.public_url}


def _library(results=None, status=200, page_number=None):
    page, size = parse_page_args(request.args)
    asset_page = paginate(_newest_first(), page_number or page, size)
    return render("assets/index.html", block="library", status=status, asset_page=asset_page,
                  results=results or [], **_limits())


def _picker(results=None, status=200, page_number=None):
    field = _field_prefix(request.values.get("field"))
    page, _ = parse_page_args(request.values)
    asset_page = paginate(_newest_first(), page_number or page, PICKER_PAGE_SIZE)
    return render("assets/picker.html", status=status, asset_page=asset_page, field=field,
                  results=results or [], display_size=assets.display_size, **_limits())


def _field_prefix(raw: str | None) -> str:
    """The input-name prefix of the builder panel: "p." from "p." or from the src input's own name "p.src".
    Short, and only characters that input names use (it goes into a CSS selector and data attributes)."""
    raw = (raw or "").strip()
    if not (len(raw) <= 60 and all(ch.isalnum() or ch in "._-[]" for ch in raw)):
        return ""
    return raw[:-3] if raw.endswith("src") else raw


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _asset_json(asset: Asset) -> dict:
    return {"id": str(asset.id), "filename": asset.filename, "content_type": asset.content_type,
            "size": asset.size, "width": asset.width, "height": asset.height, "alt": asset.alt,
            "url": assets.public_url(asset), "app_url": assets.app_url(asset)}


# ---- pages -------------------------------------------------------------------------------------------

@bp.route("/assets")
@role_required("viewer")
def index():
    return _library()


@bp.route("/assets/picker")
@role_required("viewer")
def picker():
    return _picker()


@bp.route("/assets/<uuid:asset_id>/file")
@role_required("viewer")
def file(asset_id):
    """The file on the app host (the builder's canvas and previews, the library): this workspace's only."""
    asset = get_or_404(Asset, asset_id)
    return file_response(assets.read(asset), asset.content_type, asset.checksum, APP_FILE_CACHE)


# ---- upload ------------------------------------------------------------------------------------------

def _too_large_message() -> str:
    limits = _limits()
    return (f"The upload is larger than {limits['max_total_label']} in all, so nothing was uploaded. Each image "
            f"may be up to {limits['max_label']}; upload big images a few at a time.")


def _refuse_upload(message: str, status: int, picker: bool):
    """The whole request refused (too large, too many files, no file, expired form): say so where the user
    looks. An htmx swap gets 422 (app.js swaps 422 only), a plain form post the real status."""
    if _wants_json():
        return json_error(status, message, {"files": message})
    results = [{"ok": False, "message": message}]
    status = 422 if wants_fragment() else status
    return _picker(results, status) if picker else _library(results, status)


@bp.route("/assets/upload", methods=["POST"])
@csrf.exempt  # checked below, once a too-large body can be answered with a message rather than a raw 413
@role_required("user")
def upload():
    picker = request.args.get("picker") == "1"
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length or 0) > limit:
        return _refuse_upload(_too_large_message(), 413, picker)  # answered without reading the body
    spooled = _track_spooled_files()
    try:
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        files = [item for item in request.files.getlist("files") if item and item.filename]
        picker = picker or request.form.get("picker") == "1"
    except RequestEntityTooLarge:
        for stream in spooled:  # the parser drops what it had spooled without closing it
            stream.close()
        return _refuse_upload(_too_large_message(), 413, picker)
    except CSRFError:
        return _refuse_upload("The form expired. Reload the page and upload again.", 400, picker)
    if not files:
        return _refuse_upload("Choose one or more images to upload.", 422, picker)
    if len(files) > MAX_FILES:
        return _refuse_upload(f"That is {len(files)} files: upload at most {MAX_FILES} at a time.", 422, picker)

    results = [_upload_one(item) for item in files]
    stored = [result["asset"] for result in results if result["ok"]]
    if _wants_json():
        body = {"uploaded": [_asset_json(asset) for asset in stored],
                "errors": [{"filename": r["name"], "message": r["message"]} for r in results if not r["ok"]]}
        return jsonify(body), 201 if stored else 422
    status = 200 if stored else 422
    if picker:
        return _picker(results, status, page_number=1)
    if not wants_fragment() and len(stored) == len(results):  # no error to show: Post/Redirect/Get
        for result in results:
            flash(result["message"], "success")
        return redirect_to(url_for("assets.index"))
    return _library(results, status, page_number=1)


def _track_spooled_files() -> list:
    """The temporary files the form parser opens for this request, so that they can be closed when a body
    without a length turns out too large mid-way (Werkzeug closes them only once they are in request.files)."""
    from werkzeug.formparser import default_stream_factory

    opened = []

    def stream_factory(total_content_length, content_type, filename=None, content_length=None):
        stream = default_stream_factory(total_content_length=total_content_length, content_type=content_type,
                                        filename=filename, content_length=content_length)
        opened.append(stream)
        return stream

    request._get_file_stream = stream_factory  # Werkzeug's documented hook, for this request only
    return opened


def _upload_one(file_storage) -> dict:
    original = assets.display_name(file_storage.filename)
    with refusal() as refused:
        asset = assets.upload(current_account(), file_storage, actor=current_user)
    if refused:
        return {"ok": False, "name": original, "message": refused.error.message}
    details = f"{asset.width:,} × {asset.height:,}, {size_label(asset.size)}"
    if asset.filename != original:
        message = (f"{original} is really a {asset.content_type.split('/')[1].upper()} image: "
                   f"saved as {asset.filename} ({details}).")
    else:
        message = f"{asset.filename} uploaded ({details})."
    return {"ok": True, "name": original, "message": message, "asset": asset}


# ---- alt text and delete -----------------------------------------------------------------------------

@bp.route("/assets/<uuid:asset_id>/alt", methods=["POST"])
@role_required("user")
def alt(asset_id):
    asset = get_or_404(Asset, asset_id)
    typed = request.form.get("alt", "")
    error, saved = None, False
    with refusal() as refused:
        assets.update_alt(current_account(), asset, typed, actor=current_user)
        saved = True
    if refused:
        error = refused.error.message
    if wants_fragment():
        return render("assets/_alt_form.html", status=422 if error else 200, asset=asset,
                      alt=asset.alt if saved else typed, error=error, saved=saved)
    flash(error or f"Alt text of {asset.filename} saved.", "error" if error else "success")
    return redirect_to(_back_to_library())


@bp.route("/assets/<uuid:asset_id>/delete", methods=["POST"])
@role_required("user")
def delete(asset_id):
    asset = get_or_404(Asset, asset_id)
    name = asset.filename
    with flashed_refusal():
        assets.delete(current_account(), asset, actor=current_user)
        flash(f"{name} deleted.", "success")
    return redirect_to(_back_to_library())


def _back_to_library() -> str:
    """The library page the user was on (its page number), never another site."""
    page = request.args.get("page", "")
    return url_for("assets.index", page=page) if page.isdigit() and page != "1" else url_for("assets.index")
