"""The gateway's HTTP front door: waitress reads and frames requests, this module hands
each one to :meth:`Gateway.handle_request` and writes its answer back.

waitress does the protocol (request line, headers, Content-Length, chunked bodies,
keep-alive, pipelining) with a bounded pool of worker threads and an asyncore loop that
holds idle connections without a thread each, closing them after ``channel_timeout``.

On top of it we refuse, before anything runs, the few requests waitress would serve but
that are ambiguous (the stuff request smuggling is made of) or that API Gateway refuses:

* ``Content-Length`` together with ``Transfer-Encoding`` (waitress prefers the coding),
  and ``Transfer-Encoding`` on an HTTP/1.0 request (waitress ignores it there);
* a request line without a version (HTTP/0.9) or with a version other than 1.0/1.1
  (waitress would answer both as HTTP/1.0);
* more than :data:`MAX_HEADERS` header fields.

Those checks need the parsed header block, which a WSGI app never sees (waitress drops
``Transfer-Encoding`` and rewrites ``Content-Length`` of a chunked body), so they sit
in a parser subclass; waitress then answers them like its own parse errors: the
error response, and the connection closed with whatever was pipelined behind it.
Every refusal has a JSON body ``{"message": ...}``. Response header names are written
as the function spelled them (waitress would re-case them), as API Gateway does.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Callable, Iterable

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, first_line_re, get_header_lines
from waitress.rfc7230 import HEADER_FIELD_RE
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask, hop_by_hop
from waitress.utilities import Error, RequestEntityTooLarge

if TYPE_CHECKING:
    from localcloud.apigateway.gateway import GatewayResponse

log = logging.getLogger("localcloud.apigateway.server")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
MAX_HEADER_BYTES = 64 * 1024       # request line and headers together
MAX_HEADERS = 100
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")

# The header pairs as the client sent them (name case and repeats kept), for the event.
HEADERS_KEY = "localcloud.headers"

Handler = Callable[..., "GatewayResponse"]  # Gateway.handle_request


@dataclass(frozen=True)
class ServerLimits:
    """What one gateway may hold at once."""
    threads: int = 16               # requests served at the same time
    connection_limit: int = 1000    # open connections; past it new ones wait in the backlog
    channel_timeout: float = 30.0   # seconds a connection may sit idle (or half-sent)
    cleanup_interval: float = 5.0   # how often idle connections are looked for
    shutdown_timeout: float = 5.0   # seconds stop() waits for busy workers


# --- refusals (pure) -----------------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def framing_refusal(version: str, headers: dict[str, str], chunked: bool,
                    field_count: int) -> Refusal | None:
    """Why a parsed request head must not be served, or None.

    ``headers`` are waitress's (upper case, ``_`` for ``-``, repeats joined), after it
    took ``Transfer-Encoding`` out of an HTTP/1.1 request and decided ``chunked``.
    """
    if not version:
        return Refusal(400, "HTTP/0.9 requests are not served; send an HTTP/1.1 request line "
                            "(METHOD /path HTTP/1.1)")
    if version not in ("1.0", "1.1"):
        return Refusal(505, f"HTTP/{version} is not supported; use HTTP/1.1")
    if chunked and "CONTENT_LENGTH" in headers:
        return Refusal(400, "Content-Length and Transfer-Encoding together are ambiguous; "
                            "send one of them")
    if "TRANSFER_ENCODING" in headers:  # only left there on HTTP/1.0, which has no codings
        return Refusal(400, "Transfer-Encoding is not allowed on an HTTP/1.0 request; "
                            "send Content-Length")
    if field_count > MAX_HEADERS:
        return Refusal(431, f"more than {MAX_HEADERS} header fields")
    return None


def is_http09_request_line(line: bytes) -> bool:
    """A complete request line with no HTTP version: ``GET /path``."""
    match = first_line_re.fullmatch(line.strip())
    return match is not None and not match["version"]


def raw_header_pairs(header_block: bytes) -> list[tuple[str, str]]:
    """(name, value) as sent, for the headers waitress kept (it drops names with ``_``).

    Read with waitress's own line splitter and field pattern; ``Transfer-Encoding`` is
    left out because the body is handed on already decoded.
    """
    pairs = []
    for line in get_header_lines(header_block.partition(b"\r\n")[2]):
        match = HEADER_FIELD_RE.match(line)
        if match is None:
            continue
        name, value = match.group("name", "value")
        if b"_" in name or name.lower() == b"transfer-encoding":
            continue
        pairs.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return pairs


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _latin1(text: str) -> str:
    # HTTP header bytes are written as latin-1: keep any UTF-8 in them byte for byte.
    return text.encode("utf-8").decode("latin-1")


def json_body(message: str) -> bytes:
    return json.dumps({"message": message}).encode("utf-8")


# --- waitress, extended --------------------------------------------------------------

class _JsonError(Error):
    """An error response waitress writes (and then closes the connection), in JSON."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = status_line(code).split(" ", 1)[1]

    def to_response(self, ident=None):
        return (status_line(self.code), [("Content-Type", "application/json")],
                json_body(self.body))

    @classmethod
    def of(cls, error: Error) -> "_JsonError":
        if isinstance(error, RequestEntityTooLarge) and "max_body" in str(error.body):
            return cls(413, f"the body is larger than API Gateway's "
                            f"{MAX_BODY_BYTES // (1024 * 1024)} MB limit")
        return cls(error.code, f"{error.reason}: {error.body}")


