"""CSV import of contacts: upload and its refusals (not CSV, empty, no header), encodings and delimiters,
preview and column mapping (remembered, HubSpot and Salesforce names), the background job (batches, bad rows
reported, duplicates updated or skipped, run twice or resumed), the pages, roles and the upload limit."""
import csv
import io
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.core.models import Job
from app.crm import tasks
from app.crm.models import Company, Contact, ContactImport, ImportMapping, Tag, TimelineEntry, contact_tags
from app.crm.services import companies, contacts, custom_fields
from app.crm.services.imports import batches, files
from app.crm.services.imports import job as import_job
from app.crm.services.imports import mapping as import_mapping
from app.crm.services.imports import rows as import_rows
from app.extensions import db
from tests import factories
from tests.conftest import run_jobs
from tests.crm.conftest import HTMX

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


# ---- helpers ---------------------------------------------------------------------------------------

def csv_text(rows, delimiter=",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def upload(client, content, name="contacts.csv", extra=None):
    """POST the upload form. The multipart body is built in memory: the test client would spool a big one to a
    temporary file that it never closes."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    values = {"file": FileStorage(io.BytesIO(content), filename=name, content_type="text/csv"), **(extra or {})}
    boundary, body = encode_multipart(values)
    return client.post("/contacts/import/upload", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def uploaded(client, content, name="contacts.csv") -> ContactImport:
    response = upload(client, content, name)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    import_id = response.headers["Location"].rstrip("/").split("/")[-1]
    return db.session.get(ContactImport, import_id)


def start(client, upload_row, mapping=None, duplicate_mode="update", tags="", **extra):
    """Post the mapping form: `mapping` {header: target}; headers not given keep the suggested target."""
    suggested, _ = import_mapping.suggest_mapping(_account_of(upload_row), upload_row.headers)
    suggested.update(mapping or {})
    data = {f"map_{i}": suggested[header] for i, header in enumerate(upload_row.headers)}
    data.update(duplicate_mode=duplicate_mode, tags=tags, **extra)
    return client.post(f"/contacts/import/{upload_row.id}/start", data=data)


def _account_of(upload_row):
    from app.auth.models import Account

    return db.session.get(Account, upload_row.account_id)


def import_csv(app, client, content, name="contacts.csv", **kwargs) -> ContactImport:
    row = uploaded(client, content, name)
    response = start(client, row, **kwargs)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    run_jobs(app)
    db.session.expire_all()
    return db.session.get(ContactImport, row.id)


def live_contacts(account) -> list[Contact]:
    return list(db.session.execute(select(Contact).where(
        Contact.account_id == account.id, Contact.deleted_at.is_(None)).order_by(Contact.email)).scalars())


def report_rows(client, upload_row) -> list[dict]:
    response = client.get(f"/contacts/import/{upload_row.id}/report")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    response.close()
    return list(csv.DictReader(io.StringIO(text)))


def import_files(account) -> list[Path]:
    folder = files.imports_dir(account.id)
    return sorted(folder.iterdir())


# ---- upload: what is refused -------------------------------------------------------------------------

@pytest.mark.parametrize("content, name, message", [
    (PNG, "contacts.csv", "looks like a PNG image"),
    (PNG, "photo.png", "Choose a CSV file (.csv): photo.png is not one."),
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 200, "contacts.csv", "an Excel workbook (.xlsx)"),
    (b"PK\x03\x04\x14\x00\x06\x00", "contacts.xlsx", "Save the workbook as CSV first"),
    (bytes(range(256)) * 8, "contacts.csv", "looks like a binary file"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "export.csv", "looks like a PDF document"),
    ("<!doctype html><html><body><table><tr><td>Email</td></tr></table>", "contacts.csv", "HTML or XML"),
    ('[{"email": "ada@example.com"}]', "contacts.csv", "looks like JSON"),
    (b"", "contacts.csv", "The file is empty"),
    ("\r\n \r\n,,,\r\n", "contacts.csv", "The file has no rows"),
    ("Email,First Name\r\n", "contacts.csv", "a header line but no rows"),
    ("Email,First Name\r\n,\r\n  ,  \r\n", "contacts.csv", "a header line but no rows"),
    ("ada@example.com,Ada\r\nbob@example.com,Bob\r\n", "contacts.csv", "no header line"),
    ("+1 415 555 2671;2024\r\n+1 415 555 2672;2025\r\n", "contacts.csv", "no header line"),
], ids=["png-named-csv", "png", "xlsx-named-csv", "xlsx", "binary", "pdf", "html", "json", "empty", "blank-lines",
        "header-only", "header-and-blank-rows", "no-header-emails", "no-header-numbers"])
def test_what_is_not_a_usable_csv_is_refused_with_a_clear_message(client, signed_in, content, name, message):
    user, account = signed_in
    response = upload(client, content, name)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html.replace("&#39;", "'").replace("&amp;", "&")
    assert 'class="field import-drop' in html or 'id="upload-form"' in html
    assert db.session.execute(select(func.count()).select_from(ContactImport)).scalar_one() == 0
    assert import_files(account) == []  # nothing left on disk


def test_upload_without_a_file_is_refused(client, signed_in):
    response = client.post("/contacts/import/upload", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV file to upload." in response.get_data(as_text=True)


def test_upload_stores_the_file_and_shows_preview_and_suggested_mapping(client, signed_in):
    user, account = signed_in
    rows = [["First Name", "Last Name", "Email", "Phone Number", "Company Name", "Favourite colour"]]
    rows += [[f"Ann{i}", "Archer", f"ann{i}@example.com", f"+1 415 555 {2600 + i}", "Acme", "blue"] for i in range(8)]
    row = uploaded(client, csv_text(rows))
    assert row.status == "uploaded" and row.row_count == 8 and row.encoding == "utf-8"
    assert row.headers == rows[0]
    assert Path(row.path).is_file() and Path(row.path).parent == files.imports_dir(account.id)
    assert Path(row.path).parent.name == str(account.id)

    page = client.get(f"/contacts/import/{row.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "8 rows · 6 columns · UTF-8 · comma-separated" in html
    preview = html.split('id="preview"', 1)[1].split("</table>", 1)[0]
    assert preview.count("<tr>") == 1 + 5  # the header and the first five rows
    assert "ann4@example.com" in preview and "ann5@example.com" not in preview
    assert selected(html) == ["first_name", "last_name", "email", "phone", "company", "ignore"]
    assert "Import 8 rows" in html


def selected(html: str) -> list[str]:
    """The selected option of each map_<i> select, in column order."""
    found = {}
    for index, body in re.findall(r'<select id="map_(\d+)" name="map_\d+"[^>]*>(.*?)</select>', html, re.S):
        match = re.search(r'<option value="([^"]+)" selected>', body)
        found[int(index)] = match.group(1) if match else None
    return [found[i] for i in sorted(found)]


@pytest.mark.parametrize("delimiter, name", [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "vertical bar")])
def test_delimiter_is_detected(app, client, signed_in, delimiter, name):
    user, account = signed_in
    rows = [["Email", "First Name", "City"], ["ada@example.com", "Ada", "London, UK"],
            ["bob@example.com", "Bob", "Paris; France"]]
    row = uploaded(client, csv_text(rows, delimiter))
    assert f"{name}-separated" in client.get(f"/contacts/import/{row.id}").get_data(as_text=True)
    start(client, row)
    run_jobs(app)
    by_email = {c.email: c for c in live_contacts(account)}
    assert by_email["ada@example.com"].city == "London, UK"
    assert by_email["bob@example.com"].city == "Paris; France"


def test_latin1_file_imports_with_correct_accents(app, client, signed_in):
    user, account = signed_in
    text = "Prénom;Nom;E-mail;Ville;Société\r\nJosé;Müller;jose@example.com;Zürich;Café Crème\r\n" \
           "Zoë;O’Brien;zoe@example.com;Besançon;Café Crème\r\n"
    row = uploaded(client, text.encode("cp1252"))
    assert row.encoding == "cp1252"
    assert row.headers == ["Prénom", "Nom", "E-mail", "Ville", "Société"]
    html = client.get(f"/contacts/import/{row.id}").get_data(as_text=True)
    assert "Windows-1252 (Latin-1)" in html and "semicolon-separated" in html and "Müller" in html
    assert selected(html) == ["first_name", "last_name", "email", "city", "company"]
    start(client, row)
    run_jobs(app)
    jose, zoe = live_contacts(account)
    assert (jose.first_name, jose.last_name, jose.city) == ("José", "Müller", "Zürich")
    assert (zoe.first_name, zoe.last_name, zoe.city) == ("Zoë", "O’Brien", "Besançon")
    assert jose.company.name == "Café Crème" and zoe.company_id == jose.company_id
    assert "müller" in jose.search_text and "café crème" in jose.search_text


def test_pure_latin1_bytes_that_windows_1252_lacks_fall_back_to_latin1(client, signed_in):
    row = uploaded(client, "Email,Name\r\nx@example.com,A\x81b\r\n".encode("latin-1"))
    assert row.encoding == "latin-1"


@pytest.mark.parametrize("encoding, expected", [("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16")])
def test_utf8_with_bom_and_utf16_are_read(app, client, signed_in, encoding, expected):
    user, account = signed_in
    row = uploaded(client, "Email,First Name\r\nrené@example.com,René\r\n".encode(encoding))
    assert row.encoding == expected
    assert row.headers == ["Email", "First Name"]  # no BOM left in the first header
    start(client, row)
    run_jobs(app)
    assert [(c.email, c.first_name) for c in live_contacts(account)] == [("rené@example.com", "René")]


# ---- encodings: warned, shown as imported, chosen ---------------------------------------------------

GUESS = "This file is not UTF-8, so its encoding is a guess: it is read as Windows-1252 (Latin-1)."
MIXED = ("This file mixes encodings: UTF-8 in 1 line (the first: line 2), another encoding in 2 lines (the first: "
         "line 3).")


def page_text(response) -> str:
    return response.get_data(as_text=True).replace("&#39;", "'").replace("&amp;", "&")


def encoding_warning(html: str) -> str:
    """The text of the encoding warning of the preview ("" when there is none)."""
    match = re.search(r'<div class="alert alert-warning" role="alert" id="encoding-warning">(.*?)</div>', html, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip() if match else ""


def preview_cells(html: str, table: str = "preview") -> list[list[str]]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0].split("<tbody>", 1)[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[1:] for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def choose_encoding(client, upload_row, encoding):
    return client.post(f"/contacts/import/{upload_row.id}/encoding", data={"encoding": encoding})


def test_a_utf8_file_has_no_encoding_warning(client, signed_in):
    row = uploaded(client, "Email,First Name\r\nrene@example.com,René\r\n".encode())
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    assert encoding_warning(html) == "" and 'id="preview-samples"' not in html
    assert (row.encoding, row.detected_encoding, row.encoding_chosen) == ("utf-8", "utf-8", False)
    assert '<option selected value="utf-8">UTF-8</option>' in html  # the encoding picker shows the one read in


def test_a_windows_1252_file_is_read_as_such_with_a_warning_that_it_is_a_guess(app, client, signed_in):
    user, account = signed_in
    lines = [["Email", "First Name", "City"]] + [[f"p{i}@example.com", f"Plain{i}", "Paris"] for i in range(6)]
    lines += [["jose@example.com", "José", "Zürich"], ["zoe@example.com", "Zoë", "Besançon"]]
    row = uploaded(client, csv_text(lines).encode("cp1252"))
    assert (row.encoding, row.detected_encoding, row.encoding_chosen) == ("cp1252", "cp1252", False)
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    warning = encoding_warning(html)
    assert warning.startswith("Check the characters before you import: the encoding of this file may be wrong.")
    assert GUESS in warning and "pick the encoding the file was saved in" in warning
    # the accented rows further down are shown as they would be imported, with their line numbers
    assert preview_cells(html, "preview-samples") == [["jose@example.com", "José", "Zürich"],
                                                       ["zoe@example.com", "Zoë", "Besançon"]]
    assert re.findall(r'<td class="line-no faint">(\d+)</td>', html.split('id="preview-samples"')[1]) == ["8", "9"]
    # confirming the encoding takes the warning away; the job reads the file so
    response = choose_encoding(client, row, "cp1252")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(ContactImport, row.id).encoding_chosen
    assert encoding_warning(page_text(client.get(f"/contacts/import/{row.id}"))) == ""
    start(client, row)
    run_jobs(app)
    names = {c.email: (c.first_name, c.city) for c in live_contacts(account)}
    assert names["jose@example.com"] == ("José", "Zürich") and names["zoe@example.com"] == ("Zoë", "Besançon")


def test_picking_an_encoding_changes_the_preview_and_the_imported_names(app, client, signed_in):
    """A file saved on an old Mac: detection reads it as Windows-1252 (José becomes JosŽ); picking Mac Roman
    shows, and then imports, the right names."""
    user, account = signed_in
    content = "Email,First Name,Last Name\r\njose@example.com,José,Müller\r\n".encode("mac_roman")
    row = uploaded(client, content)
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    assert GUESS in encoding_warning(html)
    assert preview_cells(html) == [["jose@example.com", "JosŽ", "MŸller"]]
    response = choose_encoding(client, row, "mac_roman")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/contacts/import/{row.id}")
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    assert preview_cells(html) == [["jose@example.com", "José", "Müller"]]
    assert "1 row · 3 columns · Mac Roman · comma-separated" in html
    assert '<option selected value="mac_roman">Mac Roman</option>' in html
    assert "You picked it (detected: Windows-1252 (Latin-1))." in html
    assert encoding_warning(html) == ""
    start(client, row)
    run_jobs(app)
    (jose,) = live_contacts(account)
    assert (jose.first_name, jose.last_name) == ("José", "Müller")
    assert "josé müller" in jose.search_text


def test_an_encoding_in_which_the_file_does_not_decode_is_warned_about_and_shown_as_imported(app, client, signed_in):
    user, account = signed_in
    row = uploaded(client, "Email,First Name\r\nzoe@example.com,Zoë\r\nann@example.com,Ann\r\n".encode("cp1252"))
    assert choose_encoding(client, row, "utf-8").status_code == 303
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    warning = encoding_warning(html)
    assert ("1 line of this file cannot be read as UTF-8 (the first: line 2): the characters that do not decode "
            "are shown as � below, and would be imported so. Pick the encoding the file was saved in.") in warning
    assert GUESS not in warning  # the person chose it: not a guess any more
    assert ("This file reads cleanly as Windows-1252 (Latin-1)" not in warning)  # a guess is no sure detection
    assert preview_cells(html)[0] == ["zoe@example.com", "Zo�"]
    start(client, row)
    run_jobs(app)
    assert [c.first_name for c in live_contacts(account)] == ["Ann", "Zo\ufffd"]  # as the preview said


def test_a_file_that_reads_cleanly_as_utf8_warns_when_another_encoding_is_picked(client, signed_in):
    row = uploaded(client, "Email,First Name\r\nrene@example.com,René\r\n".encode())
    assert choose_encoding(client, row, "cp1252").status_code == 303
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    assert ("This file reads cleanly as UTF-8, the encoding it was saved in: read as Windows-1252 (Latin-1), its "
            "accented letters may be imported wrong (é as Ã©). Check the preview.") in encoding_warning(html)
    assert preview_cells(html) == [["rene@example.com", "RenÃ©"]]
    assert choose_encoding(client, row, "utf-8").status_code == 303  # back: the warning goes
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    assert encoding_warning(html) == "" and preview_cells(html) == [["rene@example.com", "René"]]


def test_a_file_mixing_encodings_is_warned_about(app, client, signed_in):
    user, account = signed_in
    content = (b"Email,First Name\r\n" + "jose@example.com,José\r\n".encode()
               + "zoe@example.com,Zoë\r\nbea@example.com,Béa\r\n".encode("cp1252") + b"ann@example.com,Ann\r\n")
    row = uploaded(client, content)
    assert row.encoding == "cp1252" and row.decoding["utf8_lines"] == 1 and row.decoding["other_lines"] == 2
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    warning = encoding_warning(html)
    assert MIXED in warning and "save it as “CSV UTF-8” and upload it again" in warning
    assert GUESS not in warning  # said by the mixed-encodings warning
    assert preview_cells(html)[:3] == [["jose@example.com", "JosÃ©"], ["zoe@example.com", "Zoë"],
                                       ["bea@example.com", "Béa"]]
    # read as UTF-8: the other lines do not decode, and the file still mixes encodings
    assert choose_encoding(client, row, "utf-8").status_code == 303
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    warning = encoding_warning(html)
    assert MIXED in warning and "2 lines of this file cannot be read as UTF-8 (the first: line 3)" in warning
    assert preview_cells(html)[:3] == [["jose@example.com", "José"], ["zoe@example.com", "Zo�"],
                                       ["bea@example.com", "B�a"]]
    start(client, row)
    run_jobs(app)
    names = {c.email: c.first_name for c in live_contacts(account)}
    assert names == {"jose@example.com": "José", "zoe@example.com": "Zo\ufffd", "bea@example.com": "B\ufffda",
                     "ann@example.com": "Ann"}


def test_a_line_mixing_encodings_is_seen(client, signed_in):
    content = (b"Email,First Name,City\r\n" + "jose@example.com,José,".encode() + "Zürich\r\n".encode("cp1252")
               + "zoe@example.com,Zoë,Besançon\r\n".encode("cp1252"))
    row = uploaded(client, content)
    warning = encoding_warning(page_text(client.get(f"/contacts/import/{row.id}")))
    assert ("This file mixes encodings: UTF-8 in 1 line (the first: line 2), another encoding in 2 lines (the first: "
            "line 2).") in warning


def test_bytes_that_iso_8859_1_reads_as_control_codes_are_shown_and_imported_as_undecodable(app, client, signed_in):
    """A Mac Roman file whose ç (0x8D) Windows-1252 lacks: read as ISO-8859-1, its é, ü and ç would be invisible
    control characters; they are shown (and would be imported) as �, with a warning, until Mac Roman is picked."""
    user, account = signed_in
    row = uploaded(client, "Email,First Name,City\r\njose@example.com,José,Besançon\r\n".encode("mac_roman"))
    assert row.encoding == "latin-1"
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    assert "1 line of this file cannot be read as ISO-8859-1 (the first: line 2)" in encoding_warning(html)
    assert preview_cells(html) == [["jose@example.com", "Jos�", "Besan�on"]]
    assert choose_encoding(client, row, "mac_roman").status_code == 303
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    assert encoding_warning(html) == "" and preview_cells(html) == [["jose@example.com", "José", "Besançon"]]
    start(client, row)
    run_jobs(app)
    assert [(c.first_name, c.city) for c in live_contacts(account)] == [("José", "Besançon")]


def test_a_utf16_file_is_detected_surely_and_imports_any_alphabet(app, client, signed_in):
    user, account = signed_in
    text = "Email\tFirst Name\tLast Name\r\nlukasz@example.com\tŁukasz\tBrzęczyszczykiewicz\r\n" \
           "li@example.com\t李\t小龍\r\nolga@example.com\tОльга\tИванова\r\n"
    row = uploaded(client, text.encode("utf-16"))
    assert (row.encoding, row.detected_encoding, row.row_count) == ("utf-16", "utf-16", 3)
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    assert encoding_warning(html) == "" and "3 rows · 3 columns · UTF-16 · tab-separated" in html
    assert preview_cells(html)[1] == ["li@example.com", "李", "小龍"]
    start(client, row)
    run_jobs(app)
    names = {c.email: (c.first_name, c.last_name) for c in live_contacts(account)}
    assert names == {"lukasz@example.com": ("Łukasz", "Brzęczyszczykiewicz"), "li@example.com": ("李", "小龍"),
                     "olga@example.com": ("Ольга", "Иванова")}


def test_a_utf16_file_read_as_utf8_is_warned_about(client, signed_in):
    row = uploaded(client, "Email,First Name\r\nrene@example.com,René\r\n".encode("utf-16"))
    assert choose_encoding(client, row, "utf-8").status_code == 303
    html = page_text(client.get(f"/contacts/import/{row.id}"))
    warning = encoding_warning(html)
    assert "cannot be read as UTF-8 (the first: line 1)" in warning
    assert "This file reads cleanly as UTF-16, the encoding it was saved in" in warning


@pytest.mark.parametrize("encoding", ["klingon", "", "utf-8-sig", "rot13", "utf-32", "<script>"])
def test_an_encoding_not_in_the_list_is_refused(client, signed_in, encoding):
    row = uploaded(client, "Email,First Name\r\nrene@example.com,René\r\n".encode())
    response = choose_encoding(client, row, encoding)
    assert response.status_code == 422
    html = page_text(response)
    assert 'id="encoding-error">Choose an encoding from the list (UTF-8, Windows-1252 (Latin-1),' in html
    assert "<script>" not in html.split('id="encoding-form"', 1)[1].split("</form>", 1)[0]
    db.session.expire_all()
    again = db.session.get(ContactImport, row.id)
    assert (again.encoding, again.encoding_chosen) == ("utf-8", False)


def test_an_encoding_in_which_the_file_is_no_csv_is_refused_and_changes_nothing(client, signed_in):
    row = uploaded(client, "Email,First Name\r\nrene@example.com,René\r\n".encode())
    response = choose_encoding(client, row, "utf-16")
    assert response.status_code == 422
    assert ("Read as UTF-16, this file is not a CSV that can be imported: The file has a header line but no rows"
            in page_text(response))
    db.session.expire_all()
    again = db.session.get(ContactImport, row.id)
    assert (again.encoding, again.headers, again.row_count) == ("utf-8", ["Email", "First Name"], 1)


def test_the_encoding_cannot_change_once_the_import_started(app, client, signed_in):
    user, account = signed_in
    row = uploaded(client, "Email,First Name\r\nrene@example.com,René\r\n".encode())
    start(client, row)
    response = choose_encoding(client, row, "cp1252")
    assert response.status_code == 303
    assert "its encoding can no longer change" in page_text(client.get(response.headers["Location"]))
    run_jobs(app)
    assert [c.first_name for c in live_contacts(account)] == ["René"]


def test_viewers_cannot_choose_the_encoding(client, owner, login):
    user, account = owner
    login(user, account)
    row = uploaded(client, "Email,First Name\r\nrene@example.com,René\r\n".encode())
    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    login(viewer, account)
    assert 'id="encoding-form"' not in client.get(f"/contacts/import/{row.id}").get_data(as_text=True)
    assert choose_encoding(client, row, "cp1252").status_code == 403


def test_uploads_larger_than_the_apps_request_limit_are_accepted(app, client, signed_in, monkeypatch):
    """MAX_CONTENT_LENGTH protects the other forms; imports have their own, larger limit."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    rows = [["Email"]] + [[f"person{i}@example.com"] for i in range(400)]  # about 10 KB
    row = uploaded(client, csv_text(rows))
    assert row.row_count == 400
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 4096)
    response = upload(client, csv_text(rows))
    assert response.status_code == 422
    assert "larger than" in response.get_data(as_text=True)


