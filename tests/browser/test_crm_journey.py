"""The CRM, end to end in a real browser, as a person uses it: sign up, import contacts from a CSV (with
a column matched by hand and a row rejected), find a contact with the search box, tag it and write a
note, create a deal for it, drag the deal across the board, win it, see it in the forecast, and read the
whole story on the contact's timeline. Screenshots land in test-artifacts/browser/crm/."""
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import run_jobs

pytestmark = pytest.mark.browser
SCREENSHOTS = "crm"  # test-artifacts/browser/crm/

OWNER = {"name": "Ada Lovelace", "email": "ada@example.com", "password": "first-password-1",
         "workspace": "Ada's Agency"}
CSV_NAME = "expo-leads.csv"
# Headers as another tool exports them: "Cell Number" is not recognised (matched by hand to Phone),
# "Lead Status" is guessed as tags (left out by hand), "Notes" is left out on its own.
CSV_TEXT = """First Name,Last Name,E-mail Address,Cell Number,Company Name,Lead Status,Notes
Marie,Curie,marie@radium.example.com,(415) 555-0123,Radium Labs,Customer,Met at the expo
Niels,Bohr,niels@quantum.example.com,415-555-0134,Quantum Works,Lead,"Wants a demo, soon"
Rosalind,Franklin,rosalind@helix.example.com,+44 20 7946 0958,Helix Partners,Lead,
Alan,Turing,alan@enigma.example.com,646 555 0147,Enigma Ltd,Lead,Call back in May
Bad,Address,not-an-email,212 555 0199,Nowhere Inc,Lead,Typo in the e-mail
"""
CONTACT = "Marie Curie"
TAG = "vip"
NOTE = "Asked for a quote on two spectrometers."
DEAL = "Radium Labs – spectrometers"
DEAL_VALUE, DEAL_MONEY = "12500", "$12,500.00"


def toast(page, text: str):
    return page.locator("#toasts .toast").filter(has_text=text)


def drag(page, card, target_list):
    """Drag `card` with the mouse into `target_list` (an empty column's list included), as a person does."""
    card.scroll_into_view_if_needed()
    start = card.bounding_box()
    target_list.scroll_into_view_if_needed()
    end = target_list.bounding_box()
    x0, y0 = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    x1, y1 = end["x"] + end["width"] / 2, end["y"] + min(end["height"] / 2, 40)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 10, y0 + 5, steps=3)  # past SortableJS's tolerance: the drag starts
    page.mouse.move(x1, y1, steps=12)
    page.mouse.move(x1, y1 + 2, steps=2)  # a last move over the target list, where it is dropped
    page.mouse.up()


