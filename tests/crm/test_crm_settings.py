"""CRM settings: tags (create, rename, merge, recolour, delete, counts) and custom fields."""
import re

import pytest
from sqlalchemy import func, select

from app.crm.models import Contact, CustomField, Tag, contact_tags
from app.crm.services import contacts, tags
from app.extensions import db
from tests import factories
from tests.crm.conftest import HTMX
from tests.factories import make_contact


@pytest.fixture
def admin_client(signed_in, client):
    """The workspace's owner (an admin and more), logged in."""
    return client


def tag_named(name):
    db.session.expire_all()
    return db.session.execute(select(Tag).where(Tag.name == name)).scalar_one_or_none()


def tag_names_of(contact_id):
    db.session.expire_all()
    return sorted(tag.name for tag in db.session.get(Contact, contact_id).tags)


def flashes(client):
    html = client.get("/settings/crm").get_data(as_text=True)
    return re.findall(r'<div class="toast toast-\w+" role="\w+"><p>(.*?)</p>', html)


def row_of(html, element_id):
    return html.split(f'id="{element_id}"', 1)[1].split("</tr>", 1)[0]


# ---------- tags ----------

def test_tags_list_with_colours_and_counts(owner, admin_client):
    user, account = owner
    make_contact(account, user, email="a@example.com", tags=["VIP", "Newsletter"])
    make_contact(account, user, email="b@example.com", tags=["VIP"])
    gone = make_contact(account, user, email="c@example.com", tags=["VIP"])
    contacts.soft_delete(account, gone, user)  # deleted contacts do not count
    tags.create(account, {"name": "Unused", "color": "teal"})

    html = admin_client.get("/settings/crm").get_data(as_text=True)
    vip, newsletter, unused = tag_named("VIP"), tag_named("Newsletter"), tag_named("Unused")
    assert re.search(r'<td class="num">2</td>', row_of(html, f"tag-{vip.id}"))
    assert re.search(r'<td class="num">1</td>', row_of(html, f"tag-{newsletter.id}"))
    assert re.search(r'<td class="num">0</td>', row_of(html, f"tag-{unused.id}"))
    assert "swatch-teal" in row_of(html, f"tag-{unused.id}")
    assert html.index("Newsletter") < html.index("Unused") < html.index(">VIP<")  # by name
    assert 'href="/deals/pipelines"' in html  # pipelines are managed with the deals


def test_create_a_tag_and_bad_names(owner, admin_client):
    response = admin_client.post("/settings/crm/tags", data={"name": "Hot lead", "color": "red"})
    assert response.status_code == 303
    assert (tag_named("Hot lead").color) == "red"
    assert "Tag “Hot lead” created." in flashes(admin_client)

    for data, message in (({"name": "hot LEAD", "color": "blue"}, "A tag with this name exists already."),
                          ({"name": "", "color": "blue"}, "Enter a tag name."),
                          ({"name": "x" * 51, "color": "blue"}, "A tag name has at most 50 characters."),
                          ({"name": "Fine", "color": "chartreuse"}, "Choose a colour from")):
        response = admin_client.post("/settings/crm/tags", data=data, headers=HTMX)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, data
        assert html.lstrip().startswith('<form method="post" action="/settings/crm/tags"')
        assert message in html
    assert db.session.execute(select(func.count()).select_from(Tag)).scalar_one() == 1


def test_rename_and_recolour_a_tag(owner, admin_client):
    user, account = owner
    contact = make_contact(account, user, email="a@example.com", tags=["Hot"])
    tag = tag_named("Hot")
    page = admin_client.get(f"/settings/crm/tags/{tag.id}/edit").get_data(as_text=True)
    assert "merges the two" in page and "1 contact carry this tag." in page

    response = admin_client.post(f"/settings/crm/tags/{tag.id}/edit", data={"name": "Warm", "color": "orange"})
    assert response.status_code == 303
    renamed = db.session.get(Tag, tag.id)
    assert (renamed.name, renamed.color) == ("Warm", "orange")
    assert tag_names_of(contact.id) == ["Warm"]
    assert "Tag “Hot” renamed to “Warm”." in flashes(admin_client)

    admin_client.post(f"/settings/crm/tags/{tag.id}/edit", data={"name": "Warm", "color": "pink"})
    assert db.session.get(Tag, tag.id).color == "pink"

    response = admin_client.post(f"/settings/crm/tags/{tag.id}/edit", data={"name": " ", "color": "pink"})
    assert response.status_code == 422 and "Enter a tag name." in response.get_data(as_text=True)


