"""The users API's routes and the pure functions derived from them: the integration URI
and the execute-api ARNs that invoke permissions and caller policies name. The API's
whole definition is the OpenAPI document built from these routes (infra/openapi.py)."""
from __future__ import annotations

from dataclasses import dataclass

from infra.naming import STAGE_VARIABLE


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, e.g. "/users/{id}"


ROUTES: tuple[Route, ...] = (
    Route("GET", "/users"),
    Route("POST", "/users"),
    Route("GET", "/users/{id}"),
    Route("PUT", "/users/{id}"),
    Route("DELETE", "/users/{id}"),
)

INTEGRATION_TYPE = "AWS_PROXY"
# Lambda proxy integrations are always called with POST, whatever the client's method.
INTEGRATION_HTTP_METHOD = "POST"


def integration_uri(region: str, account_id: str, *, partition: str) -> str:
    """One URI for every stage: the stage variable picks the function. Both ARNs are in
    the region's partition (aws, aws-us-gov, aws-cn: aws.get_partition_output())."""
    function_arn = (f"arn:{partition}:lambda:{region}:{account_id}:function:"
                    f"${{stageVariables.{STAGE_VARIABLE}}}")
    return (f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/"
            f"{function_arn}/invocations")


def stage_arn(execution_arn: str, stage: str) -> str:
    """Every method and path of one stage: `{execution ARN}/{stage}/*/*` (never `*` in the
    stage position, so a grant for one stage cannot serve another)."""
    return f"{execution_arn}/{stage}/*/*"

