"""Policy documents, as pure functions of the ARNs they name.

The role grants exactly what the handler calls, on exactly this stage's resources.
"""
from __future__ import annotations

import json

# Every DynamoDB operation function/user_service performs; nothing more is granted.
HANDLER_DYNAMODB_ACTIONS: tuple[str, ...] = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Scan",
)
# What the Lambda service does with the role to ship the function's logs.
LOG_ACTIONS: tuple[str, ...] = ("logs:CreateLogStream", "logs:PutLogEvents")
# What Lambda does with the role to send an actively traced function's segments to X-Ray
# (the Lambda developer guide, "Visualize Lambda function invocations using AWS X-Ray").
XRAY_ACTIONS: tuple[str, ...] = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
# The one exception to "no * resources": X-Ray defines no resource type for these actions,
# so IAM authorises them only on "*" (Service Authorization Reference, AWS X-Ray).
XRAY_RESOURCE = "*"


def assume_role_policy(service: str) -> dict:
    """The trust policy of a role that one AWS service (e.g. lambda.amazonaws.com) assumes."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
        }],
    }


def function_role_policy(table_arn: str, log_group_arn: str, tracing: bool = False) -> dict:
    """The inline policy of one stage's function role; a traced function may also send
    its trace segments to X-Ray."""
    tracing_statements = [{
        "Sid": "XRayTraces",  # mutation: skip (a Sid only labels a statement)
        "Effect": "Allow",
        "Action": list(XRAY_ACTIONS),
        "Resource": [XRAY_RESOURCE],
    }] if tracing else []
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "UsersTable",  # mutation: skip (IAM decides without it)
                "Effect": "Allow",
                "Action": list(HANDLER_DYNAMODB_ACTIONS),
                "Resource": [table_arn],
            },
            {
                "Sid": "OwnLogGroup",
                "Effect": "Allow",
                "Action": list(LOG_ACTIONS),
                "Resource": [f"{log_group_arn}:log-stream:*"],
            },
            *tracing_statements,
        ],
    }


# --- who may call: API Gateway -> the function, callers -> the stage -----------------

# The service principal that invokes the function and assumes the account's log role.
API_GATEWAY_SERVICE = "apigateway.amazonaws.com"
# Lambda refuses an add-permission whose resulting resource policy is larger than this.
LAMBDA_POLICY_LIMIT_BYTES = 20 * 1024


def invoke_statement(statement_id: str, function_arn: str, source_arn: str) -> dict:
    """One statement of a function's resource policy, as Lambda stores it."""
    return {
        "Sid": statement_id,
        "Effect": "Allow",
        "Principal": {"Service": API_GATEWAY_SERVICE},
        "Action": "lambda:InvokeFunction",
        "Resource": function_arn,
        "Condition": {"ArnLike": {"AWS:SourceArn": source_arn}},
    }


def resource_policy_size(statements: list[dict]) -> int:
    """Bytes of the resource policy Lambda keeps for these statements (the 20 KB limit
    counts this compact JSON)."""
    policy = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
    return len(json.dumps(policy, separators=(",", ":")).encode())


def stage_invoke_policy(stage_arn: str) -> dict:
    """What a caller of one stage needs: execute-api:Invoke on that stage's methods only."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "InvokeOneStage",
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": [stage_arn],
        }],
    }


# --- API Gateway's account-wide CloudWatch role -----------------------------------------

# What API Gateway does with the account's CloudWatch role to write stage logs.
API_GATEWAY_LOG_ACTIONS: tuple[str, ...] = (
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
)


def api_gateway_logs_policy(log_group_arns: list[str], partition: str, region: str,
                            account_id: str) -> dict:
    """The account role writes to these groups (and their streams) only. DescribeLogGroups
    is a list action: IAM authorises it only on every group of the account and region
    (`log-group:*`), never on a name pattern, so it has a statement of its own."""
    resources = sorted({arn for group in log_group_arns for arn in (group, f"{group}:*")})
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StageLogs",
                "Effect": "Allow",
                "Action": list(API_GATEWAY_LOG_ACTIONS),
                "Resource": resources,
            },
            {
                "Sid": "FindLogGroups",
                "Effect": "Allow",
                "Action": ["logs:DescribeLogGroups"],
                "Resource": [f"arn:{partition}:logs:{region}:{account_id}:log-group:*"],
            },
        ],
    }
