import re

import pytest
from sqlalchemy import select

from app.auth.models import Invitation, Membership
from app.core.models import AuditEvent
from app.extensions import db
from tests import factories
from tests.conftest import run_jobs


def invitation_path(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    url = re.search(r"https?://\S+/invitations/\S+", text).group(0)
    return "/" + url.split("/", 3)[3]


def invite(client, email="new@example.com", role="user"):
    response = client.post("/settings/team/invite", data={"email": email, "role": role})
    run_jobs(client.application)  # the e-mail is sent by a job
    return response


def test_admin_invites_and_new_person_joins_with_a_password(app, client, owner, login, outbox):
    user, account = owner
    login(user, account)
    response = invite(client, "new@example.com", "admin")
    assert response.status_code in (302, 303)
    assert len(outbox) == 1 and outbox[0]["To"] == "new@example.com"
    assert "Olive's Agency" in outbox[0]["Subject"]
    team_page = client.get("/settings/team").text
    assert "new@example.com" in team_page and "Pending invitations" in team_page

    path = invitation_path(outbox[0])
    guest = app.test_client()
    page = guest.get(path)
    assert page.status_code == 200 and "Join Olive&#39;s Agency" in page.text
    joined = guest.post(path, data={"name": "Nina New", "password": "nina-password"})
    assert joined.status_code in (302, 303)
    membership = db.session.execute(select(Membership).where(Membership.role == "admin")).scalar_one()
    assert membership.user.email == "new@example.com" and membership.account_id == account.id
    assert "Olive&#39;s Agency" in guest.get("/").text
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "member.joined")).scalar_one()


def test_invitation_accepted_twice_is_refused(app, client, owner, login, outbox):
    user, account = owner
    login(user, account)
    invite(client)
    path = invitation_path(outbox[0])
    assert app.test_client().post(path, data={"name": "Nina", "password": "nina-password"}).status_code in (302, 303)
    second = app.test_client().post(path, data={"name": "Mallory", "password": "mallory-password"})
    assert second.status_code == 410
    assert "already been accepted" in second.text
    assert len(db.session.execute(select(Membership).where(Membership.account_id == account.id)).all()) == 2


def test_invitation_refused_for_the_wrong_logged_in_user(app, client, owner, login, outbox):
    user, account = owner
    login(user, account)
    invite(client, "new@example.com")
    path = invitation_path(outbox[0])
    other = factories.make_user("someone-else@example.com")
    other_client = app.test_client()
    factories.login(other_client, other)
    page = other_client.get(path)
    assert "This invitation is for new@example.com" in page.text
    refused = other_client.post(path)
    assert refused.status_code == 403
    assert db.session.execute(select(Membership).where(Membership.user_id == other.id)).first() is None


def test_existing_user_logs_in_and_accepts(app, client, owner, login, outbox):
    user, account = owner
    login(user, account)
    existing = factories.make_user("known@example.com")
    factories.make_account(existing, "Known's own")
    invite(client, "known@example.com", "viewer")
    path = invitation_path(outbox[0])
    other = app.test_client()
    assert "Log in to accept" in other.get(path).text
    factories.login(other, existing)
    assert other.post(path).status_code in (302, 303)
    assert db.session.execute(select(Membership).where(
        Membership.user_id == existing.id, Membership.account_id == account.id)).scalar_one().role == "viewer"


def test_inviting_an_existing_member_is_a_form_error(client, owner, login, outbox):
    user, account = owner
    login(user, account)
    factories.add_member(account, "user", email="member@example.com")
    response = invite(client, "MEMBER@example.com")
    assert response.status_code == 422
    assert "already a member" in response.text
    assert outbox == []


def test_invalid_email_and_over_long_email_are_form_errors(client, owner, login):
    user, account = owner
    login(user, account)
    assert invite(client, "nope").status_code == 422
    assert invite(client, "a" * 300 + "@example.com").status_code == 422
    assert db.session.execute(select(Invitation)).first() is None


def test_reinviting_replaces_the_pending_invitation(client, owner, login, outbox):
    user, account = owner
    login(user, account)
    invite(client)
    first = invitation_path(outbox[0])
    client.post(f"/settings/team/invitations/{db.session.execute(select(Invitation)).scalar_one().id}/resend")
    run_jobs(client.application)
    assert len(outbox) == 2
    assert client.get(first).status_code == 410
    assert client.get(invitation_path(outbox[1])).status_code == 200


def test_revoked_invitation_cannot_be_used(client, owner, login, outbox):
    user, account = owner
    login(user, account)
    invite(client)
    invitation = db.session.execute(select(Invitation)).scalar_one()
    client.post(f"/settings/team/invitations/{invitation.id}/revoke")
    assert client.get(invitation_path(outbox[0])).status_code == 410


