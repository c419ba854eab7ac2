"""What the CRM tests share: the htmx request header, and the owner signed in to their workspace. The
records themselves come from tests/factories.py (make_contact, make_company, make_deal, default_pipeline...)."""
import pytest

HTMX = {"HX-Request": "true"}  # what htmx sends with each request it makes (a fragment is answered)


@pytest.fixture
def signed_in(client, owner, login):
    """The owner of a workspace, logged in: (user, account)."""
    user, account = owner
    login(user, account)
    return user, account
