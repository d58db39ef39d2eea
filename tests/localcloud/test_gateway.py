"""The gateway over real HTTP: stages, snapshots, permissions, proxy events and failures."""
from __future__ import annotations

import base64
import errno
import http.client
import json
import logging
import socket
import threading
from dataclasses import dataclass

import pytest

from localcloud.apigateway import gateway as gateway_module
from localcloud.apigateway import snapshots
from localcloud.apigateway.gateway import INVALID_PERMISSIONS, MALFORMED_RESPONSE

from .builders import (
    Api, Function, add_route, call, create_api, deploy_function, deploy_stage, grant_invoke,
    suffix, uri_for,
)

MISSING_TOKEN = {"message": "Missing Authentication Token"}
INTERNAL = {"message": "Internal server error"}


@dataclass
class World:
    api: Api
    dev: str
    test: str
    dev_fn: Function
    test_fn: Function
    echo_fn: Function
    sleepy_fn: Function

    def variables(self) -> dict[str, str]:
        return {"echoFunction": self.echo_fn.name, "sleepFunction": self.sleepy_fn.name}


@pytest.fixture(scope="module")
def world(emulator, state_dir) -> World:
    """One REST API with stages dev and test (random names), each with its own function.
    Only /sleep's function has a 1 s timeout; the others have time to spare on a busy
    machine (a Scan of moto's table under load can take a second)."""
    s = suffix()
    dev, test = f"dev{s}", f"test{s}"
    dev_fn = deploy_function(emulator, state_dir, handler="app.users", prefix=f"d{s}-",
                             timeout=30)
    test_fn = deploy_function(emulator, state_dir, handler="app.users", prefix=f"t{s}-",
                              timeout=30, actions=("dynamodb:GetItem", "dynamodb:Scan"))
    echo_fn = deploy_function(emulator, state_dir, handler="app.echo", prefix=f"e{s}-")
    sleepy_fn = deploy_function(emulator, state_dir, handler="app.users", prefix=f"z{s}-",
                                timeout=1)
    apigw, lam = emulator.client("apigateway"), emulator.client("lambda")
    api = create_api(apigw, {
        "/users": ["GET"],
        "/users/{id}": ["GET", "PUT", "DELETE"],
        "/boom": ["GET"], "/malformed": ["GET"], "/binary": ["GET"],
    }, name=f"users-{s}")
    add_route(apigw, api, "/echo/{proxy+}", ["ANY"], uri=uri_for("echoFunction"))
    add_route(apigw, api, "/sleep", ["GET"], uri=uri_for("sleepFunction"))
    add_route(apigw, api, "/unset", ["GET"], uri=uri_for("notDefined"))
    for stage, fn in ((dev, dev_fn), (test, test_fn)):
        deploy_stage(apigw, state_dir, api, stage,
                     {"functionName": fn.name, "echoFunction": echo_fn.name,
                      "sleepFunction": sleepy_fn.name})
        grant_invoke(lam, fn.name, api.id, stage, "GET", "users")
        grant_invoke(lam, fn.name, api.id, stage, "GET", "users/*")
        grant_invoke(lam, echo_fn.name, api.id, stage, "*", "echo/*")
    for method, path in (("PUT", "users/*"), ("DELETE", "users/*"), ("GET", "boom"),
                         ("GET", "malformed"), ("GET", "binary")):
        grant_invoke(lam, dev_fn.name, api.id, dev, method, path)
    grant_invoke(lam, sleepy_fn.name, api.id, dev, "GET", "sleep")
    return World(api, dev, test, dev_fn, test_fn, echo_fn, sleepy_fn)


# --- routing, stage variables, proxy events -----------------------------------------------

def test_routes_path_parameters_and_allowed_calls_reach_the_emulator(gateway, world, emulator):
    put = call(gateway, "PUT", f"/{world.dev}/users/u-1", body="Ann")
    assert put.status == 201, put.body
    assert put.json() == {"id": "u-1"}
    got = call(gateway, "GET", f"/{world.dev}/users/u-1")
    assert got.status == 200 and got.json() == {"id": "u-1", "name": "Ann"}
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["x-amzn-RequestId"]
    assert call(gateway, "GET", f"/{world.dev}/users").json() == ["u-1"]
    assert call(gateway, "GET", f"/{world.dev}/users/nobody").status == 404
    item = emulator.client("dynamodb").get_item(TableName=world.dev_fn.table,
                                                Key={"id": {"S": "u-1"}})["Item"]
    assert item["name"]["S"] == "Ann"


