"""Uploaded files: stored, checked, read again in the encoding the person picks, previewed, discarded.

`save_upload()` streams the file to instance/imports/<account_id>/ (IMPORTS_DIR), refuses what is not
a CSV (binary files, empty files, no header line, a header without rows) and records a ContactImport
with the detected encoding and delimiter, its headers and row count, and how it decodes
(`sniffing.Decoding`). The preview warns when that reading is a guess or is not clean
(`encoding_warnings`); `change_encoding()` reads the file again in another encoding, which the job
then uses.
"""
import csv
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from app.core import audit
from app.core.errors import ConflictError, ValidationError
from app.core.formatting import size_label
from app.crm.models import ContactImport
from app.crm.services.imports import sniffing
from app.crm.services.imports.sniffing import ENCODINGS, SINGLE_BYTE, Decoding, encoding_label
from app.extensions import db

CHUNK_SIZE = 1 << 20
DEFAULT_MAX_UPLOAD = 2 * 1024 ** 3  # IMPORT_MAX_BYTES; the app-wide MAX_CONTENT_LENGTH does not apply here
EXTENSIONS = (".csv", ".tsv", ".txt")
PREVIEW_ROWS = 5
SAMPLE_ROWS = 5  # rows with accented (or unreadable) characters shown when the encoding needs checking
SAMPLE_SCAN_ROWS = 50_000
FILE_GONE = "The uploaded file is no longer available: upload it again."
SURE_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16")  # detected only when every byte decodes


