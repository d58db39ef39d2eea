"""Every physical name the program gives, and the rules AWS holds those names to.

Names are explicit (the stage variable names the function), so they are checked here,
as pure functions, before anything is declared.
"""
from __future__ import annotations

import re

SERVICE = "user-service"
TABLE_BASE = "User"
STAGE_VARIABLE = "functionName"
# The alias every stage variable names; promotion and rollback move it between versions.
FUNCTION_ALIAS = "live"
# The alias a stage's canary invokes, while a canary release runs.
CANARY_ALIAS = "canary"
# API Gateway's name for a canary's log groups: the stage's, with this appended
# (developer guide, canary-release: "The canary release access log group name has the
# /Canary suffix appended"; execution logs: ".../{stage-name}/Canary").
CANARY_SUFFIX = "/Canary"
# The stage name the API Gateway console's Test button invokes as.
TEST_INVOKE_STAGE = "test-invoke-stage"

# API Gateway allows 128 characters; 64 keeps each permission's statement id within 100.
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
STAGE_VARIABLE_VALUE = re.compile(r"[A-Za-z0-9\-._~:/?#&=,]+")
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}")
LOG_GROUP_NAME = re.compile(r"[\w\-/.#]{1,512}")


def function_name(prefix: str) -> str:
    return f"{prefix}{SERVICE}"


def qualified_function_name(prefix: str) -> str:
    """What the stage variable holds: the function, qualified by the alias it serves."""
    return f"{function_name(prefix)}:{FUNCTION_ALIAS}"


def table_name(prefix: str) -> str:
    return f"{prefix}{TABLE_BASE}"


def role_name(prefix: str) -> str:
    return f"{prefix}{SERVICE}-role"


def log_group_name(function: str) -> str:
    # The name Lambda writes to; creating it ourselves lets us set its retention.
    return f"/aws/lambda/{function}"


def stage_name_problem(stage: str) -> str | None:
    if not STAGE_NAME.fullmatch(stage):
        return (f"{stage!r} is not a valid API Gateway stage name: use 1-64 letters, "
                "digits, '-' or '_'")
    if stage == TEST_INVOKE_STAGE:
        return f"{stage!r} is reserved for the console's test invocations; pick another name"
    return None


def stage_variable_problem(value: str) -> str | None:
    if not STAGE_VARIABLE_VALUE.fullmatch(value):
        return (f"stage variable value {value!r} would be rejected by API Gateway: it must be "
                "non-empty and use only letters, digits and -._~:/?#&=,")
    return None


def prefix_problems(prefix: str) -> list[str]:
    """What is wrong with the names a prefix produces (empty when they are all valid)."""
    checks = (
        ("function name", function_name(prefix), FUNCTION_NAME, "1-64 letters, digits, '-' or '_'"),
        ("table name", table_name(prefix), TABLE_NAME, "3-255 letters, digits, '_', '-' or '.'"),
        ("role name", role_name(prefix), ROLE_NAME, "1-64 letters, digits or +=,.@_-"),
        ("log group name", log_group_name(function_name(prefix)), LOG_GROUP_NAME,
         "1-512 letters, digits or _-/.#"),
        ("invoke policy name", invoke_policy_name(prefix), POLICY_NAME,
         "1-128 letters, digits or +=,.@_-"),
    )
    problems = [
        f"makes the {kind} {name!r} ({len(name)} characters), but AWS allows {allowed}"
        for kind, name, pattern, allowed in checks
        if not pattern.fullmatch(name)
    ]
    variable = stage_variable_problem(qualified_function_name(prefix))
    if variable:
        problems.append(f"makes the function name unusable as a stage variable: {variable}")
    return problems


def invoke_policy_name(prefix: str) -> str:
    # The managed policy callers of this stage attach (IAM allows 128 characters).
    return f"{prefix}{SERVICE}-invoke"


def access_log_group_name(stage: str) -> str:
    return f"/aws/apigateway/{SERVICE}/{stage}/access"


def execution_log_group_name(rest_api_id: str, stage: str) -> str:
    # The name API Gateway writes execution logs to; creating it ourselves sets its retention.
    return f"API-Gateway-Execution-Logs_{rest_api_id}/{stage}"


def canary_log_group_name(group: str) -> str:
    """Where API Gateway also writes a canary's lines of a stage log group."""
    return f"{group}{CANARY_SUFFIX}"


def artifact_bucket_name(account_id: str, region: str) -> str:
    # Bucket names are global: the account and region make this one ours.
    return f"{SERVICE}-artifacts-{account_id}-{region}"


def archive_key(code_hash: str) -> str:
    """Where a function archive is kept, by the SHA-256 of its own bytes: an object is
    never overwritten with other bytes, and a stage that is promoted deploys the very
    object the stage it was promoted from uploaded."""
    return f"archives/{code_hash}.zip"
