"""verify on the local cloud: prod is promoted, then each promise is broken by hand through
boto3 against the emulator, signed as the local cloud's deployer (as someone in the console
might), and verify names exactly what drifted, with its fix; each drift is then undone."""
from __future__ import annotations

import io
import json
import statistics
import time
from contextlib import redirect_stderr, redirect_stdout

import boto3
import pytest

from infra import routes
from infra.naming import archive_key
from localcloud.iam.callers import read_credentials
from promotion.__main__ import main
from tests.e2e.test_promotion import cli, ok

REGION = "us-east-1"


@pytest.fixture
def aws(cloud):
    """boto3 clients of the emulator, signed as the deployer."""
    key, secret = read_credentials(cloud.store.dir)["deployer"]
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                            region_name=REGION)
    return lambda service: session.client(service, endpoint_url=cloud.emulator.endpoint_url)


@pytest.fixture
def prod(cloud):
    """prod pinned to test, serving exactly its pins: its outputs."""
    ok(cloud, "promote", "--from", "test", "--to", "prod")
    assert verify(cloud) == (0, [True] * 7)
    return cloud.store.load("prod").outputs


def verify(cloud, *extra: str) -> tuple[int, list[bool]]:
    code, out, err = cli(cloud, "verify", "--stack", "prod", "--json", *extra)
    assert err == "", err
    return code, [json.loads(line)["ok"] for line in out.splitlines()]


def drifted(cloud) -> dict[str, str]:
    """The failing checks, name -> fix; verify's exit code must say drift."""
    code, out, err = cli(cloud, "verify", "--stack", "prod", "--json")
    assert code == 1 and err == "", (code, err)
    return {c["name"]: c["fix"] for c in map(json.loads, out.splitlines()) if not c["ok"]}


def test_prod_serving_its_pins_passes_and_how_long_verify_takes(cloud, prod):
    code, out, err = cli(cloud, "verify", "--stack", "prod")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "prod serves exactly its pins"
    assert [line.split()[0] for line in out.splitlines()[:-1]] == ["ok"] * 7
    times = []
    for _ in range(5):
        started = time.perf_counter()
        verify(cloud)
        times.append(time.perf_counter() - started)
    print(f"verify --local: median {statistics.median(times):.3f} s of "
          f"{', '.join(f'{t:.3f}' for t in times)}")


def test_a_moved_alias(cloud, prod, aws):
    lam = aws("lambda")
    served = lam.get_alias(FunctionName="user-service", Name="live")["FunctionVersion"]
    lam.update_function_code(FunctionName="user-service", ZipFile=b"PK\x05\x06" + b"\0" * 18)
    other = lam.publish_version(FunctionName="user-service")["Version"]
    lam.update_alias(FunctionName="user-service", Name="live", FunctionVersion=other)
    try:
        found = drifted(cloud)
        assert list(found) == ["code"]
        assert (f"lambda update-alias --function-name user-service --name live "
                f"--function-version {served}") in found["code"]
    finally:
        lam.update_alias(FunctionName="user-service", Name="live", FunctionVersion=served)
    assert verify(cloud)[0] == 0


