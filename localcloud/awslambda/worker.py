"""One warm execution environment of a deployed function (run as ``python -m localcloud.awslambda.worker``).

The invoker starts this process with the function's environment, its code directory
as the working directory, and speaks a line-oriented JSON protocol with it:

parent -> worker (stdin)
    ``{"type": "init", "handler", "code_dir", "function_name", "role_arn", "region",
    "account_id", "memory_size", "log_group", "log_stream", "version"}`` (first line)
    ``{"type": "invoke", "id", "event", "deadline_ms"}``

worker -> parent (stdout, a private copy of the original descriptor)
    ``{"type": "ready", "error": null | {...}}`` after importing the handler
    ``{"type": "log", "line", "ts"}`` every line the function prints or logs
    ``{"type": "result", "id", "status": "ok", "payload"}`` or
    ``{"type": "result", "id", "status": "error", "error": {errorMessage, errorType, ...}}``

The function never sees the protocol: before its code is imported, descriptor 1 is
pointed at stderr, descriptor 0 at /dev/null, and ``sys.stdout``/``sys.stderr`` and the
root logger write into the log capture instead.

The function's AWS calls go to the emulator as they would go to AWS: signed with the
role's temporary credentials that the invoker put in the environment
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), and
authorized there, by the emulator's front check, against the role's policies.
"""
from __future__ import annotations

import importlib
import io
import json
import logging
import os
import sys
import threading
import time
import traceback


class Channel:
    """Writes protocol messages, one JSON object per line, from any thread."""

    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "wb")
        self._lock = threading.Lock()

    def send(self, message: dict, *, strict: bool = False) -> None:
        text = json.dumps(message, allow_nan=not strict, default=None if strict else repr)
        data = text.encode("utf-8") + b"\n"
        with self._lock:
            self._file.write(data)
            self._file.flush()


