"""A canary pin on a promoted stack: the candidate's version, the alias `canary`, its own
invoke permission scoped to the stage, and the Stage's canary settings, declared in that
order; a pin that is incomplete, out of range or on a stage without pins is refused before
anything is declared."""
from __future__ import annotations

import hashlib

import pytest
import yaml

from infra import archive
from infra.config import ConfigError, parse_stage_config
from tests.infra.conftest import deploy_stacks, with_archives
from tests.infra.test_config import config_of, problems
from tests.infra.test_config_types import Yaml12Loader, engine_accepts, stored

# Two archives stages uploaded earlier: what prod serves, and the candidate test proved.
BASE = archive.build_zip({"user_service/handler.py": b"def handler(event, context):\n"
                                                     b"    return {'statusCode': 200}\n"})
CANDIDATE = archive.build_zip({"user_service/handler.py": b"def handler(event, context):\n"
                                                          b"    return {'statusCode': 201}\n"})
BASE_CODE, CANDIDATE_CODE = (hashlib.sha256(body).hexdigest() for body in (BASE, CANDIDATE))
PINS = {"user-service:promotedDeploymentId": "abc123",
        "user-service:promotedCodeHash": BASE_CODE,
        "user-service:promotedFunctionVersion": "3"}
CANARY = {"user-service:canaryDeploymentId": "def456",
          "user-service:canaryCodeHash": CANDIDATE_CODE,
          "user-service:canaryPercent": "10",
          "user-service:canaryStartedAt": "2026-11-21T10:00:00Z"}
ALIAS = "aws:lambda/alias:Alias"
PERMISSION = "aws:lambda/permission:Permission"
STAGE = "aws:apigateway/stage:Stage"
FUNCTION = "aws:lambda/function:Function"


def account(*archives: bytes):
    """Both archives in the artifacts bucket, and prod's versions 1 to 3 published for
    the base (live serves 3)."""
    seeded = with_archives(*archives)
    seeded.publish_versions("user-service", 3)
    return seeded


def prod_with(**overrides: str):
    values = {**PINS, **CANARY, **{f"user-service:{k}": v for k, v in overrides.items()}}
    return deploy_stacks(overrides={"prod": values}, account=account(BASE, CANDIDATE))["prod"]


def alias(run, name: str):
    [found] = [a for a in run.of_type(ALIAS) if a.inputs["name"] == name]
    return found


def test_the_candidate_is_published_as_a_version_and_the_alias_canary_serves_it():
    prod = prod_with()
    function = prod.one(FUNCTION)
    # The function's code is the candidate's archive: publishing it makes version 4.
    assert function.inputs["s3Key"] == f"archives/{CANDIDATE_CODE}.zip"
    assert function.inputs["publish"] is True
    canary = alias(prod, "canary")
    assert canary.inputs["functionVersion"] == function.outputs["version"] == "4"
    # live stays on the version prod serves; its pins do not move.
    assert alias(prod, "live").inputs["functionVersion"] == "3"
    assert prod.outputs["functionVersion"] == "3"
    assert prod.outputs["pins"] == {"deploymentId": "abc123", "codeHash": BASE_CODE,
                                    "functionVersion": "3"}
    assert prod.outputs["canary"] == {
        "deploymentId": "def456", "codeHash": CANDIDATE_CODE, "percent": 10.0,
        "startedAt": "2026-11-21T10:00:00Z", "functionAlias": "canary", "functionVersion": "4"}


def test_the_alias_canary_has_its_own_invoke_permission_scoped_to_the_stage():
    prod = prod_with()
    runs_dev = deploy_stacks(stacks=("dev",))["dev"]
    execution_arn = runs_dev.outputs["executionArn"]
    grants = {p.inputs["qualifier"]: p for p in prod.of_type(PERMISSION)}
    assert set(grants) == {"live", "canary"}
    canary = grants["canary"]
    assert canary.inputs["function"] == "user-service"
    assert canary.inputs["principal"] == "apigateway.amazonaws.com"
    assert canary.inputs["action"] == "lambda:InvokeFunction"
    assert canary.inputs["sourceArn"] == f"{execution_arn}/prod/*/*"


def test_the_stage_sends_the_canary_share_to_the_candidate_through_the_alias_canary():
    prod = prod_with(canaryPercent="2.5")
    stage = prod.one(STAGE)
    assert stage.inputs["deployment"] == "abc123"
    assert stage.inputs["variables"] == {"functionName": "user-service:live"}
    assert stage.inputs["canarySettings"] == {
        "deploymentId": "def456", "percentTraffic": 2.5,
        "stageVariableOverrides": {"functionName": "user-service:canary"},
        "useStageCache": False}


