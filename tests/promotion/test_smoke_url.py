"""Where a stage's smoke checks go: its customUrl when the API's default endpoint is off
(every stageUrl then answers 403 Forbidden) and it has one; else its stageUrl."""
from __future__ import annotations

import pytest

from promotion.smoke import stage_base_url
from tests.promotion.test_automation_backend import (  # noqa: F401 -- fixtures
    B, Stage, aws, cli, exports, stage_server, up_succeeds)

STAGE, CUSTOM = "https://abc.execute-api.us-east-1.amazonaws.com/prod", "https://api.example.com/v1"


@pytest.mark.parametrize("outputs,called", [
    ({"stageUrl": STAGE, "customUrl": CUSTOM, "disableExecuteApiEndpoint": True}, CUSTOM),
    ({"stageUrl": STAGE, "customUrl": CUSTOM, "disableExecuteApiEndpoint": "true"}, CUSTOM),
    ({"stageUrl": STAGE, "customUrl": CUSTOM, "disableExecuteApiEndpoint": False}, STAGE),
    ({"stageUrl": STAGE, "customUrl": CUSTOM}, STAGE),
    ({"stageUrl": STAGE, "disableExecuteApiEndpoint": True}, STAGE),  # warned at deploy
    ({}, None),
])
def test_the_smoke_checks_call_the_custom_domain_only_where_the_default_endpoint_is_off(
        outputs, called):
    assert stage_base_url(outputs) == called


def test_a_promotion_smoke_checks_the_stages_on_their_domains_when_the_endpoint_is_off(
        cli, stage_server):
    test_d, _ = cli.deployments
    state = cli.state()
    for stack in ("test", "prod"):
        state["stacks"][stack]["outputs"].update({
            "disableExecuteApiEndpoint": True, "customUrl": f"{stage_server}/domain-{stack}"})
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "9")]
    cli.write(state)
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert (code, err) == (0, "")
    assert [path for path, _ in Stage.seen] == [
        "/domain-test/users?limit=1", "/domain-prod/users?limit=1", "/domain-prod/users?limit=1"]