def test_upload_checks_the_csrf_token(app, client, signed_in, csrf_enabled):
    content = csv_text([["Email"], ["ada@example.com"]])
    assert upload(client, content).status_code == 400
    page = client.get("/contacts/import").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert upload(client, content, extra={"csrf_token": token}).status_code == 303


# ---- mapping ---------------------------------------------------------------------------------------

def test_hubspot_export_headers_are_mapped(owner):
    user, account = owner
    custom_fields.create(account, {"label": "Job Title", "field_type": "text"})
    headers = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
               "Company Name", "Lifecycle Stage", "Street Address", "City", "State/Region", "Postal Code",
               "Country/Region", "Job Title", "Create Date", "Contact owner"]
    mapping, remembered = import_mapping.suggest_mapping(account, headers)
    assert not remembered
    assert mapping == {
        "Record ID": "ignore", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
        "Phone Number": "phone", "Mobile Phone Number": "phone", "Company Name": "company",
        "Lifecycle Stage": "tags", "Street Address": "street", "City": "city", "State/Region": "region",
        "Postal Code": "postal_code", "Country/Region": "country", "Job Title": "cf:job_title",
        "Create Date": "ignore", "Contact owner": "ignore"}


def test_salesforce_export_headers_are_mapped(owner):
    user, account = owner
    custom_fields.create(account, {"label": "Lead Source", "field_type": "text"})
    headers = ["FirstName", "LastName", "Email", "Phone", "MobilePhone", "Account Name", "MailingStreet",
               "MailingCity", "MailingState", "MailingPostalCode", "MailingCountry", "Lead Source", "Title"]
    mapping, _ = import_mapping.suggest_mapping(account, headers)
    assert mapping == {
        "FirstName": "first_name", "LastName": "last_name", "Email": "email", "Phone": "phone",
        "MobilePhone": "phone", "Account Name": "company", "MailingStreet": "street", "MailingCity": "city",
        "MailingState": "region", "MailingPostalCode": "postal_code", "MailingCountry": "country",
        "Lead Source": "cf:lead_source", "Title": "ignore"}
    # without a custom field of that name, the lead source becomes a tag
    custom_fields.delete(account, custom_fields.fields_of(account)[0])
    assert import_mapping.suggest_mapping(account, headers)[0]["Lead Source"] == "tags"


