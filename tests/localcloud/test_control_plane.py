"""The control plane: moto's backends read in process answer exactly as boto3 does, see
every change at once, and are read only when this process's moto server is the endpoint."""
from __future__ import annotations

import json
import time

import pytest
from moto.server import ThreadedMotoServer

from localcloud import control_plane
from localcloud.control_plane import BotoPlane, ControlPlane, InProcessPlane, NotFound
from localcloud.emulator import Emulator

from .builders import create_api, deploy_function, deploy_stage, grant_invoke, suffix

MANAGED = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "*"}]}


@pytest.fixture(scope="module")
def planes(emulator):
    return BotoPlane(emulator.endpoint_url), InProcessPlane()


def both(planes, question, *args):
    boto, in_process = planes
    return getattr(boto, question)(*args), getattr(in_process, question)(*args)


def test_an_emulator_of_this_process_is_read_in_process(emulator):
    assert ControlPlane(emulator.endpoint_url).in_process
    assert not ControlPlane("http://127.0.0.1:9").in_process  # nothing of ours there


def test_only_a_running_emulator_of_this_process_is_read_in_process():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        # moto's own server, in this process but without the front check, is not the
        # local cloud's emulator: what it serves may differ from what the backends hold.
        assert not ControlPlane(f"http://{host}:{port}").in_process
    finally:
        server.stop()
    with Emulator() as other:
        plane = ControlPlane(other.endpoint_url)
        assert plane.in_process
        assert ControlPlane(other.endpoint_url.replace("127.0.0.1", "localhost")).in_process
    assert not plane.in_process  # stopped


def test_stages_policies_and_configuration_answer_alike_and_follow_changes(
        emulator, state_dir, planes):
    fn = deploy_function(emulator, state_dir, handler="app.echo")
    apigw, lam, iam = (emulator.client(s) for s in ("apigateway", "lambda", "iam"))
    api = create_api(apigw, {"/users": ["GET"]}, name=f"plane-{suffix()}")
    deploy_stage(apigw, state_dir, api, "one", {"functionName": fn.name})
    grant_invoke(lam, fn.name, api.id, "one", "GET", "users", sid="list")
    arn = iam.create_policy(PolicyName=f"managed-{suffix()}",
                            PolicyDocument=json.dumps(MANAGED))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=fn.role_name, PolicyArn=arn)

    boto_ids, in_process_ids = both(planes, "rest_api_ids")
    assert api.id in in_process_ids and boto_ids == in_process_ids
    boto_stage, in_process_stage = both(planes, "stage", api.id, "one")
    assert in_process_stage == boto_stage == {"deploymentId": api.stages["one"],
                                              "variables": {"functionName": fn.name},
                                              "throttling": None,
                                              "logging": {"level": "OFF", "access": None},
                                              "canary": None}
    assert both(planes, "stage", api.id, "nope") == (None, None)
    assert both(planes, "stage", "no-such-api", "one") == (None, None)
    boto_policy, in_process_policy = both(planes, "function_policy", fn.name)
    assert json.loads(in_process_policy) == json.loads(boto_policy)
    assert both(planes, "function_policy", fn.arn)[1] == in_process_policy
    boto_config, in_process_config = both(planes, "function_configuration", fn.name)
    for key in ("FunctionName", "CodeSha256", "Handler", "Role", "Runtime", "MemorySize",
                "Timeout", "Environment"):
        assert in_process_config[key] == boto_config[key], key
    boto_docs, in_process_docs = both(planes, "role_policies", fn.role_name)
    assert in_process_docs == boto_docs and in_process_docs[-1] == MANAGED

    # Changes made through boto3 are what the very next read sees.
    apigw.update_stage(restApiId=api.id, stageName="one", patchOperations=[
        {"op": "replace", "path": "/variables/functionName", "value": "elsewhere"}])
    assert both(planes, "stage", api.id, "one")[1]["variables"] == {"functionName": "elsewhere"}
    lam.remove_permission(FunctionName=fn.name, StatementId="list")
    assert both(planes, "function_policy", fn.name) == (None, None)
    iam.detach_role_policy(RoleName=fn.role_name, PolicyArn=arn)
    iam.put_role_policy(RoleName=fn.role_name, PolicyName="function", PolicyDocument=json.dumps(
        MANAGED))
    assert both(planes, "role_policies", fn.role_name) == ([MANAGED], [MANAGED])
    lam.update_function_configuration(FunctionName=fn.name, Timeout=7)
    assert [c["Timeout"] for c in both(planes, "function_configuration", fn.name)] == [7, 7]


@pytest.mark.parametrize("plane", [0, 1], ids=["boto3", "in-process"])
def test_what_is_missing_is_not_found(planes, plane):
    chosen = planes[plane]
    with pytest.raises(NotFound):
        chosen.function_configuration(f"missing-{suffix()}")
    with pytest.raises(NotFound):
        chosen.role_policies(f"missing-{suffix()}")
    assert chosen.function_policy(f"missing-{suffix()}") is None
    assert chosen.function_policy("not:a:function:name:at:all") is None


@pytest.mark.parametrize("plane", [0, 1], ids=["boto3", "in-process"])
def test_log_writes_land_in_cloudwatch_logs(emulator, planes, plane):
    chosen, logs = planes[plane], emulator.client("logs")
    group, stream = f"/aws/lambda/plane-{suffix()}", "2024/01/01/[$LATEST]abc"
    assert not chosen.log_group_exists(group)
    chosen.create_log_group(group)
    chosen.create_log_group(group)  # already there: fine
    assert chosen.log_group_exists(group) and not chosen.log_group_exists(group + "-other")
    chosen.create_log_stream(group, stream)
    chosen.create_log_stream(group, stream)
    now = int(time.time() * 1000)
    chosen.put_log_events(group, stream, [{"timestamp": now + i, "message": m}
                                          for i, m in enumerate(("one", "two"))])
    events = logs.get_log_events(logGroupName=group, logStreamName=stream,
                                 startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["one", "two"]
    assert logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"] == stream


def test_as_document_reads_every_form():
    doc = {"Version": "2012-10-17", "Statement": []}
    text = json.dumps(doc)
    assert control_plane.as_document(doc) == doc
    assert control_plane.as_document(text) == doc
    assert control_plane.as_document(text.encode()) == doc
    assert control_plane.as_document("%7B%22Version%22%3A%20%222012-10-17%22%2C%20"
                                     "%22Statement%22%3A%20%5B%5D%7D") == doc


def test_a_key_left_behind_by_a_deleted_user_is_nobodys(emulator):
    """IAM lists a user's own keys only; moto keeps a deleted user's keys in its index."""
    iam, name = emulator.client("iam"), f"gone-{suffix()}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    assert InProcessPlane().access_key(key)["userName"] == name
    iam.delete_user(UserName=name)  # AWS would refuse while the user holds a key
    iam.create_user(UserName=name)
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    assert InProcessPlane().access_key(key) is None
