"""The OpenAPI 3.1 document of /api/v1: valid, complete (every route is in it), and true about auth."""
import copy
import re
import uuid

import jsonschema_rs
import pytest
import schemathesis

from tests.api.conftest import assert_json_error

API_PREFIX = "/api/v1"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Routes under /api/v1 that are not the JSON API of API keys: Stripe's webhook, signed by Stripe (no key;
# a bad or missing signature is a 400), on the orders blueprint (tests/orders/test_webhooks.py); an inbound
# webhook's secret URL, whose token is its credential (tests/integrations/test_inbound.py); the addresses
# providers call back, SMS delivery reports and SendGrid's events, signed by the provider
# (tests/integrations/test_sms.py, test_callbacks_sendgrid.py).
OUTSIDE_THE_API = {"orders.stripe_webhook", "integrations.inbound_receive", "integrations.sms_status_callback",
                   "integrations.sendgrid_events"}


@pytest.fixture
def document(client) -> dict:
    response = client.get(f"{API_PREFIX}/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(doc: dict):
    """(path, method, operation) for every operation of the document."""
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def openapi_path(flask_rule: str) -> str:
    """/api/v1/leads/<uuid:lead_id> -> /api/v1/leads/{lead_id}"""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", flask_rule)


def api_rules(app):
    """(OpenAPI path, method, endpoint) for every URL rule of the app under /api/v1."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OUTSIDE_THE_API:
            continue
        if rule.rule == API_PREFIX or rule.rule.startswith(API_PREFIX + "/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield openapi_path(rule.rule), method.lower(), rule.endpoint


def missing_from(doc: dict, rules) -> list[str]:
    return [f"{method.upper()} {path} ({endpoint})" for path, method, endpoint in rules
            if method not in doc["paths"].get(path, {})]


def all_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from all_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_refs(value)


def resolve(doc: dict, ref: str):
    assert ref.startswith("#/"), f"only local references: {ref}"
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolvable $ref {ref}"
        node = node[part]
    return node


# ---- validity ------------------------------------------------------------------------------------------

def test_document_is_valid_openapi_3_1(document):
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    # the official OpenAPI 3.1 schema (bundled with schemathesis); raises with the reason if invalid
    schemathesis.openapi.from_dict(copy.deepcopy(document)).validate()


def test_validation_would_catch_a_broken_document(document):
    broken = copy.deepcopy(document)
    del broken["info"]
    with pytest.raises(jsonschema_rs.ValidationError):
        schemathesis.openapi.from_dict(broken).validate()
    broken = copy.deepcopy(document)
    next(operations(broken))[2]["responses"] = "none"
    with pytest.raises(jsonschema_rs.ValidationError):
        schemathesis.openapi.from_dict(broken).validate()


def test_document_structure(document):
    info = document["info"]
    assert info["title"] and info["version"] and info["description"]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"], "no operations"
    operation_ids = []
    for path, method, op in operations(document):
        where = f"{method.upper()} {path}"
        assert path.startswith(API_PREFIX + "/"), where
        assert op["operationId"] and op["summary"] and op["tags"], where
        operation_ids.append(op["operationId"])
        # path template parameters are exactly the declared path parameters, all required
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{([^}]+)}", path)), where
        for param in op.get("parameters", []):
            assert param["in"] in {"path", "query", "header", "cookie"}, where
            assert "schema" in param, where
            if param["in"] == "path":
                assert param["required"] is True, where
        names = [(p["name"], p["in"]) for p in op.get("parameters", [])]
        assert len(names) == len(set(names)), f"duplicate parameter in {where}"
        responses = op["responses"]
        assert any(code.startswith("2") for code in responses), f"no success response in {where}"
        for code, response in responses.items():
            assert re.fullmatch(r"[1-5]\d\d", code), where
            assert response["description"], where
            if int(code) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, f"{where} {code}"
            elif int(code) != 204:
                assert "schema" in response["content"]["application/json"], f"{where} {code}"
        if op.get("security") != []:
            assert {"401", "403"} <= set(responses), f"{where} needs a key: document 401 and 403"
        if "requestBody" in op:
            assert method in {"post", "put", "patch"}, where
            assert {"400", "422"} <= set(responses), where
            assert "schema" in op["requestBody"]["content"]["application/json"], where
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


def test_every_ref_resolves(document):
    refs = set(all_refs(document))
    assert refs, "expected component references"
    for ref in refs:
        resolve(document, ref)


def all_schemas(doc: dict):
    """(where, schema) for every JSON Schema in the document: components, parameters, bodies, responses."""
    for name, schema in doc["components"]["schemas"].items():
        yield f"components/{name}", schema
    for path, method, op in operations(doc):
        for param in op.get("parameters", []):
            yield f"{method} {path} parameter {param['name']}", param["schema"]
        for media in op.get("requestBody", {}).get("content", {}).values():
            yield f"{method} {path} body", media["schema"]
        for code, response in op["responses"].items():
            for media in response.get("content", {}).values():
                yield f"{method} {path} {code}", media["schema"]


def test_every_schema_is_valid_json_schema(document):
    assert {"Error", "Me", "Member", "MemberList", "InvitationCreate", "Invitation"} <= set(
        document["components"]["schemas"])
    for where, schema in all_schemas(document):
        standalone = {**schema, "$schema": "https://json-schema.org/draft/2020-12/schema"}
        try:
            jsonschema_rs.meta.validate(standalone)
        except jsonschema_rs.ValidationError as exc:
            pytest.fail(f"{where}: {exc}")
        if "pattern" in schema:
            re.compile(schema["pattern"])


def test_error_schema_matches_real_errors(client, document):
    """The Error schema describes what the API actually answers."""
    schema = copy.deepcopy(document)
    schema["$ref"] = "#/components/schemas/Error"
    validator = jsonschema_rs.validator_for(schema)
    for response in (client.get(f"{API_PREFIX}/me"), client.get(f"{API_PREFIX}/nowhere"),
                     client.delete(f"{API_PREFIX}/me")):
        validator.validate(response.get_json())


def test_list_parameters_are_documented(document):
    params = {p["name"]: p for p in document["paths"][f"{API_PREFIX}/members"]["get"]["parameters"]}
    assert params["page"]["schema"]["minimum"] == 1 and params["page"]["schema"]["maximum"] == 1_000_000
    assert params["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert params["q"]["schema"]["maxLength"] == 200


# ---- completeness ----------------------------------------------------------------------------------------

def test_every_api_route_is_documented(app, document):
    """Every URL rule under /api/v1 (each method but HEAD/OPTIONS) is an operation of the document.

    A route added without `api_route` (or one whose document entry is lost) fails here."""
    rules = list(api_rules(app))
    assert len(rules) >= 4
    assert missing_from(document, rules) == []


def test_every_documented_operation_is_a_route(app, document):
    routes = {(path, method) for path, method, _ in api_rules(app)}
    stale = [f"{method.upper()} {path}" for path, method, _ in operations(document) if (path, method) not in routes]
    assert stale == []


def test_every_api_route_is_in_the_api_blueprint(app):
    """So that each one gets key authentication and JSON errors."""
    outside = [f"{rule.rule} ({rule.endpoint})" for rule in app.url_map.iter_rules()
               if rule.rule.startswith(API_PREFIX) and not rule.endpoint.startswith("api.")
               and rule.endpoint not in OUTSIDE_THE_API]
    assert outside == []


def test_completeness_check_catches_a_forgotten_route(app, document):
    rules = list(api_rules(app))
    forgetful = copy.deepcopy(document)
    del forgetful["paths"][f"{API_PREFIX}/invitations"]["post"]
    assert missing_from(forgetful, rules) == [f"POST {API_PREFIX}/invitations (api.create_invitation)"]
    assert missing_from(document, rules + [(f"{API_PREFIX}/leads/{{lead_id}}", "delete", "api.delete_lead")]) == [
        f"DELETE {API_PREFIX}/leads/{{lead_id}} (api.delete_lead)"]
    assert openapi_path("/api/v1/leads/<uuid:lead_id>/notes/<int:n>") == "/api/v1/leads/{lead_id}/notes/{n}"


def test_documented_security_is_what_the_api_enforces(client, document):
    """An operation with `security: []` answers without a key; every other one is 401 without one."""
    for path, method, op in operations(document):
        url = re.sub(r"{[^}]+}", str(uuid.uuid4()), path)
        response = client.open(url, method=method.upper(), json={} if "requestBody" in op else None)
        if op.get("security") == []:
            assert response.status_code < 400, f"{method.upper()} {path} is documented as public"
        else:
            assert_json_error(response, 401)


# ---- /api/docs ---------------------------------------------------------------------------------------

def test_docs_page_lists_every_operation(client, document):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert document["info"]["title"] in html
    assert "/api/v1/openapi.json" in html
    for path, method, op in operations(document):
        block = html.split(f'id="{op["operationId"]}"', 1)
        assert len(block) == 2, f"{op['operationId']} is not on the page"
        entry = block[1][:600]
        assert method.upper() in entry and f"<code>{path}</code>" in entry, op["operationId"]
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in html


def test_docs_page_for_a_logged_in_member(client, login, owner, document):
    user, account = owner
    login(user, account)
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert all(f'id="{op["operationId"]}"' in html for _, _, op in operations(document))
