"""The asset library: images uploaded by a workspace for its pages.

What a file is comes from its bytes (Pillow), never from its name or the browser's content type:
PNG, JPEG, GIF and WebP only (SVG can carry scripts). A name whose extension names another image
type is corrected (``logo.png`` that is a GIF is kept as ``logo.gif``); a file that is not an image
is refused whatever its name. Files go to `app.core.storage` under ``<account_id>/<uuid>.<ext>``;
published pages reference them by `public_url` on the site host, the builder canvas by `app_url`.
Reading a file (`read`) gives its bytes; the responses are the views' (app/assets/views.py, and the
site's /_assets/<key>), both through `app.core.web.file_response`.
"""
import hashlib
import io
import re
import unicodedata
import uuid
import warnings
from collections.abc import Callable
from typing import Any

from flask import current_app, has_request_context, url_for
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from app.assets.models import Asset
from app.core import audit, events
from app.core.errors import ConflictError, NotFoundError, ValidationError
from app.core.formatting import size_label
from app.core.storage import InvalidKey, check_key, get_storage
from app.extensions import db

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_SIDE = 10_000  # pixels, either side
MAX_FILENAME = 200  # Asset.filename
MAX_ALT = 300  # Asset.alt
MAX_DISPLAY_SIDE = 4000  # the largest width/height an image element accepts (app/pages/elements.py)
ACCEPTED = "PNG, JPEG, GIF or WebP"

