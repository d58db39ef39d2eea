"""A stage's canary settings, kept by moto's stage as API Gateway keeps them.

moto knows no canary: it ignores `canarySettings` and, worse, takes a patch of
`/canarySettings/deploymentId` for one of the stage's own `/deploymentId` (its stage
matches paths by substring), so a canary would silently become the stage's deployment.
Here the stage's patch operations on `/canarySettings...` are applied as API Gateway
applies them, GetStage answers with `canarySettings`, and what API Gateway refuses is
refused (developer guide, canary-release and update-canary-deployment; the localstack
recordings of real AWS, test_apigateway_canary.snapshot.json):

- "After a canary release is enabled, the deployment stage cannot be associated with
  another non-canary release deployment until the canary release is disabled and the
  canary settings removed from the stage": a `/deploymentId` that is neither the stage's
  nor its canary's is refused while the stage has canary settings (operations apply in
  order, so removing the settings first is accepted). AWS's exact words for this refusal
  are not documented; the message here says what it refuses.
- `replace /canarySettings/deploymentId` on a stage without a canary makes one with
  `percentTraffic` 0.0; `replace /canarySettings/percentTraffic` on one makes a canary on
  the stage's own deployment; `remove /canarySettings` ends it;
- the percentage is "between 0.0 and 100.0 inclusive"; an override's value follows the
  stage variables' rule; the canary's deployment must be one of the API's.

This runs in the process that runs moto's server (the local cloud's own), before anything
is deployed.
"""
from __future__ import annotations

import copy
from typing import Callable

from infra.naming import STAGE_VARIABLE_VALUE

_MARK = "_canary_settings_as_api_gateway"
PREFIX = "/canarySettings"
OVERRIDES = f"{PREFIX}/stageVariableOverrides/"


class CanaryRefused(ValueError):
    """A patch API Gateway would refuse (BadRequestException); nothing was applied."""


def _percent(value) -> float:
    try:
        percent = float(value)
    except (TypeError, ValueError):
        raise CanaryRefused(f"Invalid percentTraffic {value!r}: it must be a number") from None
    if not 0.0 <= percent <= 100.0:
        raise CanaryRefused(f"Invalid percentTraffic {value}: it must be between 0.0 and "
                            "100.0")
    return percent


def _flag(value) -> bool:
    text = str(value).lower()
    if text not in ("true", "false"):
        raise CanaryRefused(f"Invalid useStageCache {value!r}: true or false")
    return text == "true"


def apply_stage_patch(stage_name: str, deployment_id: str | None, canary: dict | None,
                      operations: list[dict], deployment_exists: Callable[[str], bool]
                      ) -> tuple[dict | None, list[dict]]:
    """Apply the canary's part of an UpdateStage, in order, to (the stage's deployment,
    its canary settings); returns the canary settings afterwards (None: none) and the
    operations left for the rest of the stage. Raises CanaryRefused, having changed
    nothing, for what API Gateway refuses."""
    canary = copy.deepcopy(canary) if canary else None
    rest: list[dict] = []
    for op in operations:
        kind, path = op.get("op"), op.get("path") or ""
        if path == "/deploymentId" and kind == "replace":
            target = op.get("value")
            if canary is not None and target not in (deployment_id, canary["deploymentId"]):
                raise CanaryRefused(
                    f"Stage {stage_name} has canary settings: it cannot be associated with "
                    f"the non-canary deployment {target} (neither its deployment "
                    f"{deployment_id} nor its canary's {canary['deploymentId']}) until the "
                    "canary settings are removed from the stage")
            deployment_id = target
            rest.append(op)
            continue
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            rest.append(op)
            continue
        if path == PREFIX:
            if kind != "remove":
                raise CanaryRefused(f"Invalid {kind} operation with path: {path}")
            canary = None
            continue
        if kind == "remove" and path.startswith(OVERRIDES) and canary is not None:
            canary.get("stageVariableOverrides", {}).pop(path[len(OVERRIDES):], None)
            continue
        if kind != "replace":
            raise CanaryRefused(f"Invalid {kind} operation with path: {path}")
        if canary is None:  # a replace below /canarySettings starts a canary
            canary = {"deploymentId": deployment_id, "percentTraffic": 0.0,
                      "useStageCache": False}
        value = op.get("value")
        if path == f"{PREFIX}/deploymentId":
            if not deployment_exists(str(value)):
                raise CanaryRefused(f"Invalid deployment id specified: {value} is not a "
                                    "deployment of this API")
            canary["deploymentId"] = value
        elif path == f"{PREFIX}/percentTraffic":
            canary["percentTraffic"] = _percent(value)
        elif path == f"{PREFIX}/useStageCache":
            canary["useStageCache"] = _flag(value)
        elif path.startswith(OVERRIDES) and path[len(OVERRIDES):]:
            if not STAGE_VARIABLE_VALUE.fullmatch(str(value or "")):
                raise CanaryRefused(f"Invalid stage variable value {value!r} for "
                                    f"{path[len(OVERRIDES):]}: values must be non-empty and "
                                    "use only letters, digits and -._~:/?#&=,")
            canary.setdefault("stageVariableOverrides", {})[path[len(OVERRIDES):]] = value
        else:
            raise CanaryRefused(f"Invalid patch path {path}")
    return canary, rest


def keep_canary_settings_as_api_gateway_does() -> None:
    """moto's stages keep and answer canary settings, and refuse what API Gateway
    refuses (idempotent)."""
    from moto.apigateway.exceptions import BadRequestException
    from moto.apigateway.models import APIGatewayBackend, Stage

    moto_update, moto_to_json = APIGatewayBackend.update_stage, Stage.to_json
    if getattr(moto_update, _MARK, False):
        return

    def update_stage(self, function_id: str, stage_name: str, patch_operations):
        stage = self.get_stage(function_id, stage_name)
        api = self.get_rest_api(function_id)
        try:
            canary, rest = apply_stage_patch(
                stage_name, stage.deployment_id, getattr(stage, "canary_settings", None),
                list(patch_operations or []), lambda deployment: deployment in api.deployments)
        except CanaryRefused as refused:
            raise BadRequestException(str(refused)) from None
        updated = moto_update(self, function_id, stage_name, rest)
        updated.canary_settings = canary
        return updated

    def to_json(self):
        answer = moto_to_json(self)
        canary = getattr(self, "canary_settings", None)
        if canary:
            answer["canarySettings"] = copy.deepcopy(canary)
        return answer

    setattr(update_stage, _MARK, True)
    APIGatewayBackend.update_stage = update_stage
    Stage.to_json = to_json
