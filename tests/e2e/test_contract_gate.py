"""The contract gate on the local cloud: a route removed in the code reaches dev's API and
test's new deployment; promoting it to prod is refused until --allow-breaking, and a
rollback is never gated. The documents are the deployments' own snapshots."""
from __future__ import annotations

import json

from infra import routes
from localcloud.apigateway.snapshots import load_snapshot
from promotion.decisions import HISTORY
from tests.e2e.test_promotion import cli, ok, served, signed_get

REMOVED = routes.Route("DELETE", "/users/{id}")


def test_a_removed_route_is_refused_until_allow_breaking_and_rollback_is_never_gated(
        cloud, monkeypatch):
    ok(cloud, "promote", "--from", "test", "--to", "prod")  # prod pinned to test's API
    before = served(cloud, "prod"), cloud.store.config_overrides("prod")

    assert REMOVED in routes.ROUTES
    monkeypatch.setattr(routes, "ROUTES", tuple(r for r in routes.ROUTES if r != REMOVED))
    cloud.deploy("dev")
    cloud.deploy("test")
    candidate = cloud.store.load("test").outputs["deploymentId"]
    assert "delete" not in load_snapshot(cloud.store.dir, candidate)["document"]["paths"][
        "/users/{id}"]

    code, out, err = cli(cloud, "promote", "--from", "test", "--to", "prod")
    assert code == 1 and "Traceback" not in err
    assert (f"API contract: the candidate (deployment {candidate}, which test serves) against "
            f"the deployment prod serves ({before[0][0]})") in err
    assert "breaking: DELETE /users/{id}: removed" in err
    assert "nothing was changed. Keep the API compatible, or pass --allow-breaking" in err
    assert (served(cloud, "prod"), cloud.store.config_overrides("prod")) == before
    assert signed_get(cloud, "prod", "/users/00000000-0000-4000-8000-000000000000")[0] == 404
    # A canary release is gated the same way, before its pin is written.
    code, _, err = cli(cloud, "promote", "--from", "test", "--to", "prod", "--canary", "10",
                       "--bake", "30s")
    assert code == 1 and "breaking: DELETE /users/{id}: removed" in err
    assert (served(cloud, "prod"), cloud.store.config_overrides("prod")) == before

    out = ok(cloud, "promote", "--from", "test", "--to", "prod", "--allow-breaking")
    assert "breaking: DELETE /users/{id}: removed" in out
    assert "allowed by --allow-breaking: 1 breaking change; old clients may fail" in out
    assert served(cloud, "prod")[0] == candidate
    history = json.loads(cloud.store.config_overrides("prod")[HISTORY])
    assert history[-1]["deploymentId"] == candidate and history[-1]["definitionHash"]

    # Going back adds the route again (compatible) and would remove nothing: never gated
    # anyway, and it says nothing about the contract.
    out = ok(cloud, "rollback", "--stack", "prod")
    assert "API contract" not in out
    assert served(cloud, "prod")[0] == before[0][0]