def test_renaming_to_an_existing_name_merges_the_tags(owner, admin_client):
    user, account = owner
    only_old = make_contact(account, user, email="a@example.com", tags=["Customer"])
    both = make_contact(account, user, email="b@example.com", tags=["Customer", "Client"])
    only_target = make_contact(account, user, email="c@example.com", tags=["Client"])
    neither = make_contact(account, user, email="d@example.com", tags=["Other"])
    source, target = tag_named("Customer"), tag_named("Client")
    source_id, target_id = source.id, target.id

    response = admin_client.post(f"/settings/crm/tags/{source_id}/edit", data={"name": "client", "color": "green"})
    assert response.status_code == 303

    assert db.session.get(Tag, source_id) is None
    assert db.session.get(Tag, target_id).name == "Client"
    for contact in (only_old, both, only_target):
        assert tag_names_of(contact.id) == ["Client"]
    assert tag_names_of(neither.id) == ["Other"]
    rows = db.session.execute(select(contact_tags.c.contact_id).where(contact_tags.c.tag_id == target_id)).all()
    assert len(rows) == 3  # no duplicates
    message = flashes(admin_client)[0]
    assert "merged into “Client”" in message and "3 in all" in message and "“Customer” was deleted" in message
    html = admin_client.get("/settings/crm").get_data(as_text=True)
    assert re.search(r'<td class="num">3</td>', row_of(html, f"tag-{target_id}"))


def test_the_tag_service_says_whether_it_renamed_or_merged(owner):
    user, account = owner
    make_contact(account, user, email="a@example.com", tags=["Customer"])
    make_contact(account, user, email="b@example.com", tags=["Customer", "Client"])
    make_contact(account, user, email="c@example.com", tags=["Client"])
    customer, client_tag = tag_named("Customer"), tag_named("Client")

    kept = tags.update(account, client_tag, {"name": "Client", "color": "teal"})
    assert (kept.tag.id, kept.old_name, kept.merged, kept.renamed) == (client_tag.id, "Client", False, False)
    renamed = tags.update(account, client_tag, {"name": "Clients", "color": "teal"})
    assert (renamed.old_name, renamed.tag.name, renamed.merged, renamed.renamed) == ("Client", "Clients", False, True)
    merged = tags.update(account, customer, {"name": "clients", "color": "gray"})
    assert merged.merged and merged.tag.id == client_tag.id and merged.old_name == "Customer"
    assert (merged.moved, merged.total) == (2, 3)  # Customer's two contacts; three carry Clients now


def test_delete_a_tag_keeps_its_contacts(owner, admin_client):
    user, account = owner
    contact = make_contact(account, user, email="a@example.com", tags=["Old", "Keep"])
    make_contact(account, user, email="b@example.com", tags=["Old"])
    tag = tag_named("Old")
    tag_id = tag.id
    html = admin_client.get("/settings/crm").get_data(as_text=True)
    assert "It is removed from 2 contacts. The contacts themselves stay." in html
    assert f'data-dialog-open="delete-tag-{tag_id}"' in html

    response = admin_client.post(f"/settings/crm/tags/{tag_id}/delete")
    assert response.status_code == 303
    assert db.session.get(Tag, tag_id) is None
    assert tag_names_of(contact.id) == ["Keep"]
    assert db.session.execute(select(func.count()).select_from(Contact)).scalar_one() == 2
    assert "Tag “Old” deleted and removed from 2 contacts." in flashes(admin_client)


# ---------- custom fields ----------

def field_keys():
    db.session.expire_all()
    return [f.key for f in db.session.execute(select(CustomField).order_by(CustomField.position)).scalars()]


def test_create_custom_fields(owner, admin_client):
    response = admin_client.post("/settings/crm/fields", data={"label": "Plan size", "field_type": "dropdown",
                                                               "options": "Small\r\nMedium, large\r\n\r\nSmall\r\n",
                                                               "required": "y"})
    assert response.status_code == 303
    field = db.session.execute(select(CustomField)).scalar_one()
    assert (field.key, field.label, field.field_type, field.options, field.required) == (
        "plan_size", "Plan size", "dropdown", ["Small", "Medium, large"], True)
    assert "Custom field “Plan size” (dropdown) created." in flashes(admin_client)[0]

    admin_client.post("/settings/crm/fields", data={"label": "Birthday", "key": "born_on", "field_type": "date"})
    admin_client.post("/settings/crm/fields", data={"label": "Score", "field_type": "number", "options": "ignored"})
    assert field_keys() == ["plan_size", "born_on", "score"]
    html = admin_client.get("/settings/crm").get_data(as_text=True)
    assert "<code>born_on</code>" in html and "Small, Medium, large" in html and "required" in html


@pytest.mark.parametrize("data, field, message", [
    ({"label": "Plan", "key": "9lives"}, "key", "Use lower-case letters, digits and _; start with a letter."),
    ({"label": "Plan", "key": "has space"}, "key", "Use lower-case letters, digits and _; start with a letter."),
    ({"label": "Plan", "key": "plan"}, "key", "A field with this key exists already."),
    ({"label": "Plan"}, "key", "A field with this key exists already."),  # the key made from the label
    ({"label": "Size", "field_type": "dropdown", "options": " \r\n "}, "options",
     "A dropdown needs at least one option (one a line)."),
    ({"label": "", "field_type": "text"}, "label", "This field is required."),
    ({"label": "Odd", "field_type": "colour"}, "field_type", "Choose a type from"),
])
def test_bad_custom_fields_are_refused_next_to_the_field(owner, admin_client, data, field, message):
    admin_client.post("/settings/crm/fields", data={"label": "Plan", "field_type": "text"})
    response = admin_client.post("/settings/crm/fields", data={"field_type": "text", **data},
                                 headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'id="{field}-error">{re.escape(message)}', html), html
    assert field_keys() == ["plan"]


