"""The REST API that all stages share; declared only by the stack that owns it."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import routes as api_routes
from infra.naming import SERVICE


@dataclass(frozen=True)
class SharedApiArgs:
    region: str
    account_id: pulumi.Input[str]
    tags: dict[str, str]
    routes: tuple[api_routes.Route, ...] | None = None  # None: the API's ROUTES


class SharedApi(pulumi.ComponentResource):
    rest_api: aws.apigateway.RestApi
    methods: list[aws.apigateway.Method]
    integrations: list[aws.apigateway.Integration]
    definition_hash: pulumi.Output[str]

    def __init__(self, name: str, args: SharedApiArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:api:SharedApi", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        routes = args.routes or api_routes.ROUTES

        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=SERVICE,
            description="users API shared by every stage; the stage variable "
                        "functionName picks each stage's function",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(
                types="REGIONAL"),
            tags=args.tags,
            opts=child,
        )

        resource_ids: dict[str, pulumi.Output[str]] = {"/": self.rest_api.root_resource_id}
        for path in api_routes.resource_paths(routes):
            parent_path, _, part = path.rpartition("/")
            resource = aws.apigateway.Resource(
                f"{name}-resource{path.replace('/', '-').replace('{', '').replace('}', '')}",
                rest_api=self.rest_api.id,
                parent_id=resource_ids[parent_path or "/"],
                path_part=part,
                opts=child,
            )
            resource_ids[path] = resource.id

        uri = pulumi.Output.from_input(args.account_id).apply(
            lambda account: api_routes.integration_uri(args.region, account))
        self.methods, self.integrations = [], []
        for route in routes:
            method = aws.apigateway.Method(
                f"{name}-{route.slug}",
                rest_api=self.rest_api.id,
                resource_id=resource_ids[route.path],
                http_method=route.method,
                authorization=api_routes.AUTHORIZATION,
                opts=child,
            )
            integration = aws.apigateway.Integration(
                f"{name}-{route.slug}-integration",
                rest_api=self.rest_api.id,
                resource_id=resource_ids[route.path],
                http_method=method.http_method,
                type=api_routes.INTEGRATION_TYPE,
                integration_http_method=api_routes.INTEGRATION_HTTP_METHOD,
                uri=uri,
                opts=child,
            )
            self.methods.append(method)
            self.integrations.append(integration)

        self.definition_hash = uri.apply(lambda u: api_routes.definition_hash(
            api_routes.api_definition(routes, u)))
        self.register_outputs({
            "restApiId": self.rest_api.id,
            "rootResourceId": self.rest_api.root_resource_id,
            "executionArn": self.rest_api.execution_arn,
            "definitionHash": self.definition_hash,
        })
