"""Versions of a funnel: every save makes one; the versions page lists them; a version can be viewed and
restored (a page's content, or the whole funnel), and restoring is itself a new version."""
from datetime import timedelta

from sqlalchemy import func, select

from app.builder import services as builder
from app.extensions import db
from app.funnels import services, versions
from app.funnels.models import Funnel, FunnelStep, FunnelVersion, Page
from app.pages import tree as trees
from tests import factories


def headline_page(text: str) -> dict:
    tree = trees.empty_page()
    tree["children"] = [trees.section_with([trees.new_element("headline", {"text": text})])]
    return tree


def versions_of(funnel) -> list[FunnelVersion]:
    db.session.expire_all()
    return list(db.session.execute(versions.versions_query(funnel)).scalars())


def latest(funnel) -> FunnelVersion:
    return versions_of(funnel)[0]


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def test_every_change_of_the_funnel_or_a_page_adds_one_version(owner, funnel):
    user, account = owner
    changes = [
        lambda: services.update_funnel(account, funnel, {"name": "Free checklist"}, user),
        lambda: services.add_step(account, funnel, {"name": "Upsell", "step_type": "upsell"}, user),
        lambda: services.update_step(account, funnel, funnel.steps[2], {"name": "One-time offer"}, user),
        lambda: services.reorder_steps(account, funnel, [str(s.id) for s in funnel.steps][::-1], user),
        lambda: services.delete_step(account, funnel, funnel.steps[0], user),
        lambda: builder.save_tree(account, funnel.steps[0].page, hello, user),
        lambda: builder.update_settings(account, funnel.steps[0].page, {"seo_title": "Hello there"}, user),
        lambda: services.set_status(account, funnel, "archived", user),
    ]
    hello = headline_page("Hello")
    count = len(versions_of(funnel))
    assert count == 1
    for change in changes:
        change()
        assert len(versions_of(funnel)) == count + 1, change
        count += 1
    # Saving what is already there is no change and no version.
    services.update_funnel(account, funnel, {"name": "Free checklist"}, user)
    builder.save_tree(account, funnel.steps[0].page, hello, user)
    assert len(versions_of(funnel)) == count
    assert [v.number for v in versions_of(funnel)] == list(range(count, 0, -1))


def test_versions_page_lists_newest_first_with_what_who_and_when(as_owner, owner, funnel):
    user, account = owner
    builder.save_tree(account, funnel.steps[0].page, headline_page("Hello"), user)
    html = as_owner.get(f"/funnels/{funnel.id}/versions").get_data(as_text=True)
    assert html.index("Opt-in: Edited the page") < html.index("Funnel created")
    assert "Olive Owner" in html and "<time" in html and "Page · Opt-in" in html and "Whole funnel" in html


def test_versions_page_paginates(as_owner, owner, funnel):
    user, account = owner
    for n in range(22):
        services.update_funnel(account, funnel, {"description": f"Take {n}"}, user)
    first = as_owner.get(f"/funnels/{funnel.id}/versions").get_data(as_text=True)
    assert "1–20 of 23" in first and 'id="version-23"' in first and 'id="version-3"' not in first
    second = as_owner.get(f"/funnels/{funnel.id}/versions?page=2").get_data(as_text=True)
    assert 'id="version-1"' in second


def test_view_a_page_version_shows_its_content_read_only(as_owner, owner, funnel):
    user, account = owner
    page = funnel.steps[0].page
    builder.save_tree(account, page, headline_page("Old promise"), user)
    old = latest(funnel)
    builder.save_tree(account, page, headline_page("New promise"), user)
    html = as_owner.get(f"/funnels/{funnel.id}/versions/{old.id}").get_data(as_text=True)
    assert "Version 2" in html and "Restore this version" in html and "<iframe" in html
    preview = as_owner.get(f"/funnels/{funnel.id}/versions/{old.id}/preview")
    assert preview.status_code == 200
    body = preview.get_data(as_text=True)
    assert "Old promise" in body and "New promise" not in body
    assert "data-element-id" not in body  # publish mode: no builder wrappers
    assert "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]
    assert "script-src" not in preview.headers["Content-Security-Policy"]


def test_view_a_funnel_version_lists_its_steps(as_owner, owner, funnel):
    user, account = owner
    first = latest(funnel)
    services.add_step(account, funnel, {"name": "Upsell", "step_type": "upsell"}, user)
    html = as_owner.get(f"/funnels/{funnel.id}/versions/{first.id}").get_data(as_text=True)
    assert "Opt-in" in html and "Thank you" in html and "Upsell" not in html
    assert as_owner.get(f"/funnels/{funnel.id}/versions/{first.id}/preview?step=1").status_code == 200
    assert as_owner.get(f"/funnels/{funnel.id}/versions/{first.id}/preview?step=99").status_code == 200


