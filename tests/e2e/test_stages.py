"""Every stage serves the users API through the same path as on AWS, in isolation."""
from __future__ import annotations

import contextlib
import json

import pytest

from tests.e2e.conftest import call, create_user

STAGES = ("dev", "test", "prod")
FUNCTION = {"dev": "dev-user-service", "test": "test-user-service", "prod": "user-service"}
VARIABLE = {stage: f"{function}:live" for stage, function in FUNCTION.items()}
DENIED = "Execution failed due to configuration error: Invalid permissions on Lambda function"


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_serves_the_full_users_api(url, stage):
    user = create_user(url, stage, name="Grace", email="grace@example.com")
    item = url(stage, f"/users/{user['id']}")
    got = call(item)
    assert got.status == 200 and got.json()["name"] == "Grace"
    etag = got.headers["ETag"]
    put = call(item, "PUT", {"name": "Grace H", "email": "grace@example.com"},
               headers={"If-Match": etag})
    assert put.status == 200 and put.json()["version"] == user["version"] + 1
    listed = call(url(stage) + "?limit=50")
    assert user["id"] in {u["id"] for u in listed.json()["items"]}
    assert call(item, "DELETE", headers={"If-Match": put.headers["ETag"]}).status == 204
    assert call(item).status == 404


def test_a_user_created_on_test_is_absent_on_dev_and_prod(url):
    user = create_user(url, "test", name="Only Test", email="only@test.example")
    assert call(url("test", f"/users/{user['id']}")).status == 200
    for stage in ("dev", "prod"):
        assert call(url(stage, f"/users/{user['id']}")).status == 404
        assert user["id"] not in {u["id"] for u in call(url(stage) + "?limit=100").json()["items"]}


def test_unknown_stage_resource_or_method_is_missing_authentication_token(url):
    for target, method, signed in ((url("no-such-stage"), "GET", False),
                                   (url("dev", "/accounts"), "GET", True),
                                   (url("dev"), "PATCH", True),
                                   (url("dev", "/users/x/y"), "GET", True),
                                   (url("dev", "/accounts"), "GET", False)):
        reply = call(target, method, sign=signed)
        assert reply.status == 403, target
        assert reply.json() == {"message": "Missing Authentication Token"}


def test_dev_stage_pointed_at_prods_function_is_refused(cloud, url):
    apigw = cloud.cloud("dev").client("apigateway")
    api = cloud.store.load("dev").outputs["restApiId"]
    apigw.update_stage(restApiId=api, stageName="dev", patchOperations=[
        {"op": "replace", "path": "/variables/functionName", "value": VARIABLE["prod"]}])
    try:
        cloud.gateway.clear_execution_log()
        reply = call(url("dev"))
        assert reply.status == 500
        assert reply.json() == {"message": "Internal server error"}
        assert DENIED in cloud.gateway.execution_messages()
    finally:
        apigw.update_stage(restApiId=api, stageName="dev", patchOperations=[
            {"op": "replace", "path": "/variables/functionName", "value": VARIABLE["dev"]}])
    assert call(url("dev")).status == 200


@contextlib.contextmanager
def without_tests_grant(cloud):
    """Test's invoke grant on its alias taken away for the block, then put back; yields
    the Lambda client and the grant's source ARN."""
    aws_lambda = cloud.cloud("test").client("lambda")
    policy = json.loads(aws_lambda.get_policy(FunctionName=FUNCTION["test"],
                                              Qualifier="live")["Policy"])
    grant = next(s for s in policy["Statement"] if s["Sid"] == "apigateway-test")
    source = grant["Condition"]["ArnLike"]["AWS:SourceArn"]
    aws_lambda.remove_permission(FunctionName=FUNCTION["test"], StatementId=grant["Sid"],
                                 Qualifier="live")
    try:
        yield aws_lambda, source
    finally:
        aws_lambda.add_permission(
            FunctionName=FUNCTION["test"], StatementId=grant["Sid"], Action=grant["Action"],
            Principal="apigateway.amazonaws.com", Qualifier="live", SourceArn=source)


def test_removing_a_stages_permission_gives_awss_500(cloud, url):
    with without_tests_grant(cloud):
        cloud.gateway.clear_execution_log()
        assert call(url("test")).status == 500
        assert DENIED in cloud.gateway.execution_messages()
        # The test-invoke grant on the same alias does not serve the stage.
        assert call(url("test"), "POST", {"name": "Not", "email": "n@x.io"}).status == 500
    assert call(url("test")).status == 200


def test_an_unqualified_grant_does_not_authorise_the_alias(cloud, url):
    """Lambda keeps a policy per qualifier: the stage invokes `test-user-service:live`."""
    with without_tests_grant(cloud) as (aws_lambda, source):
        aws_lambda.add_permission(FunctionName=FUNCTION["test"], StatementId="unqualified",
                                  Action="lambda:InvokeFunction",
                                  Principal="apigateway.amazonaws.com", SourceArn=source)
        try:
            assert call(url("test")).status == 500
        finally:
            aws_lambda.remove_permission(FunctionName=FUNCTION["test"], StatementId="unqualified")
    assert call(url("test")).status == 200


