"""Runs deployed functions: what Lambda's service does, which moto cannot (no docker).

For each invoke the invoker reads the function's configuration from moto, takes the
archive with that CodeSha256 from the artifact store, extracts it once per CodeSha256,
and hands the event to a warm worker process (:mod:`localcloud.awslambda.worker`) running the
current interpreter. Workers are pooled per (function name, CodeSha256, configuration):
a code or configuration update starts fresh workers and stops the old ones.

Configuration and policies are read through :mod:`localcloud.control_plane` (moto's
backends directly when the emulator runs in this process), never cached.

As Lambda does, each worker gets temporary credentials for the function's role
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``: an STS
``AssumeRole`` with the function's name as the session name), so every AWS call the
function makes is signed as the role and authorized by the emulator's front check
against the role's policies, where AWS authorizes it. A worker whose credentials are
gone (moto was reset) or about to expire is replaced by a fresh one.

``call_log()`` returns the newest authorization decisions made with the functions' roles
(a bounded log): those of the front check on the function's calls, and those the Lambda
service makes with the role to ship the function's output to CloudWatch Logs
(``/aws/lambda/{name}``, one stream per worker, as Lambda does per execution
environment).

Each invocation is counted in the emulator's CloudWatch as Lambda counts it, per function
and per alias (:mod:`localcloud.awslambda.alias_metrics`).

Extracted code lives in a work directory in the temp folder named after the invoker's
process (``localcloud-{pid}-...``); ``close()`` removes it, and a new invoker removes
those whose process is gone (a killed local cloud never removes its own).
"""
from __future__ import annotations

import collections
import datetime
import hashlib
import io
import json
import logging
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from infra.metrics import LAMBDA_NAMESPACE
from localcloud import control_plane, emulator_auth
from localcloud.awslambda import archives
from localcloud.awslambda.alias_metrics import invocation_metrics
from localcloud import policy as iam_eval
from localcloud.emulator import ACCOUNT_ID, REGION, make_client
from localcloud.invocation import FunctionNotFound, InvokeRefused, InvokeResult, InvokerError

log = logging.getLogger("localcloud.awslambda.invoker")

REPO_ROOT = Path(__file__).resolve().parents[2]
INIT_TIMEOUT = 10.0  # seconds; Lambda's limit for the init phase
# How long a worker's role credentials last: STS's default (and a role's default maximum,
# MaxSessionDuration 3600). A worker is replaced before they could expire mid-invoke.
ROLE_SESSION_SECONDS = 3600

# A synchronous invoke's payload: "6 MB each for request and response" (Lambda quotas,
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). In bytes, as
# Lambda's own errors name them: a request over the limit is refused (HTTP 413,
# RequestEntityTooLargeException, "Request must be smaller than 6291456 bytes for the
# InvokeFunction operation", as callers record it), and a response over its limit is a
# function error (Function.ResponseSizeTooLarge, "Response payload size (N bytes) exceeded
# maximum allowed payload size (6291556 bytes).", the wording of AWS's runtime interface
# emulator; moto emulates the same without the size).
MAX_REQUEST_PAYLOAD_BYTES = 6291456
MAX_RESPONSE_PAYLOAD_BYTES = 6291556


# An invoker's own work directory: the pid of its process, then mkdtemp's random part.
_WORK_DIR = re.compile(r"localcloud-([0-9]+)-[A-Za-z0-9_]+")


class CodeNotFound(InvokerError):
    pass


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: it runs
        return True
    return True


def remove_abandoned_work_dirs(temp_dir: str | os.PathLike | None = None) -> list[Path]:
    """Remove the work directories in the temp folder whose process is gone (a local
    cloud killed with SIGKILL, or that crashed, leaves its own); those of a running
    process, another local cloud's, stay. Returns the removed ones."""
    removed = []
    with os.scandir(temp_dir or tempfile.gettempdir()) as entries:
        for entry in entries:
            owner = _WORK_DIR.fullmatch(entry.name)
            try:
                if (owner is None or not entry.is_dir(follow_symlinks=False)
                        or entry.stat(follow_symlinks=False).st_uid != os.getuid()
                        or _process_exists(int(owner.group(1)))):
                    continue
            except OSError:  # gone already: another cloud starting removed it
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


