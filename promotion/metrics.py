"""A canary's and its base's numbers over a window, read from CloudWatch with one
GetMetricData call through the boto3 client a backend gives: AWS's CloudWatch, or the
local cloud's (where the gateway and the invoker publish under the same names).

Sums of one-minute periods from the window's start to a minute past its end: a datapoint
stamped in the current minute belongs to a period that ends after now. CloudWatch keeps
these metrics per minute, so on AWS the canary's first minute may also hold requests from
just before it began, and the newest minutes arrive with a delay of a few minutes: a bake
judges what CloudWatch has by then.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from infra import metrics
from infra.naming import CANARY_ALIAS, FUNCTION_ALIAS
from promotion.health import Observation, ReleaseCounts

PERIOD_S = 60


class MetricsUnavailable(Exception):
    """CloudWatch could not be read; the message says what was asked."""


def queries(api_name: str, stage: str, function: str) -> dict[str, dict]:
    """Query id -> metric: requests and 5XX of each release, invocations and errors of
    each alias."""
    def stat(namespace: str, name: str, dimensions: list[dict]) -> dict:
        return {"Metric": {"Namespace": namespace, "MetricName": name,
                           "Dimensions": dimensions}, "Period": PERIOD_S, "Stat": "Sum"}
    found = {}
    for release, stage_value, alias in (("canary", metrics.canary_stage(stage), CANARY_ALIAS),
                                        ("base", stage, FUNCTION_ALIAS)):
        api = metrics.api_dimensions(api_name, stage_value)
        lam = metrics.alias_dimensions(function, alias)
        found[f"{release}_requests"] = stat(metrics.API_NAMESPACE, metrics.API_REQUESTS, api)
        found[f"{release}_errors"] = stat(metrics.API_NAMESPACE, metrics.API_SERVER_ERRORS, api)
        found[f"{release}_invocations"] = stat(metrics.LAMBDA_NAMESPACE,
                                               metrics.LAMBDA_INVOCATIONS, lam)
        found[f"{release}_function_errors"] = stat(metrics.LAMBDA_NAMESPACE,
                                                   metrics.LAMBDA_ERRORS, lam)
    return found


def window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """From `start` to the end of the period after `end`'s minute: every datapoint made
    from `start` on, the newest included."""
    return (start.replace(microsecond=0),
            end.replace(second=0, microsecond=0) + timedelta(seconds=PERIOD_S))


def read_observation(cloudwatch, api_name: str, stage: str, function: str,
                     start: datetime, end: datetime) -> Observation:
    """The canary's and the base's counts from `start` to `end` (aware UTC datetimes)."""
    wanted = queries(api_name, stage, function)
    first, last = window(start, end)
    sums = dict.fromkeys(wanted, 0.0)
    arguments = {"MetricDataQueries": [{"Id": key, "MetricStat": stat, "ReturnData": True}
                                       for key, stat in wanted.items()],
                 "StartTime": first, "EndTime": last}
    try:
        while True:
            answer = cloudwatch.get_metric_data(**arguments)
            for result in answer.get("MetricDataResults", []):
                sums[result["Id"]] += sum(result.get("Values") or [])
            if not answer.get("NextToken"):
                break
            arguments["NextToken"] = answer["NextToken"]
    except (BotoCoreError, ClientError) as error:
        raise MetricsUnavailable(f"reading the canary's metrics of {stage} ({api_name}, "
                                 f"{function}) from CloudWatch failed: {error}") from None

    def counts(release: str) -> ReleaseCounts:
        return ReleaseCounts(*(int(round(sums[f"{release}_{part}"])) for part in
                               ("requests", "errors", "invocations", "function_errors")))
    return Observation(counts("canary"), counts("base"))
