"""Pipelines and deals: the board (columns, counts and totals, drops, quick-add, filters, paging, query
count), the list, a deal's page (edit, won / lost / abandoned / reopen, notes, delete), the forecast and
pipeline settings (stages with a probability of 0–100, reordered); another account's ids are 404."""
import re
from datetime import date

import pytest
from sqlalchemy import select

from app.crm.models import Deal, Note, Pipeline, Stage
from app.crm.services import companies, contacts, deals
from app.extensions import db
from tests import factories
from tests.crm.conftest import HTMX
from tests.factories import make_deal


@pytest.fixture
def pipeline(signed_in):
    """The pipeline the workspace started with, named Sales."""
    _, account = signed_in
    return factories.default_pipeline(account, "Sales")


def positions(stage):
    return [d.title for d in db.session.execute(select(Deal).where(Deal.stage_id == stage.id, Deal.status == "open")
                                                 .order_by(Deal.position, Deal.created_at.desc())).scalars()]


def column_html(page: str, stage) -> str:
    """The HTML of one column of the board."""
    match = re.search(rf'<section class="board-column" data-stage-id="{stage.id}".*?</section>', page, re.S)
    assert match, f"no column for {stage.name}"
    return match.group(0)


# ---- the board ------------------------------------------------------------------------------------

def test_a_new_workspace_has_the_default_pipeline_and_the_board_changes_nothing(client, signed_in):
    page = client.get("/deals")
    assert page.status_code == 200
    pipeline = db.session.execute(select(Pipeline)).scalar_one()
    assert pipeline.name == "Sales pipeline"
    assert [(s.name, s.probability, s.position) for s in pipeline.stages] == [
        ("Lead", 10, 0), ("Qualified", 25, 1), ("Proposal", 50, 2), ("Negotiation", 75, 3), ("Closing", 90, 4)]
    assert "No open deals in Sales pipeline yet" in page.text
    assert client.get("/deals").status_code == 200
    assert len(db.session.execute(select(Pipeline)).all()) == 1  # only once


def test_a_workspace_without_pipeline_is_offered_one_and_no_get_makes_it(client, signed_in, app):
    user, account = signed_in
    factories.remove_pipelines(account)
    for path in ("/deals", "/deals/list", "/deals/forecast", "/deals/pipelines"):
        assert client.get(path).status_code == 200, path
    assert db.session.execute(select(Pipeline)).first() is None  # no GET writes
    board = client.get("/deals").text
    assert "No pipeline yet" in board and "Create the sales pipeline" in board
    assert 'action="/deals/pipelines"' in board and 'value="Sales pipeline"' in board
    new = client.get("/deals/new")
    assert new.status_code == 303 and new.headers["Location"].endswith("/deals")
    assert db.session.execute(select(Pipeline)).first() is None

    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    viewer_client = app.test_client()
    factories.login(viewer_client, viewer, account)
    seen = viewer_client.get("/deals").text
    assert "No pipeline yet" in seen and "Create the sales pipeline" not in seen

    created = client.post("/deals/pipelines", data={"name": "Sales pipeline"})
    assert created.status_code == 303
    assert [p.name for p in db.session.execute(select(Pipeline)).scalars()] == ["Sales pipeline"]
    assert "No open deals in Sales pipeline yet" in client.get("/deals").text


def test_board_shows_columns_with_counts_totals_and_cards(client, signed_in, pipeline):
    user, account = signed_in
    pat = contacts.create(account, {"first_name": "Pat", "last_name": "Lee", "email": "pat@example.com"})
    make_deal(account, pipeline, "Website", "1250.50", 0, contact_id=str(pat.id), owner_id=str(user.id),
              expected_close_date="2030-03-15")
    make_deal(account, pipeline, "Ads", "300", 0)
    make_deal(account, pipeline, "Retainer", "5000", 2)
    won = make_deal(account, pipeline, "Closed one", "999", 2)
    deals.set_status(account, won, "won")

    page = client.get("/deals")
    assert page.status_code == 200
    lead = column_html(page.text, pipeline.stages[0])
    assert '<span class="badge" title="Open deals">2</span>' in lead
    assert "$1,550.50" in lead  # 1,250.50 + 300
    assert "Website" in lead and "Pat Lee" in lead and "Mar 15, 2030" in lead and ">OO<" in lead  # Olive Owner
    proposal = column_html(page.text, pipeline.stages[2])
    assert '<span class="badge" title="Open deals">1</span>' in proposal and "$5,000.00" in proposal
    assert "Closed one" not in page.text  # won deals leave the board
    assert "3 open deals" in page.text
    # SortableJS and the board's script, and nothing inline (CSP).
    assert "vendor/Sortable.min.js" in page.text and "js/board.js" in page.text
    assert "<script>" not in page.text and "hx-on" not in page.text
    assert 'data-editable="true"' in page.text


def test_sortable_is_loaded_only_where_cards_or_stages_are_dragged(client, signed_in, pipeline):
    assert "Sortable.min.js" not in client.get("/deals/list").text
    assert "Sortable.min.js" not in client.get("/deals/forecast").text
    assert "Sortable.min.js" not in client.get("/").text


def test_board_chooses_the_pipeline(client, signed_in, pipeline):
    _, account = signed_in
    other = deals.create_pipeline(account, "Partners", stages=[("Intro", 20), ("Signed", 90)])
    make_deal(account, other, "Partner deal")
    default = client.get("/deals").text
    assert "Partner deal" not in default and "Lead" in default
    chosen = client.get(f"/deals?pipeline={other.id}").text
    assert "Partner deal" in chosen and "Intro" in chosen and "Qualified" not in chosen
    assert client.get("/deals?pipeline=nonsense").status_code == 200


