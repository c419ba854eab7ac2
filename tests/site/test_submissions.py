"""Visitor forms on published pages: contact, tags, event, redirect; every bad input."""
import re
import time

from sqlalchemy import func, select

from app.crm.models import Contact, CustomField
from app.extensions import db
from app.funnels import publishing
from app.site import submissions
from tests.site.conftest import SITE, site_get


def hidden_inputs(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))


def field_ids(funnel) -> dict:
    form = funnel.steps[0].page.tree["children"][0]["children"][0]["children"][0]["children"][1]
    return {child["props"]["maps_to"]: child["id"] for child in form["children"]}


def submit(client, funnel, answers: dict, extra: dict | None = None, page_html: str | None = None, ids=None):
    html = page_html or site_get(client, "/free-guide/opt-in").text
    hidden = hidden_inputs(html)
    ids = ids or field_ids(funnel)
    data = {"form_id": hidden["form_id"], "page_id": hidden["page_id"], "form_token": hidden["form_token"],
            "website": ""}
    for target, value in answers.items():
        data[ids[target]] = value
    data.update(extra or {})
    return client.post(f"/_forms/{hidden['page_id']}", base_url=SITE, data=data)


def contacts_count():
    return db.session.execute(select(func.count()).select_from(Contact)).scalar_one()


GOOD = {"email": "Ada@Example.com", "first_name": "Ada", "custom:team_size": "11-50",
        "custom:interests": ["SEO", "Ads"], "custom:question": "How soon?"}


def test_success_creates_the_contact_with_tags_event_and_goes_to_the_next_step(client, live, owner, published):
    user, account = owner
    db.session.add(CustomField(account_id=account.id, key="team_size", label="Team size", field_type="text"))
    db.session.commit()
    response = submit(client, live, GOOD)
    assert response.status_code == 303
    assert response.headers["Location"] == "http://pages.example.com/free-guide/thanks"
    contact = db.session.execute(select(Contact)).scalar_one()
    assert contact.email == "ada@example.com" and contact.first_name == "Ada" and contact.source == "form"
    assert [tag.name for tag in contact.tags] == ["lead-magnet"]
    assert contact.custom_fields == {"team_size": "11-50"}  # only custom fields the account has
    event = next(payload for name, payload in published if name == "form.submitted")
    page = live.steps[0].page
    assert event["account_id"] == str(account.id) and event["funnel_id"] == str(live.id)
    assert event["step_id"] == str(page.step_id) and event["page_id"] == str(page.id)
    assert event["contact_id"] == str(contact.id) and event["form_id"] == field_form_id(live)
    assert event["fields"]["email"] == "ada@example.com"
    assert event["fields"]["unmapped"] == {"custom:interests": ["SEO", "Ads"], "custom:question": "How soon?"}
    assert any(name == "tag.added" and payload["tag"] == "lead-magnet" for name, payload in published)


def field_form_id(funnel):
    return funnel.steps[0].page.tree["children"][0]["children"][0]["children"][0]["children"][1]["id"]


def test_an_existing_contact_is_updated_not_duplicated(client, live, published):
    html = site_get(client, "/free-guide/opt-in").text
    submit(client, live, GOOD, page_html=html)
    hidden = hidden_inputs(html)
    later = submissions.mint_token(hidden["page_id"], hidden["form_id"], now=time.time() + 60)  # another visit
    submit(client, live, {**GOOD, "first_name": "Ada L."}, extra={"form_token": later})
    assert contacts_count() == 1
    assert db.session.execute(select(Contact)).scalar_one().first_name == "Ada L."
    assert [name for name, _ in published].count("form.submitted") == 2


def test_same_token_and_email_again_is_a_duplicate(client, live, published):
    html = site_get(client, "/free-guide/opt-in").text
    submit(client, live, GOOD, page_html=html)
    again = submit(client, live, {**GOOD, "first_name": "Ada L."}, page_html=html)  # back, edit, send again
    assert again.status_code == 303 and again.headers["Location"].endswith("/free-guide/thanks")
    assert [name for name, _ in published].count("form.submitted") == 1


def test_submitted_twice_in_a_row_one_contact_one_event(client, live, published):
    html = site_get(client, "/free-guide/opt-in").text
    first = submit(client, live, GOOD, page_html=html)
    second = submit(client, live, GOOD, page_html=html)
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert contacts_count() == 1
    assert [name for name, _ in published].count("form.submitted") == 1


def test_missing_required_fields_keeps_what_was_typed(client, live):
    response = submit(client, live, {"email": "", "first_name": "", "custom:question": "Still here?"})
    assert response.status_code == 422
    assert "Your e-mail is required." in response.text and "First name is required." in response.text
    assert "Still here?</textarea>" in response.text
    assert 'aria-invalid="true"' in response.text
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert contacts_count() == 0
    again = hidden_inputs(response.text)
    assert again["form_token"] and "{{" not in again["form_token"]  # a fresh token to send it again


def test_invalid_email(client, live):
    response = submit(client, live, {"email": "not-an-email", "first_name": "Ada"})
    assert response.status_code == 422
    assert "Enter a valid e-mail address" in response.text
    assert 'value="not-an-email"' in response.text and 'value="Ada"' in response.text
    assert contacts_count() == 0


