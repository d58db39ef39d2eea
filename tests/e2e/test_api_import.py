"""The API document through a real deploy: a document API Gateway's import would warn on is
refused by the program before anything is declared and, were the program's check skipped,
by the REST API's import (failOnWarnings), leaving the served API as it was."""
from __future__ import annotations

import copy

import pytest

from infra import openapi
from infra.config import ConfigError
from localcloud.kinds import DeployError
from tests.e2e.conftest import call


@pytest.fixture
def warned_document(monkeypatch):
    """The API's schemas with a keyword the import drops (`readOnly`)."""
    schemas = copy.deepcopy(openapi.SCHEMAS)
    schemas["User"]["properties"]["id"]["readOnly"] = True
    monkeypatch.setattr(openapi, "SCHEMAS", schemas)


def served_state(cloud) -> tuple:
    state = cloud.store.load("dev")
    rest_api = next(r for r in state.resources if r.type == "aws:apigateway/restApi:RestApi")
    return state.outputs["definitionHash"], rest_api.inputs["body"]


def test_the_program_refuses_it_before_anything_is_declared(cloud, url, warned_document):
    before = served_state(cloud)
    with pytest.raises(ConfigError, match="User.properties.id: 'readOnly' is not supported"):
        cloud.deploy("dev")
    assert served_state(cloud) == before
    assert call(url("dev")).status == 200


def test_the_import_refuses_it_when_the_programs_check_is_skipped(cloud, url, warned_document,
                                                                 monkeypatch):
    before = served_state(cloud)
    monkeypatch.setattr(openapi, "document_problems", lambda document: [])
    with pytest.raises(DeployError) as refused:
        cloud.deploy("dev")
    message = str(refused.value)
    assert message.startswith("BadRequestException: Warnings found during import:\n\t")
    assert "components.schemas.User.properties.id: 'readOnly'" in message
    assert served_state(cloud) == before
    assert call(url("dev")).status == 200
