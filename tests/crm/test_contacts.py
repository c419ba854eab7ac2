"""Contacts: create and edit (with every kind of bad input), the contact page with tags, notes and the
timeline, soft delete and restore, roles, and the events other features listen to."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.core.db import utcnow
from app.crm.models import Contact, Note, Tag, TimelineEntry
from app.crm.services import companies, contacts, custom_fields, notes, tags, timeline
from app.extensions import db
from tests import factories
from tests.crm.conftest import HTMX
from tests.factories import make_contact


def define_fields(account):
    for label, kind, extra in (("Plan", "dropdown", {"options": "Free\nPro"}), ("Seats", "number", {}),
                               ("Renewal", "date", {}), ("Website", "url", {}), ("Newsletter", "checkbox", {}),
                               ("Nickname", "text", {})):
        custom_fields.create(account, {"label": label, "field_type": kind, **extra})


def form_data(**overrides):
    data = {"first_name": "Lena", "last_name": "Lake", "email": "lena@example.com", "phone": "", "company_id": "",
            "owner_id": "", "source": "manual", "street": "", "city": "", "region": "", "postal_code": "",
            "country": ""}
    data.update(overrides)
    return data


def contact_count(account) -> int:
    return db.session.execute(
        select(func.count()).select_from(Contact).where(Contact.account_id == account.id)).scalar_one()


# ---- create and edit -----------------------------------------------------------------------------

def test_create_contact_with_every_field_and_custom_fields(client, owner, login):
    user, account = owner
    login(user, account)
    define_fields(account)
    company = companies.create(account, {"name": "Globex", "domain": "globex.com"}, user)
    sam = factories.add_member(account, "user", email="sam@example.com", name="Sam Seller")

    form = client.get("/contacts/new")
    assert form.status_code == 200
    for label in ("First name", "E-mail", "Phone", "Company", "Owner", "Source", "Street", "Country", "Plan",
                  "Seats", "Renewal", "Website", "Newsletter", "Nickname"):
        assert label in form.text
    assert 'type="date"' in form.text and "Globex" in form.text and "Sam Seller" in form.text

    response = client.post("/contacts/new", data=form_data(
        email="Lena@Example.COM", phone="(415) 555-0123", company_id=str(company.id), owner_id=str(sam.id),
        source="referral", street="1 Main St", city="Springfield", region="IL", postal_code="62701", country="us",
        cf_plan="Pro", cf_seats="12", cf_renewal="2026-03-31", cf_website="globex.com/team", cf_newsletter="y",
        cf_nickname="Lee"))
    assert response.status_code == 303
    contact = db.session.execute(select(Contact)).scalar_one()
    assert response.headers["Location"].endswith(f"/contacts/{contact.id}")
    assert (contact.email, contact.phone, contact.country, contact.source) == \
        ("lena@example.com", "+14155550123", "US", "referral")
    assert contact.company_id == company.id and contact.owner_id == sam.id
    assert contact.custom_fields == {"plan": "Pro", "seats": 12, "renewal": "2026-03-31",
                                     "website": "https://globex.com/team", "newsletter": True, "nickname": "Lee"}

    page = client.get(f"/contacts/{contact.id}").text
    for text in ("Lena Lake", "lena@example.com", "+1 415-555-0123", "Globex", "Sam Seller", "Referral",
                 "1 Main St", "Springfield", "2026-03-31", "https://globex.com/team", "Contact created"):
        assert text in page


def test_a_phone_without_plus_uses_the_workspaces_country(client, login):
    user = factories.make_user("fr@example.com")
    account = factories.make_account(user, "Paris", timezone="Europe/Paris")
    login(user, account)
    assert client.post("/contacts/new", data=form_data(phone="06 12 34 56 78")).status_code == 303
    assert db.session.execute(select(Contact.phone)).scalar_one() == "+33612345678"


@pytest.mark.parametrize("field, value, message", [
    ("email", "not-an-email", "Enter a valid e-mail address"),
    ("email", "ann@", "Enter a valid e-mail address"),
    ("phone", "12", "valid phone number"),
    ("phone", "+1 555 000 0000 000", "valid phone number"),
    ("phone", "call me maybe", "valid phone number"),
    ("country", "USA", "two-letter country code"),
])
def test_invalid_email_phone_or_country_is_shown_next_to_the_field(client, owner, login, field, value, message):
    user, account = owner
    login(user, account)
    response = client.post("/contacts/new", data=form_data(**{field: value}), headers=HTMX)
    assert response.status_code == 422
    assert "<html" not in response.text  # the form fragment only
    assert f'id="{field}-error"' in response.text and message in response.text
    assert f'value="{value}"' in response.text  # what was typed stays
    assert contact_count(account) == 0


def test_a_contact_needs_a_name_an_email_or_a_phone(client, owner, login):
    user, account = owner
    login(user, account)
    response = client.post("/contacts/new", data=form_data(first_name="", last_name="", email=""))
    assert response.status_code == 422 and "Enter at least a name, an e-mail or a phone number." in response.text
    assert contact_count(account) == 0


def test_duplicate_email_links_to_the_existing_contact(client, owner, login):
    user, account = owner
    login(user, account)
    existing = make_contact(account, user, first_name="Ann", email="ann@example.com")
    response = client.post("/contacts/new", data=form_data(first_name="Other", email=" ANN@Example.com "))
    assert response.status_code == 422
    assert "Ann Archer already has this e-mail." in response.text
    assert f'href="/contacts/{existing.id}"' in response.text and "Open Ann Archer" in response.text
    assert contact_count(account) == 1

    # The same e-mail in another workspace is fine.
    other_user = factories.make_user("other@example.com")
    other = factories.make_account(other_user, "Other")
    login(other_user, other)
    assert client.post("/contacts/new", data=form_data(email="ann@example.com")).status_code == 303


def test_edit_to_another_contacts_email_is_refused_and_changes_nothing(client, owner, login):
    user, account = owner
    login(user, account)
    make_contact(account, user, first_name="Ann", email="ann@example.com")
    bob = make_contact(account, user, first_name="Bob", last_name="Baker", email="bob@example.com")
    response = client.post(f"/contacts/{bob.id}/edit", data=form_data(first_name="Robert", last_name="Baker",
                                                                       email="ann@example.com"), headers=HTMX)
    assert response.status_code == 422 and "Open Ann Archer" in response.text
    db.session.refresh(bob)
    assert (bob.first_name, bob.email) == ("Bob", "bob@example.com")


def test_edit_saves_and_records_what_changed_in_the_timeline(client, owner, login):
    user, account = owner
    login(user, account)
    define_fields(account)
    contact = make_contact(account, user, email="ann@example.com", custom_fields={"seats": "3"})
    form = client.get(f"/contacts/{contact.id}/edit").text
    assert 'value="ann@example.com"' in form and 'value="3"' in form
    response = client.post(f"/contacts/{contact.id}/edit", data=form_data(
        first_name="Ann", last_name="Archer", email="ann@example.com", city="Lyon", cf_seats="4"))
    assert response.status_code == 303
    db.session.refresh(contact)
    assert contact.city == "Lyon" and contact.custom_fields["seats"] == 4
    entry = db.session.execute(select(TimelineEntry).where(TimelineEntry.kind == "contact.updated")).scalar_one()
    assert "city" in entry.summary and "custom fields" in entry.summary


@pytest.mark.parametrize("field, value, message", [
    ("cf_seats", "twelve", "Seats must be a number."),
    ("cf_renewal", "31/02/2026", "Renewal must be a date (YYYY-MM-DD)."),
    ("cf_renewal", "2026-02-30", "Renewal must be a date (YYYY-MM-DD)."),
    ("cf_renewal", "0001-01-01", "Renewal must be a date between 1900 and 2199."),
    ("cf_renewal", "9999-12-31", "Renewal must be a date between 1900 and 2199."),
    ("cf_website", "not a web address", "Website must be a web address."),
    ("cf_plan", "Gold", "Plan: choose one of Free, Pro."),
])
def test_custom_field_value_of_the_wrong_type_is_refused(client, owner, login, field, value, message):
    user, account = owner
    login(user, account)
    define_fields(account)
    response = client.post("/contacts/new", data=form_data(**{field: value}))
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    assert contact_count(account) == 0


def test_a_required_custom_field_must_be_filled(client, owner, login):
    user, account = owner
    login(user, account)
    custom_fields.create(account, {"label": "Region code", "field_type": "text", "required": "y"})
    response = client.post("/contacts/new", data=form_data())
    assert response.status_code == 422 and "Region code is required." in response.text


def test_another_accounts_company_or_owner_cannot_be_chosen(client, owner, login):
    user, account = owner
    login(user, account)
    stranger = factories.make_user("stranger@example.com")
    other = factories.make_account(stranger, "Other")
    foreign_company = companies.create(other, {"name": "Foreign Co"}, stranger)
    response = client.post("/contacts/new", data=form_data(company_id=str(foreign_company.id),
                                                           owner_id=str(stranger.id)))
    assert response.status_code == 422
    assert "That company does not exist in this workspace." in response.text
    assert "Choose a member of this workspace." in response.text
    assert contact_count(account) == 0


def test_another_accounts_rows_are_not_found(client, owner, login):
    user, account = owner
    login(user, account)
    mine = make_contact(account, user, email="mine@example.com")
    stranger = factories.make_user("stranger@example.com")
    other = factories.make_account(stranger, "Other")
    theirs = make_contact(other, stranger, email="theirs@example.com")
    their_tag = tags.create(other, {"name": "secret"})
    their_note = notes.create(other, {"body": "private", "contact_id": str(theirs.id)}, stranger)
    my_other = make_contact(account, user, first_name="Second", email="second@example.com")
    my_note_elsewhere = notes.create(account, {"body": "on another contact", "contact_id": str(my_other.id)}, user)

    assert client.get(f"/contacts/{theirs.id}").status_code == 404
    assert client.get(f"/contacts/{theirs.id}/edit").status_code == 404
    assert client.post(f"/contacts/{theirs.id}/delete").status_code == 404
    assert client.post(f"/contacts/{mine.id}/tags/{their_tag.id}/remove").status_code == 404
    assert client.post(f"/contacts/{mine.id}/notes/{their_note.id}", data={"body": "x"}).status_code == 404
    assert client.post(f"/contacts/{mine.id}/notes/{my_note_elsewhere.id}/delete").status_code == 404
    assert client.get("/contacts/not-a-uuid").status_code == 404
    db.session.refresh(theirs)
    assert theirs.deleted_at is None and db.session.get(Note, their_note.id).body_html == "<p>private</p>"


# ---- tags on the contact page --------------------------------------------------------------------

def test_add_and_remove_tags_with_htmx(client, owner, login):
    user, account = owner
    login(user, account)
    contact = make_contact(account, user)
    tags.create(account, {"name": "Customer", "color": "green"})

    added = client.post(f"/contacts/{contact.id}/tags", data={"name": "  Hot lead "}, headers=HTMX)
    assert added.status_code == 200 and added.headers["HX-Trigger"] == "contactChanged"
    assert "<html" not in added.text and "Hot lead" in added.text
    again = client.post(f"/contacts/{contact.id}/tags", data={"name": "customer"}, headers=HTMX)
    assert again.status_code == 200 and "ct-tag-green" in again.text  # the existing tag, not a new one
    client.post(f"/contacts/{contact.id}/tags", data={"name": "HOT LEAD"}, headers=HTMX)  # already has it
    db.session.refresh(contact)
    assert sorted(t.name for t in contact.tags) == ["Customer", "Hot lead"]
    assert db.session.execute(select(func.count()).select_from(Tag)).scalar_one() == 2

    hot = next(t for t in contact.tags if t.name == "Hot lead")
    removed = client.post(f"/contacts/{contact.id}/tags/{hot.id}/remove", headers=HTMX)
    assert removed.status_code == 200 and "Hot lead" not in removed.text.split("<datalist")[0]
    db.session.refresh(contact)
    assert [t.name for t in contact.tags] == ["Customer"]
    kinds = db.session.execute(select(TimelineEntry.kind).order_by(TimelineEntry.id)).scalars().all()
    assert kinds.count("tag.added") == 2 and kinds.count("tag.removed") == 1

    # Without JavaScript: back to the contact page.
    plain = client.post(f"/contacts/{contact.id}/tags", data={"name": "Newsletter"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/contacts/{contact.id}")


@pytest.mark.parametrize("name, message", [("", "Enter a tag name."), ("   ", "Enter a tag name."),
                                           ("x" * 51, "at most 50 characters")])
def test_a_bad_tag_name_is_refused(client, owner, login, name, message):
    user, account = owner
    login(user, account)
    contact = make_contact(account, user)
    response = client.post(f"/contacts/{contact.id}/tags", data={"name": name}, headers=HTMX)
    assert response.status_code == 422 and message in response.text and 'id="tag-name-error"' in response.text
    assert db.session.execute(select(func.count()).select_from(Tag)).scalar_one() == 0


# ---- notes ---------------------------------------------------------------------------------------

def test_notes_are_added_sanitized_and_listed(client, owner, login):
    user, account = owner
    login(user, account)
    contact = make_contact(account, user)
    url = f"/contacts/{contact.id}/notes"

    empty = client.post(url, data={"body": "  "}, headers=HTMX)
    assert empty.status_code == 422 and "Write something in the note." in empty.text
    only_tags = client.post(url, data={"body": "<p> </p><br>"}, headers=HTMX)
    assert only_tags.status_code == 422
    too_long = client.post(url, data={"body": "a" * 10_001}, headers=HTMX)
    assert too_long.status_code == 422 and "A note has at most 10,000 characters (10,001 now)." in too_long.text
    assert "a" * 10_001 in too_long.text  # the text typed is kept in the box
    assert db.session.execute(select(func.count()).select_from(Note)).scalar_one() == 0

    longest = client.post(url, data={"body": "b" * 10_000}, headers=HTMX)
    assert longest.status_code == 200 and longest.headers["HX-Trigger"] == "contactChanged"
    script = client.post(url, data={"body": '<p onclick="steal()">Hello <strong>there</strong></p>'
                                            '<script>alert(1)</script><a href="javascript:alert(2)">x</a>'},
                         headers=HTMX)
    assert script.status_code == 200
    stored = db.session.execute(select(Note.body_html).where(Note.body_html.contains("Hello"))).scalar_one()
    assert "<script" not in stored and "onclick" not in stored and "javascript:" not in stored
    assert "<strong>there</strong>" in stored
    page = client.get(f"/contacts/{contact.id}").text
    assert "<strong>there</strong>" in page and "<script>alert(1)" not in page
    assert "Note: Hello there" in page  # in the timeline too
    client.post(url, data={"body": "Line one\nLine two & more"}, headers=HTMX)
    assert "Note: Line one Line two &amp; more" in client.get(f"/contacts/{contact.id}").text


def test_notes_are_edited_and_deleted_by_their_author_or_an_admin(client, owner, login):
    user, account = owner
    colleague = factories.add_member(account, "user", email="colleague@example.com", name="Colleague")
    admin = factories.add_member(account, "admin", email="admin@example.com", name="Admin")
    contact = make_contact(account, user)
    note = notes.create(account, {"body": "First draft", "contact_id": str(contact.id)}, colleague)
    url = f"/contacts/{contact.id}/notes/{note.id}"

    login(colleague, account)
    page = client.get(f"/contacts/{contact.id}").text
    assert f'action="{url}"' in page and ">First draft</textarea>" in page
    edited = client.post(url, data={"body": "Second draft"}, headers=HTMX)
    assert edited.status_code == 200 and "Second draft" in edited.text
    bad = client.post(url, data={"body": ""}, headers=HTMX)
    assert bad.status_code == 422 and "Write something in the note." in bad.text
    assert db.session.get(Note, note.id).body_html == "<p>Second draft</p>"

    someone = factories.add_member(account, "user", email="someone@example.com")
    login(someone, account)
    assert f'action="{url}"' not in client.get(f"/contacts/{contact.id}").text
    assert client.post(url, data={"body": "Hijacked"}).status_code == 403
    assert client.post(f"{url}/delete").status_code == 403
    assert db.session.get(Note, note.id).body_html == "<p>Second draft</p>"

    login(admin, account)
    deleted = client.post(f"{url}/delete")
    assert deleted.status_code == 303
    assert db.session.execute(select(func.count()).select_from(Note)).scalar_one() == 0


# ---- the timeline --------------------------------------------------------------------------------

def test_timeline_is_newest_first_and_loads_in_pages(client, owner, login):
    user, account = owner
    login(user, account)
    contact = make_contact(account, user)
    start = utcnow() - timedelta(days=10)
    db.session.execute(update(TimelineEntry).values(created_at=start - timedelta(days=1)))  # "Contact created"
    for i in range(45):
        timeline.add(account, contact.id, "note.created", f"Event number {i:02d}", user,
                     when=start + timedelta(hours=i))
    db.session.commit()

    page = client.get(f"/contacts/{contact.id}").text
    assert [i for i in range(45) if f"Event number {i:02d}" in page] == list(range(25, 45))
    assert page.index("Event number 44") < page.index("Event number 30")
    assert 'hx-trigger="revealed"' in page and f"/contacts/{contact.id}/timeline?page=2" in page

    second = client.get(f"/contacts/{contact.id}/timeline?page=2", headers=HTMX)
    assert second.status_code == 200 and "<html" not in second.text
    assert [i for i in range(45) if f"Event number {i:02d}" in second.text] == list(range(5, 25))
    assert second.text.index("Event number 24") < second.text.index("Event number 05")
    assert "timeline?page=3" in second.text

    third = client.get(f"/contacts/{contact.id}/timeline?page=3", headers=HTMX).text
    assert "Event number 00" in third and "Event number 04" in third and "Contact created" in third
    assert "timeline?page=4" not in third and "revealed" not in third
    # Without JavaScript the same URL is a page of its own.
    assert "<html" in client.get(f"/contacts/{contact.id}/timeline?page=2").text


# ---- delete, trash, restore ----------------------------------------------------------------------

def test_soft_delete_moves_the_contact_to_the_trash_and_restore_brings_it_back(client, owner, login, published):
    user, account = owner
    login(user, account)
    contact = make_contact(account, user, first_name="Trashy", email="trashy@example.com")
    page = client.get(f"/contacts/{contact.id}").text
    assert "Move to the trash" in page and "30 days" in page

    deleted = client.post(f"/contacts/{contact.id}/delete")
    assert deleted.status_code == 303 and deleted.headers["Location"].endswith("/contacts")
    assert f'id="contact-{contact.id}"' not in client.get("/contacts").text
    trash = client.get("/contacts/trash").text
    assert "Trashy" in trash and f"/contacts/{contact.id}/restore" in trash
    assert "in the trash" in client.get(f"/contacts/{contact.id}").text
    assert client.get(f"/contacts/{contact.id}/edit").status_code == 404

    restored = client.post(f"/contacts/{contact.id}/restore", follow_redirects=True)
    assert restored.status_code == 200 and "Trashy Archer is back in the contacts." in restored.text
    assert f'id="contact-{contact.id}"' in client.get("/contacts").text
    assert "The trash is empty" in client.get("/contacts/trash").text
    assert ("contact.deleted", {"account_id": str(account.id), "contact_id": str(contact.id)}) in published


def test_restore_errors_are_shown_as_toasts(client, owner, login):
    user, account = owner
    login(user, account)
    old = make_contact(account, user, first_name="Old", email="old@example.com")
    contacts.soft_delete(account, old, user)
    old.deleted_at = utcnow() - timedelta(days=31)
    db.session.commit()
    twin = make_contact(account, user, first_name="Twin", email="twin@example.com")
    contacts.soft_delete(account, twin, user)
    make_contact(account, user, first_name="New twin", email="twin@example.com")

    trash = client.get("/contacts/trash").text
    assert "expired" in trash
    response = client.post(f"/contacts/{old.id}/restore", follow_redirects=True)
    assert 'class="toast toast-error"' in response.text and "can no longer be restored" in response.text
    response = client.post(f"/contacts/{twin.id}/restore", follow_redirects=True)
    assert "Another contact now has this e-mail" in response.text
    db.session.refresh(old)
    db.session.refresh(twin)
    assert old.deleted_at is not None and twin.deleted_at is not None


# ---- roles ---------------------------------------------------------------------------------------

def test_viewers_read_everything_but_see_no_buttons_that_would_be_refused(client, owner, login):
    user, account = owner
    contact = make_contact(account, user, email="ann@example.com", tags=["vip"])
    notes.create(account, {"body": "Viewer can read this", "contact_id": str(contact.id)}, user)
    contacts.save_segment(account, "VIPs", {"q": "ann"}, user)
    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    login(viewer, account)

    listing = client.get("/contacts").text
    assert "Ann Archer" in listing and "VIPs" in listing and "Export" in listing
    for hidden in ("New contact", 'name="ids"', "bulk-form", "Save as segment", "delete-segment-"):
        assert hidden not in listing
    page = client.get(f"/contacts/{contact.id}").text
    assert "Viewer can read this" in page and "vip" in page
    for hidden in ("/edit", "delete-contact", 'id="tag-name"', 'id="note-form"', "ct-tag-x", "delete-note-"):
        assert hidden not in page
    assert client.get("/contacts/trash").status_code == 200
    assert client.get("/contacts/export").status_code == 200

    assert client.get("/contacts/new").status_code == 403
    assert client.post(f"/contacts/{contact.id}/tags", data={"name": "x"}).status_code == 403
    assert client.post(f"/contacts/{contact.id}/notes", data={"body": "x"}).status_code == 403
    assert client.post(f"/contacts/{contact.id}/delete").status_code == 403
    assert client.post("/contacts/bulk", data={"action": "delete", "scope": "all"}).status_code == 403


# ---- events --------------------------------------------------------------------------------------

def test_pages_publish_the_events_automation_listens_to(client, owner, login, published):
    user, account = owner
    login(user, account)
    client.post("/contacts/new", data=form_data(email="evt@example.com"))
    contact = db.session.execute(select(Contact)).scalar_one()
    client.post(f"/contacts/{contact.id}/edit", data=form_data(email="evt@example.com", city="Oslo"))
    client.post(f"/contacts/{contact.id}/tags", data={"name": "vip"}, headers=HTMX)
    tag = db.session.execute(select(Tag)).scalar_one()
    client.post(f"/contacts/{contact.id}/tags/{tag.id}/remove", headers=HTMX)
    client.post(f"/contacts/{contact.id}/notes", data={"body": "Called"}, headers=HTMX)
    client.post(f"/contacts/{contact.id}/delete")

    names = [name for name, _ in published]
    assert names == ["contact.created", "contact.updated", "tag.added", "tag.removed", "note.created",
                     "contact.deleted"]
    payloads = dict(published)
    assert all(p["contact_id"] == str(contact.id) and p["account_id"] == str(account.id) for _, p in published)
    assert payloads["contact.updated"]["fields"] == ["city"]
    assert payloads["tag.added"]["tag"] == "vip" and payloads["tag.removed"]["tag_id"] == str(tag.id)


def test_forms_on_the_contact_pages_carry_the_csrf_token(client, owner, login, csrf_enabled):
    import re

    user, account = owner
    login(user, account)
    contact = make_contact(account, user)
    page = client.get(f"/contacts/{contact.id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(f"/contacts/{contact.id}/tags", data={"name": "vip"}, headers=HTMX).status_code == 400
    added = client.post(f"/contacts/{contact.id}/tags", data={"name": "vip", "csrf_token": token}, headers=HTMX)
    assert added.status_code == 200 and "vip" in added.text
    new = client.get("/contacts/new").text
    assert 'name="csrf_token"' in new
    created = client.post("/contacts/new", data=form_data(csrf_token=token, email="csrf@example.com"))
    assert created.status_code == 303
