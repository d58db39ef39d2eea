"""The HTTP front door over raw sockets, in front of the gateway: smuggling probes, idle
floods, limits; and in front of another service, with that service's rules."""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import tempfile
import threading
import time
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from waitress.parser import ParsingError, first_line_re, get_header_lines
from waitress.rfc7230 import HEADER_FIELD_RE

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
    # Answered before the socket's 10 s timeout, so not at the 30 s idle timeout.
    assert gateway.server_limits.channel_timeout > 10
    answer = exchange_until_closed(gateway.port, f"GET /{users.stage}/users\r\n".encode())
    assert statuses(answer) == [400], answer
    assert b"HTTP/0.9" in answer


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


def test_header_pairs_keep_case_and_repeats_and_drop_what_waitress_drops():
    block = (b"X-Custom: one\r\nx-custom: two\r\nX_Sneaky: 1\r\n"
             b"Transfer-Encoding: chunked\r\nHost:  h \r\n")
    fields = server.parse_header_fields(block)
    assert server.handler_header_pairs(fields) == [("X-Custom", "one"), ("x-custom", "two"),
                                                   ("Host", "h")]
    assert server.waitress_headers(fields) == {"X_CUSTOM": "one, two",
                                               "TRANSFER_ENCODING": "chunked", "HOST": "h"}


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
        max_body_bytes=8, body_too_large="over 8 bytes", max_target_bytes=16,
        target_too_long=server.Refusal(414, "target over 16 bytes"), max_header_bytes=4096,
        headers_too_large=server.Refusal(431, "headers over 4096 bytes"), max_headers=5,
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


# --- the head, read once and in linear time --------------------------------------------

def waitress_reads_fields(block: bytes):
    """What waitress 3.0.2's own parse_header makes of a header block (its line splitter
    and field pattern), or None where it refuses it."""
    try:
        lines = get_header_lines(block)
    except ParsingError:
        return None
    fields = []
    for line in lines:
        match = HEADER_FIELD_RE.match(line)
        if match is None:
            return None
        fields.append((match["name"], match["value"].strip(b" \t")))
    return fields


def ours_reads_fields(block: bytes):
    try:
        return server.parse_header_fields(block)
    except ParsingError:
        return None


# Short lines from the bytes that matter to the patterns, so waitress's own stays quick.
field_bytes = st.lists(st.sampled_from(
    [b"a", b"Z", b"-", b"_", b":", b" ", b"\t", b"x", b"\x00", b"\x7f", b"\x80", b"\xff",
     b",", b'"', b"\r", b"\n", b"\r\n", b"\r\n ", b"(", b"@"]), max_size=24).map(b"".join)


@settings(max_examples=1500, deadline=None)
@given(block=field_bytes)
def test_header_fields_are_read_exactly_as_waitress_reads_them(block):
    assert ours_reads_fields(block) == waitress_reads_fields(block)


line_bytes = st.lists(st.sampled_from(
    [b"G", b"ET", b"get", b" ", b"/", b"x", b":", b"//", b"?", b"#", b"1", b"HTTP/", b"1.1",
     b"9.9", b"HTTP/1.1", b"\t", b"\x00", b"(", b"@"]), max_size=14).map(b"".join)


