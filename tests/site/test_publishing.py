"""Publishing: the stored document, refusals, events, audit."""
import pytest
from sqlalchemy import select

from app.builder.services import save_tree
from app.core.models import AuditEvent
from app.extensions import db
from app.funnels import publishing
from app.pages import tree as trees
from tests.site.conftest import make_funnel


def test_publish_page_stores_the_whole_document(owner, published):
    user, account = owner
    funnel = make_funnel(account, user)
    page = funnel.steps[0].page
    publishing.publish_page(account, page, user)
    html, source = publishing.visible_document(page.published_html), publishing.published_source(page.published_html)
    assert html.startswith('<!doctype html>\n<html lang="en">')
    assert '<meta charset="utf-8">' in html and 'name="viewport"' in html
    assert "<title>Free guide</title>" in html
    assert '<meta name="description" content="The guide, free.">' in html
    assert '<meta property="og:title" content="Free guide">' in html
    assert '<meta property="og:url" content="http://pages.example.com/free-guide/opt-in">' in html
    assert '<link rel="canonical" href="http://pages.example.com/free-guide/opt-in">' in html
    assert 'name="twitter:card"' in html and '<link rel="icon"' in html
    assert html.count("<style>") == 1 and 'rel="stylesheet"' not in html  # CSS inlined, no blocking request
    assert '<script src="/_site.js?v=' in html and " defer></script>" in html  # a form: site.js, deferred
    assert "<main" in html and 'action="/_forms/' in html
    assert source["tree"] == page.tree  # the published source, for validating submissions
    assert page.published_etag == publishing.etag_of(html)
    assert page.published_revision == page.revision and page.published_at is not None
    assert ("page.published", {"account_id": str(account.id), "funnel_id": str(funnel.id),
                                "step_id": str(page.step_id), "page_id": str(page.id)}) in published
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "page.published")).scalar_one()


def test_a_page_without_form_or_countdown_loads_no_script(owner):
    user, account = owner
    funnel = make_funnel(account, user)
    page = funnel.steps[1].page
    publishing.publish_page(account, page, user)
    assert "<script" not in page.published_html
    assert "lf-source" not in page.published_html


def test_publish_refused_with_the_problems_and_nothing_stored(owner, published):
    user, account = owner
    funnel = make_funnel(account, user)
    page = funnel.steps[0].page
    tree = trees.validate(page.tree)
    image = trees.new_element("image", props={"alt": ""})
    tree["children"][0]["children"][0]["children"][0]["children"].append(image)
    save_tree(account, page, tree, user)
    with pytest.raises(publishing.PublishRefused) as refused:
        publishing.publish_page(account, page, user)
    assert refused.value.status == 422
    assert [problem["element_id"] for problem in refused.value.problems] == [image["id"]]
    assert "alt text" in refused.value.problems[0]["message"]
    db.session.rollback()
    assert page.published_html is None and page.published_etag is None
    assert not [name for name, _ in published if name == "page.published"]


def test_publish_funnel_is_all_or_nothing(owner):
    user, account = owner
    funnel = make_funnel(account, user)
    last = funnel.steps[1].page
    tree = trees.validate(last.tree)
    tree["children"][0]["children"][0]["children"][0]["children"].append(trees.new_element("button"))  # next step: none
    save_tree(account, last, tree, user)
    with pytest.raises(publishing.PublishRefused) as refused:
        publishing.publish_funnel(account, funnel, user)
    assert refused.value.problems[0]["step_id"] == str(funnel.steps[1].id)
    assert refused.value.problems[0]["step_name"] == "Thank you"
    assert "Nothing was published" in refused.value.message
    db.session.rollback()
    assert all(step.page.published_html is None for step in funnel.steps)
    assert funnel.status == "draft"


def test_publish_and_unpublish_funnel(owner, published):
    user, account = owner
    funnel = make_funnel(account, user)
    publishing.publish_funnel(account, funnel, user)
    assert funnel.status == "published" and funnel.published_at is not None
    assert all(step.page.is_published for step in funnel.steps)
    publishing.unpublish_funnel(account, funnel, user)
    assert funnel.status == "draft"
    assert not any(step.page.is_published for step in funnel.steps)
    names = [name for name, _ in published]
    assert names.count("page.published") == 2 and names.count("page.unpublished") == 2
    assert "funnel.unpublished" in names


def test_public_url_uses_the_custom_domain(owner):
    user, account = owner
    funnel = make_funnel(account, user, domain="offers.example.com")
    assert publishing.public_url(funnel.steps[1]) == "http://offers.example.com/thanks"
    other = make_funnel(account, user, slug="other")
    assert publishing.public_url(other.steps[0]) == "http://pages.example.com/other/opt-in"
