"""Funnel templates: the system templates' content, the gallery, previews, "use template", "save as
template" and deleting a workspace template (with roles and other accounts)."""
import re
from datetime import UTC

import pytest
from sqlalchemy import func, select

from app.core.models import AuditEvent
from app.extensions import db
from app.funnels import services as funnels
from app.funnels import versions
from app.funnels.models import Funnel, FunnelTemplate
from app.funnels.publishing import problems
from app.funnels.system_templates import all_templates, get
from app.funnels.system_templates.webinar import session_start
from app.pages import tree as trees
from tests import factories

TEMPLATES = all_templates()
KEYS = [template.key for template in TEMPLATES]


@pytest.fixture
def member(owner, client, login):
    user, account = owner
    login(user, account)
    return user, account


def make_funnel_from(account, user, key, slug=None):
    template = get(key)
    return funnels.create_from_snapshot(account, template.snapshot(), {"name": template.name, "slug": slug or key},
                                        user, summary=f"Created from template {template.name}")


def element_ids(tree):
    return {element["id"] for element, _, _ in trees.walk(tree) if element["id"] != "root"}


def linked_step_ids(tree):
    return [element["props"]["step_id"] for element, _, _ in trees.walk(tree)
            if (element.get("props") or {}).get("action") == "step"]


# ---- the system templates -----------------------------------------------------------------------------

def test_the_five_templates_the_issue_asks_for():
    types = {template.funnel_type for template in TEMPLATES}
    assert {"lead_generation", "sales", "webinar", "application", "product_launch"} <= types
    assert len(set(KEYS)) == len(KEYS) >= 5
    tripwire = get("tripwire").snapshot()
    assert [step["step_type"] for step in tripwire["steps"]] == [
        "page", "order_form", "upsell", "downsell", "thank_you"]  # the order bump is a box of the order form
    with pytest.raises(KeyError):
        get("nope")


@pytest.mark.parametrize("key", KEYS)
def test_every_page_of_a_template_validates_and_reads_like_real_copy(key):
    snapshot = get(key).snapshot()
    assert snapshot["funnel"]["funnel_type"] == get(key).funnel_type
    slugs = [step["slug"] for step in snapshot["steps"]]
    assert len(set(slugs)) == len(slugs)
    assert snapshot["steps"][-1]["step_type"] == "thank_you"
    for step in snapshot["steps"]:
        assert set(step) == {"id", "name", "slug", "step_type", "settings", "page"}
        tree = step["page"]["tree"]
        assert trees.validate(tree) == tree
        assert step["page"]["title"] and step["page"]["seo_description"]
        text = str(tree).lower()
        assert "lorem" not in text and "your headline here" not in text
        types = [element["type"] for element, _, _ in trees.walk(tree)]
        assert "headline" in types and {"button", "form", "order_form", "offer_buttons"} & set(types)
        for element, _, _ in trees.walk(tree):
            if element["type"] in ("image", "gif"):
                assert element["props"]["alt"] and element["props"]["width"] and element["props"]["height"]
                assert element["props"]["src"].startswith("/static/img/templates/")
            if element["type"] in ("form", "order_form"):
                assert any(child["props"]["maps_to"] == "email" for child in element["children"])


# What Leadforge does not do yet: send e-mails to leads, take payments. A template's pages must not say it did.
# Since issue 10 the checkout, one-click offers and receipts work, so templates may speak of them.
PROMISES_NOT_KEPT = ("your inbox", "we've sent", "we'll send", "e-mailed", "we e-mail", "we'll e-mail", "by e-mail",
                     "confirmation e-mail", "check your e-mail", "order is confirmed", "order complete",
                     "unsubscribe")


