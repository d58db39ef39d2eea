"""The users API's routes and the pure functions derived from them: the integration URI,
the definition hash that redeploys the API, and the invoke permissions' source ARNs."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from infra.naming import STAGE_VARIABLE


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, e.g. "/users/{id}"

    @property
    def arn_path(self) -> str:
        """The route as it stands in an execute-api ARN: path parameters become '*'."""
        parts = ["*" if part.startswith("{") else part for part in self.path.strip("/").split("/")]
        return "/".join(parts)

    @property
    def slug(self) -> str:
        """A resource-name-safe form, e.g. 'get-users-id'."""
        words = self.path.replace("{", "").replace("}", "").strip("/").replace("/", "-")
        return f"{self.method.lower()}-{words}"


ROUTES: tuple[Route, ...] = (
    Route("GET", "/users"),
    Route("POST", "/users"),
    Route("GET", "/users/{id}"),
    Route("PUT", "/users/{id}"),
    Route("DELETE", "/users/{id}"),
)

AUTHORIZATION = "NONE"
INTEGRATION_TYPE = "AWS_PROXY"
# Lambda proxy integrations are always called with POST, whatever the client's method.
INTEGRATION_HTTP_METHOD = "POST"


def integration_uri(region: str, account_id: str) -> str:
    """One URI for every stage: the stage variable picks the function."""
    function_arn = (f"arn:aws:lambda:{region}:{account_id}:function:"
                    f"${{stageVariables.{STAGE_VARIABLE}}}")
    return (f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
            f"{function_arn}/invocations")


def resource_paths(routes: tuple[Route, ...] = ROUTES) -> list[str]:
    """Every resource path the routes need, parents before children ('/users' before
    '/users/{id}'), without the root '/'."""
    paths: set[str] = set()
    for route in routes:
        parts = route.path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            paths.add("/" + "/".join(parts[:depth]))
    return sorted(paths, key=lambda p: (p.count("/"), p))


def api_definition(routes: tuple[Route, ...], uri: str) -> dict:
    """Everything a Deployment snapshots, in a canonical form."""
    return {
        "routes": sorted(
            [{"method": r.method, "path": r.path, "authorization": AUTHORIZATION,
              "integration": {
                "type": INTEGRATION_TYPE, "httpMethod": INTEGRATION_HTTP_METHOD, "uri": uri}}
             for r in routes],
            key=lambda r: (r["path"], r["method"]),
        ),
    }


def definition_hash(definition: dict) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


def source_arn(execution_arn: str, stage: str, route: Route) -> str:
    """The invoke permission's source ARN: this stage, this method, this route only."""
    return f"{execution_arn}/{stage}/{route.method}/{route.arn_path}"
