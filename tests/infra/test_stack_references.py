"""What a stack reads of other stacks, checked: a missing or wrong owner, an open API
under production, and a production stack whose pins went missing."""
from __future__ import annotations

import pytest

from infra.config import ConfigError
from localcloud.engine.program import run_program
from localcloud.engine.stackfiles import read_stack_config
from tests.infra.conftest import deploy_stacks
from tests.infra.mocks import AwsMocks


def run_with_references(stack: str, references: dict[str, dict], missing=(), **overrides: str):
    values = {**read_stack_config(stack), **{f"user-service:{k}": v for k, v in overrides.items()}}
    return run_program(stack, AwsMocks(references, missing), values)


@pytest.fixture(scope="module")
def dev_outputs() -> dict:
    return deploy_stacks(("dev",))["dev"].outputs


def test_previewing_test_before_dev_is_deployed_names_the_stack_and_the_command():
    with pytest.raises(ConfigError) as caught:
        run_with_references("test", {"dev": {}})  # `pulumi stack init dev`, never updated
    message = str(caught.value)
    assert "'dev'" in message and "has no outputs" in message
    assert "pulumi up -s dev" in message


def test_an_api_stack_that_does_not_own_the_api_names_the_missing_outputs(dev_outputs):
    not_an_owner = {"stage": "qa", "stageUrl": "https://example"}
    with pytest.raises(ConfigError) as caught:
        run_with_references("test", {"qa": not_an_owner}, apiStack="qa")
    message = str(caught.value)
    assert "lacks the outputs restApiId, executionArn, definitionHash, artifactBucket" in message
    assert "apiOwner: true" in message


def test_another_stage_that_re_exports_the_apis_outputs_is_not_an_owner(dev_outputs):
    test_outputs = deploy_stacks(("dev", "test"))["test"].outputs
    assert test_outputs["restApiId"] == dev_outputs["restApiId"]  # re-exported
    with pytest.raises(ConfigError, match="lacks the outputs apiOwnerStack"):
        run_with_references("prod", {"dev": dev_outputs, "test": test_outputs}, apiStack="test")


def test_a_fully_qualified_owner_name_still_works(dev_outputs):
    run = run_with_references("test", {"my-org/user-service/dev": dev_outputs},
                              apiStack="my-org/user-service/dev")
    assert run.outputs["restApiId"] == dev_outputs["restApiId"]


def test_production_refuses_an_api_whose_methods_need_no_authorization(dev_outputs):
    open_owner = {**dev_outputs, "apiAuthorization": "NONE"}
    with pytest.raises(ConfigError) as caught:
        run_with_references("prod", {"dev": open_owner})
    message = str(caught.value)
    assert "need no authorization" in message and "AWS_IAM" in message
    # A non-production stage may run behind the team's own front door.
    assert run_with_references("test", {"dev": open_owner}).outputs["apiAuthorization"] == "NONE"


def test_production_refuses_an_update_that_drops_the_pins_it_last_ran(dev_outputs):
    last = {"pins": {"deploymentId": "abc123", "codeHash": "e" * 64, "functionVersion": "3"}}
    with pytest.raises(ConfigError) as caught:
        run_with_references("prod", {"dev": dev_outputs, "prod": last})
    message = str(caught.value)
    assert "last ran the promoted deployment abc123" in message
    assert "git checkout Pulumi.prod.yaml" in message
    assert "pulumi config set user-service:promotedFunctionVersion 3 -s prod" in message


def test_production_refuses_an_update_that_drops_only_its_rollback_version(dev_outputs):
    last = {"pins": {"deploymentId": "abc123", "codeHash": "e" * 64, "functionVersion": "7"}}
    same_code = {"promotedDeploymentId": "abc123", "promotedCodeHash": "e" * 64}
    with pytest.raises(ConfigError, match="last ran version 7 .* no longer has "
                                          "promotedFunctionVersion"):
        run_with_references("prod", {"dev": dev_outputs, "prod": last}, **same_code)
    # A new promotion (other code) publishes its own version: not a dropped pin.
    promoted = {"promotedDeploymentId": "def456", "promotedCodeHash": "f" * 64}
    run = run_with_references("prod", {"dev": dev_outputs, "prod": last}, **promoted)
    assert run.outputs["pins"]["functionVersion"] == ""


def test_production_with_its_pins_or_never_pinned_deploys(dev_outputs):
    first = run_with_references("prod", {"dev": dev_outputs})
    assert first.outputs["pins"] == {}
    pins = {"promotedDeploymentId": "abc123", "promotedCodeHash": "e" * 64}
    last = {"pins": {"deploymentId": "abc123", "codeHash": "e" * 64, "functionVersion": ""}}
    pinned = run_with_references("prod", {"dev": dev_outputs, "prod": last}, **pins)
    assert pinned.outputs["pins"] == last["pins"]


def test_a_pinned_stage_refuses_code_no_stage_uploaded_before_anything_is_declared(dev_outputs):
    pins = {"promotedDeploymentId": "abc123", "promotedCodeHash": "9" * 64}
    with pytest.raises(ConfigError) as caught:
        run_with_references("prod", {"dev": dev_outputs}, missing=(f"archives/{'9' * 64}.zip",),
                            **pins)
    message = str(caught.value)
    assert f"pins the code 999999999999…, but s3://{dev_outputs['artifactBucket']}/archives/" \
           in message and "does not exist" in message
    assert "only code a stage has deployed can be promoted" in message
