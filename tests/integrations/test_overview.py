"""The integrations overview: each connection's state and its calls and failures over the last 30 days (older
calls and other workspaces' left out), the webhook delivery success rate, the links, the empty state; and a
connection's usage per day in the workspace's time zone."""
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.core import crypto
from app.core.db import utcnow
from app.extensions import db
from app.integrations import connections
from app.integrations.models import ProviderCall, WebhookEndpoint, WebhookMessage
from tests import factories
from tests.integrations.connection_fakes import SECRET, VALUES, make_connection, serving_fakes


@pytest.fixture
def fake_providers(app):
    with serving_fakes(app) as server:
        yield server


def add_calls(connection, ok: int, failed: int, at=None, error="FakeMail answered 500: boom"):
    at = at or utcnow()  # today, like the connection test made just before (an hour ago is yesterday after midnight)
    for _ in range(ok):
        db.session.add(ProviderCall(account_id=connection.account_id, connection_id=connection.id,
                                    operation="subscribe", ok=True, created_at=at))
    for _ in range(failed):
        db.session.add(ProviderCall(account_id=connection.account_id, connection_id=connection.id,
                                    operation="subscribe", ok=False, status_code=500, error=error, created_at=at))
    db.session.commit()


def add_messages(account, statuses, at=None, is_test=False):
    endpoint = db.session.query(WebhookEndpoint).filter_by(account_id=account.id).first()
    if endpoint is None:
        endpoint = WebhookEndpoint(account_id=account.id, url="https://hooks.example.com/in",
                                   events=["contact.created"], secret_encrypted=crypto.encrypt("whsec_" + "A" * 32))
        db.session.add(endpoint)
        db.session.flush()
    for status in statuses:
        db.session.add(WebhookMessage(account_id=account.id, endpoint_id=endpoint.id,
                                      webhook_id=f"msg_{secrets.token_hex(8)}", event_type="contact.created",
                                      payload={"type": "contact.created", "data": {}}, status=status, is_test=is_test,
                                      created_at=at or utcnow() - timedelta(days=2)))
    db.session.commit()


def card(page: str, connection) -> str:
    start = page.index(f'id="connection-{connection.id}"')
    return page[start:page.index("</li>", start)]


def test_an_empty_workspace_is_invited_to_connect_a_provider(client, owner, login):
    login(*owner)
    page = client.get("/integrations")
    assert page.status_code == 200
    assert "No provider connected yet" in page.text
    assert page.text.count('href="/integrations/connections/new"') >= 2  # the header's button and the empty state's
    assert '<div class="stat-value" id="stat-webhook-rate">—</div>' in page.text
    assert "No events sent yet" in page.text
    # The other integrations pages are linked (those that exist).
    assert 'href="/integrations/inbound"' in page.text and 'href="/integrations/mail"' in page.text
    assert 'href="/integrations/pixels"' in page.text


