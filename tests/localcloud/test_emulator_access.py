"""The emulator's own AWS port is an account's API: only signed requests from keys it
knows get through, the local cloud and its deployer may do anything, everyone else what
their IAM policies allow, each refusal in the called service's own format; moto's own
routes are refused to all. Real HTTP to the session's emulator, real boto3 clients."""
from __future__ import annotations

import datetime
import hashlib
import http.client
import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from unittest import mock

import boto3
import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from localcloud.emulator import ACCOUNT_ID, REGION, local_cloud_credentials
from localcloud.iam import callers

from .builders import deploy_function, suffix, table_arn

REPO_ROOT = Path(__file__).resolve().parents[2]
MADE_UP = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


# --- helpers ------------------------------------------------------------------------------

def client(emulator, service: str, credentials: Credentials, **config):
    return boto3.session.Session(
        aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token, region_name=REGION,
    ).client(service, endpoint_url=emulator.endpoint_url,
             config=Config(retries={"max_attempts": 1}, **config))


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as error:
        call()
    return error.value


def code_and_message(error: ClientError) -> tuple[str, str]:
    return error.response["Error"]["Code"], error.response["Error"]["Message"]


def send(emulator, method: str, path: str, body: bytes = b"",
         headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


def signed(emulator, credentials: Credentials, service: str, method: str, path: str,
           body: bytes = b"", headers: dict | None = None, *, signer=SigV4Auth,
           region: str = REGION) -> dict:
    """The headers botocore signs a raw request with."""
    request = AWSRequest(method=method, url=f"{emulator.endpoint_url}{path}", data=body,
                         headers=dict(headers or {}))
    signer(credentials, service, region).add_auth(request)
    return dict(request.headers.items())


def make_table(emulator) -> str:
    name = f"acc{suffix()}-User"
    emulator.client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    return name


def make_user(emulator, *policies: dict) -> tuple[str, Credentials]:
    iam, name = emulator.client("iam"), f"acc-user-{suffix()}"
    iam.create_user(UserName=name)
    for index, document in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{index}",
                            PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def allow(actions, resources) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resources}]}


def xml_code(body: bytes) -> str | None:
    """The Code of an XML error, whatever its namespace."""
    return next((e.text for e in ElementTree.fromstring(body).iter()
                 if e.tag.rpartition("}")[2] == "Code"), None)


def table_names(emulator) -> list[str]:
    return emulator.client("dynamodb").list_tables(Limit=100)["TableNames"]


# --- nobody unknown gets in ---------------------------------------------------------------

def test_made_up_keys_are_refused_by_every_service_in_its_own_terms(emulator):
    table = make_table(emulator)
    expected = {  # service: (call, code botocore reads from the service's error format)
        "dynamodb": (lambda c: c.scan(TableName=table), "UnrecognizedClientException"),
        "logs": (lambda c: c.describe_log_groups(), "UnrecognizedClientException"),
        "iam": (lambda c: c.list_users(), "InvalidClientTokenId"),
        "sts": (lambda c: c.get_caller_identity(), "InvalidClientTokenId"),
        "lambda": (lambda c: c.list_functions(), "UnrecognizedClientException"),
        "apigateway": (lambda c: c.get_rest_apis(), "UnrecognizedClientException"),
        "s3": (lambda c: c.list_buckets(), "InvalidAccessKeyId"),
    }
    for service, (call, code) in expected.items():
        error = refused(lambda: call(client(emulator, service, MADE_UP)))
        assert error.response["Error"]["Code"] == code, (service, error.response)
    # The table is untouched and still there.
    assert table in table_names(emulator)


