"""The rules the program follows for a promoted stage: it serves the pinned Deployment and
runs the pinned archive (by hash, from the artifacts bucket), never this checkout's code."""
from __future__ import annotations

import hashlib
import json

from infra import archive
from infra.config import parse_stage_config
from tests.infra.conftest import deploy_stacks
from tests.infra.test_config import config_of, problems

CODE_HASH = hashlib.sha256(archive.build_zip(archive.read_handler_files())).hexdigest()
OTHER_CODE = "0" * 64


def pins(deployment_id: str, code_hash: str = CODE_HASH, version: str = "") -> dict[str, str]:
    return {"user-service:promotedDeploymentId": deployment_id,
            "user-service:promotedCodeHash": code_hash,
            "user-service:promotedFunctionVersion": version}


def test_a_pinned_stage_serves_the_promoted_deployment_and_declares_none_of_its_own():
    plain = deploy_stacks()
    tested = plain["test"].outputs["deploymentId"]
    promoted = deploy_stacks(overrides={"prod": pins(tested)})
    prod = promoted["prod"]
    assert prod.one("aws:apigateway/stage:Stage").inputs["deployment"] == tested
    assert prod.outputs["deploymentId"] == tested
    assert not prod.of_type("aws:apigateway/deployment:Deployment")
    # Without a pin (the first deploy) the stage serves its own.
    own = plain["prod"].one("aws:apigateway/deployment:Deployment")
    assert plain["prod"].one("aws:apigateway/stage:Stage").inputs["deployment"] == own.id


def test_a_pinned_stage_runs_the_pinned_archive_whatever_the_checkout_holds():
    prod = deploy_stacks(overrides={"prod": pins("abc123", OTHER_CODE)})["prod"]
    function = prod.one("aws:lambda/function:Function")
    assert function.inputs["s3Key"] == f"archives/{OTHER_CODE}.zip"
    assert not prod.of_type("aws:s3/bucketObjectv2:BucketObjectv2")  # uploads nothing
    assert prod.outputs["codeHash"] == OTHER_CODE
    assert prod.one("aws:lambda/alias:Alias").inputs["functionVersion"] == function.outputs["version"]


def test_a_rollback_pin_moves_the_alias_to_that_version():
    prod = deploy_stacks(overrides={"prod": pins("abc123", OTHER_CODE, "7")})["prod"]
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
