"""The invoker: warm workers, the role's policy around every AWS call, logs, failures."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from localcloud.awslambda import archives
from localcloud.awslambda.invoker import Invoker
from localcloud.invocation import FunctionNotFound

from .builders import BROKEN_IMPORT, app_zip, deploy_function, make_zip, table_arn


def test_invoke_returns_the_handlers_value_with_lambdas_environment(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.echo")
    result = invoker.invoke(fn.name, {"httpMethod": "GET", "path": "/x"})
    assert result.ok, result.error
    body = json.loads(result.payload["body"])
    assert body["function"] == fn.name
    assert body["requestId"] == result.request_id
    assert 0 < body["remaining"] <= 3000
    env = body["env"]
    assert env["TABLE_NAME"] == fn.table
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fn.name
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{fn.name}"
    assert env["AWS_ENDPOINT_URL"] == emulator.endpoint_url
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    # the role's temporary credentials (STS's ASIA keys), never a developer's real ones
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert env["PYTHONPATH"] is None  # the function does not see the repository
    assert body["sys_path0"] == env["LAMBDA_TASK_ROOT"]
    # the handler's output is in the logs, not in the protocol
    assert "app imported" in result.logs
    assert "echo GET /x" in result.logs
    assert "to stderr" in result.logs
    assert any(line.startswith("[WARNING]\t") and line.endswith("\ta warning from the handler")
               and result.request_id in line for line in result.logs)
    assert result.logs[0] == "INIT_START Runtime Version: python:3.12"
    assert result.logs[-1].startswith(f"REPORT RequestId: {result.request_id}")


def test_warm_worker_is_reused_and_code_update_starts_a_new_one(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.count")
    first, second = invoker.invoke(fn.name, {}), invoker.invoke(fn.name, {})
    assert first.cold_start and not second.cold_start
    assert second.payload == {"count": 2, "pid": first.payload["pid"]}
    assert invoker.worker_pids(fn.name) == [first.payload["pid"]]

    new_zip = app_zip("\nVERSION = 2\n")
    new_sha = archives.save_archive(state_dir, new_zip)
    updated = emulator.client("lambda").update_function_code(FunctionName=fn.name, ZipFile=new_zip)
    assert updated["CodeSha256"] == new_sha != fn.code_sha256
    third = invoker.invoke(fn.name, {})
    assert third.cold_start and third.payload["count"] == 1
    assert third.payload["pid"] != first.payload["pid"]
    assert invoker.worker_pids(fn.name) == [third.payload["pid"]]  # the old worker is stopped


def test_configuration_update_starts_a_new_worker(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.count")
    before = invoker.invoke(fn.name, {})
    emulator.client("lambda").update_function_configuration(
        FunctionName=fn.name, Environment={"Variables": {"TABLE_NAME": "other-User"}})
    after = invoker.invoke(fn.name, {})
    assert after.cold_start and after.payload["pid"] != before.payload["pid"]


def test_the_context_has_the_functions_memory_and_timeout(emulator, state_dir, invoker):
    # Lambda's defaults (128 MB, 3 s), then a function given more of both: what the
    # handler's context and environment say follows the configuration of what is invoked.
    plain = deploy_function(emulator, state_dir, handler="app.echo")
    body = json.loads(invoker.invoke(plain.name, {}).payload["body"])
    assert body["memory"] == body["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert 0 < body["remaining"] <= 3000
    sized = deploy_function(emulator, state_dir, handler="app.echo", memory=1024, timeout=900)
    result = invoker.invoke(sized.name, {})
    body = json.loads(result.payload["body"])
    assert body["memory"] == body["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "1024"
    # The deadline is 900 s after the invoke began; far more than the default's 3 s are left.
    assert 3000 < body["remaining"] <= 900_000
    assert result.logs[-1].endswith("\tMemory Size: 1024 MB")


def test_handler_exception_is_a_function_error_and_the_worker_stays(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.boom")
    result = invoker.invoke(fn.name, {})
    assert result.function_error and not result.ok
    assert result.error["errorType"] == "ValueError"
    assert result.error["errorMessage"] == "boom"
    assert any("app.py" in frame for frame in result.error["stackTrace"])
    assert "about to fail" in result.logs
    assert any(line.startswith("[ERROR] ValueError: boom") for line in result.logs)
    assert not invoker.invoke(fn.name, {}).cold_start


def test_unserializable_result_import_error_and_exit(emulator, state_dir, invoker):
    not_json = deploy_function(emulator, state_dir, handler="app.not_json")
    result = invoker.invoke(not_json.name, {})
    assert result.error["errorType"] == "Runtime.MarshalError"

    broken = deploy_function(emulator, state_dir, handler="app.echo",
                             zip_bytes=make_zip({"app.py": BROKEN_IMPORT}))
    result = invoker.invoke(broken.name, {})
    assert result.error["errorType"] == "Runtime.ImportModuleError"
    assert "does_not_exist_anywhere" in result.error["errorMessage"]

    missing = deploy_function(emulator, state_dir, handler="app.no_such_function")
    assert invoker.invoke(missing.name, {}).error["errorType"] == "Runtime.HandlerNotFound"

    exits = deploy_function(emulator, state_dir, handler="app.exits")
    result = invoker.invoke(exits.name, {})
    assert result.error["errorType"] == "Runtime.ExitError"
    assert invoker.invoke(exits.name, {}).cold_start  # a fresh worker after the exit


def test_timeout_kills_the_worker_and_the_next_invoke_starts_fresh(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.sleepy", timeout=1)
    warm = invoker.invoke(fn.name, {"seconds": 0})
    assert warm.ok
    result = invoker.invoke(fn.name, {"seconds": 30})
    assert result.timed_out
    assert 900 <= result.duration_ms < 5000
    assert "Task timed out after 1.00 seconds" in result.error["errorMessage"]
    assert "going to sleep" in result.logs
    assert invoker.worker_pids(fn.name) == []
    again = invoker.invoke(fn.name, {"seconds": 0})
    assert again.ok and again.cold_start


def test_unknown_function_raises(invoker):
    with pytest.raises(FunctionNotFound):
        invoker.invoke("no-such-function", {})


def test_role_denies_what_its_policy_does_not_grant(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.put_then_delete",
                         actions=("dynamodb:PutItem",))
    result = invoker.invoke(fn.name, {})
    assert result.payload["put"] == "ok"
    denied = result.payload["delete"]
    assert denied["code"] == "AccessDeniedException"
    assert denied["message"] == (
        f"User: arn:aws:sts::123456789012:assumed-role/{fn.role_name}/{fn.name} is not "
        f"authorized to perform: dynamodb:DeleteItem on resource: {table_arn(fn.table)} "
        "because no identity-based policy allows the dynamodb:DeleteItem action")
    # the allowed call reached the emulator; the denied one never did
    item = emulator.client("dynamodb").get_item(TableName=fn.table, Key={"id": {"S": "p1"}})
    assert item["Item"]["id"]["S"] == "p1"
    calls = [(c.action, c.resource, c.allowed) for c in invoker.call_log(fn.name)
             if c.source == "function"]
    assert calls == [("dynamodb:PutItem", table_arn(fn.table), True),
                     ("dynamodb:DeleteItem", table_arn(fn.table), False)]


def test_policy_changes_apply_to_a_warm_worker(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.put_then_delete",
                         actions=("dynamodb:PutItem",))
    assert invoker.invoke(fn.name, {}).payload["delete"]["code"] == "AccessDeniedException"
    from .builders import role_policy
    emulator.client("iam").put_role_policy(
        RoleName=fn.role_name, PolicyName="function", PolicyDocument=json.dumps(
            role_policy(fn.table, fn.name, ("dynamodb:PutItem", "dynamodb:DeleteItem"))))
    result = invoker.invoke(fn.name, {})
    assert not result.cold_start and result.payload == {"put": "ok", "delete": "ok"}


def test_logs_reach_cloudwatch_logs_with_the_roles_permission(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.echo")
    first = invoker.invoke(fn.name, {"path": "/one"})
    second = invoker.invoke(fn.name, {"path": "/two"})
    logs = emulator.client("logs")
    group = f"/aws/lambda/{fn.name}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1  # one stream per execution environment
    name = streams[0]["logStreamName"]
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", name)
    messages = [e["message"] for e in logs.get_log_events(
        logGroupName=group, logStreamName=name, startFromHead=True)["events"]]
    assert messages == first.logs + second.logs
    shipped = [(c.action, c.allowed) for c in invoker.call_log(fn.name) if c.source == "lambda-service"]
    assert shipped == [("logs:CreateLogStream", True), ("logs:PutLogEvents", True),
                       ("logs:PutLogEvents", True)]
    stream_arn = (f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:log-stream:{name}")
    assert {c.resource for c in invoker.call_log(fn.name) if c.source == "lambda-service"} == {
        stream_arn}


def test_logs_are_dropped_when_the_role_may_not_write_them(emulator, state_dir, invoker):
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}
    fn = deploy_function(emulator, state_dir, handler="app.echo", policy=policy)
    result = invoker.invoke(fn.name, {"path": "/x"})
    assert result.ok and "echo None /x" in result.logs
    streams = emulator.client("logs").describe_log_streams(
        logGroupName=f"/aws/lambda/{fn.name}")["logStreams"]
    assert streams == []
    assert [(c.action, c.allowed, c.decision) for c in invoker.call_log(fn.name)] == [
        ("logs:CreateLogStream", False, "ImplicitDeny")]


def test_missing_log_group_needs_create_log_group(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.echo", log_group=False)
    invoker.invoke(fn.name, {})
    assert [(c.action, c.allowed) for c in invoker.call_log(fn.name)] == [
        ("logs:CreateLogGroup", False)]
    groups = emulator.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{fn.name}")["logGroups"]
    assert groups == []


def test_concurrent_invokes_use_several_workers(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.sleepy")
    results = []

    def call():
        results.append(invoker.invoke(fn.name, {"seconds": 0.3}))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and all(r.ok for r in results), [r.error for r in results]
    assert 1 < len(invoker.worker_pids(fn.name)) <= invoker.max_workers_per_function


def test_a_new_invoker_removes_the_work_dirs_of_gone_processes_and_only_theirs(
        emulator, tmp_path, monkeypatch):
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # the temp folder, for this test
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    living = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        def work_dir(name: str):
            code = temp / name / "code" / "abc"
            code.mkdir(parents=True)
            (code / "app.py").write_text("x = 1\n")
            return temp / name

        killed = work_dir(f"localcloud-{gone}-k1ll3d_x")
        running = work_dir(f"localcloud-{living.pid}-runn1ng")
        not_ours = work_dir("localcloud-notapid")
        with Invoker(emulator.endpoint_url, tmp_path / "state") as invoker:
            assert not killed.exists()
            assert (running / "code" / "abc" / "app.py").read_text() == "x = 1\n"
            assert not_ours.is_dir()
            own = invoker.work_dir
            assert own.parent == temp and own.name.startswith(f"localcloud-{os.getpid()}-")
            with Invoker(emulator.endpoint_url, tmp_path / "state"):
                assert own.is_dir()  # a running process's: kept by the next invoker
        assert not own.exists()  # an invoker removes its own when closed
        assert running.is_dir() and not_ours.is_dir()
    finally:
        living.kill()
        living.wait()


def test_a_warmed_worker_serves_the_first_invoke_with_its_init_logs(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.echo")
    assert invoker.warm(fn.name)
    [pid] = invoker.worker_pids(fn.name)
    assert not invoker.warm(fn.name)  # one is there already: no second
    assert invoker.worker_pids(fn.name) == [pid]
    result = invoker.invoke(fn.name, {"httpMethod": "GET", "path": "/x"})
    assert result.ok and not result.cold_start
    assert invoker.worker_pids(fn.name) == [pid]
    body = json.loads(result.payload["body"])
    # the worker invoke would have started: the role's credentials, the function's env
    assert body["env"]["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert body["env"]["TABLE_NAME"] == fn.table
    # its init phase is logged with its first invoke, as a cold start's is, and only then
    assert result.logs[0] == "INIT_START Runtime Version: python:3.12"
    assert "app imported" in result.logs
    again = invoker.invoke(fn.name, {"httpMethod": "GET", "path": "/x"})
    assert "INIT_START Runtime Version: python:3.12" not in again.logs
    assert "app imported" not in again.logs


def test_a_worker_whose_init_fails_is_not_kept_warm(emulator, state_dir, invoker):
    broken = deploy_function(emulator, state_dir, handler="app.echo",
                             zip_bytes=make_zip({"app.py": BROKEN_IMPORT}))
    assert not invoker.warm(broken.name)
    assert invoker.worker_pids(broken.name) == []
    result = invoker.invoke(broken.name, {})
    assert result.cold_start and result.error["errorType"] == "Runtime.ImportModuleError"


def test_warming_an_unknown_function_raises(invoker):
    with pytest.raises(FunctionNotFound):
        invoker.warm("no-such-function")


def test_an_invoke_made_while_a_worker_is_warming_waits_for_it(emulator, state_dir, invoker):
    from .test_session import children_of

    fn = deploy_function(emulator, state_dir, handler="app.count")
    before = children_of(os.getpid())
    warming = threading.Thread(target=invoker.warm, args=(fn.name,))
    warming.start()
    while warming.is_alive() and not children_of(os.getpid()) - before:
        time.sleep(0.005)  # until its process exists (it is still importing the handler)
    result = invoker.invoke(fn.name, {})
    warming.join()
    assert result.ok and not result.cold_start
    assert invoker.worker_pids(fn.name) == [result.payload["pid"]]  # no second worker
