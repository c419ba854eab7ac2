"""The contacts list: search as you type, filters, sort, pages, segments, bulk actions, CSV export, and
a number of queries that does not grow with the rows shown."""
import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.core.db import utcnow
from app.core.errors import ValidationError
from app.crm.models import Contact, Segment, Tag, TimelineEntry
from app.crm.services import companies, contacts, custom_fields, tags
from app.extensions import db
from tests import factories
from tests.crm.conftest import HTMX
from tests.factories import make_contact

RESULTS = "/contacts/results"  # what the search box and the filters ask for (with htmx)


@pytest.fixture
def crowd(owner):
    """Five contacts with different names, e-mails, phones, companies, owners, sources and tags."""
    user, account = owner
    sam = factories.add_member(account, "user", email="sam@example.com", name="Sam Seller")
    globex = companies.create(account, {"name": "Globex Corporation", "domain": "globex.com"}, user)
    initech = companies.create(account, {"name": "Initech", "domain": "initech.com"}, user)
    custom_fields.create(account, {"label": "Plan", "field_type": "dropdown", "options": "Free\nPro"})
    custom_fields.create(account, {"label": "Newsletter", "field_type": "checkbox"})
    people = {
        "ada": make_contact(account, user, first_name="Ada", last_name="Lovelace", email="ada@analytical.org",
                    phone="+44 20 7946 0958", company_id=str(globex.id), owner_id=str(sam.id), source="referral",
                    tags=["vip", "customer"], custom_fields={"plan": "Pro", "newsletter": "yes"}),
        "grace": make_contact(account, user, first_name="Grace", last_name="Hopper", email="grace@navy.mil",
                      phone="(415) 555-0199", company_id=str(initech.id), owner_id=str(user.id), source="form",
                      tags=["customer"], custom_fields={"plan": "Free", "newsletter": "no"}),
        "alan": make_contact(account, user, first_name="Alan", last_name="Turing", email="alan@bletchley.uk",
                     source="import", tags=["lead"]),
        "katherine": make_contact(account, user, first_name="Katherine", last_name="Johnson", email="kj@nasa.gov",
                          company_id=str(globex.id), owner_id=str(sam.id), source="form"),
        "linus": make_contact(account, user, first_name="Linus", last_name="Torvalds", email="linus@kernel.org",
                      phone="+1 212 555 0147", source="api"),
    }
    return dict(people, user=user, account=account, sam=sam, globex=globex, initech=initech,
                tag={t.name: t for t in db.session.execute(select(Tag)).scalars()})


def names_in(html: str, crowd) -> list[str]:
    """The crowd's first names shown as rows, in page order."""
    found = []
    for key in ("ada", "grace", "alan", "katherine", "linus"):
        marker = f'id="contact-{crowd[key].id}"'
        if marker in html:
            found.append((html.index(marker), key))
    return [key for _, key in sorted(found)]


# ---- search, filters, sort, pages ----------------------------------------------------------------

