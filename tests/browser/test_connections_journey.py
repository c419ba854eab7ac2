"""Provider connections in a real browser: an admin connects an e-mail tool with a wrong key (the provider's
answer is shown, the connection is "failed"), corrects the key (connected), picks a list that the page fetched
from the provider after loading, maps a field, sees a new contact synced in the log, runs "sync all now" and
follows its progress, makes it the sending channel and deletes it. The provider is the FakeMail adapter of
tests/integrations/connection_fakes.py against a local stand-in. Screenshots in test-artifacts/browser/connections/.
"""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import Account
from app.extensions import db
from tests import factories
from tests.conftest import run_jobs
from tests.integrations.connection_fakes import SECRET, serving_fakes

pytestmark = pytest.mark.browser
SCREENSHOTS = "connections"

OWNER = {"name": "Ines Integrator", "email": "ines@example.com", "password": "first-password-1",
         "workspace": "Ines Media"}


def toast(page, text: str):
    return page.locator("#toasts .toast").filter(has_text=text)


def test_connecting_a_provider_and_syncing_contacts(live_server, new_context, screenshot):
    base = live_server.url
    _, page = new_context()

    def shot(name: str, phone: bool = False):
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, name, phone=phone)

    heading = lambda name: page.get_by_role("heading", level=1, name=name)  # noqa: E731

    page.goto(base + "/signup")
    page.get_by_label("Your name").fill(OWNER["name"])
    page.get_by_label("Work e-mail").fill(OWNER["email"])
    page.get_by_label("Password").fill(OWNER["password"])
    page.get_by_label("Workspace name").fill(OWNER["workspace"])
    page.get_by_role("button", name="Create account").click()
    expect(heading(f"Good to see you, {OWNER['name']}")).to_be_visible()

    with serving_fakes(live_server.app) as provider:
        # ---- the overview, empty ---------------------------------------------------------------------
        page.get_by_role("navigation", name="Sections").get_by_role("link", name="Integrations").click()
        expect(heading("Integrations")).to_be_visible()
        expect(page.get_by_role("heading", name="No provider connected yet")).to_be_visible()
        shot("overview-empty", phone=True)

        # ---- connect with a wrong key: what the provider answered, not connected ----------------------
        page.get_by_role("link", name="Connect a provider").first.click()
        expect(heading("Connect a provider")).to_be_visible()
        page.get_by_role("link", name="FakeMail").click()
        expect(heading("Connect FakeMail")).to_be_visible()
        provider.expect("GET", "/v1/account", 401, json={"message": "API key not valid"}, times=1)
        provider.expect("GET", "/v1/account", json={"name": "Ines Media Newsletter"})
        page.get_by_label("Name", exact=True).fill("Newsletter tool")
        page.get_by_label("API key").fill("wrong-key-0000")
        page.get_by_label("Data center").select_option(label="Europe")
        page.get_by_label("Sender address").fill("news@ines.example.com")
        page.get_by_label("Use TLS").check()
        shot("connect-form", phone=True)
        page.get_by_role("button", name="Save and test").click()
        expect(heading("Newsletter tool")).to_be_visible()
        answer = page.locator("#provider-answer")
        expect(answer).to_contain_text("FakeMail refused the credentials (401): API key not valid")
        expect(page.locator("#status .badge")).to_have_text("Failed")
        expect(page.get_by_label("API key")).to_have_value("")  # never sent back
        expect(page.locator("#credentials-form")).to_contain_text("••••0000 — leave blank to keep")
        shot("connection-failed")

        # ---- the right key: connected ------------------------------------------------------------------
        provider.expect("GET", "/v1/lists", json={"lists": [{"id": "L1", "name": "Newsletter"},
                                                           {"id": "L2", "name": "Customers"}]})
        provider.expect("PUT", "/v1/lists/*", json={"id": "m-1"})
        expect(page.get_by_label("Data center")).to_have_value("eu")  # kept from the first try
        page.get_by_label("API key").fill(SECRET)
        page.get_by_role("button", name="Save and test").click()
        expect(toast(page, "Connected: Account: Ines Media Newsletter")).to_be_visible()
        expect(page.locator("#status .badge")).to_have_text("Connected")
        expect(page.locator("#provider-answer")).to_have_count(0)
        assert SECRET not in page.content()

        # ---- sync settings: the lists arrive after the page ---------------------------------------------
        newsletter = page.get_by_label("Newsletter", exact=True)
        expect(newsletter).to_be_visible()
        newsletter.check()
        page.get_by_label("A contact is created").check()
        page.get_by_label("City", exact=True).fill("CITY")
        page.get_by_label("Tags sent").fill("vip")
        page.get_by_role("button", name="Save sync settings").click()
        expect(toast(page, "Sync settings saved.")).to_be_visible()
        expect(page.get_by_label("Newsletter", exact=True)).to_be_checked()

        # A contact created now is pushed by a job and logged.
        account = db.session.execute(select(Account).where(Account.name == OWNER["workspace"])).scalar_one()
        factories.make_contact(account, None, email="reader@example.com", first_name="Rea", city="Porto",
                               tags=["vip"])
        run_jobs(live_server.app)
        [pushed] = provider.received("PUT", "/v1/lists/L1/members")
        assert pushed.json["fields"] == {"CITY": "Porto"} and pushed.json["tags"] == ["vip"]
        page.reload()
        log = page.locator("#sync-records")
        expect(log.get_by_role("link", name="reader@example.com")).to_be_visible()
        expect(log.locator(".badge")).to_have_text("synced")
        shot("connection-synced", phone=True)

        # ---- sync all now, with its progress --------------------------------------------------------------
        factories.make_contact(account, None, first_name="No", last_name="Mail")
        page.get_by_role("button", name="Sync all now").click()
        expect(toast(page, "Syncing every contact")).to_be_visible()
        job = page.locator(".job")
        expect(job).to_contain_text("Sync all contacts to Newsletter tool")
        run_jobs(live_server.app)
        expect(job).to_contain_text("1 of 1 contacts: 1 synced, 0 failed", timeout=10_000)
        expect(job.locator(".badge")).to_have_text("finished")

        # ---- the workspace's e-mail, then delete -----------------------------------------------------------
        page.get_by_role("button", name="Use for sending").click()
        expect(toast(page, "now goes through Newsletter tool")).to_be_visible()
        page.get_by_role("link", name="← All integrations").click()
        expect(page.locator("#stat-channel")).to_contain_text("Newsletter tool")
        card = page.locator(".integration-card").filter(has_text="Newsletter tool")
        expect(card).to_contain_text("Connected")
        shot("overview", phone=True)
        card.get_by_role("link", name="Newsletter tool").click()
        expect(heading("Newsletter tool")).to_be_visible()
        page.get_by_role("button", name="Delete", exact=True).click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Its credentials, call log, sync log and SMS history are removed.")
        dialog.get_by_role("button", name="Delete").click()
        expect(heading("Integrations")).to_be_visible()
        expect(page.get_by_role("heading", name="No provider connected yet")).to_be_visible()
        expect(toast(page, "Connection “Newsletter tool” deleted.")).to_be_attached()