def test_board_filters_by_owner_and_close_date(client, signed_in, pipeline):
    user, account = signed_in
    member = factories.add_member(account, "user", email="m@example.com", name="Max Member")
    make_deal(account, pipeline, "Mine early", owner_id=str(user.id), expected_close_date="2030-01-10")
    make_deal(account, pipeline, "Mine late", owner_id=str(user.id), expected_close_date="2030-06-10")
    make_deal(account, pipeline, "Theirs", owner_id=str(member.id), expected_close_date="2030-01-20")

    mine = client.get(f"/deals?owner={user.id}", headers=HTMX)
    assert mine.status_code == 200 and "<html" not in mine.text  # the board alone, for the swap
    assert "Mine early" in mine.text and "Mine late" in mine.text and "Theirs" not in mine.text
    january = client.get("/deals?close_from=2030-01-01&close_to=2030-01-31").text
    assert "Mine early" in january and "Theirs" in january and "Mine late" not in january
    assert "2 open deals" in january

    bad = client.get("/deals?close_from=31/01/2030&owner=00000000-0000-0000-0000-000000000000")
    assert bad.status_code == 422
    assert "Use a date like 2026-12-31." in bad.text and "Choose a member of this workspace." in bad.text


def test_columns_show_25_cards_and_load_more(client, signed_in, pipeline):
    _, account = signed_in
    for i in range(30):
        make_deal(account, pipeline, f"Deal {i:02d}", "10")
    page = client.get("/deals").text
    lead = column_html(page, pipeline.stages[0])
    assert lead.count('class="deal-card"') == 25
    assert '<span class="badge" title="Open deals">30</span>' in lead and "$300.00" in lead
    assert "Show more" in lead and "(5 more)" in lead
    assert "Deal 29" in lead and "Deal 04" not in lead  # newest on top

    more = client.get(f"/deals/stages/{pipeline.stages[0].id}/cards?offset=25", headers=HTMX)
    assert more.status_code == 200
    assert more.text.count('class="deal-card"') == 5
    assert all(f"Deal {i:02d}" in more.text for i in range(5))
    assert f'hx-swap-oob="beforeend:#cards-{pipeline.stages[0].id}"' in more.text
    assert "Show more" not in more.text  # all 30 are shown now
    assert client.get(f"/deals/stages/{pipeline.stages[0].id}/cards?offset=abc").status_code == 200


def test_board_queries_do_not_grow_with_deals(client, signed_in, pipeline, count_queries):
    user, account = signed_in
    member = factories.add_member(account, "user", email="m@example.com")
    company = companies.create(account, {"name": "Acme"})

    def add(n, start):
        for i in range(start, start + n):
            person = contacts.create(account, {"first_name": f"P{i}", "email": f"p{i}@example.com"}, commit=False)
            db.session.flush()
            db.session.add(Deal(account_id=account.id, pipeline_id=pipeline.id, stage_id=pipeline.stages[i % 5].id,
                                title=f"Deal {i}", value_cents=100 * i, contact_id=person.id, company_id=company.id,
                                owner_id=(user.id if i % 2 else member.id), expected_close_date=date(2030, 1, 1)))
        db.session.commit()

    add(3, 0)
    few = count_queries(lambda: client.get("/deals"))
    add(80, 3)
    many = count_queries(lambda: client.get("/deals"))
    assert many == few
    assert "83 open deals" in client.get("/deals").text
    more = count_queries(lambda: client.get(f"/deals/stages/{pipeline.stages[0].id}/cards?offset=5"))
    add(40, 83)
    assert count_queries(lambda: client.get(f"/deals/stages/{pipeline.stages[0].id}/cards?offset=5")) == more


# ---- drops on the board ---------------------------------------------------------------------------

def test_drop_moves_a_deal_to_another_stage_and_answers_new_totals(client, signed_in, pipeline, published):
    _, account = signed_in
    pat = contacts.create(account, {"first_name": "Pat", "email": "pat@example.com"})
    deal = make_deal(account, pipeline, "Website", "1000", 0, contact_id=str(pat.id))
    other = make_deal(account, pipeline, "Ads", "500", 1)
    published.clear()
    target = pipeline.stages[1]
    response = client.post(f"/deals/{deal.id}/move", data={"stage_id": str(target.id),
                                                            "order": [str(other.id), str(deal.id)]},
                           headers=HTMX)
    assert response.status_code == 200
    assert db.session.get(Deal, deal.id).stage_id == target.id
    assert positions(target) == ["Ads", "Website"]
    # The answer: each column's header, swapped out of band, with the new counts and totals.
    assert response.text.count('hx-swap-oob="true"') == len(pipeline.stages)
    head = re.search(rf'<header class="board-column-head" id="head-{target.id}".*?</header>', response.text,
                     re.S).group(0)
    assert '<span class="badge" title="Open deals">2</span>' in head and "$1,500.00" in head
    head = re.search(rf'id="head-{pipeline.stages[0].id}".*?</header>', response.text, re.S).group(0)
    assert '<span class="badge" title="Open deals">0</span>' in head and "$0.00" in head
    assert [name for name, _ in published] == ["deal.stage_changed"]
    assert published[0][1]["deal_id"] == str(deal.id) and published[0][1]["to_stage_id"] == str(target.id)


