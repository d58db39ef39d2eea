"""Callers -> API, end to end: every stage requires SigV4, and each stage's local caller
is allowed on its own stage only. Refused requests never reach the function."""
from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request

import pytest

from infra.signing import signed_headers
from tests.e2e.conftest import REGION, call, create_user, profile

STAGES = ("dev", "test", "prod")


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_profile_calls_its_own_stage_and_is_refused_on_the_others(url, stage):
    assert call(url(stage), sign=stage).status == 200
    for other in STAGES:
        if other == stage:
            continue
        reply = call(url(other), sign=stage)
        assert reply.status == 403, (stage, other)
        message = reply.json()["Message"]
        assert "is not authorized to perform: execute-api:Invoke on resource:" in message
        assert f"/{other}/GET/users" in message


def count(cloud, stage: str) -> int:
    ddb = cloud.cloud(stage).client("dynamodb")
    return ddb.scan(TableName=f"{stage}-User", Select="COUNT")["Count"]


def test_unsigned_tampered_expired_and_unknown_key_requests_are_refused_and_write_nothing(
        cloud, url):
    before = count(cloud, "test")
    user = {"name": "Mallory", "email": "mallory@example.com"}
    unsigned = call(url("test"), "POST", user, sign=False)
    assert (unsigned.status, unsigned.json()) == (403, {"message": "Missing Authentication Token"})
    tampered = call(url("test"), "POST", user, sign="test", tamper=b'{"name":"Eve","email":"e@example.com"}')
    assert tampered.status == 403
    assert "signature we calculated does not match" in tampered.json()["message"]
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=6)
    expired = call(url("test"), "POST", user, sign="test", signed_at=old)
    assert expired.status == 403 and "Signature expired" in expired.json()["message"]
    unknown = call(url("test"), "POST", user, sign=("AKIAUNKNOWN000000000", "secret"))
    assert unknown.status == 403
    assert unknown.json()["message"] == "The security token included in the request is invalid."
    assert count(cloud, "test") == before


def test_the_function_logs_who_called(cloud, url):
    created = create_user(url, "test")
    assert created["name"] == "Ada"
    events = cloud.cloud("test").client("logs").filter_log_events(
        logGroupName="/aws/lambda/test-user-service")["events"]
    assert any("localcloud-test-caller" in event["message"] for event in events)


def test_every_request_leaves_an_access_log_line_in_the_stages_group(cloud, url):
    call(url("dev"), sign=False)  # refused, logged all the same
    call(url("dev"))
    logs = cloud.cloud("dev").client("logs")
    lines = [e["message"] for e in logs.filter_log_events(
        logGroupName="/aws/apigateway/user-service/dev/access")["events"]]
    records = [json.loads(line) for line in lines]
    assert {r["status"] for r in records} >= {"200", "403"}
    signed = [r for r in records if r["status"] == "200"][-1]
    assert signed["resourcePath"] == "/users" and signed["httpMethod"] == "GET"
    assert signed["userArn"].endswith(":user/localcloud-dev-caller")
    assert signed["integrationStatus"] == "200"


def test_a_signature_reaches_only_the_path_it_covers(cloud, url):
    """botocore signs the normalised path: `/dev/users/` also covers `/dev/users/.`, which
    would route to GET /users/{id}. Paths with dot or empty segments are not served."""
    signed_for = url("dev", "/users/")
    headers = signed_headers(signed_for, profile(signed_for, "dev"), REGION)
    for sent in (url("dev", "/users/."), url("dev", "/users//"), url("dev", "/x/../users/")):
        request = urllib.request.Request(sent, headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 403, sent
        assert json.loads(refused.value.read()) == {"message": "Missing Authentication Token"}