def test_stage_variables_select_each_stages_function(gateway, world):
    call(gateway, "PUT", f"/{world.dev}/users/only-in-dev", body="x")
    assert "only-in-dev" in call(gateway, "GET", f"/{world.dev}/users").json()
    assert call(gateway, "GET", f"/{world.test}/users").json() == []  # test's own table
    for stage, fn in ((world.dev, world.dev_fn), (world.test, world.test_fn)):
        event = call(gateway, "GET", f"/{stage}/echo/x").json()["event"]
        assert event["stageVariables"] == {"functionName": fn.name, **world.variables()}


def test_proxy_event_has_the_rest_payload_1_0_shape(gateway, world):
    response = call(gateway, "POST", f"/{world.dev}/echo/a/b%20c?x=1&x=2&y=",
                    body='{"hello": "world"}',
                    headers={"X-Custom": "one", "Content-Type": "application/json"})
    assert response.status == 200, response.body
    assert response.headers["X-Function"] == world.echo_fn.name
    body = response.json()
    event = body["event"]
    assert event["resource"] == "/echo/{proxy+}"
    assert event["path"] == "/echo/a/b%20c"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"proxy": "a/b c"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["headers"]["X-Custom"] == "one"
    assert event["multiValueHeaders"]["X-Custom"] == ["one"]
    assert event["body"] == '{"hello": "world"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["accountId"] == "123456789012"
    assert context["apiId"] == world.api.id
    assert context["stage"] == world.dev
    assert context["resourcePath"] == "/echo/{proxy+}"
    assert context["httpMethod"] == "POST"
    assert context["path"] == f"/{world.dev}/echo/a/b%20c"
    assert context["protocol"] == "HTTP/1.1"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] == response.request_id
    assert context["deploymentId"] == world.api.stages[world.dev]
    assert isinstance(context["requestTimeEpoch"], int) and context["requestTime"]

    bare = call(gateway, "GET", f"/{world.dev}/echo/z").json()["event"]
    assert bare["queryStringParameters"] is None
    assert bare["multiValueQueryStringParameters"] is None
    assert bare["body"] is None and bare["isBase64Encoded"] is False


@pytest.mark.parametrize("sent,forwarded", [
    ([], "127.0.0.1"),
    ([("X-Forwarded-For", "203.0.113.7")], "203.0.113.7, 127.0.0.1"),
    ([("x-forwarded-for", "203.0.113.7, 198.51.100.2")], "203.0.113.7, 198.51.100.2, 127.0.0.1"),
    ([("X-Forwarded-For", "a"), ("X-Forwarded-For", "b")], "a, b, 127.0.0.1"),
])
def test_the_clients_address_is_appended_to_x_forwarded_for(gateway, world, sent, forwarded):
    head = f"GET /{world.dev}/echo/xff HTTP/1.1\r\nHost: x\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in sent) + "Connection: close\r\n\r\n"
    answer = raw_exchange(gateway, head.encode())
    event = json.loads(answer.partition(b"\r\n\r\n")[2])["event"]
    name = sent[0][0] if sent else "X-Forwarded-For"
    assert event["headers"][name] == forwarded
    assert event["multiValueHeaders"][name] == [forwarded]
    assert [n for n in event["headers"] if n.lower() == "x-forwarded-for"] == [name]
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_with_forwarded_for_keeps_the_other_headers_and_their_order():
    headers = [("Host", "h"), ("x-forwarded-for", "1.1.1.1"), ("A", "1"),
               ("X-Forwarded-For", ""), ("X-Forwarded-For", "2.2.2.2")]
    assert gateway_module.with_forwarded_for(headers, "10.0.0.9") == [
        ("Host", "h"), ("x-forwarded-for", "1.1.1.1, 2.2.2.2, 10.0.0.9"), ("A", "1")]
    assert gateway_module.with_forwarded_for([("Host", "h")], "10.0.0.9") == [
        ("Host", "h"), ("X-Forwarded-For", "10.0.0.9")]