def test_drop_within_a_column_reorders_it(client, signed_in, pipeline, published):
    _, account = signed_in
    a, b, c = (make_deal(account, pipeline, title) for title in ("A", "B", "C"))
    assert positions(pipeline.stages[0]) == ["C", "B", "A"]  # the newest on top
    published.clear()
    response = client.post(f"/deals/{a.id}/move", data={"stage_id": str(pipeline.stages[0].id),
                                                         "order": [str(a.id), str(c.id), str(b.id)]},
                           headers=HTMX)
    assert response.status_code == 200
    assert positions(pipeline.stages[0]) == ["A", "C", "B"]
    assert published == []  # same stage: no stage_changed event
    page = client.get("/deals").text
    assert page.index(">A<") < page.index(">C<") < page.index(">B<")


def test_a_reorder_of_the_shown_cards_keeps_the_rest_in_order(client, signed_in, pipeline):
    _, account = signed_in
    made = [make_deal(account, pipeline, f"D{i:02d}") for i in range(30)]
    board_order = positions(pipeline.stages[0])
    shown = board_order[:25]
    by_title = {d.title: d for d in made}
    new_order = [shown[1], shown[0]] + shown[2:]
    client.post(f"/deals/{by_title[shown[1]].id}/move", data={
        "stage_id": str(pipeline.stages[0].id), "order": [str(by_title[t].id) for t in new_order]},
        headers=HTMX)
    assert positions(pipeline.stages[0]) == new_order + board_order[25:]


def test_drop_on_a_stage_of_another_pipeline_is_refused_and_the_board_rerendered(client, signed_in, pipeline,
                                                                                  published):
    _, account = signed_in
    deal = make_deal(account, pipeline, "Website")
    other = deals.create_pipeline(account, "Partners", stages=[("Intro", 20)])
    published.clear()
    response = client.post(f"/deals/{deal.id}/move",
                           data={"stage_id": str(other.stages[0].id), "order": [str(deal.id)]}, headers=HTMX)
    assert response.status_code == 422
    assert "A deal moves only between stages of its own pipeline." in response.text
    assert '<div id="board" class="board-wrap" hx-swap-oob="true"' in response.text  # the saved board replaces the drop
    assert "Website" in column_html(response.text, pipeline.stages[0])
    assert db.session.get(Deal, deal.id).stage_id == pipeline.stages[0].id
    assert published == []


def test_drop_on_a_stage_of_another_account_is_refused(client, signed_in, pipeline, published):
    _, account = signed_in
    deal = make_deal(account, pipeline, "Website")
    before = (deal.stage_id, deal.position)
    other = factories.make_account(factories.make_user("b@example.com"), "B")
    their_pipeline = deals.create_pipeline(other, "Theirs")
    published.clear()
    response = client.post(f"/deals/{deal.id}/move", data={"stage_id": str(their_pipeline.stages[1].id)},
                           headers=HTMX)
    assert response.status_code == 422 and "does not exist in this workspace" in response.text
    for bad in ("", "not-a-uuid"):
        assert client.post(f"/deals/{deal.id}/move", data={"stage_id": bad},
                           headers=HTMX).status_code == 422
    stored = db.session.get(Deal, deal.id)
    assert (stored.stage_id, stored.position) == before
    assert published == []


def test_another_accounts_deal_cannot_be_moved(client, signed_in, pipeline):
    _, account = signed_in
    other = factories.make_account(factories.make_user("b@example.com"), "B")
    their_pipeline = deals.create_pipeline(other, "Theirs")
    theirs = make_deal(other, their_pipeline, "Their deal")
    response = client.post(f"/deals/{theirs.id}/move", data={"stage_id": str(their_pipeline.stages[1].id)},
                           headers=HTMX)
    assert response.status_code == 404
    assert db.session.get(Deal, theirs.id).stage_id == their_pipeline.stages[0].id


def test_move_from_the_deal_page(client, signed_in, pipeline):
    _, account = signed_in
    deal = make_deal(account, pipeline, "Website")
    response = client.post(f"/deals/{deal.id}/move", data={"stage_id": str(pipeline.stages[3].id)})
    assert response.status_code in (302, 303) and response.headers["Location"].endswith(f"/deals/{deal.id}")
    assert db.session.get(Deal, deal.id).stage_id == pipeline.stages[3].id
    other = deals.create_pipeline(account, "Partners")
    refused = client.post(f"/deals/{deal.id}/move", data={"stage_id": str(other.stages[0].id)})
    assert refused.status_code == 422 and "only between stages of its own pipeline" in refused.text


def test_quick_add_in_a_column(client, signed_in, pipeline, published):
    user, account = signed_in
    stage = pipeline.stages[1]
    prefix = f"qa{stage.id.hex[:10]}"
    published.clear()
    response = client.post(f"/deals/stages/{stage.id}/deals",
                           data={f"{prefix}-title": "Quick one", f"{prefix}-value": "1,250.50"}, headers=HTMX)
    assert response.status_code == 200
    deal = db.session.execute(select(Deal)).scalar_one()
    assert (deal.title, deal.value_cents, deal.stage_id, deal.owner_id) == ("Quick one", 125050, stage.id, user.id)
    assert f'hx-swap-oob="afterbegin:#cards-{stage.id}"' in response.text and "Quick one" in response.text
    assert f'id="head-{stage.id}" hx-swap-oob="true"' in response.text and "$1,250.50" in response.text
    assert [name for name, _ in published] == ["deal.created"]

    bad = client.post(f"/deals/stages/{stage.id}/deals", data={f"{prefix}-title": "", f"{prefix}-value": "lots"},
                      headers=HTMX)
    assert bad.status_code == 422
    assert "Enter a title." in bad.text and "Enter an amount like 1250 or 1250.50." in bad.text
    for value in ("-5", "inf", "nan"):
        refused = client.post(f"/deals/stages/{stage.id}/deals",
                              data={f"{prefix}-title": "X", f"{prefix}-value": value}, headers=HTMX)
        assert refused.status_code == 422, value
    assert len(db.session.execute(select(Deal)).all()) == 1