def test_the_figures_count_the_last_30_days_of_this_workspace(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    mail = make_connection(account, user, fake_providers, name="Newsletter")  # its check is 1 ok call
    text = make_connection(account, user, fake_providers, provider="faketext", name="Texts")
    broken = connections.create(account, user, "fakemail", VALUES, name="Broken")
    fake_providers.expect("GET", "/v1/account", 401, json={"message": "Bad key"}, times=1)
    connections.test(broken)  # 1 failed call
    add_calls(mail, ok=7, failed=2)
    add_calls(mail, ok=50, failed=50, at=utcnow() - timedelta(days=31))  # too old
    add_calls(text, ok=3, failed=0, at=utcnow() - timedelta(days=29, hours=23))
    other_user = factories.make_user("other@example.com")
    other_account = factories.make_account(other_user, "Other")
    other = make_connection(other_account, other_user, fake_providers, name="Not mine")
    add_calls(other, ok=40, failed=40)

    page = client.get("/integrations").text
    assert "No provider connected yet" not in page and "Not mine" not in page
    newsletter = card(page, mail)
    assert "Newsletter" in newsletter and "Connected" in newsletter and "FakeMail · E-mail" in newsletter
    assert '<dd class="calls">10</dd>' in newsletter  # the check + 7 + 2
    assert '<dd class="failures text-danger">2</dd>' in newsletter
    texts = card(page, text)
    assert '<dd class="calls">4</dd>' in texts and '<dd class="failures">0</dd>' in texts and "SMS" in texts
    failed = card(page, broken)
    assert "Failed" in failed and "FakeMail refused the credentials (401): Bad key" in failed
    assert '<dd class="calls">1</dd>' in failed and '<dd class="failures text-danger">1</dd>' in failed
    assert '<div class="stat-value" id="stat-connections">3</div>' in page
    assert "2 connected · 1 failing" in page
    assert '<div class="stat-value" id="stat-calls">15</div>' in page
    assert '<div class="small text-danger" id="stat-failures">3 failed</div>' in page
    assert SECRET not in page

    totals = connections.totals(account)
    assert (totals.connections, totals.connected, totals.failing, totals.calls, totals.failures) == (3, 2, 1, 15, 3)
    figures = {f.connection.name: (f.calls, f.failures) for f in connections.figures(
        account, [mail, text, broken])}
    assert figures == {"Newsletter": (10, 2), "Texts": (4, 0), "Broken": (1, 1)}


def test_the_webhook_success_rate_counts_settled_deliveries_of_30_days(client, owner, login):
    user, account = owner
    login(user, account)
    add_messages(account, ["delivered"] * 6 + ["failed"] * 2 + ["retrying", "pending"])
    add_messages(account, ["failed"] * 10, at=utcnow() - timedelta(days=40))  # too old
    add_messages(account, ["failed"] * 5, is_test=True)  # "send test event" is not traffic
    other_user = factories.make_user("other@example.com")
    add_messages(factories.make_account(other_user, "Other"), ["failed"] * 9)
    health = connections.webhook_health(account)
    assert (health.delivered, health.failed, health.pending, health.messages) == (6, 2, 2, 10)
    assert health.success_rate == 0.75 and (health.endpoints, health.active_endpoints) == (1, 1)
    page = client.get("/integrations").text
    assert '<div class="stat-value" id="stat-webhook-rate">75.0%</div>' in page
    assert "6 delivered · 2 failed · 2 being tried" in page


def test_the_sending_channel_is_named(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    assert "Built-in" in client.get("/integrations").text
    connection = make_connection(account, user, fake_providers, name="Transactional")
    connections.set_sending_channel(account, connection, user)
    page = client.get("/integrations").text
    channel = page[page.index('id="stat-channel"'):][:300]
    assert f'href="/integrations/connections/{connection.id}">Transactional</a>' in channel
    assert "sends the workspace's e-mail" in card(page, connection)


def test_the_overview_pages_its_connections(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    for n in range(22):
        connections.create(account, user, "fakemail", VALUES, name=f"Conn {n:02d}")
    first = client.get("/integrations").text
    assert first.count('class="integration-card"') == 20 and "1–20 of 22" in first
    second = client.get("/integrations?page=2").text
    assert second.count('class="integration-card"') == 2


def test_usage_is_counted_per_day_in_the_workspaces_time_zone(owner, fake_providers):
    user, account = owner
    account.timezone = "America/New_York"
    db.session.commit()
    connection = connections.create(account, user, "fakemail", VALUES)
    local = ZoneInfo("America/New_York")
    today_local = utcnow().astimezone(local).date()

    def at(day: date, hour: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, tzinfo=local).astimezone(UTC)

    yesterday = today_local - timedelta(days=1)
    add_calls(connection, ok=2, failed=1, at=at(yesterday, 23))  # 03:00-04:00 UTC of the next UTC day
    add_calls(connection, ok=1, failed=0, at=at(yesterday, 0))
    add_calls(connection, ok=5, failed=5, at=at(today_local - timedelta(days=30), 12))  # outside the 30 days
    add_calls(connection, ok=0, failed=1, at=at(today_local - timedelta(days=29), 12), error="first day's error")
    usage = connections.usage(connection)
    assert len(usage.series) == 30 and usage.series[-1][0] == today_local
    by_day = {day: (calls, failures) for day, calls, failures in usage.series}
    assert by_day[yesterday] == (4, 1)
    assert by_day[today_local - timedelta(days=29)] == (1, 1)
    assert (usage.calls, usage.failures) == (5, 2)
    assert usage.last_error == "FakeMail answered 500: boom"  # the most recent failure's


def test_a_connection_page_shows_its_usage(client, owner, login, fake_providers):
    user, account = owner
    login(user, account)
    connection = make_connection(account, user, fake_providers)
    add_calls(connection, ok=3, failed=2, error="FakeMail answered 502: Bad gateway")
    page = client.get(f"/integrations/connections/{connection.id}").text
    assert '<div class="stat-value" id="usage-calls">6</div>' in page
    assert '<div class="stat-value text-danger" id="usage-failures">2</div>' in page
    assert re.search(r'id="usage-last-error">Last error .*FakeMail answered 502: Bad gateway', page)
    rows = page[page.index('id="usage-table"'):page.index("</table>", page.index('id="usage-table"'))]
    assert rows.count("<tr>") == 2  # the header and today's row
    assert "<td>6</td>" in rows and 'class="text-danger">2</td>' in rows
