"""verify's checks on their own: what a pinned prod should serve, what was read, and for
each drift exactly one failing check with its fix. The expected values are written out
here, not taken from the code under test."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json

import pytest

from promotion.decisions import CanaryPin
from promotion.verify import Commands, Expected, Observed, checks

CODE = hashlib.sha256(b"the archive test ran").hexdigest()
CODE_SHA256 = base64.b64encode(hashlib.sha256(b"the archive test ran").digest()).decode()
EXEC = "arn:aws:execute-api:us-east-1:123456789012:abc123"
OWN = f"{EXEC}/prod/*/*"
ALIAS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:user-service:live"
POLICY_ARN = "arn:aws:iam::123456789012:policy/user-service-invoke"
NAMES = ["deployment", "code", "stage variable", "permission", "definition", "canary",
         "caller policy"]

EXPECTED = Expected(
    stack="prod", pinned=True, deployment_id="dep2", code_hash=CODE, function_version="7",
    function="user-service", stage="prod", rest_api_id="abc123", execution_arn=EXEC,
    region="us-east-1", partition="aws", artifact_bucket="artifacts",
    invoke_policy_arn=POLICY_ARN, definition_hash="d" * 64, entry="#2")


def grant(source: str, sid: str = "apigateway-prod") -> dict:
    return {"Sid": sid, "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": ALIAS_ARN,
            "Condition": {"ArnLike": {"AWS:SourceArn": source}}}


def caller_policy(*resources: str, action: str = "execute-api:Invoke") -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "InvokeOneStage", "Effect": "Allow", "Action": action,
         "Resource": list(resources)}]}


SERVING = Observed(
    stage_deployment="dep2", stage_variables={"functionName": "user-service:live"},
    stage_canary=None, deployment_exists=True, alias_version="7",
    alias_code_sha256=CODE_SHA256, archive_exists=True, permission_statements=(grant(OWN),),
    definition_hash="d" * 64, caller_policy=caller_policy(OWN))
AWS = Commands()
LOCAL = Commands(suffix=" --local", aws="aws --endpoint-url http://127.0.0.1:1", refresh=None,
                 deploy="python -m localcloud deploy {stack}")


def failing(expected=EXPECTED, observed=SERVING, commands=AWS):
    return [(c.name, c.fix) for c in checks(expected, observed, commands) if not c.ok]


def test_a_stack_serving_its_pins_passes_every_check():
    results = checks(EXPECTED, SERVING, AWS)
    assert [c.name for c in results] == NAMES and all(c.ok for c in results)


def drift(**changes) -> Observed:
    return dataclasses.replace(SERVING, **changes)


DRIFTS = [
    # name, the observation, a piece of the fix
    ("deployment", drift(stage_deployment="dep9"),
     "aws apigateway update-stage --rest-api-id abc123 --stage-name prod --patch-operations "
     "op=replace,path=/deploymentId,value=dep2`, or `pulumi up --refresh -s prod`"),
    ("deployment", drift(deployment_exists=False),
     "python -m promotion rollback --stack prod --to '#N'"),
    ("code", drift(alias_version="6", alias_code_sha256="b3RoZXI="),
     "aws lambda update-alias --function-name user-service --name live --function-version 7"),
    ("code", drift(archive_exists=False), "python -m promotion promote --from test --to prod"),
    ("stage variable", drift(stage_variables={"functionName": "dev-user-service:live"}),
     "op=replace,path=/variables/functionName,value=user-service:live"),
    ("permission", drift(permission_statements=()),
     "aws lambda add-permission --function-name user-service --qualifier live --statement-id "
     f"apigateway-prod --action lambda:InvokeFunction --principal apigateway.amazonaws.com "
     f"--source-arn '{OWN}'"),
    ("permission", drift(permission_statements=(grant(OWN), grant(f"{EXEC}/*/*/*", "wide"))),
     "aws lambda remove-permission --function-name user-service --qualifier live "
     "--statement-id wide"),
    ("permission", drift(permission_statements=(grant(f"{EXEC}/dev/*/*"),)),
     "--statement-id apigateway-prod"),
    ("permission", drift(permission_statements=(grant(OWN), grant(f"{EXEC}/test-invoke-stage/*/*",
                                                                  "console"))),
     "--statement-id console"),
    ("definition", drift(definition_hash="e" * 64),
     "python -m promotion promote --from test --to prod"),
    ("canary", drift(stage_canary={"deploymentId": "dep3", "percentTraffic": 10.0}),
     "op=remove,path=/canarySettings"),
    ("caller policy", drift(caller_policy=caller_policy(OWN, f"{EXEC}/dev/*/*")),
     f"aws iam create-policy-version --policy-arn {POLICY_ARN} --set-as-default"),
    ("caller policy", drift(caller_policy=caller_policy(OWN, action="execute-api:*")),
     "create-policy-version"),
    ("caller policy", drift(caller_policy=caller_policy(f"{EXEC}/*/*/*")), "create-policy-version"),
    ("caller policy", drift(caller_policy=caller_policy()), "create-policy-version"),
]


@pytest.mark.parametrize("name,observed,fix", DRIFTS,
                         ids=[f"{d[0]}-{i}" for i, d in enumerate(DRIFTS)])
def test_each_drift_fails_its_own_check_only_and_names_the_fix(name, observed, fix):
    found = failing(observed=observed)
    assert [n for n, _ in found] == [name]
    assert fix in found[0][1]


def test_a_moved_stage_also_changes_the_definition_when_the_other_deployment_differs():
    found = failing(observed=drift(stage_deployment="dep9", definition_hash="e" * 64))
    assert [n for n, _ in found] == ["deployment", "definition"]


def test_the_test_invoke_stage_is_allowed_where_the_stack_allows_it():
    observed = drift(permission_statements=(grant(OWN), grant(f"{EXEC}/test-invoke-stage/*/*")))
    assert failing(dataclasses.replace(EXPECTED, allow_test_invoke=True), observed) == []


def test_the_caller_policy_must_be_in_the_stacks_partition():
    expected = dataclasses.replace(EXPECTED, region="us-gov-west-1", partition="aws-us-gov")
    assert [n for n, _ in failing(expected)] == ["caller policy"]


def test_a_pinned_canary_must_match_its_pin_and_be_there():
    pin = CanaryPin("dep3", CODE, "10", "2026-11-21T12:00:00Z")
    expected = dataclasses.replace(EXPECTED, canary=pin)
    settings = {"deploymentId": "dep3", "percentTraffic": 10.0,
                "stageVariableOverrides": {"functionName": "user-service:canary"}}
    assert failing(expected, drift(stage_canary=settings)) == []
    assert [n for n, _ in failing(expected, drift(stage_canary={**settings,
                                                                "percentTraffic": 50.0}))] \
        == ["canary"]
    found = failing(expected, SERVING)
    assert [n for n, _ in found] == ["canary"] and "canary abort --stack prod" in found[0][1]


def test_an_entry_without_a_recorded_definition_fails_and_says_promote_again():
    found = failing(dataclasses.replace(EXPECTED, definition_hash=""))
    assert found == [("definition", "promote again, which records it: `python -m promotion "
                                    "promote --from test --to prod`")]


def test_a_stack_nothing_was_promoted_to_is_checked_against_its_own_outputs():
    unpinned = dataclasses.replace(EXPECTED, pinned=False, definition_hash="", entry="")
    results = checks(unpinned, SERVING, AWS)
    assert all(c.ok for c in results)
    assert "nothing was promoted to prod" in results[4].detail
    found = failing(unpinned, drift(deployment_exists=False))
    assert found == [("deployment", "deploy prod again: `pulumi up -s prod`")]


def test_on_the_local_cloud_a_changed_setting_is_mended_by_the_cli_alone():
    found = failing(observed=drift(alias_version="6", alias_code_sha256="b3RoZXI="),
                    commands=LOCAL)
    assert found[0][1].startswith("`aws --endpoint-url http://127.0.0.1:1 lambda update-alias")
    assert "or `pulumi up" not in found[0][1] and "does not read back a changed setting" in found[0][1]


def test_json_is_one_object_per_check():
    lines = [c.as_json() for c in checks(EXPECTED, drift(stage_deployment="dep9"), AWS)]
    parsed = [json.loads(line) for line in lines]
    assert [set(p) for p in parsed] == [{"name", "ok", "detail", "fix"}] * 7
    assert [p["ok"] for p in parsed] == [False] + [True] * 6
