"""Fixtures of the builder tests: a funnel's first page, and the test client logged in as its owner."""
import pytest

from app.extensions import db
from app.funnels import services as funnels
from app.funnels.models import Page


@pytest.fixture
def funnel(owner):
    user, account = owner
    return funnels.create_funnel(account, {"name": "Spring guide", "slug": "spring-guide"}, user)


@pytest.fixture
def page(funnel):
    return funnel.steps[0].page


@pytest.fixture
def editor(client, owner, login):
    login(*owner)
    return client


def fresh(page) -> Page:
    """The page as the database has it now."""
    db.session.expire_all()
    return db.session.get(Page, page.id)
