"""Lambda versions, aliases and per-qualifier resource policies in the local cloud, as
AWS has them where moto is lax: published versions keep their code, an alias serves
the version it points at, each qualifier has its own policy of at most 20 KB."""
from __future__ import annotations

import json

import pulumi
import pytest

from infra.archive import build_zip
from localcloud.awslambda import archives
from localcloud.invocation import FunctionNotFound
from localcloud.awslambda.resources import Alias, Function, Permission
from localcloud.control_plane import BotoPlane, InProcessPlane, NotFound
from localcloud.emulator import ACCOUNT_ID, REGION
from localcloud.kinds import DeployError
from localcloud.s3.resources import Bucket, BucketObjectv2

from .builders import (app_zip, call, cloud_for, create_api, deploy_stage, function_inputs,
                       function_role, suffix)

# A proxy-response handler that says which code it is.
SERVED = '''
def served(event, context):
    return {"statusCode": 200, "body": json.dumps({"version": VERSION})}
'''


def versioned_zip(number: int) -> bytes:
    return app_zip(f"VERSION = {number}\n" + SERVED)


def served_version(result) -> int:
    assert result.ok, result.error
    return json.loads(result.payload["body"])["version"]


@pytest.fixture
def cloud(emulator, state_dir):
    return cloud_for(emulator, state_dir)


@pytest.fixture
def bucket(cloud):
    return Bucket().create(cloud, f"artifacts{suffix()}", {})[0]


@pytest.fixture
def upload(cloud, bucket, tmp_path):
    """Puts a zip at archives/{name}.zip through the BucketObjectv2 kind; returns the key."""
    def put(zip_bytes: bytes, name: str) -> str:
        path = tmp_path / f"{name}.zip"
        path.write_bytes(zip_bytes)
        key = f"archives/{name}.zip"
        BucketObjectv2().create(cloud, name, {"bucket": bucket, "key": key,
                                              "source": pulumi.FileAsset(str(path))})
        return key
    return put


@pytest.fixture
def published(emulator, cloud, bucket, upload):
    """A function deployed from S3 with publish: version 1, alias live on it."""
    name = f"v{suffix()}-user-service"
    inputs = function_inputs(name, function_role(emulator, name), handler="app.served",
                             s3Bucket=bucket, s3Key=upload(versioned_zip(1), f"{name}-1"),
                             publish=True)
    _, outputs = Function().create(cloud, name, inputs)
    alias_id, _ = Alias().create(cloud, "live", {"functionName": name, "name": "live",
                                                 "functionVersion": outputs["version"]})
    return name, inputs, outputs, alias_id


def test_publishing_from_s3_gives_version_1_with_the_objects_code(published):
    name, _, outputs, _ = published
    assert outputs["version"] == "1"
    assert outputs["qualifiedArn"] == (f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
                                       f"{name}:1")
    assert outputs["codeSha256"] == archives.code_sha256(versioned_zip(1))


def test_an_alias_keeps_serving_its_version_after_latest_changes(cloud, invoker, published,
                                                                 upload):
    name, inputs, _, alias_id = published
    new = {**inputs, "s3Key": upload(versioned_zip(2), f"{name}-2")}
    outputs = Function().update(cloud, name, inputs, new)
    assert outputs["version"] == "2"
    assert outputs["codeSha256"] == archives.code_sha256(versioned_zip(2))
    through_alias = invoker.invoke(f"{name}:live", {})
    assert served_version(through_alias) == 1
    # Lambda's log names the version the alias resolved to, not $LATEST.
    assert any(line.startswith("START RequestId: ") and line.endswith(" Version: 1")
               for line in through_alias.logs), through_alias.logs
    assert served_version(invoker.invoke(name, {})) == 2
    assert served_version(invoker.invoke(f"{name}:1", {})) == 1
    assert served_version(invoker.invoke(f"{name}:2", {})) == 2

    # Moving the alias switches the code served, with no upload.
    alias = Alias().update(cloud, alias_id, {}, {"functionName": name, "name": "live",
                                                 "functionVersion": "2"})
    assert alias["functionVersion"] == "2"
    assert served_version(invoker.invoke(f"{name}:live", {})) == 2
    assert served_version(invoker.invoke(alias_id, {})) == 2  # the alias ARN