def test_binary_bodies_are_base64_both_ways(gateway, world):
    raw = b"\xff\x00\xfe"
    event = call(gateway, "PUT", f"/{world.dev}/echo/bin", body=raw).json()["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    response = call(gateway, "GET", f"/{world.dev}/binary")
    assert response.status == 200 and response.body == b"\x00\xff\x10"
    assert response.headers["Content-Type"] == "application/octet-stream"


# --- snapshots -----------------------------------------------------------------------------

def test_a_stage_serves_its_deployment_not_the_latest_edits(gateway, emulator, state_dir):
    s = suffix()
    stage = f"snap{s}"
    fn = deploy_function(emulator, state_dir, handler="app.echo", prefix=f"snap{s}-")
    apigw, lam = emulator.client("apigateway"), emulator.client("lambda")
    api = create_api(apigw, {"/items": ["GET"]}, name=f"snapshots-{s}")
    first = deploy_stage(apigw, state_dir, api, stage, {"functionName": fn.name})
    grant_invoke(lam, fn.name, api.id, stage, "*", "items")
    assert call(gateway, "GET", f"/{stage}/items").status == 200

    add_route(apigw, api, "/items", ["POST"])  # edited after the deployment
    assert call(gateway, "POST", f"/{stage}/items").json() == MISSING_TOKEN
    # a new deployment alone changes nothing: the stage still points at the first
    second = snapshots.create_deployment(apigw, state_dir, api.id)
    assert apigw.get_stage(restApiId=api.id, stageName=stage)["deploymentId"] == first
    assert call(gateway, "POST", f"/{stage}/items").status == 403
    apigw.update_stage(restApiId=api.id, stageName=stage, patchOperations=[
        {"op": "replace", "path": "/deploymentId", "value": second}])
    moved = call(gateway, "POST", f"/{stage}/items", body="x")
    assert moved.status == 200, moved.body
    assert moved.json()["event"]["requestContext"]["deploymentId"] == second
    # and back: rolling the stage back to the first deployment hides POST again
    apigw.update_stage(restApiId=api.id, stageName=stage, patchOperations=[
        {"op": "replace", "path": "/deploymentId", "value": first}])
    assert call(gateway, "POST", f"/{stage}/items").status == 403


# --- permissions -----------------------------------------------------------------------------

def test_missing_permission_is_500_with_the_execution_log_line(gateway, world, caplog):
    with caplog.at_level(logging.ERROR, logger="localcloud.apigateway.gateway"):
        response = call(gateway, "PUT", f"/{world.test}/users/u-2", body="x")  # no PUT grant on test
    assert response.status == 500 and response.json() == INTERNAL
    assert INVALID_PERMISSIONS in gateway.execution_messages(response.request_id)
    assert any(INVALID_PERMISSIONS in r.getMessage() for r in caplog.records)


def test_permission_for_another_stage_does_not_count(gateway, world, emulator, state_dir):
    # A stage whose variable points at dev's function, which only dev's stage may invoke.
    rogue = f"rogue{suffix()}"
    apigw = emulator.client("apigateway")
    apigw.create_stage(restApiId=world.api.id, stageName=rogue,
                       deploymentId=world.api.stages[world.dev],
                       variables={"functionName": world.dev_fn.name, **world.variables()})
    assert call(gateway, "GET", f"/{world.dev}/users").status == 200
    response = call(gateway, "GET", f"/{rogue}/users")
    assert response.status == 500 and response.json() == INTERNAL
    assert gateway.execution_messages(response.request_id) == [INVALID_PERMISSIONS]


def test_function_without_any_policy_is_refused(gateway, world, emulator, state_dir):
    s = suffix()
    stage = f"nopolicy{s}"
    fn = deploy_function(emulator, state_dir, handler="app.echo", prefix=f"np{s}-")
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/items": ["GET"]}, name=f"nopolicy-{s}")
    deploy_stage(apigw, state_dir, api, stage, {"functionName": fn.name})
    response = call(gateway, "GET", f"/{stage}/items")
    assert response.status == 500
    assert gateway.execution_messages(response.request_id) == [INVALID_PERMISSIONS]


def test_undefined_stage_variable_is_500(gateway, world):
    response = call(gateway, "GET", f"/{world.dev}/unset")
    assert response.status == 500 and response.json() == INTERNAL
    assert "notDefined" in gateway.execution_messages(response.request_id)[0]


# --- unknown routes ------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", "/no-such-stage/users"),
    ("GET", "/"),
    ("GET", "/{dev}"),
    ("GET", "/{dev}/nothing/here"),
    ("POST", "/{dev}/users"),
    ("PATCH", "/{dev}/users/u-1"),
    ("GET", "/{dev}/users/u-1/extra"),
    ("GET", "/a%2Fb/users"),
    ("GET", "/%00/users"),
    ("OPTIONS", "*"),
])
def test_unknown_stage_resource_or_method_is_missing_authentication_token(gateway, world,
                                                                          method, path):
    response = call(gateway, method, path.replace("{dev}", world.dev))
    assert response.status == 403
    assert response.json() == MISSING_TOKEN
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


