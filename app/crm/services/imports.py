"""CSV import of contacts.

1. `save_upload()` streams the file to instance/imports/<account_id>/, refuses what is not a CSV (binary
   files, empty files, no header line, a header without rows), and detects the encoding (UTF-8 with or
   without BOM, UTF-16 with BOM, else Windows-1252 / Latin-1) and the delimiter (, ; tab |).
2. `preview()` shows the first rows; `suggest_mapping()` pre-fills the column mapping from the mapping
   remembered for the same set of headers, else from common column names (HubSpot, Salesforce, ...).
3. `start()` checks the mapping, remembers it, and enqueues `run_import`, a tracked background job that
   reads the file in batches of BATCH_SIZE rows (one commit each), imports the good rows, and writes the
   rejected ones with their line number and reason to a report CSV.

The per-row validation is the one of `services.contacts` (same helpers, same limits, same messages), without
its per-row queries: the account's e-mails, companies, tags, members and custom fields are loaded once.
`tests/crm/test_imports.py` checks that both agree on the same input.
"""
import codecs
import csv
import hashlib
import re
import unicodedata
import uuid
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from app.core import audit, events, jobs
from app.core.db import utcnow
from app.core.errors import ConflictError, ValidationError
from app.core.formatting import size_label
from app.core.tenancy import scoped
from app.core.validation import choice_value, text_value
from app.crm.models import (
    CONTACT_SOURCES,
    Company,
    Contact,
    ContactImport,
    ImportMapping,
    Tag,
    TimelineEntry,
    contact_tags,
)
from app.crm.services import contacts, custom_fields
from app.crm.services.phones import normalize_phone
from app.extensions import db

BATCH_SIZE = 500
PREVIEW_ROWS = 5
CHUNK_SIZE = 1 << 20
MAX_COLUMNS = 300
MAX_TAGS = 20
DEFAULT_MAX_UPLOAD = 2 * 1024 ** 3  # IMPORT_MAX_BYTES; the app-wide MAX_CONTENT_LENGTH does not apply here
EXTENSIONS = (".csv", ".tsv", ".txt")
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
DUPLICATE_MODES = ("update", "skip")
IGNORE = "ignore"
NAME_TARGETS = ("first_name", "last_name", "full_name", "email", "phone")

# (target, label) of the built-in fields a column can be imported into; custom fields are "cf:<key>".
FIELD_TARGETS = [
    ("first_name", "First name"), ("last_name", "Last name"), ("full_name", "Full name (split in first and last)"),
    ("email", "E-mail"), ("phone", "Phone"), ("company", "Company (by name)"),
    ("owner", "Owner (a team member's e-mail or name)"), ("source", "Source"), ("street", "Street"),
    ("city", "City"), ("region", "State / region"), ("postal_code", "Postal code"),
    ("country", "Country"), ("tags", "Tags (comma-separated)"),
]
# Same limits and labels as services.contacts._clean.
TEXT_FIELDS = {"street": ("street", 200), "city": ("city", 100), "region": ("region", 100),
               "postal_code": ("postal code", 20)}

# Column names of common exports (compared lower-cased, without accents, spaces or punctuation).
KNOWN_COLUMNS = {
    "first_name": ["firstname", "first", "givenname", "fname", "forename", "prenom", "vorname", "nombre"],
    "last_name": ["lastname", "last", "surname", "familyname", "lname", "nom", "nachname", "apellido",
                  "apellidos"],
    "full_name": ["name", "fullname", "contactname", "contact", "nomcomplet"],
    "email": ["email", "emailaddress", "email1", "mail", "emails", "primaryemail", "workemail", "courriel",
              "businessemail", "personalemail"],
    "phone": ["phone", "phonenumber", "phone1", "telephone", "telephonenumber", "tel", "mobile", "mobilephone",
              "mobilephonenumber", "mobilenumber", "cell", "cellphone", "workphone", "homephone", "businessphone",
              "telefon", "telefono"],
    "company": ["company", "companyname", "accountname", "account", "organization", "organisation",
                "organizationname", "org", "employer", "associatedcompany", "firma", "entreprise", "societe"],
    "street": ["street", "streetaddress", "address", "address1", "addressline1", "mailingstreet", "billingstreet",
               "adresse", "strasse"],
    "city": ["city", "town", "mailingcity", "billingcity", "ville", "stadt", "ort", "ciudad"],
    "region": ["state", "region", "province", "stateregion", "stateprovince", "county", "mailingstate",
               "billingstate", "bundesland"],
    "postal_code": ["zip", "zipcode", "postalcode", "postcode", "zippostalcode", "mailingpostalcode",
                    "mailingzip", "billingpostalcode", "plz", "codepostal", "cp"],
    "country": ["country", "countryregion", "countrycode", "mailingcountry", "billingcountry", "pays", "land",
                "pais"],
    "tags": ["tags", "tag", "labels", "label", "lists", "lifecyclestage", "leadsource", "leadstatus"],
}
KNOWN_LOOKUP = {name: target for target, names in KNOWN_COLUMNS.items() for name in names}

