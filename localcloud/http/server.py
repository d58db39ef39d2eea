"""An HTTP front door: waitress reads and frames requests, this module hands each one to
a handler and writes its answer back. It knows nothing of the service behind it: the
service says, in :class:`RequestRules`, which requests reach its handler (methods, sizes)
and how the front door answers the others.

waitress does the protocol (request line, headers, Content-Length, chunked bodies,
keep-alive, pipelining) with a bounded pool of worker threads and an asyncore loop that
holds idle connections without a thread each, closing them after ``channel_timeout``.

That loop is one thread for every connection, so nothing it runs may take more than
linear time in what a client sent. waitress 3.0.2 reads the request line and each header
field with regular expressions that backtrack (``first_line_re`` and ``HEADER_FIELD_RE``:
a field of N spaces then ``x`` takes time quadratic in N, a request line ``GET x://111...1 Z``
worse). So the head is read here, once, in linear time, before any of them runs:

* the request line and the header fields are bounded as they arrive (the rules' target
  and header sizes), whatever waitress would have allowed;
* the request line is checked against exactly the language of ``first_line_re`` by
  splitting it, so waitress's pattern only ever sees a line it matches at once;
* the header fields are split with waitress's own line splitter and ``partition(b":")``,
  and checked with two patterns that cannot backtrack; waitress's header dictionary is
  filled from them and its parser is given the request line alone, so its framing
  decisions (Content-Length, chunked, Connection, Expect) are still its own, taken from
  what was read here, and its header pattern never runs.

On top of it we refuse, before anything runs, the few requests waitress would serve but
that are ambiguous (the stuff request smuggling is made of) or that the rules refuse:

* ``Content-Length`` together with ``Transfer-Encoding`` (waitress prefers the coding),
  and ``Transfer-Encoding`` on an HTTP/1.0 request (waitress ignores it there);
* a request line without a version (HTTP/0.9) or with a version other than 1.0/1.1
  (waitress would answer both as HTTP/1.0);
* more than ``max_headers`` header fields.

waitress answers those like its own parse errors: the error response, and the
connection closed with whatever was pipelined behind it. Every refusal has a JSON body
``{"message": ...}``. Response header names are written as the handler spelled them
(waitress would re-case them).

What one server holds is bounded too (:class:`ServerLimits`): a request's head must be
complete within ``header_timeout`` of its first byte and its body within
``body_timeout`` of the head's end (a client dripping a byte at a time is closed then, not
only when it falls idle), and request bodies are held in memory only, never spooled to
temporary files, within ``body_bytes_held`` across all connections; a body that would
pass it is answered 503 and its connection closed.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Callable, Iterable, NamedTuple, Protocol, Sequence

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError, get_header_lines
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
    """What one server may hold at once, and for how long."""
    threads: int = 16               # requests served at the same time
    connection_limit: int = 1000    # open connections; past it new ones wait in the backlog
    channel_timeout: float = 30.0   # seconds a connection may sit idle (or half-sent)
    cleanup_interval: float = 5.0   # how often idle and slow connections are looked for
    # Seconds stop() waits for the requests in flight, then again for their answers to go.
    shutdown_timeout: float = 5.0
    # Seconds from a request's first byte until its head (line and headers) is complete,
    # however steadily the bytes come: past it the connection is closed.
    header_timeout: float = 10.0
    # Seconds from the end of a request's head until its body is complete, however steadily
    # the bytes come: past it the connection is closed and the body's bytes given back.
    # (The app's rules bound a body's size; this bounds how long its bytes may take.)
    body_timeout: float = 60.0
    # Bytes of request bodies held at once, across all connections, from their first byte
    # until their request is served or its connection closed (memory only: never a file).
    body_bytes_held: int = 64 * 1024 * 1024


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
    max_target_bytes: int      # the request target (path and query) as sent
    target_too_long: Refusal
    max_header_bytes: int      # the header fields: names, values, whitespace, line ends
    headers_too_large: Refusal
    max_headers: int           # header fields; past them, 431
    internal_error: Refusal    # the answer when the handler raises


# The front door's own answer when holding a body would pass ServerLimits.body_bytes_held.
BODIES_HELD = Refusal(503, "the server holds as many request bodies as it may at once; "
                           "send the request again later")


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


# --- reading the head, in linear time (pure) --------------------------------------------

# Single character classes, matched in one pass: these cannot backtrack.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")           # RFC 7230 token, as waitress
_FIELD_VALUE = re.compile(rb"[\t \x21-\x7e\x80-\xff]*")          # VCHAR, obs-text, SP, HTAB
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
_VERSION_BYTES = len(b" HTTP/1.1")


class RequestLine(NamedTuple):
    method: bytes
    target: bytes
    version: bytes  # b"1.1"; b"" for a line without one (HTTP/0.9)


def split_request_line(line: bytes) -> RequestLine | None:
    """A request line (without its CRLF) in its parts, or None when it is not one.

    Accepts exactly what waitress's ``first_line_re`` matches in full, ``METHOD SP
    target [SP HTTP/d.d]`` with a token method and a target without spaces, by splitting
    on spaces rather than backtracking."""
    parts = line.split(b" ")
    if len(parts) == 2:
        (method, target), version = parts, b""
    elif len(parts) == 3 and _VERSION.fullmatch(parts[2]):
        method, target, version = parts[0], parts[1], parts[2][len(b"HTTP/"):]
    else:
        return None
    if not target or not _TOKEN.fullmatch(method):
        return None
    return RequestLine(method, target, version)


def parse_header_fields(block: bytes) -> list[tuple[bytes, bytes]]:
    """(name, value) of every field in a header block (the lines after the request line),
    in order, values without surrounding spaces and tabs.

    Accepts exactly what waitress's ``HEADER_FIELD_RE`` accepts (a token, ``:``, then
    only visible characters, obs-text, spaces and tabs), with waitress's own line splitter
    (folded lines joined; a bare CR or LF refused). Raises waitress's ``ParsingError``."""
    fields = []
    for line in get_header_lines(block):
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise ParsingError("Invalid header")
        fields.append((name, value.strip(b" \t")))
    return fields


