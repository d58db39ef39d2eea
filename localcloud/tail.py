"""A stage's logs, read from the emulator's CloudWatch Logs, as `sam logs` reads AWS's.

Which groups belong to a stack is read from its state: the function's group
(``/aws/lambda/{name}``), API Gateway's execution-log group of its stage
(``API-Gateway-Execution-Logs_{restApiId}/{stage}``), every log group it declares (the
function's, the stage's access log) and every log group its resources name. Groups that
do not exist (yet) are skipped. Each line is printed as ``[stage] line``.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from infra.naming import execution_log_group_name
from localcloud.apigateway.stage_logs import log_group_of
from localcloud.engine.state import StackState

EXECUTION_LOG_PREFIX = execution_log_group_name("", "").split("/")[0]
LOG_GROUP_TYPE = "aws:cloudwatch/logGroup:LogGroup"
# Events reach a group after the invoke that wrote them, so one stamped a little before
# the newest shown can still arrive; look back this far (by eventId, never twice).
LATE_MS = 60_000


def log_groups(state: StackState) -> list[str]:
    """The log groups of a deployed stack, in a stable order, without repeats."""
    found: dict[str, None] = {}
    function = state.outputs.get("functionName")
    if function:
        found[f"/aws/lambda/{function.split(':', 1)[0]}"] = None  # an alias shares the group
    api, stage = state.outputs.get("restApiId"), state.outputs.get("stage")
    if api and stage:
        found[execution_log_group_name(api, stage)] = None
    for record in state.resources:
        if record.type == LOG_GROUP_TYPE:
            found[record.id] = None
        for text in _strings((record.inputs, record.outputs)):
            group = log_group_of(text) if text.startswith("arn:") else None
            if group:
                found[group] = None
            elif text.startswith(EXECUTION_LOG_PREFIX):
                found[text] = None
    return list(found)


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def stage_label(state: StackState) -> str:
    return str(state.outputs.get("stage") or state.stack)


def format_event(stage: str, event: dict) -> list[str]:
    """An event's message as terminal lines; Lambda joins a traceback's lines with \\r."""
    lines = re.split(r"\r\n|\r|\n", str(event.get("message", "")).rstrip("\r\n"))
    return [f"[{stage}] {line}" for line in lines]


class LogCursor:
    """What of one log group was already shown: events are new once, by eventId."""

    def __init__(self) -> None:
        self.start_ms = 0  # where the next read starts
        self._seen: dict[str, int] = {}  # eventId -> timestamp, for events since start_ms

    def fresh(self, events: Iterable[dict]) -> list[dict]:
        new = [e for e in events if e["eventId"] not in self._seen]
        for event in new:
            self._seen[event["eventId"]] = int(event["timestamp"])
        if self._seen:
            self.start_ms = max(0, max(self._seen.values()) - LATE_MS)
            self._seen = {k: ts for k, ts in self._seen.items() if ts >= self.start_ms}
        return new


@dataclass
class TailedStack:
    stack: str
    logs_client: object  # a boto3 CloudWatch Logs client for the emulator


class StageLogs:
    """The new log lines of some deployed stacks, read on each `new_lines()`."""

    def __init__(self, stacks: list[TailedStack], load_state: Callable[[str], StackState]) -> None:
        self.stacks = stacks
        self.load_state = load_state  # re-read each time: a deploy may change the groups
        self._cursors: dict[str, LogCursor] = {}

    def new_lines(self) -> list[str]:
        found: list[tuple[int, str, dict]] = []
        for tailed in self.stacks:
            state = self.load_state(tailed.stack)
            for group in log_groups(state):
                for event in self._read(tailed.logs_client, group):
                    found.append((int(event["timestamp"]), stage_label(state), event))
        found.sort(key=lambda item: item[0])
        return [line for _, stage, event in found for line in format_event(stage, event)]

    def _read(self, client, group: str) -> list[dict]:
        cursor = self._cursors.setdefault(group, LogCursor())
        events: list[dict] = []
        try:
            pages = client.get_paginator("filter_log_events").paginate(
                logGroupName=group, startTime=cursor.start_ms, interleaved=True)
            for page in pages:
                events.extend(page.get("events", []))
        except client.exceptions.ResourceNotFoundException:
            return []  # not created yet (e.g. no invoke so far)
        return cursor.fresh(events)


class LogFollower:
    """A background thread that writes each new line of `logs` until `stop()`."""

    def __init__(self, logs: StageLogs, write: Callable[[str], None], interval: float = 0.5
                 ) -> None:
        self.logs = logs
        self.write = write
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="localcloud-logs", daemon=True)

    def start(self) -> "LogFollower":
        self._thread.start()
        return self

    def _run(self) -> None:
        last_error = ""
        while not self._stop.wait(self.interval):
            try:
                lines = self.logs.new_lines()
            except Exception as err:  # noqa: BLE001 -- say so once, and keep trying
                if str(err) != last_error:
                    last_error = str(err)
                    self.write(f"[logs] cannot read the logs (will retry): {err}")
                continue
            last_error = ""
            for line in lines:
                self.write(line)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
