"""API Gateway's and Lambda's size limits over real HTTP: the URL and header quotas at the
front door, a padded header that once stalled every caller, and Lambda's 6 MB payloads
both ways."""
from __future__ import annotations

import errno
import json
import socket
import threading
from dataclasses import dataclass

import pytest

from localcloud.invocation import InvokeRefused

from .builders import (
    Caller, add_route, app_zip, call, create_api, deploy_function, deploy_stage, grant_invoke,
    invoke_policy, make_caller, require_iam, send, sign, suffix, uri_for,
)

MB = 1024 * 1024
INTERNAL = {"message": "Internal server error"}

SIZES = '''

def body_size(event, context):
    return {"statusCode": 200, "body": str(len(event.get("body") or ""))}

def sized_response(event, context):
    size = int((event.get("queryStringParameters") or {})["bytes"])
    return {"statusCode": 200, "body": "x" * size}
'''


def read_answer(sock: socket.socket) -> bytes:
    """What the server sent before it closed (a close with the client's bytes unread
    arrives as a reset after the answer)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def status_and_body(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


# --- the URL and header quotas ------------------------------------------------------------

def raw(gateway, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(data)
        return read_answer(sock)


def request_with(target: bytes = b"/nostage/users", fields: bytes = b"") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\n" + fields + b"\r\n"


def fields_of(total: int) -> bytes:
    """Header fields of exactly `total` bytes, line ends included."""
    fixed = b"Host: x\r\nConnection: close\r\nX-Pad: \r\n"
    return fixed.replace(b"X-Pad: ", b"X-Pad: " + b"p" * (total - len(fixed)))


def test_a_url_of_10240_bytes_reaches_the_stage_and_one_more_is_414(gateway):
    within = raw(gateway, request_with(b"/" + b"a" * 10239, fields_of(100)))
    assert status_and_body(within) == (403, {"message": "Missing Authentication Token"})
    over = raw(gateway, request_with(b"/" + b"a" * 10240, fields_of(100)))
    assert status_and_body(over) == (414, {"message": "Request URI too long"})


def test_header_fields_of_10240_bytes_reach_the_stage_and_one_more_is_431(gateway):
    assert len(fields_of(10240)) == 10240
    within = raw(gateway, request_with(fields=fields_of(10240)))
    assert status_and_body(within) == (403, {"message": "Missing Authentication Token"})
    over = raw(gateway, request_with(fields=fields_of(10241)))
    assert status_and_body(over) == (431, {"message": "HTTP header is larger than 10240 bytes."})


# --- a padded header, while a signed caller calls -----------------------------------------

@dataclass
class Signed:
    stage: str
    caller: Caller


@pytest.fixture(scope="module")
def signed(emulator, state_dir) -> Signed:
    s = suffix()
    stage = f"signed{s}"
    fn = deploy_function(emulator, state_dir, handler="app.users", prefix=f"sg{s}-")
    apigw, iam = emulator.client("apigateway"), emulator.client("iam")
    api = create_api(apigw, {"/users": ["GET"]}, name=f"signed-{s}")
    require_iam(state_dir, deploy_stage(apigw, state_dir, api, stage, {"functionName": fn.name}))
    grant_invoke(emulator.client("lambda"), fn.name, api.id, stage, "GET", "users")
    policy = iam.create_policy(PolicyName=f"invoke-{stage}",
                               PolicyDocument=invoke_policy(api.id, stage))["Policy"]["Arn"]
    return Signed(stage, make_caller(iam, policy, "signed"))


def test_a_60_kb_padded_header_is_answered_at_once_and_a_signed_call_meanwhile_served(
        gateway, signed):
    # The reproduction: an unsigned request whose header value is 60 KB of spaces then
    # `x` took waitress's pattern over 30 s on the one thread that reads every connection,
    # and every signed caller waited behind it.
    padded = (f"GET /{signed.stage}/users HTTP/1.1\r\nHost: x\r\nX-Padded: ".encode()
              + b" " * (60 * 1024) + b"x\r\n\r\n")
    answers: dict = {}
    sent = threading.Event()

    def attack() -> None:
        try:
            with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
                try:
                    sock.sendall(padded)
                except OSError as closed:  # refused while still sending
                    assert closed.errno in (errno.ECONNRESET, errno.EPIPE), closed
                sent.set()
                answers["padded"] = read_answer(sock)
        except Exception as failed:  # noqa: BLE001 -- reported by the assertion below
            answers["padded"] = failed
        finally:
            sent.set()

    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        assert sent.wait(10)
        url = f"http://127.0.0.1:{gateway.port}/{signed.stage}/users"
        answers["signed"] = send(gateway, sign("GET", url, signed.caller))
    finally:
        attacker.join()
    assert answers["signed"].status == 200, answers["signed"].body
    assert answers["signed"].json() == []
    assert isinstance(answers["padded"], bytes), answers["padded"]
    assert status_and_body(answers["padded"]) == (
        431, {"message": "HTTP header is larger than 10240 bytes."})


# --- Lambda's 6 MB, both ways ----------------------------------------------------------------

@dataclass
class Sizes:
    stage: str
    body_size: str
    sized_response: str


@pytest.fixture(scope="module")
def sizes(emulator, state_dir) -> Sizes:
    s = suffix()
    stage = f"sizes{s}"
    code = app_zip(SIZES)
    measure = deploy_function(emulator, state_dir, handler="app.body_size", prefix=f"bs{s}-",
                              zip_bytes=code, timeout=30)
    produce = deploy_function(emulator, state_dir, handler="app.sized_response",
                              prefix=f"sr{s}-", zip_bytes=code, timeout=30)
    apigw, lam = emulator.client("apigateway"), emulator.client("lambda")
    api = create_api(apigw, {}, name=f"sizes-{s}")
    add_route(apigw, api, "/size", ["POST"], uri=uri_for("measure"))
    add_route(apigw, api, "/sized", ["GET"], uri=uri_for("produce"))
    deploy_stage(apigw, state_dir, api, stage, {"measure": measure.name,
                                                "produce": produce.name})
    grant_invoke(lam, measure.name, api.id, stage, "POST", "size")
    grant_invoke(lam, produce.name, api.id, stage, "GET", "sized")
    return Sizes(stage, measure.name, produce.name)


def test_an_event_over_6_mb_is_refused_by_lambda_and_answered_500(gateway, sizes):
    fits = call(gateway, "POST", f"/{sizes.stage}/size", body=b"a" * (5 * MB))
    assert (fits.status, fits.body) == (200, str(5 * MB).encode())
    # 6.5 MB: under API Gateway's 10 MB, over Lambda's 6 MB once in the event.
    refused = call(gateway, "POST", f"/{sizes.stage}/size", body=b"a" * (6 * MB + MB // 2))
    assert refused.status == 500 and refused.json() == INTERNAL
    assert refused.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    messages = gateway.execution_messages(refused.request_id)
    assert messages[0].startswith("Lambda invocation failed with status: 413. Lambda request id: ")
    assert messages[1:] == ["Execution failed due to configuration error: Request must be "
                            "smaller than 6291456 bytes for the InvokeFunction operation"]


def test_a_response_over_6_mb_is_a_function_error_and_answered_502(gateway, sizes):
    fits = call(gateway, "GET", f"/{sizes.stage}/sized?bytes={5 * MB}")
    assert fits.status == 200 and len(fits.body) == 5 * MB
    too_big = call(gateway, "GET", f"/{sizes.stage}/sized?bytes={6 * MB + MB // 2}")
    assert too_big.status == 502 and too_big.json() == INTERNAL
    [failed, *_] = gateway.execution_messages(too_big.request_id)
    assert failed.startswith("Lambda execution failed with status 200 due to customer function "
                             "error: Response payload size (")
    assert "bytes) exceeded maximum allowed payload size (6291556 bytes)." in failed


def test_lambda_counts_the_payload_as_it_travels(emulator, state_dir, invoker, sizes):
    # The event as JSON, compact: a body just under the limit less the event's own keys
    # fits, one that brings the whole past 6291456 bytes is refused before anything runs.
    envelope = len(json.dumps({"body": ""}, separators=(",", ":")))
    assert invoker.invoke(sizes.body_size, {"body": "a" * (6291456 - envelope)}).payload == {
        "statusCode": 200, "body": str(6291456 - envelope)}
    with pytest.raises(InvokeRefused) as refused:
        invoker.invoke(sizes.body_size, {"body": "a" * (6291456 - envelope + 1)})
    assert (refused.value.status, refused.value.error_type) == (
        413, "RequestEntityTooLargeException")
    assert str(refused.value) == ("Request must be smaller than 6291456 bytes for the "
                                  "InvokeFunction operation")
    with pytest.raises(InvokeRefused):  # before it looks for the function at all
        invoker.invoke("no-such-function", {"body": "a" * 6291457})
    overhead = len(json.dumps({"statusCode": 200, "body": ""}, separators=(",", ":")))
    at_limit = invoker.invoke(sizes.sized_response,
                              {"queryStringParameters": {"bytes": str(6291556 - overhead)}})
    assert at_limit.ok and len(at_limit.payload["body"]) == 6291556 - overhead
    over = invoker.invoke(sizes.sized_response,
                          {"queryStringParameters": {"bytes": str(6291556 - overhead + 1)}})
    assert over.function_error and over.payload is None
    assert over.error == {"errorType": "Function.ResponseSizeTooLarge",
                          "errorMessage": "Response payload size (6291557 bytes) exceeded "
                                          "maximum allowed payload size (6291556 bytes)."}