def test_unsigned_requests_are_refused_and_change_nothing(emulator):
    table = make_table(emulator)
    status, headers, body = send(emulator, "POST", "/", json.dumps({"TableName": table}).encode(),
                                 {"X-Amz-Target": "DynamoDB_20120810.DeleteTable",
                                  "Content-Type": "application/x-amz-json-1.0"})
    assert status == 400
    assert json.loads(body) == {
        "__type": "com.amazon.coral.service#MissingAuthenticationTokenException",
        "message": "Request is missing Authentication Token"}
    status, _, body = send(emulator, "POST", "/", b"Action=DeleteUser&UserName=x&Version=2010-05-08",
                           {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403
    assert xml_code(body) == "MissingAuthenticationToken"
    # moto would issue credentials for any role to an unsigned AssumeRoleWithWebIdentity,
    # checking no token: refused here like every unsigned request.
    status, _, body = send(emulator, "POST", "/", (
        b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleSessionName=x&"
        b"WebIdentityToken=made-up&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fany"),
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, xml_code(body)) == (403, "MissingAuthenticationToken")
    assert b"SecretAccessKey" not in body
    status, headers, body = send(emulator, "GET", "/2015-03-31/functions/")
    assert (status, headers["x-amzn-ErrorType"], json.loads(body)) == (
        403, "MissingAuthenticationTokenException", {"message": "Missing Authentication Token"})
    assert table in table_names(emulator)


def test_a_known_key_with_a_wrong_secret_or_token_is_refused(emulator):
    _, key = make_user(emulator)
    wrong = Credentials(key.access_key, "not-the-secret")
    error = refused(lambda: client(emulator, "dynamodb", wrong).list_tables())
    code, message = code_and_message(error)
    assert code == "InvalidSignatureException"
    assert message.startswith("The request signature we calculated does not match the "
                              "signature you provided.")
    assert code_and_message(refused(lambda: client(emulator, "iam", wrong).list_users()))[0] \
        == "SignatureDoesNotMatch"
    # An IAM user's long-term key with a session token is not a valid credential.
    with_token = Credentials(key.access_key, key.secret_key, "a-token")
    assert code_and_message(refused(
        lambda: client(emulator, "sts", with_token).get_caller_identity()))[0] == \
        "InvalidClientTokenId"


def test_a_signature_older_than_five_minutes_is_refused(emulator):
    _, key = make_user(emulator)
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    now = datetime.datetime.now(datetime.timezone.utc)
    for minutes, expected in ((6, 403), (-6, 403), (0, 200)):
        then = now - datetime.timedelta(minutes=minutes)
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=then):
            headers = signed(emulator, key, "sts", "POST", "/", body, form)
        status, _, answer = send(emulator, "POST", "/", body, headers)
        assert status == expected, answer
        if minutes:
            assert xml_code(answer) == "SignatureDoesNotMatch"
            assert b"Signature expired: " in answer or b"Signature not yet current: " in answer


def test_a_deleted_or_deactivated_key_no_longer_signs(emulator):
    name, key = make_user(emulator)
    sts = client(emulator, "sts", key)
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"
    iam = emulator.client("iam")
    iam.update_access_key(UserName=name, AccessKeyId=key.access_key, Status="Inactive")
    assert code_and_message(refused(sts.get_caller_identity))[0] == "InvalidClientTokenId"
    iam.update_access_key(UserName=name, AccessKeyId=key.access_key, Status="Active")
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{name}")
    iam.delete_access_key(UserName=name, AccessKeyId=key.access_key)
    assert code_and_message(refused(sts.get_caller_identity))[0] == "InvalidClientTokenId"


# --- a user has what its policies say -----------------------------------------------------

def test_a_user_may_call_what_its_policies_allow_and_nothing_else(emulator):
    mine, other = make_table(emulator), make_table(emulator)
    name, key = make_user(emulator, allow(["dynamodb:GetItem"], [table_arn(mine)]))
    ddb = client(emulator, "dynamodb", key)
    assert "Item" not in ddb.get_item(TableName=mine, Key={"id": {"S": "x"}})
    user_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"
    assert code_and_message(refused(lambda: ddb.scan(TableName=mine))) == (
        "AccessDeniedException",
        f"User: {user_arn} is not authorized to perform: dynamodb:Scan on resource: "
        f"{table_arn(mine)} because no identity-based policy allows the dynamodb:Scan action")
    assert code_and_message(refused(
        lambda: ddb.get_item(TableName=other, Key={"id": {"S": "x"}})))[1] == (
        f"User: {user_arn} is not authorized to perform: dynamodb:GetItem on resource: "
        f"{table_arn(other)} because no identity-based policy allows the dynamodb:GetItem "
        "action")
    # Nor may it give itself more: IAM authorizes AttachUserPolicy on the user.
    error = refused(lambda: client(emulator, "iam", key).attach_user_policy(
        UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"))
    assert code_and_message(error) == (
        "AccessDenied",
        f"User: {user_arn} is not authorized to perform: iam:AttachUserPolicy on resource: "
        f"{user_arn} because no identity-based policy allows the iam:AttachUserPolicy action")
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert emulator.client("iam").list_attached_user_policies(UserName=name)[
        "AttachedPolicies"] == []
    for service, call in (("lambda", lambda c: c.list_functions()),
                          ("apigateway", lambda c: c.get_rest_apis()),
                          ("s3", lambda c: c.list_buckets()),
                          ("logs", lambda c: c.describe_log_groups())):
        assert code_and_message(refused(lambda: call(client(emulator, service, key))))[0] in (
            "AccessDeniedException", "AccessDenied"), service
    # GetCallerIdentity needs no permission, on AWS as here.
    assert client(emulator, "sts", key).get_caller_identity()["Arn"] == user_arn


def test_an_explicit_deny_wins_and_says_so(emulator):
    table = make_table(emulator)
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "dynamodb:Scan", "Resource": table_arn(table)}]}
    name, key = make_user(emulator, allow(["dynamodb:*"], ["*"]), deny)
    ddb = client(emulator, "dynamodb", key)
    assert ddb.describe_table(TableName=table)["Table"]["TableName"] == table
    assert code_and_message(refused(lambda: ddb.scan(TableName=table)))[1] == (
        f"User: arn:aws:iam::{ACCOUNT_ID}:user/{name} is not authorized to perform: "
        f"dynamodb:Scan on resource: {table_arn(table)} with an explicit deny in an "
        "identity-based policy")