def test_a_removed_permission(cloud, prod, aws):
    lam = aws("lambda")
    lam.remove_permission(FunctionName="user-service", Qualifier="live",
                          StatementId="apigateway-prod")
    source = f"{prod['executionArn']}/prod/*/*"
    try:
        found = drifted(cloud)
        assert list(found) == ["permission"]
        assert f"--statement-id apigateway-prod --action lambda:InvokeFunction" in \
            found["permission"] and source in found["permission"]
    finally:
        lam.add_permission(FunctionName="user-service", Qualifier="live",
                           StatementId="apigateway-prod", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com", SourceArn=source)
    assert verify(cloud)[0] == 0


def test_a_stage_pointed_at_another_deployment(cloud, prod, aws):
    apigateway = aws("apigateway")
    dev = cloud.store.load("dev").outputs["deploymentId"]  # the same API, another deployment
    assert dev != prod["deploymentId"]

    def point(deployment):
        apigateway.update_stage(restApiId=prod["restApiId"], stageName="prod", patchOperations=[
            {"op": "replace", "path": "/deploymentId", "value": deployment}])
    point(dev)
    try:
        found = drifted(cloud)
        assert list(found) == ["deployment"]
        assert f"op=replace,path=/deploymentId,value={prod['deploymentId']}" in found["deployment"]
    finally:
        point(prod["deploymentId"])
    assert verify(cloud)[0] == 0


def test_a_deleted_archive(cloud, prod, aws):
    s3 = aws("s3")
    bucket, key = prod["artifactBucket"], archive_key(prod["codeHash"])
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.delete_object(Bucket=bucket, Key=key)
    try:
        found = drifted(cloud)
        assert list(found) == ["code"]
        assert "promote --from test --to prod --local" in found["code"]
    finally:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert verify(cloud)[0] == 0


def test_a_canary_added_by_hand(cloud, prod, aws):
    apigateway = aws("apigateway")
    dev = cloud.store.load("dev").outputs["deploymentId"]
    apigateway.update_stage(restApiId=prod["restApiId"], stageName="prod", patchOperations=[
        {"op": "replace", "path": "/canarySettings/deploymentId", "value": dev},
        {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "10"}])
    try:
        found = drifted(cloud)
        assert list(found) == ["canary"]
        assert "--patch-operations op=remove,path=/canarySettings" in found["canary"]
    finally:
        apigateway.update_stage(restApiId=prod["restApiId"], stageName="prod",
                                patchOperations=[{"op": "remove", "path": "/canarySettings"}])
    assert verify(cloud)[0] == 0


def test_a_widened_caller_policy(cloud, prod, aws):
    iam = aws("iam")
    arn = prod["invokePolicyArn"]
    before = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    wide = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "execute-api:Invoke",
        "Resource": [f"{prod['executionArn']}/prod/*/*", f"{prod['executionArn']}/*/*/*"]}]}
    added = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(wide),
                                      SetAsDefault=True)["PolicyVersion"]["VersionId"]
    try:
        found = drifted(cloud)
        assert list(found) == ["caller policy"]
        assert f"iam create-policy-version --policy-arn {arn} --set-as-default" in \
            found["caller policy"]
    finally:
        iam.set_default_policy_version(PolicyArn=arn, VersionId=before)
        iam.delete_policy_version(PolicyArn=arn, VersionId=added)
    assert verify(cloud)[0] == 0


def test_a_changed_definition(cloud, prod, aws, monkeypatch):
    """dev's API loses a route and dev deploys it: prod's stage pointed at dev's deployment
    by hand serves another deployment *and* another API; the pins edited to name that
    deployment (and deployed) serve it as pinned, and only the definition check sees it."""
    monkeypatch.setattr(routes, "ROUTES", tuple(r for r in routes.ROUTES
                                                if r != routes.Route("DELETE", "/users/{id}")))
    cloud.deploy("dev")
    other = cloud.store.load("dev").outputs["deploymentId"]
    apigateway = aws("apigateway")

    def point(deployment):
        apigateway.update_stage(restApiId=prod["restApiId"], stageName="prod", patchOperations=[
            {"op": "replace", "path": "/deploymentId", "value": deployment}])
    point(other)
    try:
        found = drifted(cloud)
        assert list(found) == ["deployment", "definition"]
        assert "python -m promotion rollback --stack prod --to '#N' --local" in \
            found["definition"]
    finally:
        point(prod["deploymentId"])
    assert verify(cloud)[0] == 0

    # The pins edited by hand to name that deployment, and deployed.
    pinned = cloud.store.config_overrides("prod")
    history = json.loads(pinned["user-service:deploymentHistory"])
    history[-1] = {**history[-1], "deploymentId": other}
    cloud.store.save_config_overrides("prod", {
        **pinned, "user-service:promotedDeploymentId": other,
        "user-service:deploymentHistory": json.dumps(history)})
    cloud.deploy("prod")
    try:
        assert list(drifted(cloud)) == ["definition"]
    finally:
        cloud.store.save_config_overrides("prod", pinned)
        monkeypatch.undo()
        cloud.deploy("dev")
        cloud.deploy("prod")
    assert verify(cloud)[0] == 0


def test_no_local_cloud_is_one_line_and_exit_2(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["verify", "--stack", "prod", "--local", "--state-dir", str(tmp_path)])
    assert code == 2 and out.getvalue() == "", err.getvalue()
    assert err.getvalue().startswith("error: ") and len(err.getvalue().splitlines()) == 1
