"""This stack's Deployment of the shared API and its Stage."""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.naming import STAGE_VARIABLE


@dataclass(frozen=True)
class ApiStageArgs:
    rest_api_id: pulumi.Input[str]
    definition_hash: pulumi.Input[str]
    stage_name: str
    function_name: pulumi.Input[str]
    throttling_rate_limit: float
    throttling_burst_limit: int
    tags: dict[str, str]
    # The owner stack's methods and integrations: the snapshot must come after them.
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    # A promoted stage serves the exact Deployment another stage proved, not its own.
    pinned_deployment_id: str | None = None


class ApiStage(pulumi.ComponentResource):
    deployment: aws.apigateway.Deployment | None  # None while a promoted one is pinned
    deployment_id: pulumi.Output[str]  # the Deployment the stage serves
    stage: aws.apigateway.Stage
    method_settings: aws.apigateway.MethodSettings

    def __init__(self, name: str, args: ApiStageArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:api:ApiStage", name, None, opts)

        # A Deployment is a frozen snapshot of the API: a new definition hash replaces it,
        # the new one created before the old is let go, and the old one is retained (a
        # stage may still point at it, and it is the history rollback chooses from).
        self.deployment = None if args.pinned_deployment_id else aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=args.rest_api_id,
            description=pulumi.Output.concat(args.stage_name, " deployment of API definition ",
                                             args.definition_hash),
            triggers={"definitionHash": args.definition_hash},
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on,
                                        delete_before_replace=False, retain_on_delete=True),
        )
        self.deployment_id = (pulumi.Output.from_input(args.pinned_deployment_id)
                              if args.pinned_deployment_id else self.deployment.id)
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=args.rest_api_id,
            stage_name=args.stage_name,
            deployment=self.deployment_id,
            variables={STAGE_VARIABLE: args.function_name},
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.method_settings = aws.apigateway.MethodSettings(
            f"{name}-method-settings",
            rest_api=args.rest_api_id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                throttling_rate_limit=args.throttling_rate_limit,
                throttling_burst_limit=args.throttling_burst_limit,
                metrics_enabled=True,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({
            "deploymentId": self.deployment_id,
            "stageName": self.stage.stage_name,
            "invokeUrl": self.stage.invoke_url,
        })