# --- function failures -----------------------------------------------------------------------

def test_malformed_response_is_502(gateway, world):
    response = call(gateway, "GET", f"/{world.dev}/malformed")
    assert response.status == 502 and response.json() == INTERNAL
    assert MALFORMED_RESPONSE in gateway.execution_messages(response.request_id)


def test_function_exception_is_502(gateway, world):
    response = call(gateway, "GET", f"/{world.dev}/boom")
    assert response.status == 502 and response.json() == INTERNAL
    messages = gateway.execution_messages(response.request_id)
    assert any("customer function error: boom" in m for m in messages)


def test_function_timeout_is_504(gateway, world):
    response = call(gateway, "GET", f"/{world.dev}/sleep")
    assert response.status == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    assert call(gateway, "GET", f"/{world.dev}/users").status == 200  # a fresh worker serves


@pytest.mark.parametrize("payload,reason", [
    ({"statusCode": 200, "body": "ok"}, None),
    ({"statusCode": "200"}, "statusCode"),
    ({"statusCode": True}, "statusCode"),
    ({"statusCode": 200, "body": {"a": 1}}, "body"),
    ({"statusCode": 200, "headers": ["x"]}, "headers"),
    ({"statusCode": 200, "headers": {"X": {"nested": 1}}}, "header"),
    ({"statusCode": 200, "multiValueHeaders": {"X": "not-a-list"}}, "multiValueHeaders"),
    ({"statusCode": 200, "isBase64Encoded": "yes"}, "isBase64Encoded"),
    ({"statusCode": 200, "body": "%%%", "isBase64Encoded": True}, "base64"),
    ({"statusCode": 200, "headers": {"X": "a\r\nInjected: 1"}}, "line break"),
    ("just a string", "not an object"),
    (None, "not an object"),
])
def test_proxy_response_validation(payload, reason):
    if reason is None:
        parsed = gateway_module.parse_proxy_response(payload)
        assert (parsed.status, parsed.body) == (200, b"ok")
    else:
        with pytest.raises(gateway_module.MalformedResponse, match=reason):
            gateway_module.parse_proxy_response(payload)


def test_proxy_response_headers_merge_multi_value_headers():
    parsed = gateway_module.parse_proxy_response({
        "statusCode": 201, "headers": {"A": "1", "B": 2},
        "multiValueHeaders": {"A": ["x", "y"], "Set-Cookie": ["c=1", "d=2"]}})
    assert parsed.headers == [("A", "x"), ("A", "y"), ("Set-Cookie", "c=1"), ("Set-Cookie", "d=2"),
                              ("B", "2")]


# --- the role, the call log, the logs ---------------------------------------------------------

def test_role_denial_reaches_the_handler_as_access_denied(gateway, world):
    call(gateway, "PUT", f"/{world.dev}/users/to-delete", body="x")
    response = call(gateway, "DELETE", f"/{world.dev}/users/to-delete")
    assert response.status == 403
    body = response.json()
    assert body["code"] == "AccessDeniedException"
    assert "is not authorized to perform: dynamodb:DeleteItem" in body["message"]
    assert f"table/{world.dev_fn.table} because no identity-based policy" in body["message"]


