"""Local callers and the managed-policy kind: per-stage users holding the stage's invoke
policy, a shared-credentials file botocore reads, and keys that sign for their own stage
only."""
from __future__ import annotations

import configparser
import json

import boto3
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from localcloud import control_plane
from localcloud import policy as iam_eval
from localcloud.apigateway import auth
from localcloud.emulator import ACCOUNT_ID, REGION
from localcloud.kinds import Cloud, DeployError
from localcloud.engine.registry import KINDS
from localcloud.iam import callers
from localcloud.iam.resources import Policy

from .builders import suffix

HOST = "127.0.0.1:8080"


def invoke_document(api_id: str, stage: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "execute-api:Invoke",
        "Resource": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{stage}/*/*"}]})


@pytest.fixture
def cloud(emulator, tmp_path) -> Cloud:
    return Cloud(emulator.endpoint_url, REGION, ACCOUNT_ID, tmp_path, "http://127.0.0.1:8080")


def test_the_policy_kind_is_registered_for_pulumis_type_token():
    assert isinstance(KINDS["aws:iam/policy:Policy"], Policy)


def test_policy_kind_creates_updates_with_one_version_and_refuses_to_delete_attached(cloud):
    kind, iam = KINDS["aws:iam/policy:Policy"], cloud.client("iam")
    api = f"api{suffix()}"
    inputs = {"name": f"invoke-{api}", "policy": invoke_document(api, "dev"),
              "description": "invoke dev"}
    arn, outputs = kind.create(cloud, "invokePolicy", inputs)
    assert arn == outputs["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:policy/invoke-{api}"
    assert outputs["policyId"] == iam.get_policy(PolicyArn=arn)["Policy"]["PolicyId"]
    for stage in ("test", "prod", "dev2", "dev3", "dev4", "dev5"):  # past the 5-version limit
        kind.update(cloud, arn, inputs, dict(inputs, policy=invoke_document(api, stage)))
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["IsDefaultVersion"] for v in versions] == [True]
    current = iam.get_policy_version(PolicyArn=arn, VersionId=versions[0]["VersionId"])
    assert "/dev5/*/*" in json.dumps(current["PolicyVersion"]["Document"])
    assert kind.needs_replace(inputs, dict(inputs, name="other"))
    assert not kind.needs_replace(inputs, dict(inputs, policy="{}"))
    user = f"holder-{suffix()}"
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    with pytest.raises(DeployError, match=f"attached to user {user}.*detach it first"):
        kind.delete(cloud, arn, inputs)
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    kind.delete(cloud, arn, inputs)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=arn)


def test_the_credentials_text_and_curl_line_are_what_aws_tools_expect():
    text = callers.credentials_text({"test": ("AKIAB", "s/e+c="), "dev": ("AKIAA", "sec")})
    parser = configparser.ConfigParser()
    parser.read_string(text)
    assert parser.sections() == ["dev", "test"]
    assert dict(parser["test"]) == {"aws_access_key_id": "AKIAB",
                                    "aws_secret_access_key": "s/e+c="}
    assert callers.parse_credentials(text) == {"dev": ("AKIAA", "sec"),
                                               "test": ("AKIAB", "s/e+c=")}
    assert callers.curl_line("us-east-1", "AKIAA", "sec", "http://127.0.0.1:8080/dev/") == (
        'curl --aws-sigv4 "aws:amz:us-east-1:execute-api" --user "AKIAA:sec" '
        "http://127.0.0.1:8080/dev/users")
    for bad in ("sec\nret", 'se"c', "s$(id)"):
        with pytest.raises(callers.CallerError):
            callers.credentials_text({"dev": ("AKIAA", bad)})
        with pytest.raises(callers.CallerError):
            callers.curl_line("us-east-1", "AKIAA", bad, "http://127.0.0.1:8080/dev")
    with pytest.raises(callers.CallerError, match="not a stage URL"):
        callers.curl_line("us-east-1", "AKIAA", "sec", "http://x/dev; rm -rf ~")