@pytest.mark.parametrize("role", ["viewer", "user"])
def test_non_admins_cannot_invite_or_change_roles(client, owner, login, role):
    user, account = owner
    actor = factories.add_member(account, role, email="actor@example.com")
    target = factories.add_member(account, "user", email="target@example.com")
    target_membership = db.session.execute(select(Membership).where(Membership.user_id == target.id)).scalar_one()
    login(actor, account)
    assert invite(client).status_code == 403
    assert client.post(f"/settings/team/{target_membership.id}/role", data={"role": "admin"}).status_code == 403
    assert client.post(f"/settings/team/{target_membership.id}/remove").status_code == 403
    db.session.expire_all()
    assert db.session.get(Membership, target_membership.id).role == "user"
    page = client.get("/settings/team")
    assert page.status_code == 200 and "Invite a teammate" not in page.text


def test_admin_changes_a_role_and_removes_a_member(client, owner, login):
    user, account = owner
    admin = factories.add_member(account, "admin", email="admin@example.com")
    target = factories.add_member(account, "viewer", email="target@example.com")
    membership_id = db.session.execute(select(Membership.id).where(Membership.user_id == target.id)).scalar_one()
    login(admin, account)
    assert client.post(f"/settings/team/{membership_id}/role", data={"role": "user"}).status_code in (302, 303)
    assert db.session.get(Membership, membership_id).role == "user"
    assert client.post(f"/settings/team/{membership_id}/remove").status_code in (302, 303)
    assert db.session.get(Membership, membership_id) is None
    actions = set(db.session.execute(select(AuditEvent.action)).scalars())
    assert {"member.role_changed", "member.removed"} <= actions


def test_admin_cannot_touch_the_owner_role(client, owner, login):
    user, account = owner
    admin = factories.add_member(account, "admin", email="admin@example.com")
    owner_membership = db.session.execute(select(Membership).where(Membership.user_id == user.id)).scalar_one()
    other = factories.add_member(account, "user", email="other@example.com")
    other_membership = db.session.execute(select(Membership).where(Membership.user_id == other.id)).scalar_one()
    login(admin, account)
    assert client.post(f"/settings/team/{owner_membership.id}/role", data={"role": "user"}).status_code == 403
    assert client.post(f"/settings/team/{other_membership.id}/role", data={"role": "owner"}).status_code == 403
    assert client.post(f"/settings/team/{owner_membership.id}/remove").status_code == 403
    db.session.expire_all()
    assert db.session.get(Membership, owner_membership.id).role == "owner"


def test_last_owner_cannot_be_demoted_or_removed(client, owner, login):
    user, account = owner
    owner_membership = db.session.execute(select(Membership).where(Membership.user_id == user.id)).scalar_one()
    second = factories.add_member(account, "owner", email="second@example.com")
    login(second, account)
    # Two owners: demoting one is fine.
    assert client.post(f"/settings/team/{owner_membership.id}/role", data={"role": "admin"}).status_code in (302, 303)
    second_membership = db.session.execute(select(Membership).where(Membership.user_id == second.id)).scalar_one()
    login(user, account)  # now an admin; cannot touch the last owner
    assert client.post(f"/settings/team/{second_membership.id}/role", data={"role": "user"}).status_code == 403
    # The last owner tries to demote themselves through the service path too.
    from app.auth import services
    from app.core.errors import ConflictError

    with pytest.raises(ConflictError):
        services.change_role(second_membership, second_membership, "admin")
    with pytest.raises(ConflictError):
        services.remove_member(second_membership, second_membership)
    db.session.expire_all()
    assert db.session.get(Membership, second_membership.id).role == "owner"


def test_invalid_role_is_refused(client, owner, login):
    user, account = owner
    target = factories.add_member(account, "user", email="target@example.com")
    membership = db.session.execute(select(Membership).where(Membership.user_id == target.id)).scalar_one()
    login(user, account)
    response = client.post(f"/settings/team/{membership.id}/role", data={"role": "emperor"})
    assert response.status_code == 422
    assert invite(client, role="emperor").status_code == 422


def test_team_members_and_invitations_paginate(client, owner, login):
    user, account = owner
    for i in range(21):
        factories.add_member(account, "viewer", email=f"member{i:02d}@example.com", name=f"Member {i:02d}")
    for i in range(22):
        from app.auth import services

        services.invite(account, user, "owner", f"pending{i:02d}@example.com", "user")
    login(user, account)
    first = client.get("/settings/team")
    assert "1–20 of 22" in first.text  # members: 21 + the owner
    assert "1–20 of 22" in first.text and 'href="/settings/team?page=2"' in first.text
    assert 'href="/settings/team?invitations_page=2"' in first.text
    second = client.get("/settings/team?page=2&invitations_page=2")
    assert second.text.count("21–22 of 22") == 2
