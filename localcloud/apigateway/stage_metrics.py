"""What API Gateway counts in CloudWatch for each request a stage serves: `Count`,
`4XXError` and `5XXError` (1 or 0 each), under `ApiName` and `ApiName, Stage`, the
canary's requests under its own Stage value (infra.metrics). Written to the emulator's
CloudWatch, where the promotion tool reads them as it reads AWS's."""
from __future__ import annotations

import logging

from infra import metrics

log = logging.getLogger("localcloud.apigateway.stage_metrics")


def request_metrics(api_name: str, stage: str, canary: bool, status: int) -> list[dict]:
    """The datapoints of one request that got `status` (pure)."""
    release = metrics.canary_stage(stage) if canary else stage
    values = ((metrics.API_REQUESTS, 1.0),
              (metrics.API_CLIENT_ERRORS, 1.0 if 400 <= status < 500 else 0.0),
              (metrics.API_SERVER_ERRORS, 1.0 if status >= 500 else 0.0))
    dimension_sets = ([{"Name": "ApiName", "Value": api_name}],
                      metrics.api_dimensions(api_name, release))
    return [{"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": "Count"}
            for dimensions in dimension_sets for name, value in values]


class StageMetrics:
    """Publishes through the control plane; a metric that cannot be written never fails
    the request it counts."""

    def __init__(self, plane) -> None:
        self._plane = plane

    def publish(self, api_id: str, stage: str, canary: bool, status: int) -> None:
        try:
            name = metrics.api_name_dimension(self._plane.rest_api_name(api_id), api_id)
            self._plane.put_metric_data(metrics.API_NAMESPACE,
                                        request_metrics(name, stage, canary, status))
        except Exception as err:  # noqa: BLE001 -- counting never fails a request
            log.warning("could not publish the metrics of a request to %s/%s: %s", api_id,
                        stage, err)
