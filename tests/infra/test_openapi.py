"""The API's OpenAPI document: valid, what API Gateway takes, and what the function answers."""
from __future__ import annotations

import copy
import json

import pytest
from openapi_spec_validator import validate

from infra import openapi
from infra.routes import ROUTES, Route, integration_uri

URI = integration_uri("us-east-1", "123456789012", partition="aws")


@pytest.mark.parametrize("authorization", ["AWS_IAM", "NONE"])
def test_the_document_is_valid_openapi_3_with_nothing_api_gateway_refuses(authorization):
    document = openapi.api_document(ROUTES, URI, authorization)
    validate(copy.deepcopy(document))
    assert document["openapi"].startswith("3.0")
    assert openapi.document_problems(document) == []


def test_iam_puts_sigv4_on_every_method_and_none_on_no_method():
    signed = openapi.api_document(ROUTES, URI, "AWS_IAM")
    # API Gateway's SigV4 scheme (its OpenAPI extensions reference), whatever its name,
    # and every operation requires it.
    [(name, scheme)] = signed["components"]["securitySchemes"].items()
    assert scheme == {"type": "apiKey", "name": "Authorization", "in": "header",
                      "x-amazon-apigateway-authtype": "awsSigv4"}
    operations = [op for methods in signed["paths"].values() for op in methods.values()]
    assert len(operations) == len(ROUTES)
    assert all(op["security"] == [{name: []}] for op in operations)
    open_api = openapi.api_document(ROUTES, URI, "NONE")
    assert all("security" not in op for methods in open_api["paths"].values()
               for op in methods.values())


def test_unknown_authorization_is_refused():
    with pytest.raises(ValueError, match="AWS_IAM"):
        openapi.api_document(ROUTES, URI, "COGNITO")


def test_a_path_parameter_without_its_declaration_is_a_problem():
    document = openapi.api_document(ROUTES, URI)
    del document["paths"]["/users/{id}"]["get"]["parameters"]
    problems = openapi.document_problems(document)
    assert problems == ["GET /users/{id}: the path parameter {id} is not declared in its "
                        "parameters (API Gateway refuses the import)"]


def test_a_method_without_integration_or_with_an_unknown_scheme_is_a_problem():
    document = openapi.api_document(ROUTES, URI)
    del document["paths"]["/users"]["get"]["x-amazon-apigateway-integration"]
    document["paths"]["/users"]["post"]["security"] = [{"cognito": []}]
    problems = "\n".join(openapi.document_problems(document))
    assert "GET /users: has no x-amazon-apigateway-integration" in problems
    assert "POST /users: security names 'cognito'" in problems


def test_a_route_without_a_described_operation_is_refused():
    with pytest.raises(ValueError, match="PATCH /users/{id} has no entry"):
        openapi.api_document(ROUTES + (Route("PATCH", "/users/{id}"),), URI)


def test_responses_declare_what_the_function_and_the_gateway_answer():
    document = openapi.api_document(ROUTES, URI)
    statuses = {(m.upper(), p): set(op["responses"]) for p, methods in document["paths"].items()
                for m, op in methods.items()}
    assert statuses[("POST", "/users")] >= {"201", "400", "413", "415", "403", "429", "500", "503"}
    assert statuses[("PUT", "/users/{id}")] >= {"200", "404", "409", "412"}
    assert statuses[("DELETE", "/users/{id}")] >= {"204", "412"}
    created = document["paths"]["/users"]["post"]["responses"]["201"]
    assert {"ETag", "Location", "Cache-Control"} <= set(created["headers"])


def test_the_hash_is_over_the_canonical_text():
    document = openapi.api_document(ROUTES, URI)
    reordered = json.loads(json.dumps(document, sort_keys=False))
    assert openapi.document_hash(reordered) == openapi.document_hash(document)


# --- what API Gateway's import keeps ---------------------------------------------------

def _with(document: dict, path: tuple, key: str, value) -> dict:
    """A copy of `document` with `key: value` set in the object at `path` only (through
    JSON: the builder shares objects between operations)."""
    changed = json.loads(json.dumps(document))
    target = changed
    for part in path:
        target = target[part]
    target[key] = value
    return changed


USER_FIELDS = ("components", "schemas", "UserFields")
NAME = USER_FIELDS + ("properties", "name")
ID_PARAMETER = ("paths", "/users/{id}", "get", "parameters", 0)
CREATED_ETAG = ("paths", "/users", "post", "responses", "201", "headers", "ETag")


