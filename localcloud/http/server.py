"""An HTTP front door: waitress reads and frames requests, this module hands each one to
a handler and writes its answer back. It knows nothing of the service behind it: the
service says, in :class:`RequestRules`, which requests reach its handler (methods, sizes)
and how the front door answers the others.

waitress does the protocol (request line, headers, Content-Length, chunked bodies,
keep-alive, pipelining) with a bounded pool of worker threads and an asyncore loop that
holds idle connections without a thread each, closing them after ``channel_timeout``.

On top of it we refuse, before anything runs, the few requests waitress would serve but
that are ambiguous (the stuff request smuggling is made of) or that the rules refuse:

* ``Content-Length`` together with ``Transfer-Encoding`` (waitress prefers the coding),
  and ``Transfer-Encoding`` on an HTTP/1.0 request (waitress ignores it there);
* a request line without a version (HTTP/0.9) or with a version other than 1.0/1.1
  (waitress would answer both as HTTP/1.0);
* more than ``max_headers`` header fields.

Those checks need the parsed header block, which a WSGI app never sees (waitress drops
``Transfer-Encoding`` and rewrites ``Content-Length`` of a chunked body), so they sit
in a parser subclass; waitress then answers them like its own parse errors: the
error response, and the connection closed with whatever was pipelined behind it.
Every refusal has a JSON body ``{"message": ...}``. Response header names are written
as the handler spelled them (waitress would re-case them).
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Callable, Iterable, Protocol, Sequence

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, first_line_re, get_header_lines
from waitress.rfc7230 import HEADER_FIELD_RE
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask, hop_by_hop
from waitress.utilities import Error, RequestEntityTooLarge

log = logging.getLogger("localcloud.http.server")

# The header pairs as the client sent them (name case and repeats kept), for the handler.
HEADERS_KEY = "localcloud.headers"


class Response(Protocol):
    """What a handler returns: the service's own response type, with these three."""
    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes


# handle(method, target, header pairs, body, *, source_ip, protocol) -> Response
Handler = Callable[..., Response]


@dataclass(frozen=True)
class ServerLimits:
    """What one server may hold at once."""
    threads: int = 16               # requests served at the same time
    connection_limit: int = 1000    # open connections; past it new ones wait in the backlog
    channel_timeout: float = 30.0   # seconds a connection may sit idle (or half-sent)
    cleanup_interval: float = 5.0   # how often idle connections are looked for
    shutdown_timeout: float = 5.0   # seconds stop() waits for busy workers