# ---- one deal -------------------------------------------------------------------------------------

def test_new_deal_from_a_contact_is_prefilled(client, signed_in, pipeline):
    _, account = signed_in
    acme = companies.create(account, {"name": "Acme"})
    pat = contacts.create(account, {"first_name": "Pat", "last_name": "Lee", "email": "pat@acme.com",
                                    "company_id": str(acme.id)})
    page = client.get(f"/deals/new?contact_id={pat.id}")
    assert page.status_code == 200
    assert f'<option selected value="{pat.id}">Pat Lee (pat@acme.com)</option>' in page.text
    assert f'<option selected value="{acme.id}">Acme</option>' in page.text
    assert client.get("/deals/new?contact_id=nonsense").status_code == 200


def test_create_and_edit_a_deal(client, signed_in, pipeline, published):
    user, account = signed_in
    pat = contacts.create(account, {"first_name": "Pat", "email": "pat@example.com"})
    published.clear()
    response = client.post("/deals/new", data={
        "title": "Website", "value": "1250.50", "stage_id": str(pipeline.stages[1].id), "contact_id": str(pat.id),
        "company_id": "", "owner_id": str(user.id), "expected_close_date": "2030-02-01"})
    assert response.status_code in (302, 303)
    deal = db.session.execute(select(Deal)).scalar_one()
    assert (deal.value_cents, deal.stage_id, deal.contact_id, deal.expected_close_date) == (
        125050, pipeline.stages[1].id, pat.id, date(2030, 2, 1))
    assert [name for name, _ in published] == ["deal.created"]

    page = client.get(f"/deals/{deal.id}/edit").text
    assert 'value="1250.50"' in page
    response = client.post(f"/deals/{deal.id}/edit", data={
        "title": "Website v2", "value": "99.99", "stage_id": str(pipeline.stages[2].id), "contact_id": "",
        "company_id": "", "owner_id": "", "expected_close_date": ""})
    assert response.status_code in (302, 303)
    deal = db.session.get(Deal, deal.id)
    assert (deal.title, deal.value_cents, deal.stage_id, deal.contact_id, deal.owner_id) == (
        "Website v2", 9999, pipeline.stages[2].id, None, None)
    assert "deal.stage_changed" in [name for name, _ in published]


def test_deal_form_errors_are_shown_next_to_the_fields(client, signed_in, pipeline):
    _, account = signed_in
    deal = make_deal(account, pipeline, "Website", "10")
    other = factories.make_account(factories.make_user("b@example.com"), "B")
    their_contact = contacts.create(other, {"first_name": "Theirs", "email": "t@example.com"})
    response = client.post(f"/deals/{deal.id}/edit", data={
        "title": "", "value": "ten", "stage_id": str(pipeline.stages[0].id), "contact_id": str(their_contact.id),
        "company_id": "nope", "owner_id": "", "expected_close_date": "soon"})
    assert response.status_code == 422
    for message in ("Enter a title.", "Enter an amount like 1250 or 1250.50.",
                    "That contact does not exist in this workspace.", "Choose a company from the list.",
                    "Use a date like 2026-12-31."):
        assert message in response.text
    other_pipeline = deals.create_pipeline(account, "Partners")
    response = client.post(f"/deals/{deal.id}/edit", data={
        "title": "Website", "value": "10", "stage_id": str(other_pipeline.stages[0].id)})
    assert response.status_code == 422 and "Choose a stage of this pipeline." in response.text
    stored = db.session.get(Deal, deal.id)
    assert (stored.title, stored.value_cents, stored.stage_id) == ("Website", 1000, pipeline.stages[0].id)


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "2200-01-01", "9999-12-31"])
def test_a_close_date_out_of_range_is_refused_next_to_the_field(client, signed_in, pipeline, day):
    form = {"title": "Far", "value": "10", "stage_id": str(pipeline.stages[0].id), "expected_close_date": day}
    response = client.post("/deals/new", data=form, headers=HTMX)
    assert response.status_code == 422
    assert 'id="expected_close_date-error">Use a date between 1900 and 2199.<' in response.text
    assert db.session.execute(select(Deal)).first() is None
    deal = make_deal(signed_in[1], pipeline, "Near", expected_close_date="2030-01-01")
    edited = client.post(f"/deals/{deal.id}/edit", data=form)
    assert edited.status_code == 422 and "Use a date between 1900 and 2199." in edited.text
    assert db.session.get(Deal, deal.id).expected_close_date == date(2030, 1, 1)
    assert client.get("/deals/forecast").status_code == 200


def test_the_forecast_and_the_deal_pages_read_dates_stored_before_they_were_checked(client, signed_in, pipeline):
    """0001-01-01 was accepted once; the forecast then answered 500 for the whole workspace."""
    _, account = signed_in
    old = make_deal(account, pipeline, "Year one", "100")
    late = make_deal(account, pipeline, "Year 9999", "50")
    db.session.execute(Deal.__table__.update().where(Deal.id == old.id).values(expected_close_date=date(1, 1, 1)))
    db.session.execute(Deal.__table__.update().where(Deal.id == late.id)
                       .values(expected_close_date=date(9999, 12, 31)))
    db.session.commit()
    forecast = client.get("/deals/forecast")
    assert forecast.status_code == 200
    rows = re.findall(r'<tr data-month="([^"]+)">\s*<td>([^<]+)</td>', forecast.text)
    assert rows == [("0001-01", "January 1"), ("9999-12", "December 9999")]
    for path in ("/deals", "/deals/list", f"/deals/{old.id}", f"/deals/{old.id}/edit", f"/deals/{late.id}"):
        assert client.get(path).status_code == 200, path