def waitress_headers(fields: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The fields as waitress keeps them for its framing decisions: ``CONTENT_LENGTH``,
    repeats joined with ``, ``, names with ``_`` dropped (they would pass for ``-``)."""
    headers: dict[str, str] = {}
    for name, value in fields:
        if b"_" in name:
            continue
        key = name.upper().replace(b"-", b"_").decode("latin-1")
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def handler_header_pairs(fields: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """(name, value) as sent, for the handler: the fields waitress keeps, without
    ``Transfer-Encoding`` (the body is handed on already decoded)."""
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in fields
            if b"_" not in name and name.lower() != b"transfer-encoding"]


def head_refusal(received: bytes, rules: RequestRules) -> Refusal | None:
    """Whether a request head, complete or still arriving (``received``: what came so far,
    perhaps with body bytes after it), is already over the rules' sizes.

    The target is what the request line names between its spaces; the header fields
    are every line after the request line with its CRLF, not the blank line that ends
    them."""
    end = received.find(b"\r\n\r\n")
    head = (received[:end + 2] if end >= 0 else received).lstrip()
    line, line_end, fields = head.partition(b"\r\n")
    method, space, rest = line.partition(b" ")
    target = rest.partition(b" ")[0]
    if (len(target) > rules.max_target_bytes
            or (not space and len(method) > rules.max_target_bytes)  # no method is that long
            or (not line_end and len(rest) > rules.max_target_bytes + _VERSION_BYTES)):
        return rules.target_too_long
    if len(fields) > rules.max_header_bytes:
        return rules.headers_too_large
    return None


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


class BodyBudget:
    """The bytes of request bodies a server holds at once, across its connections."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        with self._lock:
            return self._held

    def take(self, size: int) -> bool:
        with self._lock:
            if self._held + size > self.limit:
                return False
            self._held += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self._held -= size


class _Parser(HTTPRequestParser):
    """waitress's parser, reading the head itself (bounded, in linear time) and keeping
    the body within the server's budget."""
    header_pairs: list[tuple[str, str]] = []
    _refusal: Refusal | None = None

    def __init__(self, adj: Adjustments, rules: RequestRules, budget: BodyBudget) -> None:
        super().__init__(adj)
        self.rules = rules
        self._budget = budget
        self._held = 0  # body bytes this request holds of the budget
        # waitress makes a request's parser when its first byte arrives; the body's clock
        # starts when the head ends (parse_header).
        self.head_started = time.monotonic()
        self.body_started: float | None = None

    def overdue(self, now: float, header_timeout: float, body_timeout: float) -> bool:
        """Whether the part of this request still arriving, its head and then its body, has
        been arriving for longer than its timeout, however steadily."""
        if self.completed:
            return False  # handed on (or refused): nothing is arriving
        if self.body_started is None:
            return now - self.head_started > header_timeout
        return now - self.body_started > body_timeout

    def parse_header(self, header_plus: bytes) -> None:
        self.body_started = time.monotonic()  # waitress calls this once the head is complete
        line, crlf, block = header_plus.partition(b"\r\n")
        if not crlf or b"\r" in line or b"\n" in line:
            return super().parse_header(header_plus)  # waitress's own refusal of it
        if split_request_line(line.rstrip()) is None:
            raise ParsingError("Start line is invalid")
        fields = parse_header_fields(block)
        # waitress adds each field to `self.headers` and then decides the framing from
        # that dictionary: fill it here and hand it the request line alone, so its header
        # pattern never runs and its decisions are taken from the fields read above.
        self.headers.update(waitress_headers(fields))
        super().parse_header(line + b"\r\n")
        self.header_pairs = handler_header_pairs(fields)
        self._refusal = framing_refusal(self.version, self.headers, self.chunked, len(fields),
                                        self.rules.max_headers)

    def received(self, data: bytes) -> int:
        if self.completed:
            return 0
        if self.body_rcv is None:
            too_large = head_refusal(self.header_plus + data, self.rules)
            if too_large is not None:
                self._refuse(too_large)
                return len(data)
            consumed = super().received(data)
        elif not self._budget.take(len(data)):
            self._refuse(BODIES_HELD)
            return len(data)
        else:
            consumed = super().received(data)
            self._budget.give_back(len(data) - consumed)
            self._held += consumed
        if self.error is None and self._refusal is None and not self.headers_finished:
            # A lone HTTP/0.9 request line never ends its (absent) headers: answer it now
            # rather than at the idle timeout.
            line, newline, _ = self.header_plus.lstrip().partition(b"\r\n")
            request_line = split_request_line(line.rstrip()) if newline else None
            if request_line is not None and not request_line.version:
                self._refusal = framing_refusal("", {}, False, 0, self.rules.max_headers)
        if self.error is None and self._refusal is not None:
            self._refuse(self._refusal)
        elif self.error is not None and not isinstance(self.error, _JsonError):
            self.error = _JsonError.of(self.error, self.rules)
        return consumed

    def _refuse(self, refusal: Refusal) -> None:
        self.error = _JsonError(refusal.status, refusal.message)
        self.completed = True
        self.expect_continue = False

    def close(self) -> None:
        # waitress closes a request once it has been served; the channel closes the one
        # still arriving when its connection goes.
        self._budget.give_back(self._held)
        self._held = 0
        super().close()


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

    def __init__(self, *args, **kwargs) -> None:
        self.opened_at = time.monotonic()
        self.got_bytes = False  # a connection that never sends counts against header_timeout
        super().__init__(*args, **kwargs)

    def received(self, data: bytes) -> bool:
        if data:
            self.got_bytes = True
        return super().received(data)

    def parser_class(self, adj: Adjustments) -> _Parser:
        # waitress makes each request's parser with `self.parser_class(self.adj)`: give it
        # the rules of the app this channel's server serves, and the server's budget.
        return _Parser(adj, self.server.application.rules, self.server.body_budget)

    def readable(self) -> bool:
        # A stopping server reads no new request: those in flight finish, nothing is
        # queued behind them for task threads that are ending.
        return not self.server.stopping and super().readable()

    def handle_close(self) -> None:
        # The request still arriving is nobody's once its connection goes: give back what
        # it held of the body budget. (No lock: this runs on the loop thread, which is the
        # only one that reads into it, and may run while that thread holds requests_lock.)
        if self.request is not None:
            self.request.close()
        super().handle_close()


class _WaitressServer(TcpWSGIServer):
    channel_class = _Channel

    def __init__(self, *args, body_budget: BodyBudget, header_timeout: float,
                 body_timeout: float, **kwargs) -> None:
        self.body_budget = body_budget
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.stopping = False  # set by stop_accepting(), on the loop thread
        # Task threads pull the trigger (waitress's channel.py, at the end of every request,
        # after a look at `connected` that the loop may falsify just after); the loop thread
        # closes it. This lock orders the two: a pull after the close would write to a
        # closed descriptor (EBADF, logged with a traceback) or to whatever file has taken
        # its number since.
        self._trigger_lock = threading.Lock()
        self._trigger_closed = False
        super().__init__(*args, **kwargs)

    def pull_trigger(self) -> None:
        """Wake the loop (from any thread); once the server is closed, nothing to wake."""
        with self._trigger_lock:
            if not self._trigger_closed:
                self.trigger.pull_trigger()

    def stop_accepting(self) -> None:
        """Close the listening socket and read no new request on the open connections;
        what is in flight goes on. On the loop thread (it changes the loop's map)."""
        self.stopping = True
        wasyncore.dispatcher.close(self)

    def close_connections_when_flushed(self) -> None:
        """Have the loop close each connection once what was written to it is sent."""
        for channel in list(self.active_channels.values()):
            channel.close_when_flushed = True  # waitress's own flag (channel.py)

    def close(self) -> None:
        """Close the listening socket, every connection, then the trigger. On the loop
        thread, or before the loop starts."""
        self.stop_accepting()
        for channel in list(self.active_channels.values()):
            # A channel's own close: under its outbuf lock, so a task thread still writing
            # to it (one that outlived stop()'s wait) sees it gone and ends quietly.
            channel.handle_close()
        with self._trigger_lock:
            self._trigger_closed = True
            self.trigger.close()

    def maintenance(self, now: float) -> None:
        """waitress closes connections idle for ``channel_timeout``; also close those whose
        request head has been arriving for longer than ``header_timeout``, or its body for
        longer than ``body_timeout``, however steadily, and those that have sent nothing
        for ``header_timeout`` since they opened. (Closing a connection gives back what its
        request held of the body budget: ``_Channel.handle_close``.)"""
        super().maintenance(now)
        now = time.monotonic()  # waitress passes wall-clock time; these clocks are monotonic
        cutoff = now - self.header_timeout
        for channel in list(self.active_channels.values()):
            request = channel.request
            # A channel serving a request reads nothing meanwhile: the next one, pipelined
            # behind it, is not the client's to finish yet. (A request handed to the app is
            # in channel.requests, no longer channel.request: never closed here.)
            if (request is not None and not channel.requests
                    and request.overdue(now, self.header_timeout, self.body_timeout)):
                channel.will_close = True
            # A connection that has sent nothing since it opened is a head that has not
            # begun: the same deadline (else 1,000 silent ones hold every slot for the idle
            # timeout).
            elif (request is None and not channel.requests and not channel.got_bytes
                  and channel.opened_at < cutoff):
                channel.will_close = True


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
    background thread; ``stop()`` lets the requests being handled finish, closes the socket
    and every connection, and joins.
    ``name`` is the server's: its ``Server`` header and its thread's name."""

    def __init__(self, handle: Handler, rules: RequestRules, host: str, port: int,
                 limits: ServerLimits = ServerLimits(), name: str = "localcloud-http") -> None:
        if limits.body_bytes_held < rules.max_body_bytes:
            raise ValueError(f"body_bytes_held ({limits.body_bytes_held}) is less than one "
                             f"body may be ({rules.max_body_bytes}); raise it")
        self.limits = limits
        self.name = name
        self._map: dict = {}
        self._dispatcher = ThreadedTaskDispatcher()
        self._body_budget = BodyBudget(limits.body_bytes_held)
        adjustments = Adjustments(
            host=host, port=port, ident=name,
            threads=limits.threads, connection_limit=limits.connection_limit,
            channel_timeout=limits.channel_timeout, cleanup_interval=limits.cleanup_interval,
            # waitress's own bound on the whole head, behind the rules' (which are checked
            # first): it also counts the blank lines a client may send before a request.
            max_request_header_size=rules.max_target_bytes + rules.max_header_bytes + 1024,
            max_request_body_size=rules.max_body_bytes + 1,  # waitress refuses at >=
            # A body never moves to a temporary file (waitress's default past 512 KB):
            # memory, bounded by body_bytes_held across connections, is all it may take.
            inbuf_overflow=sys.maxsize,
            asyncore_use_poll=True,  # select() stops at file descriptor 1024
            clear_untrusted_proxy_headers=False,  # X-Forwarded-* reach the event as sent
            log_socket_errors=False)
        # Binds now, so a port in use fails here, in the caller's thread.
        try:
            self._server = _WaitressServer(HandlerApp(handle, rules), map=self._map,
                                           adj=adjustments, dispatcher=self._dispatcher,
                                           body_budget=self._body_budget,
                                           header_timeout=limits.header_timeout,
                                           body_timeout=limits.body_timeout)
        except BaseException:
            wasyncore.close_all(self._map, ignore_all=True)  # the socket it made
            raise
        self.port = int(self._server.effective_port)
        self._refusing = threading.Event()  # stop() began: the loop closes the listener
        self._stopping = threading.Event()  # the requests in flight are done: the loop ends
        self._thread: threading.Thread | None = None

    @property
    def body_bytes_held(self) -> int:
        """Bytes of request bodies held now, across connections."""
        return self._body_budget.held

    def start(self) -> None:
        self._dispatcher.set_thread_count(self.limits.threads)
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                if self._refusing.is_set() and not self._server.stopping:
                    self._server.stop_accepting()
                self._serve_once()
            # The task threads are done: send what they wrote (for shutdown_timeout at
            # most: a client may not read), then close.
            self._server.stop_accepting()  # if stop() has not had it done already
            self._server.close_connections_when_flushed()
            deadline = time.monotonic() + self.limits.shutdown_timeout
            while self._server.active_channels and time.monotonic() < deadline:
                self._serve_once()
        except Exception:  # noqa: BLE001 -- reported; stop() still cleans up
            log.exception("%s: the server loop failed", self.name)
        finally:
            self._server.close()

    def _serve_once(self) -> None:
        wasyncore.loop(timeout=1.0, map=self._map, use_poll=True, count=1)

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        """Refuse new connections and requests, let the requests a task thread is handling
        finish and their answers be sent (for ``shutdown_timeout`` at most, each), then
        close every connection, and join. Requests still queued for a free thread are
        dropped with their connections (waitress's dispatcher cancels them).

        The task threads end before the sockets close, as in waitress's own close
        (``MultiSocketServer.close``): a task still answering when the loop closed its
        connection and the trigger would write to closed descriptors. The loop runs
        meanwhile, so what the tasks write is sent."""
        if self._thread is None:
            self._server.close()
            return
        self._refusing.set()
        self._server.pull_trigger()  # wake the loop now rather than at its timeout
        self._dispatcher.shutdown(timeout=self.limits.shutdown_timeout)
        self._stopping.set()
        self._server.pull_trigger()  # a no-op if the loop has ended (and closed it) first
        self._thread.join(timeout=self.limits.shutdown_timeout + 5)
        self._thread = None
