"""The rules the program enforces for a promoted stage."""
from __future__ import annotations

import json

import pytest

from infra import archive
from infra.config import ConfigError
from tests.infra.conftest import deploy_stacks
from tests.infra.test_config import problems

CODE_HASH = archive.code_hash(archive.read_handler_files())


def pins(deployment_id: str, code_hash: str = CODE_HASH) -> dict[str, str]:
    return {"user-service:promotedDeploymentId": deployment_id,
            "user-service:promotedCodeHash": code_hash}


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


def test_prod_refuses_code_other_than_the_promoted_before_declaring_anything():
    other = "0" * 64
    with pytest.raises(ConfigError) as caught:
        deploy_stacks(overrides={"prod": pins("abc123", other)})
    message = str(caught.value)
    assert "pins the promoted code 000000000000" in message
    assert "Deploy this code to test and verify it there first" in message


def test_pins_go_together_and_are_well_formed():
    assert "set both or neither" in problems("prod", promotedDeploymentId="abc123")
    assert "not an API Gateway deployment id" in problems(
        "prod", promotedDeploymentId="abc-123!", promotedCodeHash=CODE_HASH)
    assert "64-hex" in problems("prod", promotedDeploymentId="abc123", promotedCodeHash="xyz")


def test_history_must_be_what_the_promotion_tool_writes():
    assert "must be a JSON list" in problems("prod", deploymentHistory="{oops")
    assert "entries" in problems("prod", deploymentHistory=json.dumps([{"id": "x"}]))
    entries = [{"deploymentId": "abc123", "codeHash": CODE_HASH, "action": "promote",
                "from": "test", "at": "2026-11-21T00:00:00Z"}]
    from infra.config import parse_stage_config
    from tests.infra.test_config import config_of
    config = parse_stage_config(config_of("prod", deploymentHistory=json.dumps(entries)), "prod")
    assert config.deployment_history == tuple(entries)
