"""The function's configuration: one environment variable, checked once at init.

TABLE_NAME holds the stage's whole table name (dev-User, test-User, User), never a
prefix: Terraform-bridged providers drop environment entries whose value is "", so an
empty prod prefix would never reach the function. The check is a pure function of the
environment, so tests call it directly.
"""
from __future__ import annotations

import json
import re
from typing import Mapping

TABLE_NAME_ENV = "TABLE_NAME"
# DynamoDB's rule for table names (infra/naming.py holds the same rule for the program;
# the archive carries only this package, so it cannot import it).
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_WHAT_IT_HOLDS = ("the stage's DynamoDB table name: 3-255 letters, digits, '_', '-' or '.', "
                  "e.g. dev-User (prod: User). It is set by the deployment (infra/function.py); "
                  "redeploy the stack to restore it")


class ConfigurationError(RuntimeError):
    """The function's environment is unusable; raised at init, before any request."""

    def __init__(self, variable: str, problem: str):
        super().__init__(f"{variable} {problem}; it must hold {_WHAT_IT_HOLDS}.")
        self.variable = variable


def _shown(value: str, limit: int = 64) -> str:
    return json.dumps(value if len(value) <= limit else value[:limit] + "...")


def table_name_from(environ: Mapping[str, str]) -> str:
    """The table name from TABLE_NAME, or ConfigurationError saying what is wrong."""
    value = environ.get(TABLE_NAME_ENV)
    if value is None:
        raise ConfigurationError(TABLE_NAME_ENV, "is not set")
    if value == "":
        raise ConfigurationError(TABLE_NAME_ENV, "is empty")
    if _TABLE_NAME.fullmatch(value) is None:
        raise ConfigurationError(
            TABLE_NAME_ENV, f"is {_shown(value)} ({len(value)} characters), "
                            "which is not a valid DynamoDB table name")
    return value
