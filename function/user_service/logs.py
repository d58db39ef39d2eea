"""One structured JSON line per request, on stdout (Lambda ships stdout to CloudWatch).

Only operational facts go in: ids, stage, route template, status, duration and an
error code. Never bodies, names, emails, paths or messages: they can carry personal
data, and messages may quote client input.
"""
from __future__ import annotations

import json
import sys


def _short(value: object, limit: int = 128) -> str | None:
    # Ids come from API Gateway; cap them anyway so a forged event cannot flood the log.
    return value[:limit] if isinstance(value, str) else None


def request_line(*, request_id: object, lambda_request_id: object, stage: object, route: str,
                 status: int, duration_ms: float, error_code: str | None = None,
                 where: list[str] | None = None) -> None:
    record = {
        "level": "ERROR" if status >= 500 else "INFO",
        "requestId": _short(request_id),
        "lambdaRequestId": _short(lambda_request_id),
        "stage": _short(stage),
        "route": route,
        "status": status,
        "durationMs": round(duration_ms, 3),
    }
    if error_code is not None:
        record["errorCode"] = error_code
    if where:
        record["where"] = where
    # sys.stdout is looked up per call so a benchmark or test can redirect it.
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
