"""Funnels through their pages: list, create (slugs), settings, clone, archive, delete, steps (add, edit,
reorder, delete) and roles."""
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.funnels import services, versions
from app.funnels.models import Funnel, FunnelStep, FunnelVersion, Page
from app.pages import tree as trees
from tests import factories


def version_count(funnel) -> int:
    return db.session.execute(select(func.count()).where(FunnelVersion.funnel_id == funnel.id)).scalar_one()


def page_with_headline(text: str) -> dict:
    tree = trees.empty_page()
    tree["children"] = [trees.section_with([trees.new_element("headline", {"text": text})])]
    return tree


def reload(funnel) -> Funnel:
    db.session.expire_all()
    return db.session.get(Funnel, funnel.id)


# ---- the list -----------------------------------------------------------------------------------------

def test_empty_list_offers_to_create_a_funnel_or_browse_templates(as_owner):
    response = as_owner.get("/funnels")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "No funnels yet" in html and "Create a funnel" in html and "Browse templates" in html
    assert 'href="/funnels/templates"' in html


def test_list_shows_name_type_status_step_count_and_address(as_owner, owner, funnel):
    user, account = owner
    services.add_step(account, funnel, {"name": "Upsell", "step_type": "upsell"}, user)
    html = as_owner.get("/funnels").get_data(as_text=True)
    assert "Free guide" in html and "Lead generation" in html and "Draft" in html
    assert "http://pages.example.com/free-guide" in html
    row = html[html.index(f'id="funnel-{funnel.id}"'):]
    assert '<td class="hide-mobile num">3</td>' in row[:2000]


def test_list_searches_filters_and_paginates(as_owner, owner):
    user, account = owner
    for n in range(23):
        services.create_funnel(account, {"name": f"Webinar {n:02d}", "funnel_type": "webinar"}, user)
    sales = services.create_funnel(account, {"name": "Black Friday sale", "funnel_type": "sales"}, user)
    services.set_status(account, sales, "archived", user)

    first = as_owner.get("/funnels").get_data(as_text=True)
    assert "1–20 of 24" in first
    assert "21–24 of 24" in as_owner.get("/funnels?page=2").get_data(as_text=True)
    found = as_owner.get("/funnels?q=friday").get_data(as_text=True)
    assert "Black Friday sale" in found and "Webinar 01" not in found
    archived = as_owner.get("/funnels?status=archived").get_data(as_text=True)
    assert "Black Friday sale" in archived and "Webinar 01" not in archived
    typed = as_owner.get("/funnels?type=webinar&page_size=50").get_data(as_text=True)
    assert "Webinar 22" in typed and "Black Friday sale" not in typed
    none = as_owner.get("/funnels?q=nothing-like-this")
    assert "No funnels match" in none.get_data(as_text=True)
    assert as_owner.get("/funnels?status=bogus&type=pyramid&page=x").status_code == 200


def test_list_counts_steps_in_one_query_whatever_the_number_of_funnels(as_owner, owner, count_queries):
    user, account = owner
    services.create_funnel(account, {"name": "One"}, user)
    few = count_queries(lambda: as_owner.get("/funnels"))
    for n in range(8):
        services.create_funnel(account, {"name": f"More {n}"}, user)
    assert count_queries(lambda: as_owner.get("/funnels")) == few


