"""The mail log in a real browser: an invitation sent from the Team page is queued, then sent by the job through
the workspace's channel and listed as sent; a failing message shows its reason; the status filter swaps the list;
readable on a phone (nothing scrolls sideways)."""
import pytest
from playwright.sync_api import expect

from app.core.models import MailMessage
from app.extensions import db
from tests import factories
from tests.conftest import run_jobs

pytestmark = pytest.mark.browser

SCREENSHOTS = "integrations-mail"  # test-artifacts/browser/integrations-mail/


def test_the_mail_log_shows_queued_sent_and_failed_mail(live_server, new_context, screenshot, outbox):
    user = factories.make_user("mara@example.com")
    account = factories.make_account(user, "Mara's Shop")
    db.session.add(MailMessage(
        account_id=account.id, to="a-very-long-address.of.a.customer@subdomain.example.com",
        subject="Your receipt for order #1001 from Mara's Shop", status="failed", channel="sendgrid", attempts=4,
        last_error="Our SendGrid: SendGrid answered 503: The service is temporarily unavailable, try again later "
                   "(request id 0123456789abcdef0123456789abcdef)"))
    db.session.commit()
    _, page = new_context()
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(live_server.url + "/settings/team")
    page.locator("#invite-form").get_by_label("E-mail").fill("new@example.com")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#toasts .toast").filter(has_text="Invitation sent to new@example.com.")).to_be_visible()
    page.goto(live_server.url + "/integrations/mail")
    expect(page.locator("#sending-channel")).to_contain_text("Leadforge default")
    invitation = page.locator("#mail-messages tbody tr").filter(has_text="new@example.com")
    expect(invitation).to_contain_text("queued")

    run_jobs(live_server.app)  # what `flask worker` does
    assert [m["To"] for m in outbox] == ["new@example.com"]
    page.reload()
    expect(invitation).to_contain_text("sent")
    expect(invitation).to_contain_text("1 attempt")
    failed = page.locator("#mail-messages tbody tr").filter(has_text="order #1001")
    expect(failed).to_contain_text("failed")
    expect(failed).to_contain_text("Last error: Our SendGrid: SendGrid answered 503")
    screenshot(page, "mail-log", phone=True)

    page.get_by_label("Status").select_option("failed")
    expect(page.locator("#mail-messages tbody tr")).to_have_count(1)
    expect(page.locator("#mail-messages")).not_to_contain_text("new@example.com")
    assert "status=failed" in page.url
    page.get_by_label("Status").select_option("sending")
    expect(page.get_by_role("heading", name="No e-mails with this status")).to_be_visible()
    screenshot(page, "mail-log-empty-filter", phone=True)
