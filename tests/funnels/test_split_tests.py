"""Split tests of a step (app/funnels/splittests.py and its pages): creating one (variants copied from the
step's page), the traffic split that must add up to 100, one running test per step, other accounts, the
variant pages in the builder and in publishing, promoting a winner, ending and deleting."""
import uuid

import pytest
from sqlalchemy import func, select

from app.analytics.models import Exposure
from app.builder import services as builder
from app.core.errors import ConflictError, ValidationError
from app.core.models import AuditEvent
from app.extensions import db
from app.funnels import publishing, splittests
from app.funnels import services as funnels
from app.funnels.models import FunnelVersion, Page, SplitTest, SplitVariant
from app.pages import tree as trees
from tests import factories

TWO = [{"name": "Original", "weight": 50}, {"name": "Short headline", "weight": 50}]


def with_headline(tree: dict, text: str) -> dict:
    column = next(node for node, _, _ in trees.walk(tree) if node["type"] == "columns")
    tree, _ = trees.insert(tree, column["id"], 0, trees.new_element("headline", props={"text": text}))
    return tree


def start(owner, funnel, variants=TWO, step=0, name="Headline test", **data) -> SplitTest:
    user, account = owner
    return splittests.create_test(account, funnel, funnel.steps[step],
                                  {"name": name, "variants": variants, **data}, user)


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def form_data(name="Headline test", rows=(("Original", "50"), ("Variant B", "50")), min_sample="100"):
    data = {"name": name, "min_sample": min_sample}
    for index, (variant, weight) in enumerate(rows):
        data[f"variant_{index}_name"], data[f"variant_{index}_weight"] = variant, weight
    return data


# ---- creating -------------------------------------------------------------------------------------------

def test_a_test_copies_the_steps_page_into_each_new_variant(owner, funnel):
    user, account = owner
    step = funnel.steps[0]
    builder.save_tree(account, step.page, with_headline(step.page.tree, "Get the guide"), user)
    step.page.seo_title, step.page.seo_description = "The guide", "Free"
    db.session.commit()
    test = start(owner, funnel, [{"name": "Original", "weight": 40}, {"name": "B", "weight": 30},
                                 {"name": "C", "weight": 30}], min_sample="250")

    test = fresh(SplitTest, test.id)
    assert test.status == "running" and test.min_sample == 250 and test.step_id == step.id
    assert [(v.name, v.weight, v.is_control, v.position) for v in test.variants] == [
        ("Original", 40, True, 0), ("B", 30, False, 1), ("C", 30, False, 2)]
    control, *others = test.variants
    assert control.page_id == step.page.id
    for variant in others:
        page = variant.page
        assert page.is_variant and page.step_id == step.id and page.funnel_id == funnel.id
        assert page.id != step.page.id
        assert page.tree == fresh(Page, step.page.id).tree
        assert (page.title, page.seo_title, page.seo_description) == (step.page.title, "The guide", "Free")
        assert not page.is_published  # the funnel is a draft
    # The step's page is still its own; the variants are not steps' pages.
    assert fresh(Page, step.page.id).step.page.id == step.page.id
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "split_test.created")).scalar_one()
    assert audit.object_id == str(test.id) and "Headline test" in audit.summary


def test_the_minimum_sample_defaults_to_100(owner, funnel):
    assert start(owner, funnel).min_sample == 100


def test_weights_that_do_not_add_up_to_100_are_refused(owner, funnel):
    with pytest.raises(ValidationError) as refused:
        start(owner, funnel, [{"name": "Original", "weight": 50}, {"name": "B", "weight": 40}])
    assert refused.value.fields == {"weights": "The traffic split must add up to 100% (it adds up to 90%)."}
    assert refused.value.message == "The traffic split must add up to 100% (it adds up to 90%)."
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SplitTest)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(Page).where(Page.is_variant)).scalar_one() == 0