class _Parser(HTTPRequestParser):
    header_pairs: list[tuple[str, str]] = []
    _refusal: Refusal | None = None

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        self.header_pairs = raw_header_pairs(header_plus)
        fields = len(get_header_lines(header_plus.partition(b"\r\n")[2]))
        self._refusal = framing_refusal(self.version, self.headers, self.chunked, fields)

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        if self.error is None and self._refusal is None and not self.headers_finished:
            # A lone HTTP/0.9 request line never ends its (absent) headers: answer it now
            # rather than at the idle timeout.
            line, newline, _ = self.header_plus.lstrip().partition(b"\r\n")
            if newline and is_http09_request_line(line):
                self._refusal = framing_refusal("", {}, False, 0)
        if self.error is None and self._refusal is not None:
            self.error = _JsonError(self._refusal.status, self._refusal.message)
            self.completed = True
            self.expect_continue = False
        elif self.error is not None and not isinstance(self.error, _JsonError):
            self.error = _JsonError.of(self.error)
        return consumed


def waitress_spelling(name: str) -> str:
    """How waitress writes a response header name: ``etag`` -> ``Etag``."""
    return "-".join(part.capitalize() for part in name.split("-"))


def respell_header_names(head: bytes, spelled: dict[str, str]) -> bytes:
    """A response head with the header names waitress re-cased spelled as given."""
    status, _, fields = head.partition(b"\r\n")
    lines = []
    for line in fields.split(b"\r\n"):
        name, colon, value = line.partition(b": ")
        if colon:
            line = spelled.get(name.decode("latin-1"), name.decode("latin-1")).encode(
                "latin-1") + colon + value
        lines.append(line)
    return b"\r\n".join([status, *lines])


class _Task(WSGITask):
    def get_environment(self) -> dict:
        environ = super().get_environment()
        environ[HEADERS_KEY] = self.request.header_pairs
        return environ

    def build_response_header(self) -> bytes:
        # API Gateway keeps the function's spelling of a header name (ETag,
        # x-amzn-RequestId); waitress capitalizes each word, so spell them back.
        spelled = {waitress_spelling(name): name for name, _ in reversed(self.response_headers)}
        return respell_header_names(super().build_response_header(), spelled)


class _Channel(HTTPChannel):
    parser_class = _Parser
    task_class = _Task


