"""API Gateway proxy responses (payload format 1.0) and the error type that becomes one."""
from __future__ import annotations

import json

# Every response says no-store: users and lists are personal data, and error messages
# may quote the client's own input (an email) back. One rule for all, so no response
# that carries personal data can miss it; a 204 costs one header.
NO_STORE = {"Cache-Control": "no-store"}
JSON_HEADERS = {"Content-Type": "application/json", **NO_STORE}


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> dict:
    all_headers = dict(JSON_HEADERS)
    if headers:
        all_headers.update(headers)
    # ensure_ascii keeps the body plain ASCII whatever a client echoed back to us.
    return {"statusCode": status, "headers": all_headers,
            "body": json.dumps(payload, separators=(",", ":"))}


def no_content(headers: dict[str, str] | None = None) -> dict:
    return {"statusCode": 204, "headers": {**NO_STORE, **(headers or {})}, "body": ""}


def etag(version: int) -> str:
    """The strong entity tag of a user version: the version number, quoted."""
    return f'"{version}"'


class HttpError(Exception):
    """A request the API refuses; becomes a JSON `{"message": ...}` response."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 error_code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        # What the log line records as the cause (never the message: it may echo input).
        self.error_code = error_code

    def to_response(self) -> dict:
        return json_response(self.status, {"message": self.message}, self.headers)


def bad_request(message: str) -> HttpError:
    return HttpError(400, message)