def test_the_order_is_version_then_alias_then_permission_then_the_stage():
    prod = prod_with()
    function, canary = prod.one(FUNCTION), alias(prod, "canary")
    permission = [p for p in prod.of_type(PERMISSION) if p.inputs["qualifier"] == "canary"][0]
    stage = prod.one(STAGE)
    assert function.urn in canary.dependencies
    assert canary.urn in permission.dependencies
    # The stage waits for the permission, so the engine also deletes the permission only
    # after the stage's canary settings are gone (deletes go in reverse dependency order).
    assert permission.urn in stage.dependencies
    order = [r.urn for r in prod.resources]
    assert order.index(function.urn) < order.index(canary.urn) < order.index(permission.urn) \
        < order.index(stage.urn)


def test_without_a_canary_nothing_of_it_is_declared_but_its_log_groups_on_a_pinned_stage():
    prod = deploy_stacks(overrides={"prod": PINS}, account=account(BASE))["prod"]
    assert [a.inputs["name"] for a in prod.of_type(ALIAS)] == ["live"]
    assert [p.inputs["qualifier"] for p in prod.of_type(PERMISSION)] == ["live"]
    assert prod.one(STAGE).inputs.get("canarySettings") is None
    assert prod.one(FUNCTION).inputs["s3Key"] == f"archives/{BASE_CODE}.zip"
    assert prod.outputs["canary"] == {}
    api = prod.outputs["restApiId"]
    groups = {g.inputs["name"]: g for g in prod.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for name in ("/aws/apigateway/user-service/prod/access/Canary",
                 f"API-Gateway-Execution-Logs_{api}/prod/Canary"):
        assert groups[name].inputs["retentionInDays"] == 90
        assert groups[name].urn in prod.one(STAGE).dependencies
    # A stage that serves its own checkout carries no canary, so it has no such groups.
    own = deploy_stacks(stacks=("test",))["test"]
    assert not [g for g in own.of_type("aws:cloudwatch/logGroup:LogGroup")
                if g.inputs["name"].endswith("/Canary")]


def test_a_canary_whose_archive_no_stage_uploaded_is_refused_before_anything_is_declared():
    with pytest.raises(ConfigError, match=f"pins the code {CANDIDATE_CODE[:12]}…, but s3://"):
        deploy_stacks(overrides={"prod": {**PINS, **CANARY}}, account=account(BASE))


# --- the canary pin, validated --------------------------------------------------------------

def canary_problems(**values: str | None) -> str:
    return problems("prod", **{**{k.split(":", 1)[1]: v for k, v in {**PINS, **CANARY}.items()},
                               **values})


@pytest.mark.parametrize("percent", ["0", "100", "150", "-5", "1e1", "ten", " 5", "5%"])
def test_a_percentage_outside_0_to_100_exclusive_or_not_a_number_is_refused(percent):
    message = canary_problems(canaryPercent=percent)
    assert "user-service:canaryPercent" in message


@pytest.mark.parametrize("percent,expected", [("10", 10.0), ("2.5", 2.5), ("99.9", 99.9),
                                              ("0.5", 0.5)])
def test_a_percentage_within_the_bounds_is_taken(percent, expected):
    values = config_of("prod", **{**PINS, **CANARY, "user-service:canaryPercent": percent})
    assert parse_stage_config(values, "prod").canary_percent == expected


def test_the_engine_and_the_loader_take_an_unquoted_fractional_percentage():
    # The engine has no float type: a string key takes the YAML float 2.5 as the text "2.5"
    # (an integer key would refuse it, strconv.Atoi).
    text, is_object = stored(yaml.load("2.5", Loader=Yaml12Loader))
    assert engine_accepts("user-service:canaryPercent", text, is_object)
    assert not engine_accepts("user-service:throttlingRateLimit", text, is_object)
    values = config_of("prod", **{**PINS, **CANARY, "user-service:canaryPercent": text})
    assert parse_stage_config(values, "prod").canary_percent == 2.5


def test_a_canary_pin_is_complete_or_absent():
    message = canary_problems(canaryCodeHash="")
    assert "canaryDeploymentId is set without canaryCodeHash" in message
    assert "complete or absent" in message


def test_only_a_pinned_stage_may_carry_a_canary():
    message = problems("prod", **{k.split(":", 1)[1]: v for k, v in CANARY.items()})
    assert "only a promoted stage may carry a canary" in message


def test_a_canary_needs_the_version_live_serves_pinned():
    message = canary_problems(promotedFunctionVersion="")
    assert "the alias live must stay on the version it serves" in message


def test_a_canary_of_what_the_stage_serves_already_is_refused():
    message = canary_problems(canaryDeploymentId="abc123", canaryCodeHash=BASE_CODE)
    assert "what the stage serves already" in message


def test_a_malformed_canary_pin_is_refused_naming_each_key():
    message = canary_problems(canaryDeploymentId="not-an-id!", canaryCodeHash="xyz",
                              canaryStartedAt="yesterday")
    for key in ("canaryDeploymentId", "canaryCodeHash", "canaryStartedAt"):
        assert f"user-service:{key} is " in message


def test_the_shipped_stack_files_carry_no_canary():
    for stack in ("dev", "test", "prod"):
        config = parse_stage_config(config_of(stack), stack)
        assert not config.canary and config.canary_percent is None
