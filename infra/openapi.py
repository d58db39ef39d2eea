"""The users API as one OpenAPI 3 document: what the REST API is given as its `body`, what
each Deployment snapshots, and the API's reference for its users (openapi.json).

Pure: `api_document(routes, uri, authorization)` builds it, `document_problems` lists
what API Gateway would refuse in it (or import only with warnings), `import_warnings`
what its import warns on or drops, `document_hash` is the Deployment's trigger.

API Gateway's import takes a subset of OpenAPI: its models are JSON Schema draft 4, without
`additionalProperties`, `anyOf`, `oneOf`, `discriminator`, `example`, `exclusiveMinimum`,
`readOnly` (its "important notes for REST APIs"), and of a parameter it keeps only `name`,
`in`, `required`, `description` and the type. With warnings allowed (the import's default)
the stored API silently differs from the document, so the program sets `fail_on_warnings`
and this document stays within the subset: what must stay documented for people is said in
`description`.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

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

# The deployed document names the region and account; the reference names placeholders.
REFERENCE_REGION, REFERENCE_ACCOUNT = "{region}", "{account}"
# ... and the partition its ARNs are in (aws, aws-us-gov, aws-cn).
REFERENCE_PARTITION = "{partition}"
# The execute-api host's DNS suffix in the aws partition (aws-cn: amazonaws.com.cn).
AWS_DNS_SUFFIX = "amazonaws.com"

_MEDIA = "application/json"
_REF = "#/components/schemas/{}"
_PATH_PARAMETER = re.compile(r"\{([A-Za-z0-9_]+)\+?\}")
_UUID4 = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

SCHEMAS: dict[str, dict] = {
    "UserFields": {
        "type": "object",
        "description": "The fields a client writes; both required, nothing else allowed (the "
                       "function refuses unknown fields with 400).",
        "required": ["name", "email"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100,
                     "description": "e.g. Ada Lovelace"},
            "email": {"type": "string", "maxLength": 254, "description": "e.g. ada@example.com",
                      "pattern": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,63}$"},
        },
    },
    "User": {
        "type": "object",
        "description": "A stored user: exactly these fields.",
        "required": ["id", "name", "email", "createdAt", "updatedAt", "version"],
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
        "description": "One page of users: exactly these fields.",
        "required": ["items", "nextToken"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": _REF.format("User")}},
            # No `type`: a string, or null on the last page (draft 4 models have no
            # `nullable`, and a type list is not OpenAPI 3.0).
            "nextToken": {"description": "A string to pass back as ?nextToken= for the next "
                                         "page; null on the last page"},
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
# Of a parameter API Gateway keeps name, in, required, description and the type: the rest
# (a pattern, a range) is said in the description.
_ID = {"name": "id", "in": "path", "required": True,
       "description": "The user's id, as returned by POST /users (a lowercase UUID)",
       "schema": {"type": "string"}}
_IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
             "description": "An ETag (or a list, or *): the write happens only if the user "
                            "is still at one of these versions; 412 otherwise",
             "schema": {"type": "string"}}
_LIMIT = {"name": "limit", "in": "query", "required": False,
          "description": "Users per page, 1 to 100 (default 20)",
          "schema": {"type": "integer"}}
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


def server(region: str, dns_suffix: str = AWS_DNS_SUFFIX) -> dict:
    """The stages' URL for client generators and linters. API Gateway's import reads only a
    base path from it, and ignores that by default (`basepath=ignore`): paths stay as declared."""
    return {
        "url": f"https://{{restApiId}}.execute-api.{{awsRegion}}.{dns_suffix}/{{basePath}}",
        "description": "A stage of the API (pulumi stack output stageUrl gives the whole URL)",
        "variables": {
            "restApiId": {"default": "your-rest-api-id",
                          "description": "The REST API's id (pulumi stack output restApiId)"},
            "awsRegion": {"default": region, "description": "The API's AWS region"},
            "basePath": {"default": "dev",
                         "description": "The stage's name (user-service:stage of its stack)"},
        },
    }


def api_document(routes: tuple[api_routes.Route, ...], uri: str,
                 authorization: str = "AWS_IAM", *, region: str = REFERENCE_REGION,
                 dns_suffix: str = AWS_DNS_SUFFIX) -> dict:
    """The whole API: every route, its integration through the stage variable, its
    schemas, (AWS_IAM) SigV4 on every method, and the stages' URL in `region` (the
    reference's placeholder unless given) under the partition's `dns_suffix`."""
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
        "servers": [server(region, dns_suffix)],
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
    if authorization == "AWS_IAM":
        document["components"]["securitySchemes"] = {SIGV4: {
            "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4"}}
    return document


# --- what API Gateway's import keeps ------------------------------------------------

# JSON Schema draft 4 keywords that are also OpenAPI 3.0 schema keywords, less what API
# Gateway documents as unsupported. Where its documentation is silent (`allOf`, `not`,
# `exclusiveMaximum`, `default`, OpenAPI's own `nullable`, `writeOnly`...), the keyword is
# treated as unsupported: a keyword only counts once AWS says its models take it.
MODEL_KEYWORDS = frozenset({
    "$ref", "type", "format", "title", "description", "enum", "properties", "required",
    "items", "minimum", "maximum", "multipleOf", "minLength", "maxLength", "pattern",
    "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties"})
# Draft 4's own formats; API Gateway names int32, int64 and decimal as unsupported.
MODEL_FORMATS = frozenset({"date-time", "email", "hostname", "ipv4", "ipv6", "uri"})
# Of an input parameter API Gateway keeps name, in, required, description and the type.
PARAMETER_FIELDS = frozenset({"name", "in", "required", "description", "schema"})
HEADER_FIELDS = frozenset({"description", "schema"})
COMPONENTS = frozenset({"schemas", "securitySchemes"})
_DESCRIBE = "say it in the description instead"
# How to do without each keyword API Gateway's import drops or warns on.
FIXES = {
    "example": f"API Gateway drops it; remove it and {_DESCRIBE}",
    "examples": f"API Gateway drops it; remove it and {_DESCRIBE}",
    "readOnly": f"API Gateway drops it; remove it and {_DESCRIBE} (e.g. 'set by the server')",
    "writeOnly": f"API Gateway's models do not take it; remove it and {_DESCRIBE}",
    "deprecated": f"API Gateway drops it; remove it and {_DESCRIBE}",
    "additionalProperties": "API Gateway's models do not support it (the import warns); "
                            "remove it, keep refusing unknown fields in the function and "
                            "say so in the description",
    "nullable": "API Gateway's models are JSON Schema draft 4, which has no nullable; leave "
                "out `type` (any JSON value) and say when it is null in the description",
    "anyOf": "API Gateway's models do not support it; describe one schema",
    "oneOf": "API Gateway's models do not support it; describe one schema",
    "allOf": "API Gateway's models do not support it; write the schema out in full",
    "not": "API Gateway's models do not support it; describe what is allowed",
    "discriminator": "API Gateway's models do not support it; describe one schema",
    "exclusiveMinimum": "API Gateway's models do not support it; use minimum",
    "exclusiveMaximum": "API Gateway's models do not support it; use maximum",
    "default": f"API Gateway's models do not take it; {_DESCRIBE}",
}
_UNKNOWN = "API Gateway's models (a JSON Schema draft 4 subset) do not take it; remove it"


@dataclass(frozen=True)
class UnsupportedKeyword:
    """One thing API Gateway's import would warn on or silently drop."""
    where: str    # e.g. "components.schemas.User.properties.id"
    keyword: str  # e.g. "example"
    fix: str

    def __str__(self) -> str:
        return f"{self.where}: '{self.keyword}' is not supported: {self.fix}"