@pytest.mark.parametrize("path,key,value,where,fix", [
    # Dropped by the import: the stored model silently loses them.
    (NAME, "example", "Ada", "components.schemas.UserFields.properties.name", "description"),
    (USER_FIELDS + ("properties", "email"), "readOnly", True,
     "components.schemas.UserFields.properties.email", "set by the server"),
    # Warned on: with failOnWarnings the import is refused.
    (USER_FIELDS, "additionalProperties", False, "components.schemas.UserFields",
     "refusing unknown fields in the function"),
    (NAME, "nullable", True, "components.schemas.UserFields.properties.name",
     "leave out `type`"),
    (NAME, "oneOf", [{"type": "string"}], "components.schemas.UserFields.properties.name",
     "describe one schema"),
    (("components", "schemas", "User", "properties", "version"), "exclusiveMinimum", True,
     "components.schemas.User.properties.version", "use minimum"),
    (("components", "schemas", "User", "properties", "version"), "format", "int64",
     "components.schemas.User.properties.version", "minimum/maximum"),
    (("components", "schemas", "UserPage", "properties", "items", "items"), "xml", {},
     "components.schemas.UserPage.properties.items.items", "remove it"),
    # Ignored on a parameter or a header: only the type is kept.
    (ID_PARAMETER + ("schema",), "pattern", "^[0-9a-f-]{36}$",
     "GET /users/{id} parameter id.schema", "description"),
    (ID_PARAMETER, "example", "0f8fad5b-d9cb-469f-a165-70867728950e",
     "GET /users/{id} parameter id", "description"),
    (CREATED_ETAG + ("schema",), "pattern", '^"[0-9]+"$',
     "POST /users response 201 header ETag.schema", "description"),
    (("components",), "examples", {}, "components", "inline"),
])
def test_what_the_import_drops_or_warns_on_is_a_problem_naming_where_and_the_fix(
        path, key, value, where, fix):
    document = _with(openapi.api_document(ROUTES, URI), path, key, value)
    problems = openapi.document_problems(document)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{where}: '{key}' is not supported")
    assert fix in problems[0]


def test_an_inline_request_schema_is_checked_as_a_model():
    document = json.loads(json.dumps(openapi.api_document(ROUTES, URI)))
    body = document["paths"]["/users"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = {"type": "object", "properties": {"name": {"type": "string",
                                                                "example": "Ada"}}}
    assert openapi.document_problems(document) == [
        "POST /users requestBody.content.application/json.schema.properties.name: 'example' "
        "is not supported: API Gateway drops it; remove it and say it in the description "
        "instead"]


def test_the_documents_schemas_keep_only_what_api_gateway_models_take():
    # Written down, not read from the module: what the import is documented to keep.
    kept = {"$ref", "type", "format", "title", "description", "enum", "properties",
            "required", "items", "minimum", "maximum", "multipleOf", "minLength",
            "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
            "minProperties", "maxProperties"}

    def keywords(schema):
        yield from schema
        for child in (schema.get("properties") or {}).values():
            yield from keywords(child)
        if "items" in schema:
            yield from keywords(schema["items"])

    document = openapi.api_document(ROUTES, URI)
    used = {k for schema in document["components"]["schemas"].values() for k in keywords(schema)}
    assert used <= kept, used - kept
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                assert set(parameter) <= {"name", "in", "required", "description", "schema"}
                assert set(parameter["schema"]) == {"type"}, (method, path, parameter)


def test_the_servers_entry_is_the_stage_url_in_the_partitions_domain():
    document = openapi.api_document(ROUTES, URI, region="eu-west-1")
    [server] = document["servers"]
    assert server["url"] == "https://{restApiId}.execute-api.{awsRegion}.amazonaws.com/{basePath}"
    assert server["variables"]["awsRegion"]["default"] == "eu-west-1"
    assert set(server["variables"]) == {"restApiId", "awsRegion", "basePath"}
    china = openapi.api_document(ROUTES, URI, region="cn-north-1",
                                 dns_suffix="amazonaws.com.cn")
    assert china["servers"][0]["url"] == (
        "https://{restApiId}.execute-api.{awsRegion}.amazonaws.com.cn/{basePath}")
    assert china["servers"][0]["variables"]["awsRegion"]["default"] == "cn-north-1"
    validate(copy.deepcopy(china))
    # Only the servers differ: the paths API Gateway builds are the same.
    assert {k: v for k, v in china.items() if k != "servers"} == {
        k: v for k, v in document.items() if k != "servers"}


def test_the_rest_api_imports_its_body_failing_on_warnings(runs, world):
    rest_api = runs["dev"].one("aws:apigateway/restApi:RestApi")
    assert rest_api.inputs["failOnWarnings"] is True
    assert "parameters" not in rest_api.inputs  # basepath: API Gateway's default, ignore
    document = json.loads(rest_api.inputs["body"])
    assert openapi.import_warnings(document) == []
    assert document["servers"][0]["variables"]["awsRegion"]["default"] == world.region
    # The stages' host is in the partition's domain (aws-cn: amazonaws.com.cn).
    assert document["servers"][0]["url"] == (
        "https://{restApiId}.execute-api.{awsRegion}." + world.dns_suffix + "/{basePath}")


def test_a_document_the_import_would_warn_on_stops_the_program_before_anything_is_declared(
        monkeypatch):
    from infra.config import ConfigError
    from tests.infra.conftest import run_stack
    from tests.infra.mocks import AwsMocks

    class CountingMocks(AwsMocks):
        declared = 0

        def new_resource(self, args):
            CountingMocks.declared += 1
            return super().new_resource(args)

    schemas = copy.deepcopy(openapi.SCHEMAS)
    schemas["User"]["properties"]["id"]["readOnly"] = True
    monkeypatch.setattr(openapi, "SCHEMAS", schemas)
    with pytest.raises(ConfigError) as refused:
        run_stack("dev", mocks_class=CountingMocks)
    assert CountingMocks.declared == 0
    message = str(refused.value)
    assert "would be refused by API Gateway" in message
    assert ("components.schemas.User.properties.id: 'readOnly' is not supported: API Gateway "
            "drops it; remove it and say it in the description instead") in message
