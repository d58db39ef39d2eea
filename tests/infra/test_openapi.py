"""The API's OpenAPI document: valid, what API Gateway takes, and what the function answers."""
from __future__ import annotations

import copy
import json

import pytest
from openapi_spec_validator import validate

from infra import openapi
from infra.routes import ROUTES, Route, integration_uri

URI = integration_uri("us-east-1", "123456789012")


@pytest.mark.parametrize("authorization", ["AWS_IAM", "NONE"])
def test_the_document_is_valid_openapi_3_with_nothing_api_gateway_refuses(authorization):
    document = openapi.api_document(ROUTES, URI, authorization)
    validate(copy.deepcopy(document))
    assert document["openapi"].startswith("3.0")
    assert openapi.document_problems(document) == []


def test_iam_puts_sigv4_on_every_method_and_none_on_no_method():
    signed = openapi.api_document(ROUTES, URI, "AWS_IAM")
    scheme = signed["components"]["securitySchemes"][openapi.SIGV4]
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"
    operations = [op for methods in signed["paths"].values() for op in methods.values()]
    assert len(operations) == len(ROUTES)
    assert all(op["security"] == [{openapi.SIGV4: []}] for op in operations)
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