def test_lambda_calls_are_authorized_on_the_function_they_name(emulator, state_dir):
    mine = deploy_function(emulator, state_dir, handler="app.echo")
    other = deploy_function(emulator, state_dir, handler="app.echo")
    name, key = make_user(emulator, allow(["lambda:GetFunction"], [mine.arn]))
    lam = client(emulator, "lambda", key)
    assert lam.get_function(FunctionName=mine.name)["Configuration"]["FunctionArn"] == mine.arn
    code, message = code_and_message(refused(lambda: lam.get_function(FunctionName=other.name)))
    assert (code, message) == (
        "AccessDeniedException",
        f"User: arn:aws:iam::{ACCOUNT_ID}:user/{name} is not authorized to perform: "
        f"lambda:GetFunction on resource: {other.arn} because no identity-based policy "
        "allows the lambda:GetFunction action")
    assert code_and_message(refused(lambda: lam.invoke(FunctionName=mine.name)))[1].startswith(
        f"User: arn:aws:iam::{ACCOUNT_ID}:user/{name} is not authorized to perform: "
        f"lambda:InvokeFunction on resource: {mine.arn} ")


def test_api_gateway_management_is_authorized_by_method_and_path(emulator):
    api_id = emulator.client("apigateway").create_rest_api(name=f"acc-{suffix()}")["id"]
    resource = f"arn:aws:apigateway:{REGION}::/restapis/{api_id}"
    _, key = make_user(emulator, allow(["apigateway:GET"], [resource, f"{resource}/*"]))
    apigw = client(emulator, "apigateway", key)
    assert apigw.get_rest_api(restApiId=api_id)["id"] == api_id
    assert apigw.get_stages(restApiId=api_id)["item"] == []
    code, message = code_and_message(refused(lambda: apigw.delete_rest_api(restApiId=api_id)))
    assert code == "AccessDeniedException"
    assert f"apigateway:DELETE on resource: {resource} because" in message
    assert emulator.client("apigateway").get_rest_api(restApiId=api_id)["id"] == api_id