def test_the_awscurl_line_passes_the_keys_and_no_session_token():
    # awscurl 0.44 would otherwise take AWS_ACCESS_KEY_ID/AWS_SESSION_TOKEN from the
    # environment, or a profile of ~/.aws/credentials (tests/e2e/test_readme_commands.py
    # runs it so).
    assert callers.awscurl_line("us-east-1", "AKIAA", "s/e+c=", "http://127.0.0.1:8080/dev/",
                                ".venv/bin/awscurl") == (
        ".venv/bin/awscurl --service execute-api --region us-east-1 --access_key AKIAA "
        "--secret_key \"s/e+c=\" --session_token '' --security_token '' "
        "http://127.0.0.1:8080/dev/users")
    with pytest.raises(callers.CallerError):
        callers.awscurl_line("us-east-1", "AKIAA", "s$(id)", "http://127.0.0.1:8080/dev")
    with pytest.raises(callers.CallerError, match="not a stage URL"):
        callers.awscurl_line("us-east-1", "AKIAA", "sec", "http://x/dev; rm -rf ~")
    assert callers.awscurl_line("us-east-1", "AKIAA", "sec", "http://h/dev",
                                "/my dir/awscurl").startswith("'/my dir/awscurl' --service")


def test_caller_user_names_follow_iams_rules():
    assert callers.caller_user_name("dev") == "localcloud-dev-caller"
    with pytest.raises(callers.CallerError, match="at most 64 characters"):
        callers.caller_user_name("s" * 50)


def signs_for(profile_file, profile: str, api_id: str, stage: str, plane) -> object:
    """Sign with botocore's credentials for ``profile`` and run the gateway's check."""
    session = botocore.session.Session(profile=profile)
    session.set_config_variable("credentials_file", str(profile_file))
    credentials = session.get_credentials()
    request = AWSRequest(method="GET", url=f"http://{HOST}/{stage}/users")
    SigV4Auth(credentials, "execute-api", REGION).add_auth(request)
    received = auth.ReceivedRequest("GET", f"/{stage}/users",
                                    [("Host", HOST), *request.headers.items()], b"")
    arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{stage}/GET/users"
    return auth.authorize(received, region=REGION, resource_arn=arn, identities=plane)


def test_each_profile_signs_for_its_own_stage_only(cloud, emulator):
    iam, s = cloud.client("iam"), suffix()
    api_id = f"api{s}"
    stages = {}
    for stage in (f"dev{s}", f"test{s}"):
        arn = iam.create_policy(PolicyName=f"invoke-{stage}",
                                PolicyDocument=invoke_document(api_id, stage))["Policy"]["Arn"]
        stages[stage] = (arn, f"http://127.0.0.1:8080/{stage}")
    lines = callers.ensure_stage_callers(cloud, cloud.state_dir, stages)
    path = cloud.state_dir / "credentials"
    assert path.stat().st_mode & 0o077 == 0  # secrets: readable by the owner only
    profiles = callers.parse_credentials(path.read_text())
    assert set(profiles) == set(stages)
    for line, (stage, (_, url)) in zip(lines, stages.items()):
        key, secret = profiles[stage]
        assert line == callers.curl_line(REGION, key, secret, url)
    plane = control_plane.for_endpoint(emulator.endpoint_url)
    dev, test = stages
    assert isinstance(signs_for(path, dev, api_id, dev, plane), auth.CallerIdentity)
    assert isinstance(signs_for(path, test, api_id, test, plane), auth.CallerIdentity)
    for profile, stage in ((dev, test), (test, dev)):
        refusal = signs_for(path, profile, api_id, stage, plane)
        assert isinstance(refusal, auth.Refusal) and refusal.error_type == "AccessDeniedException"
        assert callers.caller_user_name(profile) in refusal.message


