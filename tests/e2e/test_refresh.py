"""A deploy reads back what the stack's state records, as `pulumi up --refresh` does: what
the emulator no longer has (it was reset, or a resource was deleted with boto3) is dropped
from the state and created again, instead of the state file being trusted."""
from __future__ import annotations

from localcloud.cli import run_command
from promotion import commands
from promotion.local_backend import LocalBackend
from tests.e2e.conftest import call, create_user

DEPLOYMENT = "aws:apigateway/deployment:Deployment"
ARCHIVE = "aws:s3/bucketObjectv2:BucketObjectv2"


def short(pairs) -> set[tuple[str, str]]:
    return {(type_.split(":")[-1], name) for type_, name in pairs}


def created(result) -> set[tuple[str, str]]:
    return {(type_, name) for action, type_, name in result.steps if action == "created"}


def test_a_deploy_after_the_emulator_lost_everything_creates_it_again(cloud, url):
    before = {stack: cloud.store.load(stack) for stack in ("dev", "test", "prod")}
    cloud.emulator.reset()  # moto forgets every resource; the state files stay
    assert call(url("dev")).status == 403  # the caller's key went with the emulator's IAM
    for stack in ("dev", "test", "prod"):
        result = cloud.deploy(stack)
        recorded = {(r.type, r.name) for r in before[stack].resources}
        # test and prod upload the same archive key dev has just uploaded again: it is there.
        shared = {(t, n) for t, n in recorded if t == ARCHIVE} if stack != "dev" else set()
        assert set(result.gone) == recorded - shared
        assert created(result) == recorded - shared, result.steps
        assert set(result.counts()) <= {"created", "unchanged"}
        # The retained Deployment is read back like any other: a new one is made.
        assert (DEPLOYMENT, f"{stack}-deployment") in created(result)
        assert result.outputs["deploymentId"] != before[stack].outputs["deploymentId"]
        assert call(url(stack)).status == 200, stack
    user = create_user(url, "test")
    assert call(url("test", f"/users/{user['id']}")).status == 200
    for stack in ("dev", "test", "prod"):
        assert set(cloud.deploy(stack).counts()) == {"unchanged"}  # and now it is all there


def test_what_was_deleted_behind_its_back_is_created_again_and_the_rest_untouched(cloud, url):
    aws = cloud.cloud("test")
    api = cloud.store.load("dev").outputs["restApiId"]
    aws.client("lambda").delete_function(FunctionName="test-user-service")  # its alias, policy
    aws.client("apigateway").delete_stage(restApiId=api, stageName="test")  # its settings
    aws.client("logs").delete_log_group(logGroupName="/aws/apigateway/user-service/test/access")
    aws.client("dynamodb").delete_table(TableName="test-User")
    assert call(url("test")).status == 403  # no such stage

    result = cloud.deploy("test")
    expected = {("Function", "test-function"), ("Alias", "test-alias"),
                ("Permission", "test-test-invoke"),
                ("Permission", "test-test-invoke-stage-invoke"), ("Stage", "test-stage"),
                ("MethodSettings", "test-method-settings"), ("LogGroup", "test-access-logs"),
                ("Table", "test-table")}
    assert short(result.gone) == expected
    assert short(created(result)) == expected
    assert set(result.counts()) == {"created", "unchanged"}, result.steps
    user = create_user(url, "test")
    assert call(url("test", f"/users/{user['id']}")).status == 200
    assert call(url("dev")).status == 200  # the other stages were never touched


def test_a_deleted_alias_is_made_again_with_its_permission(cloud, url):
    # Deleting an alias deletes its resource policy: the stage's grant on test-user-service:live
    # went with it, and the deploy grants it again under the same statement id.
    cloud.cloud("test").client("lambda").delete_alias(FunctionName="test-user-service",
                                                      Name="live")
    assert call(url("test")).status != 200
    result = cloud.deploy("test")
    assert {("Alias", "test-alias"), ("Permission", "test-test-invoke")} <= short(
        created(result)), result.steps
    user = create_user(url, "test")
    assert call(url("test", f"/users/{user['id']}")).status == 200
    assert set(cloud.deploy("test").counts()) == {"unchanged"}


def test_a_promoted_stage_whose_pinned_deployment_vanished_is_refused_until_promoted_again(
        cloud, url, capsys):
    backend = LocalBackend(cloud.store, cloud.cloud, report=lambda line: None)
    commands.promote(backend, "test", "prod")
    pinned = cloud.store.config_overrides("prod")["user-service:promotedDeploymentId"]
    cloud.emulator.reset()
    cloud.deploy("dev")
    cloud.deploy("test")
    # The pinned Deployment was retained, but only prod's config names it: nothing can
    # make it again, and API Gateway refuses a stage on a deployment it does not have.
    # (Run as the CLI runs it, which also ends what the failed program left pending.)
    assert run_command(lambda: cloud.deploy("prod")) == 1
    assert capsys.readouterr().err.startswith(
        f"error: stage 'prod': BadRequestException: Deployment id does not exist: {pinned} "
        "is not a deployment")
    commands.promote(backend, "test", "prod")
    assert cloud.store.config_overrides("prod")["user-service:promotedDeploymentId"] != pinned
    assert call(url("prod")).status == 200
