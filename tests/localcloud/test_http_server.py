"""The HTTP front door over raw sockets, in front of the gateway: smuggling probes, idle
floods, limits; and in front of another service, with that service's rules."""
from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass

import pytest

from localcloud.apigateway.gateway import Gateway
from localcloud.http import server
from localcloud.http.server import ServerLimits
from localcloud.awslambda.invoker import Invoker

from .builders import Function, call, create_api, deploy_function, deploy_stage, grant_invoke, suffix


@dataclass
class Users:
    stage: str
    fn: Function


@pytest.fixture(scope="module")
def users(emulator, state_dir) -> Users:
    """A stage whose function may put, get and delete users: a DELETE that runs shows."""
    s = suffix()
    stage = f"http{s}"
    fn = deploy_function(emulator, state_dir, handler="app.users", prefix=f"h{s}-",
                         actions=("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
                                  "dynamodb:Scan"))
    apigw, lam = emulator.client("apigateway"), emulator.client("lambda")
    api = create_api(apigw, {"/users": ["GET"], "/users/{id}": ["GET", "PUT", "DELETE"]},
                     name=f"http-{s}")
    deploy_stage(apigw, state_dir, api, stage, {"functionName": fn.name})
    for method, path in (("GET", "users"), ("GET", "users/*"), ("PUT", "users/*"),
                         ("DELETE", "users/*")):
        grant_invoke(lam, fn.name, api.id, stage, method, path)
    return Users(stage, fn)


def exchange_until_closed(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send, then read until the server closes the connection (a timeout fails the test)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def statuses(answer: bytes) -> list[int]:
    """The status of every response in what came back (bodies here are small JSON)."""
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", answer)]


def deletes(invoker, fn: Function) -> int:
    return sum(1 for r in invoker.call_log(fn.name) if r.action == "dynamodb:DeleteItem")


def hidden_delete(stage: str, user: str) -> bytes:
    return f"DELETE /{stage}/users/{user} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


# --- request smuggling -------------------------------------------------------------------

def probe(kind: str, stage: str, hidden: bytes) -> tuple[bytes, int]:
    """(a request hiding ``hidden`` behind ambiguous framing, the status it must get)."""
    line = f"PUT /{stage}/users/carrier-{kind} HTTP/1.1\r\nHost: x\r\n".encode()
    if kind == "cl-and-te":
        return (line + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                % (len(hidden) + 5) + hidden, 400)
    if kind == "two-content-lengths":
        return line + b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n" % len(hidden) + hidden, 400
    if kind == "te-gzip":
        return line + b"Transfer-Encoding: gzip\r\n\r\n" + hidden, 501
    if kind == "te-xchunked":
        return line + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + hidden, 501
    if kind == "cl-underscore":
        return line + b"Content-Length: 1_0\r\n\r\n" + hidden, 400
    if kind == "http09":
        return f"PUT /{stage}/users/carrier-{kind}\r\n".encode() + hidden, 400
    if kind == "te-on-http10":
        return (f"PUT /{stage}/users/carrier-{kind} HTTP/1.0\r\nConnection: keep-alive\r\n"
                "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + hidden, 400)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["cl-and-te", "two-content-lengths", "te-gzip", "te-xchunked",
                                  "cl-underscore", "http09", "te-on-http10"])
def test_ambiguous_framing_is_refused_and_the_hidden_request_never_runs(gateway, users, invoker,
                                                                         kind):
    victim = f"victim-{kind}"
    assert call(gateway, "PUT", f"/{users.stage}/users/{victim}", body="V").status == 201
    before = deletes(invoker, users.fn)
    data, status = probe(kind, users.stage, hidden_delete(users.stage, victim))

    answer = exchange_until_closed(gateway.port, data)  # and the server closes it

    assert statuses(answer) == [status], answer[:300]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head and json.loads(body)["message"]
    assert call(gateway, "GET", f"/{users.stage}/users/{victim}").status == 200
    assert deletes(invoker, users.fn) == before
    assert call(gateway, "GET", f"/{users.stage}/users/carrier-{kind}").status == 404


