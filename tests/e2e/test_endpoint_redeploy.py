"""An unchanged program deployed again changes nothing, the REST API included, whether its
default endpoint is on or off: what the program declares for the endpoint (REGIONAL, and
disable_execute_api_endpoint, always sent) is what API Gateway then reports, so a refresh
would adopt nothing new and a preview shows no diff (facts A: both are Optional+Computed,
read back from GetRestApi)."""
from __future__ import annotations

import pytest

DISABLE = "user-service:disableExecuteApiEndpoint"
REST_API = "aws:apigateway/restApi:RestApi"


def action_of(result, type_: str) -> set[str]:
    return {action for action, t, _ in result.steps if t == type_}


def reported(cloud) -> tuple[list[str], bool]:
    api = cloud.cloud("dev").client("apigateway").get_rest_api(
        restApiId=cloud.store.load("dev").outputs["restApiId"])
    return api["endpointConfiguration"]["types"], bool(api.get("disableExecuteApiEndpoint"))


@pytest.mark.parametrize("disabled", [False, True])
def test_an_unchanged_owner_deployed_twice_changes_nothing(cloud, disabled):
    overrides = {**cloud.store.config_overrides("dev"), DISABLE: str(disabled).lower()}
    first = cloud.deploy("dev", overrides)
    # The switch is an update of the REST API in place (never a replacement).
    assert action_of(first, REST_API) <= {"unchanged", "updated"}
    again = cloud.deploy("dev", overrides)
    assert set(again.counts()) == {"unchanged"}, again.steps
    assert reported(cloud) == (["REGIONAL"], disabled)
    assert again.outputs[DISABLE.split(":")[1]] is disabled


def test_every_stack_again_changes_nothing_once_the_endpoint_is_back_on(cloud):
    cloud.deploy("dev", {**cloud.store.config_overrides("dev"), DISABLE: "false"})
    for stack in ("dev", "test", "prod"):
        result = cloud.deploy(stack)
        assert set(result.counts()) == {"unchanged"}, (stack, result.steps)
    assert reported(cloud) == (["REGIONAL"], False)