def test_restore_a_page_version_brings_the_old_content_back_as_a_new_version(as_owner, owner, funnel):
    user, account = owner
    page = funnel.steps[0].page
    builder.save_tree(account, page, headline_page("Old promise"), user)
    old = latest(funnel)
    builder.save_tree(account, page, headline_page("New promise"), user)
    response = as_owner.post(f"/funnels/{funnel.id}/versions/{old.id}/restore")
    assert response.status_code == 303 and response.headers["Location"] == f"/funnels/{funnel.id}/versions"
    page = fresh(Page, page.id)
    assert "Old promise" in str(page.tree) and "New promise" not in str(page.tree)
    assert "New promise" in str(page.history[-1])  # undoable in the builder
    newest = latest(funnel)
    assert (newest.number, newest.kind, newest.summary) == (4, "page", "Opt-in: Restored version 2")
    assert newest.created_by_id == user.id


def test_restore_a_funnel_version_restores_its_steps_and_pages(as_owner, owner, funnel):
    user, account = owner
    opt_in, thanks = funnel.steps
    builder.save_tree(account, thanks.page, headline_page("Thanks, check your inbox"), user)
    builder.save_tree(account, opt_in.page, headline_page("Get the free guide"), user)
    services.update_step(account, funnel, opt_in, {"name": "Sign-up"}, user)  # the funnel version to restore
    wanted = latest(funnel)
    snapshot_steps = [(s.id, s.name, s.slug, s.step_type) for s in fresh(Funnel, funnel.id).steps]

    funnel = fresh(Funnel, funnel.id)
    services.update_funnel(account, funnel, {"name": "Renamed", "description": "Changed"}, user)
    services.add_step(account, funnel, {"name": "Upsell", "step_type": "upsell"}, user)
    services.update_step(account, funnel, funnel.steps[0], {"name": "Squeeze", "slug": "squeeze"}, user)
    builder.save_tree(account, funnel.steps[0].page, headline_page("A different page"), user)
    services.delete_step(account, funnel, fresh(FunnelStep, thanks.id), user)
    funnel = fresh(Funnel, funnel.id)
    added_id = funnel.steps[-1].id
    services.reorder_steps(account, funnel, [str(s.id) for s in funnel.steps][::-1], user)
    before = len(versions_of(funnel))

    response = as_owner.post(f"/funnels/{funnel.id}/versions/{wanted.id}/restore")
    assert response.status_code == 303
    funnel = fresh(Funnel, funnel.id)
    assert funnel.name == "Free guide" and funnel.description == ""
    assert [(s.id, s.name, s.slug, s.step_type) for s in funnel.steps] == snapshot_steps
    assert [s.position for s in funnel.steps] == [0, 1]
    assert db.session.get(FunnelStep, added_id) is None  # a step added since is gone
    assert "Get the free guide" in str(funnel.steps[0].page.tree)
    assert "A different page" in str(funnel.steps[0].page.history[-1])  # undoable
    assert "Thanks, check your inbox" in str(funnel.steps[1].page.tree)  # the deleted step is back, with its page
    versions = versions_of(funnel)
    assert len(versions) == before + 1 and versions[0].summary == f"Restored version {wanted.number}"


def test_restoring_keeps_the_current_slug_when_the_old_one_was_taken_since(owner, funnel):
    user, account = owner
    first = latest(funnel)
    services.update_funnel(account, funnel, {"slug": "new-guide"}, user)
    services.create_funnel(account, {"name": "Another", "slug": "free-guide"}, user)
    versions.restore_version(account, funnel, first, user)
    assert fresh(Funnel, funnel.id).slug == "new-guide"


def test_restoring_a_page_version_whose_step_was_deleted_says_so(as_owner, owner, funnel):
    user, account = owner
    thanks = funnel.steps[1]
    builder.save_tree(account, thanks.page, headline_page("Thanks"), user)
    page_version = latest(funnel)
    services.delete_step(account, funnel, thanks, user)
    response = as_owner.post(f"/funnels/{funnel.id}/versions/{page_version.id}/restore")
    assert response.status_code == 422
    assert "was deleted since" in response.get_data(as_text=True)


def test_a_version_of_another_funnel_or_account_is_404(as_owner, owner, funnel):
    user, account = owner
    other = services.create_funnel(account, {"name": "Other"}, user)
    other_version = latest(other)
    stranger = factories.make_user("stranger@example.com")
    stranger_account = factories.make_account(stranger, "Stranger")
    foreign = services.create_funnel(stranger_account, {"name": "Theirs"}, stranger)
    foreign_version = latest(foreign)
    for version in (other_version, foreign_version):
        base = f"/funnels/{funnel.id}/versions/{version.id}"
        assert as_owner.get(base).status_code == 404
        assert as_owner.get(base + "/preview").status_code == 404
        assert as_owner.post(base + "/restore").status_code == 404
    assert fresh(Funnel, other.id).name == "Other"
    assert db.session.execute(select(func.count(FunnelVersion.id))).scalar_one() == 3