def test_close_date_filters_take_any_calendar_date(client, signed_in, pipeline):
    _, account = signed_in
    make_deal(account, pipeline, "Dated", expected_close_date="2030-01-10")
    board = client.get("/deals?close_from=0001-01-01&close_to=9999-12-31")
    assert board.status_code == 200 and "Dated" in board.text and "1 open deal" in board.text
    more = client.get(f"/deals/stages/{pipeline.stages[0].id}/cards?offset=0&close_from=0001-01-01", headers=HTMX)
    assert more.status_code == 200 and "Dated" in more.text
    assert "Dated" not in client.get("/deals?close_from=2031-01-01&close_to=9999-12-31").text
    assert client.get("/deals?close_to=31/12/2030").status_code == 422


def test_won_lost_abandoned_and_reopen(client, signed_in, pipeline, published):
    _, account = signed_in
    deal = make_deal(account, pipeline, "Website", "100")
    published.clear()

    assert client.post(f"/deals/{deal.id}/status", data={"status": "won"}).status_code in (302, 303)
    stored = db.session.get(Deal, deal.id)
    assert stored.status == "won" and stored.closed_at is not None
    assert "Won" in client.get(f"/deals/{deal.id}").text

    assert client.post(f"/deals/{deal.id}/status", data={"status": "open"}).status_code in (302, 303)
    assert db.session.get(Deal, deal.id).status == "open" and db.session.get(Deal, deal.id).closed_at is None

    refused = client.post(f"/deals/{deal.id}/status", data={"status": "lost", "reason": "  "})
    assert refused.status_code == 422 and "Say why the deal was lost." in refused.text
    assert 'id="lost-reason-error"' in refused.text
    assert db.session.get(Deal, deal.id).status == "open"

    lost = client.post(f"/deals/{deal.id}/status", data={"status": "lost", "reason": "Too expensive"})
    assert lost.status_code in (302, 303)
    stored = db.session.get(Deal, deal.id)
    assert (stored.status, stored.lost_reason) == ("lost", "Too expensive")
    assert "Too expensive" in client.get(f"/deals/{deal.id}").text

    client.post(f"/deals/{deal.id}/status", data={"status": "open"})
    assert client.post(f"/deals/{deal.id}/status", data={"status": "abandoned"}).status_code in (302, 303)
    stored = db.session.get(Deal, deal.id)
    assert stored.status == "abandoned" and stored.lost_reason is None

    assert client.post(f"/deals/{deal.id}/status", data={"status": "sold"}).status_code == 422
    assert db.session.get(Deal, deal.id).status == "abandoned"
    assert [name for name, _ in published] == ["deal.won", "deal.lost"]
    assert all(payload["deal_id"] == str(deal.id) for _, payload in published)


def test_deal_page_shows_details_notes_and_slots(client, signed_in, pipeline):
    user, account = signed_in
    acme = companies.create(account, {"name": "Acme"})
    pat = contacts.create(account, {"first_name": "Pat", "last_name": "Lee", "email": "pat@acme.com"})
    deal = make_deal(account, pipeline, "Website", "1250.50", 2, contact_id=str(pat.id), company_id=str(acme.id),
                     owner_id=str(user.id), expected_close_date="2030-05-01")
    page = client.get(f"/deals/{deal.id}")
    assert page.status_code == 200
    for text in ("Website", "$1,250.50", "Proposal", f'href="/contacts/{pat.id}"', f'href="/companies/{acme.id}"',
                 "Olive Owner", "May 1, 2030", "weighted $625.25", 'id="record-notes"'):
        assert text in page.text, text

    added = client.post(f"/deals/{deal.id}/notes", data={"body": "Call back Friday"}, headers=HTMX)
    assert added.status_code == 200 and "Call back Friday" in added.text
    note = db.session.execute(select(Note)).scalar_one()
    assert note.deal_id == deal.id
    assert client.post(f"/deals/{deal.id}/notes", data={"body": ""}).status_code == 422
    assert client.post(f"/deals/notes/{note.id}/delete").status_code in (302, 303)
    assert db.session.execute(select(Note)).first() is None


def test_delete_a_deal(client, signed_in, pipeline):
    _, account = signed_in
    deal_id, pipeline_id = make_deal(account, pipeline, "Website").id, pipeline.id
    assert "Delete Website?" in client.get(f"/deals/{deal_id}").text
    response = client.post(f"/deals/{deal_id}/delete")
    assert response.status_code in (302, 303) and f"/deals?pipeline={pipeline_id}" in response.headers["Location"]
    assert db.session.get(Deal, deal_id) is None
    assert client.get(f"/deals/{deal_id}").status_code == 404


def test_contact_picker_finds_contacts(client, signed_in):
    _, account = signed_in
    contacts.create(account, {"first_name": "Ava", "last_name": "Smith", "email": "ava@example.com"})
    contacts.create(account, {"first_name": "Bob", "last_name": "Jones", "email": "bob@example.com"})
    options = client.get("/deals/contact-options?q=smi", headers=HTMX).text
    assert "Ava Smith" in options and "Bob" not in options and "selected" in options
    assert "Nothing matches" in client.get("/deals/contact-options?q=zzz").text