# --- role sessions ------------------------------------------------------------------------

def test_a_role_session_has_its_roles_policies_and_its_session_policy(emulator, state_dir):
    fn = deploy_function(emulator, state_dir, handler="app.echo", actions=("dynamodb:PutItem",))
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{fn.role_name}"
    sts = emulator.client("sts")
    issued = sts.assume_role(RoleArn=role_arn, RoleSessionName="checker")["Credentials"]
    session = Credentials(issued["AccessKeyId"], issued["SecretAccessKey"],
                          issued["SessionToken"])
    ddb = client(emulator, "dynamodb", session)
    ddb.put_item(TableName=fn.table, Item={"id": {"S": "r1"}})
    assert code_and_message(refused(
        lambda: ddb.delete_item(TableName=fn.table, Key={"id": {"S": "r1"}}))) == (
        "AccessDeniedException",
        f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{fn.role_name}/checker is not "
        f"authorized to perform: dynamodb:DeleteItem on resource: {table_arn(fn.table)} "
        "because no identity-based policy allows the dynamodb:DeleteItem action")
    # Without its session token, or with another, the temporary key is no credential.
    for token in (None, "another-token"):
        bare = Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], token)
        assert code_and_message(refused(
            lambda: client(emulator, "dynamodb", bare).list_tables()))[0] == \
            "UnrecognizedClientException"
    # A session policy narrows the role's rights: both must allow.
    narrowed = sts.assume_role(RoleArn=role_arn, RoleSessionName="narrow", Policy=json.dumps(
        allow(["dynamodb:GetItem"], ["*"])))["Credentials"]
    narrow = client(emulator, "dynamodb", Credentials(
        narrowed["AccessKeyId"], narrowed["SecretAccessKey"], narrowed["SessionToken"]))
    assert code_and_message(refused(lambda: narrow.put_item(
        TableName=fn.table, Item={"id": {"S": "r2"}})))[1].endswith(
        "because no session policy allows the dynamodb:PutItem action")


def test_an_expired_role_session_is_refused(emulator, state_dir):
    fn = deploy_function(emulator, state_dir, handler="app.echo")
    # Issued already expired (the client's own check of the minimum is turned off).
    sts = client(emulator, "sts", local_cloud_credentials(), parameter_validation=False)
    issued = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{fn.role_name}",
                             RoleSessionName="late", DurationSeconds=-60)["Credentials"]
    late = Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])
    assert code_and_message(refused(
        lambda: client(emulator, "dynamodb", late).list_tables())) == (
        "ExpiredTokenException", "The security token included in the request is expired")


def test_outside_callers_cannot_assume_a_role_they_hold_no_right_to(emulator, state_dir):
    fn = deploy_function(emulator, state_dir, handler="app.echo")
    _, key = make_user(emulator)
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{fn.role_name}"
    assert code_and_message(refused(lambda: client(emulator, "sts", key).assume_role(
        RoleArn=role_arn, RoleSessionName="stolen")))[1].endswith(
        f"sts:AssumeRole on resource: {role_arn} because no identity-based policy allows the "
        "sts:AssumeRole action")


def test_a_functions_calls_are_signed_as_its_role(emulator, state_dir, invoker):
    fn = deploy_function(emulator, state_dir, handler="app.whoami")
    result = invoker.invoke(fn.name, {})
    assert result.ok, result.error
    # As in Lambda: temporary credentials (ASIA...) for the role, the function's name as
    # the session name.
    assert result.payload == {
        "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{fn.role_name}/{fn.name}",
        "key_kind": "ASIA", "has_session_token": True}


