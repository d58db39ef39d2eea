"""What `canary status` says when a stage's canary settings and its config disagree, and
a canary whose alias runs other bytes than the candidate's archive, on the local cloud:
each time the tool's line is checked as a user sees it, and then what that line claims
(the patch or command it names does what it says, prod serves what it served)."""
from __future__ import annotations

import io
import json
import zipfile

import pytest

from promotion import canary as canaries
from promotion import commands
from promotion.decisions import CANARY_KEYS, HISTORY, PIN_KEYS, Pins
from tests.e2e.test_canary import Bake, canary, no_canary_left, promoted, versions  # noqa: F401
from tests.e2e.test_promotion import backend, checkout, ok, served  # noqa: F401


def stage(cloud, stack: str = "prod") -> dict:
    outputs = cloud.store.load(stack).outputs
    return cloud.cloud(stack).client("apigateway").get_stage(
        restApiId=outputs["restApiId"], stageName=outputs["stage"])


def patch_stage(cloud, operations: list[dict], stack: str = "prod") -> None:
    """An UpdateStage made outside the tool and the program (an operator's boto3 or
    AWS CLI call against the emulator)."""
    outputs = cloud.store.load(stack).outputs
    cloud.cloud(stack).client("apigateway").update_stage(
        restApiId=outputs["restApiId"], stageName=outputs["stage"],
        patchOperations=operations)


@pytest.fixture
def operators_canary(cloud, promoted):
    """prod's stage given canary settings outside the tool, as the console's "Create
    canary" does: on the stage's own deployment (`replace /canarySettings/percentTraffic`
    on a stage without one starts it there); removed afterwards, whatever the test did."""
    patch_stage(cloud, [{"op": "replace", "path": "/canarySettings/percentTraffic",
                         "value": "25"}])
    assert stage(cloud)["canarySettings"]["percentTraffic"] == 25.0
    assert not set(CANARY_KEYS) & set(cloud.store.config_overrides("prod"))
    yield promoted
    if "canarySettings" in stage(cloud):
        patch_stage(cloud, [{"op": "remove", "path": "/canarySettings"}])


def test_status_names_canary_settings_made_outside_the_tool_and_how_to_remove_them(
        cloud, operators_canary):
    """A deploy would not remove them (it diffs against the recorded state, which never
    saw them: the local engine's refresh reads back only whether a resource exists, and
    `pulumi up` without --refresh likewise): status names the patch that does."""
    api = cloud.store.load("prod").outputs["restApiId"]
    out = ok(cloud, "canary", "status", "--stack", "prod")
    assert out.startswith(f"prod's stage carries canary settings its config does not "
                          f"(deployment {operators_canary[0]}, 25.0%): they were made "
                          "outside this tool. Remove them: `AWS_SHARED_CREDENTIALS_FILE=")
    assert (f" aws --profile deployer --endpoint-url {cloud.cloud('prod').endpoint_url} "
            f"--region us-east-1 apigateway update-stage --rest-api-id {api} --stage-name "
            "prod --patch-operations op=remove,path=/canarySettings` (the local cloud's "
            "deploy re-creates only what was deleted") in out
    # A deploy leaves them, as said; the named patch (sent as the deployer) removes them.
    cloud.deploy("prod")
    assert stage(cloud)["canarySettings"]["percentTraffic"] == 25.0
    patch_stage(cloud, [{"op": "remove", "path": "/canarySettings"}])
    assert "canarySettings" not in stage(cloud)
    assert served(cloud, "prod") == operators_canary
    assert ok(cloud, "canary", "status", "--stack", "prod") == \
        "no canary release runs on prod\n"


def test_status_of_a_canary_pin_nothing_serves_and_its_abort_hint_records_the_abort(
        cloud, backend, promoted):
    # promote --canary writes the canary pin before the update that deploys it; here that
    # update never ran (the tool died, or the update failed before anything was made).
    test = cloud.store.load("test").outputs
    change = canaries.plan_start("prod", backend.config("prod"),
                                 cloud.store.load("prod").outputs,
                                 Pins(test["deploymentId"], test["codeHash"]), "10",
                                 commands.now())
    backend.set_config("prod", change.values())
    assert set(CANARY_KEYS) <= set(cloud.store.config_overrides("prod"))
    assert "canarySettings" not in stage(cloud)

    out = ok(cloud, "canary", "status", "--stack", "prod")
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert lines[0].startswith(f"a canary release runs on prod: deployment {test['deploymentId']}")
    assert lines[1] == (
        "  but prod's stage carries no canary settings: the update that deploys it did not "
        "finish, the local cloud started again (empty since), or they were removed outside "
        "this tool; nothing serves the canary. "
        "Record it as aborted: `python -m promotion canary abort --stack prod --local`")

    # The hint, as a user runs it.
    out = ok(cloud, "canary", "abort", "--stack", "prod")
    assert "(nothing of the canary was deployed, so prod was not updated)" in out
    after = cloud.store.config_overrides("prod")
    assert not set(CANARY_KEYS) & set(after)
    assert set(PIN_KEYS) <= set(after)
    aborted = json.loads(after[HISTORY])[-1]
    assert aborted["action"] == "canary-aborted"
    assert aborted["reason"] == "aborted by hand (canary abort)"
    assert aborted["deploymentId"] == test["deploymentId"]
    assert served(cloud, "prod") == promoted
    assert versions(cloud) == {"v1"}
    assert ok(cloud, "canary", "status", "--stack", "prod") == "no canary release runs on prod\n"


def other_archive() -> bytes:
    """A valid function archive with other bytes than any checkout's."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("user_service/__init__.py", "")
        archive.writestr("user_service/handler.py",
                         "def handler(event, context):\n"
                         "    return {'statusCode': 200, 'body': '[]', "
                         "'headers': {'X-Users-Api': 'replaced'}}\n")
    return buffer.getvalue()


def test_a_canary_whose_archive_holds_other_bytes_is_aborted_before_it_bakes(
        cloud, backend, promoted):
    # The candidate's archive is replaced in the artifacts bucket after test ran it (anyone
    # with s3:PutObject on the bucket can): its key still names the bytes test ran.
    test = cloud.store.load("test").outputs
    key = f"archives/{test['codeHash']}.zip"
    s3 = cloud.cloud("prod").client("s3")
    bucket = cloud.store.load("prod").outputs["artifactBucket"]
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=other_archive())
    try:
        bake = Bake(cloud)
        commands.promote(backend, "test", "prod", canary=canary("50"), report=bake.report,
                         clock=bake.clock, pause=bake.pause)
    finally:
        s3.put_object(Bucket=bucket, Key=key, Body=original)
    verdict = [line for line in bake.reports if line.startswith("canary verdict:")]
    assert len(verdict) == 1, bake.reports
    assert verdict[0].startswith(
        "canary verdict: abort: the alias canary does not run the candidate's archive (")
    assert verdict[0].endswith(f"): archives/{test['codeHash']}.zip holds other bytes than "
                               "its name says")
    assert bake.answers == []  # it never baked: no traffic was sent to judge it
    assert served(cloud, "prod") == promoted
    assert versions(cloud) == {"v1"}
    no_canary_left(cloud)
    aborted = json.loads(cloud.store.config_overrides("prod")[HISTORY])[-1]
    assert aborted["action"] == "canary-aborted"
    assert aborted["reason"].startswith(
        "the alias canary does not run the candidate's archive (")
    assert aborted["deploymentId"] == test["deploymentId"]