class LogCapture(io.TextIOBase):
    """A text stream that turns every written line into a ``log`` protocol message."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self._channel = channel
        self._buffer = ""
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 2  # raw writes by fileno bypass the capture and land on stderr

    def write(self, text) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            self._buffer += text
            *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self.emit(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            rest, self._buffer = self._buffer, ""
        if rest:
            self.emit(rest)

    def emit(self, line: str) -> None:
        self._channel.send({"type": "log", "line": line, "ts": int(time.time() * 1000)})


class LambdaLogHandler(logging.Handler):
    """The root logger's handler, formatted like the Lambda Python runtime's."""

    def __init__(self, capture: LogCapture, state: "WorkerState") -> None:
        super().__init__()
        self._capture = capture
        self._state = state

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            message = self.format(record)
            line = (f"[{record.levelname}]\t{stamp}.{int(record.msecs):03d}Z\t"
                    f"{self._state.request_id or ''}\t{message}")
            # One event per record, as Lambda does: keep tracebacks in one piece.
            self._capture.emit(line.replace("\n", "\r"))
        except Exception:  # never let logging break the function
            self.handleError(record)


class WorkerState:
    def __init__(self, init: dict, channel: Channel) -> None:
        self.channel = channel
        self.function_name = init["function_name"]
        self.request_id: str | None = None


class LambdaContext:
    """The ``context`` argument of a Python handler."""

    def __init__(self, init: dict, request_id: str, deadline_ms: int) -> None:
        self.function_name = init["function_name"]
        self.function_version = init.get("version", "$LATEST")
        self.invoked_function_arn = (f"arn:aws:lambda:{init['region']}:{init['account_id']}:"
                                     f"function:{init['function_name']}")
        self.memory_limit_in_mb = str(init.get("memory_size", 128))
        self.aws_request_id = request_id
        self.log_group_name = init["log_group"]
        self.log_stream_name = init["log_stream"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _error(exc: BaseException, error_type: str | None = None, message: str | None = None) -> dict:
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


def _load_handler(spec: str):
    """``pkg.module.func`` (or ``dir/module.func``) -> (callable, None) or (None, error)."""
    module_name, _, func_name = spec.rpartition(".")
    if not module_name or not func_name:
        return None, {"errorMessage": f"Bad handler '{spec}': not enough values to unpack",
                      "errorType": "Runtime.MalformedHandlerName", "stackTrace": []}
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        return None, _error(exc, "Runtime.UserCodeSyntaxError",
                            f"Syntax error in module '{module_name}': {exc}")
    except ImportError as exc:
        return None, _error(exc, "Runtime.ImportModuleError",
                            f"Unable to import module '{module_name}': {exc}")
    except Exception as exc:  # an error while the module runs its top level
        return None, _error(exc)
    handler = getattr(module, func_name, None)
    if not callable(handler):
        return None, {"errorMessage": f"Handler '{func_name}' missing on module '{module_name}'",
                      "errorType": "Runtime.HandlerNotFound", "stackTrace": []}
    return handler, None


def _isolate_sys_path(code_dir: str) -> None:
    # The worker found localcloud through PYTHONPATH (the repository root); the function
    # must not see the repository, only its own code (and the runtime's boto3).
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for entry in os.environ.pop("PYTHONPATH", "").split(os.pathsep):
        if entry:
            sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.abspath(entry)]
    sys.path[:] = [p for p in sys.path
                   if os.path.abspath(p or ".") not in (repo_root, os.path.abspath(code_dir))]
    sys.path.insert(0, code_dir)


def main() -> int:
    # Take the protocol descriptors away from the function before anything else.
    proto_in = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    proto_out = os.dup(1)
    os.dup2(2, 1)
    channel = Channel(proto_out)

    first = proto_in.readline()
    if not first:
        return 0
    init = json.loads(first)
    state = WorkerState(init, channel)
    capture = LogCapture(channel)
    sys.stdout = capture
    sys.stderr = capture
    root = logging.getLogger()
    root.handlers[:] = [LambdaLogHandler(capture, state)]

    _isolate_sys_path(init["code_dir"])
    handler, init_error = _load_handler(init["handler"])
    capture.flush()
    if init_error is not None:
        capture.emit(f"[ERROR] {init_error['errorType']}: {init_error['errorMessage']}")
    channel.send({"type": "ready", "error": init_error})

    for line in proto_in:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("type") == "stop":
            break
        if message.get("type") != "invoke":
            continue
        request_id = message["id"]
        state.request_id = request_id
        if init_error is not None:
            channel.send({"type": "result", "id": request_id, "status": "error",
                          "error": init_error})
            continue
        context = LambdaContext(init, request_id, message["deadline_ms"])
        exiting = False
        try:
            payload = handler(message.get("event"), context)
            capture.flush()
            try:
                channel.send({"type": "result", "id": request_id, "status": "ok",
                              "payload": payload}, strict=True)
            except (TypeError, ValueError) as exc:
                channel.send({"type": "result", "id": request_id, "status": "error",
                              "error": {"errorMessage": f"Unable to marshal response: {exc}",
                                        "errorType": "Runtime.MarshalError", "stackTrace": []}})
        except SystemExit as exc:
            capture.flush()
            exiting = True
            channel.send({"type": "result", "id": request_id, "status": "error", "error": {
                "errorMessage": (f"RequestId: {request_id} Error: Runtime exited with error: "
                                 f"exit status {exc.code if isinstance(exc.code, int) else 1}"),
                "errorType": "Runtime.ExitError", "stackTrace": []}})
        except Exception as exc:
            capture.flush()
            error = _error(exc)
            capture.emit(f"[ERROR] {error['errorType']}: {error['errorMessage']}\r"
                         + "Traceback (most recent call last):\r"
                         + "".join(error["stackTrace"]).replace("\n", "\r"))
            channel.send({"type": "result", "id": request_id, "status": "error", "error": error})
        finally:
            state.request_id = None
        if exiting:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