def test_htmx_search_answers_the_results_block(as_owner, funnel):
    response = as_owner.get("/funnels?q=free", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert "Free guide" in html and "<html" not in html


# ---- create and slugs ---------------------------------------------------------------------------------

def test_create_a_funnel_through_the_form(as_owner, owner, published):
    response = as_owner.post("/funnels/new", data={"name": "My Offer", "funnel_type": "sales", "slug": "",
                                                   "description": "Spring promotion"})
    assert response.status_code == 303
    funnel = db.session.execute(select(Funnel)).scalar_one()
    assert response.headers["Location"] == f"/funnels/{funnel.id}"
    assert (funnel.name, funnel.funnel_type, funnel.slug, funnel.status) == ("My Offer", "sales", "my-offer", "draft")
    assert [step.step_type for step in funnel.steps] == ["page", "thank_you"]
    assert all(step.page is not None for step in funnel.steps)
    assert ("funnel.created", {"account_id": str(owner[1].id), "funnel_id": str(funnel.id)}) in published
    assert version_count(funnel) == 1


def test_new_funnel_form_shows_the_public_address_preview(as_owner):
    html = as_owner.get("/funnels/new").get_data(as_text=True)
    assert "http://pages.example.com/" in html and "data-slug-preview" in html
    assert 'name="funnel_type"' in html and "Product launch" in html


@pytest.mark.parametrize("typed, expected", [("My Offer", "my-offer"), ("ÉTÉ", "ete"),
                                             ("  Spring  SALE 2026 ", "spring-sale-2026"), ("a--b__c", "a-b-c")])
def test_slugs_are_normalised(as_owner, typed, expected):
    response = as_owner.post("/funnels/new", data={"name": "Offer", "funnel_type": "sales", "slug": typed})
    assert response.status_code == 303
    assert db.session.execute(select(Funnel.slug)).scalar_one() == expected


@pytest.mark.parametrize("typed", ["日本", "---", "static"])
def test_a_slug_with_nothing_usable_is_refused_with_a_message(as_owner, typed):
    response = as_owner.post("/funnels/new", data={"name": "Offer", "funnel_type": "sales", "slug": typed})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "has-error" in html and ("Use letters a–z" in html or "is reserved" in html)
    assert 'value="Offer"' in html  # what was typed is kept
    assert db.session.execute(select(func.count(Funnel.id))).scalar_one() == 0


def test_a_duplicate_funnel_slug_is_a_form_error(as_owner, funnel, owner):
    other_user = factories.make_user("other@example.com")
    factories.make_account(other_user, "Other")
    response = as_owner.post("/funnels/new", data={"name": "Again", "funnel_type": "sales", "slug": "Free Guide"})
    assert response.status_code == 422
    assert "The address /free-guide is taken" in response.get_data(as_text=True)


def test_a_name_made_slug_that_is_taken_gets_a_free_one(as_owner, funnel):
    assert as_owner.post("/funnels/new", data={"name": "Free guide", "funnel_type": "sales"}).status_code == 303
    assert sorted(db.session.execute(select(Funnel.slug)).scalars()) == ["free-guide", "free-guide-2"]


def test_name_is_required_and_type_must_be_known(as_owner):
    response = as_owner.post("/funnels/new", data={"name": "  ", "funnel_type": "pyramid", "slug": "x"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a name." in html and "Choose a type" in html


# ---- the funnel's page and settings -------------------------------------------------------------------

def test_funnel_page_lists_steps_with_builder_links(as_owner, funnel):
    html = as_owner.get(f"/funnels/{funnel.id}").get_data(as_text=True)
    for step in funnel.steps:
        assert step.name in html
        assert f"/builder/{step.page.id}" in html
        assert f"http://pages.example.com/free-guide/{step.slug}" in html
    assert "Add a step" in html and "Versions" in html and "Clone" in html


def test_settings_change_name_slug_and_domain(as_owner, funnel):
    response = as_owner.post(f"/funnels/{funnel.id}/settings", data={
        "name": "Free checklist", "funnel_type": "lead_generation", "slug": "Checklist",
        "description": "", "custom_domain": "https://Offers.Example.com/"})
    assert response.status_code == 303
    funnel = reload(funnel)
    assert (funnel.name, funnel.slug, funnel.custom_domain) == ("Free checklist", "checklist", "offers.example.com")
    assert version_count(funnel) == 2


def test_settings_refuse_a_taken_slug_or_domain(as_owner, owner, funnel):
    user, account = owner
    services.create_funnel(account, {"name": "Other", "slug": "other", "custom_domain": "go.example.com"}, user)
    response = as_owner.post(f"/funnels/{funnel.id}/settings", data={
        "name": "Free guide", "funnel_type": "lead_generation", "slug": "other", "custom_domain": ""})
    assert response.status_code == 422 and "The address /other is taken" in response.get_data(as_text=True)
    response = as_owner.post(f"/funnels/{funnel.id}/settings", data={
        "name": "Free guide", "funnel_type": "lead_generation", "slug": "free-guide",
        "custom_domain": "go.example.com"})
    assert response.status_code == 422 and "Another funnel already uses this domain" in response.get_data(as_text=True)
    response = as_owner.post(f"/funnels/{funnel.id}/settings", data={
        "name": "Free guide", "funnel_type": "lead_generation", "slug": "free-guide", "custom_domain": "not a domain"})
    assert response.status_code == 422 and "Enter a domain name" in response.get_data(as_text=True)
    assert reload(funnel).slug == "free-guide"


def test_clone_is_a_deep_copy_with_new_ids_and_slugs(as_owner, owner, funnel):
    user, account = owner
    from app.builder import services as builder

    builder.save_tree(account, funnel.steps[0].page, page_with_headline("Get the guide"), user)
    response = as_owner.post(f"/funnels/{funnel.id}/clone")
    assert response.status_code == 303
    copy = db.session.execute(select(Funnel).where(Funnel.id != funnel.id)).scalar_one()
    assert response.headers["Location"] == f"/funnels/{copy.id}"
    assert copy.slug == "free-guide-copy" and copy.name == "Free guide (copy)" and copy.status == "draft"
    original = reload(funnel)
    assert [s.slug for s in copy.steps] == [s.slug for s in original.steps]
    assert not {s.id for s in copy.steps} & {s.id for s in original.steps}
    assert not {s.page.id for s in copy.steps} & {s.page.id for s in original.steps}
    old_tree, new_tree = original.steps[0].page.tree, copy.steps[0].page.tree
    old_ids = {node["id"] for node, _, _ in trees.walk(old_tree)} - {"root"}
    new_ids = {node["id"] for node, _, _ in trees.walk(new_tree)} - {"root"}
    assert old_ids and not old_ids & new_ids
    assert ([node["type"] for node, _, _ in trees.walk(old_tree)]
            == [node["type"] for node, _, _ in trees.walk(new_tree)])


def test_clones_and_duplicates_keep_the_social_image_and_favicon(as_owner, owner, funnel):
    from app.assets.models import Asset

    user, account = owner
    image = Asset(account_id=account.id, filename="cover.png", content_type="image/png", size=100, width=1200,
                  height=630, storage_key=f"{account.id}/cover.png", checksum="0" * 64)
    db.session.add(image)
    db.session.commit()
    page = funnel.steps[0].page
    page.og_image_id = page.favicon_id = image.id
    db.session.commit()
    as_owner.post(f"/funnels/{funnel.id}/clone")
    as_owner.post(f"/funnels/{funnel.id}/steps/{funnel.steps[0].id}/duplicate")
    db.session.expire_all()
    copy = db.session.execute(select(Funnel).where(Funnel.id != funnel.id)).scalar_one()
    duplicate = reload(funnel).steps[1]
    for copied in (copy.steps[0].page, duplicate.page):
        assert (copied.og_image_id, copied.favicon_id) == (image.id, image.id)


def test_archive_and_unarchive(as_owner, funnel):
    assert as_owner.post(f"/funnels/{funnel.id}/archive").status_code == 303
    assert reload(funnel).status == "archived"
    assert "Unarchive" in as_owner.get(f"/funnels/{funnel.id}").get_data(as_text=True)
    assert as_owner.post(f"/funnels/{funnel.id}/unarchive").status_code == 303
    assert reload(funnel).status == "draft"


def test_a_deleted_funnel_is_404_everywhere_and_frees_its_slug(as_owner, owner, funnel, published):
    step = funnel.steps[0]
    version_id = db.session.execute(versions.versions_query(funnel).limit(1)).scalar_one().id
    response = as_owner.post(f"/funnels/{funnel.id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/funnels"
    assert ("funnel.unpublished", {"account_id": str(owner[1].id), "funnel_id": str(funnel.id)}) in published
    base = f"/funnels/{funnel.id}"
    for path in ("", "/settings", "/versions", f"/versions/{version_id}", f"/versions/{version_id}/preview",
                 f"/steps/{step.id}/edit"):
        assert as_owner.get(base + path).status_code == 404, path
    for path in ("/settings", "/clone", "/archive", "/delete", "/steps", "/steps/order", f"/steps/{step.id}/delete",
                 f"/versions/{version_id}/restore"):
        assert as_owner.post(base + path).status_code == 404, path
    assert "Free guide" not in as_owner.get("/funnels").get_data(as_text=True)
    db.session.expire_all()
    kept = db.session.get(Funnel, funnel.id)  # a soft delete: the row, its steps and pages stay
    assert kept is not None and kept.deleted_at is not None and len(kept.steps) == 2
    data = {"name": "New", "funnel_type": "sales", "slug": "free-guide"}
    assert as_owner.post("/funnels/new", data=data).status_code == 303


# ---- steps --------------------------------------------------------------------------------------------

def test_add_a_step(as_owner, funnel):
    response = as_owner.post(f"/funnels/{funnel.id}/steps",
                             data={"name": "Special Offer", "step_type": "upsell", "slug": ""})
    assert response.status_code == 303
    funnel = reload(funnel)
    step = funnel.steps[-1]
    assert (step.name, step.step_type, step.slug, step.position) == ("Special Offer", "upsell", "special-offer", 2)
    assert step.page is not None
    assert version_count(funnel) == 2


def test_a_duplicate_step_slug_is_a_form_error(as_owner, funnel):
    taken = funnel.steps[0].slug
    response = as_owner.post(f"/funnels/{funnel.id}/steps", data={"name": "Again", "step_type": "page", "slug": taken})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f"Another step of this funnel is at /{taken}" in html and 'value="Again"' in html
    assert len(reload(funnel).steps) == 2


def test_step_slug_refused_when_nothing_usable_is_left(as_owner, funnel):
    response = as_owner.post(f"/funnels/{funnel.id}/steps", data={"name": "Japan", "step_type": "page", "slug": "日本"})
    assert response.status_code == 422 and "Use letters a–z" in response.get_data(as_text=True)
    # With no slug typed, a name that gives none still makes a step, at a plain address.
    assert as_owner.post(f"/funnels/{funnel.id}/steps", data={"name": "日本", "step_type": "page"}).status_code == 303
    assert reload(funnel).steps[-1].slug == "step"


def test_edit_a_step(as_owner, funnel):
    step, other = funnel.steps
    page = as_owner.get(f"/funnels/{funnel.id}/steps/{step.id}/edit")
    assert page.status_code == 200 and step.name in page.get_data(as_text=True)
    response = as_owner.post(f"/funnels/{funnel.id}/steps/{step.id}/edit",
                             data={"name": "Sign up", "step_type": "order_form", "slug": "Sign Up Now"})
    assert response.status_code == 303
    db.session.expire_all()
    step = db.session.get(FunnelStep, step.id)
    assert (step.name, step.step_type, step.slug) == ("Sign up", "order_form", "sign-up-now")
    response = as_owner.post(f"/funnels/{funnel.id}/steps/{step.id}/edit",
                             data={"name": "Sign up", "step_type": "page", "slug": other.slug})
    assert response.status_code == 422 and "Another step of this funnel" in response.get_data(as_text=True)


def test_a_step_of_another_funnel_is_404(as_owner, owner, funnel):
    user, account = owner
    other = services.create_funnel(account, {"name": "Other"}, user)
    assert as_owner.get(f"/funnels/{funnel.id}/steps/{other.steps[0].id}/edit").status_code == 404
    assert as_owner.post(f"/funnels/{funnel.id}/steps/{other.steps[0].id}/delete").status_code == 404


def test_reorder_steps(as_owner, owner, funnel):
    user, account = owner
    services.add_step(account, funnel, {"name": "Upsell", "step_type": "upsell"}, user)
    ids = [str(step.id) for step in reload(funnel).steps]
    before = version_count(funnel)
    wanted = [ids[2], ids[0], ids[1]]
    response = as_owner.post(f"/funnels/{funnel.id}/steps/order", data={"step_ids": wanted},
                             headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'id="steps"' in response.get_data(as_text=True)
    assert [str(step.id) for step in reload(funnel).steps] == wanted
    assert version_count(funnel) == before + 1


@pytest.mark.parametrize("bad", ["missing", "extra", "twice", "foreign", "junk"])
def test_reorder_with_a_bad_id_list_is_refused_and_changes_nothing(as_owner, owner, funnel, bad):
    user, account = owner
    ids = [str(step.id) for step in funnel.steps]
    other = services.create_funnel(account, {"name": "Other"}, user)
    posted = {"missing": ids[:1], "extra": ids + [str(uuid.uuid4())], "twice": [ids[0], ids[0]],
              "foreign": [str(other.steps[0].id), ids[0]], "junk": ["x", "y"]}[bad]
    before = version_count(funnel)
    response = as_owner.post(f"/funnels/{funnel.id}/steps/order", data={"step_ids": posted},
                             headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "Post every step of this funnel once" in response.get_data(as_text=True)
    assert [str(step.id) for step in reload(funnel).steps] == ids
    assert version_count(funnel) == before


def test_duplicate_a_step_right_after_it(as_owner, owner, funnel):
    user, account = owner
    first, second = funnel.steps
    from app.builder import services as builder

    builder.save_tree(account, first.page, page_with_headline("Spring is here"), user)
    page = as_owner.get(f"/funnels/{funnel.id}").get_data(as_text=True)
    assert f'action="/funnels/{funnel.id}/steps/{first.id}/duplicate"' in page
    response = as_owner.post(f"/funnels/{funnel.id}/steps/{first.id}/duplicate")
    assert response.status_code == 303
    steps = reload(funnel).steps
    assert [step.slug for step in steps] == [first.slug, f"{first.slug}-copy", second.slug]
    copy = steps[1]
    assert (copy.name, copy.step_type) == (f"{first.name} (copy)", first.step_type)
    assert response.headers["Location"].endswith(f"#step-{copy.id}")
    headline = [node for node, _, _ in trees.walk(copy.page.tree) if node["type"] == "headline"]
    assert [node["props"]["text"] for node in headline] == ["Spring is here"]
    original_ids = {node["id"] for node, _, _ in trees.walk(steps[0].page.tree)}
    copy_ids = {node["id"] for node, _, _ in trees.walk(copy.page.tree)}
    assert original_ids & copy_ids == {"root"}  # every element of the copy is new
    assert copy.page.published_html is None
    latest = db.session.execute(versions.versions_query(funnel).limit(1)).scalar_one()
    assert latest.summary == f"Duplicated step {first.name}"
    as_owner.post(f"/funnels/{funnel.id}/steps/{first.id}/duplicate")
    assert [step.slug for step in reload(funnel).steps][1:3] == [f"{first.slug}-copy-2", f"{first.slug}-copy"]


def test_delete_a_step_and_never_the_last_one(as_owner, funnel):
    first, second = funnel.steps
    page_id = second.page.id
    assert as_owner.post(f"/funnels/{funnel.id}/steps/{second.id}/delete").status_code == 303
    assert db.session.get(Page, page_id) is None
    assert [step.id for step in reload(funnel).steps] == [first.id]
    response = as_owner.post(f"/funnels/{funnel.id}/steps/{first.id}/delete")
    assert response.status_code == 422
    assert "A funnel needs at least one step" in response.get_data(as_text=True)
    assert [step.id for step in reload(funnel).steps] == [first.id]


# ---- roles --------------------------------------------------------------------------------------------

def test_a_viewer_reads_but_cannot_change(client, owner, funnel):
    user, account = owner
    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    factories.login(client, viewer, account)
    assert client.get("/funnels").status_code == 200
    html = client.get(f"/funnels/{funnel.id}").get_data(as_text=True)
    assert "View page" in html and "Add a step" not in html and "Delete funnel" not in html and "Duplicate" not in html
    assert client.get(f"/funnels/{funnel.id}/versions").status_code == 200
    step = funnel.steps[0]
    version_id = db.session.execute(versions.versions_query(funnel).limit(1)).scalar_one().id
    assert client.get("/funnels/new").status_code == 403
    base = f"/funnels/{funnel.id}"
    for path in ("/settings", "/clone", "/archive", "/delete", "/steps", "/steps/order", f"/steps/{step.id}/edit",
                 f"/steps/{step.id}/delete", f"/steps/{step.id}/duplicate", f"/versions/{version_id}/restore",
                 "/publish", "/unpublish"):
        assert client.post(base + path).status_code == 403, path
    assert client.post("/funnels/new", data={"name": "Nope"}).status_code == 403
    assert reload(funnel).deleted_at is None and db.session.execute(select(func.count(Funnel.id))).scalar_one() == 1


def test_another_accounts_funnel_is_404(client, funnel):
    stranger = factories.make_user("stranger@example.com")
    account = factories.make_account(stranger, "Stranger")
    factories.login(client, stranger, account)
    assert client.get(f"/funnels/{funnel.id}").status_code == 404
    assert client.post(f"/funnels/{funnel.id}/delete").status_code == 404
    assert "Free guide" not in client.get("/funnels").get_data(as_text=True)


# ---- publishing ---------------------------------------------------------------------------------------

def test_publish_refused_lists_the_problems_with_links_to_the_builder(as_owner, owner, funnel):
    from app.builder import services as builder

    user, account = owner
    page = funnel.steps[0].page
    tree = trees.empty_page()
    tree["children"] = [trees.section_with([trees.new_element("button", {"action": "url", "url": ""})])]
    builder.save_tree(account, page, tree, user)
    button_id = tree["children"][0]["children"][0]["children"][0]["children"][0]["id"]
    response = as_owner.post(f"/funnels/{funnel.id}/publish")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was published" in html and "has no link" in html
    assert f"/builder/{page.id}?element={button_id}" in html
    assert reload(funnel).status == "draft"


def test_publish_and_unpublish_a_funnel(as_owner, funnel):
    assert as_owner.post(f"/funnels/{funnel.id}/publish").status_code == 303
    funnel = reload(funnel)
    assert funnel.status == "published" and all(step.page.is_published for step in funnel.steps)
    html = as_owner.get(f"/funnels/{funnel.id}").get_data(as_text=True)
    assert "Publish changes" in html and "Unpublish" in html
    assert '<a class="fn-url" href="http://pages.example.com/free-guide"' in html
    assert as_owner.post(f"/funnels/{funnel.id}/unpublish").status_code == 303
    funnel = reload(funnel)
    assert funnel.status == "draft" and not any(step.page.is_published for step in funnel.steps)


def test_forms_without_a_valid_csrf_token_change_nothing(as_owner, funnel, csrf_enabled):
    assert as_owner.post("/funnels/new", data={"name": "Sneaky", "funnel_type": "sales"}).status_code == 400
    assert as_owner.post(f"/funnels/{funnel.id}/clone").status_code == 400
    assert as_owner.post(f"/funnels/{funnel.id}/delete").status_code == 400
    assert db.session.execute(select(func.count(Funnel.id))).scalar_one() == 1
    assert reload(funnel).deleted_at is None