# ---- the list -------------------------------------------------------------------------------------

def test_list_filters_and_paginates(client, signed_in, pipeline):
    user, account = signed_in
    assert "No deals yet" in client.get("/deals/list").text
    other = deals.create_pipeline(account, "Partners", stages=[("Intro", 20)])
    make_deal(account, pipeline, "Open lead", owner_id=str(user.id))
    won = make_deal(account, pipeline, "Won proposal", stage=2)
    deals.set_status(account, won, "won")
    make_deal(account, other, "Partner intro")

    everything = client.get("/deals/list").text
    assert all(t in everything for t in ("Open lead", "Won proposal", "Partner intro"))
    by_pipeline = client.get(f"/deals/list?pipeline={other.id}").text
    assert "Partner intro" in by_pipeline and "Open lead" not in by_pipeline
    by_stage = client.get(f"/deals/list?stage={pipeline.stages[2].id}").text
    assert "Won proposal" in by_stage and "Open lead" not in by_stage
    by_status = client.get("/deals/list?status=won", headers=HTMX).text
    assert "Won proposal" in by_status and "Open lead" not in by_status and "<html" not in by_status
    by_owner = client.get(f"/deals/list?owner={user.id}").text
    assert "Open lead" in by_owner and "Partner intro" not in by_owner
    nobody = client.get("/deals/list?owner=none").text
    assert "Partner intro" in nobody and "Open lead" not in nobody
    assert "No deal matches" in client.get("/deals/list?stage=nonsense").text

    for i in range(22):
        make_deal(account, pipeline, f"Bulk {i}")
    assert "1–20 of 25" in client.get("/deals/list").text
    assert "21–25 of 25" in client.get("/deals/list?page=2").text


def test_one_query_serves_the_deal_list_and_the_api(client, signed_in, pipeline):
    from tests.api.conftest import make_key

    user, account = signed_in
    other = factories.make_pipeline(account, "Partners", stages=[("Intro", 20)])
    pat = contacts.create(account, {"first_name": "Pat", "email": "pat@example.com"})
    for title, where, data in (("Website redo", pipeline, {"owner_id": str(user.id), "contact_id": str(pat.id)}),
                               ("Website ads", other, {"owner_id": str(user.id)}),
                               ("Web shop", pipeline, {}), ("Print", pipeline, {"owner_id": str(user.id)})):
        make_deal(account, where, title, **data)
    everything = ["Print", "Web shop", "Website ads", "Website redo"]
    # (filters, titles, asked on the list page too, asked through the API too): the page has no contact filter,
    # the API's owner is a user id (no "none") and its status one of the statuses (else a 400).
    cases = [({"q": "web"}, ["Web shop", "Website ads", "Website redo"], True, True),
             ({"q": "WEB", "owner": str(user.id)}, ["Website ads", "Website redo"], True, True),
             ({"owner": "none"}, ["Web shop"], True, False),
             ({"pipeline_id": str(other.id)}, ["Website ads"], True, True),
             ({"stage_id": "nonsense"}, [], True, False),
             ({"contact_id": str(pat.id), "status": "open"}, ["Website redo"], False, True),
             ({"status": "won"}, [], True, True), ({"status": "unknown"}, everything, True, False)]
    _, headers = make_key(account, user)
    names_on_page = {"pipeline_id": "pipeline", "stage_id": "stage"}
    for filters, expected, on_page, on_api in cases:
        titles = [deal.title for deal in db.session.execute(deals.filtered(account, filters)).scalars()]
        assert sorted(titles) == expected, filters  # newest first: the list and the API show this order
        if on_page:
            page = client.get("/deals/list", query_string={names_on_page.get(k, k): v for k, v in filters.items()})
            assert [t for t in everything if f">{t}</a>" in page.text] == sorted(titles), filters
            assert sorted(titles, key=page.text.index) == titles, filters
        if on_api:
            api = client.get("/api/v1/deals", query_string=filters, headers=headers).get_json()
            assert [item["title"] for item in api["items"]] == titles, filters


def test_a_new_deal_starts_from_its_contact_company_or_stage(signed_in, pipeline):
    _, account = signed_in
    acme = companies.create(account, {"name": "Acme"})
    pat = contacts.create(account, {"first_name": "Pat", "email": "pat@acme.com", "company_id": str(acme.id)})
    other = factories.make_pipeline(account, "Partners", stages=[("Intro", 20), ("Signed", 90)])
    values, contact = deals.draft(account, contact_id=str(pat.id))
    assert contact.id == pat.id and values == {"contact_id": str(pat.id), "company_id": str(acme.id),
                                               "title": "Acme – new deal", "stage_id": str(pipeline.stages[0].id)}
    assert deals.draft(account, company_id=str(acme.id))[0]["company_id"] == str(acme.id)
    assert deals.draft(account, pipeline_id=str(other.id))[0]["stage_id"] == str(other.stages[0].id)
    assert deals.draft(account, stage_id=str(other.stages[1].id))[0]["stage_id"] == str(other.stages[1].id)
    stranger = factories.make_account(factories.make_user("b@example.com"), "B")
    theirs = contacts.create(stranger, {"first_name": "Theirs", "email": "t@example.com"})
    values, contact = deals.draft(account, contact_id=str(theirs.id), stage_id="nonsense", company_id="nope")
    assert contact is None and values == {"stage_id": str(pipeline.stages[0].id)}


# ---- forecast -------------------------------------------------------------------------------------

