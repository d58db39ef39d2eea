"""Stage throttling: the token bucket on an injected clock, the settings the control
plane reads, and 429s over HTTP before the function runs, after authorization."""
from __future__ import annotations

import threading

import pytest

from localcloud import control_plane
from localcloud.apigateway.gateway import Gateway
from localcloud.apigateway.throttling import (
    StageThrottles, ThrottleSettings, TokenBucket, settings_from,
)

from .builders import (
    Caller, call, create_api, deploy_function, deploy_stage, grant_invoke, invoke_policy,
    make_caller, require_iam, send, sign, suffix,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def takes(bucket, n: int) -> list[bool]:
    return [bucket.take() for _ in range(n)]


# --- the bucket ---------------------------------------------------------------------------

def test_the_burst_then_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(ThrottleSettings(rate=1.0, burst=2), clock)
    assert takes(bucket, 3) == [True, True, False]
    clock.now += 0.5
    assert bucket.take() is False  # half a token
    clock.now += 0.5
    assert takes(bucket, 2) == [True, False]


def test_an_idle_bucket_fills_up_to_the_burst_only():
    clock = FakeClock()
    bucket = TokenBucket(ThrottleSettings(rate=10.0, burst=3), clock)
    assert takes(bucket, 3) == [True] * 3
    clock.now += 3600
    assert takes(bucket, 4) == [True, True, True, False]


def test_a_burst_of_zero_refuses_everything():
    clock = FakeClock()
    bucket = TokenBucket(ThrottleSettings(rate=5.0, burst=0), clock)
    clock.now += 10
    assert takes(bucket, 3) == [False] * 3


def test_a_clock_that_goes_back_adds_nothing():
    clock = FakeClock()
    bucket = TokenBucket(ThrottleSettings(rate=1.0, burst=1), clock)
    assert bucket.take()
    clock.now -= 50
    assert bucket.take() is False


def test_concurrent_takes_never_exceed_the_burst():
    bucket = TokenBucket(ThrottleSettings(rate=0.0, burst=50))
    granted = []
    lock = threading.Lock()

    def worker():
        mine = sum(takes(bucket, 100))
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 50


@pytest.mark.parametrize("throttling,expected", [
    (None, None),
    ({}, None),
    ({"rateLimit": 20.0, "burstLimit": 40}, ThrottleSettings(20.0, 40)),
    ({"rateLimit": -1.0, "burstLimit": -1}, None),
    ({"rateLimit": 10.0, "burstLimit": None}, None),
    ({"rateLimit": 0, "burstLimit": 0}, ThrottleSettings(0.0, 0)),
])
def test_settings_from(throttling, expected):
    assert settings_from(throttling) == expected


def test_stages_have_their_own_buckets_and_new_settings_a_new_one():
    clock = FakeClock()
    throttles = StageThrottles(clock)
    tight = {"rateLimit": 1.0, "burstLimit": 1}
    assert throttles.allow("api", "dev", tight)
    assert not throttles.allow("api", "dev", tight)
    assert throttles.allow("api", "test", tight)      # another stage
    assert throttles.allow("other", "dev", tight)     # the same name on another API
    assert throttles.allow("api", "dev", None)        # settings removed: not throttled
    assert throttles.allow("api", "dev", {"rateLimit": 1.0, "burstLimit": 2})  # changed
    assert throttles.allow("api", "dev", {"rateLimit": 1.0, "burstLimit": 2})
    assert not throttles.allow("api", "dev", {"rateLimit": 1.0, "burstLimit": 2})


# --- the settings, as the control plane reads them -------------------------------------------

@pytest.mark.parametrize("method_settings,expected", [
    (None, None),
    ({}, None),
    ({"users/GET": {"throttlingRateLimit": 1.0, "throttlingBurstLimit": 1}}, None),
    ({"*/*": {"metricsEnabled": True}}, None),
    ({"*/*": {"throttlingRateLimit": 20.0, "throttlingBurstLimit": 40}},
     {"rateLimit": 20.0, "burstLimit": 40}),
])
def test_stage_throttling_reads_the_stage_wide_method_settings(method_settings, expected):
    assert control_plane.stage_throttling(method_settings) == expected


def throttle_stage(apigw, api_id: str, stage: str, rate: float, burst: int) -> None:
    apigw.update_stage(restApiId=api_id, stageName=stage, patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(rate)},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(burst)}])