def test_salesforce_file_imports_end_to_end(app, client, signed_in):
    user, account = signed_in
    rows = [["FirstName", "LastName", "Email", "Phone", "MobilePhone", "Account Name", "MailingStreet", "MailingCity",
             "MailingState", "MailingPostalCode", "MailingCountry", "Lead Source"],
            ["Ada", "Lovelace", "ADA@Example.com", "", "(415) 555-2671", "Analytical Engines", "12 St James's Sq",
             "London", "Greater London", "SW1Y 4JH", "United Kingdom", "Partner Referral"],
            ["Grace", "Hopper", "grace@example.com", "+1 212 555 0101", "+1 212 555 0199", "Navy", "", "Arlington",
             "VA", "22201", "USA", "Web"]]
    result = import_csv(app, client, csv_text(rows))
    assert (result.status, result.created_count, result.rejected_count) == ("finished", 2, 0)
    ada, grace = live_contacts(account)
    assert (ada.email, ada.phone, ada.country, ada.postal_code) == ("ada@example.com", "+14155552671", "GB", "SW1Y 4JH")
    assert ada.company.name == "Analytical Engines" and [t.name for t in ada.tags] == ["Partner Referral"]
    assert (grace.phone, grace.country, grace.region) == ("+12125550101", "US", "VA")  # the first phone wins
    assert ada.source == "import" and ada.created_at is not None


