"""Publishing from the builder (the checks first), the preview, and page settings."""
from app.assets.models import Asset
from app.builder import services
from app.extensions import db
from app.pages import tree as trees
from tests.builder.conftest import fresh


def put(owner, page, *elements) -> dict:
    """Save the page with these elements in its first column; returns the tree."""
    user, account = owner
    page = fresh(page)
    column = next(node for node, _, _ in trees.walk(page.tree) if node["type"] == "columns")
    tree = page.tree
    for element in reversed(elements):
        tree, _ = trees.insert(tree, column["id"], 0, element)
    services.save_tree(account, page, tree, user)
    return tree


def test_publishing_with_problems_lists_them_with_links_and_publishes_nothing(editor, owner, page):
    image = trees.new_element("image")  # no alt text
    button = trees.new_element("button", {"action": "url", "url": ""})
    put(owner, page, image, button)
    response = editor.post(f"/builder/{page.id}/publish")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Before you publish" in html and "Nothing was published" in html
    assert f'data-select-element="{image["id"]}"' in html and "no alt text" in html
    assert f'data-select-element="{button["id"]}"' in html and "has no link" in html
    assert fresh(page).published_html is None


def test_publish_checks_forms_and_step_links(editor, owner, funnel, page):
    """A form without an e-mail field, a button to a step that was deleted, and "next step" on the last step
    are each listed with their element; once fixed, the page publishes."""
    from app.funnels import services as funnels

    user, account = owner
    extra = funnels.add_step(account, funnel, {"name": "Bonus", "slug": "bonus"}, user)
    gone_id = str(extra.id)
    funnels.delete_step(account, funnel, extra, user)
    nameless = trees.new_element("form", children=[trees.new_element("input_field", {"maps_to": "first_name",
                                                                                    "label": "First name"})])
    stale = trees.new_element("button", {"action": "step", "step_id": gone_id})
    put(owner, page, nameless, stale)
    html = editor.post(f"/builder/{page.id}/publish").get_data(as_text=True)
    assert f'data-select-element="{nameless["id"]}"' in html and "The form has no e-mail field" in html
    assert f'data-select-element="{stale["id"]}"' in html and "links to a step that no longer exists" in html
    assert fresh(page).published_html is None

    last_page = fresh(page).step.funnel.steps[-1].page
    onward = trees.new_element("button", {"action": "next_step"})
    put(owner, last_page, onward)
    html = editor.post(f"/builder/{last_page.id}/publish").get_data(as_text=True)
    assert "goes to the next step, but this is the last step of the funnel" in html
    assert fresh(last_page).published_html is None

    email_form = trees.new_element("form", children=[trees.new_element("input_field")])  # saves to e-mail
    fixed = fresh(page).tree
    fixed, _ = trees.remove(fixed, nameless["id"])
    fixed, _ = trees.remove(fixed, stale["id"])
    column = next(node for node, _, _ in trees.walk(fixed) if node["type"] == "columns")
    fixed, _ = trees.insert(fixed, column["id"], 0, email_form)
    services.save_tree(account, fresh(page), fixed, user)
    assert editor.post(f"/builder/{page.id}/publish").status_code == 200
    assert fresh(page).published_html is not None


def test_the_published_head_carries_the_page_settings_and_no_code_of_the_marketer(editor, owner, page):
    user, account = owner
    icon = Asset(account_id=account.id, filename="icon.png", content_type="image/png", size=100, width=64, height=64,
                 storage_key=f"{account.id}/icon.png", checksum="1" * 64)
    db.session.add(icon)
    db.session.commit()
    put(owner, page, trees.new_element("headline", {"text": "Spring is here"}))
    response = editor.post(f"/builder/{page.id}/settings", headers={"HX-Request": "true"}, data={
        "title": "Spring guide", "slug": "opt-in", "seo_title": "The spring guide, free",
        "seo_description": "Seven e-mails that sell.", "favicon_id": str(icon.id),
        # a head-code field is not offered; one posted anyway is ignored
        "head_code": "<script>alert(1)</script>", "custom_head": "<script>alert(2)</script>"})
    assert response.status_code == 200
    assert "head_code" not in response.get_data(as_text=True)
    assert editor.post(f"/builder/{page.id}/publish").status_code == 200
    document = editor.get("/spring-guide/opt-in", base_url="http://pages.example.com").get_data(as_text=True)
    assert "<title>The spring guide, free</title>" in document
    assert '<meta name="description" content="Seven e-mails that sell.">' in document
    assert f'rel="icon" href="http://pages.example.com/_assets/{icon.storage_key}"' in document
    assert "alert(" not in document


