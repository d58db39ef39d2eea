"""The local cloud refuses an ARN whose partition is not its region's, as AWS does, with a
message naming the resource, the ARN and the partition expected; deployed for real."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from localcloud.engine.deployer import deploy_stack
from localcloud.kinds import Cloud, DeployError
from localcloud.engine.partition_check import arns_of, partition_problem
from localcloud.engine.stackfiles import REPO_ROOT
from localcloud.engine.state import StateStore
from localcloud.emulator import ACCOUNT_ID
from localcloud.iam.callers import make_deployer

# A program of one managed policy whose document names a table in the partition given.
PROGRAM = '''
import json
import pulumi
import pulumi_aws as aws

config = pulumi.Config("check")
reader = aws.iam.Policy("reader", name=config.require("name"), policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                   "Resource": [config.require("table")]}],
}))
pulumi.export("arn", reader.arn)
'''


# Deploys PROGRAM into the emulator at argv[1], the way the local cloud deploys a stack, and
# prints what the deploy refused, if anything. In its own process (so signed as the
# deployer, whose key it is given): a refused run leaves futures whose error asyncio
# prints when the interpreter ends.
DEPLOY = """
import os
import sys
from pathlib import Path
from botocore.credentials import Credentials
from localcloud.engine.deployer import EmulatorProvider, root_cause
from localcloud.kinds import Cloud
from localcloud.engine.program import run_program
from localcloud.engine.state import StackState, StateStore
endpoint, work, name, table = sys.argv[1:]
deployer = Credentials(os.environ["DEPLOYER_KEY_ID"], os.environ["DEPLOYER_SECRET"])
cloud = Cloud(endpoint_url=endpoint, region="us-east-1", account_id="123456789012",
              state_dir=Path(work), gateway_url="http://127.0.0.1:9", credentials=deployer)
provider = EmulatorProvider(cloud, StackState(stack="check"), StateStore(Path(work) / "state"))
try:
    run_program("check", provider, {"aws:region": "us-east-1", "check:name": name,
                                    "check:table": table},
                organization="organization", program=Path(work) / "__main__.py")
    print("deployed")
except Exception as error:
    print(f"refused {type(root_cause(error)).__name__}: {root_cause(error)}")
"""


@pytest.fixture
def deploy(emulator, tmp_path):
    (tmp_path / "__main__.py").write_text(PROGRAM)
    deployer = make_deployer(emulator, tmp_path)
    env = {**os.environ, "DEPLOYER_KEY_ID": deployer.access_key_id,
           "DEPLOYER_SECRET": deployer.secret_access_key}

    def run(table: str) -> tuple[str, str]:
        name = f"reader-{uuid.uuid4().hex[:8]}"
        done = subprocess.run([sys.executable, "-c", DEPLOY, emulator.endpoint_url,
                               str(tmp_path), name, table], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=120, env=env)
        assert done.stdout, done.stderr
        return name, done.stdout.strip()
    return run


def local_policies(emulator) -> set[str]:
    return {p["PolicyName"] for p in emulator.client("iam").list_policies(
        Scope="Local", MaxItems=1000)["Policies"]}


def test_a_policy_naming_another_partitions_arn_is_refused_and_not_created(deploy, emulator):
    table = f"arn:aws-us-gov:dynamodb:us-gov-west-1:{ACCOUNT_ID}:table/User"
    name, outcome = deploy(table)
    assert outcome == (
        f"refused DeployError: aws:iam/policy:Policy 'reader': its input policy names {table}, "
        "an ARN of partition 'aws-us-gov', but the region us-east-1 is in partition 'aws' and "
        "AWS refuses ARNs of another partition; write arn:aws:..., taking the partition from "
        "aws.get_partition_output()")
    assert name not in local_policies(emulator)


def test_the_same_policy_in_its_own_partition_is_created(deploy, emulator):
    name, outcome = deploy(f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/User")
    assert outcome == "deployed"
    assert name in local_policies(emulator)


def test_a_stack_outside_the_emulated_partition_is_refused_before_anything_runs(tmp_path):
    cloud = Cloud(endpoint_url="http://127.0.0.1:9", region="cn-north-1", account_id=ACCOUNT_ID,
                  state_dir=tmp_path, gateway_url="http://127.0.0.1:9")
    with pytest.raises(DeployError) as refused:
        deploy_stack("dev", cloud, StateStore(tmp_path))
    assert str(refused.value).startswith(
        "stack dev is in cn-north-1 (partition aws-cn), but the local cloud emulates the aws "
        "partition only")


def test_every_arn_is_found_nested_and_inside_documents_and_uris():
    inputs = {
        "accessLogSettings": {"destinationArn": "arn:aws-cn:logs:cn-north-1:1:log-group:a"},
        "policy": json.dumps({"Statement": [{"Resource": ["arn:aws:s3:::b", "*"]}]}),
        "body": "arn:aws:apigateway:cn-north-1:lambda:path/2015-03-31/functions/"
                "arn:aws-cn:lambda:cn-north-1:1:function:f/invocations",
        "tags": {"note": "no arn here; userArn neither"},
    }
    assert arns_of(inputs) == [
        ("accessLogSettings.destinationArn", "arn:aws-cn:logs:cn-north-1:1:log-group:a", "aws-cn"),
        ("policy", "arn:aws:s3:::b", "aws"),
        ("body", "arn:aws:apigateway:cn-north-1:lambda:path/2015-03-31/functions/"
                 "arn:aws-cn:lambda:cn-north-1:1:function:f/invocations", "aws"),
        ("body", "arn:aws-cn:lambda:cn-north-1:1:function:f/invocations", "aws-cn"),
    ]
    problem = partition_problem("aws:apigateway/stage:Stage", "s", inputs, "cn-north-1")
    assert problem.startswith("aws:apigateway/stage:Stage 's': its input policy names "
                              "arn:aws:s3:::b, an ARN of partition 'aws' (and 1 more), but the "
                              "region cn-north-1 is in partition 'aws-cn'")
