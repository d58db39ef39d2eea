"""The users API as one OpenAPI 3 document: what the REST API is given as its `body`, what
each Deployment snapshots, and the API's reference for its users (docs/openapi.json).

Pure: `api_document(routes, uri, authorization)` builds it, `document_problems` lists
what API Gateway would refuse in it, `document_hash` is the Deployment's trigger.
Schemas are the JSON Schema draft 4 subset API Gateway models accept.
"""
from __future__ import annotations

import hashlib
import json
import re

from infra import routes as api_routes
from infra.naming import SERVICE

OPENAPI_VERSION = "3.0.1"
SIGV4 = "sigv4"
AUTHORIZATIONS = ("AWS_IAM", "NONE")
# API Gateway's own answers, which reach a caller before (or instead of) the function.
GATEWAY_STATUSES = {
    "403": "Refused by API Gateway: unsigned (Missing Authentication Token), a bad or "
           "expired signature, or a caller not allowed execute-api:Invoke on this stage",
    "429": "Throttled by the stage's rate and burst limits",
}
# The function's own answers when its store fails: every operation may give them.
SERVER_STATUSES = {
    "500": "The user store failed (the error is logged with the request id)",
    "503": "The user store is busy or unreachable; retry after Retry-After seconds",
}

_MEDIA = "application/json"
_REF = "#/components/schemas/{}"
_PATH_PARAMETER = re.compile(r"\{([A-Za-z0-9_]+)\+?\}")
_UUID4 = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

SCHEMAS: dict[str, dict] = {
    "UserFields": {
        "type": "object",
        "description": "The fields a client writes; both required, nothing else allowed.",
        "required": ["name", "email"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100,
                     "example": "Ada Lovelace"},
            "email": {"type": "string", "maxLength": 254, "example": "ada@example.com",
                      "pattern": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,63}$"},
        },
    },
    "User": {
        "type": "object",
        "required": ["id", "name", "email", "createdAt", "updatedAt", "version"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "description": "A lowercase UUID set by the server",
                   "pattern": _UUID4},
            "name": {"type": "string"},
            "email": {"type": "string"},
            "createdAt": {"type": "string", "description": "ISO 8601 UTC"},
            "updatedAt": {"type": "string", "description": "ISO 8601 UTC"},
            "version": {"type": "integer", "minimum": 1,
                        "description": "Starts at 1; the ETag is this number, quoted"},
        },
    },
    "UserPage": {
        "type": "object",
        "required": ["items", "nextToken"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": {"$ref": _REF.format("User")}},
            "nextToken": {"type": "string", "nullable": True,
                          "description": "Pass back as ?nextToken= for the next page; null "
                                         "on the last page"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
    },
}

_HEADERS = {
    "ETag": {"description": "The user's version as a strong entity tag, e.g. \"3\"",
             "schema": {"type": "string"}},
    "Location": {"description": "The new user's URL path, e.g. /test/users/{id}",
                 "schema": {"type": "string"}},
    "Cache-Control": {"description": "no-store: the body holds personal data",
                      "schema": {"type": "string"}},
}
_ID = {"name": "id", "in": "path", "required": True,
       "description": "The user's id, as returned by POST /users (a lowercase UUID)",
       "schema": {"type": "string", "pattern": _UUID4}}
_IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
             "description": "An ETag (or a list, or *): the write happens only if the user "
                            "is still at one of these versions; 412 otherwise",
             "schema": {"type": "string"}}
_LIMIT = {"name": "limit", "in": "query", "required": False,
          "description": "Users per page, 1 to 100 (default 20)",
          "schema": {"type": "integer", "minimum": 1, "maximum": 100}}
_NEXT_TOKEN = {"name": "nextToken", "in": "query", "required": False,
               "description": "The nextToken of the previous page",
               "schema": {"type": "string"}}


def _json(schema: str, description: str, headers: tuple[str, ...] = ()) -> dict:
    response = {"description": description,
                "content": {_MEDIA: {"schema": {"$ref": _REF.format(schema)}}}}
    if headers:
        response["headers"] = {name: _HEADERS[name] for name in headers}
    return response


def _error(description: str) -> dict:
    return _json("Error", description)


_USER_BODY = {"required": True,
              "content": {_MEDIA: {"schema": {"$ref": _REF.format("UserFields")}}}}
_PERSONAL = ("ETag", "Cache-Control")

