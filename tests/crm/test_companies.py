"""Companies: the list (search, filters, paging, empty state), create and edit (unique domain, no parent
cycles), the company page (contacts, children, deals, notes), delete; another account's ids are 404."""
from sqlalchemy import select

from app.crm.models import Company, Contact, Note, Tag
from app.crm.services import contacts, notes
from app.extensions import db
from tests import factories
from tests.crm.conftest import HTMX
from tests.factories import make_company, make_contact, make_deal


def form(name="Acme", **data):
    values = {"name": name, "domain": "", "industry": "", "size": "", "phone": "", "owner_id": "", "parent_id": ""}
    values.update(data)
    return values


# ---- the list -------------------------------------------------------------------------------------

def test_empty_list_invites_to_add_a_company(client, signed_in):
    page = client.get("/companies")
    assert page.status_code == 200
    assert "No companies yet" in page.text and "/companies/new" in page.text


def test_list_searches_as_you_type_and_filters(client, signed_in):
    _, account = signed_in
    make_company(account, "Globex", domain="globex.com", industry="Manufacturing", size="51-200")
    make_company(account, "Initech", domain="initech.io", industry="Software", size="11-50")
    make_company(account, "Hooli", domain="hooli.xyz", industry="Software", size="51-200")

    page = client.get("/companies")
    assert all(name in page.text for name in ("Globex", "Initech", "Hooli"))
    assert 'hx-trigger="input delay:300ms, search, submit"' in page.text  # search as you type

    # What htmx asks while typing: only the results, matching name or domain.
    typed = client.get("/companies?q=glob", headers=HTMX)
    assert typed.status_code == 200 and "Globex" in typed.text and "Initech" not in typed.text
    assert "<html" not in typed.text
    assert "Initech" in client.get("/companies?q=initech.io").text

    software = client.get("/companies?industry=Software").text
    assert "Initech" in software and "Hooli" in software and "Globex" not in software
    both = client.get("/companies?industry=Software&size=51-200").text
    assert "Hooli" in both and "Initech" not in both

    nothing = client.get("/companies?q=zzz")
    assert nothing.status_code == 200 and "No company matches" in nothing.text


def test_list_paginates(client, signed_in):
    _, account = signed_in
    for i in range(23):
        make_company(account, f"Company {i:02d}")
    first = client.get("/companies").text
    assert "1–20 of 23" in first and "Company 00" in first and "Company 22" not in first
    second = client.get("/companies?page=2").text
    assert "21–23 of 23" in second and "Company 22" in second
    assert client.get("/companies?page=abc").status_code == 200


# ---- create and edit ------------------------------------------------------------------------------

def test_create_company_with_every_field(client, signed_in):
    user, account = signed_in
    parent = make_company(account, "Umbrella Group")
    response = client.post("/companies/new", data=form(
        "Umbrella Health", domain="https://www.Umbrella-Health.com/about", industry="Healthcare", size="51-200",
        phone="+1 415 555 0100", owner_id=str(user.id), parent_id=str(parent.id)))
    assert response.status_code in (302, 303)
    created = db.session.execute(select(Company).where(Company.name == "Umbrella Health")).scalar_one()
    assert (created.domain, created.industry, created.size, created.phone) == (
        "umbrella-health.com", "Healthcare", "51-200", "+14155550100")
    assert created.owner_id == user.id and created.parent_id == parent.id
    assert response.headers["Location"].endswith(f"/companies/{created.id}")


def test_bad_input_is_shown_next_to_the_fields(client, signed_in):
    response = client.post("/companies/new", data=form("", domain="not a domain", size="huge", phone="12"))
    assert response.status_code == 422
    assert "Enter a company name." in response.text
    assert "Enter a domain like example.com." in response.text
    assert db.session.execute(select(Company)).first() is None


def test_duplicate_domain_is_refused_next_to_the_field(client, signed_in):
    _, account = signed_in
    make_company(account, "Globex", domain="globex.com")
    response = client.post("/companies/new", data=form("Globex 2", domain="WWW.GLOBEX.COM"))
    assert response.status_code == 422
    assert "Globex already has the domain globex.com." in response.text
    assert 'id="domain-error"' in response.text
    assert len(db.session.execute(select(Company)).all()) == 1
    # Another workspace may use the same domain.
    other = factories.make_account(factories.make_user("b@example.com"), "B")
    assert make_company(other, "Globex elsewhere", domain="globex.com").domain == "globex.com"


def test_a_deleted_companys_domain_can_be_used_again(client, signed_in):
    _, account = signed_in
    old = make_company(account, "Old", domain="reused.com")
    assert client.post(f"/companies/{old.id}/delete").status_code in (302, 303)
    assert client.post("/companies/new", data=form("New", domain="reused.com")).status_code in (302, 303)


