"""Builders for the local-cloud tests: tiny handler archives and a small users API in moto.

Names carry a random suffix: moto's state is per process and other test folders may
run moto in the same pytest process, so nothing here assumes it is alone.
"""
from __future__ import annotations

import datetime
import http.client
import io
import json
import uuid
import zipfile
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from localcloud.awslambda import archives
from localcloud.apigateway import snapshots
from localcloud.emulator import ACCOUNT_ID, REGION

URI = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
       "arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.functionName}/invocations")

# One module of small handlers; each test function picks one through its Handler.
APP = r'''
import base64
import json
import logging
import os
import sys
import time

import boto3
from botocore.exceptions import ClientError

print("app imported")
logger = logging.getLogger()

def _table():
    return os.environ["TABLE_NAME"]

def _json(status, body, headers=None):
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **(headers or {})},
            "body": json.dumps(body)}

def echo(event, context):
    print(f"echo {event.get('httpMethod')} {event.get('path')}")
    logger.warning("a warning from the handler")
    sys.stderr.write("to stderr\n")
    env = {k: os.environ.get(k) for k in (
        "TABLE_NAME", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
        "PYTHONPATH", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")}
    return _json(200, {"event": event, "function": context.function_name,
                       "requestId": context.aws_request_id,
                       "remaining": context.get_remaining_time_in_millis(),
                       "memory": context.memory_limit_in_mb,
                       "env": env, "sys_path0": sys.path[0]},
                 {"X-Function": context.function_name})

def users(event, context):
    """GET /users (scan), GET/PUT/DELETE /users/{id}, plus a few misbehaving routes."""
    client = boto3.client("dynamodb")
    method, resource = event["httpMethod"], event["resource"]
    params = event.get("pathParameters") or {}
    try:
        if resource == "/users" and method == "GET":
            items = client.scan(TableName=_table())["Items"]
            return _json(200, sorted(i["id"]["S"] for i in items))
        if resource == "/users/{id}" and method == "GET":
            item = client.get_item(TableName=_table(), Key={"id": {"S": params["id"]}}).get("Item")
            if item is None:
                return _json(404, {"message": "no such user"})
            return _json(200, {"id": item["id"]["S"], "name": item["name"]["S"]})
        if resource == "/users/{id}" and method == "PUT":
            client.put_item(TableName=_table(),
                            Item={"id": {"S": params["id"]}, "name": {"S": event["body"] or ""}})
            return _json(201, {"id": params["id"]})
        if resource == "/users/{id}" and method == "DELETE":
            client.delete_item(TableName=_table(), Key={"id": {"S": params["id"]}})
            return _json(204, {})
        if resource == "/boom":
            raise ValueError("boom")
        if resource == "/malformed":
            return {"statusCode": "two hundred", "body": {"not": "a string"}}
        if resource == "/sleep":
            print("going to sleep")
            time.sleep(30)
        if resource == "/binary":
            return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                    "body": base64.b64encode(b"\x00\xff\x10").decode(), "isBase64Encoded": True}
        return _json(400, {"message": f"unexpected {method} {resource}"})
    except ClientError as err:
        return _json(403, {"code": err.response["Error"]["Code"],
                           "message": err.response["Error"]["Message"]})

def boom(event, context):
    print("about to fail")
    raise ValueError("boom")

def not_json(event, context):
    return {"when": object()}

def exits(event, context):
    sys.exit(3)

def sleepy(event, context):
    print("going to sleep")
    time.sleep(float(event.get("seconds", 30)))
    return {"slept": True}

def count(event, context):
    global COUNT
    COUNT = globals().get("COUNT", 0) + 1
    return {"count": COUNT, "pid": os.getpid()}

def put_then_delete(event, context):
    client = boto3.client("dynamodb")
    out = {}
    for name, call in (("put", lambda: client.put_item(TableName=_table(), Item={"id": {"S": "p1"}})),
                       ("delete", lambda: client.delete_item(TableName=_table(), Key={"id": {"S": "p1"}}))):
        try:
            call()
            out[name] = "ok"
        except ClientError as err:
            out[name] = {"code": err.response["Error"]["Code"],
                         "message": err.response["Error"]["Message"],
                         "type": type(err).__name__}
    return out

def version(event, context):
    return {"version": VERSION}

def whoami(event, context):
    """Who the function's AWS calls are signed as, and with what kind of key."""
    return {"arn": boto3.client("sts").get_caller_identity()["Arn"],
            "key_kind": os.environ["AWS_ACCESS_KEY_ID"][:4],
            "has_session_token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
'''

