"""The REST API's endpoint is configured by its arguments only, never also in the OpenAPI
body: terraform-provider-aws lets `disable_execute_api_endpoint` override the body's
`x-amazon-apigateway-endpoint-configuration` only when the argument is true, so a body true
against an argument false is a diff on every update (facts A). The body has no place for
the endpoint type, so REGIONAL is the argument's alone."""
from __future__ import annotations

import json

import pytest

from infra import openapi, routes
from infra.config import ConfigError
from tests.infra.conftest import run_stack
from tests.infra.mocks import AwsMocks

URI = routes.integration_uri("us-east-1", "123456789012", partition="aws")
EXTENSION = "x-amazon-apigateway-endpoint-configuration"


def test_the_extension_in_the_body_is_refused_where_api_gateway_reads_it():
    document = openapi.api_document(routes.ROUTES, URI)
    assert openapi.document_problems(document) == []
    document[EXTENSION] = {"disableExecuteApiEndpoint": True}          # Swagger's place
    document["servers"][0][EXTENSION] = {"disableExecuteApiEndpoint": False}  # OpenAPI 3's
    problems = openapi.document_problems(document)
    assert [p.split(":")[0] for p in problems] == ["the document's root", "servers[0]"]
    for problem in problems:
        assert (f"{EXTENSION} is not allowed: the REST API's endpoint is set by its arguments "
                "(the REGIONAL type, and disable_execute_api_endpoint from "
                "user-service:disableExecuteApiEndpoint)") in problem
        assert problem.endswith("remove it and set user-service:disableExecuteApiEndpoint "
                                "instead")


def test_the_program_refuses_such_a_body_before_declaring_anything(monkeypatch):
    declared = []

    class Recording(AwsMocks):
        def new_resource(self, args):
            declared.append(args.typ)
            return super().new_resource(args)

    shipped = openapi.server
    monkeypatch.setattr(openapi, "server", lambda *args, **kwargs: {
        **shipped(*args, **kwargs), EXTENSION: {"disableExecuteApiEndpoint": True}})
    with pytest.raises(ConfigError, match=f"servers\\[0\\]: {EXTENSION} is not allowed"):
        run_stack("dev", mocks_class=Recording)
    assert declared == []


@pytest.mark.parametrize("disabled", [False, True])
def test_the_rest_api_sets_the_endpoint_by_its_arguments_only(disabled):
    run = run_stack("dev", overrides={"user-service:disableExecuteApiEndpoint":
                                      str(disabled).lower()})
    api = run.one("aws:apigateway/restApi:RestApi")
    # Always sent, false included (Optional+Computed: left out, a true would stay).
    assert api.inputs["disableExecuteApiEndpoint"] is disabled
    assert api.inputs["endpointConfiguration"]["types"] == "REGIONAL"

    body = json.loads(api.inputs["body"])
    assert EXTENSION not in body and all(EXTENSION not in s for s in body["servers"])
