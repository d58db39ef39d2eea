"""A canary release of prod on the local cloud, end to end: how long `promote --canary 10
--bake 10s` takes (deploying the canary, 1,000 signed requests during the bake, the bake,
completing it), and the share of those 1,000 requests the canary served. Prints figures,
asserts nothing."""
from __future__ import annotations

import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

REQUESTS, PERCENT, BAKE_S, INTERVAL_S = 1000, "10", 10.0, 5.0
# Each response says which code answered (the same wrapper the e2e tests use).
VERSIONED = '''

_unversioned_handler = handler


def handler(event, context):
    response = _unversioned_handler(event, context)
    response.setdefault("headers", {})["X-Users-Api"] = "{version}"
    return response
'''


def _checkout(root: Path, version: str) -> Path:
    from infra import archive

    copy = root / version
    shutil.copytree(archive.REPO_ROOT / "function", copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    handler = copy / archive.PACKAGE / "handler.py"
    handler.write_text(handler.read_text() + VERSIONED.replace("{version}", version))
    return copy


def _release(url: str, credentials, region: str) -> str:
    from infra.signing import signed_headers

    request = urllib.request.Request(url, headers=signed_headers(url, credentials, region))
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.headers.get("X-Users-Api") or "?"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"


def main() -> dict:
    from infra import archive
    from localcloud.session import LocalCloud
    from promotion import commands
    from promotion.bake import BakeSettings
    from promotion.health import Thresholds
    from promotion.local_backend import LocalBackend

    unthrottled = {"user-service:throttlingRateLimit": "10000",
                   "user-service:throttlingBurstLimit": "5000"}
    original = archive.FUNCTION_DIR
    with tempfile.TemporaryDirectory() as work, \
            LocalCloud(Path(work) / "state", gateway_port=0) as cloud:
        try:
            for stack in ("dev", "test", "prod"):
                cloud.store.save_config_overrides(stack, unthrottled)
            cloud.deploy_all()
            backend = LocalBackend(cloud.store, cloud.cloud, report=lambda line: None)
            archive.FUNCTION_DIR = _checkout(Path(work), "base")
            cloud.deploy("test")
            commands.promote(backend, "test", "prod", report=lambda line: None)
            archive.FUNCTION_DIR = _checkout(Path(work), "candidate")
            cloud.deploy("test")
            caller = backend.caller("prod")
            url = f"{cloud.store.load('prod').outputs['stageUrl']}/users?limit=1"
            served: Counter = Counter()
            marks: dict[str, float] = {}

            def pause(seconds: float) -> None:
                if not served:  # the bake's traffic: 1,000 requests, on its first pause
                    marks["traffic"] = time.perf_counter()
                    for _ in range(REQUESTS):
                        served[_release(url, caller.credentials, caller.region)] += 1
                    marks["traffic done"] = time.perf_counter()
                time.sleep(seconds)

            def report(line: str) -> None:
                if line.startswith("baking the canary"):
                    marks["deployed"] = time.perf_counter()
                elif line.startswith("canary verdict:"):
                    marks["verdict"] = time.perf_counter()
                    marks["verdict line"] = line

            started = time.perf_counter()
            commands.promote(backend, "test", "prod", report=report, pause=pause,
                             canary=commands.CanaryOptions(PERCENT, BakeSettings(
                                 BAKE_S, Thresholds(1.0, 20), interval_s=INTERVAL_S)))
            ended = time.perf_counter()
        finally:
            archive.FUNCTION_DIR = original
    share = 100.0 * served["candidate"] / REQUESTS
    figures = {"total_s": ended - started, "deploy_s": marks["deployed"] - started,
               "traffic_s": marks["traffic done"] - marks["traffic"],
               "bake_s": marks["verdict"] - marks["deployed"],
               "complete_s": ended - marks["verdict"], "canary_share_pct": share,
               "answers": dict(served)}
    print(f"promote --canary {PERCENT} --bake {BAKE_S:g}s, end to end: {figures['total_s']:.1f} s "
          f"(canary deployed in {figures['deploy_s']:.1f} s; baked {figures['bake_s']:.1f} s, "
          f"{REQUESTS} signed requests sent in its first {figures['traffic_s']:.1f} s; "
          f"completed in {figures['complete_s']:.1f} s)")
    print(f"the canary served {served['candidate']} of {REQUESTS} requests ({share:.1f}%, "
          f"set: {PERCENT}%); all answers: {dict(served)}")
    print(marks.get("verdict line", ""))
    return figures


if __name__ == "__main__":
    main()