BROKEN_IMPORT = "import does_not_exist_anywhere\n"


def make_zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), content)
    return buffer.getvalue()


def app_zip(extra: str = "") -> bytes:
    return make_zip({"app.py": APP + extra})


def suffix() -> str:
    return uuid.uuid4().hex[:8]


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"


def log_group_arn(function_name: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/{function_name}"


def role_policy(table: str, function_name: str, actions=("dynamodb:GetItem", "dynamodb:PutItem",
                                                          "dynamodb:Scan")) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Table", "Effect": "Allow", "Action": list(actions), "Resource": [table_arn(table)]},
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [f"{log_group_arn(function_name)}:log-stream:*"]},
    ]}


@dataclass
class Function:
    name: str
    table: str
    role_name: str
    arn: str
    code_sha256: str


def deploy_function(emulator, state_dir, *, handler: str, name: str | None = None,
                    prefix: str | None = None, zip_bytes: bytes | None = None,
                    timeout: int = 3, memory: int | None = None, policy: dict | None = None,
                    actions=("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"),
                    log_group: bool = True, env: dict | None = None) -> Function:
    """Table, role with inline policy, log group, archive in the state dir, function."""
    prefix = prefix if prefix is not None else f"t{suffix()}-"
    name = name or f"{prefix}user-service"
    table = f"{prefix}User"
    iam, lam, ddb, logs = (emulator.client(s) for s in ("iam", "lambda", "dynamodb", "logs"))
    ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    role_name = f"{name}-role"
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]
    }))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="function",
                        PolicyDocument=json.dumps(policy or role_policy(table, name, actions)))
    if log_group:
        logs.create_log_group(logGroupName=f"/aws/lambda/{name}")
    zip_bytes = zip_bytes if zip_bytes is not None else app_zip()
    sha = archives.save_archive(state_dir, zip_bytes)
    created = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=role_arn, Handler=handler,
        Code={"ZipFile": zip_bytes}, Timeout=timeout,
        **({"MemorySize": memory} if memory is not None else {}),
        Environment={"Variables": {"TABLE_NAME": table, **(env or {})}})
    assert created["CodeSha256"] == sha
    return Function(name=name, table=table, role_name=role_name, arn=created["FunctionArn"],
                    code_sha256=sha)


@dataclass
class Api:
    id: str
    resources: dict[str, str]  # path -> resource id
    stages: dict[str, str] = field(default_factory=dict)  # stage -> deployment id


def create_api(apigw, routes: dict[str, list[str]], name: str = "users-api") -> Api:
    """A REST API whose every route is an AWS_PROXY integration with the stage-variable URI."""
    api_id = apigw.create_rest_api(name=name)["id"]
    resources = {item["path"]: item["id"] for item in apigw.get_resources(restApiId=api_id)["items"]}
    api = Api(api_id, resources)
    for path, methods in routes.items():
        add_route(apigw, api, path, methods)
    return api


def uri_for(variable: str) -> str:
    return URI.replace("${stageVariables.functionName}", "${stageVariables.%s}" % variable)


def add_route(apigw, api: Api, path: str, methods: list[str], uri: str = URI) -> None:
    parts = [p for p in path.split("/") if p]
    current = ""
    for part in parts:
        parent = api.resources[current or "/"]
        current = f"{current}/{part}"
        if current not in api.resources:
            api.resources[current] = apigw.create_resource(
                restApiId=api.id, parentId=parent, pathPart=part)["id"]
    for method in methods:
        resource_id = api.resources[path]
        apigw.put_method(restApiId=api.id, resourceId=resource_id, httpMethod=method,
                         authorizationType="NONE")
        apigw.put_integration(restApiId=api.id, resourceId=resource_id, httpMethod=method,
                              type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)