def test_crm_journey(live_server, new_context, screenshot, tmp_path):
    base = live_server.url
    _, page = new_context()

    def shot(name: str, phone: bool = False):
        # From the top: a full-page capture of a scrolled page draws the sticky sidebar and top bar mid-page.
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, name, phone=phone)

    heading = lambda name: page.get_by_role("heading", level=1, name=name)  # noqa: E731
    sections = page.get_by_role("navigation", name="Sections")

    # ---- 1. Sign up -------------------------------------------------------------------------------
    page.goto(base + "/signup")
    page.get_by_label("Your name").fill(OWNER["name"])
    page.get_by_label("Work e-mail").fill(OWNER["email"])
    page.get_by_label("Password").fill(OWNER["password"])
    page.get_by_label("Workspace name").fill(OWNER["workspace"])
    page.get_by_role("button", name="Create account").click()
    expect(heading(f"Good to see you, {OWNER['name']}")).to_be_visible()

    # ---- 2. Import a CSV: upload, preview, match the columns, follow the job, read the result --------
    sections.get_by_role("link", name="Contacts").click()
    expect(heading("Contacts")).to_be_visible()
    expect(page.get_by_role("heading", name="No contacts yet")).to_be_visible()
    page.get_by_role("link", name="Import a CSV").click()
    expect(heading("Import contacts")).to_be_visible()
    expect(page.get_by_role("heading", name="No imports yet")).to_be_visible()
    csv_file = tmp_path / CSV_NAME
    csv_file.write_text(CSV_TEXT, encoding="utf-8")
    page.get_by_label("CSV file", exact=True).set_input_files(csv_file)
    shot("import-upload")
    page.get_by_role("button", name="Upload and preview").click()

    expect(heading(f"Import {CSV_NAME}")).to_be_visible()
    expect(page.locator(".page-header h1 + p")).to_contain_text("5 rows · 7 columns · UTF-8 · comma-separated")
    preview = page.locator("#preview")
    expect(preview.locator("thead th")).to_have_text(
        ["#", "First Name", "Last Name", "E-mail Address", "Cell Number", "Company Name", "Lead Status", "Notes"])
    expect(preview.locator("tbody tr")).to_have_count(5)
    expect(preview.locator("tbody tr").first).to_contain_text("marie@radium.example.com")
    expect(preview.locator("tbody tr").last).to_contain_text("not-an-email")

    # The columns it recognised, and the ones a person changes.
    expect(page.get_by_label("First Name", exact=True)).to_have_value("first_name")
    expect(page.get_by_label("Last Name", exact=True)).to_have_value("last_name")
    expect(page.get_by_label("E-mail Address", exact=True)).to_have_value("email")
    expect(page.get_by_label("Company Name", exact=True)).to_have_value("company")
    expect(page.get_by_label("Cell Number", exact=True)).to_have_value("ignore")  # not recognised
    expect(page.get_by_label("Lead Status", exact=True)).to_have_value("tags")  # guessed as tags
    expect(page.get_by_label("Notes", exact=True)).to_have_value("ignore")
    page.get_by_label("Cell Number", exact=True).select_option(label="Phone")
    page.get_by_label("Lead Status", exact=True).select_option(label="Don't import")
    expect(page.get_by_label("Cell Number", exact=True)).to_have_value("phone")
    expect(page.get_by_label("Lead Status", exact=True)).to_have_value("ignore")
    shot("import-preview-and-mapping")
    page.get_by_role("button", name="Import 5 rows").click()

    # The job is queued (no worker runs in tests): the page says so and polls.
    status = page.locator("#import-status")
    expect(status.get_by_role("heading", name="Importing…")).to_be_visible()
    shot("import-running")
    run_jobs(live_server.app)  # what `flask worker` would do
    expect(status.get_by_role("heading", name="Import finished")).to_be_visible()  # the poll brought it
    expect(page.locator("#count-created")).to_have_text("4")
    expect(page.locator("#count-updated")).to_have_text("0")
    expect(page.locator("#count-skipped")).to_have_text("0")
    expect(page.locator("#count-rejected")).to_have_text("1")
    expect(status).to_contain_text("1 row could not be imported.")
    report = page.get_by_role("link", name="Download the rejected rows")
    expect(report).to_be_visible()
    expect(report).to_have_attribute("href", f"{page.url.split(base, 1)[1]}/report")
    shot("import-finished")

    # ---- 3. Contacts: the search narrows the list as you type; open the contact -----------------------
    status.get_by_role("link", name="View contacts").click()
    expect(heading("Contacts")).to_be_visible()
    rows = page.locator("#contact-table tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#contact-results")).to_contain_text("4 contacts")
    expect(rows.filter(has_text="Niels Bohr")).to_contain_text("Quantum Works")
    expect(rows.filter(has_text="Niels Bohr")).to_contain_text("+1 415-555-0134")  # the phone column, matched
    expect(rows.filter(has_text="Bad Address")).to_have_count(0)  # the rejected row
    shot("contacts-imported", phone=True)

    page.get_by_label("Search").press_sequentially("curi", delay=40)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(CONTACT)
    expect(page.locator("#contact-results")).to_contain_text("1 contact matches the filter")
    expect(page).to_have_url(re.compile(r"/contacts\?q=curi(&|$)"))  # no submit, yet the address follows
    shot("contacts-search")
    rows.get_by_role("link", name=CONTACT).click()

    # ---- 4. The contact: a tag, a note, and the timeline that tells it ----------------------------------
    expect(heading(CONTACT)).to_be_visible()
    details = page.locator("#contact-details")
    expect(details).to_contain_text("marie@radium.example.com")
    expect(details).to_contain_text("+1 415-555-0123")
    expect(details).to_contain_text("Radium Labs")
    timeline = page.locator("#timeline-entries")
    expect(timeline.locator(".ct-event")).to_have_count(1)
    expect(timeline).to_contain_text(f"Contact created (import of {CSV_NAME})")

    tags = page.get_by_role("list", name=f"Tags of {CONTACT}")
    expect(tags).to_contain_text("No tags yet.")
    page.get_by_label("Add a tag").fill(TAG)
    page.locator("#contact-tags").get_by_role("button", name="Add", exact=True).click()
    expect(tags.get_by_role("listitem").filter(has_text=TAG)).to_be_visible()
    expect(page.get_by_role("button", name=f"Remove the tag {TAG}")).to_be_visible()
    expect(page.get_by_label("Add a tag")).to_have_value("")
    expect(timeline).to_contain_text(f"Tagged “{TAG}”")  # the timeline reloads itself

    page.get_by_label("Note", exact=True).fill(NOTE)
    page.get_by_role("button", name="Add note").click()
    notes = page.locator("#notes-body .ct-note")
    expect(notes).to_have_count(1)
    expect(notes.first).to_contain_text(NOTE)
    expect(notes.first).to_contain_text(OWNER["name"])
    expect(page.get_by_label("Note", exact=True)).to_have_value("")
    expect(timeline).to_contain_text(f"Note: {NOTE}")
    expect(timeline.locator(".ct-event")).to_have_count(3)
    expect(timeline.locator(".ct-event").first).to_contain_text("Note:")  # newest first
    expect(page.locator("#contact-deals")).to_have_count(0)
    shot("contact-tag-and-note")

    # ---- 5. A deal for the contact ---------------------------------------------------------------------
    page.get_by_role("link", name="New deal").click()
    expect(heading("New deal")).to_be_visible()
    expect(page.get_by_text(f"For {CONTACT}")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Radium Labs – new deal")
    expect(page.locator("#contact_id option:checked")).to_have_text(f"{CONTACT} (marie@radium.example.com)")
    expect(page.locator("#company_id option:checked")).to_have_text("Radium Labs")
    expect(page.locator("#stage_id option:checked")).to_have_text("Lead (10%)")
    page.get_by_label("Title").fill(DEAL)
    page.get_by_label("Value").fill(DEAL_VALUE)
    shot("deal-new")
    page.get_by_role("button", name="Create deal").click()
    expect(heading(DEAL)).to_be_visible()
    expect(toast(page, f"Deal {DEAL} created.")).to_be_visible()
    expect(page.locator("#deal-status")).to_contain_text("Open")

    sections.get_by_role("link", name="Deals").click()
    expect(heading("Deals")).to_be_visible()
    lists = {name: page.get_by_role("list", name=f"Deals in {name}") for name in ("Lead", "Qualified", "Proposal")}
    card = page.locator(".deal-card").filter(has_text=DEAL)
    expect(lists["Lead"].locator(".deal-card")).to_have_count(1)
    expect(lists["Lead"].locator(".deal-card").filter(has_text=DEAL)).to_contain_text(DEAL_MONEY)
    expect(lists["Lead"].locator(".deal-card")).to_contain_text(CONTACT)

    def head(stage):
        return page.locator("section.board-column").filter(
            has=page.get_by_role("heading", name=stage, exact=True)).locator(".board-column-head")

    expect(head("Lead").locator(".badge")).to_have_text("1")
    expect(head("Lead")).to_contain_text(DEAL_MONEY)
    expect(page.locator(".board-summary")).to_contain_text(f"1 open deal · {DEAL_MONEY}")
    shot("board-new-deal", phone=True)

    # ---- 6. Drag the card: Lead → Qualified → Proposal, each saved; a reload shows it stayed ------------
    page.wait_for_function("() => window.Sortable && Sortable.get(document.querySelector('.board-cards'))")
    for source, target in (("Lead", "Qualified"), ("Qualified", "Proposal")):
        expect(lists[target].locator(".deal-card")).to_have_count(0)
        with page.expect_response(lambda r: r.url.endswith("/move") and r.request.method == "POST") as moved:
            drag(page, card, lists[target])
        assert moved.value.status == 200, moved.value.status
        expect(lists[target].locator(".deal-card").filter(has_text=DEAL)).to_be_visible()
        expect(lists[source].locator(".deal-card")).to_have_count(0)
        expect(head(target).locator(".badge")).to_have_text("1")  # the server's counts, swapped in
        expect(head(target)).to_contain_text(DEAL_MONEY)
        expect(head(source).locator(".badge")).to_have_text("0")
        expect(head(source)).to_contain_text("$0.00")
        expect(card).not_to_have_class("is-saving")
    shot("board-after-drags")

    page.reload()
    expect(heading("Deals")).to_be_visible()
    expect(lists["Proposal"].locator(".deal-card").filter(has_text=DEAL)).to_be_visible()
    expect(lists["Lead"].locator(".deal-card")).to_have_count(0)
    expect(head("Proposal").locator(".badge")).to_have_text("1")

    # ---- 7. Win the deal ---------------------------------------------------------------------------------
    card.get_by_role("link", name=DEAL).click()
    expect(heading(DEAL)).to_be_visible()
    expect(page.locator(".page-header h1 + p")).to_have_text(f"{DEAL_MONEY} · Proposal (50%)")
    deal_status = page.locator("#deal-status")
    expect(deal_status.locator(".card-header")).to_contain_text("Open")
    deal_status.get_by_role("button", name="Mark won").click()
    expect(toast(page, f"{DEAL} marked won.")).to_be_visible()
    expect(deal_status.locator(".card-header")).to_contain_text("Won")
    expect(deal_status).to_contain_text("Won just now")
    expect(deal_status.get_by_role("button", name="Reopen")).to_be_visible()
    expect(deal_status.get_by_role("button", name="Mark won")).to_have_count(0)
    shot("deal-won")

    # ---- 8. The forecast counts it as won -------------------------------------------------------------------
    sections.get_by_role("link", name="Deals").click()
    expect(heading("Deals")).to_be_visible()
    expect(page.locator(".deal-card")).to_have_count(0)  # won deals leave the board
    page.get_by_role("navigation", name="Deals").get_by_role("link", name="Forecast").click()
    expect(heading("Forecast")).to_be_visible()
    expect(page.locator("#total-won")).to_have_text(DEAL_MONEY)
    expect(page.locator("#total-open")).to_have_text("$0.00")
    expect(page.locator("#total-lost")).to_have_text("$0.00")
    expect(page.locator("#forecast-months tfoot")).to_contain_text(DEAL_MONEY)
    shot("forecast")

    # ---- 9. The contact's timeline tells the whole story -------------------------------------------------------
    sections.get_by_role("link", name="Contacts").click()
    expect(heading("Contacts")).to_be_visible()
    page.locator("#contact-table").get_by_role("link", name=CONTACT).click()
    expect(heading(CONTACT)).to_be_visible()
    deal_item = page.locator("#contact-deals li").filter(has_text=DEAL)
    expect(deal_item).to_contain_text("Won")
    expect(deal_item).to_contain_text(f"Proposal · {DEAL_MONEY}")
    expect(timeline.locator(".ct-event-body > div:first-child")).to_have_text([
        f"Deal “{DEAL}” won",
        f"Deal “{DEAL}” moved from Qualified to Proposal",
        f"Deal “{DEAL}” moved from Lead to Qualified",
        f"Deal “{DEAL}” created in Lead",
        f"Note: {NOTE}",
        f"Tagged “{TAG}”",
        f"Contact created (import of {CSV_NAME})",
    ])
    expect(timeline.get_by_role("link", name=f"Deal “{DEAL}” won")).to_be_visible()  # deal entries link to it
    shot("contact-timeline", phone=True)
