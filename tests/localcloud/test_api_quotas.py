"""API Gateway's quota of 10 stages per REST API, which moto does not enforce."""
from __future__ import annotations

import json

import pytest

from localcloud.apigateway.resources import Stage
from localcloud.kinds import Cloud, DeployError
from tests.localcloud.builders import cloud_for, create_api, suffix


@pytest.fixture
def cloud(emulator, state_dir) -> Cloud:
    return cloud_for(emulator, state_dir)


def test_the_eleventh_stage_of_a_rest_api_is_refused_with_the_stages_named(emulator, cloud):
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/users": ["GET"]}, name=f"quota-{suffix()}")
    deployment = apigw.create_deployment(restApiId=api.id)["id"]
    kind = Stage()
    for n in range(10):  # API Gateway's default quota: 10 stages per REST API
        kind.create(cloud, f"s{n}", {"restApi": api.id, "stageName": f"s{n}",
                                     "deployment": deployment})
    with pytest.raises(DeployError) as refused:
        kind.create(cloud, "one-more", {"restApi": api.id, "stageName": "one-more",
                                        "deployment": deployment})
    message = str(refused.value)
    assert "LimitExceededException" in message and "quota of 10 per REST API" in message
    assert "s0, s1" in message
    assert len(apigw.get_stages(restApiId=api.id)["item"]) == 10


def test_an_empty_stage_variable_is_refused_as_api_gateway_does(emulator, cloud):
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/users": ["GET"]}, name=f"vars-{suffix()}")
    deployment = apigw.create_deployment(restApiId=api.id)["id"]
    with pytest.raises(DeployError, match="stage variable functionName has the value ''"):
        Stage().create(cloud, "prod", {"restApi": api.id, "stageName": "prod",
                                       "deployment": deployment, "variables": {"functionName": ""}})
    assert apigw.get_stages(restApiId=api.id)["item"] == []


def test_stage_logging_needs_the_accounts_cloudwatch_role(emulator, cloud):
    apigw = emulator.client("apigateway")
    before = apigw.get_account().get("cloudwatchRoleArn") or ""
    apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn",
                                           "value": ""}])
    api = create_api(apigw, {"/users": ["GET"]}, name=f"logs-{suffix()}")
    deployment = apigw.create_deployment(restApiId=api.id)["id"]
    settings = {"destinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:access",
                "format": "$context.requestId"}
    with pytest.raises(DeployError, match="CloudWatch Logs role ARN must be set in account"):
        Stage().create(cloud, "dev", {"restApi": api.id, "stageName": "dev",
                                      "deployment": deployment, "accessLogSettings": settings})
    apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn",
                                           "value": "arn:aws:iam::123456789012:role/cw"}])
    Stage().create(cloud, "dev", {"restApi": api.id, "stageName": "dev",
                                  "deployment": deployment, "accessLogSettings": settings})
    stage = apigw.get_stage(restApiId=api.id, stageName="dev")
    assert stage["accessLogSettings"] == settings
    # The emulator is the session's: leave the account as the other tests found it.
    apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn",
                                           "value": before}])


def test_a_deployment_a_stage_serves_cannot_be_deleted(emulator, cloud):
    from localcloud.apigateway.resources import Deployment
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/users": ["GET"]}, name=f"serving-{suffix()}")
    served = apigw.create_deployment(restApiId=api.id)["id"]
    apigw.create_stage(restApiId=api.id, stageName="live", deploymentId=served)
    with pytest.raises(DeployError, match="Active stages pointing to this deployment must be "
                                          r"moved or deleted \(stage live\)"):
        Deployment().delete(cloud, served, {"restApi": api.id})
    assert served in {d["id"] for d in apigw.get_deployments(restApiId=api.id)["items"]}


def test_removed_method_settings_go_back_to_api_gateways_defaults(emulator, cloud):
    from localcloud.apigateway.resources import MethodSettings
    from localcloud.control_plane import InProcessPlane
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/users": ["GET"]}, name=f"settings-{suffix()}")
    apigw.create_stage(restApiId=api.id, stageName="s",
                       deploymentId=apigw.create_deployment(restApiId=api.id)["id"])
    inputs = {"restApi": api.id, "stageName": "s", "methodPath": "*/*",
              "settings": {"throttlingRateLimit": 2.0, "throttlingBurstLimit": 1}}
    kind = MethodSettings()
    kind.create(cloud, "settings", inputs)
    assert InProcessPlane().stage(api.id, "s")["throttling"] == {"rateLimit": 2.0, "burstLimit": 1}
    kind.update(cloud, "id", inputs, {**inputs, "settings": {"throttlingRateLimit": 2.0}})
    assert InProcessPlane().stage(api.id, "s")["throttling"]["burstLimit"] == 5000
    kind.delete(cloud, "id", inputs)
    assert InProcessPlane().stage(api.id, "s")["throttling"] == {"rateLimit": 10000.0,
                                                                 "burstLimit": 5000}


def test_the_accounts_cloudwatch_role_must_trust_api_gateway_and_hold_a_policy(emulator, cloud):
    from localcloud.apigateway.resources import Account
    iam, apigw = emulator.client("iam"), emulator.client("apigateway")
    before = apigw.get_account().get("cloudwatchRoleArn") or ""
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    lambdas = {**trust, "Statement": [{**trust["Statement"][0],
                                       "Principal": {"Service": "lambda.amazonaws.com"}}]}
    wrong = iam.create_role(RoleName=f"cw-wrong-{suffix()}",
                            AssumeRolePolicyDocument=json.dumps(lambdas))["Role"]["Arn"]
    bare = iam.create_role(RoleName=f"cw-bare-{suffix()}",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    try:
        for role in (wrong, bare, "arn:aws:iam::123456789012:role/no-such-role"):
            with pytest.raises(DeployError, match="The role ARN does not have required "
                                                  "permissions configured"):
                Account().create(cloud, "account", {"cloudwatchRoleArn": role})
            assert (apigw.get_account().get("cloudwatchRoleArn") or "") == before
        iam.put_role_policy(RoleName=bare.rsplit("/", 1)[-1], PolicyName="logs",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                                "Effect": "Allow", "Action": "logs:PutLogEvents",
                                "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:x:*"}]}))
        Account().create(cloud, "account", {"cloudwatchRoleArn": bare})
        assert apigw.get_account()["cloudwatchRoleArn"] == bare
    finally:
        apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn",
                                               "value": before}])


@pytest.mark.parametrize("settings,refusal", [
    ({"destinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:access:*",
      "format": "$context.requestId"}, "ARNs must not end with ':\\*'"),
    ({"destinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:access",
      "format": '{"status":"$context.status"}'}, "must contain at least one of"),
])
def test_access_log_settings_api_gateway_refuses(emulator, cloud, settings, refusal):
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/users": ["GET"]}, name=f"access-{suffix()}")
    deployment = apigw.create_deployment(restApiId=api.id)["id"]
    with pytest.raises(DeployError, match=refusal):
        Stage().create(cloud, "dev", {"restApi": api.id, "stageName": "dev",
                                      "deployment": deployment, "accessLogSettings": settings})
    assert apigw.get_stages(restApiId=api.id)["item"] == []
