"""Access logs that always parse: a real request whose gateway error message holds a `"`
(a signature mismatch: API Gateway's message quotes the canonical request, signed headers
included), and every line of the stage's access-log group read back as JSON."""
from __future__ import annotations

import json

import pytest

from infra.access_log import access_log_format
from tests.e2e.conftest import call, create_user, profile


def access_lines(cloud, stage: str) -> list[str]:
    logs = cloud.cloud(stage).client("logs")
    group = f"/aws/apigateway/user-service/{stage}/access"
    lines, token = [], None
    while True:
        page = logs.filter_log_events(logGroupName=group, **({"nextToken": token} if token else {}))
        lines += [event["message"] for event in page["events"]]
        token = page.get("nextToken")
        if not token:
            return lines


def mismatched_delete(url, stage: str, user_id: str):
    """A conditional DELETE signed with the stage caller's key id and a wrong secret."""
    key = profile(url(stage), stage).access_key
    return call(url(stage, f"/users/{user_id}"), "DELETE", headers={"If-Match": '"1"'},
                sign=(key, "not-the-secret"))


def test_a_gateway_error_whose_message_holds_a_quote_leaves_a_line_that_parses(cloud, url):
    user = create_user(url, "dev")
    reply = mismatched_delete(url, "dev", user["id"])
    assert reply.status == 403
    message = reply.json()["message"]
    assert "signature we calculated does not match" in message
    assert 'if-match:"1"' in message and "\n" in message
    assert call(url("dev", f"/users/{user['id']}")).status == 200  # nothing was deleted

    records = [json.loads(line) for line in access_lines(cloud, "dev")]  # every line parses
    [refused] = [r for r in records if r["requestId"] == reply.headers["x-amzn-RequestId"]]
    assert refused["errorMessage"] == message  # the very message the caller got
    assert (refused["status"], refused["httpMethod"]) == ("403", "DELETE")
    served = [r for r in records if r["status"] == "200"]
    assert served and all(r["errorMessage"] == "-" for r in served)


def test_the_shipped_format_is_the_stages_and_a_self_quoted_message_would_break(cloud, url):
    apigw = cloud.cloud("test").client("apigateway")
    api = cloud.store.load("dev").outputs["restApiId"]
    assert apigw.get_stage(restApiId=api, stageName="test")["accessLogSettings"]["format"] \
        == access_log_format()
    # The format this project shipped before: the message in quotes of its own.
    quoted = access_log_format().replace('"errorMessage":$context.error.messageString',
                                         '"errorMessage":"$context.error.message"')
    assert quoted != access_log_format()
    apigw.update_stage(restApiId=api, stageName="test", patchOperations=[
        {"op": "replace", "path": "/accessLogSettings/format", "value": quoted}])
    try:
        reply = mismatched_delete(url, "test", create_user(url, "test")["id"])
        assert reply.status == 403
    finally:
        apigw.update_stage(restApiId=api, stageName="test", patchOperations=[
            {"op": "replace", "path": "/accessLogSettings/format", "value": access_log_format()}])
    [line] = [line for line in access_lines(cloud, "test")
              if reply.headers["x-amzn-RequestId"] in line]
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