# What each route takes and answers: exactly the statuses the function returns.
OPERATIONS: dict[tuple[str, str], dict] = {
    ("GET", "/users"): {
        "operationId": "listUsers", "summary": "List users, a page at a time",
        "parameters": [_LIMIT, _NEXT_TOKEN],
        "responses": {"200": _json("UserPage", "A page of users", ("Cache-Control",)),
                      "400": _error("A bad limit, nextToken or unknown query parameter")},
    },
    ("POST", "/users"): {
        "operationId": "createUser", "summary": "Create a user",
        "requestBody": _USER_BODY,
        "responses": {"201": _json("User", "Created", ("ETag", "Location", "Cache-Control")),
                      "400": _error("The body is not a valid user"),
                      "413": _error("The body is larger than 16 KB"),
                      "415": _error("The body is not UTF-8 JSON")},
    },
    ("GET", "/users/{id}"): {
        "operationId": "getUser", "summary": "Read one user",
        "parameters": [_ID],
        "responses": {"200": _json("User", "The user", _PERSONAL),
                      "400": _error("The id is not a user id"),
                      "404": _error("No user has this id")},
    },
    ("PUT", "/users/{id}"): {
        "operationId": "replaceUser", "summary": "Replace a user's name and email",
        "parameters": [_ID, _IF_MATCH],
        "requestBody": _USER_BODY,
        "responses": {"200": _json("User", "The updated user", _PERSONAL),
                      "400": _error("A bad id, body or If-Match header"),
                      "404": _error("No user has this id"),
                      "409": _error("The user changed while it was being updated"),
                      "412": _error("If-Match does not name the current version"),
                      "413": _error("The body is larger than 16 KB"),
                      "415": _error("The body is not UTF-8 JSON")},
    },
    ("DELETE", "/users/{id}"): {
        "operationId": "deleteUser", "summary": "Delete a user",
        "parameters": [_ID, _IF_MATCH],
        "responses": {"204": {"description": "Deleted"},
                      "400": _error("A bad id or If-Match header"),
                      "404": _error("No user has this id"),
                      "409": _error("The user changed while it was being deleted"),
                      "412": _error("If-Match does not name the current version")},
    },
}


def _operation(route: api_routes.Route, uri: str, authorization: str) -> dict:
    spec = OPERATIONS.get((route.method, route.path))
    if spec is None:
        raise ValueError(f"route {route.method} {route.path} has no entry in "
                         "infra/openapi.py OPERATIONS; describe its parameters and responses")
    responses = dict(spec["responses"])
    for status, description in {**GATEWAY_STATUSES, **SERVER_STATUSES}.items():
        responses.setdefault(status, _error(description))
    operation = {key: value for key, value in spec.items() if key != "responses"}
    operation["responses"] = dict(sorted(responses.items()))
    if authorization == "AWS_IAM":
        operation["security"] = [{SIGV4: []}]
    operation["x-amazon-apigateway-integration"] = {
        "type": api_routes.INTEGRATION_TYPE.lower(),
        "httpMethod": api_routes.INTEGRATION_HTTP_METHOD,
        "uri": uri,
        "passthroughBehavior": "when_no_match",
        "timeoutInMillis": 29000,
    }
    return operation


def api_document(routes: tuple[api_routes.Route, ...], uri: str,
                 authorization: str = "AWS_IAM") -> dict:
    """The whole API: every route, its integration through the stage variable, its
    schemas, and (AWS_IAM) SigV4 on every method."""
    if authorization not in AUTHORIZATIONS:
        raise ValueError(f"authorization must be one of {AUTHORIZATIONS}, not {authorization!r}")
    paths: dict[str, dict] = {}
    for route in sorted(routes, key=lambda r: (r.path, r.method)):
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, uri, authorization)
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": SERVICE, "version": "1.0",
                 "description": "A users API; every stage serves it with its own function "
                                "(stage variable functionName) and table."},
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
    if authorization == "AWS_IAM":
        document["components"]["securitySchemes"] = {SIGV4: {
            "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4"}}
    return document


def document_problems(document: dict) -> list[str]:
    """What API Gateway would refuse, or serve wrongly, in a document (empty: none)."""
    problems = []
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    for path, methods in (document.get("paths") or {}).items():
        declared_path = set(_PATH_PARAMETER.findall(path))
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            params = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "path"}
            for name in sorted(declared_path - params):
                problems.append(f"{where}: the path parameter {{{name}}} is not declared in "
                                "its parameters (API Gateway refuses the import)")
            for name in sorted(params - declared_path):
                problems.append(f"{where}: declares a path parameter {name!r} that its path lacks")
            for param in operation.get("parameters", []):
                if param.get("in") == "path" and param.get("required") is not True:
                    problems.append(f"{where}: path parameter {param.get('name')!r} must be "
                                    "required: true")
            integration = operation.get("x-amazon-apigateway-integration")
            if not integration or not integration.get("uri"):
                problems.append(f"{where}: has no x-amazon-apigateway-integration with a uri; "
                                "API Gateway would answer it with 500")
            for requirement in operation.get("security", []):
                for scheme in requirement:
                    if scheme not in schemes:
                        problems.append(f"{where}: security names {scheme!r}, which "
                                        "components.securitySchemes does not define")
            if not operation.get("responses"):
                problems.append(f"{where}: declares no responses")
    return problems


def canonical_json(document: dict) -> str:
    """The document as the REST API's body: one canonical text, so equal documents hash equal."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def document_hash(document: dict) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


# --- the reference file -------------------------------------------------------------

REFERENCE_FILE = "openapi.json"
# The deployed document names the region and account; the reference names placeholders.
REFERENCE_REGION, REFERENCE_ACCOUNT = "{region}", "{account}"


def reference_document(routes: tuple[api_routes.Route, ...] = api_routes.ROUTES) -> dict:
    return api_document(routes, api_routes.integration_uri(REFERENCE_REGION, REFERENCE_ACCOUNT))


def reference_text(routes: tuple[api_routes.Route, ...] = api_routes.ROUTES) -> str:
    return json.dumps(reference_document(routes), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    # python -m infra.openapi: rewrite the reference after changing routes or operations.
    from pathlib import Path
    target = Path(__file__).resolve().parent.parent / REFERENCE_FILE
    target.write_text(reference_text())
    print(f"wrote {target}")
