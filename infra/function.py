"""The stage's Lambda function: its log group, its own least-privilege role, its archive
kept under the hash of its bytes, an immutable version per code, and the alias the stage
invokes; while a canary release runs, also the candidate's version and the alias
`canary` on it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import archive, naming, policies

RUNTIME = "python3.12"
TRACING_MODE = "Active"
ALIAS = naming.FUNCTION_ALIAS
CANARY_ALIAS = naming.CANARY_ALIAS


@dataclass(frozen=True)
class UsersFunctionArgs:
    function_name: str
    role_name: str
    log_group_name: str
    table_name: str
    table_arn: pulumi.Input[str]
    log_retention_days: int
    memory_mb: int
    timeout_seconds: int
    code_hash: str  # the archive this stage runs: the SHA-256 of its zip (archive.code_hash)
    artifact_bucket: pulumi.Input[str]
    # This checkout's archive (whose bytes hash to code_hash), uploaded under that hash;
    # None on a promoted stage, which deploys the object its source stage uploaded.
    upload: Path | None
    # A version to serve instead of the one published for code_hash (a rollback's pin).
    pinned_version: str | None
    tags: dict[str, str]
    # Trace every invocation with X-Ray (Active), as the stage traces every request.
    tracing: bool = False
    # A canary release's code: the function publishes this archive as a version, the
    # alias `canary` serves it, and `live` stays on `pinned_version` (required then).
    canary_code_hash: str | None = None


class UsersFunction(pulumi.ComponentResource):
    function: aws.lambda_.Function
    alias: aws.lambda_.Alias
    canary_alias: aws.lambda_.Alias | None  # only while a canary release runs
    archive_object: aws.s3.BucketObjectv2 | None
    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy
    log_group: aws.cloudwatch.LogGroup
    code_hash: str
    served_version: pulumi.Output[str]  # the version the alias points at
    canary_version: pulumi.Output[str] | None  # the version the alias canary points at

    def __init__(self, name: str, args: UsersFunctionArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:compute:UsersFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.code_hash = args.code_hash
        # The function's own code is the candidate's while a canary runs: publishing it is
        # what makes the canary's version.
        key = naming.archive_key(args.canary_code_hash or args.code_hash)

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
            assume_role_policy=json.dumps(policies.assume_role_policy("lambda.amazonaws.com")),
            tags=args.tags,
            opts=child,
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=self.role.id,
            policy=pulumi.Output.all(args.table_arn, self.log_group.arn).apply(
                lambda arns: json.dumps(policies.function_role_policy(*arns, args.tracing))),
            opts=child,
        )
        # Kept when replaced or when the stack goes: a promoted stage, and every rollback,
        # deploys these bytes again without any checkout. Its key is the hash of its bytes,
        # so every stage that declares it uploads the same bytes.
        self.archive_object = None if args.upload is None else aws.s3.BucketObjectv2(
            f"{name}-archive",
            bucket=args.artifact_bucket,
            key=key,
            source=pulumi.FileAsset(str(args.upload)),
            content_type="application/zip",
            # Every stage with these bytes declares the same object: no per-stack tags, so
            # their updates do not fight over it.
            tags={"service": naming.SERVICE, "codeHash": args.code_hash},
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        code_ready = [self.log_group, self.role_policy]
        if self.archive_object is not None:
            code_ready.append(self.archive_object)
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            role=self.role.arn,
            runtime=RUNTIME,
            handler=archive.HANDLER,
            s3_bucket=args.artifact_bucket,
            s3_key=key,
            publish=True,  # every new code is an immutable version
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={archive.TABLE_NAME_ENV: args.table_name}),
            # Active: Lambda samples and sends segments itself, so the stage's traces go on
            # into the function (PassThrough would only pass the trace header along).
            tracing_config=(aws.lambda_.FunctionTracingConfigArgs(mode=TRACING_MODE)
                            if args.tracing else None),
            tags={**args.tags, "codeHash": args.canary_code_hash or args.code_hash},
            # The role must be able to write logs before the first invocation.
            opts=pulumi.ResourceOptions(parent=self, depends_on=code_ready),
        )
        self.served_version = (pulumi.Output.from_input(args.pinned_version)
                               if args.pinned_version else self.function.version)
        self.alias = aws.lambda_.Alias(
            f"{name}-alias",
            name=ALIAS,
            function_name=self.function.name,
            function_version=self.served_version,
            description=f"what the stage serves (code {args.code_hash[:12]})",
            opts=child,
        )
        # After the version it names is published; its invoke permission and the stage's
        # canary settings come after it, and go before it (the engine deletes last, in
        # reverse order of dependency).
        self.canary_alias = None if not args.canary_code_hash else aws.lambda_.Alias(
            f"{name}-canary-alias",
            name=CANARY_ALIAS,
            function_name=self.function.name,
            function_version=self.function.version,
            description=f"the canary release (code {args.canary_code_hash[:12]})",
            opts=child,
        )
        self.canary_version = (self.function.version if args.canary_code_hash else None)
        self.register_outputs({
            "functionName": self.function.name,
            "functionArn": self.function.arn,
            "aliasArn": self.alias.arn,
            "functionVersion": self.served_version,
            "roleArn": self.role.arn,
            "codeHash": self.code_hash,
        })