def test_mapping_is_remembered_for_the_same_headers(app, client, signed_in):
    user, account = signed_in
    first = uploaded(client, csv_text([["Mail", "Who", "Kind", "Notes"], ["ada@example.com", "Ada", "vip", "x"]]))
    assert import_mapping.suggest_mapping(account, first.headers)[0] == {
        "Mail": "email", "Who": "ignore", "Kind": "ignore", "Notes": "ignore"}
    start(client, first, {"Who": "full_name", "Kind": "tags"})
    run_jobs(app)
    assert db.session.execute(select(func.count()).select_from(ImportMapping)).scalar_one() == 1

    # same columns, another order and case: the remembered mapping comes back
    second = uploaded(client, csv_text([["notes", "KIND", "Mail", "Who"], ["y", "lead", "bob@example.com", "Bob B"]]))
    mapping, remembered = import_mapping.suggest_mapping(account, second.headers)
    assert remembered and mapping == {"notes": "ignore", "KIND": "tags", "Mail": "email", "Who": "full_name"}
    html = client.get(f"/contacts/import/{second.id}").get_data(as_text=True)
    assert "Columns matched as in your last import" in html
    assert selected(html) == ["ignore", "tags", "email", "full_name"]
    # other columns: not remembered
    third = uploaded(client, csv_text([["Mail", "Who"], ["c@example.com", "C"]]))
    assert import_mapping.suggest_mapping(account, third.headers) == ({"Mail": "email", "Who": "ignore"}, False)