@dataclass(frozen=True)
class CallRecord:
    """One authorization check made with a function's role."""

    function_name: str
    action: str
    resource: str
    allowed: bool
    decision: str  # iam_eval.ALLOW / EXPLICIT_DENY / IMPLICIT_DENY
    source: str  # "function" (the handler's own calls) or "lambda-service" (log shipping)
    principal: str  # the assumed-role ARN (arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION)
    operation: str = ""
    timestamp_ms: int = 0


class _WorkerDied(Exception):
    pass


class _Retired(Exception):
    pass


class _Worker:
    """One worker process and the threads that read its stdout and stderr."""

    def __init__(self, invoker: "Invoker", function_name: str, argv: list[str], env: dict,
                 cwd: str, log_stream: str, access_key_id: str,
                 credentials_expire: float) -> None:
        self.function_name = function_name
        self.log_stream = log_stream
        self.stream_created = False
        self.invocations = 0
        self.init_logs: list[tuple[int, str]] = []  # output of the init phase, shipped once
        self.access_key_id = access_key_id  # of its role credentials
        self.credentials_expire = credentials_expire  # time.monotonic() when they expire
        self._invoker = invoker
        self._results: queue.Queue = queue.Queue()
        self._logs: list[tuple[int, str]] = []
        self._logs_lock = threading.Lock()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=50)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd)
        self._write_lock = threading.Lock()
        self._stdout_reader = threading.Thread(target=self._read_stdout,
                                               name=f"worker-out-{self.proc.pid}", daemon=True)
        self._stdout_reader.start()
        threading.Thread(target=self._read_stderr, name=f"worker-err-{self.proc.pid}",
                         daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read_stdout(self) -> None:
        try:
            for raw in self.proc.stdout:
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.debug("worker %s: unreadable protocol line %r", self.pid, raw[:200])
                    continue
                kind = message.get("type")
                if kind == "log":
                    with self._logs_lock:
                        self._logs.append((int(message.get("ts") or time.time() * 1000),
                                           str(message.get("line", ""))))
                else:
                    self._results.put(message)
        except (OSError, ValueError):
            pass
        finally:
            self._results.put(None)

    def _read_stderr(self) -> None:
        try:
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.stderr_tail.append(line)
                log.debug("worker %s (%s) stderr: %s", self.pid, self.function_name, line)
        except (OSError, ValueError):
            pass

    def send(self, message: dict) -> None:
        data = json.dumps(message).encode("utf-8") + b"\n"
        with self._write_lock:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError) as err:
                raise _WorkerDied(str(err)) from err

    def receive(self, timeout: float) -> dict:
        """The next result/ready message; raises queue.Empty on timeout, _WorkerDied."""
        message = self._results.get(timeout=max(0.0, timeout))
        if message is None:
            self._results.put(None)  # keep reporting the death
            raise _WorkerDied(f"exit status {self.proc.wait()}")
        return message

    def start(self, init: dict, timeout: float) -> dict | None:
        """Send the init message and wait for ready; returns the init error, if any."""
        self.send(init)
        message = self.receive(timeout)
        return message.get("error")

    def take_logs(self) -> list[tuple[int, str]]:
        with self._logs_lock:
            logs, self._logs = self._logs, []
        return logs

    def request_stop(self) -> None:
        """Ask the worker to exit after its current invoke (does not wait)."""
        if self.alive():
            try:
                self.send({"type": "stop"})
                self.proc.stdin.close()
            except (_WorkerDied, OSError, ValueError):
                pass

    def stop(self, *, kill: bool = False) -> None:
        if self.alive():
            if not kill:
                self.request_stop()
                try:
                    self.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass
            if self.alive():
                self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("worker %s did not exit", self.pid)
        if threading.current_thread() is not self._stdout_reader:
            self._stdout_reader.join(timeout=2)  # everything it wrote is read
        self._invoker._worker_keys.pop(self.access_key_id, None)  # it makes no more calls
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass


