"""Canary releases of prod on the local cloud, end to end: the real program deploys the
canary (its version, alias, permission and the stage's canary settings), the gateway
splits the traffic (seeded), the invoker and the gateway count each release in the
emulator's CloudWatch, and the promotion tool reads those counts through the same code
as on AWS, judges them, and completes or aborts on its own.

A bake here runs on a clock of the test's own: each pause of the bake sends the traffic
the canary is judged by, and moves the clock on by the pause, so nothing waits on time.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from infra import metrics
from promotion import commands
from promotion.backends import BackendError
from promotion.bake import BakeSettings
from promotion.decisions import CANARY_KEYS, HISTORY, PINNED_DEPLOYMENT, Refusal
from promotion.health import Thresholds
from tests.e2e.test_access_logs import access_lines
from tests.e2e.test_promotion import backend, checkout, cli, ok, served, signed_get  # noqa: F401

# Prod answers 500 to GET /users from this code; test (another table) answers 200, so the
# promotion's checks of test pass and only prod's canary shows the fault.
FAILS_IN_PROD = '''

import os as _os

_prod_handler = handler


def handler(event, context):
    if _os.environ.get("TABLE_NAME") == "User" and event.get("resource") == "/users" \\
            and event.get("httpMethod") == "GET":
        return {"statusCode": 500, "body": '{"message": "broken in prod"}'}
    return _prod_handler(event, context)
'''
THRESHOLDS = Thresholds(max_error_rate=1.0, min_requests=10)


class Bake:
    """A bake's clock and pause: each pause sends `requests` signed GETs to prod (what it
    answered is kept) and moves the clock on."""

    def __init__(self, cloud, requests: int = 40, path: str = "/users?limit=1") -> None:
        self.cloud, self.requests, self.path = cloud, requests, path
        self.now, self.answers, self.reports = 0.0, [], []

    def clock(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        for _ in range(self.requests):
            status, headers = signed_get(self.cloud, "prod", self.path)
            self.answers.append((status, headers.get("X-Users-Api")))
        self.now += seconds

    def report(self, line: str) -> None:
        self.reports.append(line)


def canary(percent: str = "50", bake_s: float = 60.0) -> commands.CanaryOptions:
    return commands.CanaryOptions(percent, BakeSettings(bake_s, THRESHOLDS, interval_s=30.0))


def versions(cloud, n: int = 20) -> set:
    return {signed_get(cloud, "prod", "/users?limit=1")[1].get("X-Users-Api") for _ in range(n)}


def no_canary_left(cloud) -> None:
    """Nothing of a canary remains: no canary pin, no stage settings, no alias, no grant."""
    prod = cloud.cloud("prod")
    outputs = cloud.store.load("prod").outputs
    assert not set(CANARY_KEYS) & set(cloud.store.config_overrides("prod"))
    stage = prod.client("apigateway").get_stage(restApiId=outputs["restApiId"], stageName="prod")
    assert "canarySettings" not in stage
    aliases = prod.client("lambda").list_aliases(FunctionName="user-service")["Aliases"]
    assert [a["Name"] for a in aliases] == ["live"]
    assert outputs["canary"] == {}


@pytest.fixture
def promoted(cloud, backend, checkout):  # noqa: F811
    """prod promoted to v1 (pinned), test holding v2: the candidate."""
    checkout("v1")
    cloud.deploy("test")
    commands.promote(backend, "test", "prod", report=lambda line: None)
    checkout("v2")
    cloud.deploy("test")
    cloud.gateway.canary_random.seed(15)
    return served(cloud, "prod")


def test_a_healthy_canary_serves_both_versions_then_completes_and_prod_serves_the_new_code(
        cloud, backend, promoted):
    bake = Bake(cloud)
    commands.promote(backend, "test", "prod", canary=canary("50"), report=bake.report,
                     clock=bake.clock, pause=bake.pause)
    first_40 = bake.answers[:40]
    assert {status for status, _ in first_40} == {200}
    assert {version for _, version in first_40} == {"v1", "v2"}
    assert any("canary verdict: complete: healthy" in line for line in bake.reports)
    assert any("baked 30s of 1m: canary " in line and "requests" in line
               for line in bake.reports)
    assert versions(cloud) == {"v2"}
    test = served(cloud, "test")
    assert served(cloud, "prod")[:2] == test[:2]
    no_canary_left(cloud)
    history = json.loads(cloud.store.config_overrides("prod")[HISTORY])
    assert [e["action"] for e in history[-2:]] == ["promote", "canary"]
    assert history[-1]["percent"] == "50" and history[-1]["deploymentId"] == test[0]
    # The completed canary's entry records the definition prod's stage now serves, so
    # verify finds prod serving exactly its pins.
    assert history[-1]["definitionHash"]
    assert ok(cloud, "verify", "--stack", "prod").splitlines()[-1] == \
        "prod serves exactly its pins"

    # A rollback after a completed canary goes back to the entry before it.
    ok(cloud, "rollback", "--stack", "prod")
    assert served(cloud, "prod") == promoted
    assert versions(cloud) == {"v1"}


def test_a_canary_answering_500_is_aborted_at_once_and_prod_serves_only_the_old_code(
        cloud, backend, promoted, checkout):  # noqa: F811
    checkout("v2-fails-in-prod", extra=FAILS_IN_PROD)
    cloud.deploy("test")
    bake = Bake(cloud, path="/users")
    commands.promote(backend, "test", "prod", canary=canary("50", bake_s=600.0),
                     report=bake.report, clock=bake.clock, pause=bake.pause)
    statuses = [status for status, _ in bake.answers]
    assert 500 in statuses and 200 in statuses
    assert {version for status, version in bake.answers if status == 200} == {"v1"}
    verdict = [line for line in bake.reports if line.startswith("canary verdict:")]
    assert len(verdict) == 1 and "abort: the canary's 5XX rate is" in verdict[0]
    assert bake.now < 600.0  # aborted at once, not at the deadline
    assert served(cloud, "prod") == promoted
    assert versions(cloud) == {"v1"}
    no_canary_left(cloud)
    aborted = json.loads(cloud.store.config_overrides("prod")[HISTORY])[-1]
    assert aborted["action"] == "canary-aborted" and "5XX" in aborted["reason"]
    out = ok(cloud, "history", "--stack", "prod")
    assert "canary release at 50%, aborted: the canary's 5XX rate" in out


def test_the_canarys_requests_go_to_its_own_log_groups_and_metrics(cloud, backend, promoted):
    bake = Bake(cloud, requests=20)

    def stop_after_traffic(seconds: float) -> None:
        bake.pause(seconds)
        raise KeyboardInterrupt  # the operator's Ctrl-C, mid-bake
    with pytest.raises(BackendError, match="the bake was interrupted; the canary on prod "
                                           "stays as it is"):
        # This is about where the canary's requests are logged and counted, not the rule: no
        # error rate aborts it (in full-suite runs the bake sometimes ended before its first
        # pause, likely on the 5XX counts an earlier test of this module left in the same
        # minute of the emulator's CloudWatch), and no smoke checks.
        options = commands.CanaryOptions("50", BakeSettings(
            60.0, Thresholds(max_error_rate=100.0, min_requests=THRESHOLDS.min_requests),
            interval_s=30.0))
        commands.promote(backend, "test", "prod", skip_smoke=True, canary=options,
                         report=bake.report, clock=bake.clock, pause=stop_after_traffic)
    outputs = cloud.store.load("prod").outputs
    candidate = outputs["canary"]["deploymentId"]
    lines = [json.loads(line) for line in access_lines(cloud, "prod")]
    served_by = {(line["deploymentId"], line["isCanaryRequest"]) for line in lines[-20:]}
    assert served_by == {(promoted[0], "false"), (candidate, "true")}
    logs = cloud.cloud("prod").client("logs")
    canary_lines = [json.loads(e["message"]) for e in logs.filter_log_events(
        logGroupName="/aws/apigateway/user-service/prod/access/Canary")["events"]]
    assert canary_lines and {line["isCanaryRequest"] for line in canary_lines} == {"true"}
    assert {line["requestId"] for line in canary_lines} <= {line["requestId"] for line in lines}
    # The counts the health rule read, as CloudWatch holds them under AWS's names.
    seen = backend.observe_canary("prod", outputs, datetime.now(timezone.utc)
                                  - timedelta(minutes=5), datetime.now(timezone.utc))
    canary_served = sum(1 for line in lines[-20:] if line["isCanaryRequest"] == "true")
    assert seen.canary.requests >= canary_served > 0
    assert seen.canary.invocations >= canary_served and seen.base.invocations > 0
    cloudwatch = cloud.cloud("prod").client("cloudwatch")
    listed = {tuple((d["Name"], d["Value"]) for d in m["Dimensions"])
              for m in cloudwatch.list_metrics(Namespace="AWS/ApiGateway",
                                               MetricName="Count")["Metrics"]}
    assert (("ApiName", "user-service"), ("Stage", metrics.canary_stage("prod"))) in listed

    # The tool died mid-bake: the canary stays, status says so and what to run.
    out = ok(cloud, "canary", "status", "--stack", "prod")
    assert "a canary release runs on prod" in out and "the stage serves it" in out
    assert "`python -m promotion canary complete --stack prod --local`" in out
    # A second promote and a rollback refuse, naming the command that ends it.
    before = cloud.store.config_overrides("prod"), served(cloud, "prod")
    for argv in (("promote", "--from", "test", "--to", "prod"),
                 ("rollback", "--stack", "prod"),
                 ("promote", "--from", "test", "--to", "prod", "--canary", "10")):
        code, _, err = cli(cloud, *argv)
        assert code == 1 and "`python -m promotion canary complete --stack prod --local`" in err
    assert (cloud.store.config_overrides("prod"), served(cloud, "prod")) == before
    # API Gateway refuses to point the stage at a third deployment while it has a canary.
    third = cloud.store.load("dev").outputs["deploymentId"]
    from localcloud.kinds import DeployError
    with pytest.raises(DeployError, match="canary settings: it cannot be associated with "
                                          f"the non-canary deployment {third}"):
        cloud.deploy("prod", {PINNED_DEPLOYMENT: third})
    # Ended by hand.
    ok(cloud, "canary", "complete", "--stack", "prod")
    assert versions(cloud) == {"v2"}
    no_canary_left(cloud)


def test_a_canary_without_its_alias_permission_fails_only_the_canarys_requests(
        cloud, backend, promoted):
    """The program always grants the alias canary its own permission (tests/infra); a
    canary without it is what the local cloud would show: the canary's requests are 500
    with the execution log's line, the base's are served, and the rule aborts it."""
    bake = Bake(cloud, requests=0)
    lam = cloud.cloud("prod").client("lambda")
    grants = []

    def drop_the_grant_then_call(seconds: float) -> None:
        if not bake.answers:
            grants.extend(r for r in cloud.store.load("prod").resources
                          if r.type == "aws:lambda/permission:Permission"
                          and r.inputs.get("qualifier") == "canary")
            lam.remove_permission(FunctionName="user-service", Qualifier="canary",
                                  StatementId="apigateway-prod")
            cloud.gateway.clear_execution_log()
            bake.requests = 30
        bake.pause(seconds)
    commands.promote(backend, "test", "prod", canary=canary("50"), report=bake.report,
                     clock=bake.clock, pause=drop_the_grant_then_call)
    assert grants[-1].inputs["qualifier"] == "canary"  # the program had declared it
    statuses = [status for status, _ in bake.answers]
    assert 500 in statuses and 200 in statuses
    assert {version for status, version in bake.answers if status == 200} == {"v1"}
    refused = [e for e in cloud.gateway.execution_log
               if e["message"] == "Execution failed due to configuration error: "
                                  "Invalid permissions on Lambda function"]
    assert refused and {e["canary"] for e in refused} == {True}
    assert any("canary verdict: abort: the canary's 5XX rate" in line for line in bake.reports)
    no_canary_left(cloud)
    assert versions(cloud) == {"v1"}


def test_bad_canary_input_is_refused_before_anything_changes(cloud, backend, promoted):
    before = {stack: (cloud.store.config_overrides(stack), served(cloud, stack))
              for stack in ("test", "prod")}
    for argv, message in (
            (("promote", "--from", "dev", "--to", "test", "--canary", "10"),
             "test is not a production stack: a canary release is for production traffic; "
             "pass --allow-from-production"),
            (("promote", "--from", "dev", "--to", "test", "--canary", "10",
              "--allow-from-production"), "test is not pinned yet")):
        code, _, err = cli(cloud, *argv)
        assert code == 1 and message in err, err
    assert {stack: (cloud.store.config_overrides(stack), served(cloud, stack))
            for stack in ("test", "prod")} == before
    with pytest.raises(Refusal, match="no canary release runs on prod"):
        commands.abort_canary(backend, "prod", "by hand", report=lambda line: None)
    assert ok(cloud, "canary", "status", "--stack", "prod").strip() == \
        "no canary release runs on prod"


def test_the_canary_is_added_and_removed_in_order(cloud, backend, promoted):
    """Added: the version (the function's update), the alias, its permission, then the
    stage's settings; removed: the stage's settings first, then the permission, then the
    alias (the engine deletes last, newest first)."""
    from promotion import canary as canaries
    from promotion.decisions import Pins

    test = cloud.store.load("test").outputs
    change = canaries.plan_start("prod", backend.config("prod"), cloud.store.load("prod").outputs,
                                 Pins(test["deploymentId"], test["codeHash"]), "10",
                                 commands.now())
    added = cloud.deploy("prod", {k: v for k, v in change.values().items() if v is not None})
    steps = [(action, name) for action, _, name in added.steps]
    order = [steps.index(step) for step in (
        ("updated", "prod-function"), ("created", "prod-canary-alias"),
        ("created", "prod-canary-prod-invoke"), ("updated", "prod-stage"))]
    assert order == sorted(order), steps
    # The pins as they were (live's version pinned, as an abort leaves them), no canary pin.
    removed = cloud.deploy("prod", {k: v for k, v in change.values().items()
                                    if k not in CANARY_KEYS})
    steps = [(action, name) for action, _, name in removed.steps]
    order = [steps.index(step) for step in (
        ("updated", "prod-stage"), ("deleted", "prod-canary-prod-invoke"),
        ("deleted", "prod-canary-alias"))]
    assert order == sorted(order), steps
    no_canary_left(cloud)