@pytest.mark.parametrize("q, expected", [
    ("lov", ["ada"]),                 # part of a last name
    ("ALAN tur", ["alan"]),           # first and last name, any case
    ("navy.mil", ["grace"]),          # part of an e-mail
    ("5550199", ["grace"]),           # phone digits
    ("4155550", ["grace"]),
    ("globex", ["ada", "katherine"]),  # company name
    ("zzz", []),
    ("100%", []),                     # LIKE characters are literal
])
def test_search_finds_contacts_by_part_of_name_email_phone_or_company(client, login, crowd, q, expected):
    login(crowd["user"], crowd["account"])
    response = client.get(RESULTS, query_string={"q": q, "sort": "name"}, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text  # only the results block is swapped
    assert sorted(names_in(response.text, crowd)) == sorted(expected)
    if not expected:
        assert "No contacts match" in response.text and "Clear the filters" in response.text


def test_the_search_box_searches_as_you_type(client, login, crowd):
    login(crowd["user"], crowd["account"])
    page = client.get("/contacts?q=ada").text
    assert 'hx-trigger="keyup changed delay:300ms, search"' in page
    assert 'hx-get="/contacts/results"' in page and 'hx-target="#contact-results"' in page
    assert 'value="ada"' in page  # a pushed URL opened again shows the same search
    fragment = client.get(f"{RESULTS}?q=ada&tag=&sort=-created", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'hx-swap-oob="true"' in fragment.text  # the segment bar follows the search
    assert fragment.headers["HX-Push-Url"] == "/contacts?q=ada"  # the list's address goes into the history
    assert "HX-Request" in fragment.headers["Vary"]
    # The list's page is always whole, for any htmx request too (e.g. the HX-Location after saving a segment);
    # the results' own address, opened without htmx (or boosted), is sent to the list it shows.
    assert "<html" in client.get("/contacts?q=ada", headers=HTMX).text
    for headers in ({}, {**HTMX, "HX-Boosted": "true"}):
        plain = client.get(f"{RESULTS}?q=ada", headers=headers)
        assert plain.status_code == 302 and plain.headers["Location"].endswith("/contacts?q=ada")


def test_filters(client, login, crowd):
    login(crowd["user"], crowd["account"])
    user, sam, tag = crowd["user"], crowd["sam"], crowd["tag"]

    def shown(**args):
        response = client.get(RESULTS, query_string=dict(args, sort="name"), headers=HTMX)
        assert response.status_code == 200, response.text
        return sorted(names_in(response.text, crowd))

    assert shown(tag=tag["customer"].id) == ["ada", "grace"]
    assert shown(owner=sam.id) == ["ada", "katherine"]
    assert shown(owner=user.id) == ["grace"]
    assert shown(owner="none") == ["alan", "linus"]
    assert shown(company=crowd["globex"].id) == ["ada", "katherine"]
    assert shown(source="form") == ["grace", "katherine"]
    assert shown(cf="plan", cf_value="pro") == ["ada"]
    assert shown(cf="plan") == ["ada", "grace"]
    assert shown(cf="newsletter", cf_value="yes") == ["ada"]
    assert shown(cf="newsletter", cf_value="no") == ["grace"]
    assert shown(tag=tag["customer"].id, owner=sam.id, q="ada") == ["ada"]

    db.session.execute(Contact.__table__.update().where(Contact.id == crowd["alan"].id)
                       .values(created_at=utcnow() - timedelta(days=40)))
    db.session.commit()
    today = utcnow().date()
    assert shown(created_to=(today - timedelta(days=30)).isoformat()) == ["alan"]
    assert "alan" not in shown(created_from=(today - timedelta(days=1)).isoformat())
    assert len(shown(created_from=(today - timedelta(days=1)).isoformat(), created_to=today.isoformat())) == 4


def test_bad_filter_values_are_explained_not_crashed(client, login, crowd):
    login(crowd["user"], crowd["account"])
    bad_date = client.get(f"{RESULTS}?created_from=31/12/2025", headers=HTMX)
    assert bad_date.status_code == 422 and "Use a date like 2026-01-31." in bad_date.text
    bad_tag = client.get("/contacts?tag=not-a-uuid")
    assert bad_tag.status_code == 422 and "Choose a tag from the list." in bad_tag.text
    stranger = factories.make_user("stranger@example.com")
    other = factories.make_account(stranger, "Other")
    foreign = tags.create(other, {"name": "customer"})
    response = client.get(f"{RESULTS}?tag={foreign.id}", headers=HTMX)
    assert response.status_code == 200 and names_in(response.text, crowd) == []


def test_sort_and_pages(client, owner, login):
    user, account = owner
    login(user, account)
    for i in range(25):
        make_contact(account, user, first_name=f"Person{i:02d}", email=f"p{i}@example.com")
    first = client.get("/contacts?sort=name").text
    assert "Person00" in first and "Person19" in first and "Person20" not in first
    assert first.index("Person00") < first.index("Person19")
    assert "1–20 of 25" in first and "page=2" in first
    second = client.get("/contacts?sort=name&page=2").text
    assert "Person20" in second and "Person24" in second and "Person19" not in second
    backwards = client.get("/contacts?sort=-name").text
    assert "Person24" in backwards and backwards.index("Person24") < backwards.index("Person10")
    newest = client.get("/contacts").text  # newest first by default
    assert "Person24" in newest
    assert client.get("/contacts?sort=bogus&page=-3&page_size=abc").status_code == 200


def test_empty_and_no_match_states(client, owner, login):
    user, account = owner
    login(user, account)
    empty = client.get("/contacts").text
    assert "No contacts yet" in empty and "Add a contact" in empty
    make_contact(account, user, first_name="Someone")
    no_match = client.get("/contacts?q=nobody").text
    assert "No contacts match" in no_match and "No contacts yet" not in no_match


def test_list_queries_do_not_grow_with_rows(client, owner, login, count_queries):
    user, account = owner
    login(user, account)
    company = companies.create(account, {"name": "Globex"}, user)
    custom_fields.create(account, {"label": "Plan", "field_type": "text"})
    member = factories.add_member(account, "user", email="m@example.com")

    def add(n, start):
        for i in range(start, start + n):
            make_contact(account, user, first_name=f"P{i}", email=f"p{i}@example.com", company_id=str(company.id),
                 owner_id=str(member.id if i % 2 else user.id), tags=[f"t{i % 3}", "all"],
                 custom_fields={"plan": "x"})

    add(2, 0)
    few = count_queries(lambda: client.get("/contacts"))
    few_search = count_queries(lambda: client.get(f"{RESULTS}?q=p", headers=HTMX))
    add(18, 2)
    assert count_queries(lambda: client.get("/contacts")) == few
    assert count_queries(lambda: client.get(f"{RESULTS}?q=p", headers=HTMX)) == few_search
    assert few <= 14


# ---- segments ------------------------------------------------------------------------------------

def test_save_the_current_filter_as_a_segment_and_delete_it(client, login, crowd):
    login(crowd["user"], crowd["account"])
    customer = crowd["tag"]["customer"]
    page = client.get(f"/contacts?tag={customer.id}&q=a").text
    assert "Save as segment" in page

    saved = client.post("/contacts/segments", data={"name": "Customers with a", "tag": str(customer.id), "q": "a",
                                                    "owner": ""})
    assert saved.status_code == 303
    segment = db.session.execute(select(Segment)).scalar_one()
    assert segment.filters == {"tag": str(customer.id), "q": "a"} and segment.created_by_id == crowd["user"].id
    assert sorted(names_in(client.get(f"/contacts?tag={customer.id}&q=a").text, crowd)) == ["ada", "grace"]

    listing = client.get("/contacts").text
    assert "Customers with a" in listing and f"delete-segment-{segment.id}" in listing
    active = client.get(f"/contacts?q=a&tag={customer.id}").text
    assert 'aria-current="page">Customers with a</a>' in active
    assert sorted(names_in(client.get("/contacts", query_string=segment.filters).text, crowd)) == ["ada", "grace"]
    # The same segment is what campaigns and automation read.
    assert {c.id for c in db.session.execute(
        contacts.segment_contacts(crowd["account"], segment)).scalars()} == {crowd["ada"].id, crowd["grace"].id}

    deleted = client.post(f"/contacts/segments/{segment.id}/delete")
    assert deleted.status_code == 303
    assert db.session.execute(select(func.count()).select_from(Segment)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(Contact)).scalar_one() == 5


def test_the_list_promises_only_what_works_today(client, owner, login):
    user, account = owner
    login(user, account)
    empty = client.get("/contacts").text
    assert "No contacts yet" in empty and "imports and the API" in empty
    assert "checkouts" not in empty  # there are none yet (a "checkout" source is only a value the API may set)
    contact = make_contact(account, user, tags=["vip"])
    contacts.save_segment(account, "VIPs", {"tag": str(contact.tags[0].id)}, user)
    page = client.get(f"/contacts?tag={contact.tags[0].id}").text
    assert "Save as segment" in page and "Delete the segment" in page
    assert "campaign" not in page.lower() and "automation" not in page.lower()  # neither exists yet


@pytest.mark.parametrize("data, message", [
    ({"name": "", "q": "ada"}, "Enter a segment name."),
    ({"name": "x" * 81, "q": "ada"}, "At most 80 characters."),
    ({"name": "Everything"}, "Set at least one filter before saving a segment."),
    ({"name": "Bad date", "created_from": "yesterday"}, "Use a date like 2026-01-31."),
])
def test_a_bad_segment_is_refused(client, login, crowd, data, message):
    login(crowd["user"], crowd["account"])
    response = client.post("/contacts/segments", data=data, headers=HTMX)
    assert response.status_code == 422 and message in response.text
    assert db.session.execute(select(func.count()).select_from(Segment)).scalar_one() == 0


def test_another_accounts_segment_cannot_be_deleted(client, login, crowd):
    stranger = factories.make_user("stranger@example.com")
    other = factories.make_account(stranger, "Other")
    theirs = contacts.save_segment(other, "Theirs", {"q": "x"}, stranger)
    login(crowd["user"], crowd["account"])
    assert client.post(f"/contacts/segments/{theirs.id}/delete").status_code == 404
    assert db.session.get(Segment, theirs.id) is not None


# ---- bulk actions --------------------------------------------------------------------------------

def bulk(client, crowd, keys=(), **data):
    form = {"ids": [str(crowd[k].id) for k in keys], **data}
    return client.post("/contacts/bulk", data=form)


def test_bulk_add_and_remove_a_tag_on_the_selection(client, login, crowd):
    login(crowd["user"], crowd["account"])
    page = client.get("/contacts").text
    assert 'name="ids"' in page and "Add a tag" in page

    added = bulk(client, crowd, ("ada", "alan", "linus"), action="add_tag", tag_name="Webinar 2026",
                 next="/contacts?q=a")
    assert added.status_code == 303 and added.headers["Location"].endswith("/contacts?q=a")
    webinar = db.session.execute(select(Tag).where(Tag.name == "Webinar 2026")).scalar_one()
    holders = {c.first_name
               for c in db.session.execute(select(Contact).where(Contact.tags.contains(webinar))).scalars()}
    assert holders == {"Ada", "Alan", "Linus"}

    again = bulk(client, crowd, ("ada", "grace"), action="add_tag", tag_name="webinar 2026")
    assert "added to 1 contact (1 contact had it already)" in client.get(again.headers["Location"]).text

    customer = crowd["tag"]["customer"]
    removed = bulk(client, crowd, ("ada", "grace", "alan"), action="remove_tag", tag_id=str(customer.id))
    assert "Tag “customer” removed from 2 contacts." in client.get(removed.headers["Location"]).text
    assert db.session.execute(select(func.count()).select_from(Contact).where(
        Contact.tags.contains(customer))).scalar_one() == 0
    assert db.session.execute(select(func.count()).where(TimelineEntry.kind == "tag.removed")).scalar_one() == 2


def test_bulk_assign_an_owner(client, login, crowd):
    login(crowd["user"], crowd["account"])
    sam = crowd["sam"]
    response = bulk(client, crowd, ("alan", "grace", "ada"), action="assign_owner", owner_id=str(sam.id))
    assert response.status_code == 303
    assert "2 contacts assigned to Sam Seller." in client.get(response.headers["Location"]).text
    owners = dict(db.session.execute(select(Contact.first_name, Contact.owner_id)).all())
    assert owners["Alan"] == owners["Grace"] == owners["Ada"] == sam.id

    nobody = bulk(client, crowd, ("alan",), action="assign_owner", owner_id="")
    assert nobody.status_code == 303
    assert db.session.execute(select(Contact.owner_id).where(Contact.first_name == "Alan")).scalar_one() is None


def test_bulk_delete_asks_first_and_says_how_many(client, login, crowd, published):
    login(crowd["user"], crowd["account"])
    ask = bulk(client, crowd, ("alan", "linus"), action="delete")
    assert ask.status_code == 200 and "Delete 2 contacts?" in ask.text and 'name="confirmed" value="1"' in ask.text
    assert db.session.execute(select(func.count()).where(Contact.deleted_at.is_not(None))).scalar_one() == 0

    done = bulk(client, crowd, ("alan", "linus"), action="delete", confirmed="1")
    assert done.status_code == 303
    assert "2 contacts moved to the trash." in client.get(done.headers["Location"]).text
    gone = set(db.session.execute(select(Contact.first_name).where(Contact.deleted_at.is_not(None))).scalars())
    assert gone == {"Alan", "Linus"}
    assert sorted(p["contact_id"] for n, p in published if n == "contact.deleted") == \
        sorted([str(crowd["alan"].id), str(crowd["linus"].id)])
    trash = client.get("/contacts/trash").text
    assert "Alan Turing" in trash and "Linus Torvalds" in trash




def test_bulk_on_everything_matching_the_filter(client, owner, login):
    user, account = owner
    login(user, account)
    for i in range(30):
        make_contact(account, user, first_name=f"Lead{i:02d}", email=f"lead{i}@example.com", source="form")
    make_contact(account, user, first_name="Other", email="other@example.com", source="api")
    page = client.get("/contacts?source=form").text
    assert "All 30 matching the filter" in page

    response = client.post("/contacts/bulk", data={"scope": "all", "source": "form", "action": "add_tag",
                                                   "tag_name": "from-form"})
    assert response.status_code == 303
    tagged = db.session.execute(select(func.count()).select_from(Contact).join(Contact.tags)
                                .where(Tag.name == "from-form")).scalar_one()
    assert tagged == 30
    ask = client.post("/contacts/bulk", data={"scope": "all", "source": "form", "action": "delete"})
    assert "Delete 30 contacts?" in ask.text
    client.post("/contacts/bulk", data={"scope": "all", "source": "form", "action": "delete", "confirmed": "1"})
    live = db.session.execute(select(Contact.first_name).where(Contact.deleted_at.is_(None))).scalars().all()
    assert live == ["Other"]


def test_bulk_actions_are_services_that_say_what_they_did(crowd):
    account, user, sam = crowd["account"], crowd["user"], crowd["sam"]
    chosen = contacts.selection(account, {"source": "form"}, [str(crowd["ada"].id), str(crowd["alan"].id), "nope"])
    ids = contacts.bulk_targets(chosen, "add_tag")  # the ids chosen; the filter is for "everything" only
    assert sorted(ids) == sorted([crowd["ada"].id, crowd["alan"].id])
    added = contacts.bulk(account, ids, "add_tag", "customer", actor=user)
    assert (added.action, added.selected, added.changed, added.tag.name) == ("add_tag", 2, 1, "customer")

    everything = contacts.bulk_targets(contacts.selection(account, {"source": "form"}, [], everything=True),
                                       "assign_owner")
    assert sorted(everything) == sorted([crowd["grace"].id, crowd["katherine"].id])
    assigned = contacts.bulk(account, everything, "assign_owner", str(sam.id), actor=user)
    assert (assigned.changed, assigned.owner) == (1, sam)  # Katherine was Sam's already
    assert contacts.bulk(account, everything, "assign_owner", "", actor=user).owner is None

    for make_query, action, message in (
            (lambda: contacts.selection(account, {}, ["not-an-id"]), "delete", "Select at least one contact"),
            (lambda: contacts.selection(account, {}, [str(crowd["ada"].id)]), "explode", "Choose what to do"),
            (lambda: contacts.selection(account, {"created_from": "never"}, [], True), "delete", "Use a date")):
        with pytest.raises(ValidationError, match=message):
            contacts.bulk_targets(make_query(), action)


@pytest.mark.parametrize("data, message", [
    ({"action": "add_tag", "tag_name": "x"}, "Select at least one contact"),
    ({"action": "export"}, "Select at least one contact"),
    ({"ids": ["not-a-uuid"], "action": "add_tag", "tag_name": "x"}, "Select at least one contact"),
    ({"ids": "ADA", "action": ""}, "Choose what to do with the selected contacts."),
    ({"ids": "ADA", "action": "explode"}, "Choose what to do with the selected contacts."),
    ({"ids": "ADA", "action": "add_tag", "tag_name": "  "}, "Enter a tag name."),
    ({"ids": "ADA", "action": "remove_tag", "tag_id": ""}, "Choose a tag."),
    ({"ids": "ADA", "action": "remove_tag", "tag_id": "nope"}, "Choose a tag from the list."),
    ({"ids": "ADA", "action": "assign_owner", "owner_id": "STRANGER"}, "Choose a member of this workspace."),
    ({"scope": "all", "created_to": "never", "action": "delete"}, "Use a date like 2026-01-31."),
])
def test_bad_bulk_requests_are_explained(client, login, crowd, data, message):
    login(crowd["user"], crowd["account"])
    stranger = factories.make_user("stranger@example.com")
    factories.make_account(stranger, "Other")
    data = {k: (str(crowd["ada"].id) if v == "ADA" else str(stranger.id) if v == "STRANGER" else v)
            for k, v in data.items()}
    response = client.post("/contacts/bulk", data=data)
    assert response.status_code == 422 and message in response.text
    assert 'class="ct-bulk-error"' in response.text
    assert db.session.execute(select(func.count()).where(Contact.deleted_at.is_not(None))).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(Tag).where(Tag.name == "x")).scalar_one() == 0


def test_bulk_ignores_another_accounts_contacts(client, login, crowd):
    stranger = factories.make_user("stranger@example.com")
    other = factories.make_account(stranger, "Other")
    theirs = make_contact(other, stranger, first_name="Theirs")
    login(crowd["user"], crowd["account"])
    response = client.post("/contacts/bulk", data={"ids": [str(theirs.id)], "action": "delete", "confirmed": "1"})
    assert response.status_code == 422
    db.session.refresh(theirs)
    assert theirs.deleted_at is None
    exported = client.post("/contacts/bulk", data={"ids": [str(theirs.id), str(crowd["ada"].id)], "action": "export"})
    assert "Theirs" not in exported.text and "Ada" in exported.text


# ---- export --------------------------------------------------------------------------------------

def read_csv(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="contacts-')
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_export_the_whole_filter_with_every_field(client, login, crowd):
    login(crowd["user"], crowd["account"])
    response = client.get(f"/contacts/export?company={crowd['globex'].id}&sort=name")
    assert response.is_streamed
    rows = read_csv(response)
    assert [r["first_name"] for r in rows] == ["Ada", "Katherine"]
    ada = rows[0]
    assert list(ada)[:5] == ["id", "first_name", "last_name", "email", "phone"]
    assert ada["id"] == str(crowd["ada"].id) and ada["email"] == "ada@analytical.org"
    assert ada["phone"] == "+442079460958" and ada["company"] == "Globex Corporation"
    assert ada["company_domain"] == "globex.com" and ada["owner_email"] == "sam@example.com"
    assert ada["source"] == "referral" and ada["tags"] == "customer; vip"
    assert ada["plan"] == "Pro" and ada["newsletter"] == "yes" and ada["created_at"].startswith("20")

    everything = read_csv(client.get("/contacts/export"))
    assert len(everything) == 5
    assert client.get("/contacts/export?created_from=nope").status_code == 422


def test_export_the_selection(client, login, crowd):
    login(crowd["user"], crowd["account"])
    rows = read_csv(client.post("/contacts/bulk", data={"ids": [str(crowd["alan"].id), str(crowd["grace"].id)],
                                                         "action": "export", "sort": "name"}))
    assert [r["first_name"] for r in rows] == ["Alan", "Grace"]
    rows = read_csv(client.post("/contacts/bulk", data={"scope": "all", "source": "form", "action": "export"}))
    assert sorted(r["first_name"] for r in rows) == ["Grace", "Katherine"]


def test_export_cells_cannot_run_as_spreadsheet_formulas(client, owner, login):
    user, account = owner
    login(user, account)
    make_contact(account, user, first_name="=HYPERLINK(\"http://evil\")", last_name="@SUM(A1)", phone="+1 415 555 0100")
    row = read_csv(client.get("/contacts/export"))[0]
    assert row["first_name"].startswith("'=") and row["last_name"].startswith("'@")
    assert row["phone"] == "+14155550100"  # a phone number stays as it is


def test_export_of_many_contacts_streams_in_chunks(client, owner, login, count_queries):
    user, account = owner
    login(user, account)
    rows = [Contact(account_id=account.id, first_name=f"Bulk{i}", email=f"bulk{i}@example.com",
                    search_text=f"bulk{i}") for i in range(1200)]
    db.session.add_all(rows)
    db.session.commit()
    data = {}

    def run():
        data["rows"] = read_csv(client.get("/contacts/export"))

    queries = count_queries(run)
    assert len(data["rows"]) == 1200 and len({r["id"] for r in data["rows"]}) == 1200
    assert queries < 25  # a few per chunk of 500, not per contact
