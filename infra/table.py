"""The stage's DynamoDB table of users."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# The handler's key: one string hash key, no indexes.
HASH_KEY = "id"


@dataclass(frozen=True)
class UsersTableArgs:
    table_name: str
    deletion_protection: bool
    point_in_time_recovery: bool
    protect: bool
    tags: dict[str, str]


class UsersTable(pulumi.ComponentResource):
    table: aws.dynamodb.Table

    def __init__(self, name: str, args: UsersTableArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:data:UsersTable", name, None, opts)
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=HASH_KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=HASH_KEY, type="S")],
            deletion_protection_enabled=args.deletion_protection,
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(
                enabled=args.point_in_time_recovery),
            tags=args.tags,
            # `protect` makes `pulumi destroy` refuse to delete the data.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.register_outputs({"name": self.table.name, "arn": self.table.arn})
