"""The invoke permission API Gateway does not create when the integration URI uses a
stage variable: one statement per route, scoped to this stage (never '*')."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import routes as api_routes
from infra.naming import TEST_INVOKE_STAGE

PRINCIPAL = "apigateway.amazonaws.com"


@dataclass(frozen=True)
class StageInvokePermissionArgs:
    function_name: pulumi.Input[str]
    execution_arn: pulumi.Input[str]
    stage_name: str
    allow_test_invoke: bool
    routes: tuple[api_routes.Route, ...] | None = None  # None: the API's ROUTES


def permitted_stages(stage_name: str, allow_test_invoke: bool) -> list[str]:
    """The stages allowed to invoke: this one, and the console's Test button if allowed."""
    return [stage_name, TEST_INVOKE_STAGE] if allow_test_invoke else [stage_name]


def statement_id(stage: str, route: api_routes.Route) -> str:
    """Readable and stable, so the function's resource policy says who may call it."""
    return f"apigateway-{stage}-{route.slug}"


class StageInvokePermission(pulumi.ComponentResource):
    permissions: list[aws.lambda_.Permission]

    def __init__(self, name: str, args: StageInvokePermissionArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:api:StageInvokePermission", name, None, opts)
        self.permissions = []
        for stage in permitted_stages(args.stage_name, args.allow_test_invoke):
            for route in args.routes or api_routes.ROUTES:
                self.permissions.append(aws.lambda_.Permission(
                    f"{name}-{stage}-{route.slug}",
                    statement_id=statement_id(stage, route),
                    action="lambda:InvokeFunction",
                    function=args.function_name,
                    principal=PRINCIPAL,
                    source_arn=pulumi.Output.from_input(args.execution_arn).apply(
                        lambda arn, s=stage, r=route: api_routes.source_arn(arn, s, r)),
                    # Permissions cannot be updated in place, and the replacement reuses the
                    # statement id, so the old statement must go first.
                    opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
                ))
        self.register_outputs({})
