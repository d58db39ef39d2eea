"""The running local cloud against the API's own contract, the OpenAPI document: fuzzed
with schemathesis (signed as the stage's caller), and a removed route's fate."""
from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance,
    status_code_conformance)

from infra import openapi, routes
from localcloud.emulator import ACCOUNT_ID
from tests.e2e.conftest import SigV4, call, create_user

STAGE = "test"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed_stage(cloud):
    # Throttling is API Gateway's and answers 429 by design; lift it so every example
    # reaches the function.
    cloud.deploy(STAGE, {"user-service:throttlingRateLimit": "10000",
                         "user-service:throttlingBurstLimit": "5000"})
    return cloud


@pytest.fixture(scope="module")
def api_schema(fuzzed_stage):
    region = fuzzed_stage.cloud(STAGE).region
    document = json.loads(openapi.reference_text().replace(openapi.REFERENCE_REGION, region)
                          .replace(openapi.REFERENCE_ACCOUNT, ACCOUNT_ID)
                          .replace(openapi.REFERENCE_PARTITION, "aws"))
    return schemathesis.openapi.from_dict(document)


def table_items(cloud) -> list[dict]:
    ddb = cloud.cloud(STAGE).client("dynamodb")
    items = ddb.scan(TableName=f"{STAGE}-User", ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: item["id"]["S"])


OPERATIONS = [(route.method, route.path) for route in routes.ROUTES]


def naming_users(strategy, user_id: str, with_body: bool):
    """Cases of which some name a real user, or a well-formed unknown one, and (with_body)
    some send a valid user: API Gateway keeps only a parameter's type and no
    additionalProperties, so the document cannot say an id's form nor that a body holds
    nothing else, and schemathesis alone would reach only the 400s of the routes with an
    {id}."""
    def named(case, chosen, body):
        if chosen is not None:
            case.path_parameters = {**case.path_parameters, "id": chosen}
        if body is not None:
            case.body = body
        return case
    ids = st.one_of(st.none(), st.just(user_id), st.uuids(version=4).map(str))
    bodies = st.one_of(st.none(), st.just({"name": "Ada", "email": "ada@example.com"})
                       ) if with_body else st.none()
    return st.tuples(strategy, ids, bodies).map(lambda parts: named(*parts))


@pytest.mark.parametrize("method,path", OPERATIONS)
def test_the_stage_keeps_its_contract(api_schema, fuzzed_stage, url, method, path):
    operation = api_schema[path][method]
    auth = SigV4(fuzzed_stage, STAGE)
    statuses: list[int] = []
    strategy = operation.as_strategy()
    if "{id}" in path:
        strategy = naming_users(strategy, create_user(url, STAGE)["id"], method == "PUT")

    @given(case=strategy)
    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def keeps_contract(case):
        before = table_items(fuzzed_stage) if case.method != "GET" else None
        response = case.call(base_url=f"{fuzzed_stage.url}/{STAGE}", auth=auth, timeout=30)
        case.validate_response(response, checks=CHECKS)
        statuses.append(response.status_code)
        if before is not None and 400 <= response.status_code < 500:
            # A refused request writes nothing.
            assert table_items(fuzzed_stage) == before, (case.method, case.path, response.text)

    keeps_contract()
    # The examples reached the function: signed as the stage's caller, none was refused
    # by API Gateway itself.
    refused = [s for s in statuses if s in (403, 429)]
    assert statuses and not refused, statuses
    print(method, path, sorted(set(statuses)))


def test_a_removed_route_answers_missing_token_after_one_deploy_and_never_500(
        cloud, url, monkeypatch):
    user = create_user(url, "dev")
    target = url("dev", f"/users/{user['id']}")
    monkeypatch.setattr(routes, "ROUTES", tuple(
        r for r in routes.ROUTES if (r.method, r.path) != ("DELETE", "/users/{id}")))
    result = cloud.deploy("dev")
    assert ("replaced", "aws:apigateway/deployment:Deployment", "dev-deployment") in result.steps
    reply = call(target, "DELETE")
    assert (reply.status, reply.json()) == (403, {"message": "Missing Authentication Token"})
    assert call(target).status == 200  # the user is still there, the other routes serve
    # No route answers 500 because a permission went first.
    for method, path in (("GET", "/users"), ("GET", f"/users/{user['id']}")):
        assert call(url("dev", path), method).status == 200

    monkeypatch.undo()
    cloud.deploy("dev")
    assert call(target, "DELETE").status == 204