def test_ensuring_again_keeps_the_key_and_follows_a_new_policy(cloud):
    iam, s = cloud.client("iam"), suffix()
    stage = f"st{s}"
    first = iam.create_policy(PolicyName=f"first-{s}",
                              PolicyDocument=invoke_document("a", stage))["Policy"]["Arn"]
    second = iam.create_policy(PolicyName=f"second-{s}",
                               PolicyDocument=invoke_document("a", stage))["Policy"]["Arn"]
    url = f"http://127.0.0.1:8080/{stage}"
    [line] = callers.ensure_stage_callers(cloud, cloud.state_dir, {stage: (first, url)})
    text = (cloud.state_dir / "credentials").read_text()
    assert callers.ensure_stage_callers(cloud, cloud.state_dir, {stage: (first, url)}) == [line]
    assert (cloud.state_dir / "credentials").read_text() == text
    user = callers.caller_user_name(stage)
    assert len(iam.list_access_keys(UserName=user)["AccessKeyMetadata"]) == 1
    assert callers.ensure_stage_callers(cloud, cloud.state_dir, {stage: (second, url)}) == [line]
    attached = iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [second]


def test_a_lost_credentials_file_gets_a_new_key_and_other_stages_are_kept(cloud):
    iam, s = cloud.client("iam"), suffix()
    arns = {stage: iam.create_policy(PolicyName=f"p-{stage}", PolicyDocument=invoke_document(
        "a", stage))["Policy"]["Arn"] for stage in (f"a{s}", f"b{s}")}
    a, b = arns
    callers.ensure_stage_callers(cloud, cloud.state_dir, {a: (arns[a], "http://h/a")})
    callers.ensure_stage_callers(cloud, cloud.state_dir, {b: (arns[b], "http://h/b")})
    path = cloud.state_dir / "credentials"
    before = callers.parse_credentials(path.read_text())
    assert set(before) == {a, b}
    path.write_text("this is [not an ini file\n")
    callers.ensure_stage_callers(cloud, cloud.state_dir, {a: (arns[a], "http://h/a")})
    after = callers.parse_credentials(path.read_text())
    assert set(after) == {a}
    assert after[a] != before[a]
    keys = iam.list_access_keys(UserName=callers.caller_user_name(a))["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [after[a][0]]


def test_a_policy_that_does_not_exist_is_a_clear_error(cloud):
    missing = f"arn:aws:iam::{ACCOUNT_ID}:policy/nothing-{suffix()}"
    with pytest.raises(callers.CallerError, match="deploy the stage first"):
        callers.ensure_stage_callers(cloud, cloud.state_dir,
                                     {f"x{suffix()}": (missing, "http://h/x")})


def test_replacing_a_stages_policy_lets_go_of_its_local_caller(cloud):
    kind, iam, s = KINDS["aws:iam/policy:Policy"], cloud.client("iam"), suffix()
    stage = f"r{s}"
    old_arn, _ = kind.create(cloud, "invoke", {"name": f"old-{s}",
                                               "policy": invoke_document("a", stage)})
    [line] = callers.ensure_stage_callers(cloud, cloud.state_dir,
                                          {stage: (old_arn, f"http://h/{stage}")})
    new_arn, _ = kind.create(cloud, "invoke", {"name": f"new-{s}",
                                               "policy": invoke_document("a", stage)})
    kind.delete(cloud, old_arn, {})  # the engine deletes the replaced policy last
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=old_arn)
    assert callers.ensure_stage_callers(cloud, cloud.state_dir,
                                        {stage: (new_arn, f"http://h/{stage}")}) == [line]
    user = callers.caller_user_name(stage)
    attached = iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [new_arn]


def test_a_query_is_sent_as_sigv4_encodes_it():
    from infra.signing import sigv4_url
    assert sigv4_url("http://127.0.0.1:1/dev/users?nextToken=a!b*&limit=5") == \
        "http://127.0.0.1:1/dev/users?nextToken=a%21b%2A&limit=5"
    assert sigv4_url("http://127.0.0.1:1/dev/users") == "http://127.0.0.1:1/dev/users"


# --- the deployer: an administrator of the deploy's services, no stage's caller ------------

