"""Smoke test: the real handler (function/user_service), archived by infra.archive and
granted infra.policies' role policy, served through the gateway like a deployed stage."""
from __future__ import annotations

import json

import pytest

from .builders import call, create_api, deploy_function, deploy_stage, grant_invoke, suffix


@pytest.fixture(scope="module")
def real_archive():
    from infra import archive
    try:
        files = archive.read_handler_files()
    except FileNotFoundError as err:
        pytest.skip(f"no handler yet: {err}")
    return archive.build_zip(files)


def test_real_handler_crud_through_the_gateway_with_least_privilege(
        real_archive, gateway, emulator, state_dir, invoker):
    from infra import archive, policies

    s = suffix()
    stage, prefix = f"smoke{s}", f"smoke{s}-"
    name = f"{prefix}user-service"
    table_arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{prefix}User"
    log_group_arn = f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{name}"
    fn = deploy_function(emulator, state_dir, handler=archive.HANDLER, prefix=prefix,
                         zip_bytes=real_archive, timeout=10,
                         policy=policies.function_role_policy(table_arn, log_group_arn))
    apigw, lam = emulator.client("apigateway"), emulator.client("lambda")
    api = create_api(apigw, {"/users": ["GET", "POST"], "/users/{id}": ["GET", "PUT", "DELETE"]},
                     name=f"smoke-{s}")
    deploy_stage(apigw, state_dir, api, stage, {"functionName": fn.name})
    for method in ("GET", "POST"):
        grant_invoke(lam, fn.name, api.id, stage, method, "users")
    for method in ("GET", "PUT", "DELETE"):
        grant_invoke(lam, fn.name, api.id, stage, method, "users/*")

    json_headers = {"Content-Type": "application/json"}
    created = call(gateway, "POST", f"/{stage}/users", headers=json_headers,
                   body=json.dumps({"name": "Ann", "email": "ann@example.com"}))
    assert created.status == 201, created.body
    user = created.json()
    assert created.headers["Location"] == f"/{stage}/users/{user['id']}"
    got = call(gateway, "GET", f"/{stage}/users/{user['id']}")
    assert got.status == 200 and got.json()["email"] == "ann@example.com"
    listed = call(gateway, "GET", f"/{stage}/users")
    assert listed.status == 200 and [u["id"] for u in listed.json()["items"]] == [user["id"]]
    put = call(gateway, "PUT", f"/{stage}/users/{user['id']}", headers=json_headers,
               body=json.dumps({"name": "Ann B", "email": "ann@example.com"}))
    assert put.status == 200, put.body
    assert call(gateway, "DELETE", f"/{stage}/users/{user['id']}").status == 204
    assert call(gateway, "GET", f"/{stage}/users/{user['id']}").status == 404

    # every call the function and its log delivery made was granted, and every granted
    # action was used
    records = invoker.call_log(fn.name)
    assert all(r.allowed for r in records), [r for r in records if not r.allowed]
    assert {r.action for r in records} == set(policies.HANDLER_DYNAMODB_ACTIONS) | set(
        policies.LOG_ACTIONS)
    assert {r.resource for r in records if r.action.startswith("dynamodb:")} == {table_arn}
