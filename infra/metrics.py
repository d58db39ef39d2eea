"""The CloudWatch metrics a canary is judged by, named as AWS publishes them: API
Gateway's per stage (and per canary), Lambda's per alias. The promotion tool reads them
by these names on AWS and on the local cloud, and the local cloud publishes under them.

API Gateway (developer guide, api-gateway-metrics-and-dimensions.md): namespace
`AWS/ApiGateway`; `Count` ("the total number API requests in a given period"), `4XXError`
and `5XXError` ("The Sum statistic represents this metric ... The Average statistic
represents the ... error rate"); dimensions `ApiName` and `ApiName, Stage`. Each request is
one datapoint: 1 for Count, and 1 or 0 for each error metric, so a window's Sum is its
requests and its errors.

Lambda (developer guide, monitoring-metrics: "Resource. Filters the metric data by Lambda
function resource, such as function version or alias"; "ExecutedVersion ... only applies
to alias invocations"): namespace `AWS/Lambda`, `Invocations` and `Errors`, with the
dimension sets {FunctionName}, {FunctionName, Resource}, {FunctionName, Resource,
ExecutedVersion}, where Resource is `function:alias` (aws-samples' canary alarm:
`Resource = "${HelloWorldFunction}:live"`).
"""
from __future__ import annotations

from infra.naming import CANARY_SUFFIX

API_NAMESPACE = "AWS/ApiGateway"
API_REQUESTS = "Count"
API_CLIENT_ERRORS = "4XXError"
API_SERVER_ERRORS = "5XXError"

LAMBDA_NAMESPACE = "AWS/Lambda"
LAMBDA_INVOCATIONS = "Invocations"
LAMBDA_ERRORS = "Errors"

# The Stage dimension of the requests a stage's canary serves. AWS says a canary gets
# "CloudWatch metrics for the requests handled by the canary deployment" (What's New,
# 2017-11-28) but documents no dimension value for them; its canary log groups are the
# stage's with "/Canary" appended ("API-Gateway-Execution-Logs_{rest-api-id}/{stage-name}/
# Canary"; access logs: "the /Canary suffix appended"). The same suffix on the Stage
# dimension is the most faithful guess, and a guess: check it in your account's
# CloudWatch console (Metrics > ApiGateway > ApiName, Stage) before relying on it.
CANARY_STAGE_SUFFIX = CANARY_SUFFIX


def canary_stage(stage: str) -> str:
    """The Stage dimension value of the requests a stage's canary serves."""
    return f"{stage}{CANARY_STAGE_SUFFIX}"


def api_name_dimension(name: str | None, api_id: str) -> str:
    """The ApiName value of an API: "API Gateway removes non-ASCII characters from the
    ApiName dimension ... If the APIName contains no ASCII characters, the API ID is used"
    (api-gateway-metrics-and-dimensions.md)."""
    ascii_only = "".join(c for c in (name or "") if c.isascii())
    return ascii_only or api_id


def api_dimensions(api_name: str, stage: str) -> list[dict[str, str]]:
    return [{"Name": "ApiName", "Value": api_name}, {"Name": "Stage", "Value": stage}]


def alias_resource(function: str, alias: str) -> str:
    return f"{function}:{alias}"


def alias_dimensions(function: str, alias: str) -> list[dict[str, str]]:
    return [{"Name": "FunctionName", "Value": function},
            {"Name": "Resource", "Value": alias_resource(function, alias)}]