@settings(max_examples=1500, deadline=None)
@given(line=line_bytes)
def test_request_lines_are_read_exactly_as_waitress_reads_them(line):
    match = first_line_re.fullmatch(line)
    expected = None if match is None else (match["method"], match["uri"], match["version"] or b"")
    ours = server.split_request_line(line)
    assert (None if ours is None else tuple(ours)) == expected


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Recorder:
    """A service that answers 200 with the length of the body and records what it got."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, list[tuple[str, str]], int]] = []

    def __call__(self, method, target, headers, body, *, source_ip, protocol) -> Reply:
        self.requests.append((method, target, headers, len(body)))
        return Reply(200, [], str(len(body)).encode())


def rules(*, target: int = 4096, headers: int = 4096, body: int = 8) -> server.RequestRules:
    return server.RequestRules(
        methods=("GET", "POST"), unknown_method=server.Refusal(405, "GET or POST"),
        max_body_bytes=body, body_too_large=f"over {body} bytes", max_target_bytes=target,
        target_too_long=server.Refusal(414, f"target over {target} bytes"),
        max_header_bytes=headers, headers_too_large=server.Refusal(431, f"over {headers} bytes"),
        max_headers=100, internal_error=server.Refusal(500, "it broke"))


class Serving:
    def __init__(self, request_rules: server.RequestRules,
                 limits: ServerLimits = ServerLimits(threads=2),
                 service: Recorder | None = None) -> None:
        self.service = service or Recorder()
        self.front = server.HttpServer(self.service, request_rules, "127.0.0.1", 0, limits,
                                       name="test-front")

    def __enter__(self) -> "Serving":
        self.front.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.front.stop()

    @property
    def port(self) -> int:
        return self.front.port


def answer_of(data: bytes) -> tuple[int, dict]:
    [status] = statuses(data)
    return status, json.loads(data.partition(b"\r\n\r\n")[2] or b"{}")


# --- stopping with requests in flight ----------------------------------------------------

class Held:
    """A service whose answer (``answer``) waits for ``release``; ``entered`` is set once a
    request is in its hands, ``thread`` is the waitress task thread serving it."""

    def __init__(self, answer: bytes = b"answered") -> None:
        self.answer = answer
        self.entered = threading.Event()
        self.release = threading.Event()
        self.thread: threading.Thread | None = None

    def __call__(self, method, target, headers, body, *, source_ip, protocol) -> Reply:
        self.thread = threading.current_thread()
        self.entered.set()
        self.release.wait()
        return Reply(200, [], self.answer)


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def wait_until_refused(port: int, timeout: float = 60) -> None:
    """Return once the port refuses connections: each try is a connect, no sleep; fail
    if it still accepts after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            pytest.fail(f"port {port} still accepts connections after {timeout} s")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
        except ConnectionRefusedError:
            return
        except ConnectionResetError:
            pass  # the listener closed during this handshake: the next try is refused


def tracebacks(records: list[logging.LogRecord]) -> list[str]:
    return [record.getMessage() for record in records
            if record.exc_info or record.levelno >= logging.ERROR]


