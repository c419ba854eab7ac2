"""Fixtures of the tracking tests: the track endpoint (its funnel directory emptied around each test) and
a funnel of the owner's workspace."""
import pytest

from tests.analytics.test_ingest import make_funnel


@pytest.fixture
def endpoint(app):
    endpoint = app.extensions["analytics_tracking"]
    endpoint.directory.entries.clear()
    yield endpoint
    endpoint.directory.entries.clear()


@pytest.fixture
def funnel(owner, endpoint):
    user, account = owner
    return make_funnel(account, user)
