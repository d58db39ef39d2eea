"""What `python -m localcloud up` tells a user besides the stage lines: where the local
cloud's deployer's keys are and what it may do, true of the running emulator."""
from __future__ import annotations

import configparser
import json

import boto3

from localcloud.engine.state import StateStore


def test_up_prints_the_deployers_profile_and_what_it_may_do(running_up):
    [line] = [line for line in running_up.lines if line.startswith("the deployer: ")]
    credentials = running_up.state_dir / "credentials"
    assert line.startswith(f"the deployer: profile 'deployer' in {credentials}: IAM user "
                           "localcloud-deployer")
    services = ["apigateway", "lambda", "iam", "s3", "dynamodb", "logs", "sts", "cloudwatch",
                "xray"]
    assert f"every action of {', '.join(services)} in the emulator" in line
    assert "call no stage (no execute-api) until a stage's invokePolicyArn is attached" in line

    # True of the emulator: the profile's key is the deployer's, and its policy allows
    # exactly those services.
    endpoint = StateStore(running_up.state_dir).load_session().endpoint_url
    profiles = configparser.ConfigParser()
    profiles.read(credentials)
    session = boto3.Session(region_name="us-east-1",
                            aws_access_key_id=profiles["deployer"]["aws_access_key_id"],
                            aws_secret_access_key=profiles["deployer"]["aws_secret_access_key"])
    identity = session.client("sts", endpoint_url=endpoint).get_caller_identity()
    assert identity["Arn"] == "arn:aws:iam::123456789012:user/localcloud-deployer"
    iam = session.client("iam", endpoint_url=endpoint)
    [name] = iam.list_user_policies(UserName="localcloud-deployer")["PolicyNames"]
    document = iam.get_user_policy(UserName="localcloud-deployer", PolicyName=name)[
        "PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    [statement] = document["Statement"]
    assert sorted(statement["Action"]) == sorted(f"{s}:*" for s in services)
    assert not iam.list_attached_user_policies(UserName="localcloud-deployer")[
        "AttachedPolicies"]
