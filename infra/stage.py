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


class ApiStage(pulumi.ComponentResource):
    deployment: aws.apigateway.Deployment
    stage: aws.apigateway.Stage
    method_settings: aws.apigateway.MethodSettings

    def __init__(self, name: str, args: ApiStageArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:api:ApiStage", name, None, opts)

        # A Deployment is a frozen snapshot of the API: a new definition hash replaces it,
        # the new one created before the old is let go, and the old one is retained (a
        # stage may still point at it, and it is the history rollback chooses from).
        self.deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=args.rest_api_id,
            description=pulumi.Output.concat(args.stage_name, " deployment of API definition ",
                                             args.definition_hash),
            triggers={"definitionHash": args.definition_hash},
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on,
                                        delete_before_replace=False, retain_on_delete=True),
        )
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=args.rest_api_id,
            stage_name=args.stage_name,
            deployment=self.deployment.id,
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
            "deploymentId": self.deployment.id,
            "stageName": self.stage.stage_name,
            "invokeUrl": self.stage.invoke_url,
        })
