"""Fixtures of the funnels tests: a funnel of the owner's workspace, and the test client logged in as the owner."""
import pytest

from app.funnels import services


@pytest.fixture
def funnel(owner):
    user, account = owner
    return services.create_funnel(account, {"name": "Free guide", "slug": "free-guide"}, user)


@pytest.fixture
def as_owner(owner, login):
    return login(*owner)
