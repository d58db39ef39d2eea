"""Re-running a stack's deploy applies the difference, as `pulumi up` would."""
from __future__ import annotations

import pytest

from infra import routes
from localcloud.engine.deployer import EmulatorProvider
from localcloud.kinds import DeployError
from localcloud.engine.state import ResourceRecord, StackState
from tests.e2e.conftest import call

import pulumi

GET_USER = routes.Route("GET", "/users/{id}")


def steps(result, action: str) -> set[tuple[str, str]]:
    return {(t.split(":")[-1], n) for a, t, n in result.steps if a == action}


def test_nothing_changed_touches_nothing(cloud):
    for stack in ("dev", "test", "prod"):
        result = cloud.deploy(stack)
        assert set(result.counts()) == {"unchanged"}, result.steps


def test_a_config_change_updates_only_what_it_changes(cloud):
    result = cloud.deploy("test", {"user-service:logRetentionDays": "30"})
    assert steps(result, "updated") == {("LogGroup", "test-logs"), ("LogGroup", "test-access-logs"),
                                        ("LogGroup", "test-execution-logs")}
    assert set(result.counts()) == {"updated", "unchanged"}
    logs = cloud.cloud("test").client("logs")
    [group] = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/test-user-service")["logGroups"]
    assert group["retentionInDays"] == 30


def test_memory_and_timeout_reach_the_version_the_stage_serves(cloud, url):
    """The stack's functionMemoryMb and functionTimeoutSeconds are the configuration of
    the version behind the alias, and the function runs with them (Lambda's REPORT line)."""
    lam = cloud.cloud("dev").client("lambda")
    before = lam.get_alias(FunctionName="dev-user-service", Name="live")["FunctionVersion"]
    try:
        result = cloud.deploy("dev", {"user-service:functionMemoryMb": "512",
                                      "user-service:functionTimeoutSeconds": "25"})
        assert ("Function", "dev-function") in steps(result, "updated")
        served = lam.get_function_configuration(FunctionName="dev-user-service", Qualifier="live")
        assert (served["MemorySize"], served["Timeout"]) == (512, 25)
        assert int(served["Version"]) == int(before) + 1  # a new version, for new settings
        assert call(url("dev")).status == 200
        reports = [e["message"] for e in cloud.cloud("dev").client("logs").filter_log_events(
            logGroupName="/aws/lambda/dev-user-service")["events"]
            if e["message"].startswith("REPORT ")]
        assert reports and reports[-1].rstrip().endswith("Memory Size: 512 MB"), reports[-1:]
    finally:
        cloud.deploy("dev")
    served = lam.get_function_configuration(FunctionName="dev-user-service", Qualifier="live")
    # Pulumi.yaml's defaults again, in yet another version (Lambda never reuses one).
    assert (served["MemorySize"], served["Timeout"]) == (256, 10)
    assert int(served["Version"]) == int(before) + 2


def test_removed_resources_are_deleted(cloud):
    result = cloud.deploy("dev", {"user-service:allowTestInvoke": "false"})
    assert steps(result, "deleted") == {("Permission", "dev-test-invoke-stage-invoke")}
    policy = cloud.cloud("dev").client("lambda").get_policy(FunctionName="dev-user-service",
                                                            Qualifier="live")
    assert "test-invoke-stage" not in policy["Policy"]
    assert call(f"{cloud.url}/dev/users").status == 200


def test_a_route_change_redeploys_keeps_the_old_snapshot_and_each_stage_moves_on_its_own(
        cloud, monkeypatch):
    apigw = cloud.cloud("dev").client("apigateway")
    api = cloud.store.load("dev").outputs["restApiId"]
    old = {s: cloud.store.load(s).outputs["deploymentId"] for s in ("dev", "test")}
    monkeypatch.setattr(routes, "ROUTES", tuple(r for r in routes.ROUTES if r != GET_USER))

    dev = cloud.deploy("dev")
    assert ("RestApi", "shared-api-rest-api") in steps(dev, "updated")
    assert ("Deployment", "dev-deployment") in steps(dev, "replaced")
    deployments = {d["id"] for d in apigw.get_deployments(restApiId=api)["items"]}
    assert old["dev"] in deployments  # retained: the history rollback chooses from
    new_dev = dev.outputs["deploymentId"]
    assert apigw.get_stage(restApiId=api, stageName="dev")["deploymentId"] == new_dev != old["dev"]

    some_user = "/users/00000000-0000-4000-8000-000000000000"
    # dev serves the new snapshot, where GET /users/{id} is gone.
    assert call(f"{cloud.url}/dev{some_user}").status == 403
    # test still serves the deployment it points at, where it exists.
    assert call(f"{cloud.url}/test{some_user}").status == 404
    cloud.deploy("test")
    assert call(f"{cloud.url}/test{some_user}").status == 403
    monkeypatch.undo()
    cloud.deploy("dev")
    cloud.deploy("test")
    assert call(f"{cloud.url}/test{some_user}").status == 404


def test_unknown_resource_type_stops_the_deploy_with_its_name(cloud):
    provider = EmulatorProvider(cloud.cloud("dev"), StackState("dev"), cloud.store)
    args = pulumi.runtime.MockResourceArgs(typ="aws:sqs/queue:Queue", name="jobs", inputs={},
                                           custom=True)
    with pytest.raises(DeployError, match=r"cannot deploy resource type aws:sqs/queue:Queue \(resource 'jobs'\)"):
        provider.new_resource(args)


def test_protected_resources_are_never_deleted(cloud):
    prod = cloud.store.load("prod")
    table = next(r for r in prod.resources if r.type == "aws:dynamodb/table:Table")
    assert table.protect
    provider = EmulatorProvider(cloud.cloud("prod"), StackState("prod", resources=[table]),
                                cloud.store)
    with pytest.raises(DeployError, match="refusing to delete protected resources"):
        provider.delete_removed()
    ddb = cloud.cloud("prod").client("dynamodb")
    assert ddb.describe_table(TableName="User")["Table"]["TableStatus"] == "ACTIVE"


def test_retained_resources_are_kept_when_removed(cloud):
    record = ResourceRecord(type="aws:apigateway/deployment:Deployment", name="gone",
                            id="x1", inputs={}, outputs={}, retain_on_delete=True)
    provider = EmulatorProvider(cloud.cloud("dev"), StackState("dev", resources=[record]),
                                cloud.store)
    provider.delete_removed()
    assert provider.steps == [("retained", record.type, "gone")]