def test_a_version_is_published_only_when_code_or_configuration_changed(cloud, published):
    name, inputs, _, _ = published
    assert Function().update(cloud, name, inputs, dict(inputs))["version"] == "1"
    assert Function().update(cloud, name, inputs, {**inputs, "timeout": 20})["version"] == "2"


def test_a_deleted_version_s_number_is_never_given_again(emulator, cloud, published, upload):
    """Lambda numbers versions from the function's own counter: after a version is deleted
    (promotion prunes unused ones) the next one gets a new number, and each number keeps
    serving its own code."""
    name, current, _, _ = published
    lam = emulator.client("lambda")

    def publish(number: int) -> str:
        nonlocal current
        new = {**current, "s3Key": upload(versioned_zip(number), f"{name}-{number}")}
        version = Function().update(cloud, name, current, new)["version"]
        current = new
        return version

    assert [publish(2), publish(3)] == ["2", "3"]
    lam.delete_function(FunctionName=name, Qualifier="2")
    assert publish(4) == "4"
    lam.delete_function(FunctionName=name, Qualifier="4")  # the newest
    assert publish(5) == "5"
    listed = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert listed == ["$LATEST", "1", "3", "5"]
    for number in (1, 3, 5):
        assert lam.get_function_configuration(FunctionName=name, Qualifier=str(number))[
            "CodeSha256"] == archives.code_sha256(versioned_zip(number))


def test_an_unpublished_function_serves_latest(emulator, cloud, tmp_path):
    name = f"u{suffix()}-user-service"
    (tmp_path / "app.py").write_bytes(b"def handler(event, context):\n    return 1\n")
    code = pulumi.AssetArchive({"app.py": pulumi.FileAsset(str(tmp_path / "app.py"))})
    _, outputs = Function().create(cloud, name, function_inputs(
        name, function_role(emulator, name), handler="app.handler", code=code))
    assert (outputs["version"], outputs["qualifiedArn"][-8:]) == ("$LATEST", ":$LATEST")


def test_an_unknown_alias_or_version_is_function_not_found(invoker, published):
    name = published[0]
    for qualifier in ("nope", "99"):
        with pytest.raises(FunctionNotFound):
            invoker.invoke(f"{name}:{qualifier}", {})


def test_an_alias_and_latest_keep_their_own_warm_workers(cloud, invoker, published, upload):
    name, inputs, _, _ = published
    Function().update(cloud, name, inputs, {**inputs, "s3Key": upload(versioned_zip(2),
                                                                      f"{name}-2")})
    assert invoker.invoke(f"{name}:live", {}).cold_start
    assert invoker.invoke(name, {}).cold_start
    again = invoker.invoke(f"{name}:live", {})
    assert not again.cold_start and served_version(again) == 1


def test_the_same_object_deploys_the_same_code_as_the_zip_itself(emulator, cloud, bucket,
                                                                 upload, tmp_path):
    """A promoted stage deploys the object test uploaded: the CodeSha256 test deployed."""
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 'same'\n")
    files = {"app.py": (tmp_path / "app.py").read_bytes()}
    code = pulumi.AssetArchive({"app.py": pulumi.FileAsset(str(tmp_path / "app.py"))})
    direct = f"d{suffix()}-user-service"
    _, from_code = Function().create(cloud, direct, function_inputs(
        direct, function_role(emulator, direct), handler="app.handler", code=code,
        publish=True))
    key = upload(build_zip(files), f"{direct}-object")
    promoted = f"p{suffix()}-user-service"
    _, from_s3 = Function().create(cloud, promoted, function_inputs(
        promoted, function_role(emulator, promoted), handler="app.handler",
        s3Bucket=bucket, s3Key=key, publish=True))
    assert from_s3["codeSha256"] == from_code["codeSha256"] == archives.code_sha256(
        build_zip(files))


def test_a_missing_s3_archive_is_a_clear_deploy_error(emulator, cloud, bucket):
    name = f"m{suffix()}-user-service"
    with pytest.raises(DeployError, match=r"NoSuchKey.*upload the archive"):
        Function().create(cloud, name, function_inputs(
            name, function_role(emulator, name), s3Bucket=bucket, s3Key="archives/none.zip"))


# --- permissions per qualifier ---------------------------------------------------------

