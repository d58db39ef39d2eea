"""Promotion and rollback on the local cloud: prod serves only what test proved."""
from __future__ import annotations

import json
import shutil

import pytest

from infra import archive, routes
from promotion import commands
from promotion.backends import BackendError, LocalBackend
from promotion.decisions import Refusal
from tests.e2e.conftest import call

PROFILE = routes.Route("GET", "/users/{id}/profile")
NEW_HANDLER = '''

_unversioned_handler = handler


def handler(event, context):  # v2: every response says which version answered
    response = _unversioned_handler(event, context)
    response.setdefault("headers", {})["X-Users-Api"] = "v2"
    return response
'''


@pytest.fixture
def backend(cloud):
    return LocalBackend(cloud.store, cloud.cloud, report=lambda line: None)


@pytest.fixture
def changed_function(tmp_path):
    """A checkout whose function and routes differ from the repo's."""
    copy = tmp_path / "function"
    shutil.copytree(archive.FUNCTION_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    handler = copy / archive.PACKAGE / "handler.py"
    handler.write_text(handler.read_text() + NEW_HANDLER)
    return copy


def behaviour(cloud, stage: str) -> tuple[int, str | None]:
    """(status of the new route, X-Users-Api header of a list request)."""
    user = "00000000-0000-4000-8000-000000000000"
    profile = call(f"{cloud.url}/{stage}/users/{user}/profile").status
    listed = call(f"{cloud.url}/{stage}/users")
    assert listed.status == 200, listed.body
    return profile, listed.headers.get("X-Users-Api")


OLD = (403, None)  # the route does not exist; the old function answers


def test_promote_then_roll_back(cloud, backend, changed_function, monkeypatch):
    first_prod = cloud.store.load("prod").outputs["deploymentId"]
    assert behaviour(cloud, "prod") == OLD

    # Change a route (in the API's owner, dev) and the function, and redeploy test.
    monkeypatch.setattr(routes, "ROUTES", routes.ROUTES + (PROFILE,))
    monkeypatch.setattr(archive, "FUNCTION_DIR", changed_function)
    cloud.deploy("dev")
    cloud.deploy("test")
    tested = cloud.store.load("test").outputs
    new = behaviour(cloud, "test")
    assert new[1] == "v2" and new[0] != 403  # the route reaches the new function
    assert behaviour(cloud, "prod") == OLD  # prod still serves what it served

    commands.promote(backend, "test", "prod", skip_smoke=False, report=lambda line: None)
    prod = cloud.store.load("prod").outputs
    assert prod["deploymentId"] == tested["deploymentId"]
    assert prod["codeHash"] == tested["codeHash"]
    assert behaviour(cloud, "prod") == new

    # The old code is checked out again; roll prod back to what it served first.
    monkeypatch.setattr(archive, "FUNCTION_DIR", archive.REPO_ROOT / "function")
    monkeypatch.setattr(routes, "ROUTES", routes.ROUTES[:-1])
    commands.rollback(backend, "prod", None, report=lambda line: None)
    assert cloud.store.load("prod").outputs["deploymentId"] == first_prod
    assert behaviour(cloud, "prod") == OLD

    lines: list[str] = []
    commands.history(backend, "prod", report=lines.append)
    listed = [line.split()[:3] for line in lines[1:]]
    assert listed == [["*", first_prod, "rollback"],
                      [tested["deploymentId"], "promote", "from"],
                      [first_prod, "initial", "code"]]


def snapshot(cloud, backend):
    apigw = cloud.cloud("prod").client("apigateway")
    prod = cloud.store.load("prod")
    stage = apigw.get_stage(restApiId=prod.outputs["restApiId"], stageName="prod")
    return (stage["deploymentId"], json.dumps(cloud.store.config_overrides("prod"), sort_keys=True),
            prod.outputs["codeHash"])


def test_a_failed_smoke_check_leaves_prod_as_it_was(cloud, backend):
    cloud.deploy("test")  # test runs this checkout's code: only the smoke check can refuse
    before = snapshot(cloud, backend)
    aws_lambda = cloud.cloud("test").client("lambda")
    policy = json.loads(aws_lambda.get_policy(FunctionName="test-user-service")["Policy"])
    statement = next(s for s in policy["Statement"] if s["Sid"] == "apigateway-test-get-users")
    aws_lambda.remove_permission(FunctionName="test-user-service", StatementId=statement["Sid"])
    try:
        with pytest.raises(Refusal, match="does not answer the smoke check .* HTTP 500"):
            commands.promote(backend, "test", "prod", skip_smoke=False, report=lambda line: None)
    finally:
        aws_lambda.add_permission(FunctionName="test-user-service", StatementId=statement["Sid"],
                                  Action="lambda:InvokeFunction",
                                  Principal="apigateway.amazonaws.com",
                                  SourceArn=statement["Condition"]["ArnLike"]["AWS:SourceArn"])
    assert snapshot(cloud, backend) == before


def test_code_mismatch_and_unknown_deployment_leave_prod_as_it_was(cloud, backend,
                                                                    changed_function, monkeypatch):
    before = snapshot(cloud, backend)
    handler = changed_function / archive.PACKAGE / "handler.py"
    handler.write_text(handler.read_text() + "\n# a change nobody deployed to test\n")
    monkeypatch.setattr(archive, "FUNCTION_DIR", changed_function)  # not what test runs
    with pytest.raises(Refusal, match="check out the code test was deployed from"):
        commands.promote(backend, "test", "prod", skip_smoke=True, report=lambda line: None)
    monkeypatch.undo()
    with pytest.raises(Refusal, match="not in prod's history"):
        commands.rollback(backend, "prod", "zzzzzz", report=lambda line: None)
    assert snapshot(cloud, backend) == before


def test_a_failed_update_puts_the_pins_back(cloud, backend, monkeypatch):
    before = snapshot(cloud, backend)

    real_update, calls = backend.update, []

    def update_failing_once(stack):
        calls.append(stack)
        if len(calls) == 1:
            raise RuntimeError("the emulator went away")
        real_update(stack)
    monkeypatch.setattr(backend, "update", update_failing_once)
    cloud.deploy("test", {"user-service:logRetentionDays": "30"})  # test now runs this checkout
    with pytest.raises(BackendError, match="left as it was: the emulator went away"):
        commands.promote(backend, "test", "prod", skip_smoke=True, report=lambda line: None)
    assert calls == ["prod", "prod"]  # the failed update, then the old pins deployed again
    assert snapshot(cloud, backend) == before
