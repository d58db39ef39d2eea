"""The rules the program follows for a promoted stage: it serves the pinned Deployment and
runs the pinned archive (by hash, from the artifacts bucket), never this checkout's code."""
from __future__ import annotations

import base64
import hashlib
import json

from infra import archive
from infra.config import parse_stage_config
from tests.infra.conftest import deploy_stacks, with_archives
from tests.infra.mocks import Account
from tests.infra.test_config import config_of, problems

CHECKOUT = archive.build_zip(archive.read_handler_files())
CODE_HASH = hashlib.sha256(CHECKOUT).hexdigest()
# Code another checkout built and a stage uploaded earlier: not this checkout's.
OTHER = archive.build_zip({"user_service/handler.py": b"def handler(event, context):\n"
                                                      b"    return {'statusCode': 204}\n"})
OTHER_CODE = hashlib.sha256(OTHER).hexdigest()


def lambda_sha256(body: bytes) -> str:
    """Lambda's CodeSha256 of an archive: the base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def pins(deployment_id: str, code_hash: str = CODE_HASH, version: str = "") -> dict[str, str]:
    return {"user-service:promotedDeploymentId": deployment_id,
            "user-service:promotedCodeHash": code_hash,
            "user-service:promotedFunctionVersion": version}


def test_a_pinned_stage_serves_the_promoted_deployment_and_declares_none_of_its_own():
    account = Account()
    plain = deploy_stacks(account=account)
    tested = plain["test"].outputs["deploymentId"]
    promoted = deploy_stacks(overrides={"prod": pins(tested)}, account=account)
    prod = promoted["prod"]
    assert prod.one("aws:apigateway/stage:Stage").inputs["deployment"] == tested
    assert prod.outputs["deploymentId"] == tested
    assert not prod.of_type("aws:apigateway/deployment:Deployment")
    # Prod runs the very bytes test ran: Lambda's hash of this checkout's archive.
    assert {run.one("aws:lambda/function:Function").outputs["codeSha256"]
            for run in (promoted["test"], prod)} == {lambda_sha256(CHECKOUT)}
    # Without a pin (the first deploy) the stage serves its own.
    own = plain["prod"].one("aws:apigateway/deployment:Deployment")
    assert plain["prod"].one("aws:apigateway/stage:Stage").inputs["deployment"] == own.id


def test_a_pinned_stage_runs_the_pinned_archive_whatever_the_checkout_holds():
    prod = deploy_stacks(overrides={"prod": pins("abc123", OTHER_CODE)},
                         account=with_archives(OTHER))["prod"]
    function = prod.one("aws:lambda/function:Function")
    assert function.inputs["s3Key"] == f"archives/{OTHER_CODE}.zip"
    assert function.outputs["codeSha256"] == lambda_sha256(OTHER)
    assert not prod.of_type("aws:s3/bucketObjectv2:BucketObjectv2")  # uploads nothing
    assert prod.outputs["codeHash"] == OTHER_CODE
    # prod's first version, published for that code, is what the alias serves.
    assert prod.one("aws:lambda/alias:Alias").inputs["functionVersion"] == "1"
    assert prod.outputs["functionVersion"] == "1"


def test_a_rollback_pin_moves_the_alias_to_that_version():
    account = with_archives(OTHER)
    account.publish_versions("user-service", 7)  # prod's versions 1 to 7, published before
    prod = deploy_stacks(overrides={"prod": pins("abc123", OTHER_CODE, "7")},
                         account=account)["prod"]
    # The update publishes version 8 for the pinned code; the alias stays on 7.
    assert prod.one("aws:lambda/function:Function").outputs["version"] == "8"
    assert prod.one("aws:lambda/alias:Alias").inputs["functionVersion"] == "7"
    assert prod.outputs["functionVersion"] == "7"
    assert prod.outputs["pins"] == {"deploymentId": "abc123", "codeHash": OTHER_CODE,
                                    "functionVersion": "7"}


def test_pins_go_together_and_are_well_formed():
    assert "set both or neither" in problems("prod", promotedDeploymentId="abc123")
    assert "not an API Gateway deployment id" in problems(
        "prod", promotedDeploymentId="abc-123!", promotedCodeHash=CODE_HASH)
    assert "64-hex" in problems("prod", promotedDeploymentId="abc123", promotedCodeHash="xyz")
    assert "not a published Lambda version" in problems(
        "prod", promotedDeploymentId="abc123", promotedCodeHash=CODE_HASH,
        promotedFunctionVersion="$LATEST")
    assert "without promotedCodeHash" in problems("prod", promotedFunctionVersion="3")


def test_history_must_be_what_the_promotion_tool_writes():
    assert "must be a JSON list" in problems("prod", deploymentHistory="{oops")
    assert "entries" in problems("prod", deploymentHistory=json.dumps([{"id": "x"}]))
    entries = [{"deploymentId": "abc123", "codeHash": CODE_HASH, "functionVersion": "2",
                "action": "promote", "from": "test", "at": "2026-11-21T00:00:00Z"}]
    config = parse_stage_config(config_of("prod", deploymentHistory=json.dumps(entries)), "prod")
    assert config.deployment_history == tuple(entries)