def _schema_warnings(where: str, schema, found: list[UnsupportedKeyword]) -> None:
    if not isinstance(schema, dict):
        return
    for keyword in schema:
        if keyword not in MODEL_KEYWORDS:
            found.append(UnsupportedKeyword(where, keyword, FIXES.get(keyword, _UNKNOWN)))
    if "format" in schema and schema["format"] not in MODEL_FORMATS:
        found.append(UnsupportedKeyword(
            where, "format", f"API Gateway's models do not take format "
                             f"{schema['format']!r}; use type and minimum/maximum or pattern"))
    for name, child in (schema.get("properties") or {}).items():
        _schema_warnings(f"{where}.properties.{name}", child, found)
    _schema_warnings(f"{where}.items", schema.get("items"), found)


def _typed_only(where: str, item: dict, fields: frozenset,
                found: list[UnsupportedKeyword]) -> None:
    """A parameter or header: API Gateway keeps its fields and its schema's type only."""
    ignored = "API Gateway ignores it here; " + _DESCRIBE
    for field in item:
        if field not in fields:
            found.append(UnsupportedKeyword(where, field, FIXES.get(field, ignored)))
    for keyword in item.get("schema") or {}:
        if keyword != "type":
            found.append(UnsupportedKeyword(f"{where}.schema", keyword, ignored))


