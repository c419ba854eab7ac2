"""Notes on contact, company and deal pages, one panel for the three: add, edit (author or admin), delete;
bad text refused; newest first, in pages of ten."""
from datetime import timedelta

import pytest

from app.core.db import utcnow
from app.crm.models import Note
from app.crm.services import notes
from app.extensions import db
from tests import factories
from tests.crm.conftest import HTMX
from tests.factories import make_company, make_contact, make_deal


@pytest.fixture(params=["contact", "company", "deal"])
def record(request, owner):
    """(page, where its notes are edited, the record) of each kind of record with notes."""
    user, account = owner
    if request.param == "contact":
        contact = make_contact(account, user)
        return f"/contacts/{contact.id}", f"/contacts/{contact.id}/notes", contact
    if request.param == "company":
        company = make_company(account, "Noted Co", user)
        return f"/companies/{company.id}", "/companies/notes", company
    deal = make_deal(account, title="Noted deal", value="10", user=user)
    return f"/deals/{deal.id}", "/deals/notes", deal


def edit_url(notes_path: str, note) -> str:
    """Contacts' notes are edited at …/notes/<id>; companies' and deals' at …/notes/<id>/edit."""
    return f"{notes_path}/{note.id}" if notes_path.startswith("/contacts/") else f"{notes_path}/{note.id}/edit"


def test_add_edit_and_delete_a_note(client, owner, login, record):
    user, account = owner
    page, notes_path, _ = record
    login(user, account)
    added = client.post(f"{page}/notes", data={"body": "First call went well."}, headers=HTMX)
    assert added.status_code == 200 and "First call went well." in added.text
    note_id = db.session.query(Note.id).scalar()
    note = db.session.get(Note, note_id)
    edited = client.post(edit_url(notes_path, note), data={"body": "Second call <script>x()</script>went well."},
                         headers=HTMX)
    assert edited.status_code == 200 and "Second call" in edited.text
    body = db.session.get(Note, note.id).body_html
    assert "Second call" in body and "<script" not in body
    too_long = client.post(edit_url(notes_path, note), data={"body": "x" * 10_001}, headers=HTMX)
    assert too_long.status_code == 422 and "10,000" in too_long.text and "xxxxxxxxxx" in too_long.text  # draft kept
    assert "Second call" in db.session.get(Note, note.id).body_html
    assert client.post(f"{notes_path}/{note_id}/delete").status_code in (302, 303)
    assert db.session.get(Note, note_id) is None


def test_only_the_author_or_an_admin_edits(client, owner, login, record):
    user, account = owner
    page, notes_path, _ = record
    login(user, account)
    client.post(f"{page}/notes", data={"body": "Owner's note"})
    note = db.session.query(Note).one()
    colleague = factories.add_member(account, "user", email="colleague@example.com")
    login(colleague, account)
    assert client.post(edit_url(notes_path, note), data={"body": "Hijacked"}).status_code == 403
    assert client.post(f"{notes_path}/{note.id}/delete").status_code == 403
    assert "Owner" in db.session.get(Note, note.id).body_html
    admin = factories.add_member(account, "admin", email="admin@example.com")
    login(admin, account)
    assert client.post(edit_url(notes_path, note), data={"body": "Tidied by an admin"}).status_code in (302, 303)
    assert "Tidied" in db.session.get(Note, note.id).body_html


def test_one_panel_lists_the_notes_newest_first_in_pages_of_ten(client, owner, login, record):
    user, account = owner
    page, _, target = record
    login(user, account)
    field = {"contacts": "contact_id", "companies": "company_id", "deals": "deal_id"}[page.split("/")[1]]
    start = utcnow() - timedelta(hours=1)
    for i in range(12):
        note = notes.create(account, {"body": f"Note number {i:02d}", field: str(target.id)}, user)
        note.created_at = start + timedelta(minutes=i)
    db.session.commit()

    def panel(html: str) -> str:
        assert html.count('id="record-notes"') == 1 and 'id="notes-body"' in html
        return html.split('id="record-notes"', 1)[1].split("</section>", 1)[0]

    first = panel(client.get(page).text)
    assert [i for i in range(12) if f"Note number {i:02d}" in first] == list(range(2, 12))
    assert first.index("Note number 11") < first.index("Note number 02")
    assert "1–10 of 12" in first and f'href="{page}?notes_page=2#record-notes"' in first
    older = panel(client.get(f"{page}?notes_page=2").text)
    assert [i for i in range(12) if f"Note number {i:02d}" in older] == [0, 1]

    added = client.post(f"{page}/notes", data={"body": "The newest"}, headers=HTMX)
    assert added.status_code == 200
    assert added.text.lstrip().startswith('<section class="card" id="record-notes"')  # the panel alone
    assert 'hx-target="#record-notes"' in added.text and "The newest" in added.text
    # A contact's timeline reloads itself after a note (an htmx event); companies and deals have none.
    assert (added.headers.get("HX-Trigger") == "contactChanged") == page.startswith("/contacts/")
    plain = client.post(f"{page}/notes", data={"body": "Without JavaScript"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"{page}#record-notes")