@pytest.mark.parametrize("variants, field, message", [
    ([{"name": "Original", "weight": 100}], "weights", "at least 2 variants"),
    ([{"name": f"V{i}", "weight": 20} for i in range(6)], "weights", "at most 5 variants"),
    ([{"name": "Original", "weight": 50}, {"name": "", "weight": 50}], "variant_1_name", "Enter a variant name"),
    ([{"name": "Original", "weight": 50}, {"name": "original", "weight": 50}], "variant_1_name", "its own name"),
    ([{"name": "Original", "weight": "half"}, {"name": "B", "weight": 50}], "variant_0_weight", "whole number"),
    ([{"name": "Original", "weight": 0}, {"name": "B", "weight": 100}], "variant_0_weight", "between 1 and 99"),
    ([{"name": "Original", "weight": 50.5}, {"name": "B", "weight": 49.5}], "variant_0_weight", "whole number"),
])
def test_bad_variants_are_refused_next_to_their_field(owner, funnel, variants, field, message):
    with pytest.raises(ValidationError) as refused:
        start(owner, funnel, variants)
    assert message in refused.value.fields[field]


def test_bad_name_and_sample_are_refused(owner, funnel):
    with pytest.raises(ValidationError) as refused:
        start(owner, funnel, name="  ", min_sample="5")
    assert set(refused.value.fields) == {"name", "min_sample"}


def test_a_second_running_test_on_the_step_is_refused(owner, funnel):
    first = start(owner, funnel)
    with pytest.raises(ConflictError) as refused:
        start(owner, funnel, name="Another")
    assert refused.value.message == ("This step already has a running split test (“Headline test”): end it before "
                                     "starting another.")
    db.session.rollback()
    other_step = start(owner, funnel, name="On the thank-you page", step=1)  # another step may have its own
    assert other_step.status == "running"
    splittests.end_test(owner[1], fresh(SplitTest, first.id), owner[0])
    assert start(owner, funnel, name="Next one").status == "running"  # once ended, a new one may start


def test_the_unique_index_refuses_a_second_test_made_at_the_same_moment(owner, funnel, monkeypatch):
    """Two people starting a test at once both pass the check; the partial unique index refuses the second
    with the same message."""
    start(owner, funnel)
    monkeypatch.setattr(splittests, "running_test_of", lambda step: None)
    with pytest.raises(ConflictError) as refused:
        start(owner, funnel, name="Raced")
    assert "already has a running split test" in refused.value.message
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SplitTest)).scalar_one() == 1


# ---- the pages ----------------------------------------------------------------------------------------------

def test_the_steps_page_offers_a_split_test_per_step(client, owner, funnel, as_owner):
    html = client.get(f"/funnels/{funnel.id}").get_data(as_text=True)
    for step in funnel.steps:
        assert f'href="/funnels/{funnel.id}/steps/{step.id}/split-test"' in html
    test = start(owner, funnel)
    html = client.get(f"/funnels/{funnel.id}").get_data(as_text=True)
    assert f'href="/funnels/{funnel.id}/split-tests/{test.id}"' in html and "Split test running" in html


def test_creating_a_test_from_its_page(client, owner, funnel, as_owner):
    step = funnel.steps[0]
    url = f"/funnels/{funnel.id}/steps/{step.id}/split-test"
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="variant_0_name"' in html and 'name="variant_4_weight"' in html and "data-split-total" in html
    assert "Minimum sample per variant" in html and "only chance" in html
    response = client.post(url, data=form_data(rows=(("Original", "34"), ("B", "33"), ("C", "33"), ("", ""))))
    assert response.status_code == 303
    test = db.session.execute(select(SplitTest)).scalar_one()
    assert response.headers["Location"].endswith(f"/funnels/{funnel.id}/split-tests/{test.id}")
    assert [v.name for v in test.variants] == ["Original", "B", "C"]


def test_the_page_shows_errors_next_to_the_fields_with_422(client, owner, funnel, as_owner):
    url = f"/funnels/{funnel.id}/steps/{funnel.steps[0].id}/split-test"
    response = client.post(url, data=form_data(rows=(("Original", "60"), ("Variant B", "30"))))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<p class="error" id="weights-error">The traffic split must add up to 100% (it adds up to 90%).</p>' in html
    response = client.post(url, data=form_data(name="", rows=(("Original", "50"), ("", "50"))))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="name-error"' in html and 'id="variant_1_name-error"' in html
    assert db.session.execute(select(func.count()).select_from(SplitTest)).scalar_one() == 0