def test_forecast_numbers_are_exact(client, signed_in):
    _, account = signed_in
    sales = deals.create_pipeline(account, "Sales", stages=[("Early", 10), ("Late", 75)])
    partners = deals.create_pipeline(account, "Partners", stages=[("Intro", 50)])
    make_deal(account, sales, "A", "1000", 0, expected_close_date="2030-01-15")     # open, 10 % → 100.00
    make_deal(account, sales, "B", "333.33", 1, expected_close_date="2030-01-31")   # open, 75 % → 249.99 (floor)
    make_deal(account, sales, "C", "200", 1, expected_close_date="2030-02-01")      # open, 75 % → 150.00
    won = make_deal(account, sales, "D", "5000", 1, expected_close_date="2030-01-10")
    deals.set_status(account, won, "won")
    lost = make_deal(account, sales, "E", "700", 0, expected_close_date="2030-02-20")
    deals.set_status(account, lost, "lost", "Budget")
    abandoned = make_deal(account, sales, "F", "9999", 0)
    deals.set_status(account, abandoned, "abandoned")
    make_deal(account, partners, "P", "400", 0)                                       # open, no date, 50 % → 200.00

    page = client.get("/deals/forecast")
    assert page.status_code == 200
    totals = {key: re.search(rf'id="total-{key}">([^<]+)<', page.text).group(1)
              for key in ("open", "weighted", "won", "lost")}
    assert totals == {"open": "$1,933.33", "weighted": "$699.99", "won": "$5,000.00", "lost": "$700.00"}
    rows = re.findall(r'<tr data-month="([^"]+)">(.*?)</tr>', page.text, re.S)
    assert [key for key, _ in rows] == ["2030-01", "2030-02", "no date"]
    january = re.findall(r">([^<>]+)</td>", rows[0][1])
    assert january == ["January 2030", "3", "$1,333.33", "$349.99", "$5,000.00", "$0.00"]
    february = re.findall(r">([^<>]+)</td>", rows[1][1])
    assert february == ["February 2030", "2", "$200.00", "$150.00", "$0.00", "$700.00"]
    no_date = re.findall(r">([^<>]+)</td>", rows[2][1])
    assert no_date == ["No close date", "2", "$400.00", "$200.00", "$0.00", "$0.00"]

    only_partners = client.get(f"/deals/forecast?pipeline={partners.id}", headers=HTMX).text
    assert 'id="total-open">$400.00<' in only_partners and 'id="total-weighted">$200.00<' in only_partners
    assert 'id="total-won">$0.00<' in only_partners


def test_forecast_empty_state(client, signed_in):
    page = client.get("/deals/forecast")
    assert page.status_code == 200 and "Nothing to forecast yet" in page.text


# ---- pipeline settings ----------------------------------------------------------------------------

def test_pipelines_create_rename_delete(client, signed_in, pipeline):
    _, account = signed_in
    page = client.get("/deals/pipelines")
    assert page.status_code == 200 and "Sales" in page.text and "Sortable.min.js" in page.text
    assert client.post("/deals/pipelines", data={"name": "  "}).status_code == 422
    assert client.post("/deals/pipelines", data={"name": "Partners"}).status_code in (302, 303)
    partners = db.session.execute(select(Pipeline).where(Pipeline.name == "Partners")).scalar_one()
    assert len(partners.stages) == 5

    renamed = client.post(f"/deals/pipelines/{partners.id}/rename", data={"name": "Partnerships"},
                          headers=HTMX)
    assert renamed.status_code == 200 and "Partnerships" in renamed.text and "<html" not in renamed.text
    assert db.session.get(Pipeline, partners.id).name == "Partnerships"
    too_long = client.post(f"/deals/pipelines/{partners.id}/rename", data={"name": "x" * 81}, headers=HTMX)
    assert too_long.status_code == 422 and "at most 80 characters" in too_long.text

    make_deal(account, partners, "Goes with it")
    partners_id = partners.id
    assert client.post(f"/deals/pipelines/{partners_id}/delete").status_code in (302, 303)
    assert db.session.get(Pipeline, partners_id) is None
    assert db.session.execute(select(Deal)).first() is None
    last = client.post(f"/deals/pipelines/{pipeline.id}/delete")
    assert last.status_code == 422 and "at least one pipeline" in last.text
    assert db.session.get(Pipeline, pipeline.id) is not None


@pytest.mark.parametrize("probability", ["101", "-1", "abc", "", "50.5"])
def test_stage_probability_must_be_0_to_100(client, signed_in, pipeline, probability):
    stage = pipeline.stages[0]
    response = client.post(f"/deals/pipelines/{pipeline.id}/stages", data={"name": "Demo", "probability": probability},
                           headers=HTMX)
    assert response.status_code == 422
    assert re.search(r'id="add-stage-probability-[^"]+-error">'
                     r'(The probability is between 0 and 100\.|Enter a whole number from 0 to 100\.)<', response.text)
    assert len(db.session.get(Pipeline, pipeline.id).stages) == 5
    edited = client.post(f"/deals/stages/{stage.id}/edit", data={"name": "Lead", "probability": probability},
                         headers=HTMX)
    assert edited.status_code == 422
    assert f'id="stage-probability-{stage.id}-error"' in edited.text
    assert db.session.get(Stage, stage.id).probability == 10