@pytest.mark.parametrize("key", KEYS)
def test_the_pages_of_a_template_say_only_what_works_today(key):
    template = get(key)
    written = [template.description]
    for step in template.snapshot()["steps"]:
        page = step["page"]
        written += [page["title"], page["seo_description"]]
        for element, _, _ in trees.walk(page["tree"]):
            props = element.get("props") or {}
            written += [str(value) for value in props.values()]
    words = " | ".join(written).lower().replace("’", "'")
    assert not [promise for promise in PROMISES_NOT_KEPT if promise in words]


def test_what_each_template_promises_is_on_its_pages():
    def types_of(key, index):
        return {element["type"] for element, _, _ in trees.walk(get(key).snapshot()["steps"][index]["page"]["tree"])}

    assert {"form", "image", "social_proof", "testimonial"} <= types_of("lead-magnet", 0)
    assert {"video", "button"} <= types_of("lead-magnet", 1)
    assert {"order_form", "progress_bar", "testimonial"} <= types_of("tripwire", 1)  # the order form, its summary
    assert {"countdown_evergreen", "offer_buttons"} <= types_of("tripwire", 2)
    assert "offer_buttons" in types_of("tripwire", 3)
    assert {"countdown_timer", "form", "image"} <= types_of("webinar", 0)
    assert "progress_bar" in types_of("webinar", 1)
    assert {"input_field", "textarea", "dropdown", "checkbox_group"} <= types_of("application", 0)
    assert {"countdown_evergreen", "form"} <= types_of("product-launch", 0)
    assert {"pricing_table", "testimonial", "image_gallery"} <= types_of("product-launch", 1)
    lead_form = next(element for element, _, _ in trees.walk(get("lead-magnet").snapshot()["steps"][0]["page"]["tree"])
                     if element["type"] == "form")
    assert "lead-magnet" in lead_form["props"]["tags"]
    assert {child["props"]["maps_to"] for child in lead_form["children"]} == {"first_name", "email"}


def test_the_images_the_templates_use_exist(app):
    from pathlib import Path

    static = Path(app.static_folder)
    for template in TEMPLATES:
        assert (static / template.thumbnail).is_file(), template.thumbnail
        for step in template.snapshot()["steps"]:
            for element, _, _ in trees.walk(step["page"]["tree"]):
                props = element.get("props") or {}
                for src in [props.get("src"), props.get("avatar"), *(i["src"] for i in props.get("images") or [])]:
                    if src:
                        assert (static / src.removeprefix("/static/")).is_file(), src


def test_the_webinar_date_is_always_a_thursday_a_week_or_more_ahead():
    from datetime import datetime

    for day in range(1, 15):
        now = datetime(2026, 3, day, 20, 0, tzinfo=UTC)
        start = session_start(now)
        assert start.weekday() == 3 and start.hour == 17 and (start - now).days >= 6
    deadline = next(element["props"]["deadline"] for element, _, _ in trees.walk(
        get("webinar").snapshot()["steps"][0]["page"]["tree"]) if element["type"] == "countdown_timer")
    assert datetime.fromisoformat(deadline).replace(tzinfo=UTC) > datetime.now(UTC)


@pytest.mark.parametrize("key", KEYS)
def test_a_funnel_from_a_template_has_every_page_ready_to_publish(owner, key):
    user, account = owner
    snapshot = get(key).snapshot()
    funnel = make_funnel_from(account, user, key)
    db.session.expire_all()
    funnel = db.session.get(Funnel, funnel.id)
    assert [(s.name, s.slug, s.step_type) for s in funnel.steps] == [
        (s["name"], s["slug"], s["step_type"]) for s in snapshot["steps"]]
    step_ids = {str(step.id) for step in funnel.steps}
    template_step_ids = {step["id"] for step in snapshot["steps"]}
    template_element_ids = set().union(*(element_ids(step["page"]["tree"]) for step in snapshot["steps"]))
    for step, source in zip(funnel.steps, snapshot["steps"]):
        assert step.page is not None and step.page.title == source["page"]["title"]
        assert problems(step.page) == [], (step.name, problems(step.page))
        assert not element_ids(step.page.tree) & template_element_ids  # fresh element ids
        assert len(element_ids(step.page.tree)) == len(element_ids(source["page"]["tree"]))
        for target in linked_step_ids(step.page.tree):  # links to a step point to the new funnel's step
            assert target in step_ids and target not in template_step_ids
    assert funnel.status == "draft" and funnel.funnel_type == get(key).funnel_type