def test_the_page_refuses_a_second_running_test(client, owner, funnel, as_owner):
    first = start(owner, funnel)
    url = f"/funnels/{funnel.id}/steps/{funnel.steps[0].id}/split-test"
    page = client.get(url).get_data(as_text=True)
    assert 'id="running-test"' in page and f"/split-tests/{first.id}" in page
    response = client.post(url, data=form_data(name="Second"))
    assert response.status_code == 422
    assert "already has a running split test" in response.get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(SplitTest)).scalar_one() == 1


def test_the_test_page_shows_results_sample_and_actions(client, owner, funnel, as_owner):
    test = start(owner, funnel)
    control, variant = test.variants
    now = funnel.created_at
    rows = [Exposure(account_id=owner[1].id, test_id=test.id, visitor_id=uuid.uuid4(), variant_id=v.id,
                     first_seen_at=now, conversions=1 if i % 4 == 0 else 0, value_cents=500 if i % 4 == 0 else 0)
            for v in (control, variant) for i in range(40)]
    db.session.add_all(rows)
    db.session.commit()
    response = client.get(f"/funnels/{funnel.id}/split-tests/{test.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "No winner yet" in html and "needs 60 more visitors per variant" in html
    assert 'id="sample"' in html and 'value="40"' in html  # 40 of 100 visitors
    assert f'href="/builder/{variant.page_id}" hx-boost="false">Edit in builder' in html
    assert f'href="/builder/{control.page_id}" hx-boost="false">Edit in builder' in html
    assert "End test" in html and "25.00%" in html and "$1.25" in html
    assert 'id="srm-warning"' not in html
    assert "style=" not in html


def test_a_viewer_sees_the_results_but_not_the_buttons(client, owner, funnel, login):
    test = start(owner, funnel)
    viewer = factories.add_member(owner[1], "viewer")
    login(viewer, owner[1])
    html = client.get(f"/funnels/{funnel.id}/split-tests/{test.id}").get_data(as_text=True)
    assert "End test" not in html and "View page" in html
    assert client.post(f"/funnels/{funnel.id}/split-tests/{test.id}/end").status_code == 403
    assert client.get(f"/funnels/{funnel.id}/steps/{funnel.steps[0].id}/split-test").status_code == 403


def test_another_accounts_tests_and_steps_are_404(client, owner, funnel, login):
    test = start(owner, funnel)
    stranger = factories.make_user("stranger@example.com")
    other = factories.make_account(stranger, "Other")
    theirs = funnels.create_funnel(other, {"name": "Theirs", "slug": "theirs"}, stranger)
    login(stranger, other)
    base = f"/funnels/{funnel.id}"
    assert client.get(f"{base}/split-tests/{test.id}").status_code == 404
    assert client.get(f"{base}/steps/{funnel.steps[0].id}/split-test").status_code == 404
    for action in ("end", "promote", "delete"):
        assert client.post(f"{base}/split-tests/{test.id}/{action}",
                           data={"variant_id": str(test.variants[1].id)}).status_code == 404
    # Their own funnel with my test's id: not found either.
    assert client.get(f"/funnels/{theirs.id}/split-tests/{test.id}").status_code == 404
    assert fresh(SplitTest, test.id).status == "running"
    with pytest.raises(Exception) as refused:
        splittests.get_test(other, theirs, test.id)
    assert getattr(refused.value, "status", None) == 404


# ---- variant pages in the builder and in publishing --------------------------------------------------

def test_a_variant_page_opens_saves_and_publishes_in_the_builder(client, owner, funnel, as_owner):
    test = start(owner, funnel)
    page = test.variants[1].page
    editor = client.get(f"/builder/{page.id}")
    assert editor.status_code == 200
    current = fresh(Page, page.id)
    column = next(node for node, _, _ in trees.walk(current.tree) if node["type"] == "columns")
    added = client.post(f"/builder/{page.id}/add", data={"type": "headline", "revision": current.revision,
                                                           "parent_id": column["id"], "index": 0})
    assert added.status_code == 200
    variant_page = fresh(Page, page.id)
    assert any(node["type"] == "headline" for node, _, _ in trees.walk(variant_page.tree))
    step_page = funnel.steps[0].page
    assert not any(node["type"] == "headline" for node, _, _ in trees.walk(fresh(Page, step_page.id).tree))
    assert db.session.execute(select(func.count()).select_from(FunnelVersion)
                              .where(FunnelVersion.page_id == page.id)).scalar_one() == 1
    published = client.post(f"/builder/{page.id}/publish")
    assert published.status_code == 200
    assert fresh(Page, page.id).is_published


def test_publishing_the_funnel_publishes_running_variants_and_unpublishing_clears_them(owner, funnel):
    user, account = owner
    test = start(owner, funnel)
    ended = start(owner, funnel, name="On thanks", step=1)
    splittests.end_test(account, ended, user)
    publishing.publish_funnel(account, fresh(type(funnel), funnel.id), user)
    running_page, ended_page = test.variants[1].page_id, ended.variants[1].page_id
    assert fresh(Page, running_page).is_published
    assert not fresh(Page, ended_page).is_published  # an ended test's variants are not served
    publishing.unpublish_funnel(account, fresh(type(funnel), funnel.id), user)
    assert not fresh(Page, running_page).is_published


def test_a_test_started_on_a_published_step_publishes_its_variants_at_once(owner, funnel):
    user, account = owner
    publishing.publish_funnel(account, funnel, user)
    test = start(owner, funnel)
    assert fresh(Page, test.variants[1].page_id).is_published


def test_a_variants_publish_problem_blocks_the_funnel_and_links_to_its_page(client, owner, funnel, as_owner):
    user, account = owner
    test = start(owner, funnel)
    page = test.variants[1].page
    column = next(node for node, _, _ in trees.walk(page.tree) if node["type"] == "columns")
    image = trees.new_element("image")  # no alt text
    tree, _ = trees.insert(page.tree, column["id"], 0, image)
    builder.save_tree(account, page, tree, user)
    response = client.post(f"/funnels/{funnel.id}/publish")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Short headline (split test variant)" in html
    assert f'href="/builder/{page.id}?element={image["id"]}"' in html
    assert fresh(type(funnel), funnel.id).status == "draft"


# ---- promoting, ending, deleting -----------------------------------------------------------------------

def test_promoting_a_variant_copies_its_page_into_the_step_and_republishes(client, owner, funnel, as_owner):
    user, account = owner
    publishing.publish_funnel(account, funnel, user)
    test = start(owner, funnel)
    variant = test.variants[1]
    builder.save_tree(account, variant.page, with_headline(variant.page.tree, "The shorter headline"), user)
    variant.page.title, variant.page.seo_title = "Shorter", "Shorter SEO"
    db.session.commit()
    step_page_id = funnel.steps[0].page.id
    before = fresh(Page, step_page_id)
    history_length, old_tree = len(before.history), before.tree

    response = client.post(f"/funnels/{funnel.id}/split-tests/{test.id}/promote", data={"variant_id": str(variant.id)})
    assert response.status_code == 303

    page = fresh(Page, step_page_id)
    assert page.tree == fresh(Page, variant.page_id).tree
    assert (page.title, page.seo_title) == ("Shorter", "Shorter SEO")
    assert "The shorter headline" in page.published_html and page.published_revision == page.revision
    assert len(page.history) == history_length + 1  # one undo away in the builder
    builder.undo(account, page, user)
    assert fresh(Page, step_page_id).tree == old_tree
    assert db.session.execute(select(FunnelVersion).where(FunnelVersion.page_id == step_page_id)
                              .where(FunnelVersion.summary.contains("promoted Short headline"))).first()
    test = fresh(SplitTest, test.id)
    assert test.status == "completed" and test.winner_variant_id == variant.id and test.completed_at
    assert fresh(Page, variant.page_id) is not None  # the variant page stays: its results remain readable
    actions = set(db.session.execute(select(AuditEvent.action)).scalars())
    assert {"split_test.completed", "split_test.promoted", "page.published"} <= actions
    html = client.get(f"/funnels/{funnel.id}/split-tests/{test.id}").get_data(as_text=True)
    assert "was declared the winner" in html


def test_promoting_on_a_draft_funnel_does_not_publish(owner, funnel):
    user, account = owner
    test = start(owner, funnel)
    splittests.promote(account, test, test.variants[1].id, user)
    assert not fresh(Page, funnel.steps[0].page.id).is_published


def test_promoting_a_page_with_problems_is_refused_and_changes_nothing(client, owner, funnel, as_owner):
    user, account = owner
    publishing.publish_funnel(account, funnel, user)
    test = start(owner, funnel)
    page = test.variants[1].page
    column = next(node for node, _, _ in trees.walk(page.tree) if node["type"] == "columns")
    tree, _ = trees.insert(page.tree, column["id"], 0, trees.new_element("image"))
    builder.save_tree(account, page, tree, user)
    step_tree = fresh(Page, funnel.steps[0].page.id).tree
    response = client.post(f"/funnels/{funnel.id}/split-tests/{test.id}/promote",
                           data={"variant_id": str(test.variants[1].id)})
    assert response.status_code == 422
    assert "Nothing was promoted" in response.get_data(as_text=True)
    assert fresh(Page, funnel.steps[0].page.id).tree == step_tree
    assert fresh(SplitTest, test.id).status == "running"


def test_promoting_an_unknown_variant_is_refused(owner, funnel):
    user, account = owner
    test = start(owner, funnel)
    with pytest.raises(ValidationError):
        splittests.promote(account, test, uuid.uuid4(), user)


def test_ending_a_test(client, owner, funnel, as_owner):
    test = start(owner, funnel)
    response = client.post(f"/funnels/{funnel.id}/split-tests/{test.id}/end")
    assert response.status_code == 303
    test = fresh(SplitTest, test.id)
    assert test.status == "stopped" and test.completed_at is not None and test.winner_variant_id is None
    again = client.post(f"/funnels/{funnel.id}/split-tests/{test.id}/end", follow_redirects=True)
    assert "ended already" in again.get_data(as_text=True)


def test_deleting_a_test_removes_its_variant_pages_and_results(client, owner, funnel, as_owner):
    user, account = owner
    test = start(owner, funnel, [{"name": "Original", "weight": 50}, {"name": "B", "weight": 25},
                                 {"name": "C", "weight": 25}])
    test_id, funnel_id = test.id, funnel.id
    variant_pages = [v.page_id for v in test.variants if not v.is_control]
    db.session.add(Exposure(account_id=account.id, test_id=test_id, visitor_id=uuid.uuid4(),
                            variant_id=test.variants[1].id))
    db.session.commit()
    running = client.post(f"/funnels/{funnel_id}/split-tests/{test_id}/delete")
    assert running.status_code == 303 and fresh(SplitTest, test_id) is not None  # end it first
    splittests.end_test(account, fresh(SplitTest, test_id), user)
    response = client.post(f"/funnels/{funnel_id}/split-tests/{test_id}/delete")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/funnels/{funnel_id}#steps")
    assert fresh(SplitTest, test_id) is None
    assert db.session.execute(select(func.count()).select_from(SplitVariant)).scalar_one() == 0
    assert all(fresh(Page, page_id) is None for page_id in variant_pages)
    assert fresh(Page, funnel.steps[0].page.id) is not None
    assert db.session.execute(select(func.count()).select_from(Exposure)).scalar_one() == 0


def test_deleting_the_step_deletes_its_tests_and_variant_pages(owner, funnel):
    user, account = owner
    test = start(owner, funnel)
    test_id, variant_page = test.id, test.variants[1].page_id
    funnels.delete_step(account, funnel, funnel.steps[0], user)
    assert fresh(SplitTest, test_id) is None and fresh(Page, variant_page) is None
