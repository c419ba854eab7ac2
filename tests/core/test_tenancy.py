"""Another account's rows are invisible: every URL that takes an id answers 404 for them.

This walks the app's URL map, so a route added later is covered without a new test. A route that
takes an id parameter must name a tenant model (`__url_param__`), and `tests.factories.
populate_account` must create a row of every tenant model; the test fails until both are done.
"""
from sqlalchemy import func, select
from werkzeug.routing import UUIDConverter

from app.auth import services as auth_services
from app.core.db import TenantMixin
from app.extensions import db
from tests import factories

# GET routes that answer 404 even for the account's own freshly made row, and why.
OWN_ROW_404 = {"dashboard.job_download": "the populated job has no finished file",
               "api.analytics_export_status": "the populated job is not an analytics export",
               "orders.checkout_offer": "a route of the published site: only the site's host serves it"}


def tenant_models():
    return [mapper.class_ for mapper in db.Model.registry.mappers if issubclass(mapper.class_, TenantMixin)]


def first_id(model, account):
    return db.session.execute(select(model.id).where(model.account_id == account.id).limit(1)).scalar_one()


def id_routes(app):
    for rule in app.url_map.iter_rules():
        uuid_params = [name for name, conv in rule._converters.items() if isinstance(conv, UUIDConverter)]
        if uuid_params:
            yield rule, uuid_params


def test_every_route_with_an_id_answers_404_for_another_accounts_rows(app, client):
    owner_a = factories.make_user("a@example.com")
    account_a = factories.make_account(owner_a, "Account A")
    factories.populate_account(account_a, owner_a)
    owner_b = factories.make_user("b@example.com")
    account_b = factories.make_account(owner_b, "Account B")
    factories.populate_account(account_b, owner_b)
    _, secret_a = auth_services.create_api_key(account_a, owner_a, "A's key")

    models = tenant_models()
    for model in models:
        count = db.session.execute(select(func.count()).where(model.account_id == account_b.id)).scalar_one()
        assert count, f"tests.factories.populate_account creates no {model.__name__}: add one"
    by_param = {model.__url_param__: model for model in models if model.__url_param__}

    factories.login(client, owner_a, account_a)
    # Counted from the rule strings, independently of id_routes(): a route the walk would skip is noticed.
    expected = {(rule.rule, method) for rule in app.url_map.iter_rules() if "<uuid:" in rule.rule
                for method in rule.methods - {"HEAD", "OPTIONS"}}
    checked = set()
    for rule, params in id_routes(app):
        for param in params:
            assert param in by_param, f"{rule.rule}: no tenant model declares __url_param__ = {param!r}"
        foreign = rule.build({p: first_id(by_param[p], account_b) for p in params}, append_unknown=False)[1]
        own = rule.build({p: first_id(by_param[p], account_a) for p in params}, append_unknown=False)[1]
        headers = {"Authorization": f"Bearer {secret_a}"} if rule.rule.startswith("/api/") else {}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(foreign, method=method, headers=headers)
            where = f"{method} {rule.rule} with another account's id"
            assert response.status_code == 404, f"{where}: {response.status_code}"
            checked.add((rule.rule, method))
            if method == "GET" and rule.endpoint not in OWN_ROW_404:
                # Control: the same route with the account's own id is found, so the 404 above means something.
                assert client.open(own, method="GET", headers=headers).status_code != 404, f"GET {rule.rule} own id"
    # Every (route, method) of the URL map that takes an id was tried: none was skipped, and the map has them.
    assert checked == expected and len(expected) >= 100


def test_scoped_helpers_never_return_another_accounts_row(app):
    import pytest

    from app.auth.models import ApiKey
    from app.core.errors import NotFoundError
    from app.core.tenancy import get_or_404, scoped

    owner_a = factories.make_user("a@example.com")
    account_a = factories.make_account(owner_a, "A")
    owner_b = factories.make_user("b@example.com")
    account_b = factories.make_account(owner_b, "B")
    key_b, _ = auth_services.create_api_key(account_b, owner_b, "B key")
    assert db.session.execute(scoped(ApiKey, account_a)).first() is None
    with pytest.raises(NotFoundError):
        get_or_404(ApiKey, key_b.id, account_a)
    with pytest.raises(NotFoundError):
        get_or_404(ApiKey, "not-a-uuid", account_b)
    assert get_or_404(ApiKey, key_b.id, account_b).id == key_b.id


def test_audit_outside_a_request_uses_the_objects_account(app):
    from app.core.models import AuditEvent

    owner = factories.make_user("a@example.com")
    account = factories.make_account(owner, "A")
    key, _ = auth_services.create_api_key(account, owner, "key")
    auth_services.revoke_api_key(key)  # no request: the account comes from the key
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "api_key.revoked")).scalar_one()
    assert event.account_id == account.id
