"""The S3 kinds: the artifacts bucket, its public access block, and the archives in it."""
from __future__ import annotations

import hashlib

import pulumi
import pytest
from botocore.exceptions import ClientError

from localcloud.kinds import DeployError
from localcloud.engine.registry import KINDS
from localcloud.s3.resources import Bucket, BucketObjectv2, BucketPublicAccessBlock

from .builders import cloud_for, suffix


@pytest.fixture
def cloud(emulator, state_dir):
    return cloud_for(emulator, state_dir)


@pytest.fixture
def s3(emulator):
    return emulator.client("s3")


def _object(bucket: str, key: str, path) -> dict:
    return {"bucket": bucket, "key": key, "source": pulumi.FileAsset(str(path))}


def test_the_program_s_s3_types_are_registered():
    for token in ("aws:s3/bucket:Bucket", "aws:s3/bucketObjectv2:BucketObjectv2",
                  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                  "aws:lambda/alias:Alias"):
        assert token in KINDS


def test_a_bucket_is_created_by_its_name_or_autonamed(cloud, s3):
    named = f"artifacts-{suffix()}"
    id_, outputs = Bucket().create(cloud, "artifacts", {"bucket": named})
    assert (id_, outputs["bucket"], outputs["arn"]) == (named, named, f"arn:aws:s3:::{named}")
    s3.head_bucket(Bucket=named)
    auto, _ = Bucket().create(cloud, "Artifacts", {})
    assert auto.startswith("artifacts-") and len(auto) == len("artifacts-") + 7
    s3.head_bucket(Bucket=auto)


def test_the_public_access_block_is_put_and_removed(cloud, s3):
    bucket, _ = Bucket().create(cloud, f"b{suffix()}", {})
    settings = {"bucket": bucket, "blockPublicAcls": True, "blockPublicPolicy": True,
                "ignorePublicAcls": True, "restrictPublicBuckets": True}
    id_, _ = BucketPublicAccessBlock().create(cloud, "block", settings)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}
    BucketPublicAccessBlock().delete(cloud, id_, settings)
    with pytest.raises(ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        s3.get_public_access_block(Bucket=bucket)


def test_an_object_holds_its_file_asset_s_bytes(cloud, s3, tmp_path):
    bucket, _ = Bucket().create(cloud, f"b{suffix()}", {})
    (tmp_path / "one.zip").write_bytes(b"PK first archive")
    inputs = _object(bucket, "archives/abc.zip", tmp_path / "one.zip")
    id_, outputs = BucketObjectv2().create(cloud, "archive", inputs)
    assert (id_, outputs["key"], outputs["bucket"]) == ("archives/abc.zip", "archives/abc.zip",
                                                        bucket)
    assert outputs["etag"] == hashlib.md5(b"PK first archive").hexdigest()
    assert s3.get_object(Bucket=bucket, Key=id_)["Body"].read() == b"PK first archive"

    (tmp_path / "two.zip").write_bytes(b"PK second archive")
    changed = _object(bucket, "archives/abc.zip", tmp_path / "two.zip")
    assert not BucketObjectv2().needs_replace(inputs, changed)
    BucketObjectv2().update(cloud, id_, inputs, changed)
    assert s3.get_object(Bucket=bucket, Key=id_)["Body"].read() == b"PK second archive"
    assert BucketObjectv2().needs_replace(inputs, {**inputs, "key": "archives/other.zip"})
    assert BucketObjectv2().needs_replace(inputs, {**inputs, "bucket": "elsewhere"})


def test_an_unreadable_source_is_a_clear_deploy_error(cloud, tmp_path):
    bucket, _ = Bucket().create(cloud, f"b{suffix()}", {})
    with pytest.raises(DeployError, match=r"archive: cannot read its source .*missing\.zip"):
        BucketObjectv2().create(cloud, "archive",
                                _object(bucket, "k", tmp_path / "missing.zip"))


def test_updating_a_bucket_s_tags_keeps_its_objects(cloud, s3):
    bucket, _ = Bucket().create(cloud, f"b{suffix()}", {"tags": {"stage": "dev"}})
    s3.put_object(Bucket=bucket, Key="archives/kept.zip", Body=b"kept")
    Bucket().update(cloud, bucket, {"tags": {"stage": "dev"}}, {"tags": {"stage": "test"}})
    assert s3.get_object(Bucket=bucket, Key="archives/kept.zip")["Body"].read() == b"kept"
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "stage", "Value": "test"}]


def test_a_bucket_with_objects_is_deleted_only_with_force_destroy(cloud, s3):
    bucket, _ = Bucket().create(cloud, f"b{suffix()}", {})
    s3.put_object(Bucket=bucket, Key="archives/a.zip", Body=b"a")
    with pytest.raises(DeployError, match=r"BucketNotEmpty.*1 object.*force_destroy"):
        Bucket().delete(cloud, bucket, {})
    s3.head_bucket(Bucket=bucket)  # still there, with its object
    Bucket().delete(cloud, bucket, {"forceDestroy": True})
    with pytest.raises(ClientError, match="404|Not Found|NoSuchBucket"):
        s3.head_bucket(Bucket=bucket)