def test_company_cannot_be_its_own_parent(client, signed_in):
    _, account = signed_in
    acme = make_company(account, "Acme")
    response = client.post(f"/companies/{acme.id}/edit", data=form("Acme", parent_id=str(acme.id)))
    assert response.status_code == 422
    assert "A company cannot be its own parent or ancestor." in response.text
    assert 'id="parent_id-error"' in response.text
    assert db.session.get(Company, acme.id).parent_id is None


def test_company_cannot_become_its_own_ancestor_through_others(client, signed_in):
    _, account = signed_in
    top = make_company(account, "Top")
    middle = make_company(account, "Middle", parent_id=str(top.id))
    bottom = make_company(account, "Bottom", parent_id=str(middle.id))
    # Top under Bottom would close the loop Top → Bottom → Middle → Top.
    response = client.post(f"/companies/{top.id}/edit", data=form("Top", parent_id=str(bottom.id)))
    assert response.status_code == 422 and "cannot be its own parent or ancestor" in response.text
    assert db.session.get(Company, top.id).parent_id is None
    # A legal move still works: Bottom directly under Top.
    moved = client.post(f"/companies/{bottom.id}/edit", data=form("Bottom", parent_id=str(top.id)))
    assert moved.status_code in (302, 303)
    assert db.session.get(Company, bottom.id).parent_id == top.id


def test_parent_of_another_account_is_refused(client, signed_in):
    _, account = signed_in
    other = factories.make_account(factories.make_user("b@example.com"), "B")
    theirs = make_company(other, "Theirs")
    response = client.post("/companies/new", data=form("Mine", parent_id=str(theirs.id)))
    assert response.status_code == 422 and "does not exist in this workspace" in response.text
    response = client.post("/companies/new", data=form("Mine", parent_id="not-a-uuid"))
    assert response.status_code == 422


def test_edit_form_shows_the_current_values(client, signed_in):
    _, account = signed_in
    parent = make_company(account, "Parent Co")
    child = make_company(account, "Child Co", domain="child.com", parent_id=str(parent.id), phone="+14155550100")
    page = client.get(f"/companies/{child.id}/edit")
    assert page.status_code == 200
    assert 'value="child.com"' in page.text and "+1 415-555-0100" in page.text
    assert f'<option selected value="{parent.id}">Parent Co</option>' in page.text


def test_company_picker_options(client, signed_in):
    _, account = signed_in
    globex = make_company(account, "Globex")
    make_company(account, "Globe Trotters")
    make_company(account, "Initech")
    options = client.get("/companies/options?q=glob", headers=HTMX).text
    assert "Globex" in options and "Globe Trotters" in options and "Initech" not in options
    assert options.count("selected") == 1  # the first match is chosen
    excluded = client.get(f"/companies/options?q=glob&exclude={globex.id}").text
    assert "Globex<" not in excluded and "Globe Trotters" in excluded
    assert "Nothing matches" in client.get("/companies/options?q=zzz").text


# ---- the company page -----------------------------------------------------------------------------

def test_company_page_shows_details_parent_children_contacts_and_deals(client, signed_in):
    user, account = signed_in
    parent = make_company(account, "Holding")
    acme = make_company(account, "Acme", domain="acme.com", industry="Retail", parent_id=str(parent.id))
    make_company(account, "Acme Europe", parent_id=str(acme.id))
    pat = make_contact(account, first_name="Pat", last_name="Lee", email="pat@acme.com", company_id=str(acme.id))
    make_deal(account, title="Acme renewal", value="1500", company_id=str(acme.id))
    page = client.get(f"/companies/{acme.id}")
    assert page.status_code == 200
    text = page.text
    assert "acme.com" in text and "Retail" in text and "Holding" in text
    assert "Acme Europe" in text
    assert f'href="/contacts/{pat.id}"' in text and "Pat Lee" in text
    assert "Acme renewal" in text and "$1,500.00" in text
    assert "/deals/new?company_id=" in text
    assert 'id="record-notes"' in text


def test_company_contacts_are_paginated(client, signed_in):
    _, account = signed_in
    acme = make_company(account, "Acme")
    for i in range(25):
        contacts.create(account, {"first_name": f"Person{i:02d}", "email": f"p{i}@acme.com",
                                  "company_id": str(acme.id)}, commit=False)
    db.session.commit()
    first = client.get(f"/companies/{acme.id}").text
    assert "Person00" in first and "Person24" not in first and "contacts_page=2" in first
    second = client.get(f"/companies/{acme.id}?contacts_page=2").text
    assert "Person24" in second


