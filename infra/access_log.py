"""The stage's access log line: one JSON object per request, in API Gateway's
`$context` variables. The local gateway renders the same format from the stage's
settings, so what a developer reads locally is what CloudWatch shows on AWS."""
from __future__ import annotations

import json

# Field -> API Gateway context variable (REST APIs). Strings throughout: a variable
# with no value is written as "-" by API Gateway.
FIELDS: dict[str, str] = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "sourceIp": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "userArn": "$context.identity.userArn",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationError": "$context.integration.error",
    "integrationLatency": "$context.integration.latency",
    "errorMessage": "$context.error.message",
}


def access_log_format() -> str:
    """The format string the Stage's access log settings take (one line of JSON)."""
    return json.dumps(FIELDS, separators=(",", ":"))
