"""Lists dragged into order, in a real browser: the board's columns, the pipeline's stages and the funnel's
steps are all wired by one behaviour (static/js/app.js, "Sortable lists", from the attributes of the
sortable() macro), which loads SortableJS once. Here the stages: dragged with the mouse by their handle and
saved, moved back with the keyboard (the arrow buttons), and a drop the server refuses (the page was stale)
answered with the stages as saved. The board and the steps are dragged in the CRM and funnels journeys."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.crm.models import Stage
from app.crm.services import deals
from app.extensions import db
from tests import factories
from tests.browser.conftest import drag_above

pytestmark = pytest.mark.browser


def saved_names(pipeline) -> list[str]:
    db.session.expire_all()
    return list(db.session.execute(select(Stage.name).where(Stage.pipeline_id == pipeline.id)
                                   .order_by(Stage.position)).scalars())


def shown_names(card) -> list[str]:
    return card.locator(".stage-row input[name=name]").evaluate_all("inputs => inputs.map(i => i.value)")


def open_pipelines(live_server, new_context):
    user = factories.make_user("admin@example.com", name="Ari Admin")
    account = factories.make_account(user, "Ari's Sales")
    pipeline = factories.default_pipeline(account)
    _, page = new_context()
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(live_server.url + "/deals/pipelines")
    return account, pipeline, page, page.locator(f"#pipeline-{pipeline.id}")


def is_order_post(response) -> bool:
    return response.url.endswith("/stages/order") and response.request.method == "POST"


def test_stages_dragged_into_order_and_moved_back_with_the_keyboard(live_server, new_context):
    _, pipeline, page, card = open_pipelines(live_server, new_context)
    names = saved_names(pipeline)
    rows = card.locator(".stage-row")
    expect(rows).to_have_count(len(names))
    # One SortableJS, loaded by app.js (no <script> tag of the page).
    assert page.locator("script[src*='Sortable']").count() == 1
    assert page.locator("head > script[src*='Sortable']").count() == 1

    with page.expect_response(is_order_post) as answer:
        drag_above(page, rows.nth(2).locator(".drag-handle"), rows.nth(0))
    assert answer.value.status == 200
    moved = [names[2], names[0], names[1], *names[3:]]
    expect(card.locator(".stage-row").first.locator("input[name=name]")).to_have_value(names[2])
    assert shown_names(card) == moved
    assert saved_names(pipeline) == moved
    expect(card.locator(".stage-list")).not_to_have_attribute("aria-busy", "true")

    # The list as answered is wired again: a second drag works, then the keyboard moves it back.
    rows = card.locator(".stage-row")
    with page.expect_response(is_order_post) as answer:
        drag_above(page, rows.nth(1).locator(".drag-handle"), rows.nth(0))
    assert answer.value.status == 200
    expect(card.locator(".stage-row").first.locator("input[name=name]")).to_have_value(names[0])
    assert saved_names(pipeline) == names[:1] + [names[2], names[1]] + names[3:]
    down = card.get_by_role("button", name=f"Move {names[2]} down")
    down.focus()
    with page.expect_response(is_order_post):
        page.keyboard.press("Enter")
    expect(card.locator(".stage-row").nth(1).locator("input[name=name]")).to_have_value(names[1])
    assert saved_names(pipeline) == names


def test_a_refused_order_shows_the_stages_as_saved(live_server, new_context):
    account, pipeline, page, card = open_pipelines(live_server, new_context)
    names = saved_names(pipeline)
    expect(card.locator(".stage-row")).to_have_count(len(names))
    # Someone else adds a stage: the order this page posts misses it, and the server refuses it (422).
    deals.add_stage(account, pipeline, "Negotiation", 70)

    rows = card.locator(".stage-row")
    with page.expect_response(is_order_post) as answer:
        drag_above(page, rows.nth(2).locator(".drag-handle"), rows.nth(0))
    assert answer.value.status == 422
    # The server's list replaces the dragged one: nothing moved, the new stage is there.
    expect(card.locator(".stage-row")).to_have_count(len(names) + 1)
    assert shown_names(card) == saved_names(pipeline) == [*names, "Negotiation"]
