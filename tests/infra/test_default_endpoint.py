"""The owner's choice to turn off the shared API's default (execute-api) endpoint: set on
the RestApi argument only (always sent, false included), applied by a new Deployment of
the owner's stage, exported to every stage, and warned about where a stage would be left
without a way in."""
from __future__ import annotations

import json
import logging

import pytest

from tests.infra.conftest import HOME, STACKS, deploy_stacks, run_stack
from tests.infra.mocks import Account

P = "user-service"
OFF = {"dev": {f"{P}:disableExecuteApiEndpoint": "true"}}
ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0c8d4f6e-1a2b-4c3d-9e8f-0123456789ab"
REST_API = "aws:apigateway/restApi:RestApi"
DEPLOYMENT = "aws:apigateway/deployment:Deployment"


def domain(stack: str) -> dict[str, str]:
    return {f"{P}:domainName": f"api-{stack}.example.com", f"{P}:certificateArn": ARN}


def test_the_endpoint_stays_on_by_default_and_the_argument_says_so(runs):
    rest_api = runs["dev"].one(REST_API)
    # Sent even when false: the argument is Optional+Computed, so leaving it out after a
    # true would leave the endpoint off.
    assert rest_api.inputs["disableExecuteApiEndpoint"] is False
    assert all(runs[s].outputs["disableExecuteApiEndpoint"] is False for s in STACKS)


def test_the_owner_turns_it_off_on_the_argument_never_in_the_body():
    runs = deploy_stacks(overrides=OFF)
    rest_api = runs["dev"].one(REST_API)
    assert rest_api.inputs["disableExecuteApiEndpoint"] is True
    # The body's x-amazon-apigateway-endpoint-configuration would fight the argument.
    assert "x-amazon-apigateway-endpoint-configuration" not in rest_api.inputs["body"]
    assert json.loads(rest_api.inputs["body"]).get(
        "x-amazon-apigateway-endpoint-configuration") is None
    assert all(runs[s].outputs["disableExecuteApiEndpoint"] is True for s in STACKS)


def test_the_owners_stage_is_redeployed_when_the_setting_changes(world):
    # API Gateway applies the setting at the next update of a stage: the owner's stage
    # gets a new Deployment in the same update; turning it back on redeploys again. One
    # account's history: an update keeps a Deployment's id, a replacement makes a new one.
    account = Account()
    on = deploy_stacks(world=world, account=account)
    off = deploy_stacks(overrides=OFF, world=world, account=account)
    on_again = deploy_stacks(world=world, account=account)
    ids = [run["dev"].one(DEPLOYMENT).id for run in (on, off, on_again)]
    assert len(set(ids)) == 3, ids
    assert off["dev"].one(DEPLOYMENT).inputs["triggers"] == {
        "definitionHash": on["dev"].outputs["definitionHash"],
        "disableExecuteApiEndpoint": "true"}
    # With the endpoint on (the default), the triggers are what they always were.
    assert on["dev"].one(DEPLOYMENT).inputs["triggers"] == {
        "definitionHash": on["dev"].outputs["definitionHash"]}
    for stack in ("test", "prod"):  # the other stages' own deployments are unchanged
        assert len({run[stack].one(DEPLOYMENT).id for run in (on, off, on_again)}) == 1


def warnings_of(caplog, overrides) -> dict[str, list[str]]:
    """The warnings each stack's own program logs about the default endpoint."""
    def logged() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                and "disableExecuteApiEndpoint" in r.getMessage()]

    with caplog.at_level(logging.WARNING):
        caplog.clear()
        owner = run_stack("dev", HOME, overrides=overrides.get("dev"))
        said = {"dev": logged()}
        for stack in ("test", "prod"):
            caplog.clear()
            run_stack(stack, HOME, {"dev": owner.outputs}, overrides.get(stack))
            said[stack] = logged()
    return said


def test_the_owner_says_what_to_check_and_a_stage_without_a_domain_is_warned(caplog):
    said = warnings_of(caplog, OFF)
    [owner] = set(said["dev"])
    assert "every stage of the shared REST API answers only on its custom domain" in owner
    assert "check that every stack whose apiStack is dev sets user-service:domainName" in owner
    assert "its own stage dev cannot be reached" in owner
    for stack in ("test", "prod"):
        [warning] = set(said[stack])
        assert f"its stage {stack} cannot be reached" in warning
        assert f"Set user-service:domainName (with certificateArn or hostedZoneId) in " \
               f"Pulumi.{stack}.yaml" in warning


def test_stages_with_domains_are_not_warned_but_the_owner_still_says_what_to_check(caplog):
    overrides = {stack: domain(stack) for stack in STACKS}
    overrides["dev"] = {**overrides["dev"], **OFF["dev"]}
    said = warnings_of(caplog, overrides)
    [owner] = set(said["dev"])
    assert "check that every stack whose apiStack is dev" in owner
    assert "cannot be reached" not in owner
    assert said["test"] == said["prod"] == []


def test_no_warning_while_the_endpoint_is_on(caplog):
    assert warnings_of(caplog, {}) == {stack: [] for stack in STACKS}


@pytest.mark.parametrize("stack", ["test", "prod"])
def test_a_stage_whose_owner_predates_the_output_reads_it_as_on(stack, runs, world):
    owner = {k: v for k, v in runs["dev"].outputs.items() if k != "disableExecuteApiEndpoint"}
    run = run_stack(stack, world, {"dev": owner})
    assert run.outputs["disableExecuteApiEndpoint"] is False
