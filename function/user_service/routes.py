"""Which operation a request names, and the operations themselves.

Routing uses API Gateway's `resource` template (e.g. /users/{id}) and falls back to
matching the path when the event has none (or a catch-all such as /{proxy+}).

Conflicts: PUT and DELETE read the user, then write on condition that the version is
still the one read. With If-Match, a tag that is not the current version's gets 412
(before or during the write; RFC 9110 13.1.1, only a malformed header is a 400);
without it, losing a race gets 409, never a silent overwrite.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Callable

from . import store
from . import validation as v
from .request import Request
from .responses import HttpError, etag, json_response, no_content

USERS = "/users"
USER = "/users/{id}"
_USER_PATH = re.compile(r"/users/([^/]+)")
# Only characters that are safe in a header and in a URL path survive into Location.
_SAFE_PATH_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)*")


def _now() -> str:
    """ISO 8601 UTC with milliseconds and a Z, e.g. 2024-05-01T12:00:00.123Z."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user_response(status: int, user: dict, headers: dict[str, str] | None = None) -> dict:
    return json_response(status, user, {"ETag": etag(user["version"]), **(headers or {})})


def _read_user_fields(request: Request) -> dict[str, str]:
    v.check_content_type(request.header("content-type"))
    raw = v.decode_body(request.body, request.is_base64)
    return v.validate_user_fields(v.parse_json(raw))


def _not_found(user_id: str) -> HttpError:
    return HttpError(404, f"No user has the id {user_id}; it may have been deleted. "
                          "List users with GET /users.")


def _location(request: Request, user_id: str) -> str:
    """/users/{id}, qualified with the stage (or base path) when API Gateway reports it.

    requestContext.path is the path the client really used (e.g. /dev/users); the part
    before the resource path is the stage or custom-domain base path. On a custom domain
    API Gateway puts the base path in `path` too (/v1/users), so a resource without
    parameters (/users) is what is compared.
    """
    outer = request.request_context.get("path")
    inner = request.resource if request.resource and "{" not in request.resource \
        else request.path
    prefix = ""
    if isinstance(outer, str) and isinstance(inner, str) and outer.endswith(inner):
        candidate = outer[: len(outer) - len(inner)]
        if _SAFE_PATH_PREFIX.fullmatch(candidate):
            prefix = candidate
    return f"{prefix}{USERS}/{user_id}"


# --- operations -----------------------------------------------------------------------

def list_users(request: Request, _user_id: str | None) -> dict:
    v.check_known_params(request.query, ("limit", "nextToken"))
    limit = v.parse_limit(v.single_param(request.query, "limit"))
    start_after = v.decode_next_token(v.single_param(request.query, "nextToken"))
    users, last_id = store.list_users(limit, start_after)
    next_token = v.encode_next_token(last_id) if last_id is not None else None
    return json_response(200, {"items": users, "nextToken": next_token})


def create_user(request: Request, _user_id: str | None) -> dict:
    v.check_known_params(request.query, ())
    fields = _read_user_fields(request)
    now = _now()
    # A uuid4 collision is astronomically unlikely; the condition makes even that safe:
    # a taken id is never overwritten, another is drawn, and after three taken ids in a
    # row (a broken random source, not chance) the answer is a 500 logged as IdCollision.
    for _ in range(3):
        user = {"id": str(uuid.uuid4()), **fields, "createdAt": now, "updatedAt": now, "version": 1}
        try:
            store.create_user(user)
        except store.ConditionFailed:
            continue
        return _user_response(201, user, {"Location": _location(request, user["id"])})
    raise HttpError(500, "Could not allocate a new user id; try again.", error_code="IdCollision")


def get_user(request: Request, user_id: str | None) -> dict:
    v.check_known_params(request.query, ())
    user_id = v.validate_user_id(user_id)
    user = store.get_user(user_id)
    if user is None:
        raise _not_found(user_id)
    return _user_response(200, user)


def _stale(current: int | None, condition: frozenset[str] | str) -> HttpError:
    now = f"it is now at version {current}" if current is not None else "it has changed or been deleted"
    weak = (" If-Match compares strongly: a weak tag (W/...) never matches."
            if isinstance(condition, frozenset) and any(t.startswith("W/") for t in condition)
            else "")
    return HttpError(412, f"If-Match does not name the current version of this user: {now}. "
                          f"GET the user again and retry with its ETag.{weak}")


def _conflict(action: str) -> HttpError:
    return HttpError(409, f"The user changed while it was being {action}; GET it again and "
                          "retry (send If-Match with its ETag to make this explicit).")


def put_user(request: Request, user_id: str | None) -> dict:
    v.check_known_params(request.query, ())
    user_id = v.validate_user_id(user_id)
    condition = v.parse_if_match(request.header("if-match"))
    fields = _read_user_fields(request)
    current = store.get_user(user_id)
    if current is None:  # RFC 9110 13.2.1: a 404 takes precedence over If-Match
        raise _not_found(user_id)
    if not v.if_match_allows(condition, current["version"]):
        raise _stale(current["version"], condition)
    user = {**current, **fields, "updatedAt": _now(), "version": current["version"] + 1}
    try:
        store.replace_user(user, expected_version=current["version"])
    except store.ConditionFailed:
        raise (_stale(None, condition) if condition is not None else _conflict("updated")) from None
    return _user_response(200, user)


def delete_user(request: Request, user_id: str | None) -> dict:
    v.check_known_params(request.query, ())
    user_id = v.validate_user_id(user_id)
    condition = v.parse_if_match(request.header("if-match"))
    current = store.get_user(user_id)
    if current is None:  # RFC 9110 13.2.1: a 404 takes precedence over If-Match
        raise _not_found(user_id)
    if not v.if_match_allows(condition, current["version"]):
        raise _stale(current["version"], condition)
    try:
        store.delete_user(user_id, expected_version=current["version"])
    except store.ConditionFailed:
        raise (_stale(None, condition) if condition is not None else _conflict("deleted")) from None
    return no_content()


# --- routing --------------------------------------------------------------------------

Operation = Callable[[Request, "str | None"], dict]
ROUTES: dict[str, dict[str, Operation]] = {
    USERS: {"GET": list_users, "POST": create_user},
    USER: {"GET": get_user, "PUT": put_user, "DELETE": delete_user},
}


def match(request: Request) -> tuple[str, str | None]:
    """(route template, user id from the path or None); 404 when no route matches."""
    if request.resource in ROUTES:
        user_id = request.path_parameters.get("id") if request.resource == USER else None
        return request.resource, user_id if isinstance(user_id, str) else None
    path = request.path
    if path == USERS:
        return USERS, None
    found = _USER_PATH.fullmatch(path) if path is not None else None
    if found:
        return USER, found.group(1)
    raise HttpError(404, "There is nothing at this path; the API serves /users and /users/{id}.")


def operation(template: str, method: str | None) -> Operation:
    """The operation for a method on a matched route; 405 with Allow otherwise."""
    methods = ROUTES[template]
    found = methods.get(method) if method is not None else None
    if found is None:
        allow = ", ".join(sorted(methods))
        raise HttpError(405, f"{template} does not support this method; use one of {allow}.",
                        headers={"Allow": allow})
    return found