def test_ten_thousand_characters_are_refused_not_truncated(client, live):
    response = submit(client, live, {**GOOD, "first_name": "A" * 10_000})
    assert response.status_code == 422
    assert "First name is too long: at most 500 characters (this has 10,000)." in response.text
    long = submit(client, live, {**GOOD, "custom:question": "Q" * 10_000})
    assert long.status_code == 422 and "at most 5,000 characters" in long.text
    assert contacts_count() == 0


def test_choices_must_be_among_the_options(client, live):
    response = submit(client, live, {**GOOD, "custom:team_size": "1000", "custom:interests": ["SEO", "Hacking"]})
    assert response.status_code == 422
    assert "Team size: choose one of the options." in response.text
    assert "Interests: choose among the options shown." in response.text
    assert contacts_count() == 0


def test_honeypot_pretends_success_and_saves_nothing(client, live, published):
    response = submit(client, live, GOOD, extra={"website": "http://spam.example.com"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/free-guide/thanks")
    assert contacts_count() == 0
    assert not [name for name, _ in published if name == "form.submitted"]


def test_rate_limit_per_ip_and_page(client, live, app):
    html = site_get(client, "/free-guide/opt-in").text
    statuses = [submit(client, live, {**GOOD, "email": f"lead{i}@example.com"}, page_html=html).status_code
                for i in range(11)]
    assert statuses[:10] == [303] * 10
    assert statuses[10] == 429
    blocked = submit(client, live, GOOD, page_html=html)
    assert "Too many attempts" in blocked.text and "lf-error" in blocked.text


def test_bad_token_is_a_clear_error(client, live):
    response = submit(client, live, GOOD, extra={"form_token": "123.forged"})
    assert response.status_code == 400
    assert "security token is not valid" in response.text
    assert contacts_count() == 0
    missing = submit(client, live, GOOD, extra={"form_token": ""})
    assert missing.status_code == 400


def test_token_of_another_page_or_form_is_refused(client, live, app):
    hidden = hidden_inputs(site_get(client, "/free-guide/opt-in").text)
    stolen = submissions.mint_token(live.steps[1].page.id, hidden["form_id"])
    assert submit(client, live, GOOD, extra={"form_token": stolen}).status_code == 400


def test_expired_token_asks_to_send_again_keeping_the_answers(client, live):
    hidden = hidden_inputs(site_get(client, "/free-guide/opt-in").text)
    old = submissions.mint_token(hidden["page_id"], hidden["form_id"], now=time.time() - 25 * 3600)
    response = submit(client, live, GOOD, extra={"form_token": old})
    assert response.status_code == 422
    assert "the form expired" in response.text and 'value="Ada"' in response.text
    assert contacts_count() == 0
    retry = submit(client, live, GOOD, page_html=response.text)  # with the fresh token of the re-rendered page
    assert retry.status_code == 303 and contacts_count() == 1


def test_form_of_an_unpublished_page_is_404(client, live, owner):
    user, account = owner
    html = site_get(client, "/free-guide/opt-in").text
    publishing.unpublish_page(account, live.steps[0].page, user)
    response = submit(client, live, GOOD, page_html=html)
    assert response.status_code == 404 and "Page not found" in response.text
    assert contacts_count() == 0


def test_form_posts_are_site_only_and_need_no_csrf(client, live, csrf_enabled):
    assert submit(client, live, GOOD).status_code == 303  # no CSRF token: visitors have no session
    hidden = hidden_inputs(site_get(client, "/free-guide/opt-in").text)
    assert client.post(f"/_forms/{hidden['page_id']}", data={}).status_code in (400, 404)  # app host: not here


def test_validated_against_the_published_version_not_the_draft(client, live, owner):
    """A field removed in the draft after publishing is still the published form's field."""
    from app.builder.services import save_tree
    from app.pages import tree as trees

    user, account = owner
    page = live.steps[0].page
    ids = field_ids(live)
    tree = trees.validate(page.tree)
    form = tree["children"][0]["children"][0]["children"][0]["children"][1]
    form["children"] = [child for child in form["children"] if child["props"]["maps_to"] != "first_name"]
    save_tree(account, page, tree, user)
    response = submit(client, live, {**GOOD, "first_name": ""}, ids=ids)
    assert response.status_code == 422 and "First name is required." in response.text


def test_a_date_field_takes_only_a_date_in_the_sane_range(client, owner):
    """Visitors' dates are read like every date the app stores (core.dates.parse_date): 0001-01-01 is not one."""
    from app.pages import tree as trees
    from tests.site.conftest import make_funnel

    user, account = owner
    form = trees.new_element("form", props={"tags": [], "action": "next_step", "submit_label": "Book"}, children=[
        trees.new_element("input_field", props={"label": "Your e-mail", "maps_to": "email", "input_type": "email",
                                                "required": True}),
        trees.new_element("input_field", props={"label": "Start date", "maps_to": "custom:start",
                                                "input_type": "date", "required": True}),
    ])
    funnel = make_funnel(account, user, form=form)
    publishing.publish_funnel(account, funnel, user)
    for typed in ("0001-01-01", "9999-12-31", "05/04/2026", "2026-02-30"):
        response = submit(client, funnel, {"email": "ada@example.com", "custom:start": typed})
        assert response.status_code == 422, typed
        assert "Start date: enter a date between 1900 and 2199 (YYYY-MM-DD)." in response.text
    assert contacts_count() == 0
    response = submit(client, funnel, {"email": "ada@example.com", "custom:start": "2026-05-04"})
    assert response.status_code == 303 and contacts_count() == 1
