"""What Lambda counts in CloudWatch for each invocation: `Invocations` (1) and `Errors`
(1 for a function error or a timeout, else 0), under {FunctionName}, and for a qualified
invocation {FunctionName, Resource} with Resource `function:qualifier`, plus, for an
alias, {FunctionName, Resource, ExecutedVersion} (infra.metrics). So each alias's health
can be read apart: the canary's against live's."""
from __future__ import annotations

from infra import metrics


def invocation_metrics(function: str, qualifier: str | None, executed_version: str,
                       failed: bool) -> list[dict]:
    """The datapoints of one invocation (pure). `qualifier`: the alias or version the
    caller named (None: unqualified)."""
    dimension_sets = [[{"Name": "FunctionName", "Value": function}]]
    if qualifier:
        resource = [{"Name": "FunctionName", "Value": function},
                    {"Name": "Resource", "Value": metrics.alias_resource(function, qualifier)}]
        dimension_sets.append(resource)
        if not qualifier.isdigit():  # an alias: the version it ran
            dimension_sets.append([*resource, {"Name": "ExecutedVersion",
                                               "Value": executed_version}])
    values = ((metrics.LAMBDA_INVOCATIONS, 1.0), (metrics.LAMBDA_ERRORS, 1.0 if failed else 0.0))
    return [{"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": "Count"}
            for dimensions in dimension_sets for name, value in values]