def test_the_sales_page_links_to_the_order_form_step_of_the_new_funnel(owner):
    user, account = owner
    funnel = make_funnel_from(account, user, "tripwire")
    sales = next(step for step in funnel.steps if step.step_type == "page")
    checkout = next(step for step in funnel.steps if step.step_type == "order_form")
    assert linked_step_ids(sales.page.tree) == [str(checkout.id)]


ANSWERS = {"email": "ann@example.com", "tel": "+1 415 555 2671", "url": "https://ann.example.com", "text": "Ann",
           "number": "3", "date": "2026-05-01"}


@pytest.mark.parametrize("key, tags", [("lead-magnet", {"lead-magnet", "inbox-to-income"}),
                                       ("application", {"applicant", "growth-accelerator"}),
                                       ("webinar", {"webinar", "masterclass-registrant"})])
def test_a_published_template_form_makes_a_contact_and_goes_to_the_next_step(owner, client, key, tags):
    """Filled in as a visitor would, in a workspace whose "budget" custom field is a number."""
    from app.crm.models import Contact
    from app.crm.services import custom_fields
    from app.funnels.publishing import public_path, publish_funnel

    user, account = owner
    custom_fields.create(account, {"label": "Budget", "key": "budget", "field_type": "number"})
    funnel = make_funnel_from(account, user, key)
    publish_funnel(account, funnel, user)
    first, second = funnel.steps[0], funnel.steps[1]
    site = "http://pages.example.com"
    html = client.get(public_path(first), base_url=site).get_data(as_text=True)
    form = next(element for element, _, _ in trees.walk(first.page.tree) if element["type"] == "form")
    posted = {"form_id": form["id"], "page_id": str(first.page.id),
              "form_token": re.search(rf'id="lf-form-{form["id"]}".*?name="form_token" value="([^"]*)"', html,
                                      re.S).group(1)}
    for field in form["children"]:
        props = field["props"]
        posted[field["id"]] = (props["options"][0] if field["type"] in ("dropdown", "checkbox_group") else
                               "Referrals dried up." if field["type"] == "textarea" else
                               ANSWERS[props.get("input_type", "text")])
    action = re.search(r'<form[^>]*action="([^"]+)"', html).group(1).removeprefix(site)
    response = client.post(action, data=posted, base_url=site)
    errors = re.findall(r'class="lf-form__summary.*?</div>', response.get_data(as_text=True), re.S)
    assert response.status_code in (302, 303), errors
    assert response.headers["Location"].endswith(public_path(second))
    contact = db.session.execute(select(Contact).where(Contact.email == "ann@example.com")).scalar_one()
    assert {tag.name for tag in contact.tags} == tags


# ---- the gallery and previews -------------------------------------------------------------------------

def test_the_gallery_lists_the_system_templates_with_their_steps(member, client):
    response = client.get("/funnels/templates")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for template in TEMPLATES:
        assert template.name in html
        assert f"/funnels/templates/{template.key}/preview" in html
        assert f"/funnels/templates/{template.key}/use" in html
        assert f"{template.step_count} steps" in html
    assert "Order form → Upsell → Downsell" in html
    assert "No templates of your own yet" in html
    assert "/static/img/templates/" in html


def test_the_gallery_filters_by_funnel_type(member, client):
    html = client.get("/funnels/templates?type=webinar").get_data(as_text=True)
    assert "Webinar registration" in html and "Tripwire sale" not in html
    html = client.get("/funnels/templates?type=other").get_data(as_text=True)
    assert "No Leadforge template of this type" in html
    assert "Tripwire sale" in client.get("/funnels/templates?type=bogus").get_data(as_text=True)


