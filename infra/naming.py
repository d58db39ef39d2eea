"""Every physical name the program gives, and the rules AWS holds those names to.

Names are explicit (the stage variable names the function), so they are checked here,
as pure functions, before anything is declared.
"""
from __future__ import annotations

import re

SERVICE = "user-service"
TABLE_BASE = "User"
STAGE_VARIABLE = "functionName"
# The stage name the API Gateway console's Test button invokes as.
TEST_INVOKE_STAGE = "test-invoke-stage"

# API Gateway allows 128 characters; 64 keeps each permission's statement id within 100.
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
STAGE_VARIABLE_VALUE = re.compile(r"[A-Za-z0-9\-._~:/?#&=,]+")
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
LOG_GROUP_NAME = re.compile(r"[\w\-/.#]{1,512}")


def function_name(prefix: str) -> str:
    return f"{prefix}{SERVICE}"


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
    )
    problems = [
        f"makes the {kind} {name!r} ({len(name)} characters), but AWS allows {allowed}"
        for kind, name, pattern, allowed in checks
        if not pattern.fullmatch(name)
    ]
    variable = stage_variable_problem(function_name(prefix))
    if variable:
        problems.append(f"makes the function name unusable as a stage variable: {variable}")
    return problems