def test_least_privilege_both_ways_on_the_test_stage(gateway, world, invoker, emulator):
    # test's role grants GetItem and Scan (and the two log actions); its routes use exactly those.
    assert call(gateway, "GET", f"/{world.test}/users").status == 200
    assert call(gateway, "GET", f"/{world.test}/users/nobody").status == 404
    records = invoker.call_log(world.test_fn.name)
    assert records and all(r.allowed for r in records), [r for r in records if not r.allowed]
    called = {(r.action, r.resource.split(":log-stream:")[0]) for r in records}
    policy = emulator.client("iam").get_role_policy(RoleName=world.test_fn.role_name,
                                                    PolicyName="function")["PolicyDocument"]
    granted = {(action, resource.split(":log-stream:")[0])
               for statement in policy["Statement"]
               for action in statement["Action"] for resource in statement["Resource"]}
    assert called == granted


def test_function_logs_reach_cloudwatch_logs(gateway, world, emulator):
    response = call(gateway, "GET", f"/{world.dev}/echo/logged")
    group = f"/aws/lambda/{world.echo_fn.name}"
    logs = emulator.client("logs")
    messages = [e["message"]
                for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]
                for e in logs.get_log_events(logGroupName=group,
                                             logStreamName=stream["logStreamName"])["events"]]
    assert "echo GET /echo/logged" in messages
    lambda_request_id = json.loads(response.body)["requestId"]
    assert f"END RequestId: {lambda_request_id}" in messages


# --- the server itself ----------------------------------------------------------------------

def raw_exchange(gw, data: bytes, *, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
        sock.sendall(data)
        if not read:
            return b""
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize("data,status", [
    (b"GARBAGE\r\n\r\n", b"400"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\r\n\r\n", b"400"),
    (b"GET /x HTTP/9.9\r\n\r\n", b"505"),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n", b"431"),
    (b"POST /d/users HTTP/1.1\r\nContent-Length: nope\r\n\r\n", b"400"),
    (b"POST /d/users HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", b"413"),
    (b"POST /d/users HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
    (b"BREW /d/users HTTP/1.1\r\nHost: x\r\n\r\n", b"403"),
])
def test_garbage_requests_get_a_json_answer(gateway, data, status):
    answer = raw_exchange(gateway, data)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == status, answer[:200]
    assert b"application/json" in head
    json.loads(body)
    assert b"Traceback" not in answer


@pytest.mark.parametrize("data,status", [
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 70000 + b"\r\n\r\n", b"431"),
])
def test_oversized_request_heads_are_refused(gateway, world, data, status):
    # Refused as soon as the URL or the header fields pass API Gateway's quotas (see
    # test_gateway_limits for the boundaries), and the connection closed at once: a client
    # still sending the rest of its head may see it reset instead of the answer.
    try:
        answer = raw_exchange(gateway, data)
    except (ConnectionResetError, BrokenPipeError, OSError) as closed:
        assert closed.errno in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN), closed
        answer = None
    if answer is not None:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] == status, answer[:200]
        assert json.loads(body)["message"]
    assert call(gateway, "GET", f"/{world.dev}/users").status == 200


def test_server_survives_disconnects_and_keeps_serving(gateway, world):
    raw_exchange(gateway, b"PUT /x/users HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort", read=False)
    raw_exchange(gateway, b"GET /", read=False)
    raw_exchange(gateway, b"", read=False)
    chunked = raw_exchange(gateway, (
        f"PUT /{world.dev}/users/chunky HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n3\r\nBob\r\n0\r\n\r\n").encode())
    assert chunked.startswith(b"HTTP/1.1 201"), chunked[:200]
    assert call(gateway, "GET", f"/{world.dev}/users/chunky").json()["name"] == "Bob"


def test_keep_alive_and_concurrent_requests(gateway, world):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    for _ in range(3):
        connection.request("GET", f"/{world.dev}/users")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
    connection.close()
    statuses = []
    threads = [threading.Thread(target=lambda: statuses.append(
        call(gateway, "GET", f"/{world.test}/users").status)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8


def test_internal_errors_are_json_500_without_traceback(gateway, world, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")
    monkeypatch.setattr(gateway, "find_stage", explode)
    response = call(gateway, "GET", f"/{world.dev}/users")
    assert response.status == 500 and response.json() == INTERNAL
    assert b"secret" not in response.body


def test_gateway_binds_a_free_port_and_stops(emulator, state_dir, invoker):
    other = gateway_module.Gateway(emulator.endpoint_url, state_dir, invoker, port=0)
    with other:
        assert other.port > 0 and other.url == f"http://127.0.0.1:{other.port}"
        assert call(other, "GET", "/nothing").status == 403
        port = other.port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