def test_edit_and_delete_a_custom_field(owner, admin_client):
    user, account = owner
    admin_client.post("/settings/crm/fields",
                      data={"label": "Tier", "field_type": "dropdown", "options": "Gold\nSilver"})
    field = db.session.execute(select(CustomField)).scalar_one()
    field_id = field.id
    contact = contacts.create(account, {"first_name": "Pat", "custom_fields": {"tier": "Gold"}}, user)

    page = admin_client.get(f"/settings/crm/fields/{field_id}/edit").get_data(as_text=True)
    assert "Gold\nSilver" in page and "<code>tier</code>" in page

    bad = admin_client.post(f"/settings/crm/fields/{field_id}/edit", data={"label": "Tier", "options": ""})
    assert bad.status_code == 422 and "A dropdown needs at least one option" in bad.get_data(as_text=True)

    response = admin_client.post(f"/settings/crm/fields/{field_id}/edit",
                                 data={"label": "Loyalty tier", "options": "Gold\nSilver\nBronze", "required": "y"})
    assert response.status_code == 303
    db.session.expire_all()
    field = db.session.get(CustomField, field_id)
    assert (field.label, field.options, field.required, field.key) == (
        "Loyalty tier", ["Gold", "Silver", "Bronze"], True, "tier")

    html = admin_client.get("/settings/crm").get_data(as_text=True)
    assert "Values already entered are kept but hidden" in html
    response = admin_client.post(f"/settings/crm/fields/{field_id}/delete")
    assert response.status_code == 303
    assert db.session.get(CustomField, field_id) is None
    assert db.session.get(Contact, contact.id).custom_fields == {"tier": "Gold"}  # the value is kept
    assert "Custom field “Loyalty tier” deleted." in flashes(admin_client)[0]


def test_empty_states(owner, admin_client):
    html = admin_client.get("/settings/crm").get_data(as_text=True)
    assert "No tags yet" in html and "No custom fields yet" in html


# ---------- roles and tenancy ----------

@pytest.mark.parametrize("role", ["viewer", "user"])
def test_only_admins_change_crm_settings(owner, client, login, role):
    user, account = owner
    tag = tags.create(account, {"name": "VIP"})
    from app.crm.services import custom_fields

    field = custom_fields.create(account, {"label": "Plan"})
    member = factories.add_member(account, role)
    login(member, account)
    html = client.get("/settings/crm").get_data(as_text=True)
    assert "VIP" in html and "Plan" in html and "Only admins change them." in html
    assert 'id="tag-form"' not in html and 'id="field-form"' not in html and "delete-tag-" not in html

    for method, url, data in (("post", "/settings/crm/tags", {"name": "New"}),
                              ("get", f"/settings/crm/tags/{tag.id}/edit", None),
                              ("post", f"/settings/crm/tags/{tag.id}/edit", {"name": "Renamed"}),
                              ("post", f"/settings/crm/tags/{tag.id}/delete", None),
                              ("post", "/settings/crm/fields", {"label": "New"}),
                              ("get", f"/settings/crm/fields/{field.id}/edit", None),
                              ("post", f"/settings/crm/fields/{field.id}/edit", {"label": "Renamed"}),
                              ("post", f"/settings/crm/fields/{field.id}/delete", None)):
        assert getattr(client, method)(url, data=data).status_code == 403, url
    db.session.expire_all()
    assert [t.name for t in db.session.execute(select(Tag)).scalars()] == ["VIP"]
    assert [f.label for f in db.session.execute(select(CustomField)).scalars()] == ["Plan"]


def test_another_accounts_tags_and_fields_are_not_found(owner, admin_client):
    other_owner = factories.make_user("other@example.com")
    ids = factories.populate_crm(factories.make_account(other_owner, "Other"), other_owner)
    tag_id, field_id = ids["tag_id"], ids["custom_field_id"]
    assert admin_client.get(f"/settings/crm/tags/{tag_id}/edit").status_code == 404
    assert admin_client.post(f"/settings/crm/tags/{tag_id}/edit", data={"name": "Mine"}).status_code == 404
    assert admin_client.post(f"/settings/crm/tags/{tag_id}/delete").status_code == 404
    assert admin_client.get(f"/settings/crm/fields/{field_id}/edit").status_code == 404
    assert admin_client.post(f"/settings/crm/fields/{field_id}/edit", data={"label": "Mine"}).status_code == 404
    assert admin_client.post(f"/settings/crm/fields/{field_id}/delete").status_code == 404
    assert db.session.get(Tag, tag_id) is not None and db.session.get(CustomField, field_id) is not None
    html = admin_client.get("/settings/crm").get_data(as_text=True)
    assert "vip-" not in html  # the other account's tag is not listed
