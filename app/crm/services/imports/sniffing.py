"""What an uploaded file is and how it is read: text or not, its encoding, its delimiter, its header line.

Functions over bytes, text and open files (no database, no request): `files` uses them to store an
upload and to read it again in another encoding, the job to read the rows.

Encodings. A file is read in one encoding, the import's. Detection: UTF-16 with a byte-order mark,
UTF-8 (with or without one), else Windows-1252, else Latin-1. The last two read any bytes at all, so
for a file that is not UTF-8 they are a guess; a file may also not decode cleanly in its encoding
(UTF-8 marked but with stray bytes, or an encoding the person picked), or mix encodings (lines saved
as UTF-8 next to lines saved as Windows-1252). `Decoding` records what was found, for the preview to
warn about.
"""
import codecs
import csv
import re
from dataclasses import asdict, dataclass

from app.core.errors import ValidationError

MAX_COLUMNS = 300
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
HEAD_SIZE = 8192
REPLACEMENT = "\ufffd"  # what a byte that does not decode becomes (errors="replace")

# The encodings a person can choose for a file (Python codec name -> label), in the order offered.
ENCODINGS = {
    "utf-8": "UTF-8",
    "cp1252": "Windows-1252 (Latin-1)",
    "latin-1": "ISO-8859-1",
    "iso-8859-15": "ISO-8859-15 (Latin-9, with €)",
    "mac_roman": "Mac Roman",
    "utf-16": "UTF-16",
    "cp1250": "Windows-1250 (Central European)",
    "cp1251": "Windows-1251 (Cyrillic)",
}
# Encodings that give a character for almost every byte: reading a file in one of them always
# "works", so when detection chose one, it is a guess.
SINGLE_BYTE = frozenset({"cp1252", "latin-1", "iso-8859-15", "mac_roman", "cp1250", "cp1251"})

MAGIC_SIGNATURES = [
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls) or Word document"), (b"\x1f\x8b", "a gzip archive"),
    (b"RIFF", "a media file"), (b"\x00\x00\x01\x00", "an icon"),
]
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def refuse(message: str):
    """The file cannot be imported: a 422 on the upload's "file" field."""
    raise ValidationError(message, field="file")


# Codecs a file may be read in besides those of the list, and the entry of the list each stands for.
VARIANTS = {"utf-8-sig": "utf-8", "utf-16-le": "utf-16", "utf-16-be": "utf-16"}


def choice_of(encoding: str | None) -> str:
    """The entry of ENCODINGS that the codec a file is read in stands for ("utf-8-sig" -> "utf-8")."""
    return VARIANTS.get(encoding or "", encoding or "")


def encoding_label(encoding: str | None) -> str:
    choice = choice_of(encoding)
    return ENCODINGS.get(choice, choice)


def codec_for(choice: str, head: bytes) -> str:
    """The codec that reads a file in the encoding chosen from ENCODINGS, given its first bytes: UTF-8 skips
    a byte-order mark; UTF-16 without one is little-endian (Windows) unless its first character says not."""
    if choice == "utf-8" and head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if choice == "utf-16" and not head.startswith(UTF16_BOMS):
        return "utf-16-be" if head[:1] == b"\x00" and head[1:2] != b"\x00" else "utf-16-le"
    return choice


# ---- bytes ---------------------------------------------------------------------------------------

def binary_kind(head: bytes) -> str | None:
    """What a file that is not text looks like, or None for text."""
    for magic, kind in MAGIC_SIGNATURES:
        if head.startswith(magic):
            return kind
    if head.startswith(UTF16_BOMS):
        return None
    if b"\x00" in head:
        return "a binary file"
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 12, 13, 26))
    if head and controls > max(2, len(head) // 100):
        return "a binary file"
    return None


class EncodingSniffer:
    """Fed a file's bytes chunk by chunk (refusing what is not text); then `encoding()` names the one
    that reads it: UTF-16 (byte-order mark), UTF-8, else Windows-1252, else Latin-1."""

    def __init__(self):
        self.head = b""
        self.decoders = None

    def feed(self, chunk: bytes) -> None:
        if self.decoders is None:
            self.head = chunk[:HEAD_SIZE]
            kind = binary_kind(self.head)
            if kind:
                refuse(f"This is not a CSV file: it looks like {kind}. Save or export it as CSV "
                       "(comma-separated values) and upload that.")
            if self.head.startswith(UTF16_BOMS):
                self.decoders = {"utf-16": codecs.getincrementaldecoder("utf-16")()}
            else:
                self.decoders = {name: codecs.getincrementaldecoder(name)() for name in ("utf-8", "cp1252")}
        for name, decoder in list(self.decoders.items()):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                del self.decoders[name]

    def encoding(self) -> str:
        for name, decoder in list((self.decoders or {}).items()):
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                del self.decoders[name]
        decoders = self.decoders or {}
        if "utf-16" in decoders:
            return "utf-16"
        if self.head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"  # marked as UTF-8: read as such (a stray invalid byte becomes �)
        if "utf-8" in decoders:
            return "utf-8"
        if "cp1252" in decoders:
            return "cp1252"  # Windows "ANSI", a superset of Latin-1's printable characters
        if self.head.startswith(UTF16_BOMS):
            refuse("The file starts like UTF-16 text but is not valid UTF-16: save it as CSV UTF-8.")
        return "latin-1"


# An accented Latin letter (é, ü, ł, ő...) written in UTF-8: in a line that is not UTF-8 as a whole, a sign
# that the line mixes encodings (read as Windows-1252 it would be "Ã©", which real text hardly holds).
_UTF8_LATIN_LETTER = re.compile(rb"[\xc3-\xc5][\x80-\xbf]")


def utf8_lines(binary_handle) -> dict:
    """Of the lines holding non-ASCII bytes, those written in UTF-8 (in part or whole) and those written in
    another encoding (in part or whole), with the first line of each: a file with both mixes encodings.
    (For a file that is not UTF-8 as a whole.)"""
    found = {"utf8_lines": 0, "first_utf8_line": None, "other_lines": 0, "first_other_line": None}

    def count(kind, number):
        found[f"{kind}_lines"] += 1
        if found[f"first_{kind}_line"] is None:
            found[f"first_{kind}_line"] = number

    for number, line in enumerate(binary_handle, start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            count("other", number)
            if _UTF8_LATIN_LETTER.search(line):
                count("utf8", number)
        else:
            count("utf8", number)
    return found


@dataclass
class Decoding:
    """How a file reads in the import's encoding (stored on the import as a dict).

    bad_lines / first_bad_line: lines holding bytes that this encoding cannot read (shown and imported
    as �); utf8_lines / other_lines: for a file that is not all UTF-8, lines of each kind among those
    with non-ASCII bytes (both counted: the file mixes encodings)."""

    bad_lines: int = 0
    first_bad_line: int | None = None
    utf8_lines: int = 0
    first_utf8_line: int | None = None
    other_lines: int = 0
    first_other_line: int | None = None

    @classmethod
    def of(cls, stored: dict | None) -> "Decoding":
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in (stored or {}).items() if key in known})

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def mixed(self) -> bool:
        return bool(self.utf8_lines and self.other_lines)