def deploy_stage(apigw, state_dir, api: Api, stage: str, variables: dict[str, str]) -> str:
    """A new deployment (with its snapshot) and the stage pointed at it."""
    deployment_id = snapshots.create_deployment(apigw, state_dir, api.id,
                                                description=f"for {stage}")
    existing = {s["stageName"] for s in apigw.get_stages(restApiId=api.id)["item"]}
    if stage in existing:
        apigw.update_stage(restApiId=api.id, stageName=stage, patchOperations=[
            {"op": "replace", "path": "/deploymentId", "value": deployment_id}])
    else:
        apigw.create_stage(restApiId=api.id, stageName=stage, deploymentId=deployment_id,
                           variables=variables)
    api.stages[stage] = deployment_id
    return deployment_id


def grant_invoke(lam, function_name: str, api_id: str, stage: str, method: str, path: str,
                 sid: str | None = None) -> None:
    source = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{stage}/{method}/{path}"
    lam.add_permission(FunctionName=function_name, StatementId=sid or f"s{suffix()}",
                       Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                       SourceArn=source)


# --- HTTP ---------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def request_id(self) -> str:
        return self.headers["x-amzn-RequestId"]


def call(gw, method: str, path: str, body: bytes | str | None = None,
         headers: dict | None = None) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()


# --- SigV4 callers (IAM users in the emulator) ------------------------------------------

def invoke_policy(api_id: str, stage: str, effect: str = "Allow") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": effect, "Action": "execute-api:Invoke",
        "Resource": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{stage}/*/*"}]})


@dataclass
class Caller:
    user_name: str
    user_id: str
    user_arn: str
    key_id: str
    secret: str


def make_caller(iam, policy_arn: str | None, prefix: str = "caller") -> Caller:
    name = f"{prefix}-{suffix()}"
    user = iam.create_user(UserName=name)["User"]
    if policy_arn:
        iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Caller(name, user["UserId"], user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])


def sign(method: str, url: str, caller: Caller, body: bytes = b"", *, region: str = REGION,
         service: str = "execute-api", headers: dict | None = None,
         token: str | None = None) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(caller.key_id, caller.secret, token), service, region).add_auth(request)
    return request


def require_iam(state_dir, deployment_id: str) -> None:
    """Rewrite a deployment's snapshot so that every method is AWS_IAM."""
    snapshot = snapshots.load_snapshot(state_dir, deployment_id)
    for resource in snapshot["resources"]:
        for method in resource["methods"].values():
            method["authorizationType"] = "AWS_IAM"
    snapshots.save_snapshot(state_dir, deployment_id, snapshot)


def send(gateway, request: AWSRequest, *, body: bytes | None = None, path: str | None = None,
         headers: dict | None = None):
    url = urlsplit(request.url)
    sent = {**dict(request.headers.items()), **(headers or {})}
    return call(gateway, request.method, path or url.path + (f"?{url.query}" if url.query else ""),
                body=request.body if body is None else body, headers=sent)


# --- deploying through the engine's kinds ---------------------------------------------

def cloud_for(emulator, state_dir):
    """The `Cloud` a kind deploys into: this emulator and state dir (no gateway served)."""
    from localcloud.kinds import Cloud

    return Cloud(endpoint_url=emulator.endpoint_url, region=REGION, account_id=ACCOUNT_ID,
                 state_dir=state_dir, gateway_url="http://127.0.0.1:9")


def function_role(emulator, name: str) -> str:
    """A role for a function that makes no AWS calls; returns its ARN."""
    return emulator.client("iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]


def function_inputs(name: str, role_arn: str, handler: str = "app.version", **extra) -> dict:
    """A lambda.Function's inputs as the engine hands them to a kind (camelCase)."""
    return {"name": name, "role": role_arn, "handler": handler, "runtime": "python3.12",
            "timeout": 10, "environment": {"variables": {"TABLE_NAME": "unused-User"}}, **extra}


def self_signed(domain: str) -> tuple[bytes, bytes]:
    """A certificate for `domain` and its key, as a user would import one into ACM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), False)
                   .sign(key, hashes.SHA256()))
    return (certificate.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))