def test_a_remembered_custom_field_that_was_deleted_falls_back(app, client, signed_in):
    user, account = signed_in
    field = custom_fields.create(account, {"label": "Plan", "field_type": "text"})
    first = uploaded(client, csv_text([["Email", "Tier"], ["ada@example.com", "gold"]]))
    start(client, first, {"Tier": "cf:plan"})
    run_jobs(app)
    custom_fields.delete(account, field)
    assert import_mapping.suggest_mapping(account, ["Email", "Tier"]) == ({"Email": "email", "Tier": "ignore"}, True)


@pytest.mark.parametrize("mapping, extra, field, message", [
    ({"Email": "ignore", "Name": "ignore", "City": "city"}, {}, None,
     "Match at least one column to the e-mail, the phone or a name"),
    ({"Email": "hacked"}, {}, "map_0", "Choose a field from the list."),
    ({"Email": "cf:nope"}, {}, "map_0", "Choose a field from the list."),
    ({}, {"duplicate_mode": "merge"}, None, "Choose what to do with contacts that exist already."),
    ({}, {"tags": "ok, " + "x" * 51}, None, "A tag name has at most 50 characters"),
    ({}, {"tags": ", ".join(f"t{i}" for i in range(21))}, None, "Add at most 20 tags."),
])
def test_bad_mapping_is_refused_next_to_the_field(app, client, signed_in, mapping, extra, field, message):
    row = uploaded(client, csv_text([["Email", "Name", "City"], ["ada@example.com", "Ada", "Paris"]]))
    response = start(client, row, mapping, **extra)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    if field:
        assert f'id="{field}-error"' in html
    db.session.expire_all()
    assert db.session.get(ContactImport, row.id).status == "uploaded"
    assert db.session.execute(select(func.count()).select_from(Job)).scalar_one() == 0


# ---- the job ----------------------------------------------------------------------------------------

def test_bad_rows_are_reported_and_good_rows_imported(app, client, signed_in):
    user, account = signed_in
    custom_fields.create(account, {"label": "Seats", "field_type": "number"})
    custom_fields.create(account, {"label": "Plan", "field_type": "dropdown", "options": "Free\nPro"})
    rows = [["Email", "First Name", "Last Name", "Phone", "Seats", "Plan", "Country"],
            ["good1@example.com", "Good", "One", "+1 415 555 2671", "12", "Pro", "US"],            # line 2
            ["not-an-email", "Bad", "Email", "", "", "", ""],                                     # 3
            ["bad.phone@example.com", "Bad", "Phone", "12", "", "", ""],                          # 4
            ["good1@EXAMPLE.com", "Dup", "InFile", "", "", "", ""],                               # 5
            ["seats@example.com", "Wrong", "Type", "", "a dozen", "", ""],                        # 6
            ["plan@example.com", "Wrong", "Choice", "", "", "Enterprise", ""],                    # 7
            ["", "", "", "", "3", "", ""],                                                        # 8
            ["long@example.com", "N" * 81, "", "", "", "", ""],                                   # 9
            ["country@example.com", "Far", "Away", "", "", "", "Atlantis"],                       # 10
            ["good2@example.com", "Good", "Two", "", "1,500", "Free", "France"],                  # 11
            ["", "", "", "", "", "", ""],                                                         # 12: blank, ignored
            ["two@@example.com", "Two", "Errors", "999", "", "", ""]]                             # 13
    result = import_csv(app, client, csv_text(rows))
    assert result.status == "finished" and result.row_count == 11
    assert (result.created_count, result.updated_count, result.skipped_count, result.rejected_count) == (2, 0, 0, 9)
    good1, good2 = live_contacts(account)
    assert (good1.email, good1.phone, good1.custom_fields, good1.country) == (
        "good1@example.com", "+14155552671", {"seats": 12, "plan": "Pro"}, "US")
    assert (good2.custom_fields, good2.country) == ({"seats": 1500, "plan": "Free"}, "FR")

    report = report_rows(client, result)
    assert [r["line"] for r in report] == ["3", "4", "5", "6", "7", "8", "9", "10", "13"]
    reasons = {r["line"]: r["reason"] for r in report}
    assert reasons["3"].startswith("Email: Enter a valid e-mail address")
    assert reasons["4"] == "Phone: This is not a valid phone number for its country." or \
        reasons["4"].startswith("Phone: Enter a valid phone number")
    assert reasons["5"] == "Same e-mail as line 2 of this file (good1@example.com)."
    assert reasons["6"] == "Seats: Seats must be a number."
    assert reasons["7"] == "Plan: Plan: choose one of Free, Pro."
    assert reasons["8"] == "Enter at least a name, an e-mail or a phone number."
    assert reasons["9"] == "First Name: The first name has at most 80 characters."
    assert reasons["10"] == "Country: Use the two-letter country code, e.g. US or FR."
    assert reasons["13"].startswith("Email: Enter a valid e-mail address") and "; Phone: " in reasons["13"]
    # the original columns come with each rejected row, so the report can be fixed and imported again
    assert report[0]["Email"] == "not-an-email" and report[0]["Last Name"] == "Email"
    assert list(report[0]) == ["line", "reason"] + rows[0]

    page = client.get(f"/contacts/import/{result.id}").get_data(as_text=True)
    assert "Import finished" in page and 'id="count-rejected">9<' in page and 'id="count-created">2<' in page
    assert f"/contacts/import/{result.id}/report" in page
    assert not Path(result.path).exists()  # the upload is removed once imported; the report stays