class _WaitressServer(TcpWSGIServer):
    channel_class = _Channel


# --- the WSGI app ----------------------------------------------------------------------

class GatewayApp:
    """WSGI: a request -> ``handle(method, target, headers, body, source_ip, protocol)``."""

    def __init__(self, handle: Handler) -> None:
        self.handle = handle

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        try:
            status, headers, body = self._serve(environ, method)
        except Exception:  # noqa: BLE001 -- the client gets JSON, the log the traceback
            log.exception("gateway: error while serving %s %s", method,
                          environ.get("REQUEST_URI"))
            status, headers, body = (500, [("Content-Type", "application/json")],
                                     json_body("Internal server error"))
        # Hop-by-hop headers are the server's to set (waitress refuses them from an app).
        out = [(_latin1(name), _latin1(value)) for name, value in headers
               if name.lower() not in hop_by_hop and name.lower() != "content-length"]
        if status < 200 or status in (204, 304):
            body = b""  # these have no body in HTTP, whatever the function returned
        out.append(("Content-Length", str(len(body))))
        start_response(status_line(status), out)
        return [b""] if method == "HEAD" else [body]

    def _serve(self, environ: dict, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if method not in METHODS:
            return (403, [("Content-Type", "application/json"),
                          ("x-amzn-ErrorType", "MissingAuthenticationTokenException")],
                    json_body("Missing Authentication Token"))
        body = environ["wsgi.input"].read()
        response = self.handle(method, environ["REQUEST_URI"], list(environ[HEADERS_KEY]), body,
                               source_ip=environ["REMOTE_ADDR"],
                               protocol=environ["SERVER_PROTOCOL"])
        return response.status, response.headers, response.body


# --- the server and its thread -------------------------------------------------------

class GatewayServer:
    """waitress serving :class:`GatewayApp` on ``host:port`` (0: any free port) from a
    background thread; ``stop()`` closes the socket and every connection, and joins."""

    def __init__(self, handle: Handler, host: str, port: int,
                 limits: ServerLimits = ServerLimits()) -> None:
        self.limits = limits
        self._map: dict = {}
        self._dispatcher = ThreadedTaskDispatcher()
        adjustments = Adjustments(
            host=host, port=port, ident="localcloud-gateway",
            threads=limits.threads, connection_limit=limits.connection_limit,
            channel_timeout=limits.channel_timeout, cleanup_interval=limits.cleanup_interval,
            max_request_header_size=MAX_HEADER_BYTES,
            max_request_body_size=MAX_BODY_BYTES + 1,  # waitress refuses at >=
            inbuf_overflow=64 * 1024,  # a body past this waits in a temporary file, not RAM
            asyncore_use_poll=True,  # select() stops at file descriptor 1024
            clear_untrusted_proxy_headers=False,  # X-Forwarded-* reach the event as sent
            log_socket_errors=False)
        # Binds now, so a port in use fails here, in the caller's thread.
        try:
            self._server = _WaitressServer(GatewayApp(handle), map=self._map, adj=adjustments,
                                           dispatcher=self._dispatcher)
        except BaseException:
            wasyncore.close_all(self._map, ignore_all=True)  # the socket it made
            raise
        self.port = int(self._server.effective_port)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._dispatcher.set_thread_count(self.limits.threads)
        self._thread = threading.Thread(target=self._loop, name="localcloud-gateway",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=1.0, map=self._map, use_poll=True, count=1)
        except Exception:  # noqa: BLE001 -- reported; stop() still cleans up
            log.exception("gateway: the server loop failed")
        finally:
            wasyncore.close_all(self._map, ignore_all=True)
            self._dispatcher.shutdown(timeout=self.limits.shutdown_timeout)

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is None:
            wasyncore.close_all(self._map, ignore_all=True)
            return
        self._server.pull_trigger()  # wake the loop now rather than at its timeout
        self._thread.join(timeout=self.limits.shutdown_timeout + 5)
        self._thread = None