def test_stop_refuses_new_connections_and_answers_the_request_in_flight(caplog):
    """The server used to close every connection and its trigger first and wait for the
    task threads after: a request in flight lost its answer, and a task thread between
    waitress's look at its connection and its pull of the trigger wrote to a closed
    descriptor (`[Errno 9] Bad file descriptor`, logged with a traceback)."""
    caplog.set_level(logging.INFO)
    # More than the socket buffers between the task and a client that does not read yet
    # hold (a 64 KB receive buffer here, a send buffer of 4 MB at most by Linux's default
    # tcp_wmem), less than waitress's outbuf_high_watermark (16 MB), past which the task
    # would wait for the client: the task ends with most of it still to send.
    body = b"x" * (12 << 20)
    held = Held(body)
    front = server.HttpServer(held, rules(), "127.0.0.1", 0,
                              ServerLimits(threads=2, shutdown_timeout=60), name="test-front")
    front.start()
    stopping = threading.Thread(target=front.stop, daemon=True)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    client.settimeout(60)
    try:
        client.connect(("127.0.0.1", front.port))
        client.sendall(b"GET /in-flight HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive
        assert held.entered.wait(60)
        stopping.start()
        wait_until_refused(front.port)  # the stop has begun
        held.release.set()
        held.thread.join(60)  # the task has written its answer (and ended, as stop asks)
        assert not held.thread.is_alive()
        answer = read_until_closed(client)  # the answer, then the server's close
    finally:
        client.close()
        held.release.set()
        if stopping.ident is None:  # failed before the stop began
            front.stop()
    stopping.join(60)
    assert not stopping.is_alive()
    head, _, got = answer.partition(b"\r\n\r\n")
    assert statuses(head + b"\r\n") == [200]
    assert len(got) == len(body) and got == body
    assert tracebacks(caplog.records) == []


def test_a_request_that_outlasts_the_stop_ends_quietly(caplog):
    """stop() waits shutdown_timeout at most (here none): a handler still busy then
    finishes against a closed connection, and its task thread ends without a traceback."""
    caplog.set_level(logging.INFO)
    held = Held()
    front = server.HttpServer(held, rules(), "127.0.0.1", 0,
                              ServerLimits(threads=2, shutdown_timeout=0), name="test-front")
    front.start()
    try:
        with socket.create_connection(("127.0.0.1", front.port), timeout=60) as client:
            client.sendall(b"GET /outlasting HTTP/1.1\r\nHost: x\r\n\r\n")
            assert held.entered.wait(60)
            front.stop()
            assert read_until_closed(client) == b""  # closed, unanswered
    finally:
        held.release.set()
        front.stop()
    held.thread.join(60)  # the task thread ends once its request is done
    assert not held.thread.is_alive()
    assert tracebacks(caplog.records) == []


def test_a_task_thread_waking_the_loop_after_the_stop_touches_no_closed_descriptor():
    """A task thread wakes the loop when it has answered (waitress's channel.py:
    `if self.connected: self.server.pull_trigger()`); the loop may close the connection
    and the trigger between the look and the pull. That late pull must do nothing, not
    write to the closed descriptor (EBADF) or to a file that has taken its number."""
    with Serving(rules()) as serving:
        pass
    serving.front._server.pull_trigger()  # what the task thread calls, as it calls it


def test_a_padded_header_and_a_hostile_request_line_are_read_in_linear_time():
    # waitress's patterns take time quadratic in these (its field pattern: 8,000 spaces,
    # 1 s; its request-line pattern: 8,000 digits, 17 s), holding the interpreter all the
    # while: with the limits out of the way, only reading them in linear time answers
    # before the sockets' timeout (5 s; 40,000 spaces would take waitress's pattern 25 s).
    with Serving(rules(target=1 << 20, headers=1 << 20)) as serving:
        padded = (b"GET /padded HTTP/1.1\r\nHost: x\r\nX-Pad: " + b" " * 40_000
                  + b"x\r\nConnection: close\r\n\r\n")
        assert statuses(exchange_until_closed(serving.port, padded, timeout=5)) == [200]
        [(_, target, headers, _)] = serving.service.requests
        assert target == "/padded" and ("X-Pad", "x") in headers
        hostile = b"GET x://" + b"1" * 10_000 + b" Z\r\nHost: x\r\n\r\n"
        status, body = answer_of(exchange_until_closed(serving.port, hostile, timeout=5))
        assert status == 400 and "Start line is invalid" in body["message"]
        # A line alone is looked at for HTTP/0.9 as it arrives: the server reads on.
        with socket.create_connection(("127.0.0.1", serving.port), timeout=5) as pending:
            pending.sendall(b"GET x://" + b"1" * 10_000 + b" Z\r\n")  # no end of head yet
            assert statuses(exchange_until_closed(
                serving.port, b"GET /next HTTP/1.1\r\nConnection: close\r\n\r\n",
                timeout=5)) == [200]


def head(target: bytes, fields: bytes) -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\n" + fields + b"Connection: close\r\n\r\n"


def test_the_target_and_the_header_fields_are_bounded_at_the_rules_sizes():
    with Serving(rules(target=16, headers=64)) as serving:
        closing = len(b"Connection: close\r\n")
        fields = b"X: " + b"y" * (64 - closing - len(b"X: \r\n")) + b"\r\n"
        assert len(fields) + closing == 64
        assert statuses(exchange_until_closed(serving.port, head(b"/" + b"a" * 15, fields))) \
            == [200]
        status, body = answer_of(exchange_until_closed(serving.port, head(b"/" + b"a" * 16, b"")))
        assert (status, body) == (414, {"message": "target over 16 bytes"})
        status, body = answer_of(exchange_until_closed(serving.port,
                                                       head(b"/", fields + b"Z: 1\r\n")))
        assert (status, body) == (431, {"message": "over 64 bytes"})
        assert [r[1] for r in serving.service.requests] == ["/" + "a" * 15]


@pytest.mark.parametrize("start", [
    b"GET /" + b"a" * 100,                                   # a target still arriving
    b"GET / HTTP/1.1\r\nX: " + b"b" * 100,                   # a field still arriving
    b"\r\n\r\nGET / HTTP/1.1\r\nX: " + b"b" * 100,           # after blank lines
])
def test_a_head_past_the_sizes_is_refused_before_it_ends(start):
    with Serving(rules(target=16, headers=64)) as serving:
        with socket.create_connection(("127.0.0.1", serving.port), timeout=10) as sock:
            sock.sendall(start)  # and nothing more: the head never ends
            answer = b"".join(iter(lambda: sock.recv(65536), b""))
        assert statuses(answer)[-1] in (414, 431)
        assert serving.service.requests == []


# --- slow heads --------------------------------------------------------------------------

def drip(port: int, closed: list, gap: float = 0.05, most: int = 400,
         start: bytes = b"GET / HTTP/1.1\r\nX-Drip: ") -> None:
    """A client that sends `start` (by default, the beginning of a head), then one byte at
    a time, a byte every `gap` seconds (well inside the idle timeout), and never ends the
    request; appends True to `closed` if the server closes the connection before `most`
    bytes were sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(start)
        sock.settimeout(gap)
        for _ in range(most):
            try:
                if sock.recv(1024) == b"":
                    closed.append(True)
                    return
            except socket.timeout:
                pass
            except OSError:
                closed.append(True)
                return
            try:
                sock.sendall(b"a")
            except OSError:
                closed.append(True)
                return


SLOW_HEADS = ServerLimits(threads=2, connection_limit=6, channel_timeout=60,
                          cleanup_interval=0.05, header_timeout=0.5)


def test_a_head_dripping_in_is_closed_at_the_header_timeout_though_never_idle():
    with Serving(rules(), SLOW_HEADS) as serving:
        closed: list = []
        drip(serving.port, closed)
        assert closed == [True]


# --- slow bodies -------------------------------------------------------------------------

def post_head(target: bytes, length: int) -> bytes:
    """A POST head announcing `length` body bytes."""
    return b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (target, length)


def body_start(length: int, sent: int = 100) -> bytes:
    """A POST head announcing `length` body bytes, and the first `sent` of them."""
    return post_head(b"/drip", length) + b"d" * sent


def test_a_body_dripping_in_is_closed_at_the_body_timeout_and_its_bytes_given_back():
    # Idle timeout 60 s, body timeout 0.5 s: the drip (a byte every 0.05 s, 400 of them,
    # never the whole body) is closed only if the body's deadline closes it.
    limits = ServerLimits(threads=2, channel_timeout=60, cleanup_interval=0.05,
                          header_timeout=0.5, body_timeout=0.5)
    with Serving(rules(body=1000), limits) as serving:
        closed: list = []
        drip(serving.port, closed, start=body_start(1000))
        assert closed == [True]
        assert eventually(lambda: serving.front.body_bytes_held == 0)
        assert serving.service.requests == []


class HeldAt(Recorder):
    """A Recorder whose answer to `target` waits for `release` (`entered` is set once that
    request is in its hands)."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, method, target, headers, body, *, source_ip, protocol) -> Reply:
        if target == self.target:
            self.entered.set()
            self.release.wait(60)
        return super().__call__(method, target, headers, body, source_ip=source_ip,
                                protocol=protocol)


def read_answer(sock: socket.socket) -> bytes:
    """One answer on a kept-alive connection: its head and Content-Length bytes of body
    (less if the server closes first)."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1)) if head else 0
    while len(body) < length and (chunk := sock.recv(65536)):
        body += chunk
    return head + b"\r\n\r\n" + body


def post(target: bytes, body: bytes) -> bytes:
    return post_head(target, len(body)) + body


def test_slow_bodies_that_end_in_time_and_slow_handlers_are_served():
    # Body timeout 5 s. The slow body arrives over about 1 s, longer than the head's
    # 0.5 s; the handler and the kept-alive connection outlast the body timeout, which a
    # dripping witness, begun after them and closed at its deadline, shows has passed.
    limits = ServerLimits(threads=2, channel_timeout=60, cleanup_interval=0.05,
                          header_timeout=0.5, body_timeout=5)
    service = HeldAt("/slow-handler")
    with Serving(rules(body=4000), limits, service) as serving, \
            socket.create_connection(("127.0.0.1", serving.port), timeout=60) as kept, \
            socket.create_connection(("127.0.0.1", serving.port), timeout=60) as busy, \
            socket.create_connection(("127.0.0.1", serving.port), timeout=60) as slow:
        try:
            kept.sendall(post(b"/first", b"k" * 10))
            assert statuses(read_answer(kept)) == [200]
            busy.sendall(post(b"/slow-handler", b"h" * 20))
            assert service.entered.wait(60)
            request = post(b"/slow-body", b"s" * 30)
            slow.sendall(request[:-10])
            for byte in range(-10, 0):
                time.sleep(0.1)
                slow.sendall(request[byte:][:1])
            assert statuses(read_answer(slow)) == [200]
            closed: list = []
            drip(serving.port, closed, most=2000, start=body_start(4000))
            assert closed == [True]  # the body timeout has passed since the handler began
        finally:
            service.release.set()
        assert statuses(read_answer(busy)) == [200]
        kept.sendall(post(b"/second", b"k" * 40)[:-20])
        time.sleep(0.1)
        kept.sendall(b"k" * 20)
        assert statuses(read_answer(kept)) == [200]
    assert [(target, size) for _, target, _, size in service.requests] == [
        ("/first", 10), ("/slow-body", 30), ("/slow-handler", 20), ("/second", 40)]


def silent(port: int, closed: list) -> None:
    """Open a connection and send nothing; record when the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        try:
            ended = sock.recv(1) == b""
        except OSError:
            ended = True
        closed.append(ended)


def test_connections_that_send_nothing_are_closed_at_the_header_timeout():
    # The idle timeout here is 60 s, the header timeout 0.5 s: only the latter can close
    # them before the recv's 60 s safety timeout.
    with Serving(rules(), SLOW_HEADS) as serving:
        closed: list = []
        silents = [threading.Thread(target=silent, args=(serving.port, closed))
                   for _ in range(6)]
        for thread in silents:
            thread.start()
        try:
            answer = exchange_until_closed(serving.port,
                                           b"GET /caller HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert statuses(answer) == [200]
        finally:
            for thread in silents:
                thread.join()
        assert closed == [True] * 6


def test_dripping_heads_that_fill_the_connection_limit_do_not_keep_a_caller_out():
    # 6 open sockets are the limit here, two of them the server's own: four drips fill it.
    with Serving(rules(), SLOW_HEADS) as serving:
        closed: list = []
        drips = [threading.Thread(target=drip, args=(serving.port, closed)) for _ in range(6)]
        for thread in drips:
            thread.start()
        try:
            answer = exchange_until_closed(serving.port,
                                           b"GET /caller HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert statuses(answer) == [200]
        finally:
            for thread in drips:
                thread.join()
        assert closed == [True] * 6


# --- bodies ------------------------------------------------------------------------------

def temporary_files_open() -> int:
    """Files in the temporary directory this process holds open (waitress spools bodies
    into unlinked ones there)."""
    where = tempfile.gettempdir()
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(where + "/"):
                count += 1
        except OSError:
            pass
    return count


def eventually(condition, timeout: float = 10.0) -> bool:
    """Whether `condition()` holds within `timeout` seconds (for what the server does on
    its own thread, which no answer on the wire reports)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def closed_by_server(sock: socket.socket) -> bytes:
    """What the server answered before it closed the connection (a close with the client's
    bytes unread reaches the client as a reset, perhaps before the answer could be read)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def test_unfinished_bodies_are_held_in_memory_within_the_budget_never_in_files():
    size = 9 * 1024 * 1024
    budget = 20 * 1024 * 1024
    limits = ServerLimits(threads=2, body_bytes_held=budget)
    body = b"b" * size
    head = post_head(b"/up", size)
    with Serving(rules(body=10 * 1024 * 1024), limits) as serving:
        files_before = temporary_files_open()
        sockets = []
        try:
            for index in range(5):  # each: its head and all of its body but the last byte
                sock = socket.create_connection(("127.0.0.1", serving.port), timeout=10)
                sockets.append(sock)
                try:
                    sock.sendall(head + body[:-1])
                except OSError:
                    pass  # refused while still sending
                if index < 2:  # within the budget: held, unfinished
                    held = (index + 1) * (size - 1)
                    assert eventually(lambda: serving.front.body_bytes_held == held)
                    assert temporary_files_open() == files_before
                else:  # past it: answered 503 and closed
                    answer = closed_by_server(sock)
                    assert statuses(answer) in ([503], []), answer[:200]
                    assert serving.front.body_bytes_held <= budget
            assert eventually(lambda: serving.front.body_bytes_held == 2 * (size - 1))
            assert temporary_files_open() == files_before
        finally:
            for sock in sockets:
                sock.close()
        assert eventually(lambda: serving.front.body_bytes_held == 0)
        answer = exchange_until_closed(serving.port, b"POST /up HTTP/1.1\r\nHost: x\r\n"
                                       b"Connection: close\r\nContent-Length: %d\r\n\r\n"
                                       % size + body)
        assert statuses(answer) == [200] and answer.endswith(str(size).encode())
        assert serving.service.requests == [("POST", "/up", [("Host", "x"), ("Connection", "close"),
                                                            ("Content-Length", str(size))], size)]


def test_a_refused_body_is_answered_503():
    # Small enough to be all sent before the server reads it: the answer is always read.
    with Serving(rules(body=64), ServerLimits(threads=2, body_bytes_held=100)) as serving:
        with socket.create_connection(("127.0.0.1", serving.port), timeout=10) as holder:
            holder.sendall(b"POST /a HTTP/1.1\r\nContent-Length: 64\r\n\r\n" + b"h" * 60)
            assert eventually(lambda: serving.front.body_bytes_held == 60)
            answer = exchange_until_closed(serving.port, b"POST /b HTTP/1.1\r\n"
                                           b"Content-Length: 64\r\n\r\n" + b"r" * 64)
        status, body = answer_of(answer)
        assert status == 503 and "request bodies" in body["message"]
        assert serving.service.requests == []


def test_a_budget_smaller_than_one_body_is_refused_up_front():
    with pytest.raises(ValueError, match="body_bytes_held"):
        server.HttpServer(Recorder(), rules(body=64), "127.0.0.1", 0,
                          ServerLimits(body_bytes_held=63))


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
        # The listening socket hands connections over in the order they came, so by the
        # time this one is answered the server has accepted all 300 before it.
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
            for sock in idle:
                assert sock.recv(1024) == b""  # closed by the server (within 10 s: no timeout)
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