# ---- consecutive saves in the builder are one version ------------------------------------------------

def autosave(account, page, user, text):
    builder.save_tree(account, fresh(Page, page.id), headline_page(text), user, summary=f"Wrote {text}",
                      autosave=True)


def test_three_builder_saves_within_the_window_are_one_version_holding_the_last_tree(owner, funnel):
    user, account = owner
    page = funnel.steps[0].page
    for text in ("One", "Two", "Three"):
        autosave(account, page, user, text)
    page_versions = [v for v in versions_of(funnel) if v.kind == "page"]
    assert len(page_versions) == 1
    only = page_versions[0]
    assert only.number == 2 and only.created_by_id == user.id
    assert only.summary.endswith(": Wrote Three")
    assert only.snapshot["tree"] == fresh(Page, page.id).tree
    assert "Three" in str(only.snapshot["tree"]) and "Two" not in str(only.snapshot["tree"])
    # the page's undo history still has every save
    assert len(fresh(Page, page.id).history) == 3


def test_a_save_after_the_window_or_by_another_person_or_another_page_is_a_new_version(app, owner, funnel):
    user, account = owner
    page, other_page = funnel.steps[0].page, funnel.steps[1].page
    autosave(account, page, user, "One")
    first = latest(funnel)
    first.created_at = first.created_at - timedelta(minutes=app.config["VERSION_COALESCE_MINUTES"] + 1)
    db.session.commit()
    autosave(account, page, user, "Two")  # after the window
    assert [v.number for v in versions_of(funnel)] == [3, 2, 1]
    assert "One" in str(fresh(FunnelVersion, first.id).snapshot["tree"])
    colleague = factories.add_member(account, "user", "colleague@example.com")
    autosave(account, page, colleague, "Three")  # another person
    assert latest(funnel).number == 4 and latest(funnel).created_by_id == colleague.id
    autosave(account, other_page, colleague, "Four")  # another page
    assert latest(funnel).number == 5 and latest(funnel).page_id == other_page.id
    autosave(account, page, colleague, "Five")  # back to the first page: the newest version is another's
    assert latest(funnel).number == 6


def test_explicit_actions_make_their_own_versions_which_saves_do_not_fold_into(owner, funnel):
    user, account = owner
    page = funnel.steps[0].page
    autosave(account, page, user, "One")
    builder.update_settings(account, fresh(Page, page.id), {"seo_title": "Hello there"}, user)
    assert latest(funnel).number == 3 and latest(funnel).summary.endswith(": page settings")
    autosave(account, page, user, "Two")
    assert latest(funnel).number == 4
    services.update_funnel(account, funnel, {"name": "Free checklist"}, user)  # a funnel-level save
    autosave(account, page, user, "Three")
    assert [v.number for v in versions_of(funnel)] == [6, 5, 4, 3, 2, 1]
    # an API save (not an autosave) is a version of its own too
    builder.save_tree(account, fresh(Page, page.id), headline_page("Four"), user)
    assert latest(funnel).number == 7


def test_restore_still_works_with_saves_folded_and_is_not_folded_into(owner, funnel):
    user, account = owner
    page = funnel.steps[0].page
    autosave(account, page, user, "One")
    saved_one = latest(funnel)
    saved_one.created_at = saved_one.created_at - timedelta(minutes=10)
    db.session.commit()
    autosave(account, page, user, "Two")
    autosave(account, page, user, "Three")
    assert latest(funnel).number == 3
    restored = versions.restore_version(account, fresh(Funnel, funnel.id), fresh(FunnelVersion, saved_one.id), user)
    assert restored.number == 4 and restored.summary.endswith("Restored version 2")
    assert "One" in str(fresh(Page, page.id).tree)
    autosave(account, page, user, "Four")  # right after the restore: a version of its own
    assert latest(funnel).number == 5
    assert "One" in str(fresh(FunnelVersion, restored.id).snapshot["tree"])
    # the folded version restores to its last save
    versions.restore_version(account, fresh(Funnel, funnel.id), versions_of(funnel)[2], user)
    assert "Three" in str(fresh(Page, page.id).tree)


def test_no_folding_when_the_window_is_zero(app, owner, funnel, monkeypatch):
    user, account = owner
    monkeypatch.setitem(app.config, "VERSION_COALESCE_MINUTES", 0)
    page = funnel.steps[0].page
    autosave(account, page, user, "One")
    autosave(account, page, user, "Two")
    assert latest(funnel).number == 3
