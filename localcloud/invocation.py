"""What the caller of a function gets back from the local Lambda service: the result of
an invoke, or an error saying the invoke could not be attempted. Here, below the
services, so that a caller (API Gateway) need not import the service that runs functions
(:mod:`localcloud.awslambda.invoker`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class InvokerError(Exception):
    """The invoke could not be attempted (not an error of the function's code)."""


class FunctionNotFound(InvokerError):
    pass


class InvokeRefused(InvokerError):
    """Lambda refused the Invoke request itself, as its API answers it: the HTTP status,
    the error type (``x-amzn-ErrorType``) and the message; nothing ran."""

    def __init__(self, status: int, error_type: str, message: str, request_id: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class InvokeResult:
    function_name: str
    request_id: str
    status: str  # "ok", "error" (function error) or "timeout"
    payload: Any = None  # the handler's return value when status == "ok"
    error: dict | None = None  # {errorMessage, errorType, stackTrace} otherwise
    logs: list[str] = field(default_factory=list)  # START, output lines, END, REPORT
    duration_ms: float = 0.0
    cold_start: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def function_error(self) -> bool:
        return self.status == "error"

    @property
    def timed_out(self) -> bool:
        return self.status == "timeout"


class FunctionInvoker(Protocol):
    """What runs a deployed function for a caller: the Lambda service's
    :class:`localcloud.awslambda.invoker.Invoker`."""

    def invoke(self, function: str, event: Any) -> InvokeResult: ...
