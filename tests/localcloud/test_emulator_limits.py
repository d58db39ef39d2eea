"""The emulator's own port has limits of its own: a body over its cap is refused before
it is read (an unsigned one whatever its size), a chunked one is read no further than
the cap, and a connection that goes silent is closed rather than holding its thread."""
from __future__ import annotations

import json
import socket

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from localcloud.emulator import REGION, Emulator, local_cloud_credentials

# The cap, written down here: 72 MiB (a 50 MB Lambda package, base64 in JSON, fits).
CAP = 72 * 1024 * 1024
SAFETY = 120  # seconds a test waits for an answer before it gives up (not a measure)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=SAFETY)


def read_to_eof(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; a reset after an answer ends it too.
    A server that neither answers nor closes within SAFETY fails the test."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def head(method: str, path: str, headers: dict) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def deployer_headers(emulator, body: bytes) -> dict:
    """Headers of a DynamoDB ListTables the deployer signed (a known key)."""
    request = AWSRequest(method="POST", url=f"{emulator.endpoint_url}/", data=body, headers={
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(local_cloud_credentials(), "dynamodb", REGION).add_auth(request)
    return dict(request.headers.items())


def status_and_body(answer: bytes) -> tuple[int, bytes]:
    head_part, _, body = answer.partition(b"\r\n\r\n")
    return int(head_part.split(b" ", 2)[1]), body


def test_an_unsigned_body_is_refused_on_its_headers_unread(emulator):
    with connect(emulator.port) as sock:
        sock.sendall(head("POST", "/", {"Host": "127.0.0.1", "Content-Length": str(300 * 2**20),
                                        "Content-Type": "application/octet-stream"}))
        # Not one byte of the 300 MB follows: the answer comes all the same.
        status, body = status_and_body(read_to_eof(sock))
    assert status == 403
    assert b"Missing Authentication Token" in body


def test_a_signed_body_declared_over_the_cap_is_refused_unread(emulator):
    headers = deployer_headers(emulator, b"{}")
    headers["Content-Length"] = str(CAP + 1)
    with connect(emulator.port) as sock:
        sock.sendall(head("POST", "/", {"Host": f"127.0.0.1:{emulator.port}", **headers}))
        status, body = status_and_body(read_to_eof(sock))
    assert status == 413
    assert json.loads(body)["__type"].endswith("#RequestEntityTooLarge")


def test_a_chunked_body_is_read_no_further_than_the_cap(emulator):
    headers = deployer_headers(emulator, b"{}")
    headers.pop("Content-Length", None)
    headers["Transfer-Encoding"] = "chunked"
    piece = b"x" * (4 * 2**20)
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    with connect(emulator.port) as sock:
        sock.sendall(head("POST", "/", {"Host": f"127.0.0.1:{emulator.port}", **headers}))
        sent = 0
        try:
            while sent <= CAP:
                sock.sendall(chunk)
                sent += len(piece)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the end: read its answer
        status, body = status_and_body(read_to_eof(sock))
    assert status == 413
    assert json.loads(body)["__type"].endswith("#RequestEntityTooLarge")


@pytest.fixture
def impatient_emulator():
    """An emulator of its own whose connections may sit silent for one second."""
    with Emulator(port=0, idle_timeout=1.0) as emu:
        yield emu


@pytest.mark.parametrize("sent", [
    b"P",  # the request line, begun
    b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential=a/b/c/d/e\r\n"
    b"Content-Length: 100\r\n\r\nx",  # a body, begun
], ids=["head", "body"])
def test_a_connection_that_goes_silent_is_closed(impatient_emulator, sent):
    with connect(impatient_emulator.port) as sock:
        sock.sendall(sent)
        # The server closes it (no answer: the request never came whole); a server that
        # kept it open fails here after SAFETY seconds.
        assert read_to_eof(sock) == b""
    # The emulator still serves.
    assert impatient_emulator.client("sts").get_caller_identity()["Account"]