def test_a_warm_worker_whose_credentials_are_gone_is_replaced():
    # moto's state is per process and a reset wipes it all, so this runs in a child.
    script = (
        "import tempfile\n"
        "from pathlib import Path\n"
        "from localcloud.emulator import Emulator\n"
        "from localcloud.awslambda.invoker import Invoker\n"
        "from tests.localcloud.builders import deploy_function\n"
        "state = Path(tempfile.mkdtemp())\n"
        "with Emulator() as emu, Invoker(emu.endpoint_url, state) as invoker:\n"
        "    deploy_function(emu, state, handler='app.whoami', name='fn', prefix='p-')\n"
        "    first = invoker.invoke('fn', {})\n"
        "    warm = invoker.invoke('fn', {})\n"
        "    emu.reset()  # every role session goes with moto's state\n"
        "    # The very same function again: its warm worker's pool would serve it.\n"
        "    deploy_function(emu, state, handler='app.whoami', name='fn', prefix='p-')\n"
        "    after = invoker.invoke('fn', {})\n"
        "    print(first.ok, first.cold_start, warm.cold_start, after.ok, after.cold_start,\n"
        "          after.payload['arn'] == first.payload['arn'])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "False", "True", "True", "True"]


# --- the local cloud and its deployer -----------------------------------------------------

def test_the_deployer_may_do_anything_on_the_emulator(emulator, tmp_path):
    deployer = callers.make_deployer(emulator, tmp_path)
    key = Credentials(deployer.access_key_id, deployer.secret_access_key)
    table = make_table(emulator)
    assert client(emulator, "dynamodb", key).scan(TableName=table)["Count"] == 0
    iam = client(emulator, "iam", key)
    name = f"made-by-deployer-{suffix()}"
    iam.create_user(UserName=name)
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(
        allow(["dynamodb:Scan"], ["*"])))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    assert client(emulator, "route53", key).list_hosted_zones()["HostedZones"] is not None
    # Its profile in the credentials file, readable by its owner only, holds that key.
    path = tmp_path / "credentials"
    assert callers.parse_credentials(path.read_text())["deployer"] == (
        key.access_key, key.secret_key)
    assert path.stat().st_mode & 0o077 == 0


def test_the_local_clouds_own_key_is_nowhere_in_iam(emulator):
    own = local_cloud_credentials()
    assert emulator.client("sts").get_caller_identity()["Account"] == ACCOUNT_ID
    iam = emulator.client("iam")
    holders = [u["UserName"] for u in iam.list_users(MaxItems=1000)["Users"]
               if any(k["AccessKeyId"] == own.access_key for k in iam.list_access_keys(
                   UserName=u["UserName"])["AccessKeyMetadata"])]
    assert holders == []


# --- moto's own routes and controls ---------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("POST", "/moto-api/reset"), ("GET", "/moto-api/"), ("GET", "/moto-api/data.json"),
    ("POST", "/moto-api/reset-auth"), ("POST", "/moto-api/seed?a=42"),
    ("GET", "/latest/meta-data/iam/security-credentials/"),
])
def test_motos_own_routes_are_refused_signed_or_not(emulator, method, path):
    table = make_table(emulator)
    for headers in ({}, signed(emulator, local_cloud_credentials(), "s3", method, path)):
        status, response_headers, body = send(emulator, method, path, b"", headers)
        assert status == 403, (path, body)
        assert "not an AWS API" in json.loads(body)["message"]
    assert table in table_names(emulator)