def test_notes_on_a_company(client, signed_in):
    _, account = signed_in
    acme = make_company(account, "Acme")
    added = client.post(f"/companies/{acme.id}/notes", data={"body": "Met <b>the CFO</b><script>alert(1)</script>"},
                        headers=HTMX)
    assert added.status_code == 200 and "the CFO" in added.text
    note = db.session.execute(select(Note)).scalar_one()
    assert note.company_id == acme.id and "<script>" not in note.body_html

    empty = client.post(f"/companies/{acme.id}/notes", data={"body": "  "}, headers=HTMX)
    assert empty.status_code == 422 and "Write something in the note." in empty.text
    too_long = client.post(f"/companies/{acme.id}/notes", data={"body": "x" * 10_001})
    assert too_long.status_code == 422 and "at most 10,000 characters" in too_long.text
    assert len(db.session.execute(select(Note)).all()) == 1

    assert client.post(f"/companies/notes/{note.id}/delete").status_code in (302, 303)
    assert db.session.execute(select(Note)).first() is None


def test_only_author_or_admin_deletes_a_note(app, client, signed_in):
    owner_user, account = signed_in
    acme = make_company(account, "Acme")
    note = notes.create(account, {"body": "Owner's note", "company_id": str(acme.id)}, owner_user)
    member = factories.add_member(account, "user", email="user@example.com")
    other_client = app.test_client()
    factories.login(other_client, member, account)
    assert other_client.post(f"/companies/notes/{note.id}/delete").status_code == 403
    assert db.session.get(Note, note.id) is not None


def test_delete_is_soft_and_unlinks_contacts_and_children(client, signed_in):
    _, account = signed_in
    acme = make_company(account, "Acme", domain="acme.com")
    child = make_company(account, "Acme Kids", parent_id=str(acme.id))
    pat = contacts.create(account, {"first_name": "Pat", "email": "pat@acme.com", "company_id": str(acme.id)})
    page = client.get(f"/companies/{acme.id}").text
    assert "Delete Acme?" in page  # the confirm dialog says what happens
    response = client.post(f"/companies/{acme.id}/delete")
    assert response.status_code in (302, 303)
    gone = db.session.get(Company, acme.id)
    assert gone is not None and gone.deleted_at is not None
    assert db.session.get(Contact, pat.id).company_id is None
    assert db.session.get(Company, child.id).parent_id is None
    assert client.get(f"/companies/{acme.id}").status_code == 404
    assert "Acme Kids" in client.get("/companies").text and ">Acme<" not in client.get("/companies").text


def test_viewer_reads_but_does_not_edit(app, client, signed_in):
    _, account = signed_in
    acme = make_company(account, "Acme")
    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    viewer_client = app.test_client()
    factories.login(viewer_client, viewer, account)
    page = viewer_client.get(f"/companies/{acme.id}")
    assert page.status_code == 200 and "/edit" not in page.text
    assert viewer_client.get("/companies/new").status_code == 403
    assert viewer_client.post(f"/companies/{acme.id}/edit", data=form("Hacked")).status_code == 403
    assert viewer_client.post(f"/companies/{acme.id}/delete").status_code == 403
    assert db.session.get(Company, acme.id).name == "Acme"


def test_another_accounts_company_is_not_found(client, signed_in):
    _, account = signed_in
    other_owner = factories.make_user("b@example.com")
    other = factories.make_account(other_owner, "B")
    theirs = make_company(other, "Theirs")
    their_note = notes.create(other, {"body": "secret", "company_id": str(theirs.id)}, other_owner)
    assert client.get(f"/companies/{theirs.id}").status_code == 404
    assert client.get(f"/companies/{theirs.id}/edit").status_code == 404
    assert client.post(f"/companies/{theirs.id}/edit", data=form("Mine now")).status_code == 404
    assert client.post(f"/companies/{theirs.id}/delete").status_code == 404
    assert client.post(f"/companies/{theirs.id}/notes", data={"body": "hi"}).status_code == 404
    assert client.post(f"/companies/notes/{their_note.id}/delete").status_code == 404
    assert db.session.get(Company, theirs.id).deleted_at is None
    assert "Theirs" not in client.get("/companies/options?q=the").text


def test_company_tags_added_by_name_and_removed(client, signed_in):
    user, account = signed_in
    company = make_company(account, "Tagged Co", user)
    added = client.post(f"/companies/{company.id}/tags", data={"name": "Partner"}, headers=HTMX)
    assert added.status_code == 200 and "Partner" in added.text and "<html" not in added.text
    company = db.session.get(Company, company.id)
    assert [t.name for t in company.tags] == ["Partner"]
    client.post(f"/companies/{company.id}/tags", data={"name": "partner"})  # same tag, any case: no duplicate
    assert len(db.session.get(Company, company.id).tags) == 1
    too_long = client.post(f"/companies/{company.id}/tags", data={"name": "x" * 51}, headers=HTMX)
    assert too_long.status_code == 422 and "50 characters" in too_long.text
    tag = db.session.execute(select(Tag)).scalar_one()
    removed = client.post(f"/companies/{company.id}/tags/{tag.id}/remove")
    assert removed.status_code in (302, 303)
    assert db.session.get(Company, company.id).tags == []
    assert "Partner" in client.get(f"/companies/{company.id}").text  # offered as a suggestion