def test_stages_add_edit_delete(client, signed_in, pipeline):
    _, account = signed_in
    for probability, expected in (("0", 0), ("100", 100)):
        assert client.post(f"/deals/pipelines/{pipeline.id}/stages",
                           data={"name": f"Edge {probability}", "probability": probability}).status_code in (302, 303)
        stage = db.session.execute(select(Stage).where(Stage.name == f"Edge {probability}")).scalar_one()
        assert stage.probability == expected
        assert stage.position == max(s.position for s in db.session.get(Pipeline, pipeline.id).stages)  # added last
    lead = pipeline.stages[0]
    response = client.post(f"/deals/stages/{lead.id}/edit", data={"name": "New lead", "probability": "15"},
                           headers=HTMX)
    assert response.status_code == 200 and 'value="New lead"' in response.text
    assert (db.session.get(Stage, lead.id).name, db.session.get(Stage, lead.id).probability) == ("New lead", 15)
    empty_name = client.post(f"/deals/stages/{lead.id}/edit", data={"name": "", "probability": "15"}, headers=HTMX)
    assert empty_name.status_code == 422 and "Enter a stage name." in empty_name.text

    make_deal(account, pipeline, "Busy", stage=0)
    busy = client.post(f"/deals/stages/{lead.id}/delete")
    assert busy.status_code == 422 and "move them first" in busy.text
    assert db.session.get(Stage, lead.id) is not None
    empty_stage_id = pipeline.stages[1].id
    assert client.post(f"/deals/stages/{empty_stage_id}/delete").status_code in (302, 303)
    assert db.session.get(Stage, empty_stage_id) is None
    assert [s.position for s in db.session.get(Pipeline, pipeline.id).stages] == list(range(6))


def test_stages_are_reordered(client, signed_in, pipeline):
    ids = [str(s.id) for s in pipeline.stages]
    new = [ids[4], ids[0], ids[1], ids[2], ids[3]]
    response = client.post(f"/deals/pipelines/{pipeline.id}/stages/order", data={"stage_ids": new},
                           headers=HTMX)
    assert response.status_code == 200
    assert [str(s.id) for s in db.session.get(Pipeline, pipeline.id).stages] == new
    assert response.text.index("Closing") < response.text.index("Lead")
    board = client.get("/deals").text
    assert board.index(">Closing<") < board.index(">Lead<")
    # Not every stage once: refused, order unchanged.
    for bad in (new[:4], new + [new[0]], new[:4] + [str(pipeline.id)]):
        assert client.post(f"/deals/pipelines/{pipeline.id}/stages/order", data={"stage_ids": bad},
                           headers=HTMX).status_code == 422
    assert [str(s.id) for s in db.session.get(Pipeline, pipeline.id).stages] == new


def test_only_admins_manage_pipelines_and_viewers_do_not_drag(app, client, signed_in, pipeline):
    _, account = signed_in
    deal = make_deal(account, pipeline, "Website")
    user = factories.add_member(account, "user", email="user@example.com")
    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    user_client, viewer_client = app.test_client(), app.test_client()
    factories.login(user_client, user, account)
    factories.login(viewer_client, viewer, account)
    assert user_client.post("/deals/pipelines", data={"name": "Mine"}).status_code == 403
    stage_edit = f"/deals/stages/{pipeline.stages[0].id}/edit"
    assert user_client.post(stage_edit, data={"name": "X", "probability": "5"}).status_code == 403
    assert "Create pipeline" not in user_client.get("/deals/pipelines").text
    moved = user_client.post(f"/deals/{deal.id}/move", data={"stage_id": str(pipeline.stages[1].id)})
    assert moved.status_code in (302, 303)

    board = viewer_client.get("/deals")
    assert board.status_code == 200 and "data-editable" not in board.text and "+ Add a deal" not in board.text
    refused = viewer_client.post(f"/deals/{deal.id}/move", data={"stage_id": str(pipeline.stages[2].id)})
    assert refused.status_code == 403
    assert viewer_client.post(f"/deals/{deal.id}/status", data={"status": "won"}).status_code == 403
    assert db.session.get(Deal, deal.id).stage_id == pipeline.stages[1].id


def test_another_accounts_ids_are_not_found(client, signed_in, pipeline):
    other_owner = factories.make_user("b@example.com")
    other = factories.make_account(other_owner, "B")
    their_pipeline = deals.create_pipeline(other, "Theirs")
    theirs = make_deal(other, their_pipeline, "Their deal")
    stage = their_pipeline.stages[0]
    for method, path in (("GET", f"/deals/{theirs.id}"), ("GET", f"/deals/{theirs.id}/edit"),
                         ("POST", f"/deals/{theirs.id}/edit"), ("POST", f"/deals/{theirs.id}/status"),
                         ("POST", f"/deals/{theirs.id}/delete"), ("POST", f"/deals/{theirs.id}/notes"),
                         ("GET", f"/deals/stages/{stage.id}/cards"), ("POST", f"/deals/stages/{stage.id}/deals"),
                         ("POST", f"/deals/stages/{stage.id}/edit"), ("POST", f"/deals/stages/{stage.id}/delete"),
                         ("POST", f"/deals/pipelines/{their_pipeline.id}/rename"),
                         ("POST", f"/deals/pipelines/{their_pipeline.id}/delete"),
                         ("POST", f"/deals/pipelines/{their_pipeline.id}/stages"),
                         ("POST", f"/deals/pipelines/{their_pipeline.id}/stages/order")):
        assert client.open(path, method=method, data={"name": "x", "status": "won"}).status_code == 404, path
    assert "Their deal" not in client.get(f"/deals?pipeline={their_pipeline.id}").text
    assert "Their deal" not in client.get("/deals/list").text
    assert db.session.get(Deal, theirs.id).status == "open"
    assert db.session.get(Pipeline, their_pipeline.id).name == "Theirs"
