"""Cost of a request through the local gateway over a direct call of the handler,
requests per second with 8 concurrent clients, and how this process's resident memory
and thread count change over that load. Prints figures, asserts nothing."""
from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from infra.archive import FUNCTION_DIR

ROUNDS, BATCH = 15, 20
CLIENTS, LOAD_SECONDS = 8, 3.0
TARGET_RATIO = 1.3  # issue 19, point 4 (1.75-1.86 when issue 19 was filed)


def _batch(call, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n


def _get(url: str, headers: dict[str, str]) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as reply:
        reply.read()
        assert reply.status == 200, reply.status


def _rss_mb() -> float | None:
    """This process's resident memory (Linux), else None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def main() -> dict:
    from infra.signing import signed_headers
    from localcloud.emulator import REGION
    from localcloud.iam.callers import stage_credentials
    from localcloud.session import LocalCloud

    with tempfile.TemporaryDirectory() as state, LocalCloud(Path(state), gateway_port=0) as cloud:
        # The gateway's own cost is measured, not dev's throttle (10/s): lift it to the
        # account-level default the config allows.
        cloud.deploy("dev", {"user-service:throttlingRateLimit": "10000",
                             "user-service:throttlingBurstLimit": "5000"})
        # Every method requires SigV4: sign as dev's local caller. A signature stays valid
        # for 5 minutes, so one signed GET is sent again and again; the gateway checks it
        # (signature recomputed, caller's policies evaluated) on every request.
        caller = stage_credentials(cloud.store.dir, "dev")
        body = json.dumps({"name": "Bench", "email": "bench@example.com"}).encode()
        create = urllib.request.Request(
            f"{cloud.url}/dev/users", method="POST", data=body, headers=signed_headers(
                f"{cloud.url}/dev/users", caller, REGION, "POST", body,
                {"Content-Type": "application/json"}))
        with urllib.request.urlopen(create, timeout=30) as reply:
            user_id = json.loads(reply.read())["id"]
        url = f"{cloud.url}/dev/users/{user_id}"
        signed = signed_headers(url, caller, REGION)

        # The same function, called directly in this process against the same emulator,
        # signed as its role as its workers are (so its DynamoDB calls pass the emulator's
        # front check on both sides).
        role = cloud.cloud("dev").client("lambda").get_function_configuration(
            FunctionName="dev-user-service")["Role"]
        session = cloud.emulator.client("sts").assume_role(
            RoleArn=role, RoleSessionName="dev-user-service")["Credentials"]
        os.environ.update({"AWS_ENDPOINT_URL": cloud.emulator.endpoint_url,
                           "TABLE_NAME": "dev-User", "AWS_ACCESS_KEY_ID": session["AccessKeyId"],
                           "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
                           "AWS_SESSION_TOKEN": session["SessionToken"],
                           "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"})
        sys.path.insert(0, str(FUNCTION_DIR))
        from user_service import store
        from user_service.handler import handler
        store.configure()  # re-read TABLE_NAME: an earlier benchmark may have imported it
        event = {"resource": "/users/{id}", "path": f"/users/{user_id}", "httpMethod": "GET",
                 "headers": {}, "multiValueHeaders": {}, "queryStringParameters": None,
                 "multiValueQueryStringParameters": None, "pathParameters": {"id": user_id},
                 "stageVariables": {"functionName": "dev-user-service"},
                 "requestContext": {"stage": "dev", "requestId": "bench",
                                    "resourcePath": "/users/{id}", "httpMethod": "GET"},
                 "body": None, "isBase64Encoded": False}

        def direct():
            assert handler(event, None)["statusCode"] == 200

        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            for _ in range(20):
                direct()
                _get(url, signed)
            gateway_times, direct_times = [], []
            for _ in range(ROUNDS):  # interleaved, so drift hits both alike
                gateway_times.append(_batch(lambda: _get(url, signed), BATCH))
                direct_times.append(_batch(direct, BATCH))

        done = [0] * CLIENTS
        deadline = time.perf_counter() + LOAD_SECONDS

        def client(index: int) -> None:
            while time.perf_counter() < deadline:
                _get(url, signed)
                done[index] += 1

        rss_before, threads_before = _rss_mb(), threading.active_count()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rps = sum(done) / (time.perf_counter() - started)
        rss_after, threads_after = _rss_mb(), threading.active_count()

    ratio = statistics.median(gateway_times) / statistics.median(direct_times)
    load = " ".join(f"{each:.1f}" for each in os.getloadavg())
    print("signed GET /users/{id}: through the local gateway (a new HTTP connection per "
          "request, signed as dev's caller; the gateway recomputes the signature, evaluates "
          "the caller's policies and the function's invoke permission, throttles, logs, and "
          "the function's worker runs the handler, whose GetItem is signed as its role and "
          "checked by the emulator's front check) / the handler called directly in this "
          "process (its GetItem signed as the same role, through the same front check)")
    print(f"  {ratio:.2f} (target <= {TARGET_RATIO}; {statistics.median(gateway_times) * 1e3:.2f} ms "
          f"vs {statistics.median(direct_times) * 1e3:.2f} ms, medians of {ROUNDS} interleaved "
          f"batches of {BATCH}; load average {load})")
    print(f"requests per second through the gateway, {CLIENTS} concurrent clients: {rps:.0f}")
    results = {"gateway_over_direct": round(ratio, 3), "requests_per_second": round(rps, 1),
               "requests_under_load": sum(done), "threads_before_load": threads_before,
               "threads_after_load": threads_after}
    if rss_before is not None and rss_after is not None:
        print(f"resident memory over {sum(done)} requests: {rss_before:.0f} -> "
              f"{rss_after:.0f} MB; threads {threads_before} -> {threads_after}")
        results.update(rss_mb_before_load=round(rss_before, 1), rss_mb_after_load=round(rss_after, 1))
    print(json.dumps(results), flush=True)
    return results


if __name__ == "__main__":
    main()
