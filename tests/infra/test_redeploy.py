"""A Deployment is a frozen snapshot: its trigger must change exactly when the API does."""
from __future__ import annotations

import dataclasses

from infra import routes
from infra.routes import Route, api_definition, definition_hash, integration_uri
from tests.infra.conftest import deploy_stacks

URI = integration_uri("us-east-1", "123456789012")


def trigger(run) -> str:
    return run.one("aws:apigateway/deployment:Deployment").inputs["triggers"]["definitionHash"]


def test_hash_is_stable_for_the_same_definition():
    assert (definition_hash(api_definition(routes.ROUTES, URI))
            == definition_hash(api_definition(tuple(reversed(routes.ROUTES)), URI)))


def test_hash_changes_with_any_route_or_integration_change():
    base = definition_hash(api_definition(routes.ROUTES, URI))
    added = routes.ROUTES + (Route("PATCH", "/users/{id}"),)
    renamed = tuple(dataclasses.replace(r, path=r.path.replace("{id}", "{userId}"))
                    for r in routes.ROUTES)
    other_method = (Route("HEAD", "/users"),) + routes.ROUTES[1:]
    other_uri = integration_uri("eu-west-1", "123456789012")
    variants = [api_definition(added, URI), api_definition(renamed, URI),
                api_definition(other_method, URI), api_definition(routes.ROUTES, other_uri)]
    hashes = {definition_hash(v) for v in variants}
    assert base not in hashes and len(hashes) == len(variants)


def test_program_redeploys_every_stage_when_a_route_changes_and_not_otherwise(monkeypatch):
    before = deploy_stacks()
    again = deploy_stacks()
    for stack in before:
        assert trigger(again[stack]) == trigger(before[stack]) == before["dev"].outputs["definitionHash"]
        assert again[stack].outputs["deploymentId"] == before[stack].outputs["deploymentId"]

    monkeypatch.setattr(routes, "ROUTES", routes.ROUTES + (Route("PATCH", "/users/{id}"),))
    changed = deploy_stacks()
    assert len(changed["dev"].of_type("aws:apigateway/method:Method")) == len(routes.ROUTES)
    for stack in before:
        assert trigger(changed[stack]) == changed["dev"].outputs["definitionHash"]
        assert trigger(changed[stack]) != trigger(before[stack])
        assert changed[stack].outputs["deploymentId"] != before[stack].outputs["deploymentId"]
        # The new route needs its own permission on every stage.
        assert any(p.inputs["sourceArn"].endswith(f"/{stack}/PATCH/users/*")
                   for p in changed[stack].of_type("aws:lambda/permission:Permission"))


def test_program_redeploys_when_the_integration_changes():
    before = deploy_stacks(("dev",))
    moved = deploy_stacks(("dev",), overrides={"dev": {"aws:region": "eu-west-1"}})
    assert trigger(moved["dev"]) != trigger(before["dev"])
