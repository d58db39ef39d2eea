"""The REST API that all stages share, defined by one OpenAPI document; declared only by
the stack that owns it."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import openapi
from infra import routes as api_routes
from infra.naming import SERVICE


@dataclass(frozen=True)
class SharedApiArgs:
    partition: str  # aws.get_partition_output()'s, for the integration URI's ARNs
    region: str
    account_id: pulumi.Input[str]
    authorization: str  # AWS_IAM (SigV4 callers) or NONE
    tags: dict[str, str]
    routes: tuple[api_routes.Route, ...] | None = None  # None: the API's ROUTES
    dns_suffix: str = openapi.AWS_DNS_SUFFIX  # the partition's (aws-cn: amazonaws.com.cn)
    # Every stage answers on its custom domain only (403 on the execute-api endpoint).
    disable_execute_api_endpoint: bool = False


class SharedApi(pulumi.ComponentResource):
    rest_api: aws.apigateway.RestApi
    document: pulumi.Output[dict]
    definition_hash: pulumi.Output[str]

    def __init__(self, name: str, args: SharedApiArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:api:SharedApi", name, None, opts)
        routes = args.routes or api_routes.ROUTES
        self.document = pulumi.Output.from_input(args.account_id).apply(
            lambda account: openapi.api_document(
                routes, api_routes.integration_uri(args.region, account, partition=args.partition),
                args.authorization,
                region=args.region, dns_suffix=args.dns_suffix))
        self.definition_hash = self.document.apply(openapi.document_hash)

        # One document, in overwrite mode: a removed route leaves the API in the same
        # update that the next Deployment snapshots (separate Method resources would be
        # deleted only after it). Deleting the API deletes every stage on it, prod's
        # included, so it is protected: see the README for moving or retiring it.
        # Fail on warnings: API Gateway's import otherwise drops what it does not support
        # and the stored API silently differs from the document (the provider passes it on
        # the PutRestApi of both create and update).
        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=SERVICE,
            body=self.document.apply(openapi.canonical_json),
            put_rest_api_mode="overwrite",
            fail_on_warnings=True,
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(
                types="REGIONAL"),
            # Set here only, never in the body's x-amazon-apigateway-endpoint-configuration
            # (a body true against an argument false is a diff on every update), and always
            # sent, false included: the argument is Optional+Computed, so leaving it out
            # after a true would keep the endpoint off (terraform-provider-aws rest_api.go).
            disable_execute_api_endpoint=args.disable_execute_api_endpoint,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.register_outputs({
            "restApiId": self.rest_api.id,
            "rootResourceId": self.rest_api.root_resource_id,
            "executionArn": self.rest_api.execution_arn,
            "definitionHash": self.definition_hash,
        })
