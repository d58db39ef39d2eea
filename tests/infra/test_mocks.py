"""The mocks answer like the engine, so the wiring tests mean something."""
from __future__ import annotations

import pulumi
import pytest

from localcloud.engine.stackfiles import StackFileError, known_stacks, read_stack_config


def test_ids_and_arns_look_like_aws(runs, world):
    dev = runs["dev"]
    api = dev.one("aws:apigateway/restApi:RestApi")
    assert len(api.id) == 10 and api.id.isalnum() and api.id.islower()
    prefix = f"arn:{world.partition}:"  # aws, aws-us-gov or aws-cn, by the region
    assert api.outputs["executionArn"] == \
        f"{prefix}execute-api:{world.region}:123456789012:{api.id}"
    function = dev.one("aws:lambda/function:Function")
    assert function.outputs["arn"] == \
        f"{prefix}lambda:{world.region}:123456789012:function:dev-user-service"
    deployments = {runs[s].outputs["deploymentId"] for s in runs}
    assert len(deployments) == 3  # every stack owns its own Deployment


def test_the_mocks_answer_get_partition_as_the_provider_does():
    # terraform-provider-aws's aws_partition: partition and id, dns_suffix, and
    # reverse_dns_prefix (the suffix reversed); botocore's partitions.json has the values.
    from tests.infra.mocks import PULUMI_CLOUD, AwsMocks
    answers = {}
    for region in ("us-east-1", "us-gov-west-1", "cn-north-1"):
        pulumi.runtime.set_all_config({"aws:region": region})
        answers[region] = AwsMocks(PULUMI_CLOUD).call(pulumi.runtime.MockCallArgs(
            "aws:index/getPartition:getPartition", {}, None))[0]
    assert answers == {
        "us-east-1": {"partition": "aws", "id": "aws", "dnsSuffix": "amazonaws.com",
                      "reverseDnsPrefix": "com.amazonaws"},
        "us-gov-west-1": {"partition": "aws-us-gov", "id": "aws-us-gov",
                          "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"},
        "cn-north-1": {"partition": "aws-cn", "id": "aws-cn", "dnsSuffix": "amazonaws.com.cn",
                       "reverseDnsPrefix": "cn.com.amazonaws"},
    }


def test_unknown_stack_file_lists_the_known_ones():
    with pytest.raises(StackFileError, match=f"known stacks: {', '.join(known_stacks())}$"):
        read_stack_config("no-such-stack")


def resource(mocks, type_: str, name: str, inputs: dict):
    return mocks.new_resource(pulumi.runtime.MockResourceArgs(type_, name, inputs, custom=True))


def test_the_mocks_refuse_what_lambda_refuses_and_keep_what_the_provider_keeps():
    from tests.infra.mocks import PULUMI_CLOUD, Account, AwsMocks, NotFoundError
    pulumi.runtime.set_all_config({"aws:region": "us-east-1",
                                   "aws:defaultTags": '{"tags": {"team": "users", "env": "x"}}'})
    account = Account()
    mocks = AwsMocks(PULUMI_CLOUD, account=account)
    function = {"name": "f", "role": "arn:aws:iam::123456789012:role/r", "runtime": "python3.12",
                "handler": "h.h", "s3Bucket": "b", "s3Key": "k.zip", "publish": True,
                "tags": {"env": "dev"}}
    with pytest.raises(NotFoundError, match="Error occurred while GetObject. S3 Error Code: "
                                            "NoSuchKey"):
        resource(mocks, "aws:lambda/function:Function", "f", function)
    account.put_object("b", "k.zip", b"abc")
    _, state = resource(mocks, "aws:lambda/function:Function", "f", function)
    # Lambda's defaults, its hash of the bytes (sha256 of "abc", in base64), the
    # first version, and the provider's tags merged over its default tags.
    assert (state["memorySize"], state["timeout"], state["version"]) == (128, 3, "1")
    assert state["codeSha256"] == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    assert state["tagsAll"] == {"team": "users", "env": "dev"}
    with pytest.raises(NotFoundError, match="Function not found: arn:aws:lambda:us-east-1:"
                                            "123456789012:function:f:2"):
        resource(mocks, "aws:lambda/alias:Alias", "a",
                 {"name": "live", "functionName": "f", "functionVersion": "2"})