def test_both_control_plane_paths_answer_the_same_throttling(emulator, state_dir):
    s = suffix()
    fn = deploy_function(emulator, state_dir, handler="app.echo", prefix=f"cp{s}-")
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/x": ["GET"]}, name=f"throttle-plane-{s}")
    deploy_stage(apigw, state_dir, api, "plain", {"functionName": fn.name})
    deploy_stage(apigw, state_dir, api, "limited", {"functionName": fn.name})
    throttle_stage(apigw, api.id, "limited", 20, 40)
    boto = control_plane.BotoPlane(emulator.endpoint_url)
    in_process = control_plane.InProcessPlane()
    for plane in (boto, in_process):
        assert plane.stage(api.id, "plain")["throttling"] is None
        assert plane.stage(api.id, "limited")["throttling"] == {"rateLimit": 20.0,
                                                                "burstLimit": 40}


# --- over HTTP ---------------------------------------------------------------------------------

def scans(invoker, fn) -> int:
    return sum(1 for r in invoker.call_log(fn.name) if r.action == "dynamodb:Scan")


@pytest.fixture
def clocked(emulator, state_dir, invoker):
    """A gateway whose throttles read a clock the test moves: no waiting for tokens."""
    clock = FakeClock()
    with Gateway(emulator.endpoint_url, state_dir, invoker, port=0, clock=clock) as gateway:
        yield gateway, clock


def test_a_throttled_stage_answers_429_past_the_burst_and_recovers(clocked, invoker, emulator,
                                                                   state_dir):
    gateway, clock = clocked
    s = suffix()
    stage = f"thr{s}"
    fn = deploy_function(emulator, state_dir, handler="app.users", prefix=f"thr{s}-")
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/users": ["GET"]}, name=f"throttled-{s}")
    deploy_stage(apigw, state_dir, api, stage, {"functionName": fn.name})
    grant_invoke(emulator.client("lambda"), fn.name, api.id, stage, "GET", "users")
    assert call(gateway, "GET", f"/{stage}/users").status == 200  # warm, and unthrottled
    throttle_stage(apigw, api.id, stage, rate=1, burst=2)
    before = scans(invoker, fn)

    answers = [call(gateway, "GET", f"/{stage}/users") for _ in range(3)]

    assert [a.status for a in answers] == [200, 200, 429]
    refused = answers[2]
    assert refused.json() == {"message": "Too Many Requests"}
    assert refused.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert scans(invoker, fn) == before + 2  # the function never ran for the 429
    clock.now += 0.5
    assert call(gateway, "GET", f"/{stage}/users").status == 429  # half a token
    clock.now += 0.5
    assert [call(gateway, "GET", f"/{stage}/users").status for _ in range(2)] == [200, 429]
    throttle_stage(apigw, api.id, stage, rate=1, burst=50)  # re-read at once
    assert [call(gateway, "GET", f"/{stage}/users").status for _ in range(3)] == [200] * 3


def test_requests_refused_by_iam_spend_nothing_of_the_stages_rate(clocked, emulator, state_dir):
    gateway, clock = clocked
    s = suffix()
    stage = f"thriam{s}"
    fn = deploy_function(emulator, state_dir, handler="app.users", prefix=f"ti{s}-")
    apigw, iam = emulator.client("apigateway"), emulator.client("iam")
    api = create_api(apigw, {"/users": ["GET"]}, name=f"throttled-iam-{s}")
    require_iam(state_dir, deploy_stage(apigw, state_dir, api, stage, {"functionName": fn.name}))
    grant_invoke(emulator.client("lambda"), fn.name, api.id, stage, "GET", "users")
    policy = iam.create_policy(PolicyName=f"invoke-{stage}",
                               PolicyDocument=invoke_policy(api.id, stage))["Policy"]["Arn"]
    caller = make_caller(iam, policy, "throttled")
    stranger = make_caller(iam, None, "stranger")
    forger = Caller("x", "x", "x", caller.key_id, "not-the-secret")
    throttle_stage(apigw, api.id, stage, rate=1, burst=2)  # and the clock stands still
    url = f"{gateway.url}/{stage}/users"

    refused = ([call(gateway, "GET", f"/{stage}/users") for _ in range(5)]
               + [send(gateway, sign("GET", url, forger)) for _ in range(5)]
               + [send(gateway, sign("GET", url, stranger)) for _ in range(5)])

    assert [r.status for r in refused] == [403] * 15
    assert {r.headers["x-amzn-ErrorType"] for r in refused} == {
        "MissingAuthenticationTokenException", "InvalidSignatureException",
        "AccessDeniedException"}
    assert [send(gateway, sign("GET", url, caller)).status for _ in range(3)] == [200, 200, 429]