def test_workspace_templates_paginate(member, client):
    user, account = member
    funnel = funnels.create_funnel(account, {"name": "Base", "slug": "base"}, user)
    for number in range(22):
        db.session.add(FunnelTemplate(account_id=account.id, name=f"Saved {number:02d}", funnel_type="sales",
                                      snapshot=versions.snapshot_of(funnel)))
    db.session.commit()
    first = client.get("/funnels/templates").get_data(as_text=True)
    assert "1–20 of 22" in first and 'rel="next"' in first
    second = client.get("/funnels/templates?page=2").get_data(as_text=True)
    assert "21–22 of 22" in second
    assert "No templates of your own yet" not in second
    past_the_end = client.get("/funnels/templates?page=9").get_data(as_text=True)
    assert "No more templates here" in past_the_end and "No templates of your own yet" not in past_the_end
    filtered = client.get("/funnels/templates?type=webinar").get_data(as_text=True)
    assert "None of your templates is of this type" in filtered


@pytest.mark.parametrize("key", KEYS)
def test_a_preview_shows_every_step_in_a_frame(member, client, key):
    template = get(key)
    html = client.get(f"/funnels/templates/{key}/preview").get_data(as_text=True)
    for outline in template.outline:
        assert outline.name in html
    assert f'src="/funnels/templates/{key}/frame?step=0"' in html
    for index, step in enumerate(template.snapshot()["steps"]):
        frame = client.get(f"/funnels/templates/{key}/frame?step={index}")
        assert frame.status_code == 200
        body = frame.get_data(as_text=True)
        assert body.startswith("<!doctype html>") and 'class="lf-page' in body
        assert step["page"]["title"].replace("'", "&#39;") in body
        assert "frame-ancestors 'self'" in frame.headers["Content-Security-Policy"]
        assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"
        if index + 1 < template.step_count:  # the page's buttons and forms lead to the next step's frame
            assert f"/funnels/templates/{key}/frame?step={index + 1}" in body


def test_preview_step_and_device_arguments(member, client):
    html = client.get("/funnels/templates/tripwire/preview?step=3&device=mobile").get_data(as_text=True)
    assert 'src="/funnels/templates/tripwire/frame?step=3"' in html and "tpl-stage--mobile" in html
    html = client.get("/funnels/templates/tripwire/preview?step=99&device=tv").get_data(as_text=True)
    assert 'src="/funnels/templates/tripwire/frame?step=0"' in html and "tpl-stage--desktop" in html
    assert client.get("/funnels/templates/tripwire/frame?step=abc").status_code == 200
    assert client.post("/funnels/templates/tripwire/frame?step=2", data={"form_id": "x"}).status_code == 200
    assert client.get("/funnels/templates/no-such-template/preview").status_code == 404


def test_a_workspace_template_previews_like_a_system_one(member, client):
    user, account = member
    funnel = make_funnel_from(account, user, "webinar")
    template = FunnelTemplate(account_id=account.id, name="Our webinar", funnel_type="webinar",
                              snapshot=versions.snapshot_of(funnel))
    db.session.add(template)
    db.session.commit()
    html = client.get(f"/funnels/templates/{template.id}/preview").get_data(as_text=True)
    assert "Our webinar" in html and "Registration" in html and "Confirmation" in html
    frame = client.get(f"/funnels/templates/{template.id}/frame?step=1")
    assert frame.status_code == 200 and "You&#39;re in! Your seat is saved" in frame.get_data(as_text=True)


# ---- use a template -----------------------------------------------------------------------------------