class _Pool:
    """The warm workers of one (function, code, configuration)."""

    def __init__(self, key: tuple, max_workers: int) -> None:
        self.key = key
        self.max_workers = max_workers
        self.idle: list[_Worker] = []
        self.busy: set[_Worker] = set()
        self.starting = 0
        self.warming = 0  # of `starting`: started ahead of any invoke (Invoker.warm)
        self.retired = False
        self.cond = threading.Condition()

    def acquire(self, usable=lambda worker: True) -> _Worker | None:
        """An idle worker that is ``usable``, or None when the caller may start a new one
        (slot reserved)."""
        with self.cond:
            while True:
                if self.retired:
                    raise _Retired()
                while self.idle:
                    worker = self.idle.pop()
                    if worker.alive() and usable(worker):
                        self.busy.add(worker)
                        return worker
                    worker.stop(kill=True)
                if self.warming:
                    # A worker started for this very invoke is nearly ready: wait for
                    # it rather than start a second one.
                    self.cond.wait(timeout=1.0)
                    continue
                if len(self.busy) + self.starting < self.max_workers:
                    self.starting += 1
                    return None
                self.cond.wait(timeout=1.0)

    def started(self, worker: _Worker | None) -> None:
        with self.cond:
            self.starting -= 1
            if worker is not None:
                self.busy.add(worker)
            self.cond.notify()

    def warm(self) -> bool:
        """Reserve a slot for a worker started ahead of any invoke; False where the pool
        has or is starting one already (or is retired)."""
        with self.cond:
            if self.retired or self.idle or self.busy or self.starting:
                return False
            self.starting += 1
            self.warming += 1
            return True

    def warmed(self, worker: _Worker | None) -> None:
        """The worker reserved by warm() is ready (idle), or None: it did not start."""
        with self.cond:
            self.starting -= 1
            self.warming -= 1
            keep = worker is not None and not self.retired
            if keep:
                self.idle.append(worker)
            self.cond.notify_all()
        if worker is not None and not keep:
            worker.stop()

    def release(self, worker: _Worker, *, discard: bool = False) -> None:
        with self.cond:
            self.busy.discard(worker)
            keep = not discard and not self.retired and worker.alive()
            if keep:
                self.idle.append(worker)
            self.cond.notify()
        if not keep:
            worker.stop(kill=discard)

    def retire(self) -> None:
        with self.cond:
            self.retired = True
            idle, self.idle = self.idle, []
            self.cond.notify_all()
        for worker in idle:
            worker.stop()

    def pids(self) -> list[int]:
        with self.cond:
            return [w.pid for w in [*self.idle, *self.busy] if w.alive()]