def test_dropping_one_action_fails_exactly_the_requests_that_need_it(cloud, url):
    iam = cloud.cloud("test").client("iam")
    role = "test-user-service-role"
    [policy_name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    original = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    user = create_user(url, "test", name="Scan Less", email="sl@example.com")
    reduced = json.loads(json.dumps(original))
    reduced["Statement"][0]["Action"].remove("dynamodb:Scan")
    iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(reduced))
    try:
        listed = call(url("test"))
        assert listed.status >= 500 and "message" in listed.json()
        assert call(url("test", f"/users/{user['id']}")).status == 200
        assert call(url("test"), "POST", {"name": "Put Ok", "email": "p@x.io"}).status == 201
        denied = [c for c in cloud.invoker.call_log("test-user-service") if not c.allowed]
        assert {c.action for c in denied} == {"dynamodb:Scan"}
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=policy_name,
                            PolicyDocument=json.dumps(original))
    assert call(url("test")).status == 200


def test_least_privilege_both_ways(cloud, url):
    """Every action the function calls is granted, and every granted action is called,
    across everything prod's function has done in this module (its log stream is created
    once, by its first invocation)."""
    user = create_user(url, "prod", name="Lin", email="lin@example.com")
    item = url("prod", f"/users/{user['id']}")
    etag = call(item).headers["ETag"]
    call(item, "PUT", {"name": "Lin B", "email": "lin@example.com"}, headers={"If-Match": etag})
    call(url("prod"))
    call(item, "DELETE")
    calls = cloud.invoker.call_log("user-service")
    assert calls and all(c.allowed for c in calls), [c for c in calls if not c.allowed]
    iam = cloud.cloud("prod").client("iam")
    [policy_name] = iam.list_role_policies(RoleName="user-service-role")["PolicyNames"]
    granted = {a for s in iam.get_role_policy(RoleName="user-service-role",
                                              PolicyName=policy_name)["PolicyDocument"]["Statement"]
               for a in s["Action"]}
    # prod traces (apiXrayTracing): X-Ray's two actions are granted for Lambda itself, which
    # sends an actively traced function's segments; the handler never calls them.
    xray = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    # The calls function/user_service/store.py makes, and Lambda's writes of its logs.
    assert granted == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
                       "dynamodb:Scan", "logs:CreateLogStream", "logs:PutLogEvents"} | xray
    assert {c.action for c in calls} == granted - xray
    table_calls = {c.resource for c in calls if c.action.startswith("dynamodb:")}
    assert table_calls == {"arn:aws:dynamodb:us-east-1:123456789012:table/User"}


BAD_REQUESTS = [
    ("not json", "POST", "/users", b"{nope", {"Content-Type": "application/json"}, 400),
    ("not an object", "POST", "/users", b"[1, 2]", {"Content-Type": "application/json"}, 400),
    ("wrong content type", "POST", "/users", b'{"name": "A", "email": "a@b.co"}',
     {"Content-Type": "text/plain"}, 415),
    ("missing content type", "POST", "/users", b'{"name": "A", "email": "a@b.co"}', {}, 415),
    ("too large", "POST", "/users", b'{"name": "' + b"a" * 17000 + b'"}',
     {"Content-Type": "application/json"}, 413),
    ("missing field", "POST", "/users", b'{"name": "A"}', {"Content-Type": "application/json"}, 400),
    ("unknown field", "POST", "/users", b'{"name": "A", "email": "a@b.co", "admin": true}',
     {"Content-Type": "application/json"}, 400),
    ("wrong type", "POST", "/users", b'{"name": 5, "email": "a@b.co"}',
     {"Content-Type": "application/json"}, 400),
    ("empty name", "POST", "/users", b'{"name": "", "email": "a@b.co"}',
     {"Content-Type": "application/json"}, 400),
    ("long name", "POST", "/users", b'{"name": "' + b"n" * 500 + b'", "email": "a@b.co"}',
     {"Content-Type": "application/json"}, 400),
    ("bad email", "POST", "/users", b'{"name": "A", "email": "not-an-email"}',
     {"Content-Type": "application/json"}, 400),
    ("malformed id", "GET", "/users/not-an-id", None, {}, 400),
    ("bad limit", "GET", "/users?limit=0", None, {}, 400),
    ("bad limit text", "GET", "/users?limit=ten", None, {}, 400),
    ("bad nextToken", "GET", "/users?nextToken=garbage!!", None, {}, 400),
    ("unknown user", "GET", "/users/00000000-0000-4000-8000-000000000000", None, {}, 404),
]


@pytest.mark.parametrize("what,method,path,raw,headers,status", BAD_REQUESTS,
                         ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_through_the_gateway_keep_their_4xx(url, what, method, path, raw, headers,
                                                         status):
    reply = call(url("dev", path), method, raw=raw, headers=headers)
    assert reply.status == status, (what, reply.body)
    assert reply.json()["message"]


def test_stale_if_match_through_the_gateway_is_412(url):
    user = create_user(url, "dev", name="Stale", email="stale@example.com")
    item = url("dev", f"/users/{user['id']}")
    first = call(item, "PUT", {"name": "One", "email": "stale@example.com"},
                 headers={"If-Match": '"1"'})
    assert first.status == 200
    second = call(item, "PUT", {"name": "Two", "email": "stale@example.com"},
                  headers={"If-Match": '"1"'})
    assert second.status == 412 and second.json()["message"]
    assert call(item).json()["name"] == "One"