def test_the_deployer_gets_a_new_key_in_its_own_profile_and_the_stages_keep_theirs(cloud):
    iam, s = cloud.client("iam"), suffix()
    stage = f"d{s}"
    arn = iam.create_policy(PolicyName=f"p-{stage}",
                            PolicyDocument=invoke_document("a", stage))["Policy"]["Arn"]
    callers.ensure_stage_callers(cloud, cloud.state_dir, {stage: (arn, f"http://h/{stage}")})
    path = cloud.state_dir / "credentials"
    stage_key = callers.parse_credentials(path.read_text())[stage]
    keys = []
    for _ in range(2):  # each start of the local cloud
        callers.make_deployer(cloud, cloud.state_dir)
        profiles = callers.parse_credentials(path.read_text())
        assert profiles[stage] == stage_key
        keys.append(profiles["deployer"])
        assert path.stat().st_mode & 0o077 == 0  # secrets: readable by the owner only
    assert keys[0] != keys[1]
    listed = iam.list_access_keys(UserName="localcloud-deployer")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [keys[1][0]]  # the old key no longer signs
    # The emulator's STS names the user who holds the key.
    sts = boto3.client("sts", endpoint_url=cloud.endpoint_url, region_name=REGION,
                       aws_access_key_id=keys[1][0], aws_secret_access_key=keys[1][1])
    assert sts.get_caller_identity()["Arn"] == \
        f"arn:aws:iam::{ACCOUNT_ID}:user/localcloud-deployer"


@pytest.mark.parametrize("action,resource", [
    ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/restapis/a1/stages/prod"),
    ("lambda:UpdateAlias", f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:user-service:live"),
    ("iam:AttachUserPolicy", f"arn:aws:iam::{ACCOUNT_ID}:user/localcloud-deployer"),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT_ID}:role/user-service-role"),
    ("s3:PutObject", "arn:aws:s3:::artifacts/archives/x.zip"),
    ("dynamodb:CreateTable", f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/User"),
    ("logs:CreateLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/x"),
    ("sts:GetCallerIdentity", "*"),
])
def test_the_deployers_policy_allows_what_a_deploy_calls(action, resource):
    assert iam_eval.is_allowed([callers.deployer_policy()], action, resource)


def test_the_deployer_may_invoke_no_stage_until_a_stages_invoke_policy_is_attached(
        cloud, emulator):
    iam, s = cloud.client("iam"), suffix()
    api_id, stage = f"api{s}", f"p{s}"
    callers.make_deployer(cloud, cloud.state_dir)
    path, plane = cloud.state_dir / "credentials", control_plane.for_endpoint(emulator.endpoint_url)
    assert not iam_eval.is_allowed(
        [callers.deployer_policy()], "execute-api:Invoke",
        f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{stage}/GET/users")
    refusal = signs_for(path, "deployer", api_id, stage, plane)
    assert isinstance(refusal, auth.Refusal) and refusal.error_type == "AccessDeniedException"
    # API Gateway masks the account in its message (STS names the identity in full).
    assert refusal.message.startswith(
        "User: arn:aws:iam::********9012:user/localcloud-deployer is not authorized to "
        "perform: execute-api:Invoke on resource: ")
    arn = iam.create_policy(PolicyName=f"invoke-{stage}",
                            PolicyDocument=invoke_document(api_id, stage))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="localcloud-deployer", PolicyArn=arn)
    try:
        assert isinstance(signs_for(path, "deployer", api_id, stage, plane), auth.CallerIdentity)
    finally:
        iam.detach_user_policy(UserName="localcloud-deployer", PolicyArn=arn)


def test_a_stage_cannot_take_the_deployers_profile(cloud):
    with pytest.raises(callers.CallerError, match="a stage named 'deployer' would take the "
                                                  "profile name of the local cloud's deployer"):
        callers.ensure_stage_callers(cloud, cloud.state_dir,
                                     {"deployer": ("arn:aws:iam::1:policy/x", "http://h/d")})
