"""The stage's access log line: one JSON object per request, in API Gateway's
`$context` variables. The local gateway renders the same format from the stage's
settings, so what a developer reads locally is what CloudWatch shows on AWS.

API Gateway substitutes a variable's value as it is, with no escaping: a format that
puts quotes around a free-text value (`"$context.error.message"`) breaks the line when
the value holds a `"` (a signature mismatch's message quotes the signed headers). For
such values it offers a variable that comes quoted, `$context.error.messageString`
("The quoted value of $context.error.message"), written here without quotes of its own.
"""
from __future__ import annotations

import json

# Variables API Gateway writes as a JSON string, quotes included -> the variable quoted.
QUOTED: dict[str, str] = {"$context.error.messageString": "$context.error.message"}

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
    # Which release served the request: its Deployment, and on a stage with a canary,
    # whether the canary did (`true`/`false`; "-" on a stage without one).
    "deploymentId": "$context.deploymentId",
    "isCanaryRequest": "$context.isCanaryRequest",
    "errorMessage": "$context.error.messageString",
}


def access_log_format() -> str:
    """The format string the Stage's access log settings take (one line of JSON): each
    variable in quotes, except those API Gateway quotes itself."""
    members = (f"{json.dumps(field)}:{variable if variable in QUOTED else json.dumps(variable)}"
               for field, variable in FIELDS.items())
    return "{" + ",".join(members) + "}"