def test_import_validation_is_the_one_of_the_contact_form(owner):
    """The import's fast path and services.contacts accept and refuse the same values."""
    user, account = owner
    custom_fields.create(account, {"label": "Seats", "field_type": "number"})
    custom_fields.create(account, {"label": "Renewal", "field_type": "date"})
    upload_row = ContactImport(account_id=account.id, filename="x.csv", path="/nonexistent",
                               headers=["first_name", "last_name", "email", "phone", "street", "city", "region",
                                        "postal_code", "country", "seats", "renewal"],
                               mapping={"first_name": "first_name", "last_name": "last_name", "email": "email",
                                        "phone": "phone", "street": "street", "city": "city", "region": "region",
                                        "postal_code": "postal_code", "country": "country", "seats": "cf:seats",
                                        "renewal": "cf:renewal"})
    parser = import_rows.RowParser(account, upload_row.headers, upload_row.mapping)
    samples = [
        {"first_name": "Ann", "email": " Ann@Example.COM ", "phone": "(415) 555-2671", "country": "fr"},
        {"first_name": "A" * 80, "last_name": "B" * 81},
        {"email": "nope@", "first_name": "X"},
        {"phone": "+33 1 42 68 53 00"},
        {"phone": "555"},
        {"first_name": "Z", "street": "S" * 201},
        {"first_name": "Z", "postal_code": "P" * 21, "city": "C" * 100, "region": "R" * 101},
        {"first_name": "Z", "country": "USA1"},
        {"first_name": "Z", "seats": "3.5", "renewal": "2026-02-30"},
        {"first_name": "Z", "seats": "1,200", "renewal": "2026-12-31"},
        {"first_name": "Z", "renewal": "0001-01-01"},
        {"first_name": "Z", "renewal": "2199-12-31"},
        {"last_name": "  "},
    ]
    for sample in samples:
        data = {k: v for k, v in sample.items() if k not in ("seats", "renewal")}
        data["custom_fields"] = {k: sample[k] for k in ("seats", "renewal") if k in sample}
        try:
            expected = contacts._clean(account, data, None, partial=False)
        except Exception as error:
            expected = error
        row = [sample.get(header, "") for header in upload_row.headers]
        try:
            got = parser.parse(row)
        except import_rows.RowError as error:
            got = error
        if isinstance(expected, Exception):
            assert isinstance(got, import_rows.RowError), (sample, got)
            for message in getattr(expected, "fields", {}).values() or [expected.message]:
                assert message in str(got), (sample, message, str(got))
        else:
            assert not isinstance(got, Exception), (sample, got)
            values = {k: v for k, v in got["values"].items()}
            for key, value in expected.items():
                if key == "custom_fields":
                    assert got["custom"] == value, sample
                elif key == "source":
                    continue  # a created contact's source is "import"
                else:
                    assert values.get(key) == (value or values.get(key)), (sample, key)
                    if value in (None, ""):
                        assert not values.get(key), (sample, key)


def test_duplicates_update_mode_updates_existing_contacts(app, client, signed_in, published):
    user, account = signed_in
    existing = contacts.create(account, {"first_name": "Ann", "last_name": "Archer", "email": "ann@example.com",
                                         "city": "Paris", "tags": ["old"]}, user)
    rows = [["Email", "First Name", "Last Name", "City", "Phone", "Tags"],
            ["ANN@example.com", "Annie", "", "", "+1 415 555 2671", "webinar"],
            ["new@example.com", "Nina", "New", "Rome", "", "webinar, lead"]]
    published.clear()
    result = import_csv(app, client, csv_text(rows), duplicate_mode="update", tags="imported")
    assert (result.created_count, result.updated_count, result.skipped_count, result.rejected_count) == (1, 1, 0, 0)
    db.session.refresh(existing)
    # values of the file replace the contact's; empty cells keep what it had
    assert (existing.first_name, existing.last_name, existing.city, existing.phone) == (
        "Annie", "Archer", "Paris", "+14155552671")
    assert [t.name for t in existing.tags] == ["imported", "old", "webinar"]
    assert "annie" in existing.search_text
    new = db.session.execute(select(Contact).where(Contact.email == "new@example.com")).scalar_one()
    assert [t.name for t in new.tags] == ["imported", "lead", "webinar"] and new.source == "import"
    # one tag row per name (case-insensitive), shared by both contacts
    assert sorted(db.session.execute(select(Tag.name).where(Tag.account_id == account.id)).scalars()) == [
        "imported", "lead", "old", "webinar"]
    timeline = [e.summary for e in db.session.execute(select(TimelineEntry).where(
        TimelineEntry.contact_id == existing.id).order_by(TimelineEntry.id)).scalars()]
    assert "Changed first name, phone (import of contacts.csv)" in timeline
    assert "Tagged “webinar”" in timeline and "Tagged “imported”" in timeline
    names = [name for name, _ in published]
    assert names.count("contact.created") == 1 and names.count("contact.updated") == 1
    assert names.count("tag.added") == 2
    created = next(p for n, p in published if n == "contact.created")
    assert created == {"account_id": str(account.id), "contact_id": str(new.id), "source": "import",
                       "import_id": str(result.id)}


def test_duplicates_skip_mode_leaves_existing_contacts_alone(app, client, signed_in):
    user, account = signed_in
    existing = contacts.create(account, {"first_name": "Ann", "email": "ann@example.com"}, user)
    updated_at = existing.updated_at
    rows = [["Email", "First Name"], ["ann@example.com", "Changed"], ["new@example.com", "Nina"],
            ["Ann@Example.com", "Again"]]
    result = import_csv(app, client, csv_text(rows), duplicate_mode="skip", tags="imported")
    assert (result.created_count, result.updated_count, result.skipped_count, result.rejected_count) == (1, 0, 1, 1)
    db.session.refresh(existing)
    assert existing.first_name == "Ann" and existing.tags == [] and existing.updated_at == updated_at
    assert report_rows(client, result)[0]["reason"] == "Same e-mail as line 2 of this file (ann@example.com)."


