"""The invoke permission API Gateway does not create when the integration URI uses a
stage variable: one statement per permitted stage, on the alias the stage invokes,
for every method and path of that stage only (never `*` in the stage position)."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import policies
from infra import routes as api_routes
from infra.naming import TEST_INVOKE_STAGE


@dataclass(frozen=True)
class StageInvokePermissionArgs:
    function_name: pulumi.Input[str]
    # The alias the stage variable names (a qualified invoke needs its own grant); its
    # output, so the grant waits for the alias to exist.
    qualifier: pulumi.Input[str]
    execution_arn: pulumi.Input[str]
    stage_name: str
    allow_test_invoke: bool


def permitted_stages(stage_name: str, allow_test_invoke: bool) -> list[str]:
    """The stages allowed to invoke: this one, and the console's Test button if allowed."""
    return [stage_name, TEST_INVOKE_STAGE] if allow_test_invoke else [stage_name]


def statement_id(stage: str) -> str:
    """Readable and stable, so the function's resource policy says who may call it."""
    return f"apigateway-{stage}"


def permission_statements(function_arn: str, execution_arn: str, stage_name: str,
                          allow_test_invoke: bool) -> list[dict]:
    """The statements this stage adds to its function's resource policy. One per permitted
    stage, whatever the number of routes, so the policy stays far below Lambda's 20 KB."""
    return [policies.invoke_statement(statement_id(stage), function_arn,
                                      api_routes.stage_arn(execution_arn, stage))
            for stage in permitted_stages(stage_name, allow_test_invoke)]


def policy_size_problem(partition: str, region: str, function_name: str, qualifier: str,
                        stage_name: str, allow_test_invoke: bool) -> str | None:
    """Why this stage's grants would not fit Lambda's resource-policy limit, or None. Sized
    with the longest account and API ids (12 digits, 10 characters) in the region's
    partition, before anything is declared."""
    execution_arn = f"arn:{partition}:execute-api:{region}:{'0' * 12}:{'x' * 10}"
    function_arn = (f"arn:{partition}:lambda:{region}:{'0' * 12}:function:{function_name}:"
                    f"{qualifier}")
    size = policies.resource_policy_size(
        permission_statements(function_arn, execution_arn, stage_name, allow_test_invoke))
    if size <= policies.LAMBDA_POLICY_LIMIT_BYTES:
        return None
    return (f"the invoke grants of stage {stage_name!r} make a {size}-byte resource policy on "
            f"{function_name}:{qualifier}, over Lambda's {policies.LAMBDA_POLICY_LIMIT_BYTES} "
            "bytes; shorten the stage or function name")


class StageInvokePermission(pulumi.ComponentResource):
    permissions: list[aws.lambda_.Permission]

    def __init__(self, name: str, args: StageInvokePermissionArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:api:StageInvokePermission", name, None, opts)
        self.permissions = [
            aws.lambda_.Permission(
                f"{name}-{stage}-invoke",
                statement_id=statement_id(stage),
                action="lambda:InvokeFunction",
                function=args.function_name,
                qualifier=args.qualifier,
                principal=policies.API_GATEWAY_SERVICE,
                source_arn=pulumi.Output.from_input(args.execution_arn).apply(
                    lambda arn, s=stage: api_routes.stage_arn(arn, s)),
                # Permissions cannot be updated in place, and the replacement reuses the
                # statement id, so the old statement must go first.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for stage in permitted_stages(args.stage_name, args.allow_test_invoke)
        ]
        self.register_outputs({})
