"""Every ARN in its region's partition: aws, aws-us-gov, aws-cn. The program takes the
partition from aws.get_partition_output(); the mocks answer it as the provider does."""
from __future__ import annotations

import json
import re

import pytest

from tests.infra.conftest import WORLDS, deploy_stacks
from tests.infra.mocks import PULUMI_CLOUD

# arn:partition:service:region:account:...
ARN = re.compile(r"(?<![A-Za-z0-9])arn:([^:\"\s]*):([^:\"\s]*):([^:\"\s]*):([^:\"\s]*):")


def arns_of(value) -> list[re.Match]:
    return list(ARN.finditer(json.dumps(value, default=str)))


def test_every_arn_of_every_stack_is_in_the_regions_partition(runs, world):
    found, wrong = 0, []
    for stack, run in runs.items():
        for where, value in [("outputs", run.outputs)] + [
                (f"{r.urn} {side}", getattr(r, side)) for r in run.resources
                for side in ("inputs", "outputs")]:
            for arn in arns_of(value):
                found += 1
                partition, _, region, _ = arn.groups()
                if partition != world.partition or region not in ("", world.region):
                    wrong.append(f"{stack}: {where}: {arn.group(0)}")
    assert wrong == []
    assert found > 100  # policies, permissions, log groups, the integration URI, outputs


LITERAL = {
    "us-gov-west-1": {
        "uri": "arn:aws-us-gov:apigateway:us-gov-west-1:lambda:path/2015-03-31/functions/"
               "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:"
               "${stageVariables.functionName}/invocations",
        "execute_api": "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:",
        "log_groups": "arn:aws-us-gov:logs:us-gov-west-1:123456789012:log-group:*",
        "table": "arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/test-User",
        "host": ".execute-api.us-gov-west-1.amazonaws.com/test",
    },
    "cn-north-1": {
        "uri": "arn:aws-cn:apigateway:cn-north-1:lambda:path/2015-03-31/functions/"
               "arn:aws-cn:lambda:cn-north-1:123456789012:function:"
               "${stageVariables.functionName}/invocations",
        "execute_api": "arn:aws-cn:execute-api:cn-north-1:123456789012:",
        "log_groups": "arn:aws-cn:logs:cn-north-1:123456789012:log-group:*",
        "table": "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/test-User",
        "host": ".execute-api.cn-north-1.amazonaws.com.cn/test",
    },
}


@pytest.mark.parametrize("region", sorted(LITERAL))
def test_gov_cloud_and_china_stacks_write_their_own_partition(region):
    world = next(w for w in WORLDS if w.region == region and w.backend is PULUMI_CLOUD)
    runs = deploy_stacks(world=world)
    expected = LITERAL[region]
    dev, test = runs["dev"], runs["test"]
    api = dev.outputs["restApiId"]
    body = json.loads(dev.one("aws:apigateway/restApi:RestApi").inputs["body"])
    uris = {operation["x-amazon-apigateway-integration"]["uri"]
            for methods in body["paths"].values() for operation in methods.values()}
    assert uris == {expected["uri"]}
    # Source ARNs of the invoke grants and the callers' policy: this stage, this partition.
    assert {p.inputs["sourceArn"] for p in test.of_type("aws:lambda/permission:Permission")} \
        == {f"{expected['execute_api']}{api}/test/*/*",
            f"{expected['execute_api']}{api}/test-invoke-stage/*/*"}
    caller = json.loads(test.one("aws:iam/policy:Policy").inputs["policy"])
    assert caller["Statement"][0]["Resource"] == [f"{expected['execute_api']}{api}/test/*/*"]
    account_role = [json.loads(p.inputs["policy"]) for p in dev.of_type(
        "aws:iam/rolePolicy:RolePolicy") if "FindLogGroups" in p.inputs["policy"]]
    assert account_role[0]["Statement"][1]["Resource"] == [expected["log_groups"]]
    role = [json.loads(p.inputs["policy"]) for p in test.of_type(
        "aws:iam/rolePolicy:RolePolicy")][0]
    assert role["Statement"][0]["Resource"] == [expected["table"]]
    assert test.outputs["stageUrl"] == f"https://{api}{expected['host']}"