def test_companies_tags_owner_and_full_names(app, client, signed_in):
    user, account = signed_in
    sam = factories.add_member(account, "user", email="sam@example.com", name="Sam Carter")
    acme = companies.create(account, {"name": "Acme"}, user)
    rows = [["Name", "Email", "Organisation", "Owner", "Labels"],
            ["Ada Byron Lovelace", "ada@example.com", "ACME", "sam@example.com", "vip; newsletter"],
            ["Bob", "bob@example.com", "Globex", "Sam Carter", "VIP"],
            ["Cy", "cy@example.com", "globex", "nobody@example.com", ""]]
    result = import_csv(app, client, csv_text(rows), mapping={"Owner": "owner"})
    assert (result.created_count, result.rejected_count) == (2, 1)
    ada, bob = live_contacts(account)
    assert (ada.first_name, ada.last_name) == ("Ada", "Byron Lovelace")
    assert ada.company_id == acme.id and ada.owner_id == sam.id == bob.owner_id
    assert bob.company.name == "Globex" and [t.name for t in ada.tags] == ["newsletter", "vip"]
    assert [t.name for t in bob.tags] == ["vip"]
    assert db.session.execute(select(func.count()).select_from(Company)).scalar_one() == 2  # Globex once
    assert report_rows(client, result)[0]["reason"] == "Owner: No member of this workspace has this e-mail or name."


def test_required_custom_field_missing_rejects_only_new_contacts(app, client, signed_in):
    user, account = signed_in
    contacts.create(account, {"first_name": "Old", "email": "old@example.com"}, user)
    custom_fields.create(account, {"label": "Plan", "field_type": "text", "required": True})
    rows = [["Email", "Plan"], ["old@example.com", ""], ["new@example.com", ""], ["ok@example.com", "Pro"]]
    result = import_csv(app, client, csv_text(rows))
    assert (result.created_count, result.updated_count, result.rejected_count) == (1, 1, 1)
    assert report_rows(client, result)[0]["reason"] == "Plan is required."


def test_50000_rows_import_as_a_background_job(app, client, signed_in):
    """The biggest file of the issue, end to end (upload, job in batches, result)."""
    user, account = signed_in
    rows = [["First Name", "Last Name", "Email", "Phone Number", "Company Name"]]
    rows += [[f"P{i}", "Erson", f"p{i}@example.com", f"+1 212 555 {i % 10000:04d}", f"Co {i % 40}"]
             for i in range(50_000)]
    rows[25_001][2] = "broken-email"
    content = csv_text(rows)
    began = time.monotonic()
    row = uploaded(client, content)
    assert row.row_count == 50_000
    response = start(client, row)
    assert response.status_code == 303
    assert db.session.get(ContactImport, row.id).status == "queued"  # nothing imported in the request
    assert client.get(f"/contacts/import/{row.id}/status", headers=HTMX).status_code == 204
    run_jobs(app)
    seconds = time.monotonic() - began
    db.session.expire_all()
    result = db.session.get(ContactImport, row.id)
    assert (result.status, result.created_count, result.rejected_count) == ("finished", 49_999, 1)
    assert db.session.execute(select(func.count()).select_from(Contact)).scalar_one() == 49_999
    job = db.session.get(Job, result.job_id)
    assert job.state == "finished" and job.progress == 100 and "49,999 created" in job.message
    assert report_rows(client, result)[0]["line"] == "25002"
    print(f"\n50,000-row import: {seconds:.1f} s end to end")
    assert seconds < 40


def test_10000_rows_import_in_under_30_seconds(app, client, signed_in):
    user, account = signed_in
    rows = [["First Name", "Last Name", "Email", "Phone Number", "Company Name", "Tags"]]
    rows += [[f"Imp{i}", "Orter", f"imp{i}@import.example.com", f"+1 212 555 {i % 10000:04d}", f"Import Co {i % 50}",
              "a, b"] for i in range(10_000)]
    began = time.monotonic()
    result = import_csv(app, client, csv_text(rows), tags="batch-1")
    seconds = time.monotonic() - began
    assert result.created_count == 10_000
    assert db.session.execute(select(func.count()).select_from(contact_tags)).scalar_one() == 30_000
    print(f"\n10,000-row import: {seconds:.1f} s")
    assert seconds < 30


def test_running_the_job_twice_changes_nothing(app, client, signed_in):
    user, account = signed_in
    result = import_csv(app, client, csv_text([["Email", "Tags"], ["a@example.com", "x"], ["bad", "y"]]))
    before = (result.created_count, result.rejected_count)
    assert tasks.run_import(str(result.job_id), str(result.id))["message"].startswith("1 created")
    db.session.expire_all()
    again = db.session.get(ContactImport, result.id)
    assert (again.created_count, again.rejected_count) == before
    assert db.session.execute(select(func.count()).select_from(Contact)).scalar_one() == 1
    assert db.session.execute(select(func.count()).select_from(contact_tags)).scalar_one() == 1


