"""This stack's Deployment of the shared API, its Stage, and the stage's logs; on a
promoted stage, the log groups of its canary, and while a canary runs, the Stage's
canary settings."""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra import access_log, naming
from infra.naming import STAGE_VARIABLE


@dataclass(frozen=True)
class StageLogging:
    retention_days: int
    level: str            # execution logs: OFF, ERROR or INFO
    data_trace: bool      # full requests and responses in execution logs (never in production)
    xray_tracing: bool


@dataclass(frozen=True)
class StageCanary:
    """A canary release on the stage: another Deployment, served to `percent` of the
    requests, with the stage variable pointed at another (alias-qualified) function."""
    deployment_id: str
    percent: float
    function_variable: pulumi.Input[str]


@dataclass(frozen=True)
class ApiStageArgs:
    rest_api_id: pulumi.Input[str]
    definition_hash: pulumi.Input[str]
    stage_name: str
    function_variable: pulumi.Input[str]  # the (alias-qualified) function the stage invokes
    throttling_rate_limit: float
    throttling_burst_limit: int
    logging: StageLogging
    tags: dict[str, str]
    # The owner's REST API (the snapshot must come after its definition is in place) and
    # its account settings (the stage may log only once the CloudWatch role is set).
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    # A promoted stage serves the exact Deployment another stage proved, not its own.
    pinned_deployment_id: str | None = None
    # More reasons for a new Deployment: API Gateway applies some API-wide settings (the
    # default endpoint's) only when a stage is next updated.
    redeploy_triggers: dict[str, str] = field(default_factory=dict)
    # A promoted stage may carry a canary: its log groups are declared with the stage's
    # retention (API Gateway would make the execution one itself, kept forever), and
    # stay when the canary ends, with its logs.
    canary_logs: bool = False
    canary: StageCanary | None = None


class ApiStage(pulumi.ComponentResource):
    deployment: aws.apigateway.Deployment | None  # None while a promoted one is pinned
    deployment_id: pulumi.Output[str]  # the Deployment the stage serves
    stage: aws.apigateway.Stage
    method_settings: aws.apigateway.MethodSettings
    access_logs: aws.cloudwatch.LogGroup
    execution_logs: aws.cloudwatch.LogGroup
    canary_log_groups: list[aws.cloudwatch.LogGroup]

    def __init__(self, name: str, args: ApiStageArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:api:ApiStage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # A Deployment is a frozen snapshot of the API: a new definition hash replaces it,
        # the new one created before the old is let go, and the old one is retained (a
        # stage may still point at it, and it is the history rollback chooses from).
        self.deployment = None if args.pinned_deployment_id else aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=args.rest_api_id,
            description=pulumi.Output.concat(args.stage_name, " deployment of API definition ",
                                             args.definition_hash),
            triggers={"definitionHash": args.definition_hash, **args.redeploy_triggers},
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on,
                                        delete_before_replace=False, retain_on_delete=True),
        )
        self.deployment_id = (pulumi.Output.from_input(args.pinned_deployment_id)
                              if args.pinned_deployment_id else self.deployment.id)

        # Both groups are the stage's own, with a retention, deleted with the stack.
        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=naming.access_log_group_name(args.stage_name),
            retention_in_days=args.logging.retention_days,
            tags=args.tags,
            opts=child,
        )
        self.execution_logs = aws.cloudwatch.LogGroup(
            f"{name}-execution-logs",
            name=pulumi.Output.from_input(args.rest_api_id).apply(
                lambda api: naming.execution_log_group_name(api, args.stage_name)),
            retention_in_days=args.logging.retention_days,
            tags=args.tags,
            opts=child,
        )
        self.canary_log_groups = [] if not args.canary_logs else [
            aws.cloudwatch.LogGroup(
                f"{name}-canary-access-logs",
                name=naming.canary_log_group_name(naming.access_log_group_name(args.stage_name)),
                retention_in_days=args.logging.retention_days,
                tags=args.tags,
                opts=child,
            ),
            aws.cloudwatch.LogGroup(
                f"{name}-canary-execution-logs",
                name=pulumi.Output.from_input(args.rest_api_id).apply(
                    lambda api: naming.canary_log_group_name(
                        naming.execution_log_group_name(api, args.stage_name))),
                retention_in_days=args.logging.retention_days,
                tags=args.tags,
                opts=child,
            ),
        ]
        canary = args.canary
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=args.rest_api_id,
            stage_name=args.stage_name,
            deployment=self.deployment_id,
            variables={STAGE_VARIABLE: args.function_variable},
            access_log_settings=aws.apigateway.StageAccessLogSettingsArgs(
                destination_arn=self.access_logs.arn,
                format=access_log.access_log_format(),
            ),
            xray_tracing_enabled=args.logging.xray_tracing,
            # The canary invokes the function through the overridden variable: every other
            # variable is the stage's own.
            canary_settings=None if canary is None else aws.apigateway.StageCanarySettingsArgs(
                deployment_id=canary.deployment_id,
                percent_traffic=canary.percent,
                stage_variable_overrides={STAGE_VARIABLE: canary.function_variable},
                use_stage_cache=False,
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[
                self.execution_logs, *self.canary_log_groups, *args.depends_on]),
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
                logging_level=args.logging.level,
                data_trace_enabled=args.logging.data_trace,
            ),
            opts=child,
        )
        self.register_outputs({
            "deploymentId": self.deployment_id,
            "stageName": self.stage.stage_name,
            "invokeUrl": self.stage.invoke_url,
            "accessLogGroup": self.access_logs.name,
            "executionLogGroup": self.execution_logs.name,
        })