def payload_bytes(value: Any) -> int:
    """The size of a JSON payload as it travels to or from Lambda (compact, UTF-8)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                          default=repr).encode("utf-8"))


def _config_fingerprint(config: dict) -> str:
    relevant = {k: config.get(k) for k in ("Handler", "Environment", "Role", "Runtime",
                                           "MemorySize", "Timeout")}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _log_stream_name(version: str) -> str:
    # As Lambda names an execution environment's stream: date, [version], id.
    return time.strftime("%Y/%m/%d", time.gmtime()) + f"/[{version}]" + uuid.uuid4().hex


def _version(config: dict) -> str:
    """The version an invoke runs: an alias or version qualifier resolves to a number."""
    return str(config.get("Version") or "$LATEST")


class Invoker:
    """Invokes functions deployed in the emulator. Thread-safe; ``close()`` when done."""

    def __init__(self, endpoint_url: str, state_dir: str | os.PathLike, *,
                 region: str = REGION, account_id: str = ACCOUNT_ID,
                 max_workers_per_function: int = 4, work_dir: str | os.PathLike | None = None,
                 python: str = sys.executable, init_timeout: float = INIT_TIMEOUT,
                 call_log_size: int = 10_000, credentials: Credentials | None = None) -> None:
        """``credentials``: whom the Lambda service signs as to get the roles' credentials
        (None: the local cloud itself, whose emulator runs in this process)."""
        self.endpoint_url = endpoint_url
        self.state_dir = Path(state_dir)
        self.region = region
        self.account_id = account_id
        self.max_workers_per_function = max(1, int(max_workers_per_function))
        self.python = python
        self.init_timeout = init_timeout
        self._own_work_dir = work_dir is None
        if self._own_work_dir:
            for stale in remove_abandoned_work_dirs():
                log.info("removed %s, left by a local cloud that is gone", stale)
        self.work_dir = Path(work_dir) if work_dir else Path(
            tempfile.mkdtemp(prefix=f"localcloud-{os.getpid()}-"))
        self._credentials = credentials
        self._plane = control_plane.for_endpoint(endpoint_url, region, credentials)
        self._lock = threading.Lock()
        self._pools: dict[tuple, _Pool] = {}
        # (function name, qualifier as invoked) -> key of its current pool: `fn:live` and
        # `fn` keep their own warm workers, and moving the alias retires the old version's.
        self._current: dict[tuple[str, str | None], tuple] = {}
        self._extract_lock = threading.Lock()
        # Bounded: a long-running cloud keeps the newest records, not every one ever made.
        self._calls: collections.deque[CallRecord] = collections.deque(maxlen=call_log_size)
        self._calls_lock = threading.Lock()
        # The access key id of each live worker's role credentials -> its function's name:
        # which of the front check's decisions are the functions' calls.
        self._worker_keys: dict[str, str] = {}
        self._stop_listening = emulator_auth.listen(self._heard)
        self._closed = False

    # --- the call log -------------------------------------------------------------

    def _record(self, record: CallRecord) -> None:
        with self._calls_lock:
            self._calls.append(record)

    def call_log(self, function_name: str | None = None) -> list[CallRecord]:
        """The authorization checks made with the functions' roles (the newest
        ``call_log_size`` of them), oldest first."""
        with self._calls_lock:
            return [c for c in self._calls
                    if function_name is None or c.function_name == function_name]

    def clear_call_log(self) -> None:
        with self._calls_lock:
            self._calls.clear()

    def _heard(self, decided: emulator_auth.Decided) -> None:
        """A decision of the emulator's front check: recorded if a worker's role made it."""
        name = self._worker_keys.get(decided.access_key_id)
        if name is not None:
            self._record(CallRecord(
                function_name=name, action=decided.action, resource=decided.resource,
                allowed=decided.decision.allowed, decision=decided.decision.result,
                source="function", principal=decided.principal_arn,
                operation=decided.operation, timestamp_ms=decided.timestamp_ms))

    # --- configuration ------------------------------------------------------------

    def function_configuration(self, function: str) -> dict:
        try:
            return self._plane.function_configuration(function)
        except control_plane.NotFound as err:
            raise FunctionNotFound(str(err)) from err

    def role_policies(self, role_arn: str) -> list[dict]:
        """The role's inline and attached managed policy documents, read from moto's IAM."""
        try:
            return self._plane.role_policies(role_arn.rsplit("/", 1)[-1])
        except control_plane.NotFound:
            log.warning("role %s does not exist: every call of its function is denied", role_arn)
            return []

    # --- code ---------------------------------------------------------------------

    def _code_dir(self, sha: str) -> Path:
        target = self.work_dir / "code" / archives.archive_path(self.state_dir, sha).stem
        if target.is_dir():
            return target
        with self._extract_lock:
            if target.is_dir():
                return target
            try:
                data = archives.load_archive(self.state_dir, sha)
            except (FileNotFoundError, ValueError) as err:
                raise CodeNotFound(str(err)) from err
            staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=self.work_dir))
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    archive.extractall(staging)  # extractall drops absolute and ".." parts
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return target

    # --- workers ------------------------------------------------------------------

    def _pool(self, key: tuple, qualifier: str | None = None) -> _Pool:
        name, slot = key[0], (key[0], qualifier)
        retire = None
        with self._lock:
            if self._closed:
                raise InvokerError("the invoker is closed")
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = _Pool(key, self.max_workers_per_function)
            old_key = self._current.get(slot)
            if old_key != key:
                self._current[slot] = key
                if old_key is not None:
                    retire = self._pools.pop(old_key, None)
        if retire is not None:
            log.info("%s changed: stopping the workers of its previous version", name)
            retire.retire()
        return pool

    def _role_credentials(self, config: dict) -> dict:
        """Temporary credentials for the function's role, as Lambda gets them for an
        execution environment: STS AssumeRole, the function's name as the session name."""
        name, role = config["FunctionName"], config["Role"]
        try:
            sts = make_client("sts", self.endpoint_url, self.region, self._credentials)
            return sts.assume_role(RoleArn=role, RoleSessionName=name[:64],
                                   DurationSeconds=ROLE_SESSION_SECONDS)["Credentials"]
        except ClientError as err:
            raise InvokerError(f"{name}: cannot get credentials for its role {role}: "
                               f"{err.response['Error'].get('Message') or err}") from err

    def _usable(self, worker: _Worker, timeout: float) -> bool:
        """A warm worker whose role credentials outlast another invoke, and still exist
        (a reset of the emulator deletes them)."""
        return (time.monotonic() + timeout + 60 < worker.credentials_expire
                and self._plane.temporary_key_active(worker.access_key_id))

    def _worker_env(self, config: dict, code_dir: Path, log_stream: str,
                    credentials: dict) -> dict:
        name = config["FunctionName"]
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TZ": ":UTC",
        }
        env.update((config.get("Environment") or {}).get("Variables") or {})
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        })
        env.update({
            "PYTHONPATH": str(REPO_ROOT),  # for localcloud.awslambda.worker only; the worker drops it
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            # keep a developer's real AWS configuration out of the function
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": _version(config),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.get('Runtime', 'python3.12')}",
            "LAMBDA_TASK_ROOT": str(code_dir),
        })
        return env

    def _start_worker(self, config: dict) -> tuple[_Worker, dict | None]:
        name = config["FunctionName"]
        code_dir = self._code_dir(config["CodeSha256"])
        stream = _log_stream_name(_version(config))
        credentials = self._role_credentials(config)
        lasts = credentials["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
        with self._lock:
            self._worker_keys[credentials["AccessKeyId"]] = name
        worker = _Worker(self, name, [self.python, "-m", "localcloud.awslambda.worker"],
                         self._worker_env(config, code_dir, stream, credentials),
                         str(code_dir), stream, credentials["AccessKeyId"],
                         time.monotonic() + lasts.total_seconds())
        init = {
            "type": "init", "handler": config["Handler"], "code_dir": str(code_dir),
            "function_name": name, "role_arn": config["Role"], "region": self.region,
            "account_id": self.account_id, "memory_size": config.get("MemorySize", 128),
            "log_group": f"/aws/lambda/{name}", "log_stream": stream,
            "version": _version(config),
        }
        try:
            error = worker.start(init, self.init_timeout)
            worker.init_logs = worker.take_logs()
        except queue.Empty:
            worker.stop(kill=True)
            raise InvokerError(f"{name}: the worker did not start within {self.init_timeout} s")
        except _WorkerDied:
            worker.stop(kill=True)
            tail = "\n".join(worker.stderr_tail)
            raise InvokerError(f"{name}: the worker exited while starting:\n{tail}")
        return worker, error

    def worker_pids(self, function_name: str | None = None) -> list[int]:
        """Process ids of the live workers (of one function, or all)."""
        with self._lock:
            pools = [p for k, p in self._pools.items()
                     if function_name is None or k[0] == function_name]
        return [pid for pool in pools for pid in pool.pids()]

    def warm(self, function: str) -> bool:
        """Start one worker for ``function`` (as it will be invoked, e.g. ``fn:live``)
        before its first invoke, so a local cloud's stages answer sooner after it starts.
        The worker is the one that invoke would start (same version, code, configuration
        and role credentials), kept idle for it; an invoke made while it starts waits for
        it; its init output is logged at its first invoke, as a cold start's. Does nothing
        where a worker exists or is starting. A worker whose init fails is stopped: the
        first invoke then starts its own and reports the error as it always does. True
        when a worker was left warm."""
        config = self.function_configuration(function)
        pool = self._pool((config["FunctionName"], _version(config), config["CodeSha256"],
                           _config_fingerprint(config)),
                          control_plane.split_qualifier(function)[1])
        if not pool.warm():
            return False
        try:
            worker, init_error = self._start_worker(config)
        except BaseException:
            pool.warmed(None)
            raise
        if init_error is not None:
            worker.stop(kill=True)
            pool.warmed(None)
            return False
        pool.warmed(worker)
        return True

    # --- invoking -----------------------------------------------------------------

    def invoke(self, function: str, event: Any) -> InvokeResult:
        """Invoke a function (name or ARN, either qualified by an alias or version, which
        runs that version's code and configuration) synchronously with a JSON-serializable event.

        A function error or timeout is reported in the result, never raised. Raises
        FunctionNotFound / CodeNotFound / InvokerError when the invoke cannot happen, and
        InvokeRefused for an event over Lambda's synchronous payload limit (before
        anything else is looked at, as Lambda's API refuses the request itself).
        """
        if payload_bytes(event) > MAX_REQUEST_PAYLOAD_BYTES:
            raise InvokeRefused(413, "RequestEntityTooLargeException",
                                f"Request must be smaller than {MAX_REQUEST_PAYLOAD_BYTES} "
                                "bytes for the InvokeFunction operation", str(uuid.uuid4()))
        for attempt in range(3):
            config = self.function_configuration(function)
            # The Lambda service's own calls with the role (log shipping) are checked here.
            policies = self.role_policies(config["Role"])
            timeout = float(config.get("Timeout") or 3)
            # A worker is started for one version (its environment and log stream name it).
            pool = self._pool((config["FunctionName"], _version(config), config["CodeSha256"],
                               _config_fingerprint(config)),
                              control_plane.split_qualifier(function)[1])
            try:
                worker = pool.acquire(lambda each: self._usable(each, timeout))
                break
            except _Retired:  # the function changed while we waited for a worker
                if attempt == 2:
                    raise InvokerError(f"{function} keeps changing; try again") from None
        name = config["FunctionName"]
        cold = worker is None
        init_error = None
        if cold:
            try:
                worker, init_error = self._start_worker(config)
            except BaseException:
                pool.started(None)
                raise
            pool.started(worker)
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        status, payload, error, discard = "error", None, None, False
        extra_lines: list[str] = []
        try:
            deadline_ms = int(time.time() * 1000 + timeout * 1000)
            worker.invocations += 1
            worker.send({"type": "invoke", "id": request_id, "event": event,
                         "deadline_ms": deadline_ms})
            try:
                message = worker.receive(timeout)
                while message.get("id") != request_id:  # a stale message; skip it
                    message = worker.receive(timeout - (time.monotonic() - started))
            except queue.Empty:
                status, discard = "timeout", True
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
                error = {"errorMessage": f"{stamp}.000Z {request_id} Task timed out after "
                                         f"{timeout:.2f} seconds",
                         "errorType": "Sandbox.Timedout"}
                extra_lines.append(error["errorMessage"])
                worker.stop(kill=True)  # now, so the logs it wrote so far are all read
            except _WorkerDied as died:
                discard = True
                error = {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with "
                                         f"error: {died}",
                         "errorType": "Runtime.ExitError"}
                extra_lines.extend(worker.stderr_tail)
                extra_lines.append(error["errorMessage"])
            else:
                if message.get("status") == "ok":
                    status, payload = "ok", message.get("payload")
                    size = payload_bytes(payload)
                    if size > MAX_RESPONSE_PAYLOAD_BYTES:
                        status, payload = "error", None
                        error = {"errorMessage": f"Response payload size ({size} bytes) exceeded "
                                                 "maximum allowed payload size "
                                                 f"({MAX_RESPONSE_PAYLOAD_BYTES} bytes).",
                                 "errorType": "Function.ResponseSizeTooLarge"}
                else:
                    error = message.get("error") or {"errorMessage": "unknown error",
                                                     "errorType": "Runtime.Unknown"}
                    if error.get("errorType") == "Runtime.ExitError":
                        discard = True
        except _WorkerDied as died:  # could not even send the event
            discard = True
            error = {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with "
                                     f"error: {died}", "errorType": "Runtime.ExitError"}
        finally:
            duration_ms = (time.monotonic() - started) * 1000
            if discard:
                worker.stop(kill=True)
            lines = self._frame_logs(worker, request_id, duration_ms, config, extra_lines)
            pool.release(worker, discard=discard)
        self._ship_logs(worker, config, policies, lines)
        self._count(name, control_plane.split_qualifier(function)[1], _version(config),
                    failed=status != "ok")
        if init_error is not None and status == "error":
            log.info("%s: init error %s", name, init_error.get("errorMessage"))
        return InvokeResult(function_name=name, request_id=request_id, status=status,
                            payload=payload, error=error,
                            logs=[line for _, line in lines], duration_ms=duration_ms,
                            cold_start=cold)

    def _frame_logs(self, worker: _Worker, request_id: str, duration_ms: float, config: dict,
                    extra_lines: list[str]) -> list[tuple[int, str]]:
        now = int(time.time() * 1000)
        captured = worker.take_logs()
        init_logs, worker.init_logs = worker.init_logs, []
        start_ts = min([ts for ts, _ in captured] + [now - int(duration_ms)])
        lines: list[tuple[int, str]] = []
        if worker.invocations == 1:  # the cold start: Lambda logs the init phase first
            init_ts = min([ts for ts, _ in init_logs] + [start_ts])
            runtime = config.get("Runtime", "python3.12").replace("python", "python:")
            lines.append((init_ts, f"INIT_START Runtime Version: {runtime}"))
            lines.extend(init_logs)
        lines.append((start_ts, f"START RequestId: {request_id} Version: {_version(config)}"))
        lines.extend(sorted(captured, key=lambda item: item[0]))
        lines.extend((now, line) for line in extra_lines)
        lines.append((now, f"END RequestId: {request_id}"))
        lines.append((now, f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                           f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\t"
                           f"Memory Size: {config.get('MemorySize', 128)} MB"))
        return lines

    # --- log shipping (the Lambda service, with the function's role) ----------------

    def _authorize(self, function_name: str, role_arn: str, policies: list[dict],
                   action: str, resource: str) -> bool:
        decision = iam_eval.evaluate_identity(policies, action, resource)
        self._record(CallRecord(
            function_name=function_name, action=action, resource=resource,
            allowed=decision.allowed, decision=decision.result, source="lambda-service",
            principal=iam_eval.assumed_role_arn(role_arn, function_name),
            operation=f"logs.{action.split(':', 1)[1]}", timestamp_ms=int(time.time() * 1000)))
        if not decision.allowed:
            log.warning("%s: logs dropped: %s", function_name, iam_eval.access_denied_message(
                iam_eval.assumed_role_arn(role_arn, function_name), action, resource, decision))
        return decision.allowed

    def _ship_logs(self, worker: _Worker, config: dict, policies: list[dict],
                   lines: list[tuple[int, str]]) -> None:
        name = config["FunctionName"]
        group = f"/aws/lambda/{name}"
        try:
            try:
                self._put_logs(worker, config, policies, group, lines)
            except Exception:  # noqa: BLE001 -- the stream may be gone (the emulator reset)
                worker.stream_created = False
                self._put_logs(worker, config, policies, group, lines)
        except Exception:  # log delivery never fails an invoke
            log.exception("%s: could not ship logs to %s", name, group)

    def _put_logs(self, worker: _Worker, config: dict, policies: list[dict], group: str,
                  lines: list[tuple[int, str]]) -> None:
        name, role = config["FunctionName"], config["Role"]
        if not worker.stream_created:
            stream_arn = iam_eval.log_stream_arn(group, worker.log_stream, self.region,
                                                 self.account_id)
            if not self._plane.log_group_exists(group):
                group_arn = iam_eval.log_group_arn(group, self.region, self.account_id)
                if not self._authorize(name, role, policies, "logs:CreateLogGroup", group_arn):
                    return
                self._plane.create_log_group(group)
            if not self._authorize(name, role, policies, "logs:CreateLogStream", stream_arn):
                return
            self._plane.create_log_stream(group, worker.log_stream)
            worker.stream_created = True
        stream_arn = iam_eval.log_stream_arn(group, worker.log_stream, self.region,
                                             self.account_id)
        if not self._authorize(name, role, policies, "logs:PutLogEvents", stream_arn):
            return
        events = [{"timestamp": ts, "message": line[:256 * 1024 - 26]} for ts, line in lines if line]
        for start in range(0, len(events), 1000):
            self._plane.put_log_events(group, worker.log_stream, events[start:start + 1000])

    def _count(self, name: str, qualifier: str | None, version: str, failed: bool) -> None:
        try:
            self._plane.put_metric_data(LAMBDA_NAMESPACE, invocation_metrics(
                name, qualifier, version, failed))
        except Exception as err:  # noqa: BLE001 -- counting never fails an invoke
            log.warning("%s: could not publish its invocation metrics: %s", name, err)

    # --- lifecycle ----------------------------------------------------------------

    def close(self) -> None:
        """Stop every worker and remove the extracted code (if the invoker made the dir)."""
        self._stop_listening()
        with self._lock:
            self._closed = True
            pools = list(self._pools.values())
            self._pools.clear()
            self._current.clear()
        workers: list[_Worker] = []
        for pool in pools:
            with pool.cond:
                pool.retired = True
                idle, pool.idle = pool.idle, []
                busy = list(pool.busy)
                pool.cond.notify_all()
            for worker in idle:
                worker.request_stop()  # all at once; then wait for each
            workers.extend(idle)
            for worker in busy:
                worker.stop(kill=True)
        for worker in workers:
            worker.stop()
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> "Invoker":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
