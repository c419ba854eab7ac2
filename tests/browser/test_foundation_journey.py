"""The foundation, end to end in a real browser, as people use it: sign up, log out and in, reset the
password by e-mail, invite a teammate who joins, add and switch workspaces, and use an API key until
it is revoked. Screenshots of every page land in test-artifacts/browser/."""
import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.conftest import run_jobs, wait_for

pytestmark = pytest.mark.browser

OWNER = {"name": "Ada Lovelace", "email": "ada@example.com", "password": "first-password-1",
         "workspace": "Ada's Agency"}
NEW_PASSWORD = "second-password-2"
TEAMMATE = {"name": "Grace Hopper", "email": "grace@example.com", "password": "grace-password-3"}
SECOND_WORKSPACE = "Second Shop"


def call_api(url: str, secret: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {secret}",
                                                   "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def received_mail(outbox, count: int, to: str, subject: str, app=None):
    """The count-th message at the SMTP server: to whom and about what a person would look at. E-mails are
    sent by jobs: with `app`, its queued jobs run first (what `flask worker` does)."""
    if app is not None:
        run_jobs(app)
    assert wait_for(lambda: len(outbox) >= count, timeout=5), f"no e-mail #{count} arrived ({len(outbox)} so far)"
    message = outbox[count - 1]
    assert message["To"] == to
    assert message["Subject"] == subject
    return message


def link_in(message, base_url: str, path: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    match = re.search(re.escape(base_url + path) + r"[^\s\"<]+", text)
    assert match, f"no {path} link to {base_url} in:\n{text}"
    assert match.group(0) in html  # the HTML part carries the same link
    return match.group(0)


def toast(page, text: str):
    return page.locator("#toasts .toast").filter(has_text=text)


def test_foundation_journey(live_server, new_context, screenshot, outbox):
    base = live_server.url
    _, page = new_context()
    heading = lambda name: page.get_by_role("heading", level=1, name=name)  # noqa: E731

    # ---- Sign up --------------------------------------------------------------------------
    page.goto(base + "/signup")
    expect(heading("Create your account")).to_be_visible()
    page.get_by_label("Your name").fill(OWNER["name"])
    page.get_by_label("Work e-mail").fill(OWNER["email"])
    page.get_by_label("Password").fill(OWNER["password"])
    page.get_by_label("Workspace name").fill(OWNER["workspace"])
    screenshot(page, "signup")
    page.get_by_role("button", name="Create account").click()

    expect(heading(f"Good to see you, {OWNER['name']}")).to_be_visible()
    expect(toast(page, "Welcome to Leadforge! Your workspace is ready.")).to_be_visible()
    expect(page.locator("#workspace-switcher summary")).to_contain_text(OWNER["workspace"])
    expect(page.locator("#stat-members")).to_have_text("1")
    expect(page.get_by_role("heading", name="Recent activity")).to_be_visible()
    expect(page.locator(".feed-item").first).to_be_visible()
    screenshot(page, "dashboard-after-signup")

    # ---- Log out through the user menu --------------------------------------------------------
    def log_out(as_user):
        page.get_by_label("Account menu").click()  # the <summary> of the <details> menu
        expect(page.locator("#user-menu .dropdown-label")).to_have_text(as_user)
        page.get_by_role("menuitem", name="Log out").click()
        expect(heading("Log in")).to_be_visible()
        expect(toast(page, "You are logged out.")).to_be_visible()
        expect(page.locator("#user-menu")).to_have_count(0)

    page.get_by_label("Account menu").click()
    expect(page.get_by_role("menuitem", name="Profile")).to_be_visible()
    screenshot(page, "user-menu-open")
    page.get_by_label("Account menu").click()  # close it again, as a person might
    expect(page.get_by_role("menuitem", name="Profile")).to_be_hidden()
    log_out(OWNER["email"])
    screenshot(page, "logged-out")

    # ---- Log in: a typo first, then the right password (2 of the 5 log-in POSTs a minute) ----
    page.get_by_label("E-mail").fill(OWNER["email"])
    page.get_by_label("Password").fill("not-my-password")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="The e-mail or password is not right.")).to_be_visible()
    expect(page.get_by_label("E-mail")).to_have_value(OWNER["email"])  # kept for the second try
    screenshot(page, "login-wrong-password")
    page.get_by_label("Password").fill(OWNER["password"])
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(heading(f"Good to see you, {OWNER['name']}")).to_be_visible()
    screenshot(page, "dashboard-after-login")
    log_out(OWNER["email"])

    # ---- Forgot the password: the reset e-mail and its link ----------------------------------
    page.get_by_role("link", name="Forgot your password?").click()
    expect(heading("Reset your password")).to_be_visible()
    page.get_by_label("E-mail").fill(OWNER["email"])
    screenshot(page, "forgot-password")
    page.get_by_role("button", name="Send the reset link").click()
    expect(page.locator("#reset-sent")).to_contain_text(f"If an account exists for {OWNER['email']}")
    screenshot(page, "reset-link-sent")

    reset_mail = received_mail(outbox, 1, OWNER["email"], "Reset your Leadforge password", live_server.app)
    reset_link = link_in(reset_mail, base, "/reset-password/")
    page.goto(reset_link)
    expect(heading("Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    screenshot(page, "choose-new-password")
    page.get_by_role("button", name="Save the new password").click()
    expect(heading("Log in")).to_be_visible()
    expect(toast(page, "Your password is changed. Log in with the new one.")).to_be_visible()
    screenshot(page, "password-changed")

    # ---- Log in with the new password (3 of 5) --------------------------------------------------
    page.get_by_label("E-mail").fill(OWNER["email"])
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(heading(f"Good to see you, {OWNER['name']}")).to_be_visible()

    # ---- Team: invite a teammate -----------------------------------------------------------------
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Team").click()
    expect(heading("Team")).to_be_visible()
    members = page.locator("#members tbody tr")
    expect(members).to_have_count(1)
    expect(members.first).to_contain_text(OWNER["name"])
    expect(members.first).to_contain_text("(you)")
    expect(page.get_by_role("heading", name="No pending invitations")).to_be_visible()
    page.locator("#invite-form").get_by_label("E-mail").fill(TEAMMATE["email"])
    page.locator("#invite-form").get_by_label("Role").select_option("admin")
    screenshot(page, "team-invite-form")
    page.get_by_role("button", name="Send invitation").click()
    expect(toast(page, f"Invitation sent to {TEAMMATE['email']}.")).to_be_visible()
    invitation_row = page.locator("#invitations tbody tr").filter(has_text=TEAMMATE["email"])
    expect(invitation_row).to_have_count(1)
    expect(invitation_row).to_contain_text("admin")
    expect(invitation_row).to_contain_text("pending")
    expect(page.locator("#invite-form").get_by_label("E-mail")).to_have_value("")  # ready for the next one
    toast(page, "Invitation sent").get_by_role("button", name="Dismiss").click()
    expect(toast(page, "Invitation sent")).to_have_count(0)
    screenshot(page, "team-invitation-pending", phone=True)

    invite_mail = received_mail(outbox, 2, TEAMMATE["email"],
                                f"You are invited to {OWNER['workspace']} on Leadforge", live_server.app)
    assert f"{OWNER['name']} invited you" in invite_mail.get_body(preferencelist=("plain",)).get_content()
    invite_link = link_in(invite_mail, base, "/invitations/")

    # ---- The teammate, in their own browser, joins -------------------------------------------------
    _, mate = new_context()
    mate.goto(invite_link)
    expect(mate.get_by_role("heading", level=1, name=f"Join {OWNER['workspace']}")).to_be_visible()
    expect(mate.get_by_label("E-mail")).to_have_value(TEAMMATE["email"])
    expect(mate.get_by_label("E-mail")).to_be_disabled()  # the invitation decides the address
    mate.get_by_label("Your name").fill(TEAMMATE["name"])
    mate.get_by_label("Choose a password").fill(TEAMMATE["password"])
    screenshot(mate, "teammate-join")
    mate.get_by_role("button", name=f"Join {OWNER['workspace']}").click()
    expect(mate.get_by_role("heading", level=1, name=f"Good to see you, {TEAMMATE['name']}")).to_be_visible()
    expect(toast(mate, f"Welcome! You joined {OWNER['workspace']}.")).to_be_visible()
    expect(mate.locator("#workspace-switcher summary")).to_contain_text(OWNER["workspace"])
    expect(mate.locator(".dashboard-team")).to_contain_text("Your role: admin", ignore_case=True)
    expect(mate.locator("#stat-members")).to_have_text("2")
    screenshot(mate, "teammate-dashboard")
    mate.context.close()

    # ---- Back as the owner: the team now has two members, no pending invitation ---------------------
    page.reload()
    expect(heading("Team")).to_be_visible()
    expect(members).to_have_count(2)
    expect(members.filter(has_text=TEAMMATE["email"])).to_contain_text(TEAMMATE["name"])
    expect(members.filter(has_text=TEAMMATE["email"]).get_by_role("combobox")).to_have_value("admin")
    expect(page.get_by_role("heading", name="No pending invitations")).to_be_visible()
    screenshot(page, "team-with-teammate", phone=True)

    # ---- A second workspace through the switcher, then back -------------------------------------------
    switcher = page.locator("#workspace-switcher")
    switcher.locator("summary").click()
    expect(switcher.get_by_role("menuitem", name=OWNER["workspace"])).to_be_visible()
    screenshot(page, "workspace-switcher-open")
    switcher.get_by_role("menuitem", name="+ New workspace").click()
    expect(heading("New workspace")).to_be_visible()
    page.get_by_label("Workspace name").fill(SECOND_WORKSPACE)
    screenshot(page, "new-workspace")
    page.get_by_role("button", name="Create workspace").click()
    expect(toast(page, f"Workspace {SECOND_WORKSPACE} created.")).to_be_visible()
    expect(heading(f"Good to see you, {OWNER['name']}")).to_be_visible()
    expect(switcher.locator("summary")).to_contain_text(SECOND_WORKSPACE)
    expect(page.locator("#stat-members")).to_have_text("1")
    screenshot(page, "dashboard-second-workspace")

    switcher.locator("summary").click()
    expect(switcher.get_by_role("menuitem")).to_have_count(3)  # two workspaces and "+ New workspace"
    switcher.get_by_role("menuitem", name=OWNER["workspace"]).click()
    expect(toast(page, f"Switched to {OWNER['workspace']}.")).to_be_visible()
    expect(switcher.locator("summary")).to_contain_text(OWNER["workspace"])
    expect(page.locator("#stat-members")).to_have_text("2")
    screenshot(page, "dashboard-switched-back", phone=True)

    # ---- API keys: create, use, revoke ---------------------------------------------------------------
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="API keys").click()
    expect(heading("API keys")).to_be_visible()
    expect(page.get_by_role("heading", name="No API keys yet")).to_be_visible()
    page.get_by_label("Key name").fill("Zapier")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key")).to_contain_text("Key “Zapier” created.")
    secret = page.locator("#new-key-secret").inner_text().strip()
    assert secret.startswith("lf_") and len(secret) > 20
    key_row = page.locator("#api-keys tbody tr").filter(has_text="Zapier")
    expect(key_row).to_contain_text("active")
    expect(key_row).to_contain_text("Never")
    expect(key_row).to_contain_text(secret[:10] + "…")
    screenshot(page, "api-key-created")

    status, body = call_api(base + "/api/v1/me", secret)
    assert status == 200, body
    assert body["account"]["name"] == OWNER["workspace"]
    assert body["user"]["email"] == OWNER["email"]
    assert body["user"]["role"] == "owner"
    assert body["api_key"]["name"] == "Zapier"

    key_row.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog", name="Revoke “Zapier”?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Software using this key gets 401 errors from now on.")
    screenshot(page, "api-key-revoke-dialog")
    dialog.get_by_role("button", name="Revoke").click()
    expect(toast(page, "API key Zapier revoked. Requests with it now get 401.")).to_be_visible()
    expect(dialog).to_be_hidden()
    expect(key_row).to_contain_text("revoked")
    expect(key_row.get_by_role("button", name="Revoke")).to_have_count(0)
    expect(page.locator("#new-key")).to_have_count(0)  # the secret is never shown again
    screenshot(page, "api-key-revoked")

    status, body = call_api(base + "/api/v1/me", secret)
    assert status == 401, body
    assert body["error"]["code"] == "unauthorized"
    assert "revoked" in body["error"]["message"]
