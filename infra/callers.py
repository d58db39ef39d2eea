"""Who may call this stage: a managed policy granting execute-api:Invoke on this stage's
methods only. Teams attach it to their callers' roles; every method requires SigV4."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import policies
from infra import routes as api_routes


@dataclass(frozen=True)
class StageCallerPolicyArgs:
    policy_name: str
    execution_arn: pulumi.Input[str]
    stage_name: str
    tags: dict[str, str]


class StageCallerPolicy(pulumi.ComponentResource):
    policy: aws.iam.Policy

    def __init__(self, name: str, args: StageCallerPolicyArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:access:StageCallerPolicy", name, None, opts)
        self.policy = aws.iam.Policy(
            f"{name}-invoke-policy",
            name=args.policy_name,
            description=f"Call the user-service API's {args.stage_name} stage (and no other)",
            policy=pulumi.Output.from_input(args.execution_arn).apply(
                lambda arn: json.dumps(policies.stage_invoke_policy(
                    api_routes.stage_arn(arn, args.stage_name)))),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"policyArn": self.policy.arn})
