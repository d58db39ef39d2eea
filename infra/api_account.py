"""API Gateway's account-wide CloudWatch role: the only way API Gateway can write any
stage's access or execution logs. One setting per account and region, shared by every
API in it, so only the owner stack declares it, and only when its config opts in."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming, policies


@dataclass(frozen=True)
class ApiGatewayAccountArgs:
    partition: str  # aws.get_partition_output()'s, for the log groups' ARNs
    region: str
    account_id: pulumi.Input[str]
    rest_api_id: pulumi.Input[str]
    tags: dict[str, str]


def log_group_arn_patterns(partition: str, region: str, account_id: str,
                           rest_api_id: str) -> list[str]:
    """Every group this API's stages log to, whatever the stage."""
    base = f"arn:{partition}:logs:{region}:{account_id}:log-group:"
    return [base + naming.access_log_group_name("*"),
            base + naming.execution_log_group_name(rest_api_id, "*")]


class ApiGatewayAccount(pulumi.ComponentResource):
    role: aws.iam.Role
    account: aws.apigateway.Account

    def __init__(self, name: str, args: ApiGatewayAccountArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:api:ApiGatewayAccount", name, None, opts)
        # The provider resets the account's settings when the Account is deleted, which would
        # stop every API in the account and region from logging: destroying this stack (or
        # turning the option off) leaves the setting and its role in place.
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        self.role = aws.iam.Role(
            f"{name}-cloudwatch-role",
            name=f"{naming.SERVICE}-apigateway-cloudwatch",
            assume_role_policy=json.dumps(
                policies.assume_role_policy(policies.API_GATEWAY_SERVICE)),
            tags=args.tags,
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-cloudwatch-role-policy",
            role=self.role.id,
            policy=pulumi.Output.all(args.account_id, args.rest_api_id).apply(
                lambda ids: json.dumps(policies.api_gateway_logs_policy(
                    log_group_arn_patterns(args.partition, args.region, *ids),
                    args.partition, args.region, ids[0]))),
            opts=child,
        )
        self.account = aws.apigateway.Account(
            f"{name}-account",
            cloudwatch_role_arn=self.role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy],
                                        retain_on_delete=True),
        )
        self.register_outputs({"cloudwatchRoleArn": self.role.arn})
