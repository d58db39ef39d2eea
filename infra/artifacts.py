"""The artifacts bucket: every stage's function archive, kept by content hash, so a
promoted stage deploys the very bytes the stage before it ran. Owned by the stack that
owns the shared API, protected like it: prod's code lives here."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming


@dataclass(frozen=True)
class ArtifactBucketArgs:
    region: str
    account_id: pulumi.Input[str]
    tags: dict[str, str]


class ArtifactBucket(pulumi.ComponentResource):
    bucket: aws.s3.Bucket

    def __init__(self, name: str, args: ArtifactBucketArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:artifacts:ArtifactBucket", name, None, opts)
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=pulumi.Output.from_input(args.account_id).apply(
                lambda account: naming.artifact_bucket_name(account, args.region)),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-no-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"bucket": self.bucket.bucket})