def test_motos_account_header_is_refused(emulator):
    body = b"{}"
    headers = signed(emulator, local_cloud_credentials(), "dynamodb", "POST", "/", body, {
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0", "x-moto-account-id": "111111111111"})
    status, _, answer = send(emulator, "POST", "/", body, headers)
    assert status == 403 and "x-moto-" in json.loads(answer)["message"]


# --- what is signed is what moto serves ---------------------------------------------------

def test_a_request_must_name_one_credential_first_as_moto_reads_it(emulator):
    _, key = make_user(emulator, allow(["dynamodb:ListTables"], ["*"]))
    body = b"{}"
    base = {"X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0"}
    headers = signed(emulator, key, "dynamodb", "POST", "/", body, base)
    assert send(emulator, "POST", "/", body, headers)[0] == 200
    algorithm, _, parts = headers["Authorization"].partition(" ")
    credential, signed_headers, signature = [p.strip() for p in parts.split(",")]
    reordered = f"{algorithm} {signed_headers}, {credential}, {signature}"
    doubled = f"{algorithm} {credential}, {credential}, {signed_headers}, {signature}"
    for authorization in (reordered, doubled):
        status, _, answer = send(emulator, "POST", "/", body,
                                 {**headers, "Authorization": authorization})
        assert status == 400, answer
        assert json.loads(answer)["__type"].endswith("#IncompleteSignatureException")


def test_a_request_moto_would_serve_in_another_region_is_refused(emulator):
    _, key = make_user(emulator, allow(["dynamodb:ListTables"], ["*"]))
    body = b"{}"
    headers = signed(emulator, key, "dynamodb", "POST", "/", body, {
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0"})
    # moto takes a region from the User-Agent before the signature's scope.
    status, _, answer = send(emulator, "POST", "/", body,
                             {**headers, "User-Agent": "sdk region/eu-west-1"})
    assert status == 400 and "'eu-west-1'" in json.loads(answer)["message"]


def test_a_request_signed_for_another_service_is_refused(emulator):
    _, key = make_user(emulator, allow(["*"], ["*"]))
    body = b"{}"
    headers = signed(emulator, key, "dynamodb", "POST", "/", body, {
        "X-Amz-Target": "DynamoDBStreams_20120810.ListStreams",
        "Content-Type": "application/x-amz-json-1.0"})
    assert send(emulator, "POST", "/", body, headers)[0] == 200  # streams sign as dynamodb
    iam_body = b"Action=ListUsers&Version=2010-05-08"
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    headers = signed(emulator, key, "iam", "POST", "/", iam_body, form)
    assert send(emulator, "POST", "/", iam_body, headers)[0] == 200
    wrong = signed(emulator, key, "dynamodb", "POST", "/", iam_body, form)
    status, _, answer = send(emulator, "POST", "/", iam_body, wrong)
    assert status == 400 and xml_code(answer) == "InvalidAction"


# --- S3's payload hash ----------------------------------------------------------------------

def test_s3_checks_the_payload_against_its_signed_hash(emulator):
    bucket = f"acc-{suffix()}"
    emulator.client("s3").create_bucket(Bucket=bucket)
    own = local_cloud_credentials()
    path = f"/{bucket}/object"
    signed_body, sent_body = b"what was signed", b"what was sent!!"
    headers = signed(emulator, own, "s3", "PUT", path, signed_body, signer=S3SigV4Auth)
    assert headers["X-Amz-Content-SHA256"] == hashlib.sha256(signed_body).hexdigest()
    status, _, answer = send(emulator, "PUT", path, sent_body, headers)
    assert status == 400 and xml_code(answer) == "XAmzContentSHA256Mismatch"
    assert send(emulator, "PUT", path, signed_body, headers)[0] == 200
    unsigned = signed(emulator, own, "s3", "PUT", path, sent_body,
                      {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert send(emulator, "PUT", path, sent_body, unsigned)[0] == 200
    assert emulator.client("s3").get_object(Bucket=bucket, Key="object")["Body"].read() == \
        sent_body
    chunked = signed(emulator, own, "s3", "PUT", path, sent_body,
                     {"X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"})
    status, _, answer = send(emulator, "PUT", path, sent_body, chunked)
    assert status == 501 and xml_code(answer) == "NotImplemented"
