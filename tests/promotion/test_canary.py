"""The canary's pure parts: the health rule (a table), what starting, completing and
aborting write, what the operator types, the bake loop on a clock of the test's own, and
the metrics asked of CloudWatch."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from promotion import canary as canaries
from promotion.bake import BakeSettings, Watch, bake
from promotion.decisions import (CANARY_KEYS, HISTORY, PINNED_CODE, PINNED_DEPLOYMENT,
                                 PINNED_VERSION, PRODUCTION, Pins, Refusal, choose_entry,
                                 history_lines, plan_promotion, plan_release, plan_rollback,
                                 previous_entry)
from promotion.health import (ABORT, BAKE, COMPLETE, Observation, ReleaseCounts, Thresholds,
                              judge)
from promotion.metrics import queries, read_observation, window

A, B = "a" * 64, "b" * 64
NOW = "2026-11-21T10:00:00Z"
RULE = Thresholds(max_error_rate=1.0, min_requests=20)


def seen(canary=(0, 0, 0, 0), base=(0, 0, 0, 0), smoke=()) -> Observation:
    return Observation(ReleaseCounts(*canary), ReleaseCounts(*base), tuple(smoke))


# --- the health rule ---------------------------------------------------------------------------
# (canary requests, 5XX, invocations, Lambda errors), the same for the base; deadline passed?

@pytest.mark.parametrize("observed,deadline,action,reason", [
    # Too few canary requests to judge: bake on up to the deadline, then abort with that reason.
    (seen((5, 0, 5, 0), (95, 0, 95, 0)), False, BAKE, "5 of the 20 canary requests"),
    (seen((5, 0, 5, 0), (95, 0, 95, 0)), True, ABORT,
     "too few canary requests to judge: 5 in the bake time, 20 needed"),
    (seen(), True, ABORT, "too few canary requests to judge: 0 in the bake time"),
    # An error rate over the threshold: abort at once, deadline or not.
    (seen((40, 20, 40, 0), (40, 0, 40, 0)), False, ABORT,
     "the canary's 5XX rate is 50.0% (20 of 40) against the base's 0.0% (0 of 40)"),
    (seen((3, 3, 0, 0), (30, 0, 30, 0)), False, ABORT,  # 3 errors of a 20-request sample
     "the canary's 5XX rate is 100.0% (3 of 3)"),
    (seen((40, 0, 40, 4), (40, 0, 40, 0)), False, ABORT,
     "the canary's Lambda error rate is 10.0% (4 of 40)"),
    # A healthy canary completes at the deadline, and only then.
    (seen((25, 0, 25, 0), (225, 0, 225, 0)), False, BAKE, "25 of the 20"),
    (seen((25, 0, 25, 0), (225, 0, 225, 0)), True, COMPLETE, "healthy: 25 canary requests"),
    # Without API Gateway's canary count (its dimension is not documented), its 5XX are
    # uncounted too: never complete; say what is missing when the alias ran enough.
    (seen((0, 0, 25, 0), (225, 0, 225, 0)), True, ABORT,
     "API Gateway counted none of the canary's requests, yet its alias ran 25 times"),
    (seen((0, 0, 5, 0), (225, 0, 225, 0)), True, ABORT,
     "too few canary requests to judge: 0 in the bake time"),
    # Exactly the minimum sample is enough; one fewer is not.
    (seen((20, 0, 20, 0), (180, 0, 180, 0)), True, COMPLETE, "healthy: 20 canary requests"),
    (seen((19, 0, 19, 0), (180, 0, 180, 0)), True, ABORT, "19 in the bake time, 20 needed"),
    # Against the base's: errors the base has as much are not the canary's.
    (seen((100, 5, 100, 0), (900, 45, 900, 0)), True, COMPLETE, "healthy"),
    # At the threshold is not over it (1 error in 100 against none: 1 point).
    (seen((100, 1, 100, 0), (900, 0, 900, 0)), True, COMPLETE, "healthy"),
    (seen((100, 2, 100, 0), (900, 0, 900, 0)), True, ABORT, "more than 1 percentage points"),
    # A canary's errors count against at least the minimum sample: with the defaults (1
    # point, 20 requests) one 5XX in 2 requests is 5% of 20, over 1 point: abort at once.
    (seen((2, 1, 2, 0), (18, 0, 18, 0)), False, ABORT, "the canary's 5XX rate is 50.0% (1 of 2)"),
])
def test_the_health_rule(observed, deadline, action, reason):
    verdict = judge(observed, deadline, RULE)
    assert verdict.action == action
    assert reason in verdict.reason


@pytest.mark.parametrize("observed,action", [
    # 1 error in 2 requests, judged against 20 (5%), is within 10 points: keep baking; judged
    # alone (50%) it would abort.
    (seen((2, 1, 2, 0), (18, 0, 18, 0)), BAKE),
    (seen((2, 0, 2, 1), (18, 0, 18, 0)), BAKE),
    # 3 errors in 3 requests are 15% of 20, over 10 points: abort before the sample is full.
    (seen((3, 3, 3, 0), (27, 0, 27, 0)), ABORT),
    # Past the minimum sample, the canary's own count: 3 of 25 is 12%, over 10 points.
    (seen((25, 3, 25, 0), (225, 0, 225, 0)), ABORT),
])
def test_early_errors_count_against_the_minimum_sample(observed, action):
    assert judge(observed, False, Thresholds(max_error_rate=10.0, min_requests=20)).action \
        == action


@pytest.mark.parametrize("observed,deadline,action,reason", [
    (seen((30, 0, 30, 0), (30, 0, 30, 0), ["GET https://x/prod/users?limit=1: HTTP 502"]),
     False, ABORT, "the stage failed its smoke check during the bake: GET https://x/prod"),
])
def test_a_failed_smoke_check_aborts(observed, deadline, action, reason):
    verdict = judge(observed, deadline, RULE)
    assert verdict.action == action
    assert reason in verdict.reason


# --- what the operator types ---------------------------------------------------------------------

@pytest.mark.parametrize("text,seconds", [("30s", 30), ("10m", 600), ("1h", 3600),
                                          ("1m30s", 90), ("2h5m", 7500)])
def test_bake_durations(text, seconds):
    assert canaries.parse_duration(text) == seconds
    assert canaries.parse_duration(canaries.duration_text(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "5x", "0s", "1m-5s", "1.5m", "m"])
def test_bake_durations_that_cannot_be_parsed(text):
    with pytest.raises(ValueError, match="duration|no time at all"):
        canaries.parse_duration(text)


@pytest.mark.parametrize("text", ["0", "100", "100.0", "250", "-5", "1e1", "ten", "10%", ""])
def test_a_canary_share_outside_0_to_100_or_not_a_number(text):
    with pytest.raises(ValueError):
        canaries.parse_percent(text)


def test_a_canary_share_is_kept_as_written():
    assert [canaries.parse_percent(t) for t in ("10", "2.5", "99.9")] == ["10", "2.5", "99.9"]
    assert canaries.parse_rate("0") == 0.0 and canaries.parse_rate("100") == 100.0
    with pytest.raises(ValueError):
        canaries.parse_rate("101")


# --- start, complete, abort ---------------------------------------------------------------------

PROD = {PRODUCTION: "true", PINNED_DEPLOYMENT: "dbase1", PINNED_CODE: A, PINNED_VERSION: "",
        HISTORY: json.dumps([{"at": "t0", "action": "promote", "from": "test",
                              "deploymentId": "dbase1", "codeHash": A, "functionVersion": "3"}])}
PROD_OUT = {"deploymentId": "dbase1", "codeHash": A, "functionVersion": "3", "canary": {}}
CANDIDATE = Pins("dcand1", B)


def started() -> dict[str, str]:
    change = canaries.plan_start("prod", PROD, PROD_OUT, CANDIDATE, "10", NOW)
    return {**PROD, **{k: v for k, v in change.values().items() if v is not None}}


def test_a_canary_start_pins_the_version_live_serves_and_writes_the_canary_pin():
    change = canaries.plan_start("prod", PROD, PROD_OUT, CANDIDATE, "10", NOW)
    assert change.values() == {
        PINNED_DEPLOYMENT: "dbase1", PINNED_CODE: A, PINNED_VERSION: "3",
        HISTORY: PROD[HISTORY],
        "user-service:canaryDeploymentId": "dcand1", "user-service:canaryCodeHash": B,
        "user-service:canaryPercent": "10", "user-service:canaryStartedAt": NOW}


@pytest.mark.parametrize("config,outputs,allow,message", [
    ({**PROD, PRODUCTION: "false"}, PROD_OUT, False,
     "prod is not a production stack: a canary release is for production traffic; pass "
     "--allow-from-production"),
    ({PRODUCTION: "true"}, PROD_OUT, False, "prod is not pinned yet"),
    ({PRODUCTION: "false"}, PROD_OUT, True, "prod is not pinned yet"),
    ({**PROD}, {"deploymentId": "dbase1"}, False, "prod has no functionVersion output"),
])
def test_a_canary_start_is_refused(config, outputs, allow, message):
    with pytest.raises(Refusal, match=message):
        canaries.plan_start("prod", config, outputs, CANDIDATE, "10", NOW, allow)


def test_a_second_canary_promote_rollback_or_release_refuses_while_one_runs():
    running = started()
    named = "`python -m promotion canary complete --stack prod --local`"
    with pytest.raises(Refusal, match="a canary release already runs on prod"):
        canaries.plan_start("prod", running, PROD_OUT, Pins("dother", A), "5", NOW,
                            suffix=" --local")
    test_out = {"deploymentId": "dcand1", "codeHash": B}
    for refused in (
            lambda: plan_promotion("test", "prod", test_out, {}, PROD_OUT, running,
                                   {"dcand1"}, NOW, suffix=" --local"),
            lambda: plan_rollback("prod", PROD_OUT, running, {"dbase1"}, None, NOW,
                                  suffix=" --local"),
            lambda: plan_release("prod", running, suffix=" --local")):
        with pytest.raises(Refusal) as caught:
            refused()
        assert "a canary release runs on prod" in str(caught.value) and named in str(caught.value)


def test_completing_makes_the_candidate_the_pins_in_one_history_entry():
    outputs = {**PROD_OUT, "canary": {"deploymentId": "dcand1", "codeHash": B,
                                      "functionVersion": "4"}}
    change = canaries.plan_complete("prod", started(), outputs, "2026-11-21T10:10:00Z")
    values = change.values()
    assert (values[PINNED_DEPLOYMENT], values[PINNED_CODE], values[PINNED_VERSION]) == \
        ("dcand1", B, "4")
    assert all(values[key] is None for key in CANARY_KEYS)
    history = json.loads(values[HISTORY])
    assert len(history) == 2 and history[-1] == {
        "at": "2026-11-21T10:10:00Z", "action": "canary", "from": "canary",
        "deploymentId": "dcand1", "codeHash": B, "functionVersion": "4", "percent": "10"}
    # A rollback after it goes back to the entry before it.
    served = {"deploymentId": "dcand1", "codeHash": B, "functionVersion": "4"}
    back = plan_rollback("prod", served, {**started(), **values}, {"dbase1", "dcand1"}, None,
                         NOW)
    assert back.pins == Pins("dbase1", A, "3")


def test_a_canary_the_stack_never_served_cannot_be_completed():
    with pytest.raises(Refusal, match="it never served the canary, so it cannot be "
                                      "completed. Abort it"):
        canaries.plan_complete("prod", started(), PROD_OUT, NOW)


def test_aborting_keeps_the_pins_and_records_the_attempt_which_rollback_walks_past():
    change = canaries.plan_abort("prod", started(), "2026-11-21T10:02:00Z", "too many 5XX")
    values = change.values()
    assert (values[PINNED_DEPLOYMENT], values[PINNED_CODE], values[PINNED_VERSION]) == \
        ("dbase1", A, "3")
    assert all(values[key] is None for key in CANARY_KEYS)
    history = json.loads(values[HISTORY])
    assert history[-1]["action"] == "canary-aborted"
    assert history[-1]["reason"] == "too many 5XX" and history[-1]["deploymentId"] == "dcand1"
    # What prod serves is the entry before the aborted one, and nothing is before that.
    assert previous_entry(history, 0) is None
    lines = history_lines("prod", {HISTORY: values[HISTORY]}, PROD_OUT)
    assert lines[0].startswith("  #1") and "aborted: too many 5XX" in lines[0]
    assert lines[1].startswith("* #2")
    with pytest.raises(Refusal, match="#1 is an aborted canary release"):
        choose_entry(history, "#1", "prod", "history --stack prod")
    with pytest.raises(Refusal, match="no canary release runs on prod"):
        canaries.plan_abort("prod", PROD, NOW, "by hand")


# --- the bake loop ----------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now, self.pauses = 0.0, []

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_a_healthy_bake_judges_each_round_and_completes_at_the_deadline():
    clock, lines = Clock(), []
    rounds = iter([seen((0, 0, 0, 0), (5, 0, 5, 0)), seen((12, 0, 12, 0), (60, 0, 60, 0)),
                   seen((24, 0, 24, 0), (120, 0, 120, 0))])
    smokes = []
    verdict = bake(Watch(lambda: next(rounds), lambda: smokes.append(1) or ""),
                   BakeSettings(60.0, RULE, interval_s=30.0), lines.append, clock, clock.pause)
    assert verdict.action == COMPLETE
    assert clock.pauses == [30.0, 30.0] and len(smokes) == 3
    assert lines[1] == ("  baked 30s of 1m: canary 12 requests, 0 5XX (0.0%), Lambda 0 errors "
                        "in 12; base 60 requests, 0 5XX (0.0%), Lambda 0 errors in 60")


def test_the_last_pause_ends_at_the_deadline_and_a_failing_smoke_check_aborts():
    clock = Clock()
    settings = BakeSettings(45.0, RULE, interval_s=30.0)
    verdict = bake(Watch(lambda: seen((30, 0, 30, 0), (30, 0, 30, 0)), lambda: ""),
                   settings, lambda line: None, clock, clock.pause)
    assert verdict.action == COMPLETE and clock.pauses == [30.0, 15.0]
    answers = iter(["", "GET x: HTTP 500"])
    verdict = bake(Watch(lambda: seen((30, 0, 30, 0), (30, 0, 30, 0)), lambda: next(answers)),
                   settings, lambda line: None, Clock(), lambda seconds: None)
    assert verdict.action == ABORT and "GET x: HTTP 500" in verdict.reason


# --- the metrics asked of CloudWatch ------------------------------------------------------------

def test_the_queries_name_awss_metrics_and_dimensions():
    asked = queries("user-service", "prod", "user-service")
    assert asked["canary_requests"]["Metric"] == {
        "Namespace": "AWS/ApiGateway", "MetricName": "Count",
        "Dimensions": [{"Name": "ApiName", "Value": "user-service"},
                       {"Name": "Stage", "Value": "prod/Canary"}]}
    assert asked["base_errors"]["Metric"]["MetricName"] == "5XXError"
    assert asked["base_errors"]["Metric"]["Dimensions"][1] == {"Name": "Stage", "Value": "prod"}
    assert asked["canary_function_errors"]["Metric"] == {
        "Namespace": "AWS/Lambda", "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": "user-service"},
                       {"Name": "Resource", "Value": "user-service:canary"}]}
    assert asked["base_invocations"]["Metric"]["Dimensions"][1]["Value"] == "user-service:live"
    assert {q["Stat"] for q in asked.values()} == {"Sum"}


class CloudWatch:
    """A CloudWatch client's answer to GetMetricData, in two pages."""

    def __init__(self) -> None:
        self.asked = []

    def get_metric_data(self, **arguments):
        self.asked.append(arguments)
        if "NextToken" not in arguments:
            return {"MetricDataResults": [{"Id": "canary_requests", "Values": [3.0, 4.0]},
                                          {"Id": "canary_errors", "Values": [1.0]}],
                    "NextToken": "more"}
        return {"MetricDataResults": [{"Id": "base_requests", "Values": [50.0]},
                                      {"Id": "base_invocations", "Values": [49.0, 1.0]}]}


def test_the_counts_are_sums_over_every_page_and_period():
    client = CloudWatch()
    start = datetime(2026, 11, 21, 10, 0, 30, 500, tzinfo=timezone.utc)
    end = datetime(2026, 11, 21, 10, 4, 10, tzinfo=timezone.utc)
    observed = read_observation(client, "user-service", "prod", "user-service", start, end)
    assert observed == seen((7, 1, 0, 0), (50, 0, 50, 0))
    first = client.asked[0]
    assert (first["StartTime"], first["EndTime"]) == window(start, end) == (
        datetime(2026, 11, 21, 10, 0, 30, tzinfo=timezone.utc),
        datetime(2026, 11, 21, 10, 5, 0, tzinfo=timezone.utc))
    assert client.asked[1]["NextToken"] == "more" and len(first["MetricDataQueries"]) == 8
