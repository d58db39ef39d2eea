"""Canary settings in the local cloud: kept and answered as API Gateway keeps them, the
refusals it makes, the gateway's seeded split between the releases, each release counted
in CloudWatch as AWS counts it, and a qualifier's own grant removed alone."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from localcloud import control_plane
from localcloud.apigateway import snapshots
from localcloud.apigateway.canary_routing import release_variables, serves_canary
from localcloud.apigateway.canary_store import CanaryRefused, apply_stage_patch
from localcloud.apigateway.resources import canary_operations
from localcloud.apigateway.stage_metrics import request_metrics
from localcloud.awslambda import archives
from localcloud.awslambda.alias_metrics import invocation_metrics
from localcloud.emulator import ACCOUNT_ID, REGION

from .builders import app_zip, call, create_api, deploy_function, deploy_stage, suffix


RELEASE = """
VERSION = {version!r}


def release(event, context):
    return {{"statusCode": 200, "body": json.dumps({{"version": VERSION}})}}
"""


def exists(*ids: str):
    return lambda deployment: deployment in ids


# --- API Gateway's rules for canary settings, pure ------------------------------------------

def test_a_canary_starts_from_api_gateways_defaults_and_takes_each_field():
    canary, rest = apply_stage_patch("prod", "base1", None, [
        {"op": "replace", "path": "/canarySettings/deploymentId", "value": "cand1"}],
        exists("base1", "cand1"))
    assert canary == {"deploymentId": "cand1", "percentTraffic": 0.0, "useStageCache": False}
    assert rest == []
    canary, _ = apply_stage_patch("prod", "base1", None, [
        {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "12.5"},
        {"op": "replace", "path": "/canarySettings/stageVariableOverrides/functionName",
         "value": "fn:canary"}], exists("base1"))
    # A percentage on a stage without a canary: a canary of the stage's own deployment.
    assert canary == {"deploymentId": "base1", "percentTraffic": 12.5, "useStageCache": False,
                      "stageVariableOverrides": {"functionName": "fn:canary"}}
    assert apply_stage_patch("prod", "base1", canary, [
        {"op": "remove", "path": "/canarySettings"}], exists())[0] is None


def test_a_third_deployment_is_refused_while_the_stage_has_a_canary():
    canary = {"deploymentId": "cand1", "percentTraffic": 10.0}
    with pytest.raises(CanaryRefused, match="Stage prod has canary settings: it cannot be "
                                            "associated with the non-canary deployment third"):
        apply_stage_patch("prod", "base1", canary, [
            {"op": "replace", "path": "/deploymentId", "value": "third"}], exists())
    # The canary's own deployment is the promotion API Gateway allows; so is the stage's.
    for target in ("cand1", "base1"):
        kept, rest = apply_stage_patch("prod", "base1", canary, [
            {"op": "replace", "path": "/deploymentId", "value": target}], exists())
        assert kept == canary and rest == [{"op": "replace", "path": "/deploymentId",
                                            "value": target}]
    # In order: the settings removed first, then any deployment.
    gone, rest = apply_stage_patch("prod", "base1", canary, [
        {"op": "remove", "path": "/canarySettings"},
        {"op": "replace", "path": "/deploymentId", "value": "third"}], exists())
    assert gone is None and rest == [{"op": "replace", "path": "/deploymentId",
                                      "value": "third"}]


@pytest.mark.parametrize("operation,message", [
    ({"op": "replace", "path": "/canarySettings/percentTraffic", "value": "100.5"},
     "between 0.0 and 100.0"),
    ({"op": "replace", "path": "/canarySettings/percentTraffic", "value": "-1"},
     "between 0.0 and 100.0"),
    ({"op": "add", "path": "/canarySettings/deploymentId", "value": "cand1"},
     "Invalid add operation with path: /canarySettings/deploymentId"),
    ({"op": "replace", "path": "/canarySettings/deploymentId", "value": "nope"},
     "nope is not a deployment of this API"),
    ({"op": "replace", "path": "/canarySettings/stageVariableOverrides/functionName",
      "value": "fn canary"}, "Invalid stage variable value"),
])
def test_what_api_gateway_refuses_in_canary_settings(operation, message):
    with pytest.raises(CanaryRefused, match=message):
        apply_stage_patch("prod", "base1", None, [operation], exists("base1", "cand1"))


def test_the_providers_operations_for_each_change_of_the_settings():
    new = {"deploymentId": "cand1", "percentTraffic": 10.0,
           "stageVariableOverrides": {"functionName": "fn:canary"}, "useStageCache": False}
    assert canary_operations(None, new) == [
        {"op": "replace", "path": "/canarySettings/deploymentId", "value": "cand1"},
        {"op": "replace", "path": "/canarySettings/stageVariableOverrides/functionName",
         "value": "fn:canary"},
        {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "10.000000"}]
    assert canary_operations(new, {**new, "percentTraffic": 25.0}) == [
        {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "25.000000"}]
    assert canary_operations(new, None) == [{"op": "remove", "path": "/canarySettings"}]
    assert canary_operations(None, None) == []


def test_the_split_takes_the_share_and_the_canary_its_overrides():
    draws = iter([0.0, 0.099, 0.1, 0.5, 0.999])
    assert [serves_canary({"percentTraffic": 10.0}, lambda: next(draws)) for _ in range(5)] \
        == [True, True, False, False, False]
    assert not serves_canary(None, lambda: 0.0)
    assert not serves_canary({"percentTraffic": 0.0}, lambda: 0.0)
    assert serves_canary({"percentTraffic": 100.0}, lambda: 0.9999)
    assert release_variables({"functionName": "fn:live", "other": "x"},
                             {"stageVariableOverrides": {"functionName": "fn:canary",
                                                         "added": "y"}}) == \
        {"functionName": "fn:canary", "other": "x", "added": "y"}
    assert release_variables({"functionName": "fn:live"}, None) == {"functionName": "fn:live"}


def test_each_request_and_invocation_is_counted_under_awss_names():
    datapoints = request_metrics("user-service", "prod", True, 502)
    by_dims = {(d["MetricName"], tuple((x["Name"], x["Value"]) for x in d["Dimensions"])):
               d["Value"] for d in datapoints}
    release = (("ApiName", "user-service"), ("Stage", "prod/Canary"))
    assert by_dims[("Count", release)] == 1.0
    assert by_dims[("5XXError", release)] == 1.0 and by_dims[("4XXError", release)] == 0.0
    assert by_dims[("Count", (("ApiName", "user-service"),))] == 1.0
    assert {(d["MetricName"], d["Value"]) for d in request_metrics("api", "prod", False, 429)
            if len(d["Dimensions"]) == 2 and d["Dimensions"][1]["Value"] == "prod"} == \
        {("Count", 1.0), ("4XXError", 1.0), ("5XXError", 0.0)}
    alias = invocation_metrics("user-service", "canary", "7", failed=True)
    dims = {tuple((x["Name"], x["Value"]) for x in d["Dimensions"]) for d in alias}
    assert dims == {(("FunctionName", "user-service"),),
                    (("FunctionName", "user-service"), ("Resource", "user-service:canary")),
                    (("FunctionName", "user-service"), ("Resource", "user-service:canary"),
                     ("ExecutedVersion", "7"))}
    assert {(d["MetricName"], d["Value"]) for d in alias} == {("Invocations", 1.0),
                                                              ("Errors", 1.0)}
    plain = invocation_metrics("user-service", None, "$LATEST", failed=False)
    assert [len(d["Dimensions"]) for d in plain] == [1, 1]


# --- in the emulator, through the gateway -----------------------------------------------------

@dataclass
class Canary:
    api_id: str
    stage: str
    function: str
    base: str
    candidate: str


@pytest.fixture(scope="module")
def canary(emulator, state_dir) -> Canary:
    """A stage serving version 1 (`base`) through the alias live, and a canary of a second
    deployment serving version 2 (`candidate`) through the alias canary, each granted."""
    s = suffix()
    fn = deploy_function(emulator, state_dir, handler="app.release", prefix=f"c{s}-",
                         zip_bytes=app_zip(RELEASE.format(version="base")))
    lam, apigw = emulator.client("lambda"), emulator.client("apigateway")
    lam.publish_version(FunctionName=fn.name)
    candidate = app_zip(RELEASE.format(version="candidate"))
    archives.save_archive(state_dir, candidate)
    lam.update_function_code(FunctionName=fn.name, ZipFile=candidate)
    lam.publish_version(FunctionName=fn.name)
    for alias, version in (("live", "1"), ("canary", "2")):
        lam.create_alias(FunctionName=fn.name, Name=alias, FunctionVersion=version)
    api = create_api(apigw, {"/users": ["GET"]}, name=f"canary-{s}")
    stage = f"prod{s}"
    base = deploy_stage(apigw, state_dir, api, stage, {"functionName": f"{fn.name}:live"})
    candidate_deployment = snapshots.create_deployment(apigw, state_dir, api.id)
    for alias in ("live", "canary"):
        lam.add_permission(FunctionName=fn.name, Qualifier=alias, StatementId="apigateway",
                           Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                           SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api.id}/"
                                     f"{stage}/*/*")
    apigw.update_stage(restApiId=api.id, stageName=stage, patchOperations=canary_operations(
        None, {"deploymentId": candidate_deployment, "percentTraffic": 50.0,
               "stageVariableOverrides": {"functionName": f"{fn.name}:canary"}}))
    return Canary(api.id, stage, fn.name, base, candidate_deployment)


def test_getstage_answers_the_canary_settings_alike_on_both_routes(emulator, canary):
    stage = emulator.client("apigateway").get_stage(restApiId=canary.api_id,
                                                    stageName=canary.stage)
    assert stage["deploymentId"] == canary.base
    assert stage["canarySettings"] == {
        "deploymentId": canary.candidate, "percentTraffic": 50.0, "useStageCache": False,
        "stageVariableOverrides": {"functionName": f"{canary.function}:canary"}}
    boto = control_plane.BotoPlane(emulator.endpoint_url).stage(canary.api_id, canary.stage)
    in_process = control_plane.InProcessPlane().stage(canary.api_id, canary.stage)
    assert boto == in_process and boto["canary"] == stage["canarySettings"]


def test_the_emulator_refuses_a_third_deployment_on_a_stage_with_a_canary(emulator, state_dir,
                                                                          canary):
    apigw = emulator.client("apigateway")
    third = snapshots.create_deployment(apigw, state_dir, canary.api_id)
    with pytest.raises(ClientError) as refused:
        apigw.update_stage(restApiId=canary.api_id, stageName=canary.stage, patchOperations=[
            {"op": "replace", "path": "/deploymentId", "value": third}])
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    # Nothing changed: moto would have taken it (and a canary's deploymentId as the stage's).
    stage = apigw.get_stage(restApiId=canary.api_id, stageName=canary.stage)
    assert stage["deploymentId"] == canary.base
    assert stage["canarySettings"]["deploymentId"] == canary.candidate


def releases(gateway, canary, n: int) -> list[str]:
    answers = [call(gateway, "GET", f"/{canary.stage}/users") for _ in range(n)]
    assert {a.status for a in answers} == {200}
    return [a.json()["version"] for a in answers]


def test_the_gateway_splits_by_the_share_with_a_seed_tests_can_set(gateway, canary):
    gateway.canary_random.seed(1)
    first = releases(gateway, canary, 40)
    assert set(first) == {"base", "candidate"}
    gateway.canary_random.seed(1)
    assert releases(gateway, canary, 40) == first  # the same seed, the same split


def test_each_release_is_counted_in_cloudwatch(emulator, gateway, canary):
    cloudwatch = emulator.client("cloudwatch")
    api_name = emulator.client("apigateway").get_rest_api(restApiId=canary.api_id)["name"]
    counted = {"canary requests": ("AWS/ApiGateway", "Count", {
                   "ApiName": api_name, "Stage": f"{canary.stage}/Canary"}),
               "base requests": ("AWS/ApiGateway", "Count", {
                   "ApiName": api_name, "Stage": canary.stage}),
               "canary 5XX": ("AWS/ApiGateway", "5XXError", {
                   "ApiName": api_name, "Stage": f"{canary.stage}/Canary"}),
               "canary invocations": ("AWS/Lambda", "Invocations", {
                   "FunctionName": canary.function, "Resource": f"{canary.function}:canary"}),
               "live errors": ("AWS/Lambda", "Errors", {
                   "FunctionName": canary.function, "Resource": f"{canary.function}:live"})}

    def totals() -> dict[str, float]:
        # GetMetricData, which matches a metric's dimensions exactly, as CloudWatch does
        # (moto's GetMetricStatistics also takes metrics with more dimensions).
        def total(namespace: str, name: str, dimensions: dict[str, str]) -> float:
            answer = cloudwatch.get_metric_data(
                StartTime=datetime.now(timezone.utc) - timedelta(hours=1),
                EndTime=datetime.now(timezone.utc) + timedelta(minutes=1),
                MetricDataQueries=[{"Id": "q", "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": [
                        {"Name": k, "Value": v} for k, v in dimensions.items()]},
                    "Period": 60, "Stat": "Sum"}}])
            return sum(answer["MetricDataResults"][0]["Values"])
        return {what: total(*query) for what, query in counted.items()}
    before = totals()
    gateway.canary_random.seed(2)
    served = releases(gateway, canary, 20)
    after = totals()
    to_canary = served.count("candidate")
    assert 0 < to_canary < 20
    assert {what: after[what] - before[what] for what in counted} == {
        "canary requests": to_canary, "base requests": 20 - to_canary, "canary 5XX": 0,
        "canary invocations": to_canary, "live errors": 0}


def test_removing_a_qualifiers_grant_leaves_anothers_with_the_same_statement_id(emulator,
                                                                                 canary):
    lam = emulator.client("lambda")
    lam.remove_permission(FunctionName=canary.function, Qualifier="canary",
                          StatementId="apigateway")
    live = control_plane.InProcessPlane().function_policy(f"{canary.function}:live")
    assert [s["Sid"] for s in json.loads(live)["Statement"]] == ["apigateway"]
    assert control_plane.InProcessPlane().function_policy(f"{canary.function}:canary") is None
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        lam.remove_permission(FunctionName=canary.function, Qualifier="canary",
                              StatementId="apigateway")