def test_an_interrupted_import_goes_on_after_its_last_batch(app, client, signed_in, monkeypatch):
    user, account = signed_in
    monkeypatch.setattr(import_job, "BATCH_SIZE", 10)
    rows = [["Email"]] + [[f"p{i}@example.com" if i % 7 else f"bad{i}"] for i in range(35)]
    row = uploaded(client, csv_text(rows))
    original = batches.BatchWriter.process_batch
    calls = {"n": 0}

    def crash_on_third(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker lost")
        return original(self, batch)

    monkeypatch.setattr(batches.BatchWriter, "process_batch", crash_on_third)
    start(client, row)
    run_jobs(app)  # fails on the third batch (RQ would retry it later)
    db.session.expire_all()
    failed = db.session.get(ContactImport, row.id)
    assert failed.status == "failed" and failed.created_count + failed.rejected_count == 20
    page = client.get(f"/contacts/import/{row.id}/status", headers=HTMX)
    assert page.status_code in (200, 204)

    monkeypatch.setattr(batches.BatchWriter, "process_batch", original)
    tasks.run_import(str(failed.job_id), str(row.id))  # the retry
    db.session.expire_all()
    done = db.session.get(ContactImport, row.id)
    assert (done.status, done.created_count, done.rejected_count) == ("finished", 30, 5)
    assert db.session.execute(select(func.count()).select_from(Contact)).scalar_one() == 30
    assert [r["line"] for r in report_rows(client, done)] == ["2", "9", "16", "23", "30"]


def test_a_batch_that_meets_a_contact_created_meanwhile_is_redone(app, client, signed_in, monkeypatch):
    """Someone adds a contact with an e-mail of the file after the job loaded the e-mails: the batch fails on the
    unique index, is rolled back (its new tag with it) and redone, updating that contact instead."""
    user, account = signed_in
    row = uploaded(client, csv_text([["Email", "First Name", "Tags"], ["ann@example.com", "Annie", "new-tag"],
                                     ["bob@example.com", "Bob", "new-tag"]]))
    original = batches.BatchWriter.process_batch
    calls = {"n": 0}

    def meanwhile(self, batch):
        calls["n"] += 1
        if calls["n"] == 1:
            from app.auth.models import Account

            contacts.create(db.session.get(Account, self.account_id), {"first_name": "Ann", "email": "ann@example.com"})
        return original(self, batch)

    monkeypatch.setattr(batches.BatchWriter, "process_batch", meanwhile)
    start(client, row)
    run_jobs(app)
    db.session.expire_all()
    done = db.session.get(ContactImport, row.id)
    assert calls["n"] == 2
    assert (done.status, done.created_count, done.updated_count, done.rejected_count) == ("finished", 1, 1, 0)
    ann, bob = live_contacts(account)
    assert ann.first_name == "Annie" and [t.name for t in ann.tags] == ["new-tag"] == [t.name for t in bob.tags]
    assert db.session.execute(select(func.count()).select_from(Tag)).scalar_one() == 1


@pytest.mark.parametrize("value, reason", [
    ("0001-01-01", "Renewal: Renewal must be a date between 1900 and 2199."),
    ("1899-12-31", "Renewal: Renewal must be a date between 1900 and 2199."),
    ("2200-01-01", "Renewal: Renewal must be a date between 1900 and 2199."),
    ("9999-12-31", "Renewal: Renewal must be a date between 1900 and 2199."),
    ("2026-02-30", "Renewal: Renewal must be a date (YYYY-MM-DD)."),
])
def test_custom_dates_are_read_in_the_stored_range(app, client, signed_in, value, reason):
    user, account = signed_in
    custom_fields.create(account, {"label": "Renewal", "field_type": "date"})
    result = import_csv(app, client, csv_text([["Email", "Renewal"], ["early@example.com", "1900-01-01"],
                                               ["late@example.com", "2199-12-31"], ["bad@example.com", value]]))
    assert (result.created_count, result.rejected_count) == (2, 1)
    assert report_rows(client, result)[0]["reason"] == reason
    assert [c.custom_fields for c in live_contacts(account)] == [{"renewal": "1900-01-01"}, {"renewal": "2199-12-31"}]


# ---- pages, progress, roles ----------------------------------------------------------------------------

def test_progress_then_result_on_the_page(app, client, signed_in):
    user, account = signed_in
    row = uploaded(client, csv_text([["Email"], ["a@example.com"], ["bad"]]))
    start(client, row)
    page = client.get(f"/contacts/import/{row.id}").get_data(as_text=True)
    assert "Importing…" in page and 'class="job"' in page and "hx-trigger=\"every 2s\"" in page
    assert client.get(f"/contacts/import/{row.id}/status", headers=HTMX).status_code == 204
    assert client.get(f"/contacts/import/{row.id}/status").status_code == 302  # not htmx: the page
    run_jobs(app)
    fragment = client.get(f"/contacts/import/{row.id}/status", headers=HTMX)
    assert fragment.status_code == 200
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and "Import finished" in html and "every 2s" not in html
    assert 'id="count-created">1<' in html and "Download the rejected rows" in html
    listing = client.get("/contacts/import").get_data(as_text=True)
    assert "1 created · 0 updated · 0 skipped" in listing and "1 rejected" in listing


def test_starting_twice_is_refused(app, client, signed_in):
    row = uploaded(client, csv_text([["Email"], ["a@example.com"]]))
    assert start(client, row).status_code == 303
    second = start(client, row)
    assert second.status_code == 303
    assert db.session.execute(select(func.count()).select_from(Job)).scalar_one() == 1
    run_jobs(app)
    assert db.session.execute(select(func.count()).select_from(Contact)).scalar_one() == 1


def test_report_of_an_import_without_rejected_rows_redirects(app, client, signed_in):
    result = import_csv(app, client, csv_text([["Email"], ["a@example.com"]]))
    response = client.get(f"/contacts/import/{result.id}/report")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/contacts/import/{result.id}")


def test_discard_an_upload(client, signed_in):
    user, account = signed_in
    import_id = uploaded(client, csv_text([["Email"], ["a@example.com"]])).id
    response = client.post(f"/contacts/import/{import_id}/discard")
    assert response.status_code == 303
    assert db.session.execute(select(ContactImport.id).where(ContactImport.id == import_id)).first() is None
    assert import_files(account) == []
    assert "contacts.csv discarded" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_file_gone_before_mapping_is_explained(client, signed_in):
    row = uploaded(client, csv_text([["Email"], ["a@example.com"]]))
    Path(row.path).unlink()
    html = client.get(f"/contacts/import/{row.id}").get_data(as_text=True)
    assert "The file is no longer available" in html and 'id="mapping-form"' not in html
    response = start(client, row)
    assert response.status_code == 303
    assert "no longer available" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(Job)).scalar_one() == 0


def test_empty_history_and_upload_form(client, signed_in):
    html = client.get("/contacts/import").get_data(as_text=True)
    assert "No imports yet" in html and 'enctype="multipart/form-data"' in html


def test_viewers_see_imports_but_cannot_import(app, client, owner, login):
    user, account = owner
    login(user, account)
    row = uploaded(client, csv_text([["Email"], ["a@example.com"]]))
    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    login(viewer, account)
    listing = client.get("/contacts/import")
    assert listing.status_code == 200 and "upload-form" not in listing.get_data(as_text=True)
    detail = client.get(f"/contacts/import/{row.id}").get_data(as_text=True)
    assert "mapping-form" not in detail and "Only members with the user role" in detail
    assert upload(client, csv_text([["Email"], ["b@example.com"]])).status_code == 403
    assert start(client, row).status_code == 403
    assert client.post(f"/contacts/import/{row.id}/discard").status_code == 403
    assert db.session.execute(select(func.count()).select_from(Job)).scalar_one() == 0


def test_another_workspaces_import_is_not_found(client, signed_in):
    row = uploaded(client, csv_text([["Email"], ["a@example.com"]]))
    stranger = factories.make_user("stranger@example.com")
    other = factories.make_account(stranger, "Other")
    factories.login(client, stranger, other)
    for path in ("", "/status", "/report"):
        assert client.get(f"/contacts/import/{row.id}{path}").status_code == 404
    assert start(client, row).status_code == 404
    assert client.post(f"/contacts/import/{row.id}/discard").status_code == 404
