"""Where a stage's smoke checks go: its customUrl when the API's default endpoint is off
(every stageUrl then answers 403 Forbidden) and it has one; else its stageUrl."""
from __future__ import annotations

import pytest

from promotion.smoke import SmokeResult, stage_base_url, unreachable_hint
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


FORBIDDEN = SmokeResult("https://a1.execute-api.us-east-1.amazonaws.com/test/users?limit=1",
                        403, '{"message":"Forbidden"}')


@pytest.mark.parametrize("outputs,result,hinted", [
    ({"disableExecuteApiEndpoint": True}, FORBIDDEN, True),
    ({"disableExecuteApiEndpoint": "true"}, FORBIDDEN, True),
    # With a domain, its smoke checks go there: a 403 Forbidden is then the mapping's.
    ({"disableExecuteApiEndpoint": True, "customUrl": "https://api-test.example.com"},
     FORBIDDEN, False),
    ({"disableExecuteApiEndpoint": False}, FORBIDDEN, False),
    ({"disableExecuteApiEndpoint": True},
     SmokeResult(FORBIDDEN.url, 403, '{"message":"User: arn:aws:iam::1:user/x is not '
                                     'authorized to perform: execute-api:Invoke"}'), False),
])
def test_a_stage_no_endpoint_serves_is_said_to_be_unreachable(outputs, result, hinted):
    hint = unreachable_hint("test", outputs, result)
    assert bool(hint) is hinted
    if hinted:
        assert hint == ("; the API's default endpoint is off (the owner stack's user-service:"
                        "disableExecuteApiEndpoint) and test has no custom domain, so nothing "
                        "can call it: set user-service:domainName for test, or turn the "
                        "default endpoint back on")