def test_publishing_a_clean_page_shows_its_public_address_and_unpublish_takes_it_offline(editor, owner, page):
    put(owner, page, trees.new_element("headline", {"text": "Spring is here"}))
    response = editor.post(f"/builder/{page.id}/publish")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "http://pages.example.com/spring-guide/opt-in" in html
    assert "Published" in html and "Unpublish" in html and "Republish" in html
    assert "Spring is here" in fresh(page).published_html
    visitor = editor.get("/spring-guide/opt-in", base_url="http://pages.example.com")
    assert visitor.status_code == 200 and "Spring is here" in visitor.get_data(as_text=True)
    response = editor.post(f"/builder/{page.id}/unpublish")
    assert response.status_code == 200
    assert ">Publish<" in response.get_data(as_text=True).replace("\n", "").replace("  ", "")
    assert fresh(page).published_html is None
    assert editor.get("/spring-guide/opt-in", base_url="http://pages.example.com").status_code == 404


def test_the_editor_says_when_the_published_page_is_behind(editor, owner, page):
    put(owner, page, trees.new_element("headline"))
    editor.post(f"/builder/{page.id}/publish")
    assert "Republish" in editor.get(f"/builder/{page.id}").get_data(as_text=True)
    put(owner, page, trees.new_element("subheadline"))
    assert "Publish<span" in editor.get(f"/builder/{page.id}").get_data(as_text=True)


def test_the_preview_is_the_whole_published_document_of_the_saved_tree(editor, owner, page):
    put(owner, page, trees.new_element("headline", {"text": "Preview me"}), trees.new_element("button"))
    response = editor.get(f"/builder/{page.id}/preview")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.startswith("<!doctype html>") and "Preview me" in html
    assert "data-element-id" not in html  # publish mode, not the canvas
    thank_you = fresh(page).step.funnel.steps[1].page
    assert f"/builder/{thank_you.id}/preview" in html  # the button goes to the next step's preview
    assert fresh(page).published_html is None  # previewing publishes nothing


def test_page_settings_are_saved_and_errors_keep_what_was_typed(editor, owner, funnel, page):
    user, account = owner
    image = Asset(account_id=account.id, filename="cover.png", content_type="image/png", size=100, width=1200,
                  height=630, storage_key=f"{account.id}/cover.png", checksum="0" * 64)
    db.session.add(image)
    db.session.commit()
    html = editor.get(f"/builder/{page.id}/settings", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "custom head code" in html and "cover.png" in html
    response = editor.post(f"/builder/{page.id}/settings", headers={"HX-Request": "true"}, data={
        "title": "Spring guide", "slug": "thank-you", "seo_title": "Get the guide", "seo_description": "Free."})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Another step of this funnel is at /thank-you" in html
    assert 'value="Get the guide"' in html  # what was typed stays
    response = editor.post(f"/builder/{page.id}/settings", headers={"HX-Request": "true"}, data={
        "title": "Spring guide", "slug": "Free Guide", "seo_title": "Get the guide", "seo_description": "Free.",
        "og_image_id": str(image.id), "favicon_id": ""})
    assert response.status_code == 200
    assert "Settings saved" in response.get_data(as_text=True)
    saved = fresh(page)
    assert (saved.title, saved.step.slug, saved.seo_title, saved.og_image_id) == (
        "Spring guide", "free-guide", "Get the guide", image.id)
    response = editor.post(f"/builder/{page.id}/settings", headers={"HX-Request": "true"},
                           data={"title": "", "slug": "free-guide", "seo_description": "x" * 400})
    assert response.status_code == 422
    assert fresh(page).title == "Spring guide"


def test_a_bad_page_setting_is_said_next_to_its_field_and_nothing_is_saved(editor, page):
    before = fresh(page).seo_title
    response = editor.post(f"/builder/{page.id}/settings", headers={"HX-Request": "true"}, data={
        "title": "Spring guide", "slug": "opt-in", "seo_title": "x" * 201, "seo_description": "Free."})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<p class="error" id="ps-seo_title-error">The SEO title has at most 200 characters.</p>' in html
    assert 'aria-describedby="ps-seo_title-error" aria-invalid="true"' in html
    assert 'id="ps-seo_description-error"' not in html and "Free.</textarea>" in html  # the others kept
    assert "Settings saved" not in html
    saved = fresh(page)
    assert saved.seo_title == before and saved.title != "Spring guide"


def test_page_settings_refuse_another_accounts_image(editor, owner, page):
    from tests import factories

    stranger = factories.make_user("s@example.com")
    other = factories.make_account(stranger, "Other")
    image = Asset(account_id=other.id, filename="theirs.png", content_type="image/png", size=100,
                  storage_key=f"{other.id}/theirs.png", checksum="0" * 64)
    db.session.add(image)
    db.session.commit()
    response = editor.post(f"/builder/{page.id}/settings", headers={"HX-Request": "true"}, data={
        "title": "T", "slug": "opt-in", "og_image_id": str(image.id)})
    assert response.status_code == 422
    assert fresh(page).og_image_id is None


def test_page_settings_without_javascript_is_a_page_that_goes_back_to_the_builder(editor, page):
    response = editor.get(f"/builder/{page.id}/settings")
    assert response.status_code == 200 and "Back to the builder" in response.get_data(as_text=True)
    response = editor.post(f"/builder/{page.id}/settings", data={"title": "New title", "slug": "opt-in"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/builder/{page.id}")