def _content_warnings(where: str, content, found: list[UnsupportedKeyword]) -> None:
    for media, body in (content or {}).items():
        _schema_warnings(f"{where}.content.{media}.schema", (body or {}).get("schema"), found)


def import_warnings(document: dict) -> list[UnsupportedKeyword]:
    """What API Gateway's import of `document` would warn on or drop: with failOnWarnings it
    refuses the import, without it the stored API silently differs from the document."""
    found: list[UnsupportedKeyword] = []
    components = document.get("components") or {}
    for key in components:
        if key not in COMPONENTS:
            found.append(UnsupportedKeyword(
                "components", key, "API Gateway's import takes only schemas and "
                                   "securitySchemes here; write it inline"))
    for name, schema in (components.get("schemas") or {}).items():
        _schema_warnings(f"components.schemas.{name}", schema, found)
    for path, methods in (document.get("paths") or {}).items():
        for method, operation in (methods or {}).items():
            if not isinstance(operation, dict):
                continue
            where = f"{method.upper()} {path}"
            for param in operation.get("parameters") or []:
                _typed_only(f"{where} parameter {param.get('name')}", param,
                            PARAMETER_FIELDS, found)
            _content_warnings(f"{where} requestBody",
                              (operation.get("requestBody") or {}).get("content"), found)
            for status, response in (operation.get("responses") or {}).items():
                _content_warnings(f"{where} response {status}", response.get("content"), found)
                for name, header in (response.get("headers") or {}).items():
                    _typed_only(f"{where} response {status} header {name}", header,
                                HEADER_FIELDS, found)
    return found


def document_problems(document: dict) -> list[str]:
    """What API Gateway would refuse, import only with warnings, or serve wrongly, in a
    document (empty: none); each names where, what and the fix."""
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
    problems += endpoint_configuration_problems(document)
    # The REST API imports with fail_on_warnings: a warning is a refused update.
    problems += [str(warning) for warning in import_warnings(document)]
    return problems


ENDPOINT_EXTENSION = "x-amazon-apigateway-endpoint-configuration"


def endpoint_configuration_problems(document: dict) -> list[str]:
    """The endpoint's settings belong to the REST API's arguments alone (its endpoint type
    REGIONAL; disable_execute_api_endpoint, always sent). The same setting in the body (at
    its root, Swagger's place, or in a server object, OpenAPI 3's) would fight the argument:
    the provider lets an argument override the body only when it is true, so a body true
    against an argument false differs on every update (terraform-provider-aws rest_api.go)."""
    places = [("the document's root", document)] + [
        (f"servers[{i}]", server) for i, server in enumerate(document.get("servers") or [])
        if isinstance(server, dict)]
    return [f"{where}: {ENDPOINT_EXTENSION} is not allowed: the REST API's endpoint is set by "
            "its arguments (the REGIONAL type, and disable_execute_api_endpoint from "
            "user-service:disableExecuteApiEndpoint), and a value in the body would fight them "
            "on every update; remove it and set user-service:disableExecuteApiEndpoint instead"
            for where, holder in places if ENDPOINT_EXTENSION in holder]


def canonical_json(document: dict) -> str:
    """The document as the REST API's body: one canonical text, so equal documents hash equal."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def document_hash(document: dict) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


# --- the reference file -------------------------------------------------------------

REFERENCE_FILE = "openapi.json"


def reference_document(routes: tuple[api_routes.Route, ...] = api_routes.ROUTES) -> dict:
    return api_document(routes, api_routes.integration_uri(REFERENCE_REGION, REFERENCE_ACCOUNT,
                                                           partition=REFERENCE_PARTITION))


def reference_text(routes: tuple[api_routes.Route, ...] = api_routes.ROUTES) -> str:
    return json.dumps(reference_document(routes), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    # python -m infra.openapi: rewrite the reference after changing routes or operations.
    from pathlib import Path
    target = Path(__file__).resolve().parent.parent / REFERENCE_FILE
    target.write_text(reference_text())
    print(f"wrote {target}")