def test_use_a_system_template(member, client):
    user, account = member
    form = client.get("/funnels/templates/lead-magnet/use")
    assert form.status_code == 200 and 'value="Free playbook"' in form.get_data(as_text=True)
    response = client.post("/funnels/templates/lead-magnet/use", data={"name": "Spring guide", "slug": "Spring Guide"})
    assert response.status_code == 303
    funnel = db.session.execute(select(Funnel).where(Funnel.account_id == account.id)).scalar_one()
    assert response.headers["Location"].endswith(f"/funnels/{funnel.id}")
    assert funnel.name == "Spring guide" and funnel.slug == "spring-guide" and len(funnel.steps) == 2
    assert funnel.funnel_type == "lead_generation"
    version = db.session.execute(versions.versions_query(funnel)).scalars().first()
    assert version.summary == "Created from template Lead magnet" and version.created_by_id == user.id


def test_use_a_template_without_a_slug_makes_one_from_the_name(member, client):
    user, account = member
    for _ in range(2):
        assert client.post("/funnels/templates/webinar/use", data={"name": "Live class", "slug": ""}).status_code == 303
    slugs = sorted(db.session.execute(select(Funnel.slug).where(Funnel.account_id == account.id)).scalars())
    assert slugs == ["live-class", "live-class-2"]


@pytest.mark.parametrize("data, field_message", [
    ({"name": "Another", "slug": "taken"}, "The address /taken is taken"),
    ({"name": "Another", "slug": "!!!"}, "Use letters a–z, digits and dashes"),
    ({"name": "Another", "slug": "static"}, "is reserved"),
    ({"name": "", "slug": ""}, "This field is required."),
    ({"name": "x" * 121, "slug": ""}, "At most 120 characters."),
])
def test_use_a_template_with_a_bad_or_taken_slug_is_refused(member, client, data, field_message):
    user, account = member
    funnels.create_funnel(account, {"name": "Existing", "slug": "taken"}, user)
    response = client.post("/funnels/templates/tripwire/use", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_message in html.replace("&#39;", "'")
    assert f'value="{data["name"]}"' in html  # what the user typed is kept
    assert db.session.execute(select(func.count()).select_from(Funnel)).scalar_one() == 1


def test_use_a_template_fragment_for_htmx(member, client):
    response = client.post("/funnels/templates/tripwire/use", data={"name": "", "slug": ""},
                           headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and html.lstrip().startswith("<form") and "<html" not in html


# ---- save as template, use it, delete it --------------------------------------------------------------

def test_save_a_funnel_as_a_template_then_use_it(member, client):
    user, account = member
    funnel = make_funnel_from(account, user, "application", slug="apply-now")
    page = client.get(f"/funnels/{funnel.id}/save-as-template")
    assert page.status_code == 200 and 'value="Application"' in page.get_data(as_text=True)
    response = client.post(f"/funnels/{funnel.id}/save-as-template",
                           data={"name": "Our application funnel", "description": "For coaching clients."})
    assert response.status_code == 303 and response.headers["Location"].endswith("/funnels/templates#your-templates")
    template = db.session.execute(select(FunnelTemplate).where(FunnelTemplate.account_id == account.id)).scalar_one()
    assert template.name == "Our application funnel" and template.funnel_type == "application"
    assert template.created_by_id == user.id and len(template.snapshot["steps"]) == 2
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "funnel_template.created")).scalar_one()

    gallery = client.get("/funnels/templates").get_data(as_text=True)
    assert "Our application funnel" in gallery and f"/funnels/templates/{template.id}/use" in gallery

    response = client.post(f"/funnels/templates/{template.id}/use", data={"name": "Second cohort", "slug": ""})
    assert response.status_code == 303
    copy = db.session.execute(select(Funnel).where(Funnel.slug == "second-cohort")).scalar_one()
    assert [s.name for s in copy.steps] == [s.name for s in funnel.steps]
    assert [s.page.tree["children"][0]["type"] for s in copy.steps] == ["section", "section"]
    assert all(problems(step.page) == [] for step in copy.steps)
    # Changing the funnel afterwards does not change the template.
    funnels.update_funnel(account, funnel, {"name": "Renamed"}, user)
    db.session.refresh(template)
    assert template.snapshot["funnel"]["name"] == "Application"


