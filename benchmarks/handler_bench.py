"""What the handler costs on top of what it cannot avoid. Figures, not assertions.

1. GET /users/{id} through the handler over the bare GetItem it makes (same client,
   same moto endpoint), target <= 1.15: the handler's own work per request.
2. Cold start of the handler over boto3's: a fresh interpreter importing the handler
   and making its DynamoDB client (what a new container does before its first
   response), over one importing boto3 and making the same client; target <= 1.2.
3. Size of the deployment archive, target <= 20 KB.

The machine is noisy, so each figure is a ratio of medians over many interleaved
batches (the best-batch ratio is printed beside it).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTION_DIR = REPO_ROOT / "function"
for _path in (FUNCTION_DIR, REPO_ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

TARGET_REQUEST_RATIO = 1.15
TARGET_COLD_START_RATIO = 1.2
TARGET_ARCHIVE_BYTES = 20 * 1024

REQUEST_ROUNDS, REQUEST_BATCH = 25, 100
COLD_RUNS = 21

_HANDLER_START = """
import time
t = time.perf_counter()
import user_service.handler
from user_service import store
store.client()
print(time.perf_counter() - t)
"""
_BOTO3_START = """
import time
t = time.perf_counter()
import boto3
boto3.client("dynamodb")
print(time.perf_counter() - t)
"""


def _verdict(value: float, target: float) -> str:
    return "meets target" if value <= target else "MISSES target"


# --- 1. per-request overhead --------------------------------------------------------------

def _get_event(user_id: str) -> dict:
    path = f"/users/{user_id}"
    return {
        "resource": "/users/{id}", "path": path, "httpMethod": "GET",
        "headers": {"Accept": "application/json", "Host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Accept": ["application/json"],
                              "Host": ["abc123.execute-api.us-east-1.amazonaws.com"]},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"id": user_id}, "stageVariables": {"functionName": "bench-user-service"},
        "requestContext": {"stage": "bench", "requestId": "bench-request", "path": f"/bench{path}",
                           "resourcePath": "/users/{id}", "httpMethod": "GET"},
        "body": None, "isBase64Encoded": False,
    }


def _time_batch(call, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n


def measure_request_ratio() -> tuple[float, float, float, float]:
    """(median ratio, best-batch ratio, handler median s, bare median s)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "TABLE_NAME": "bench-User"}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        from user_service import store
        from user_service.handler import handler

        store.reset_client()
        store.configure()  # re-read TABLE_NAME: the handler may have been imported before
        client = store.client()
        client.create_table(TableName="bench-User", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        user_id = "5f0c6a1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
        client.put_item(TableName="bench-User", Item={
            "id": {"S": user_id}, "name": {"S": "Bench"}, "email": {"S": "bench@example.com"},
            "createdAt": {"S": "2024-01-01T00:00:00.000Z"},
            "updatedAt": {"S": "2024-01-01T00:00:00.000Z"}, "version": {"N": "1"}})
        event = _get_event(user_id)
        # Exactly the call store.get_user makes.
        key = {"id": {"S": user_id}}

        def bare():
            client.get_item(TableName=store.table_name(), Key=key, ConsistentRead=True)

        def through_handler():
            response = handler(event, None)
            assert response["statusCode"] == 200, response

        # The log line is part of the handler's cost; write it to /dev/null, not a terminal.
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            for _ in range(50):  # warm connections and caches on both paths
                bare()
                through_handler()
            handler_times, bare_times = [], []
            for _ in range(REQUEST_ROUNDS):  # interleaved, so drift hits both alike
                handler_times.append(_time_batch(through_handler, REQUEST_BATCH))
                bare_times.append(_time_batch(bare, REQUEST_BATCH))
    finally:
        # Leave no trace for the next benchmark in this process: the handler's cached
        # client points at this server, which is about to stop.
        from user_service import store
        store.reset_client()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()
    handler_median, bare_median = statistics.median(handler_times), statistics.median(bare_times)
    return (handler_median / bare_median, min(handler_times) / min(bare_times),
            handler_median, bare_median)


# --- 2. cold start ------------------------------------------------------------------------

def _cold_run(code: str, code_dir: str) -> float:
    env = {**os.environ, "PYTHONPATH": code_dir, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_REGION": "us-east-1", "TABLE_NAME": "bench-User", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(REPO_ROOT),
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def measure_cold_start_ratio() -> tuple[float, float, float, float]:
    """(median ratio, best-run ratio, handler median s, boto3 median s).

    The handler runs from an unpacked copy of the archive: .py files only and no
    bytecode written, as on Lambda (read-only /var/task), so every run compiles it.
    """
    from infra.archive import read_handler_files

    with tempfile.TemporaryDirectory() as code_dir:
        for name, content in read_handler_files().items():
            target = Path(code_dir, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        # Fill the OS file cache first, then interleave so drift hits both alike.
        _cold_run(_HANDLER_START, code_dir), _cold_run(_BOTO3_START, code_dir)
        handler_times, boto3_times = [], []
        for _ in range(COLD_RUNS):
            handler_times.append(_cold_run(_HANDLER_START, code_dir))
            boto3_times.append(_cold_run(_BOTO3_START, code_dir))
    handler_median, boto3_median = statistics.median(handler_times), statistics.median(boto3_times)
    return (handler_median / boto3_median, min(handler_times) / min(boto3_times),
            handler_median, boto3_median)


# --- 3. archive size ----------------------------------------------------------------------

def measure_archive_bytes() -> int:
    from infra.archive import build_zip, read_handler_files
    return len(build_zip(read_handler_files()))


def main() -> dict:
    results = {}
    ratio, best, handler_s, bare_s = measure_request_ratio()
    results["request_ratio"] = ratio
    print(f"GET /users/{{id}} via handler / bare get_item: {ratio:.3f} "
          f"(best batch {best:.3f}; {handler_s * 1e6:.0f} us vs {bare_s * 1e6:.0f} us per request; "
          f"{REQUEST_ROUNDS}x{REQUEST_BATCH} each) target <= {TARGET_REQUEST_RATIO}: "
          f"{_verdict(ratio, TARGET_REQUEST_RATIO)}", flush=True)
    ratio, best, handler_s, boto3_s = measure_cold_start_ratio()
    results["cold_start_ratio"] = ratio
    print(f"cold start, import handler + client / import boto3 + client: {ratio:.3f} "
          f"(best run {best:.3f}; median {handler_s * 1e3:.0f} ms vs {boto3_s * 1e3:.0f} ms; "
          f"{COLD_RUNS} fresh processes each) target <= {TARGET_COLD_START_RATIO}: "
          f"{_verdict(ratio, TARGET_COLD_START_RATIO)}", flush=True)
    size = measure_archive_bytes()
    results["archive_bytes"] = size
    print(f"deployment archive: {size} bytes ({size / 1024:.1f} KB) "
          f"target <= {TARGET_ARCHIVE_BYTES // 1024} KB: {_verdict(size, TARGET_ARCHIVE_BYTES)}",
          flush=True)
    print(json.dumps(results), flush=True)
    return results


if __name__ == "__main__":
    main()
