"""The red team's reproduction (issue 17, point 1), against every stage of the real
program in a local cloud: a client pointed at the emulator's endpoint in the cloud's
session file, signed with test's caller keys or with made-up keys, can neither read
prod's table, nor give itself prod's invoke policy, nor reset the emulator; the deployer
and the functions keep working."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from localcloud.iam.callers import stage_credentials
from tests.e2e.conftest import REGION, call, create_user

MADE_UP = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
TEST_CALLER = "localcloud-test-caller"


def endpoint(cloud) -> str:
    """Where .localcloud/session.json says the emulator is."""
    return json.loads((cloud.store.dir / "session.json").read_text())["endpoint_url"]


def client(cloud, service: str, credentials: Credentials):
    return boto3.session.Session(
        aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key,
        region_name=REGION).client(service, endpoint_url=endpoint(cloud),
                                   config=Config(retries={"max_attempts": 1}))


def attached(cloud, user: str) -> list[str]:
    iam = cloud.cloud("test").client("iam")
    return [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user)[
        "AttachedPolicies"]]


@pytest.fixture(scope="module")
def outsiders(cloud):
    return {"test's caller": stage_credentials(cloud.store.dir, "test"), "made-up keys": MADE_UP}


@pytest.mark.parametrize("who", ["test's caller", "made-up keys"])
def test_an_outsider_cannot_scan_prods_table(cloud, url, outsiders, who):
    create_user(url, "prod", name="Prod Only", email="prod.only@example.com")
    with pytest.raises(ClientError) as refused:
        client(cloud, "dynamodb", outsiders[who]).scan(TableName="User")
    error = refused.value.response["Error"]
    if who == "test's caller":
        assert error == {
            "Code": "AccessDeniedException",
            "Message": "User: arn:aws:iam::123456789012:user/localcloud-test-caller is not "
                       "authorized to perform: dynamodb:Scan on resource: "
                       "arn:aws:dynamodb:us-east-1:123456789012:table/User because no "
                       "identity-based policy allows the dynamodb:Scan action"}
    else:
        assert error["Code"] == "UnrecognizedClientException"


@pytest.mark.parametrize("who", ["test's caller", "made-up keys"])
def test_an_outsider_cannot_give_tests_caller_prods_invoke_policy(cloud, url, outsiders, who):
    prod_policy = cloud.store.load("prod").outputs["invokePolicyArn"]
    before = attached(cloud, TEST_CALLER)
    with pytest.raises(ClientError) as refused:
        client(cloud, "iam", outsiders[who]).attach_user_policy(UserName=TEST_CALLER,
                                                                PolicyArn=prod_policy)
    assert refused.value.response["Error"]["Code"] == (
        "AccessDenied" if who == "test's caller" else "InvalidClientTokenId")
    assert attached(cloud, TEST_CALLER) == before and prod_policy not in before
    # So the gateway still refuses prod to test's caller.
    reply = call(url("prod"), sign="test")
    assert reply.status == 403
    assert reply.json()["Message"].startswith(
        "User: arn:aws:iam::********9012:user/localcloud-test-caller is not authorized to "
        "perform: execute-api:Invoke on resource: ")


def test_an_unsigned_reset_wipes_nothing(cloud, url):
    created = create_user(url, "prod", name="Survivor", email="survivor@example.com")
    request = urllib.request.Request(f"{endpoint(cloud)}/moto-api/reset", method="POST",
                                     data=b"")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    # Every stage still serves, its data intact.
    assert call(url("prod", f"/users/{created['id']}")).status == 200
    for stage in ("dev", "test"):
        assert call(url(stage)).status == 200


def test_the_deployer_and_the_functions_keep_working(cloud, url):
    deployer = stage_credentials(cloud.store.dir, "deployer")
    created = create_user(url, "prod", name="Kept", email="kept@example.com")  # the function
    items = client(cloud, "dynamodb", deployer).scan(TableName="User")["Items"]
    assert created["id"] in {item["id"]["S"] for item in items}
    iam = client(cloud, "iam", deployer)
    assert iam.get_user(UserName=TEST_CALLER)["User"]["UserName"] == TEST_CALLER
    # The function's DynamoDB calls were made as its role, and allowed by the emulator.
    calls = [c for c in cloud.invoker.call_log("user-service") if c.source == "function"]
    assert calls and all(c.allowed for c in calls)
    assert {c.principal for c in calls} == {
        "arn:aws:sts::123456789012:assumed-role/user-service-role/user-service"}
