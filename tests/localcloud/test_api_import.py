"""The REST API's OpenAPI import, as API Gateway's: with failOnWarnings, a body holding
what its import would warn on or drop is refused whole, where moto takes it."""
from __future__ import annotations

import json

import pytest

from infra import openapi
from infra.routes import ROUTES
from localcloud.apigateway import snapshots
from localcloud.apigateway.resources import RestApi
from localcloud.kinds import Cloud, DeployError
from tests.localcloud.builders import URI, cloud_for, suffix


@pytest.fixture
def cloud(emulator, state_dir) -> Cloud:
    return cloud_for(emulator, state_dir)


def inputs(name: str, document: dict, fail_on_warnings: bool = True) -> dict:
    return {"name": name, "body": json.dumps(document), "putRestApiMode": "overwrite",
            "failOnWarnings": fail_on_warnings}


def with_example(document: dict) -> dict:
    changed = json.loads(json.dumps(document))
    changed["components"]["schemas"]["UserFields"]["properties"]["name"]["example"] = "Ada"
    changed["components"]["schemas"]["User"]["additionalProperties"] = False
    return changed


def api_names(emulator) -> set[str]:
    return {api["name"] for api in emulator.client("apigateway").get_rest_apis()["items"]}


def test_a_body_the_import_warns_on_is_refused_and_no_api_is_made(emulator, cloud):
    name = f"warned-{suffix()}"
    with pytest.raises(DeployError) as refused:
        RestApi().create(cloud, name, inputs(name, with_example(
            openapi.api_document(ROUTES, URI))))
    message = str(refused.value)
    assert message.startswith("BadRequestException: Warnings found during import:\n\t")
    assert "components.schemas.UserFields.properties.name: 'example'" in message
    assert "\n\tcomponents.schemas.User: 'additionalProperties'" in message
    assert name not in api_names(emulator)


def test_without_fail_on_warnings_the_import_goes_ahead_as_api_gateways_does(emulator, cloud):
    name = f"lenient-{suffix()}"
    api_id, _ = RestApi().create(cloud, name, inputs(
        name, with_example(openapi.api_document(ROUTES, URI)), fail_on_warnings=False))
    assert name in api_names(emulator)
    RestApi().delete(cloud, api_id, {})


def test_a_refused_update_leaves_the_api_as_it_was(emulator, cloud):
    name = f"kept-{suffix()}"
    document = openapi.api_document(ROUTES, URI)
    api_id, _ = RestApi().create(cloud, name, inputs(name, document))
    before = snapshots.load_definition(cloud.state_dir, api_id)
    assert before == json.loads(json.dumps(document))
    warned = with_example(document)
    with pytest.raises(DeployError, match="Warnings found during import"):
        RestApi().update(cloud, api_id, inputs(name, document), inputs(name, warned))
    assert snapshots.load_definition(cloud.state_dir, api_id) == before
    paths = {r["path"] for r in emulator.client("apigateway").get_resources(
        restApiId=api_id)["items"]}
    assert paths == {"/", "/users", "/users/{id}"}
    RestApi().delete(cloud, api_id, {})