# Pillow format -> (content type, the extension we store, extensions that honestly name it)
FORMATS = {
    "PNG": ("image/png", "png", {"png"}),
    "JPEG": ("image/jpeg", "jpg", {"jpg", "jpeg", "jpe", "jfif"}),
    "GIF": ("image/gif", "gif", {"gif"}),
    "WEBP": ("image/webp", "webp", {"webp"}),
}
FORMATS["MPO"] = FORMATS["JPEG"]  # phone cameras' multi-picture JPEGs: browsers show their first picture
# What a refused file most likely is, from its first bytes, to say so in the message.
KNOWN_OTHERS = (
    (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive or Office document"),
    (b"BM", "a BMP image"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x01\x00", "an icon (.ico) file"), (b"8BPS", "a Photoshop file"), (b"<?xml", "an XML file"),
)
IMAGE_EXTENSIONS = {ext for _, _, names in FORMATS.values() for ext in names} | {"svg", "bmp", "tif", "tiff", "heic"}
SVG_PATTERN = re.compile(rb"<svg[\s>]", re.IGNORECASE)
HTML_PATTERN = re.compile(rb"<(!doctype|html|head|body|script|iframe|div|p|a)[\s>]", re.IGNORECASE)



# ---- limits and labels -------------------------------------------------------------------------------

def max_bytes() -> int:
    return int(current_app.config.get("ASSET_MAX_BYTES") or DEFAULT_MAX_BYTES)


def display_name(raw: str | None) -> str:
    """A readable name to show: no folders, no control or invisible characters, at most 200 characters
    (the extension is kept when the name is cut)."""
    name = unicodedata.normalize("NFC", (raw or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".").strip()
    name = re.sub(r"\s+", " ", name)
    if not name:
        return "image"
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[:MAX_FILENAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def _with_extension(name: str, ext: str) -> str:
    stem, dot, old = name.rpartition(".")
    base = stem if dot and stem and len(old) <= 10 else name
    return display_name(f"{base[:MAX_FILENAME - len(ext) - 1]}.{ext}")


def clean_alt(alt) -> str:
    if alt is None:
        return ""
    if not isinstance(alt, str):
        raise ValidationError("The alt text must be text.", field="alt")
    alt = re.sub(r"\s+", " ", "".join(ch for ch in alt if ch.isprintable() or ch.isspace())).strip()
    if len(alt) > MAX_ALT:
        raise ValidationError(f"The alt text has at most {MAX_ALT} characters (this one has {len(alt):,}).",
                              field="alt")
    return alt


def display_size(asset: Asset) -> tuple[int, int]:
    """Width and height for an image element: the natural size, scaled down to fit the element's limit."""
    width, height = asset.width or 0, asset.height or 0
    largest = max(width, height)
    if largest > MAX_DISPLAY_SIDE:
        width, height = round(width * MAX_DISPLAY_SIDE / largest), round(height * MAX_DISPLAY_SIDE / largest)
    return width, height


# ---- reading and checking an upload ------------------------------------------------------------------

def _refuse(name: str, message: str):
    raise ValidationError(f"{name}: {message}", field="file")


def _read_limited(file_storage, name: str) -> bytes:
    """At most the limit + 1 bytes: a 50 MB upload is refused after 10 MB, never read whole."""
    limit = max_bytes()
    data = file_storage.stream.read(limit + 1)
    if len(data) > limit:
        _refuse(name, f"the file is larger than {size_label(limit)}, the limit for an image. "
                      "Make it smaller (e.g. export it as a JPEG or WebP at a lower size) and upload it again.")
    if not data:
        _refuse(name, "the file is empty.")
    return data


def _not_an_image(name: str, data: bytes):
    """Refuse a file Pillow does not read as an accepted image, saying what it seems to be."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if SVG_PATTERN.search(head) and not re.search(rb"<(html|body)[\s>]", head, re.IGNORECASE):
        _refuse(name, "SVG images are not accepted because they can contain scripts. Export it as PNG or WebP.")
    kind = next((label for magic, label in KNOWN_OTHERS if head.startswith(magic)), None)
    if kind is None and HTML_PATTERN.search(head):
        kind = "a web page (HTML)"
    if kind and kind.endswith("image"):
        _refuse(name, f"this is {kind}; only {ACCEPTED.replace(' or ', ' and ')} images are accepted. "
                      "Export it as PNG or JPEG.")
    what = f"this is {kind}, not an image" if kind else "this is not an image"
    ext = _extension(name)
    lie = f", although its name ends in .{ext}" if ext in IMAGE_EXTENSIONS else ""
    _refuse(name, f"{what} ({ACCEPTED}){lie}.")


def inspect_image(data: bytes, name: str) -> tuple[str, int, int]:
    """(Pillow format, width, height) of an accepted image; ValidationError naming the file otherwise."""
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that: both are refused.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG", "JPEG", "GIF", "WEBP"]) as image:
                fmt, (width, height) = image.format, image.size
                if fmt not in FORMATS:
                    _refuse(name, f"{fmt} images are not accepted; upload a {ACCEPTED} image.")
                if width > MAX_SIDE or height > MAX_SIDE:
                    _refuse(name, f"the image is {width:,} × {height:,} pixels; the largest accepted is "
                                  f"{MAX_SIDE:,} pixels a side. Resize it and upload it again.")
                image.verify()  # checks the structure (and PNG checksums) without decoding every pixel
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        _refuse(name, f"the image has too many pixels to be processed safely (at most "
                      f"{Image.MAX_IMAGE_PIXELS / 1e6:,.0f} million). Resize it and upload it again.")
    except UnidentifiedImageError:
        _not_an_image(name, data)
    except Exception:  # Pillow raises many kinds (SyntaxError, OSError, struct.error...) for broken files
        _refuse(name, "the image is damaged or incomplete. Open it in an image editor, export it again and retry.")
    if not width or not height:
        _refuse(name, "the image has no pixels.")
    return fmt, width, height


# ---- the service -------------------------------------------------------------------------------------

def upload(account, file_storage, actor=None, alt: str = "") -> Asset:
    """Check, store and record one uploaded image (a werkzeug FileStorage or anything with `.stream`
    and `.filename`). ValidationError (field "file", message starting with the file's name) when the
    file is empty, too large, not an accepted image, or too large in pixels."""
    name = display_name(getattr(file_storage, "filename", None))
    alt = clean_alt(alt)
    data = _read_limited(file_storage, name)
    fmt, width, height = inspect_image(data, name)
    content_type, ext, honest = FORMATS[fmt]
    if _extension(name) not in honest:
        name = _with_extension(name, ext)  # a .png that is a GIF is kept, as .gif
    key = f"{account.id}/{uuid.uuid4().hex}.{ext}"
    storage = get_storage()
    storage.save(key, data)
    try:
        asset = Asset(account_id=account.id, filename=name, content_type=content_type, size=len(data),
                      width=width, height=height, storage_key=key, checksum=hashlib.sha256(data).hexdigest(),
                      alt=alt, created_by_id=getattr(actor, "id", None))
        db.session.add(asset)
        db.session.flush()
        audit.record("asset.uploaded", asset, f"Image “{name}” uploaded", account=account, user=actor,
                     details={"size": len(data), "content_type": content_type, "width": width, "height": height})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        storage.delete(key)  # no file without its row
        raise
    events.publish("asset.uploaded", account_id=account.id, asset_id=asset.id, filename=name,
                   content_type=content_type, size=len(data))
    return asset


def update_alt(account, asset: Asset, alt, actor=None) -> Asset:
    alt = clean_alt(alt)
    if alt != asset.alt:
        asset.alt = alt
        audit.record("asset.alt_changed", asset, f"Alt text of “{asset.filename}” changed", account=account,
                     user=actor)
        db.session.commit()
    return asset


# ---- where an image is used --------------------------------------------------------------------------
#
# The domains that put images on what they show (funnel pages today, products later) each register a
# check, so that an image in use is never deleted from under them; this module knows none of them.

UsageCheck = Callable[[Any, Asset], str | None]
_usage_checks: list[UsageCheck] = []


def usage_check(check: UsageCheck) -> UsageCheck:
    """Register `check(account, asset)`: None when the domain does not use the image, else a sentence that
    names where it is used and what to do (it is shown as the refusal of a delete). A decorator."""
    if check not in _usage_checks:
        _usage_checks.append(check)
    return check


def where_used(account, asset: Asset) -> list[str]:
    """What every registered check says about the image (empty when nothing uses it)."""
    return [found for found in (check(account, asset) for check in _usage_checks) if found]


def delete(account, asset: Asset, actor=None) -> None:
    """Delete the file and its row. Refused (ConflictError) while something uses it (a page, through the
    checks registered with `usage_check`), so that no published page is left with a broken image: the
    message names the places."""
    used = where_used(account, asset)
    if used:
        raise ConflictError(" ".join(used), field="asset")
    key, name = asset.storage_key, asset.filename
    audit.record("asset.deleted", asset, f"Image “{name}” deleted", account=account, user=actor,
                 details={"storage_key": key})
    db.session.delete(asset)
    db.session.commit()
    get_storage().delete(key)
    events.publish("asset.deleted", account_id=account.id, asset_id=asset.id, filename=name)


# ---- addresses and files ----------------------------------------------------------------------------

def public_url(asset: Asset) -> str:
    """The address published pages and social tags use: SITE_URL/_assets/<storage_key> (site host)."""
    return current_app.config["SITE_URL"].rstrip("/") + "/_assets/" + asset.storage_key


def app_url(asset: Asset) -> str:
    """The app host's address of the file, for the builder canvas (logged in, this workspace only)."""
    if has_request_context():
        return url_for("assets.file", asset_id=asset.id)
    return f"/assets/{asset.id}/file"  # e.g. rendering in a background job: the same path


def by_key(storage_key: str) -> Asset:
    """The asset stored under this key (the site's /_assets/<key>); NotFoundError for an unknown or
    malformed key."""
    try:
        check_key(storage_key)
    except InvalidKey:
        raise NotFoundError("No such image.") from None
    asset = db.session.execute(select(Asset).where(Asset.storage_key == storage_key)).scalar_one_or_none()
    if asset is None:
        raise NotFoundError("No such image.")
    return asset


def read(asset: Asset) -> bytes:
    """The file's bytes; NotFoundError when the file is missing from storage (a 404, not a 500)."""
    try:
        return get_storage().open(asset.storage_key)
    except (FileNotFoundError, InvalidKey):
        raise NotFoundError("This image's file is missing.") from None