def _grant(cloud, function: str, stage_source: str, qualifier: str | None = None,
           sid: str | None = None) -> str:
    inputs = {"function": function, "action": "lambda:InvokeFunction",
              "principal": "apigateway.amazonaws.com", "sourceArn": stage_source,
              "statementId": sid or f"s{suffix()}"}
    if qualifier:
        inputs["qualifier"] = qualifier
    return Permission().create(cloud, inputs["statementId"], inputs)[0]


def test_a_grant_on_the_alias_authorises_the_alias_only(emulator, state_dir, cloud, gateway,
                                                        published):
    name = published[0]
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/users": ["GET"]}, name=f"versions-{suffix()}")
    stages = {}
    for target in (f"{name}:live", name, f"{name}:1"):
        stage = f"s{suffix()}"
        deploy_stage(apigw, state_dir, api, stage, {"functionName": target})
        _grant(cloud, name, f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api.id}/{stage}/*/*",
               qualifier="live")
        stages[target] = stage
    assert call(gateway, "GET", f"/{stages[name + ':live']}/users").json() == {"version": 1}
    assert call(gateway, "GET", f"/{stages[name]}/users").status == 500
    assert call(gateway, "GET", f"/{stages[name + ':1']}/users").status == 500


@pytest.mark.parametrize("plane", [BotoPlane, InProcessPlane])
def test_each_qualifier_has_its_own_policy(emulator, cloud, published, plane):
    name = published[0]
    live = _grant(cloud, name, "arn:aws:execute-api:us-east-1:123456789012:a/live/*/*", "live")
    bare = _grant(cloud, name, "arn:aws:execute-api:us-east-1:123456789012:a/bare/*/*")
    read = plane(emulator.endpoint_url) if plane is BotoPlane else plane()

    def sids(function):
        policy = read.function_policy(function)
        return policy and [s["Sid"] for s in json.loads(policy)["Statement"]]

    assert sids(f"{name}:live") == [live]
    assert sids(name) == sids(f"{name}:$LATEST") == [bare]
    assert sids(f"{name}:1") is None
    assert sids(f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}:live") == [live]


def test_a_policy_over_20_kb_is_refused_and_nothing_is_added(emulator, cloud, published):
    name = published[0]
    aws_lambda = emulator.client("lambda")
    source = "arn:aws:execute-api:us-east-1:123456789012:abcdefghij/stage-{:03d}/GET/users/*"
    count = 0
    with pytest.raises(DeployError) as refused:
        while count < 200:
            _grant(cloud, name, source.format(count), "live", sid=f"route-{count:03d}")
            count += 1
    message = str(refused.value)
    assert "PolicyLengthExceededException" in message
    assert "is bigger than the limit (20480)" in message
    assert f"{name}:live" in message and f"{count + 1} statements" in message
    size = int(message.split("The final policy size (")[1].split(")")[0])
    assert size > 20480
    policy = json.loads(aws_lambda.get_policy(FunctionName=name, Qualifier="live")["Policy"])
    assert len(policy["Statement"]) == count
    assert f"route-{count:03d}" not in {s["Sid"] for s in policy["Statement"]}
    assert len(json.dumps(policy, separators=(",", ":"))) <= 20480
    # The limit is the alias's policy's: the function's own policy still has room.
    _grant(cloud, name, source.format(0))


def test_a_duplicate_statement_id_in_one_policy_is_refused(cloud, published):
    name = published[0]
    _grant(cloud, name, "arn:aws:execute-api:us-east-1:123456789012:a/x/*/*", "live", sid="dup")
    with pytest.raises(DeployError, match=r"ResourceConflictException.*\(dup\)"):
        _grant(cloud, name, "arn:aws:execute-api:us-east-1:123456789012:a/y/*/*", "live",
               sid="dup")


@pytest.mark.parametrize("plane", [BotoPlane, InProcessPlane])
def test_a_qualified_name_reads_that_version_s_configuration(emulator, cloud, published,
                                                            upload, plane):
    name, inputs, _, _ = published
    Function().update(cloud, name, inputs, {**inputs, "s3Key": upload(versioned_zip(2),
                                                                      f"{name}-2")})
    read = plane(emulator.endpoint_url) if plane is BotoPlane else plane()
    alias = read.function_configuration(f"{name}:live")
    assert (alias["Version"], alias["CodeSha256"]) == ("1", archives.code_sha256(versioned_zip(1)))
    assert read.function_configuration(name)["CodeSha256"] == archives.code_sha256(
        versioned_zip(2))
    with pytest.raises(NotFound):
        read.function_configuration(f"{name}:nope")