def test_the_funnel_page_links_to_the_save_as_template_form(member, client):
    user, account = member
    funnel = funnels.create_funnel(account, {"name": "Base", "slug": "base"}, user)
    page = client.get(f"/funnels/{funnel.id}").get_data(as_text=True)
    assert f'href="/funnels/{funnel.id}/save-as-template"' in page
    form = client.get(f"/funnels/{funnel.id}/save-as-template")
    assert form.status_code == 200 and 'value="Base"' in form.get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(FunnelTemplate)).scalar_one() == 0


def test_save_as_template_needs_a_name(member, client):
    user, account = member
    funnel = funnels.create_funnel(account, {"name": "Base", "slug": "base"}, user)
    response = client.post(f"/funnels/{funnel.id}/save-as-template", data={"name": "  ", "description": "Typed"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "This field is required." in html and "Typed" in html
    assert db.session.execute(select(func.count()).select_from(FunnelTemplate)).scalar_one() == 0


def test_an_admin_deletes_a_workspace_template(member, client):
    user, account = member
    funnel = make_funnel_from(account, user, "lead-magnet")
    template = FunnelTemplate(account_id=account.id, name="Old one", funnel_type="sales",
                              snapshot=versions.snapshot_of(funnel))
    db.session.add(template)
    db.session.commit()
    assert "Delete template" in client.get("/funnels/templates").get_data(as_text=True)
    response = client.post(f"/funnels/templates/{template.id}/delete")
    assert response.status_code == 303
    assert db.session.execute(select(func.count()).select_from(FunnelTemplate)).scalar_one() == 0
    assert db.session.get(Funnel, funnel.id) is not None


# ---- roles and other accounts -------------------------------------------------------------------------

def _template_of(account, user):
    funnel = funnels.create_funnel(account, {"name": "Theirs", "slug": f"theirs-{account.id.hex[:6]}"}, user)
    template = FunnelTemplate(account_id=account.id, name="Their template", funnel_type="sales",
                              snapshot=versions.snapshot_of(funnel))
    db.session.add(template)
    db.session.commit()
    return funnel, template


def test_another_accounts_template_and_funnel_are_not_found(member, client):
    other = factories.make_user("other@example.com")
    other_account = factories.make_account(other, "Other")
    funnel, template = _template_of(other_account, other)
    for method, url in [("GET", f"/funnels/templates/{template.id}/preview"),
                        ("GET", f"/funnels/templates/{template.id}/frame?step=0"),
                        ("GET", f"/funnels/templates/{template.id}/use"),
                        ("POST", f"/funnels/templates/{template.id}/use"),
                        ("POST", f"/funnels/templates/{template.id}/delete"),
                        ("GET", f"/funnels/{funnel.id}/save-as-template"),
                        ("POST", f"/funnels/{funnel.id}/save-as-template")]:
        assert client.open(url, method=method, data={"name": "Mine"}).status_code == 404, url
    assert "Their template" not in client.get("/funnels/templates").get_data(as_text=True)
    assert db.session.get(FunnelTemplate, template.id) is not None
    assert db.session.execute(select(func.count()).select_from(Funnel)).scalar_one() == 1


def test_a_viewer_looks_but_cannot_use_save_or_delete(owner, client, login):
    user, account = owner
    funnel, template = _template_of(account, user)
    viewer = factories.add_member(account, "viewer")
    login(viewer, account)
    html = client.get("/funnels/templates").get_data(as_text=True)
    assert "Use template" not in html and "Delete template" not in html
    assert client.get("/funnels/templates/lead-magnet/preview").status_code == 200
    assert client.get(f"/funnels/templates/{template.id}/preview").status_code == 200
    for url in ["/funnels/templates/lead-magnet/use", f"/funnels/templates/{template.id}/use",
                f"/funnels/{funnel.id}/save-as-template", f"/funnels/templates/{template.id}/delete"]:
        assert client.post(url, data={"name": "Nope"}).status_code == 403, url
    assert db.session.execute(select(func.count()).select_from(Funnel)).scalar_one() == 1
    assert db.session.execute(select(func.count()).select_from(FunnelTemplate)).scalar_one() == 1


def test_a_user_uses_and_saves_but_only_an_admin_deletes(owner, client, login):
    user, account = owner
    funnel, template = _template_of(account, user)
    member_user = factories.add_member(account, "user")
    login(member_user, account)
    assert "Delete template" not in client.get("/funnels/templates").get_data(as_text=True)
    assert client.post(f"/funnels/templates/{template.id}/delete").status_code == 403
    assert client.post(f"/funnels/{funnel.id}/save-as-template", data={"name": "Mine"}).status_code == 303
    assert client.post("/funnels/templates/webinar/use", data={"name": "Mine"}).status_code == 303


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/funnels/templates")
    assert response.status_code in (302, 303) and "login" in response.headers["Location"]
    assert client.get("/funnels/templates/lead-magnet/frame").status_code in (302, 303)


def test_save_as_template_of_a_deleted_funnel_is_not_found(member, client):
    user, account = member
    funnel = funnels.create_funnel(account, {"name": "Gone", "slug": "gone"}, user)
    funnels.soft_delete(account, funnel, user)
    assert client.get(f"/funnels/{funnel.id}/save-as-template").status_code == 404


def test_page_titles_are_escaped_in_the_frame(member, client):
    user, account = member
    funnel = funnels.create_funnel(account, {"name": "X", "slug": "x-funnel"}, user)
    funnel.steps[0].page.title = "<script>alert(1)</script>"
    template = FunnelTemplate(account_id=account.id, name="<b>Bold</b>", funnel_type="other",
                              snapshot=versions.snapshot_of(funnel))
    db.session.add(template)
    db.session.commit()
    body = client.get(f"/funnels/templates/{template.id}/frame").get_data(as_text=True)
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    assert "<b>Bold</b>" not in client.get("/funnels/templates").get_data(as_text=True)
    assert re.search(r"&lt;b&gt;Bold&lt;/b&gt;", client.get("/funnels/templates").get_data(as_text=True))


def test_a_stored_snapshot_is_sanitised_again_before_the_preview_shows_it(member, client):
    user, account = member
    funnel = funnels.create_funnel(account, {"name": "X", "slug": "x-funnel"}, user)
    snapshot = versions.snapshot_of(funnel)
    column = snapshot["steps"][0]["page"]["tree"]["children"][0]["children"][0]["children"][0]
    evil_html = '<p onclick="x()">Hi</p><script>bad()</script>'
    column["children"].append({"id": "evil01", "type": "text", "props": {"html": evil_html}, "style": {},
                               "hide_on": []})
    broken = versions.snapshot_of(funnel)
    broken["steps"][1]["page"]["tree"] = {"type": "nonsense"}
    for name, data in (("Evil", snapshot), ("Broken", broken)):
        db.session.add(FunnelTemplate(account_id=account.id, name=name, funnel_type="other", snapshot=data))
    db.session.commit()
    evil, broken_row = (db.session.execute(select(FunnelTemplate).where(FunnelTemplate.name == name)).scalar_one()
                        for name in ("Evil", "Broken"))
    body = client.get(f"/funnels/templates/{evil.id}/frame?step=0").get_data(as_text=True)
    assert "<p>Hi</p>" in body and "onclick" not in body and "bad()" not in body
    assert client.get(f"/funnels/templates/{broken_row.id}/frame?step=1").status_code == 200
