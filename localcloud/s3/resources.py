"""S3 resource kinds: buckets, their public access blocks, and objects (such as the
function archives that stages deploy from)."""
from __future__ import annotations

import base64
import uuid
from urllib.parse import urlencode
from pathlib import Path

import pulumi
from botocore.exceptions import ClientError

from localcloud.kinds import DeployError, Kind, error_code, found, tags_of

# What S3 answers for a bucket or key it does not have (HEAD requests carry only a status).
NOT_FOUND = ("404", "NoSuchBucket", "NoSuchKey")


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def autoname(name: str) -> str:
    """A bucket name as Pulumi autonames one: the resource name and a random suffix."""
    return f"{name.lower()}-{uuid.uuid4().hex[:7]}"


class Bucket(Kind):
    replace_on = ("bucket", "bucketPrefix")

    def _outputs(self, cloud, bucket: str) -> dict:
        return {"arn": bucket_arn(bucket), "bucket": bucket, "region": cloud.region,
                "bucketDomainName": f"{bucket}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{bucket}.s3.{cloud.region}.amazonaws.com"}

    def _tag(self, cloud, bucket: str, i: dict) -> None:
        s3 = cloud.client("s3")
        tags = tags_of(i)
        if tags:
            s3.put_bucket_tagging(Bucket=bucket, Tagging={
                "TagSet": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]})
        else:
            s3.delete_bucket_tagging(Bucket=bucket)

    def create(self, cloud, name, i):
        bucket = i.get("bucket") or (f"{i['bucketPrefix']}{uuid.uuid4().hex[:7]}"
                                     if i.get("bucketPrefix") else autoname(name))
        arguments: dict = {"Bucket": bucket}
        if cloud.region != "us-east-1":  # S3 refuses us-east-1 as a LocationConstraint
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": cloud.region}
        try:
            cloud.client("s3").create_bucket(**arguments)
        except ClientError as err:
            code = error_code(err)
            if code in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
                raise DeployError(f"s3.Bucket {name}: {code}: a bucket named {bucket!r} already "
                                  "exists; bucket names are global, choose another") from None
            raise
        self._tag(cloud, bucket, i)
        return bucket, self._outputs(cloud, bucket)

    def update(self, cloud, id_, old, i):
        # Only tags and provider-side settings (forceDestroy) change in place; recreating
        # a bucket would lose its objects.
        self._tag(cloud, id_, i)
        return self._outputs(cloud, id_)

    def exists(self, cloud, id_, i):
        return found(lambda: cloud.client("s3").head_bucket(Bucket=id_), *NOT_FOUND)

    def delete(self, cloud, id_, i):
        s3 = cloud.client("s3")
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=id_)
        objects = [{"Key": o["Key"], "VersionId": o["VersionId"]} for page in pages
                   for o in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
        if objects and not i.get("forceDestroy"):
            raise DeployError(f"s3.Bucket {id_}: BucketNotEmpty: it still holds "
                              f"{len(objects)} object versions. Empty it first, or set "
                              "force_destroy=True and update before deleting it.")
        for start in range(0, len(objects), 1000):
            s3.delete_objects(Bucket=id_, Delete={"Objects": objects[start:start + 1000],
                                                  "Quiet": True})
        s3.delete_bucket(Bucket=id_)


class BucketPublicAccessBlock(Kind):
    replace_on = ("bucket",)
    _SETTINGS = {"blockPublicAcls": "BlockPublicAcls", "blockPublicPolicy": "BlockPublicPolicy",
                 "ignorePublicAcls": "IgnorePublicAcls",
                 "restrictPublicBuckets": "RestrictPublicBuckets"}

    def create(self, cloud, name, i):
        configuration = {aws: bool(i.get(key)) for key, aws in self._SETTINGS.items()}
        cloud.client("s3").put_public_access_block(
            Bucket=i["bucket"], PublicAccessBlockConfiguration=configuration)
        return i["bucket"], {"bucket": i["bucket"]}

    def update(self, cloud, id_, old, i):
        return self.create(cloud, id_, i)[1]

    def exists(self, cloud, id_, i):
        return found(lambda: cloud.client("s3").get_public_access_block(Bucket=id_),
                     "NoSuchPublicAccessBlockConfiguration", *NOT_FOUND)

    def delete(self, cloud, id_, i):
        cloud.client("s3").delete_public_access_block(Bucket=id_)


def object_body(name: str, i: dict) -> bytes:
    """An object's bytes: its source asset (a file, or text), content, or content_base64."""
    source = i.get("source")
    if isinstance(source, pulumi.FileAsset):
        try:
            return Path(source.path).read_bytes()
        except OSError as err:
            raise DeployError(f"s3.BucketObjectv2 {name}: cannot read its source "
                              f"{source.path}: {err.strerror}") from None
    if isinstance(source, pulumi.StringAsset):
        return source.text.encode("utf-8")
    if source is not None:
        raise DeployError(f"s3.BucketObjectv2 {name}: source must be a pulumi.FileAsset or "
                          f"StringAsset, not {type(source).__name__}")
    if i.get("contentBase64") is not None:
        return base64.b64decode(i["contentBase64"])
    return str(i.get("content") or "").encode("utf-8")


class BucketObjectv2(Kind):
    replace_on = ("bucket", "key")

    def create(self, cloud, name, i):
        arguments = {"Bucket": i["bucket"], "Key": i["key"], "Body": object_body(name, i)}
        if i.get("contentType"):
            arguments["ContentType"] = i["contentType"]
        tags = tags_of(i)
        if tags:
            arguments["Tagging"] = urlencode(sorted(tags.items()))
        put = cloud.client("s3").put_object(**arguments)
        return i["key"], {"bucket": i["bucket"], "key": i["key"],
                          "etag": put["ETag"].strip('"'), "versionId": put.get("VersionId", ""),
                          "arn": f"{bucket_arn(i['bucket'])}/{i['key']}"}

    def update(self, cloud, id_, old, i):
        # A new put replaces the object at once; deleting it first would leave a gap.
        return self.create(cloud, id_, i)[1]

    def exists(self, cloud, id_, i):
        return found(lambda: cloud.client("s3").head_object(Bucket=i["bucket"], Key=id_),
                     *NOT_FOUND)

    def delete(self, cloud, id_, i):
        cloud.client("s3").delete_object(Bucket=i["bucket"], Key=id_)
