"""A stage's logs reach the developer: `python -m localcloud logs STACK`, and the `up`
terminal, each line prefixed by its stage."""
from __future__ import annotations

import subprocess
import sys
import time

from localcloud.engine.state import ResourceRecord, StackState
from localcloud.tail import LogCursor, format_event, log_groups


def record(type_: str, id_: str, inputs: dict | None = None) -> ResourceRecord:
    return ResourceRecord(type=type_, name=id_, id=id_, inputs=inputs or {}, outputs={})


def test_the_groups_of_a_stack_come_from_its_outputs_and_resources():
    state = StackState(
        stack="test",
        outputs={"functionName": "test-user-service:live", "restApiId": "abc123", "stage": "test"},
        resources=[
            record("aws:cloudwatch/logGroup:LogGroup", "/aws/lambda/test-user-service"),
            record("aws:apigateway/stage:Stage", "test-stage", {"accessLogSettings": {
                "destinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:/access/test"}}),
            record("aws:iam/rolePolicy:RolePolicy", "test-role-policy", {
                "resources": ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/test-user-service:*"]}),
        ])
    assert log_groups(state) == ["/aws/lambda/test-user-service",
                                 "API-Gateway-Execution-Logs_abc123/test", "/access/test"]


def test_a_stack_not_deployed_has_no_groups():
    assert log_groups(StackState(stack="dev")) == []


def test_each_event_is_shown_once_even_when_it_arrives_late():
    cursor = LogCursor()
    first = [{"eventId": "a", "timestamp": 1_000_000}, {"eventId": "b", "timestamp": 1_000_500}]
    assert cursor.fresh(first) == first
    late = {"eventId": "c", "timestamp": 1_000_100}  # stamped before b, shipped after it
    assert cursor.fresh(first + [late]) == [late]
    assert cursor.start_ms <= 1_000_000
    assert cursor.fresh(first + [late]) == []


def test_multi_line_messages_keep_their_stage_prefix():
    event = {"message": "[ERROR] KeyError: 'x'\rTraceback (most recent call last):\r  File x\n"}
    assert format_event("test", event) == [
        "[test] [ERROR] KeyError: 'x'", "[test] Traceback (most recent call last):",
        "[test]   File x"]


def localcloud(running_up, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localcloud", "--state-dir", str(running_up.state_dir), *args],
        cwd=running_up.checkout, capture_output=True, text=True, timeout=60)


def _post_user(running_up) -> None:
    assert running_up.status("dev", method="POST", headers={"Content-Type": "application/json"},
                             body=b'{"name": "Log Reader", "email": "logs@example.com"}') == 201


def test_a_line_the_function_logs_is_read_by_the_logs_command_and_shown_by_up(running_up):
    _post_user(running_up)
    # Lambda ships the function's output after the invoke; give it a moment.
    deadline, out = time.monotonic() + 30, ""
    while time.monotonic() < deadline:
        result = localcloud(running_up, "logs", "dev")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        if '"route":"POST /users"' in out:
            break
        time.sleep(0.3)
    lines = out.splitlines()
    assert any(line.startswith("[dev] START RequestId: ") for line in lines), out
    assert any(line.startswith("[dev] {") and '"route":"POST /users"' in line
               and '"status":201' in line for line in lines), out
    # The `up` terminal shows the same line as it arrives.
    shown = running_up.wait_for('"route":"POST /users"', timeout=30)
    assert shown.startswith("[dev] "), shown


def test_logs_of_an_unknown_stack_says_which_exist(running_up):
    result = localcloud(running_up, "logs", "no-such-stack")
    assert result.returncode == 1
    assert "there is no stack 'no-such-stack'; known stacks: dev" in result.stderr
    assert "Traceback" not in result.stderr