# ---- text ------------------------------------------------------------------------------------------

def open_text(path, encoding: str):
    """The file as text in `encoding`; bytes it cannot read become �, as the job imports them."""
    return open(path, encoding=encoding, errors="replace", newline="")


# C1 control characters: what ISO-8859-1 makes of the bytes 0x80-0x9F, which no text means; read as
# undecodable (they would otherwise be imported as invisible characters).
_C1_CONTROLS = re.compile("[\x80-\x9f]")


class Lines:
    """The lines of an open text file for csv.reader (NUL characters dropped, C1 control characters read as
    �), counting those that hold a character that could not be decoded."""

    def __init__(self, handle):
        self.handle = handle
        self.number = 0
        self.bad_lines = 0
        self.first_bad_line = None

    def __iter__(self):
        for line in self.handle:
            self.number += 1
            if "\x00" in line:
                line = line.replace("\x00", "")
            if not line.isascii():
                line = _C1_CONTROLS.sub(REPLACEMENT, line)
                if REPLACEMENT in line:
                    self.bad_lines += 1
                    if self.first_bad_line is None:
                        self.first_bad_line = self.number
            yield line


def is_blank(row) -> bool:
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
                    if not is_blank(row)]
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


def csv_reader(handle, sample_size: int = 65536):
    """(csv.reader over the open file, its Lines, the delimiter detected from the start of the file)."""
    sample = handle.read(sample_size)
    handle.seek(0)
    delimiter = sniff_delimiter(sample, complete=len(sample) < sample_size)
    lines = Lines(handle)
    return csv.reader(lines, delimiter=delimiter), lines, delimiter


def numbered_rows(reader):
    """(line number where the row starts, row) for each non-blank row."""
    last = 0
    for row in reader:
        start, last = last + 1, reader.line_num
        if not is_blank(row):
            yield start, row


def _looks_like_data(cell: str) -> bool:
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", cell) or re.fullmatch(r"[+(]?[\d\s().,/+-]{4,}", cell))


def headers_from(row: list[str]) -> list[str]:
    """The column names of a header line (blank ones named by position, repeated ones numbered)."""
    cells = [cell.strip().lstrip("\ufeff").strip() for cell in row]
    named = [cell for cell in cells if cell]
    if not named:
        refuse("The first line is empty: it must name the columns (e.g. Email, First Name).")
    data_like = [cell for cell in named if _looks_like_data(cell)]
    if any("@" in cell for cell in data_like) or len(data_like) == len(named):
        refuse(f"The file has no header line: the first line should name the columns (e.g. Email, First Name) "
               f"but it holds data (“{data_like[0][:60]}”). Add a header line and upload the file again.")
    if len(cells) > MAX_COLUMNS:
        refuse(f"The file has {len(cells):,} columns: at most {MAX_COLUMNS} can be imported.")
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


@dataclass
class Inspection:
    headers: list[str]
    row_count: int
    delimiter: str
    bad_lines: int
    first_bad_line: int | None


def inspect(path, encoding: str) -> Inspection:
    """Headers, number of data rows, delimiter of a stored file read in `encoding`, and the lines it cannot
    decode; ValidationError on "file" when it is not a usable CSV."""
    with open_text(path, encoding) as handle:
        head = handle.read(2048).lstrip("\ufeff \t\r\n")
        handle.seek(0)
        if head[:1] in ("<", "{", "["):
            kind = "an HTML or XML document" if head[:1] == "<" else "JSON"
            refuse(f"This is not a CSV file: it looks like {kind}. Export the contacts as CSV and upload that.")
        reader, lines, delimiter = csv_reader(handle)
        try:
            header = next((row for row in reader if not is_blank(row)), None)
            if header is None:
                refuse("The file has no rows: it needs a header line naming the columns, then one line per contact.")
            headers = headers_from(header)
            count = sum(1 for row in reader if not is_blank(row))
        except csv.Error as exc:
            refuse(f"Line {reader.line_num} could not be read as CSV ({exc}). Is this really a CSV file?")
    if count == 0:
        refuse("The file has a header line but no rows below it: there is nothing to import.")
    return Inspection(headers, count, delimiter, lines.bad_lines, lines.first_bad_line)
