"""Lambda entry point for the users API: user_service.handler.handler(event, context).

Takes REST API Gateway proxy events (payload format 1.0) and returns proxy responses
with JSON bodies. Every outcome is a JSON response and exactly one log line:

- client mistakes: 4xx with {"message": ...} saying what is wrong and how to fix it;
- DynamoDB throttling or an unreachable endpoint: 503 with Retry-After (try again);
- any other DynamoDB error or bug: 500; the log line carries the error code (and, for
  bugs, the code locations), the caller gets only a message and the request id.

Created users get `Location: /users/{id}`, prefixed with the stage (or custom-domain
base path) when requestContext.path shows one, e.g. /dev/users/{id}.

Configuration (TABLE_NAME) is checked when this module is imported, i.e. in Lambda's
init phase: a misconfigured function logs one line saying what to fix and fails to
start, instead of failing every request.
"""
from __future__ import annotations

import time
import traceback

from botocore.exceptions import BotoCoreError, ClientError

from . import logs, routes, settings, store
from .request import parse_event
from .responses import HttpError, json_response


def _init() -> None:
    try:
        store.configure()
    except settings.ConfigurationError as err:
        logs.configuration_error(variable=err.variable, message=str(err))
        raise


_init()

# DynamoDB's "slow down / try later" codes: the request may succeed if repeated.
_RETRYABLE = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "LimitExceededException",
})


def _server_error(status: int, message: str, request_id: object) -> dict:
    ref = f" (request id {request_id})" if isinstance(request_id, str) else ""
    headers = {"Retry-After": "1"} if status == 503 else None
    return json_response(status, {"message": message + ref}, headers)


def _where(err: BaseException) -> list[str]:
    """Code locations of an unexpected error, without its message (which may hold data)."""
    return [f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}:{frame.name}"
            for frame in traceback.extract_tb(err.__traceback__)][-5:]


def handler(event, context):
    started = time.perf_counter()
    request_context = event.get("requestContext") if isinstance(event, dict) else None
    if not isinstance(request_context, dict):
        request_context = {}
    request_id = request_context.get("requestId")
    route = "unmatched"
    error_code = where = None
    try:
        request = parse_event(event)
        template, user_id = routes.match(request)
        route = f"{request.method} {template}" if request.method in routes.ROUTES[template] \
            else f"other {template}"
        response = routes.operation(template, request.method)(request, user_id)
    except HttpError as err:
        response, error_code = err.to_response(), err.error_code
    except ClientError as err:
        error_code = str(err.response.get("Error", {}).get("Code", "Unknown"))
        if error_code in _RETRYABLE:
            response = _server_error(503, "The user store is busy; retry in a moment.", request_id)
        else:
            response = _server_error(500, "The user store failed; the error is logged.", request_id)
    except BotoCoreError as err:  # endpoint unreachable, timeouts: transient by nature
        error_code = type(err).__name__
        response = _server_error(503, "The user store could not be reached; retry in a moment.",
                                 request_id)
    except Exception as err:  # a bug: answer cleanly, log where it happened
        error_code, where = type(err).__name__, _where(err)
        response = _server_error(500, "Internal error; the error is logged.", request_id)
    logs.request_line(
        request_id=request_id,
        lambda_request_id=getattr(context, "aws_request_id", None),
        caller=logs.caller_of(request_context),
        stage=request_context.get("stage"),
        route=route,
        status=response["statusCode"],
        duration_ms=(time.perf_counter() - started) * 1000,
        error_code=error_code,
        where=where,
    )
    return response
