from app.auth.models import User
from app.core.security import verify_password
from app.extensions import db
from tests import factories


def test_profile_updates_name_and_time_zone(client, owner, login):
    user, account = owner
    login(user, account)
    page = client.get("/profile")
    assert page.status_code == 200 and '<option value="Asia/Tokyo">' in page.text
    response = client.post("/profile", data={"name": "Olive O.", "timezone": "Asia/Tokyo"})
    assert response.status_code in (302, 303)
    user = db.session.get(User, user.id)
    assert (user.name, user.timezone) == ("Olive O.", "Asia/Tokyo")


def test_profile_rejects_unknown_time_zone_and_long_name(client, owner, login):
    user, account = owner
    login(user, account)
    assert client.post("/profile", data={"name": "Ok", "timezone": "Nowhere/Land"}).status_code == 422
    assert client.post("/profile", data={"name": "n" * 121, "timezone": "UTC"}).status_code == 422
    assert db.session.get(User, user.id).timezone == "UTC"


def test_password_change_asks_for_the_current_password(client, owner, login):
    user, account = owner
    login(user, account)
    wrong = client.post("/profile/password", data={"pw-current_password": "not it", "pw-new_password": "new-password-1",
                                                   "pw-confirm": "new-password-1"})
    assert wrong.status_code == 422 and "not your current password" in wrong.text
    right = client.post("/profile/password", data={"pw-current_password": factories.PASSWORD,
                                                   "pw-new_password": "new-password-1", "pw-confirm": "new-password-1"})
    assert right.status_code in (302, 303)
    assert verify_password(db.session.get(User, user.id).password_hash, "new-password-1")


def test_profile_needs_login(client):
    response = client.get("/profile")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