MAGIC_SIGNATURES = [
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls) or Word document"), (b"\x1f\x8b", "a gzip archive"),
    (b"RIFF", "a media file"), (b"\x00\x00\x01\x00", "an icon"),
]
COUNTRY_ALIASES = {
    "USA": "US", "U.S.": "US", "U.S.A.": "US", "United States of America": "US", "America": "US", "UK": "GB",
    "U.K.": "GB", "Great Britain": "GB", "England": "GB", "Scotland": "GB", "Wales": "GB",
    "Northern Ireland": "GB", "Holland": "NL", "Nederland": "NL", "Deutschland": "DE", "España": "ES",
    "Italia": "IT", "Schweiz": "CH", "Suisse": "CH", "Österreich": "AT", "Belgique": "BE", "België": "BE",
    "South Korea": "KR", "Korea": "KR", "Russia": "RU", "Czech Republic": "CZ", "Czechia": "CZ", "UAE": "AE",
    "Brasil": "BR", "México": "MX", "Viet Nam": "VN", "Türkiye": "TR", "Turkey": "TR", "Ivory Coast": "CI",
}


# ---- files --------------------------------------------------------------------------------------

def imports_dir(account_id) -> Path:
    """instance/imports/<account_id>/ (IMPORTS_DIR, by default next to EXPORTS_DIR)."""
    base = current_app.config.get("IMPORTS_DIR") or Path(current_app.config["EXPORTS_DIR"]).parent / "imports"
    folder = Path(base) / str(account_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def max_upload_bytes() -> int:
    return int(current_app.config.get("IMPORT_MAX_BYTES") or DEFAULT_MAX_UPLOAD)


def _refuse(message: str):
    raise ValidationError(message, field="file")


def _clean_filename(name: str | None) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "contacts.csv"


def _binary_kind(head: bytes) -> str | None:
    """What a file that is not text looks like, or None for text."""
    for magic, kind in MAGIC_SIGNATURES:
        if head.startswith(magic):
            return kind
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    if b"\x00" in head:
        return "a binary file"
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 12, 13, 26))
    if head and controls > max(2, len(head) // 100):
        return "a binary file"
    return None


def _store(stream, path: Path) -> str:
    """Copy the upload to `path` in chunks; returns the encoding that decodes every byte of it."""
    limit = max_upload_bytes()
    size, head = 0, b""
    decoders = None
    with path.open("wb") as out:
        while True:
            chunk = stream.read(CHUNK_SIZE)
            if not chunk:
                break
            if decoders is None:
                head = chunk[:8192]
                kind = _binary_kind(head)
                if kind:
                    _refuse(f"This is not a CSV file: it looks like {kind}. Save or export it as CSV "
                            "(comma-separated values) and upload that.")
                if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
                    decoders = {"utf-16": codecs.getincrementaldecoder("utf-16")()}
                else:
                    decoders = {name: codecs.getincrementaldecoder(name)() for name in ("utf-8", "cp1252")}
            size += len(chunk)
            if size > limit:
                _refuse(f"The file is larger than {size_label(limit)}: split it in smaller files.")
            out.write(chunk)
            for name, decoder in list(decoders.items()):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    del decoders[name]
    if size == 0:
        _refuse("The file is empty: choose a CSV file with a header line and at least one row.")
    for name, decoder in list(decoders.items()):
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            del decoders[name]
    if "utf-16" in decoders:
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"  # marked as UTF-8: read as such (a stray invalid byte becomes �)
    if "utf-8" in decoders:
        return "utf-8"
    if "cp1252" in decoders:
        return "cp1252"  # Windows "ANSI", a superset of Latin-1's printable characters
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        _refuse("The file starts like UTF-16 text but is not valid UTF-16: save it as CSV UTF-8.")
    return "latin-1"


def _open(path, encoding: str):
    return open(path, encoding=encoding, errors="replace", newline="")


def _lines(handle):
    for line in handle:
        yield line.replace("\x00", "") if "\x00" in line else line


def _blank(row) -> bool:
    return not any(cell.strip() for cell in row)


def sniff_delimiter(sample: str, complete: bool = True) -> str:
    """The delimiter among , ; tab | that splits the first lines in the most columns consistently (csv.Sniffer's
    guess wins when it is as good). `complete`: the sample is the whole file (else its last line may be cut)."""
    lines = sample.splitlines(keepends=True)
    if not complete and len(lines) > 1:
        lines = lines[:-1]
    sample = "".join(lines[:50])
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None

    def score(delimiter):
        try:
            rows = [row for row in csv.reader(sample.splitlines(keepends=True), delimiter=delimiter)
                    if not _blank(row)]
        except csv.Error:
            return 0
        if not rows or len(rows[0]) < 2:
            return 0
        width = len(rows[0])
        return width * sum(1 for row in rows if len(row) == width) / len(rows)

    scores = {delimiter: score(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (scores[d], d == ","))
    if sniffed in scores and scores[sniffed] > 0 and scores[sniffed] >= scores[best]:
        return sniffed
    return best if scores[best] > 0 else ","


def _reader(handle, sample_size: int = 65536):
    """A csv.reader over the open file, with its delimiter detected from the start of the file."""
    sample = handle.read(sample_size)
    handle.seek(0)
    delimiter = sniff_delimiter(sample, complete=len(sample) < sample_size)
    return csv.reader(_lines(handle), delimiter=delimiter), delimiter


def _looks_like_data(cell: str) -> bool:
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", cell) or re.fullmatch(r"[+(]?[\d\s().,/+-]{4,}", cell))


def _headers_from(row: list[str]) -> list[str]:
    cells = [cell.strip().lstrip("\ufeff").strip() for cell in row]
    named = [cell for cell in cells if cell]
    if not named:
        _refuse("The first line is empty: it must name the columns (e.g. Email, First Name).")
    data_like = [cell for cell in named if _looks_like_data(cell)]
    if any("@" in cell for cell in data_like) or len(data_like) == len(named):
        _refuse(f"The file has no header line: the first line should name the columns (e.g. Email, First Name) "
                f"but it holds data (“{data_like[0][:60]}”). Add a header line and upload the file again.")
    if len(cells) > MAX_COLUMNS:
        _refuse(f"The file has {len(cells):,} columns: at most {MAX_COLUMNS} can be imported.")
    headers, seen = [], {}
    for index, cell in enumerate(cells):
        name = cell[:200] or f"Column {index + 1}"
        key = name.lower()
        if key in seen:
            seen[key] += 1
            name = f"{name} ({seen[key]})"
        else:
            seen[key] = 1
        headers.append(name)
    return headers


def inspect_file(path: Path, encoding: str) -> tuple[list[str], int, str]:
    """(headers, number of data rows, delimiter) of a stored upload, or ValidationError on "file"."""
    with _open(path, encoding) as handle:
        head = handle.read(2048).lstrip("\ufeff \t\r\n")
        handle.seek(0)
        if head[:1] in ("<", "{", "["):
            kind = "an HTML or XML document" if head[:1] == "<" else "JSON"
            _refuse(f"This is not a CSV file: it looks like {kind}. Export the contacts as CSV and upload that.")
        reader, delimiter = _reader(handle)
        try:
            header = next((row for row in reader if not _blank(row)), None)
            if header is None:
                _refuse("The file has no rows: it needs a header line naming the columns, then one line per contact.")
            headers = _headers_from(header)
            count = sum(1 for row in reader if not _blank(row))
        except csv.Error as exc:
            _refuse(f"Line {reader.line_num} could not be read as CSV ({exc}). Is this really a CSV file?")
    if count == 0:
        _refuse("The file has a header line but no rows below it: there is nothing to import.")
    return headers, count, delimiter


def save_upload(account, stream, filename: str | None, actor=None) -> ContactImport:
    """Store an uploaded file (any file-like object with read()) and record it; ValidationError on "file"."""
    filename = _clean_filename(filename)
    extension = Path(filename).suffix.lower()
    if extension not in EXTENSIONS:
        hint = " Save the workbook as CSV first (File → Save As → CSV UTF-8)." if extension in (
            ".xlsx", ".xls", ".xlsm", ".ods", ".numbers") else ""
        _refuse(f"Choose a CSV file (.csv): {filename} is not one.{hint}")
    upload_id = uuid.uuid4()
    path = imports_dir(account.id) / f"{upload_id}.csv"
    try:
        encoding = _store(stream, path)
        headers, count, _ = inspect_file(path, encoding)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    upload = ContactImport(id=upload_id, account_id=account.id, filename=filename, path=str(path),
                           encoding=encoding, headers=headers, row_count=count, status="uploaded",
                           created_by_id=getattr(actor, "id", None))
    db.session.add(upload)
    audit.record("contact_import.uploaded", upload, f"CSV {filename} uploaded ({count:,} rows)",
                 account=account, user=actor)
    db.session.commit()
    return upload


def file_info(upload: ContactImport) -> dict:
    """Delimiter name and whether the file is still there (for the mapping page)."""
    path = Path(upload.path)
    if not path.is_file():
        return {"available": False, "delimiter": None}
    with _open(path, upload.encoding) as handle:
        _, delimiter = _reader(handle)
    return {"available": True, "delimiter": DELIMITER_NAMES.get(delimiter, delimiter)}


def preview(upload: ContactImport, limit: int = PREVIEW_ROWS) -> list[list[str]]:
    """The first `limit` data rows, each as long as the headers."""
    path = Path(upload.path)
    if not path.is_file():
        raise ConflictError("The uploaded file is no longer available: upload it again.", field="file")
    width = len(upload.headers)
    rows = []
    with _open(path, upload.encoding) as handle:
        reader, _ = _reader(handle)
        try:
            data = (row for row in reader if not _blank(row))
            next(data, None)  # the header
            for row in data:
                rows.append((row + [""] * width)[:width])
                if len(rows) >= limit:
                    break
        except csv.Error:
            pass
    return rows


def discard(account, upload: ContactImport, actor=None) -> None:
    """Forget an upload that was not imported (its file included)."""
    if upload.status != "uploaded":
        raise ConflictError("This import has started: it can no longer be discarded.")
    Path(upload.path).unlink(missing_ok=True)
    audit.record("contact_import.discarded", upload, f"CSV {upload.filename} discarded", account=account, user=actor)
    db.session.delete(upload)
    db.session.commit()


# ---- mapping --------------------------------------------------------------------------------------

def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", text.lower())


def target_choices(account) -> list[tuple[str, str]]:
    """(value, label) of every field a column can be imported into, "ignore" first."""
    return ([(IGNORE, "Don't import")] + FIELD_TARGETS
            + [(f"cf:{field.key}", f"{field.label} (custom field)") for field in custom_fields.fields_of(account)])


def header_signature(headers: list[str]) -> str:
    """The same set of column names (any order or case) gives the same signature."""
    names = sorted({header.strip().lower() for header in headers})
    return hashlib.sha256("\x1f".join(names).encode()).hexdigest()


def auto_target(header: str, fields) -> str:
    name = _norm(header)
    for field in fields:
        if name and name in (_norm(field.key), _norm(field.label)):
            return f"cf:{field.key}"
    return KNOWN_LOOKUP.get(name, IGNORE)


def suggest_mapping(account, headers: list[str]) -> tuple[dict, bool]:
    """{header: target} for a new upload, and whether it is the mapping remembered for these headers."""
    fields = custom_fields.fields_of(account)
    valid = {value for value, _ in target_choices(account)}
    remembered = db.session.execute(scoped(ImportMapping, account).where(
        ImportMapping.header_signature == header_signature(headers))).scalar_one_or_none()
    mapping = {}
    for header in headers:
        saved = remembered.mapping.get(header.strip().lower()) if remembered is not None else None
        mapping[header] = saved if saved in valid else auto_target(header, fields)
    return mapping, remembered is not None


def parse_tag_names(raw) -> list[str]:
    """Tag names from "a, b; c" (each 1-50 characters, at most MAX_TAGS, duplicates dropped)."""
    names = []
    for part in re.split(r"[,;]", raw or ""):
        name = part.strip()
        if not name:
            continue
        if len(name) > 50:
            raise ValidationError(f"A tag name has at most 50 characters (“{name[:20]}…”).", field="tags")
        if name.lower() not in {n.lower() for n in names}:
            names.append(name)
    if len(names) > MAX_TAGS:
        raise ValidationError(f"Add at most {MAX_TAGS} tags.", field="tags")
    return names


def start(account, upload: ContactImport, mapping: dict, duplicate_mode: str, tags_text: str = "", actor=None):
    """Check the mapping, remember it for these headers, and start the import job; returns the Job.

    mapping: {header: target}; errors name the field "map_<column index>", "mapping", "duplicate_mode" or "tags"."""
    if upload.status != "uploaded":
        raise ConflictError("This import has already been started.")
    if not Path(upload.path).is_file():
        raise ConflictError("The uploaded file is no longer available: upload it again.", field="file")
    valid = {value for value, _ in target_choices(account)}
    errors, clean = {}, {}
    for index, header in enumerate(upload.headers):
        target = mapping.get(header) or IGNORE
        if target not in valid:
            errors[f"map_{index}"] = "Choose a field from the list."
        clean[header] = target
    if not errors and not any(target in NAME_TARGETS for target in clean.values()):
        errors["mapping"] = "Match at least one column to the e-mail, the phone or a name: a contact needs one."
    if duplicate_mode not in DUPLICATE_MODES:
        errors["duplicate_mode"] = "Choose what to do with contacts that exist already."
    try:
        tag_names = parse_tag_names(tags_text)
    except ValidationError as error:
        errors.update(error.fields)
    if errors:
        raise ValidationError("Check the column mapping.", fields=errors)
    # Only one request may start it (a double click, two tabs).
    claimed = db.session.execute(update(ContactImport).where(
        ContactImport.id == upload.id, ContactImport.status == "uploaded").values(status="queued")).rowcount
    if not claimed:
        db.session.rollback()
        raise ConflictError("This import has already been started.")
    _remember(account, upload.headers, clean)
    upload.mapping, upload.duplicate_mode, upload.tag_names = clean, duplicate_mode, tag_names
    audit.record("contact_import.started", upload, f"Import of {upload.filename} started ({upload.row_count:,} rows)",
                 account=account, user=actor)
    job = jobs.create_job(account, "contact_import", f"Import {upload.filename}", user=actor)  # commits
    upload.job_id = job.id
    db.session.commit()
    try:
        jobs.enqueue(run_import, upload.id, job=job)
    except Exception as exc:  # the queue is down: let the user try again later
        db.session.rollback()
        upload.status, job.state, job.error = "uploaded", "failed", f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        raise ConflictError("The import could not be queued. Try again in a minute.") from exc
    return job


def _remember(account, headers: list[str], mapping: dict) -> None:
    signature = header_signature(headers)
    stored = {header.strip().lower(): target for header, target in mapping.items()}
    row = db.session.execute(scoped(ImportMapping, account).where(
        ImportMapping.header_signature == signature)).scalar_one_or_none()
    if row is None:
        db.session.add(ImportMapping(account_id=account.id, header_signature=signature, mapping=stored))
    else:
        row.mapping = stored


# ---- the job ----------------------------------------------------------------------------------------

class RowError(Exception):
    pass


@lru_cache(maxsize=1)
def _country_names() -> dict:
    from phonenumbers.geodata.locale import LOCALE_DATA

    names = {}
    for code, by_language in LOCALE_DATA.items():
        if len(code) != 2 or not code.isalpha():
            continue
        for language in ("aa", "de", "es", "fr", "it", "nl", "pt", "sv", "pl"):  # "aa" holds the English name
            name = by_language.get(language)
            if name and not name.startswith("*"):
                names.setdefault(_norm(name), code)
    names.update({_norm(alias): code for alias, code in COUNTRY_ALIASES.items()})
    return names


def country_code(raw: str) -> str | None:
    """ISO code from "FR", "France", "United States"...; otherwise the service's validation message."""
    value = raw.strip()
    if not value:
        return None
    if len(value) != 2:
        value = _country_names().get(_norm(value), value)
    return contacts._country(value)


class Importer:
    """Runs one ContactImport: reads its file, validates and writes rows in batches, reports the rejected."""

    def __init__(self, account, upload: ContactImport, actor, job_id: str | None):
        self.account, self.upload, self.actor, self.job_id = account, upload, actor, job_id
        self.import_id, self.filename = upload.id, upload.filename
        self.headers = list(upload.headers)
        self.columns: dict[str, list[int]] = {}
        for index, header in enumerate(self.headers):
            target = (upload.mapping or {}).get(header, IGNORE)
            if target != IGNORE:
                self.columns.setdefault(target, []).append(index)
        self.update_existing = upload.duplicate_mode == "update"
        self.fields = {field.key: field for field in custom_fields.fields_of(account)}
        self.country = contacts.default_country(account)
        self.existing = dict(db.session.execute(
            select(Contact.email, Contact.id).where(Contact.account_id == account.id, Contact.deleted_at.is_(None),
                                                    Contact.email.is_not(None))).all())
        self.companies = {}
        for company_id, name in db.session.execute(
                select(Company.id, Company.name).where(Company.account_id == account.id, Company.deleted_at.is_(None))
                .order_by(Company.created_at)):
            self.companies.setdefault(name.lower(), (company_id, name))
        self.tags = {tag.name.lower(): (tag.id, tag.name) for tag in db.session.execute(
            scoped(Tag, account)).scalars()}
        from app.auth.models import Membership, User

        self.members = {}
        for user_id, email, name in db.session.execute(
                select(User.id, User.email, User.name).join(Membership, Membership.user_id == User.id)
                .where(Membership.account_id == account.id)):
            self.members[email.lower()] = user_id
            if name:
                self.members.setdefault(name.strip().lower(), user_id)
        self.seen: dict[str, int] = {}  # e-mail -> line of its first row in this file
        self._pending_tags: dict[str, tuple] = {}
        self._pending_companies: dict[str, tuple] = {}
        self.extra_tags = [self._tag(name) for name in upload.tag_names or []]
        self._flush_new_rows()
        db.session.commit()
        self._merge_pending()

    # -- lookups that create what is missing (written with the batch) --

    def _tag(self, name: str):
        key = name.lower()
        found = self.tags.get(key) or self._pending_tags.get(key)
        if found is None:
            found = (uuid.uuid4(), name)
            self._pending_tags[key] = found
        return found

    def _company(self, name: str):
        key = name.lower()
        found = self.companies.get(key) or self._pending_companies.get(key)
        if found is None:
            found = (uuid.uuid4(), name)
            self._pending_companies[key] = found
        return found

    def _flush_new_rows(self) -> None:
        now = utcnow()
        if self._pending_tags:
            db.session.execute(insert(Tag), [
                {"id": tag_id, "account_id": self.account.id, "name": name, "color": "gray", "created_at": now,
                 "updated_at": now} for tag_id, name in self._pending_tags.values()])
        if self._pending_companies:
            db.session.execute(insert(Company), [
                {"id": company_id, "account_id": self.account.id, "name": name, "created_at": now, "updated_at": now}
                for company_id, name in self._pending_companies.values()])

    @property
    def tag_names(self) -> dict:
        return {tag_id: name for tag_id, name in list(self.tags.values()) + list(self._pending_tags.values())}

    def _merge_pending(self) -> None:
        self.tags.update(self._pending_tags)
        self.companies.update(self._pending_companies)
        self._pending_tags, self._pending_companies = {}, {}

    # -- one row --

    def _cell(self, row, target) -> tuple[str, str | None]:
        """The first non-empty value of the columns mapped to `target`, and its column's name."""
        for index in self.columns.get(target, ()):
            if index < len(row):
                value = row[index].strip()
                if value:
                    return value, self.headers[index]
        return "", None

    def parse(self, row: list[str]) -> dict:
        """Validated values of one row (the rules of services.contacts), or RowError with the reasons."""
        errors: list[str] = []
        values: dict = {}

        def attempt(target, producer):
            raw, column = self._cell(row, target)
            if not raw:
                return None
            try:
                return producer(raw)
            except ValidationError as error:
                errors.append(f"{column}: {error.message}")
                return None

        for target, label in (("first_name", "first name"), ("last_name", "last name")):
            value = attempt(target, lambda raw, t=target, lab=label: text_value({t: raw}, t, lab, 80))
            if value:
                values[target] = value
        if not values.get("first_name") and not values.get("last_name"):
            full, column = self._cell(row, "full_name")
            if full:
                first, _, last = full.partition(" ")
                for name, part, label in (("first_name", first, "first name"), ("last_name", last, "last name")):
                    try:
                        part = text_value({name: part}, name, label, 80)
                    except ValidationError as error:
                        errors.append(f"{column}: {error.message}")
                        continue
                    if part:
                        values[name] = part
        from app.auth.services import normalize_email

        email = attempt("email", normalize_email)
        if email:
            values["email"] = email
        country = attempt("country", country_code)
        if country:
            values["country"] = country
        phone = attempt("phone", lambda raw: self._phone(raw, country))
        if phone:
            values["phone"] = phone
        for target, (label, size) in TEXT_FIELDS.items():
            value = attempt(target, lambda raw, t=target, lab=label, sz=size: text_value({t: raw}, t, lab, sz))
            if value:
                values[target] = value
        source = attempt("source", lambda raw: choice_value({"source": raw.lower()}, "source", "source",
                                                            CONTACT_SOURCES))
        if source:
            values["source"] = source
        company = attempt("company", lambda raw: text_value({"company": raw}, "company", "company name", 160))
        owner = attempt("owner", self._owner)
        if owner:
            values["owner_id"] = owner
        custom = {}
        for key, field in self.fields.items():
            raw, column = self._cell(row, f"cf:{key}")
            if not raw:
                continue
            try:
                value = custom_fields.clean_value(field, raw)
            except ValidationError as error:
                errors.append(f"{column}: {error.message}")
                continue
            if value is not None:
                custom[key] = value
        tag_names = []
        for index in self.columns.get("tags", ()):
            try:
                tag_names += parse_tag_names(row[index] if index < len(row) else "")
            except ValidationError as error:
                errors.append(f"{self.headers[index]}: {error.message}")
        if errors:
            raise RowError("; ".join(errors))
        if not any(values.get(name) for name in ("first_name", "last_name", "email", "phone")):
            raise RowError("Enter at least a name, an e-mail or a phone number.")
        return {"values": values, "custom": custom, "company": company, "tags": tag_names}

    def _phone(self, raw: str, country: str | None):
        if country and country != self.country:
            try:  # a number written the local way of the row's own country
                return normalize_phone(raw, country)
            except ValidationError:
                pass
        return normalize_phone(raw, self.country)

    def _owner(self, raw: str):
        user_id = self.members.get(raw.strip().lower())
        if user_id is None:
            raise ValidationError("No member of this workspace has this e-mail or name.", field="owner_id")
        return user_id

    def _missing_required(self, custom: dict) -> list[str]:
        return [f"{field.label} is required." for key, field in self.fields.items()
                if field.required and key not in custom]

    # -- a batch --

    def process_batch(self, batch: list[tuple[int, list[str]]]) -> dict:
        """Validate and write one batch (not committed); returns the counts, rejected rows and events."""
        # Updated contacts may point at companies inserted below: their UPDATEs wait for the commit.
        with db.session.no_autoflush:
            return self._process_batch(batch)

    def _process_batch(self, batch: list[tuple[int, list[str]]]) -> dict:
        now = utcnow()
        created, updates, rejected, skipped = [], [], [], 0
        batch_seen: dict[str, int] = {}
        for line, row in batch:
            try:
                parsed = self.parse(row)
            except RowError as error:
                rejected.append((line, str(error), row))
                continue
            email = parsed["values"].get("email")
            if email:
                first = self.seen.get(email) or batch_seen.get(email)
                if first is not None:
                    rejected.append((line, f"Same e-mail as line {first} of this file ({email}).", row))
                    continue
                batch_seen[email] = line
            if email and email in self.existing:
                if not self.update_existing:
                    skipped += 1
                    continue
                updates.append((line, self.existing[email], parsed))
                continue
            missing = self._missing_required(parsed["custom"])
            if missing:
                rejected.append((line, " ".join(missing), row))
                continue
            created.append(parsed)

        contact_rows, links, entries, new_ids = [], [], [], []
        for parsed in created:
            values = parsed["values"]
            contact_id = uuid.uuid4()
            company = self._company(parsed["company"]) if parsed["company"] else None
            tag_ids = list(dict.fromkeys([self._tag(name)[0] for name in parsed["tags"]]
                                         + [tag_id for tag_id, _ in self.extra_tags]))
            row = {"id": contact_id, "account_id": self.account.id, "first_name": values.get("first_name", ""),
                   "last_name": values.get("last_name", ""), "email": values.get("email"),
                   "phone": values.get("phone"), "company_id": company[0] if company else None,
                   "owner_id": values.get("owner_id"), "source": values.get("source", "import"),
                   "street": values.get("street"), "city": values.get("city"), "region": values.get("region"),
                   "postal_code": values.get("postal_code"), "country": values.get("country"),
                   "custom_fields": parsed["custom"], "deleted_at": None, "created_at": now, "updated_at": now}
            row["search_text"] = contacts.search_text_of(SimpleNamespace(
                **{k: row[k] for k in ("first_name", "last_name", "email", "phone")},
                company=SimpleNamespace(name=company[1]) if company else None))
            contact_rows.append(row)
            links += [{"contact_id": contact_id, "tag_id": tag_id} for tag_id in tag_ids]
            summary = f"Contact created (import of {self.filename})"
            if tag_ids:
                summary += ", tagged " + ", ".join(f"“{self.tag_names[tag_id]}”" for tag_id in tag_ids)
            entries.append(self._entry(contact_id, "contact.created", summary, {"import_id": str(self.import_id)}, now))
            new_ids.append(contact_id)

        updated_events, tag_events = self._apply_updates(updates, links, entries, now)
        self._flush_new_rows()
        if contact_rows:
            db.session.execute(insert(Contact), contact_rows)
        if links:
            db.session.execute(insert(contact_tags), links)
        if entries:
            db.session.execute(insert(TimelineEntry), entries)
        return {"created": len(contact_rows), "updated": len(updates), "skipped": skipped, "rejected": rejected,
                "new_ids": new_ids, "updated_events": updated_events, "tag_events": tag_events,
                "seen": batch_seen, "emails": {row["email"]: row["id"] for row in contact_rows if row["email"]}}

    def _apply_updates(self, updates, links, entries, now):
        if not updates:
            return [], []
        ids = [contact_id for _, contact_id, _ in updates]
        loaded = {contact.id: contact for contact in db.session.execute(
            select(Contact).where(Contact.id.in_(ids))).scalars()}
        had = set(db.session.execute(select(contact_tags.c.contact_id, contact_tags.c.tag_id)
                                     .where(contact_tags.c.contact_id.in_(ids))).all())
        company_names = dict(db.session.execute(select(Company.id, Company.name).where(
            Company.id.in_({c.company_id for c in loaded.values() if c.company_id}))).all())
        updated_events, tag_events = [], []
        for _, contact_id, parsed in updates:
            contact = loaded.get(contact_id)
            if contact is None:
                continue
            values = dict(parsed["values"])
            if parsed["company"]:
                company_id, company_name = self._company(parsed["company"])
                values["company_id"] = company_id
                company_names[company_id] = company_name
            if parsed["custom"]:
                values["custom_fields"] = {**(contact.custom_fields or {}), **parsed["custom"]}
            changed = [name for name, value in values.items() if getattr(contact, name) != value]
            for name in changed:
                setattr(contact, name, values[name])
            if changed:
                contact.updated_at = now
                contact.search_text = contacts.search_text_of(SimpleNamespace(
                    first_name=contact.first_name, last_name=contact.last_name, email=contact.email,
                    phone=contact.phone, company=SimpleNamespace(name=company_names[contact.company_id])
                    if contact.company_id in company_names else None))
                label = ", ".join(name.replace("_id", "").replace("_", " ") for name in changed)
                entries.append(self._entry(contact_id, "contact.updated",
                                           f"Changed {label} (import of {self.filename})",
                                           {"import_id": str(self.import_id)}, now))
                updated_events.append((contact_id, sorted(changed)))
            tags = {self._tag(name) for name in parsed["tags"]} | set(self.extra_tags)
            for tag_id, tag_name in sorted(tags, key=lambda t: t[1].lower()):
                if (contact_id, tag_id) in had:
                    continue
                had.add((contact_id, tag_id))
                links.append({"contact_id": contact_id, "tag_id": tag_id})
                entries.append(self._entry(contact_id, "tag.added", f"Tagged “{tag_name}”", {}, now,
                                           object_type="Tag", object_id=str(tag_id)))
                tag_events.append((contact_id, tag_id, tag_name))
        return updated_events, tag_events

    def _entry(self, contact_id, kind, summary, details, now, object_type="ContactImport", object_id=None) -> dict:
        return {"account_id": self.account.id, "contact_id": contact_id, "kind": kind, "summary": summary[:300],
                "details": details, "actor_id": getattr(self.actor, "id", None), "object_type": object_type,
                "object_id": object_id or str(self.import_id), "created_at": now}


def _report_path(upload: ContactImport) -> Path:
    return Path(upload.path).with_name(f"{upload.id}-report.csv")


def _open_report(upload: ContactImport, keep_rows: int):
    """The report file, ready to append after its first `keep_rows` rows (an earlier, interrupted run's)."""
    path = _report_path(upload)
    kept = []
    if keep_rows and path.is_file():
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            kept = [row for _, row in zip(range(keep_rows), reader)]
    handle = path.open("w", encoding="utf-8-sig", newline="")
    writer = csv.writer(handle)
    writer.writerow(["line", "reason"] + list(upload.headers))
    writer.writerows(kept)
    return path, handle, writer


def run_import(job_id: str | None, import_id: str) -> dict:
    """Tracked job: import the rows of a started ContactImport. Safe to run twice: a finished import is
    not run again, an interrupted one goes on after its last committed batch."""
    from app.auth.models import Account, User

    upload = db.session.get(ContactImport, uuid.UUID(str(import_id)))
    if upload is None:
        return {"message": "This import was discarded."}
    if upload.status == "finished":
        return _result(upload)
    if upload.status == "uploaded":
        return {"message": "This import was not started."}
    account = db.session.get(Account, upload.account_id)
    actor = db.session.get(User, upload.created_by_id) if upload.created_by_id else None
    upload.status = "running"
    db.session.commit()
    try:
        _run(account, upload, actor, job_id)
    except Exception:
        db.session.rollback()
        upload = db.session.get(ContactImport, uuid.UUID(str(import_id)))
        upload.status = "failed"
        db.session.commit()
        raise
    return _result(db.session.get(ContactImport, uuid.UUID(str(import_id))))


def _run(account, upload: ContactImport, actor, job_id) -> None:
    importer = Importer(account, upload, actor, job_id)
    done = upload.created_count + upload.updated_count + upload.skipped_count + upload.rejected_count
    total = max(upload.row_count, 1)
    report_path, report, writer = _open_report(upload, upload.rejected_count)
    try:
        with _open(upload.path, upload.encoding) as handle:
            reader, _ = _reader(handle)
            rows = _numbered_rows(reader)
            next(rows, None)  # the header
            for _ in range(done):  # rows of an earlier, interrupted run: already committed
                line, row = next(rows, (None, None))
                if line is None:
                    break
                try:
                    email = importer.parse(row)["values"].get("email")
                except RowError:
                    email = None
                if email:
                    importer.seen.setdefault(email, line)
            batch = []
            for item in rows:
                batch.append(item)
                if len(batch) >= BATCH_SIZE:
                    done = _commit_batch(importer, upload, batch, report, writer, done, total)
                    batch = []
            if batch:
                done = _commit_batch(importer, upload, batch, report, writer, done, total)
    finally:
        report.close()
    upload = db.session.get(ContactImport, upload.id)
    upload.status = "finished"
    if upload.rejected_count:
        upload.report_path = str(report_path)
    else:
        report_path.unlink(missing_ok=True)
    Path(upload.path).unlink(missing_ok=True)  # the rows are in the CRM (and the rejected ones in the report)
    audit.record("contact_import.finished", upload, f"Imported {upload.filename}: {_summary(upload)}",
                 account=account, user=actor, details={"created": upload.created_count, "updated": upload.updated_count,
                                                       "skipped": upload.skipped_count,
                                                       "rejected": upload.rejected_count})
    db.session.commit()


def _numbered_rows(reader):
    """(line number where the row starts, row) for each non-blank row."""
    last = 0
    for row in reader:
        start, last = last + 1, reader.line_num
        if not _blank(row):
            yield start, row


def _commit_batch(importer: Importer, upload: ContactImport, batch, report, writer, done: int, total: int) -> int:
    position = report.tell()
    for attempt in (1, 2):
        try:
            outcome = importer.process_batch(batch)
            for line, reason, row in outcome["rejected"]:
                writer.writerow([line, reason] + list(row))
            report.flush()
            db.session.execute(update(ContactImport).where(ContactImport.id == upload.id).values(
                created_count=ContactImport.created_count + outcome["created"],
                updated_count=ContactImport.updated_count + outcome["updated"],
                skipped_count=ContactImport.skipped_count + outcome["skipped"],
                rejected_count=ContactImport.rejected_count + len(outcome["rejected"]),
                updated_at=utcnow()))
            db.session.commit()
            break
        except IntegrityError:
            # Someone created a contact with one of these e-mails (or a tag) meanwhile: reload and redo once.
            db.session.rollback()
            report.seek(position)
            report.truncate()
            importer._pending_tags, importer._pending_companies = {}, {}
            if attempt == 2:
                raise
            importer.existing = dict(db.session.execute(
                select(Contact.email, Contact.id).where(Contact.account_id == importer.account.id,
                                                        Contact.deleted_at.is_(None),
                                                        Contact.email.is_not(None))).all())
            importer.tags = {tag.name.lower(): (tag.id, tag.name) for tag in db.session.execute(
                scoped(Tag, importer.account)).scalars()}
    importer._merge_pending()
    importer.seen.update(outcome["seen"])
    importer.existing.update(outcome["emails"])
    done += len(batch)
    _publish(importer, outcome)
    if importer.job_id:
        jobs.progress(importer.job_id, done * 100 // total, f"{min(done, total):,} of {total:,} rows")
    return done


def _publish(importer: Importer, outcome: dict) -> None:
    account_id, import_id = importer.account.id, importer.import_id
    for contact_id in outcome["new_ids"]:
        events.publish("contact.created", account_id=account_id, contact_id=contact_id, source="import",
                       import_id=import_id)
    for contact_id, fields in outcome["updated_events"]:
        events.publish("contact.updated", account_id=account_id, contact_id=contact_id, fields=fields,
                       source="import", import_id=import_id)
    for contact_id, tag_id, name in outcome["tag_events"]:
        events.publish("tag.added", account_id=account_id, contact_id=contact_id, tag_id=tag_id, tag=name)


def _summary(upload: ContactImport) -> str:
    return (f"{upload.created_count:,} created, {upload.updated_count:,} updated, "
            f"{upload.skipped_count:,} skipped, {upload.rejected_count:,} rejected")


def _result(upload: ContactImport) -> dict:
    result = {"message": _summary(upload) + "."}
    if upload.report_path and Path(upload.report_path).is_file():
        result.update(path=upload.report_path, name=report_name(upload))
    return result


def report_name(upload: ContactImport) -> str:
    return f"{Path(upload.filename).stem[:80]}-rejected-rows.csv"


def benchmark_import(path: str, account=None, actor=None) -> ContactImport:
    """Import a CSV file end to end as the page does (auto mapping, update duplicates): for `make bench`.

    Without an account, the first workspace (the demo one in the benchmark database)."""
    from app.auth.models import Account

    if account is None:
        account = db.session.execute(select(Account).order_by(Account.created_at).limit(1)).scalar_one()
    with open(path, "rb") as handle:
        upload = save_upload(account, handle, Path(path).name, actor)
    mapping, _ = suggest_mapping(account, upload.headers)
    mode = current_app.config["JOBS_MODE"]
    current_app.config["JOBS_MODE"] = "sync"  # run the job here, now, as a worker would
    try:
        start(account, upload, mapping, "update", "", actor)
    finally:
        current_app.config["JOBS_MODE"] = mode
    db.session.expire_all()
    return db.session.get(ContactImport, upload.id)