def test_a_pipelined_request_behind_a_clean_one_does_run(gateway, users, invoker):
    # The control for the probes above: the same hidden DELETE, framed honestly, runs.
    victim = "victim-control"
    assert call(gateway, "PUT", f"/{users.stage}/users/{victim}", body="V").status == 201
    before = deletes(invoker, users.fn)
    clean = f"PUT /{users.stage}/users/carrier-control HTTP/1.1\r\nHost: x\r\n" \
            "Content-Length: 1\r\n\r\nC".encode()
    closing = hidden_delete(users.stage, victim).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    assert statuses(exchange_until_closed(gateway.port, clean + closing)) == [201, 204]
    assert call(gateway, "GET", f"/{users.stage}/users/{victim}").status == 404
    assert deletes(invoker, users.fn) == before + 1


def test_a_lone_http09_request_line_is_answered_at_once(gateway, users):
    started = time.monotonic()
    answer = exchange_until_closed(gateway.port, f"GET /{users.stage}/users\r\n".encode())
    assert statuses(answer) == [400], answer
    assert b"HTTP/0.9" in answer
    assert time.monotonic() - started < gateway.server_limits.channel_timeout


def test_body_over_10_mb_is_413(gateway, users):
    head = (f"PUT /{users.stage}/users/big HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {10 * 1024 * 1024 + 1}\r\n\r\n").encode()
    answer = exchange_until_closed(gateway.port, head)
    assert statuses(answer) == [413]
    assert b"10 MB" in answer


@pytest.mark.parametrize("version,headers,chunked,fields,status", [
    ("1.1", {}, False, 3, None),
    ("1.0", {"CONTENT_LENGTH": "3"}, False, 1, None),
    ("1.1", {}, True, 1, None),
    ("", {}, False, 0, 400),
    ("2.0", {}, False, 0, 505),
    ("1.1", {"CONTENT_LENGTH": "3"}, True, 2, 400),
    ("1.0", {"TRANSFER_ENCODING": "chunked"}, False, 1, 400),
    ("1.1", {}, False, 100, None),
    ("1.1", {}, False, 101, 431),
])
def test_framing_refusal(version, headers, chunked, fields, status):
    refusal = server.framing_refusal(version, headers, chunked, fields, max_headers=100)
    assert (refusal.status if refusal else None) == status


def test_raw_header_pairs_keep_case_and_repeats_and_drop_what_waitress_drops():
    block = (b"GET / HTTP/1.1\r\nX-Custom: one\r\nx-custom: two\r\nX_Sneaky: 1\r\n"
             b"Transfer-Encoding: chunked\r\nHost:  h \r\n")
    assert server.raw_header_pairs(block) == [("X-Custom", "one"), ("x-custom", "two"),
                                              ("Host", "h")]


def test_repeated_headers_reach_the_event_as_separate_values(gateway, emulator, state_dir):
    s = suffix()
    fn = deploy_function(emulator, state_dir, handler="app.echo", prefix=f"rh{s}-")
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/echo": ["GET"]}, name=f"headers-{s}")
    deploy_stage(apigw, state_dir, api, f"hd{s}", {"functionName": fn.name})
    grant_invoke(emulator.client("lambda"), fn.name, api.id, f"hd{s}", "GET", "echo")
    answer = exchange_until_closed(gateway.port, (
        f"GET /hd{s}/echo HTTP/1.1\r\nHost: x\r\nX-Custom: one\r\nx-custom: two\r\n"
        "Connection: close\r\n\r\n").encode())
    event = json.loads(answer.partition(b"\r\n\r\n")[2])["event"]
    assert event["multiValueHeaders"]["X-Custom"] == ["one"]
    assert event["multiValueHeaders"]["x-custom"] == ["two"]


# --- another service behind the front door ---------------------------------------------------

