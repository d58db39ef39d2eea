"""The stage's Lambda function: its log group, its own least-privilege role, its code."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import archive, policies

RUNTIME = "python3.12"


@dataclass(frozen=True)
class UsersFunctionArgs:
    function_name: str
    role_name: str
    log_group_name: str
    name_prefix: str
    table_arn: pulumi.Input[str]
    log_retention_days: int
    memory_mb: int
    timeout_seconds: int
    code_hash: str  # archive.code_hash of the handler files, computed once by the caller
    tags: dict[str, str]


class UsersFunction(pulumi.ComponentResource):
    function: aws.lambda_.Function
    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy
    log_group: aws.cloudwatch.LogGroup
    code_hash: str

    def __init__(self, name: str, args: UsersFunctionArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:compute:UsersFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        files = archive.handler_files()
        self.code_hash = args.code_hash

        # Created by us, not by Lambda on first write, so it has a retention and is deleted
        # with the stack.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.log_group_name,
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            assume_role_policy=json.dumps(policies.assume_role_policy()),
            tags=args.tags,
            opts=child,
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=self.role.id,
            policy=pulumi.Output.all(args.table_arn, self.log_group.arn).apply(
                lambda arns: json.dumps(policies.function_role_policy(*arns))),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            role=self.role.arn,
            runtime=RUNTIME,
            handler=archive.HANDLER,
            code=pulumi.AssetArchive({n: pulumi.FileAsset(str(p)) for n, p in files.items()}),
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={archive.TABLE_PREFIX_ENV: args.name_prefix}),
            tags={**args.tags, "codeHash": self.code_hash},
            # The role must be able to write logs before the first invocation.
            opts=pulumi.ResourceOptions(parent=self,
                                        depends_on=[self.log_group, self.role_policy]),
        )
        self.register_outputs({
            "functionName": self.function.name,
            "functionArn": self.function.arn,
            "roleArn": self.role.arn,
            "codeHash": self.code_hash,
        })