# --- refusals (pure) -----------------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    """An answer of the front door's own: the status, a JSON body ``{"message": ...}``
    and any headers besides its Content-Type."""
    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RequestRules:
    """Which requests reach the handler, and how the others are answered: the service
    behind the front door says."""
    methods: tuple[str, ...]   # a request with any other method gets `unknown_method`
    unknown_method: Refusal
    max_body_bytes: int
    body_too_large: str        # the message of the 413 for a body over max_body_bytes
    max_header_bytes: int      # the request line and headers together
    max_headers: int           # header fields; past them, 431
    internal_error: Refusal    # the answer when the handler raises


def framing_refusal(version: str, headers: dict[str, str], chunked: bool,
                    field_count: int, max_headers: int) -> Refusal | None:
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
    if field_count > max_headers:
        return Refusal(431, f"more than {max_headers} header fields")
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


def refusal_response(refusal: Refusal) -> tuple[int, list[tuple[str, str]], bytes]:
    return (refusal.status, [("Content-Type", "application/json"), *refusal.headers],
            json_body(refusal.message))


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
    def of(cls, error: Error, rules: RequestRules) -> "_JsonError":
        if isinstance(error, RequestEntityTooLarge) and "max_body" in str(error.body):
            return cls(413, rules.body_too_large)
        return cls(error.code, f"{error.reason}: {error.body}")


class _Parser(HTTPRequestParser):
    header_pairs: list[tuple[str, str]] = []
    _refusal: Refusal | None = None

    def __init__(self, adj: Adjustments, rules: RequestRules) -> None:
        super().__init__(adj)
        self.rules = rules

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        self.header_pairs = raw_header_pairs(header_plus)
        fields = len(get_header_lines(header_plus.partition(b"\r\n")[2]))
        self._refusal = framing_refusal(self.version, self.headers, self.chunked, fields,
                                        self.rules.max_headers)

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        if self.error is None and self._refusal is None and not self.headers_finished:
            # A lone HTTP/0.9 request line never ends its (absent) headers: answer it now
            # rather than at the idle timeout.
            line, newline, _ = self.header_plus.lstrip().partition(b"\r\n")
            if newline and is_http09_request_line(line):
                self._refusal = framing_refusal("", {}, False, 0, self.rules.max_headers)
        if self.error is None and self._refusal is not None:
            self.error = _JsonError(self._refusal.status, self._refusal.message)
            self.completed = True
            self.expect_continue = False
        elif self.error is not None and not isinstance(self.error, _JsonError):
            self.error = _JsonError.of(self.error, self.rules)
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
        # The handler's spelling of a header name is kept (ETag, not Etag); waitress
        # capitalizes each word, so spell them back.
        spelled = {waitress_spelling(name): name for name, _ in reversed(self.response_headers)}
        return respell_header_names(super().build_response_header(), spelled)


class _Channel(HTTPChannel):
    task_class = _Task

    def parser_class(self, adj: Adjustments) -> _Parser:
        # waitress makes each request's parser with `self.parser_class(self.adj)`: give it
        # the rules of the app this channel's server serves.
        return _Parser(adj, self.server.application.rules)


class _WaitressServer(TcpWSGIServer):
    channel_class = _Channel


# --- the WSGI app ----------------------------------------------------------------------

class HandlerApp:
    """WSGI: a request -> ``handle(method, target, headers, body, source_ip, protocol)``."""

    def __init__(self, handle: Handler, rules: RequestRules) -> None:
        self.handle = handle
        self.rules = rules

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        try:
            status, headers, body = self._serve(environ, method)
        except Exception:  # noqa: BLE001 -- the client gets JSON, the log the traceback
            log.exception("error while serving %s %s", method, environ.get("REQUEST_URI"))
            status, headers, body = refusal_response(self.rules.internal_error)
        # Hop-by-hop headers are the server's to set (waitress refuses them from an app).
        out = [(_latin1(name), _latin1(value)) for name, value in headers
               if name.lower() not in hop_by_hop and name.lower() != "content-length"]
        if status < 200 or status in (204, 304):
            body = b""  # these have no body in HTTP, whatever the handler returned
        out.append(("Content-Length", str(len(body))))
        start_response(status_line(status), out)
        return [b""] if method == "HEAD" else [body]

    def _serve(self, environ: dict, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if method not in self.rules.methods:
            return refusal_response(self.rules.unknown_method)
        body = environ["wsgi.input"].read()
        response = self.handle(method, environ["REQUEST_URI"], list(environ[HEADERS_KEY]), body,
                               source_ip=environ["REMOTE_ADDR"],
                               protocol=environ["SERVER_PROTOCOL"])
        return response.status, response.headers, response.body


# --- the server and its thread -------------------------------------------------------

class HttpServer:
    """waitress serving :class:`HandlerApp` on ``host:port`` (0: any free port) from a
    background thread; ``stop()`` closes the socket and every connection, and joins.
    ``name`` is the server's: its ``Server`` header and its thread's name."""

    def __init__(self, handle: Handler, rules: RequestRules, host: str, port: int,
                 limits: ServerLimits = ServerLimits(), name: str = "localcloud-http") -> None:
        self.limits = limits
        self.name = name
        self._map: dict = {}
        self._dispatcher = ThreadedTaskDispatcher()
        adjustments = Adjustments(
            host=host, port=port, ident=name,
            threads=limits.threads, connection_limit=limits.connection_limit,
            channel_timeout=limits.channel_timeout, cleanup_interval=limits.cleanup_interval,
            max_request_header_size=rules.max_header_bytes,
            max_request_body_size=rules.max_body_bytes + 1,  # waitress refuses at >=
            inbuf_overflow=64 * 1024,  # a body past this waits in a temporary file, not RAM
            asyncore_use_poll=True,  # select() stops at file descriptor 1024
            clear_untrusted_proxy_headers=False,  # X-Forwarded-* reach the event as sent
            log_socket_errors=False)
        # Binds now, so a port in use fails here, in the caller's thread.
        try:
            self._server = _WaitressServer(HandlerApp(handle, rules), map=self._map,
                                           adj=adjustments, dispatcher=self._dispatcher)
        except BaseException:
            wasyncore.close_all(self._map, ignore_all=True)  # the socket it made
            raise
        self.port = int(self._server.effective_port)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # stop() wakes the loop through its trigger's descriptor, which the loop closes as
        # it ends: never write to that number once closed (it may name another file by then).
        self._closing = threading.Lock()
        self._closed = False

    def start(self) -> None:
        self._dispatcher.set_thread_count(self.limits.threads)
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=1.0, map=self._map, use_poll=True, count=1)
        except Exception:  # noqa: BLE001 -- reported; stop() still cleans up
            log.exception("%s: the server loop failed", self.name)
        finally:
            with self._closing:
                wasyncore.close_all(self._map, ignore_all=True)
                self._closed = True
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
        with self._closing:
            if not self._closed:  # the loop may have seen _stopping and ended first
                self._server.pull_trigger()  # wake the loop now rather than at its timeout
        self._thread.join(timeout=self.limits.shutdown_timeout + 5)
        self._thread = None