def imports_dir(account_id) -> Path:
    """instance/imports/<account_id>/ (IMPORTS_DIR, by default next to EXPORTS_DIR)."""
    base = current_app.config.get("IMPORTS_DIR") or Path(current_app.config["EXPORTS_DIR"]).parent / "imports"
    folder = Path(base) / str(account_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def max_upload_bytes() -> int:
    return int(current_app.config.get("IMPORT_MAX_BYTES") or DEFAULT_MAX_UPLOAD)


def open_upload(upload: ContactImport):
    """The stored file as text in the import's encoding, as the job reads it."""
    return sniffing.open_text(upload.path, upload.encoding)


def _clean_filename(name: str | None) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "contacts.csv"


def _store(stream, path: Path) -> str:
    """Copy the upload to `path` in chunks; returns the encoding detected from its bytes."""
    limit = max_upload_bytes()
    size = 0
    sniffer = sniffing.EncodingSniffer()
    with path.open("wb") as out:
        while True:
            chunk = stream.read(CHUNK_SIZE)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                sniffing.refuse(f"The file is larger than {size_label(limit)}: split it in smaller files.")
            sniffer.feed(chunk)
            out.write(chunk)
    if size == 0:
        sniffing.refuse("The file is empty: choose a CSV file with a header line and at least one row.")
    return sniffer.encoding()


def _decoding(path: Path, encoding: str, inspection: sniffing.Inspection) -> Decoding:
    """How the file reads in `encoding`; for a file that is not all UTF-8, which of its lines are."""
    decoding = Decoding(bad_lines=inspection.bad_lines, first_bad_line=inspection.first_bad_line)
    if encoding in SINGLE_BYTE or (encoding == "utf-8-sig" and inspection.bad_lines):
        with path.open("rb") as handle:
            for name, value in sniffing.utf8_lines(handle).items():
                setattr(decoding, name, value)
    return decoding


def save_upload(account, stream, filename: str | None, actor=None) -> ContactImport:
    """Store an uploaded file (any file-like object with read()) and record it; ValidationError on "file"
    (and nothing left on disk) when it cannot be imported."""
    filename = _clean_filename(filename)
    extension = Path(filename).suffix.lower()
    if extension not in EXTENSIONS:
        hint = " Save the workbook as CSV first (File → Save As → CSV UTF-8)." if extension in (
            ".xlsx", ".xls", ".xlsm", ".ods", ".numbers") else ""
        sniffing.refuse(f"Choose a CSV file (.csv): {filename} is not one.{hint}")
    upload_id = uuid.uuid4()
    path = imports_dir(account.id) / f"{upload_id}.csv"
    try:
        encoding = _store(stream, path)
        inspection = sniffing.inspect(path, encoding)
        decoding = _decoding(path, encoding, inspection)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    upload = ContactImport(id=upload_id, account_id=account.id, filename=filename, path=str(path),
                           encoding=encoding, detected_encoding=encoding, decoding=decoding.as_dict(),
                           headers=inspection.headers, row_count=inspection.row_count, status="uploaded",
                           created_by_id=getattr(actor, "id", None))
    db.session.add(upload)
    audit.record("contact_import.uploaded", upload, f"CSV {filename} uploaded ({inspection.row_count:,} rows)",
                 account=account, user=actor)
    db.session.commit()
    return upload


def change_encoding(account, upload: ContactImport, choice: str, actor=None) -> ContactImport:
    """Read the file again in the encoding the person chose (a key of ENCODINGS): its headers, row count and
    how it decodes, for the preview and then the job. ValidationError on "encoding" for a name that is not
    in the list, or when the file read so is not a usable CSV (nothing changes then); ConflictError once the
    import started or when the file is gone."""
    if upload.status != "uploaded":
        raise ConflictError("This import has started: its encoding can no longer change.")
    if choice not in ENCODINGS:
        raise ValidationError(f"Choose an encoding from the list ({', '.join(ENCODINGS.values())}).",
                              field="encoding")
    path = Path(upload.path)
    if not path.is_file():
        raise ConflictError(FILE_GONE, field="file")
    with path.open("rb") as handle:
        codec = sniffing.codec_for(choice, handle.read(sniffing.HEAD_SIZE))
    try:
        inspection = sniffing.inspect(path, codec)
    except ValidationError as error:
        raise ValidationError(f"Read as {ENCODINGS[choice]}, this file is not a CSV that can be imported: "
                              f"{error.message}", field="encoding") from None
    decoding = Decoding.of(upload.decoding)  # which lines are UTF-8 is a fact of the bytes: kept
    decoding.bad_lines, decoding.first_bad_line = inspection.bad_lines, inspection.first_bad_line
    upload.encoding, upload.encoding_chosen, upload.decoding = codec, True, decoding.as_dict()
    upload.headers, upload.row_count = inspection.headers, inspection.row_count
    audit.record("contact_import.encoding_chosen", upload, f"CSV {upload.filename} read as {ENCODINGS[choice]}",
                 account=account, user=actor)
    db.session.commit()
    return upload


def _lines(count: int) -> str:
    return f"{count:,} line" + ("" if count == 1 else "s")


def encoding_warnings(upload: ContactImport) -> list[str]:
    """What the person should check before importing, about the encoding the file is read in."""
    decoding = Decoding.of(upload.decoding)
    label = encoding_label(upload.encoding)
    warnings = []
    if decoding.mixed:
        warnings.append(
            f"This file mixes encodings: UTF-8 in {_lines(decoding.utf8_lines)} (the first: line "
            f"{decoding.first_utf8_line}), another encoding in {_lines(decoding.other_lines)} (the first: line "
            f"{decoding.first_other_line}). Whichever encoding you pick, the accented letters of some lines will "
            "be imported wrong. Best: open the file in your spreadsheet, save it as “CSV UTF-8” and upload it again.")
    if decoding.bad_lines:
        warnings.append(
            f"{_lines(decoding.bad_lines).capitalize()} of this file cannot be read as {label} (the first: line "
            f"{decoding.first_bad_line}): the characters that do not decode are shown as � below, and would be "
            "imported so. Pick the encoding the file was saved in.")
    elif upload.encoding in SINGLE_BYTE and not upload.encoding_chosen and not decoding.mixed:
        warnings.append(
            f"This file is not UTF-8, so its encoding is a guess: it is read as {label}. Check the accented "
            "letters below (é, ü, ñ…): if they look wrong, pick the encoding the file was saved in.")
    detected = upload.detected_encoding
    if upload.encoding_chosen and detected in SURE_ENCODINGS and encoding_label(detected) != label:
        warnings.append(
            f"This file reads cleanly as {encoding_label(detected)}, the encoding it was saved in: read as "
            f"{label}, its accented letters may be imported wrong (é as Ã©). Check the preview.")
    return warnings


def file_info(upload: ContactImport) -> dict:
    """For the preview: whether the file is still there, its delimiter, encoding and the warnings about it."""
    info = {"available": False, "delimiter": None, "encoding": encoding_label(upload.encoding),
            "detected": encoding_label(upload.detected_encoding) if upload.detected_encoding else None,
            "chosen": upload.encoding_chosen, "warnings": encoding_warnings(upload)}
    path = Path(upload.path)
    if not path.is_file():
        return info
    with open_upload(upload) as handle:
        _, _, delimiter = sniffing.csv_reader(handle)
    info.update(available=True, delimiter=sniffing.DELIMITER_NAMES.get(delimiter, delimiter))
    return info


@dataclass
class Preview:
    rows: list = field(default_factory=list)  # the first data rows, each as long as the headers
    samples: list = field(default_factory=list)  # (line, row) of later rows with accented or unreadable characters


def preview(upload: ContactImport, limit: int = PREVIEW_ROWS, samples: bool = False) -> Preview:
    """The first `limit` data rows as the job would import them; with `samples`, also up to SAMPLE_ROWS later
    rows holding characters outside ASCII (unreadable ones first), to check the encoding on."""
    path = Path(upload.path)
    if not path.is_file():
        raise ConflictError(FILE_GONE, field="file")
    width = len(upload.headers)
    found = Preview()
    unreadable, accented = [], []
    with open_upload(upload) as handle:
        reader, _, _ = sniffing.csv_reader(handle)
        try:
            rows = sniffing.numbered_rows(reader)
            next(rows, None)  # the header
            for count, (line, row) in enumerate(rows, start=1):
                row = (row + [""] * width)[:width]
                if count <= limit:
                    found.rows.append(row)
                    continue
                if not samples or count > SAMPLE_SCAN_ROWS or len(accented) >= SAMPLE_ROWS:
                    break
                text = "".join(row)
                if sniffing.REPLACEMENT in text:
                    if len(unreadable) < SAMPLE_ROWS:
                        unreadable.append((line, row))
                elif not text.isascii():
                    accented.append((line, row))
        except csv.Error:
            pass  # a broken line further down: the job reports it
    found.samples = sorted((unreadable[:3] + accented)[:SAMPLE_ROWS], key=lambda item: item[0])
    return found


def discard(account, upload: ContactImport, actor=None) -> None:
    """Forget an upload that was not imported (its file included)."""
    if upload.status != "uploaded":
        raise ConflictError("This import has started: it can no longer be discarded.")
    Path(upload.path).unlink(missing_ok=True)
    audit.record("contact_import.discarded", upload, f"CSV {upload.filename} discarded", account=account, user=actor)
    db.session.delete(upload)
    db.session.commit()
