"""A Deployment is a frozen snapshot: its trigger must change exactly when the API's
document does, and a route's removal must reach every stage in the same update."""
from __future__ import annotations

import dataclasses
import json

from infra import openapi, routes
from infra.routes import integration_uri
from tests.infra.conftest import deploy_stacks
from tests.infra.mocks import Account

URI = integration_uri("us-east-1", "123456789012", partition="aws")


def trigger(run) -> str:
    return run.one("aws:apigateway/deployment:Deployment").inputs["triggers"]["definitionHash"]


def document_hash(route_list) -> str:
    return openapi.document_hash(openapi.api_document(tuple(route_list), URI))


def test_hash_is_stable_for_the_same_document():
    assert document_hash(routes.ROUTES) == document_hash(reversed(routes.ROUTES))


def test_hash_changes_with_any_route_integration_or_authorization_change():
    base = document_hash(routes.ROUTES)
    removed = routes.ROUTES[:-1]
    renamed_method = (dataclasses.replace(routes.ROUTES[0], method="POST"),) + routes.ROUTES[2:]
    variants = [
        openapi.api_document(removed, URI),
        openapi.api_document(renamed_method, URI),
        openapi.api_document(routes.ROUTES, integration_uri("eu-west-1", "123456789012",
                                                            partition="aws")),
        openapi.api_document(routes.ROUTES, URI, authorization="NONE"),
    ]
    hashes = {openapi.document_hash(v) for v in variants}
    assert base not in hashes and len(hashes) == len(variants)


def test_program_redeploys_every_stage_when_a_route_is_removed_and_not_otherwise(monkeypatch):
    account = Account()  # one account's history: `pulumi up` again, then with a route less
    before = deploy_stacks(account=account)
    again = deploy_stacks(account=account)
    for stack in before:
        assert trigger(again[stack]) == trigger(before[stack]) == before["dev"].outputs["definitionHash"]
        assert again[stack].outputs["deploymentId"] == before[stack].outputs["deploymentId"]

    monkeypatch.setattr(routes, "ROUTES", tuple(r for r in routes.ROUTES
                                                if (r.method, r.path) != ("DELETE", "/users/{id}")))
    changed = deploy_stacks(account=account)
    body = json.loads(changed["dev"].one("aws:apigateway/restApi:RestApi").inputs["body"])
    assert "delete" not in body["paths"]["/users/{id}"]  # gone from the API in this update
    for stack in before:
        assert trigger(changed[stack]) == changed["dev"].outputs["definitionHash"]
        assert trigger(changed[stack]) != trigger(before[stack])
        assert changed[stack].outputs["deploymentId"] != before[stack].outputs["deploymentId"]
        # The stage-wide invoke grant does not depend on the routes: nothing to delete late.
        assert ({p.inputs["sourceArn"] for p in changed[stack].of_type(
            "aws:lambda/permission:Permission")} == {p.inputs["sourceArn"] for p in before[
                stack].of_type("aws:lambda/permission:Permission")})


def test_program_redeploys_when_the_integration_changes():
    before = deploy_stacks(("dev",))
    moved = deploy_stacks(("dev",), overrides={"dev": {"aws:region": "eu-west-1"}})
    assert trigger(moved["dev"]) != trigger(before["dev"])
