"""Policy documents, as pure functions of the ARNs they name.

The role grants exactly what the handler calls, on exactly this stage's resources.
"""
from __future__ import annotations

# Every DynamoDB operation function/user_service performs; nothing more is granted.
HANDLER_DYNAMODB_ACTIONS: tuple[str, ...] = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Scan",
)
# What the Lambda service does with the role to ship the function's logs.
LOG_ACTIONS: tuple[str, ...] = ("logs:CreateLogStream", "logs:PutLogEvents")


def assume_role_policy() -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }],
    }


def function_role_policy(table_arn: str, log_group_arn: str) -> dict:
    """The inline policy of one stage's function role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "UsersTable",
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
        ],
    }