@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def test_the_front_door_serves_by_the_rules_the_service_gives():
    # Nothing of API Gateway's is the front door's own: another service, other answers.
    rules = server.RequestRules(
        methods=("GET",), unknown_method=server.Refusal(405, "only GET here", (("Allow", "GET"),)),
        max_body_bytes=8, body_too_large="over 8 bytes", max_header_bytes=4096, max_headers=5,
        internal_error=server.Refusal(500, "it broke"))
    handled = []

    def handle(method, target, headers, body, *, source_ip, protocol):
        handled.append((method, target, body))
        if target == "/boom":
            raise RuntimeError("boom")
        return Reply(200, [("X-Seen", "yes")], b"ok")

    def exchange(head: str, body: bytes = b"") -> tuple[int, bytes, bytes]:
        answer = exchange_until_closed(front.port, head.encode() + b"\r\n" + body)
        [status] = statuses(answer)
        head_bytes, _, body_bytes = answer.partition(b"\r\n\r\n")
        return status, head_bytes, body_bytes

    front = server.HttpServer(handle, rules, "127.0.0.1", 0, ServerLimits(threads=2),
                              name="other-service")
    front.start()
    try:
        status, head, body = exchange("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
        assert (status, body) == (200, b"ok")
        assert b"\r\nX-Seen: yes" in head and b"\r\nServer: other-service" in head
        status, head, body = exchange("DELETE /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
        assert (status, json.loads(body)) == (405, {"message": "only GET here"})
        assert b"\r\nAllow: GET" in head
        status, _, body = exchange("GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n",
                                   b"123456789")
        assert (status, json.loads(body)) == (413, {"message": "over 8 bytes"})
        six_fields = "".join(f"X-{i}: y\r\n" for i in range(6))
        status, _, body = exchange("GET /a HTTP/1.1\r\n" + six_fields)
        assert (status, json.loads(body)) == (431, {"message": "more than 5 header fields"})
        status, _, body = exchange("GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
        assert (status, json.loads(body)) == (500, {"message": "it broke"})
    finally:
        front.stop()
    assert handled == [("GET", "/a", b""), ("GET", "/boom", b"")]


# --- idle connections ------------------------------------------------------------------------

def open_idle(port: int, count: int) -> list[socket.socket]:
    """Half of them send nothing, half send half a request line."""
    sockets = []
    for index in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if index % 2:
            sock.sendall(b"GET /x HT")
        sockets.append(sock)
    return sockets


def test_an_idle_connection_flood_keeps_threads_bounded_and_others_served(gateway, users):
    assert call(gateway, "GET", f"/{users.stage}/users").status == 200  # everything started
    threads_before = threading.active_count()
    idle = open_idle(gateway.port, 300)
    try:
        time.sleep(1.0)  # let the server accept them all
        answer = call(gateway, "GET", f"/{users.stage}/users")
        assert answer.status == 200
        # The old server ran a thread per connection: 300 more here.
        assert threading.active_count() <= threads_before + 5
    finally:
        for sock in idle:
            sock.close()


def test_idle_connections_are_closed_after_the_channel_timeout(emulator, state_dir, invoker,
                                                               users):
    limits = ServerLimits(threads=2, connection_limit=10, channel_timeout=1.0,
                          cleanup_interval=0.5)
    with Gateway(emulator.endpoint_url, state_dir, invoker, port=0,
                 server_limits=limits) as small:
        idle = open_idle(small.port, 10)  # the connection limit: new clients now wait
        try:
            started = time.monotonic()
            for sock in idle:
                assert sock.recv(1024) == b""  # closed by the server
            assert time.monotonic() - started < 10
            assert call(small, "GET", f"/{users.stage}/users").status == 200
        finally:
            for sock in idle:
                sock.close()


# --- bounded logs ----------------------------------------------------------------------------

def test_the_invokers_call_log_keeps_only_the_newest_records(emulator, state_dir, users,
                                                            tmp_path):
    event = {"httpMethod": "GET", "resource": "/users", "pathParameters": None}
    with Invoker(emulator.endpoint_url, state_dir, work_dir=tmp_path, call_log_size=3) as small:
        for _ in range(3):  # each: Scan, then the log shipping's checks
            assert small.invoke(users.fn.name, event).ok
        records = small.call_log()
    assert len(records) == 3
    assert records[-1].action == "logs:PutLogEvents"
    assert [r.timestamp_ms for r in records] == sorted(r.timestamp_ms for r in records)


def test_response_header_names_keep_the_functions_spelling(gateway, users):
    answer = exchange_until_closed(gateway.port, (
        f"GET /{users.stage}/users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode())
    head = answer.partition(b"\r\n\r\n")[0]
    assert b"\r\nx-amzn-RequestId: " in head  # not X-Amzn-Requestid
    assert b"\r\nContent-Type: application/json" in head
    assert b"\r\nContent-Length: " in head and b"\r\nDate: " in head  # waitress's own
