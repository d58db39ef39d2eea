"""What API Gateway writes to CloudWatch Logs for a stage: one access-log line per request,
in the format the stage's access log settings give, to their destination group; and the
execution log (`API-Gateway-Execution-Logs_{api id}/{stage}`) at the stage's logging
level (ERROR: failures only; INFO: every step). A request its canary served goes to the
canary's groups as well, the stage's names with `/Canary` appended ("reported to a
production stage CloudWatch Logs log group as well as a canary-specific CloudWatch Logs
log group. The same applies to access logging": developer guide, canary-release).

`render_access_line` is pure; `StageLogWriter` writes through the control plane (moto's
logs backend in process, boto3 otherwise), creating each stream once.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid

from infra.access_log import QUOTED
from infra.naming import canary_log_group_name, execution_log_group_name

log = logging.getLogger("localcloud.gateway")

_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]+)")
LEVELS = {"OFF": 0, "ERROR": 1, "INFO": 2}


def render_access_line(format_: str, context: dict[str, object]) -> str:
    """The format with each `$context.x.y` replaced as API Gateway substitutes it: the value
    of context["x.y"] as it is, unescaped ("-" when it has none), and a variable that comes
    quoted (`$context.error.messageString`) as a JSON string of the value it quotes. So a
    format that quotes a free-text value itself breaks on a `"`, as it does on AWS."""
    def value(match: re.Match) -> str:
        variable = f"$context.{match.group(1)}"
        quoted = variable in QUOTED
        found = context.get(QUOTED[variable].removeprefix("$context.") if quoted
                            else match.group(1))
        text = "-" if found is None or found == "" else str(found)
        return json.dumps(text) if quoted else text
    return _CONTEXT_VARIABLE.sub(value, format_)


def log_group_of(destination_arn: str) -> str | None:
    """The group name in `arn:aws:logs:{region}:{account}:log-group:{name}` (maybe `:*`)."""
    _, marker, name = destination_arn.partition(":log-group:")
    if not marker or not name:
        return None
    return name[:-2] if name.endswith(":*") else name


def logs_at(level: str | None, severity: str) -> bool:
    """Whether a stage at `level` writes an execution line of `severity` (ERROR or INFO)."""
    return LEVELS.get((level or "OFF").upper(), 0) >= LEVELS[severity]


class StageLogWriter:
    """Writes stage log lines to the emulator's CloudWatch Logs; never fails a request."""

    def __init__(self, plane) -> None:
        self._plane = plane
        self._streams: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        # One stream per gateway process and group, as API Gateway uses one per host.
        self._stream = f"localcloud-{uuid.uuid4().hex[:12]}"

    def write(self, group: str, message: str, *, create_group: bool) -> None:
        for attempt in range(2):  # once more when a remembered stream has gone
            try:
                self._put(group, message, create_group)
                return
            except Exception as err:  # noqa: BLE001 -- a log write must never fail a request
                with self._lock:
                    self._streams.discard((group, self._stream))
                if attempt:
                    log.warning("could not write a stage log line to %s: %s", group, err)

    def _put(self, group: str, message: str, create_group: bool) -> None:
        with self._lock:
            if (group, self._stream) not in self._streams:
                if not self._plane.log_group_exists(group):
                    if not create_group:
                        return  # an access-log destination must exist; AWS drops it too
                    self._plane.create_log_group(group)
                self._plane.create_log_stream(group, self._stream)
                self._streams.add((group, self._stream))
        self._plane.put_log_events(group, self._stream, [
            {"timestamp": int(time.time() * 1000), "message": message}])

    def access(self, settings: dict | None, context: dict[str, object],
               canary: bool = False) -> None:
        if not settings or not settings.get("destinationArn"):
            return
        group = log_group_of(settings["destinationArn"])
        if group:
            line = render_access_line(settings.get("format") or "", context)
            for each in (group, canary_log_group_name(group)) if canary else (group,):
                self.write(each, line, create_group=False)

    def execution(self, api_id: str, stage: str, level: str | None, severity: str,
                  request_id: str, message: str, canary: bool = False) -> None:
        # API Gateway creates the execution log group itself when it first writes.
        if logs_at(level, severity):
            group = execution_log_group_name(api_id, stage)
            for each in (group, canary_log_group_name(group)) if canary else (group,):
                self.write(each, f"({request_id}) {message}", create_group=True)
