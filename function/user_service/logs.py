"""One structured JSON line per request, on stdout (Lambda ships stdout to CloudWatch).

Only operational facts go in: ids, the caller's IAM identity (its ARN, never an access
key or signature), stage, route template, status, duration and an error code. Never
bodies, names, emails, paths or messages: they can carry personal data, and messages
may quote client input.
"""
from __future__ import annotations

import json
import sys


def _short(value: object, limit: int = 128) -> str | None:
    # Ids come from API Gateway; cap them anyway so a forged event cannot flood the log.
    return value[:limit] if isinstance(value, str) else None


def _write(record: dict) -> None:
    # sys.stdout is looked up per call so a benchmark or test can redirect it.
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")


def caller_of(request_context: dict) -> str | None:
    """The IAM identity API Gateway authenticated (SigV4): identity.userArn, else caller.

    Both are principals, not secrets; identity.accessKey is never read.
    """
    identity = request_context.get("identity")
    if not isinstance(identity, dict):
        return None
    for key in ("userArn", "caller"):
        value = identity.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def request_line(*, request_id: object, lambda_request_id: object, caller: str | None,
                 stage: object, route: str, status: int, duration_ms: float,
                 error_code: str | None = None, where: list[str] | None = None) -> None:
    record = {
        "level": "ERROR" if status >= 500 else "INFO",
        "requestId": _short(request_id),
        "lambdaRequestId": _short(lambda_request_id),
        # IAM ARNs reach about 2 KB at most (paths, session names); keep them whole.
        "caller": _short(caller, 2048),
        "stage": _short(stage),
        "route": route,
        "status": status,
        "durationMs": round(duration_ms, 3),
    }
    if error_code is not None:
        record["errorCode"] = error_code
    if where:
        record["where"] = where
    _write(record)


def configuration_error(*, variable: str, message: str) -> None:
    """The one line a misconfigured function logs, at init, before it refuses to start."""
    _write({"level": "ERROR", "event": "configurationError", "variable": variable,
            "message": message})
