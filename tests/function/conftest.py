"""Fixtures for the handler tests: one moto server per session, one fresh table per test.

The handler runs unchanged against moto's DynamoDB over HTTP on 127.0.0.1. Its cached
client is created once for the session from the environment set here, and a botocore
hook on it records every DynamoDB operation it makes (checked against the role's
grant in infra/policies.py).
"""
from __future__ import annotations

import base64
import json
import logging
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
for path in (REPO_ROOT / "function", REPO_ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

# The variable the function reads its table name from: the contract with infra/, written
# down here rather than imported from the code under test.
TABLE_NAME_ENV = "TABLE_NAME"

# The handler checks TABLE_NAME when imported (Lambda's init); give that import a valid
# name, then leave the environment as it was. Each test points it at its own table.
with pytest.MonkeyPatch.context() as _init_env:
    _init_env.setenv(TABLE_NAME_ENV, "unset-User")
    from user_service import handler as handler_module  # noqa: E402
from user_service import store  # noqa: E402

REGION = "us-east-1"


# moto keeps its resources in process-wide state, shared with every other moto server
# this pytest process starts (other suites deploy a prod "User" table, for one). A
# moto account of our own keeps these tests and theirs out of each other's way.
ACCOUNT_ID = "111122223333"


class _OwnAccountAtomicRequests:
    """WSGI wrapper around this suite's moto server only.

    It puts every request in ACCOUNT_ID (moto's x-moto-account-id header) and lets one
    request run at a time: DynamoDB evaluates and applies a conditional write
    atomically per item, moto's threaded server does not (two conditional puts can
    both pass when threads interleave), so the concurrency tests would otherwise
    measure moto's races rather than the handler's logic.
    """

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = ACCOUNT_ID
        with self.lock:
            return self.app(environ, start_response)


@pytest.fixture(scope="session")
def moto_endpoint():
    """A moto server on a free port of 127.0.0.1, for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        # ThreadedMotoServer exposes no hook for its WSGI app; werkzeug's server looks
        # up `.app` per request, so wrapping it here affects this server alone.
        wsgi_server = server._server
        assert wsgi_server is not None and hasattr(wsgi_server, "app")
        wsgi_server.app = _OwnAccountAtomicRequests(wsgi_server.app)
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="package")
def aws_env(moto_endpoint, tmp_path_factory):
    """Fake credentials, the region and moto's endpoint, through the standard variables."""
    empty = tmp_path_factory.mktemp("aws") / "none"
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                     "AWS_ENDPOINT_URL_DYNAMODB"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_REGION", REGION)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        # Nothing from the machine's own AWS configuration may leak in.
        patch.setenv("AWS_CONFIG_FILE", str(empty))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
        yield moto_endpoint


@pytest.fixture(scope="package")
def handler_client(aws_env):
    """The handler's own cached client, made fresh from the test environment."""
    store.reset_client()
    client = store.client()
    assert client.meta.endpoint_url == aws_env, "the handler must use AWS_ENDPOINT_URL"
    yield client
    store.reset_client()


@pytest.fixture(scope="package")
def operation_log(handler_client) -> list[str]:
    """Every DynamoDB operation the handler's client calls, in order, for the session."""
    calls: list[str] = []

    def record(model, **_):
        calls.append(model.name)  # list.append is atomic: safe from many threads

    handler_client.meta.events.register("before-call.dynamodb", record)
    return calls


@pytest.fixture(scope="package")
def admin(aws_env):
    """A separate client for setting up and inspecting tables (not recorded)."""
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=aws_env)


def _create_users_table(admin_client, name: str) -> None:
    """The table as infra declares it: hash key id (S) only, on-demand billing."""
    admin_client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def use_table(monkeypatch):
    """use_table(name): the handler serves table `name`, configured through TABLE_NAME as
    a new container would be; the previous table is restored after the test."""
    previous = store.table_name()

    def point(name: str) -> None:
        monkeypatch.setenv(TABLE_NAME_ENV, name)
        store.configure()
    yield point
    store.configure({TABLE_NAME_ENV: previous})


@pytest.fixture
def table(admin, operation_log, use_table):
    """A fresh, empty users table under a name of its own; the handler is pointed at it."""
    name = f"t{uuid.uuid4().hex[:12]}-User"
    _create_users_table(admin, name)
    use_table(name)
    yield name
    admin.delete_table(TableName=name)


@pytest.fixture
def create_users_table(admin):
    """create_users_table(name): a users table with an exact name (e.g. prod's "User")."""
    return lambda name: _create_users_table(admin, name)


@pytest.fixture
def table_items(admin):
    """All items of a table, read with a consistent full scan, keyed by id."""
    def read(name: str) -> dict[str, dict]:
        items, kwargs = {}, {"TableName": name, "ConsistentRead": True}
        while True:
            page = admin.scan(**kwargs)
            items.update({item["id"]["S"]: item for item in page["Items"]})
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return read


def build_event(method: str, path: str, *, body: str | bytes | dict | None = None,
                headers: dict[str, str | list[str]] | None = None,
                query: dict[str, str | list[str]] | None = None, base64_body: bool = False,
                resource: str | None = "auto", path_parameters: dict | None | str = "auto",
                stage: str = "test", request_id: str | None = None) -> dict:
    """A REST API proxy event (payload format 1.0) as API Gateway sends it.

    `resource` and `pathParameters` are derived from the path the way the deployed API
    defines them (/users, /users/{id}; anything else reaches a /{proxy+} catch-all);
    pass resource=None to leave the key out. Dict bodies are sent as JSON; header and
    query values may be lists (repeated fields).
    """
    if isinstance(body, dict):
        body = json.dumps(body)
    if base64_body and body is not None:
        raw = body.encode() if isinstance(body, str) else body
        body = base64.b64encode(raw).decode()
    elif isinstance(body, bytes):
        body = body.decode()
    segments = path.strip("/").split("/")
    if resource == "auto":
        if path == "/users":
            resource, derived = "/users", None
        elif len(segments) == 2 and segments[0] == "users" and segments[1]:
            resource, derived = "/users/{id}", {"id": segments[1]}
        else:
            resource, derived = "/{proxy+}", {"proxy": path.lstrip("/")}
    else:
        derived = None
    if path_parameters == "auto":
        path_parameters = derived
    multi_headers = {k: v if isinstance(v, list) else [v] for k, v in (headers or {}).items()}
    multi_query = {k: v if isinstance(v, list) else [v] for k, v in (query or {}).items()}
    multi_headers.setdefault("Host", ["abc123.execute-api.us-east-1.amazonaws.com"])
    multi_headers.setdefault("User-Agent", ["pytest"])
    request_id = request_id or str(uuid.uuid4())
    now = time.time()
    event = {
        "httpMethod": method,
        "path": path,
        "pathParameters": path_parameters,
        "stageVariables": {"functionName": f"{stage}-user-service"},
        "headers": {k: v[-1] for k, v in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "body": body,
        "isBase64Encoded": base64_body,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "extendedRequestId": "Xyz=",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "pytest"},
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": "r1",
            "resourcePath": resource,
            "stage": stage,
        },
    }
    if resource is not None:
        event["resource"] = resource
    return event


class Context:
    """The attributes of the Lambda context object the handler may read."""
    aws_request_id = "c0ffee00-0000-4000-8000-000000000000"
    function_name = "test-user-service"


class Reply:
    """A handler response, with the JSON body parsed and case-insensitive headers."""

    def __init__(self, response: dict):
        self.raw = response
        self.status = response["statusCode"]
        self.headers = {k.lower(): v for k, v in response["headers"].items()}
        self.text = response["body"]
        self.json = json.loads(self.text) if self.text else None

    @property
    def message(self) -> str:
        return self.json["message"]

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.text[:300]!r})"


@pytest.fixture
def event():
    """The event builder: event(method, path, **options) -> proxy event dict."""
    return build_event


@pytest.fixture
def lambda_context():
    return Context()


@pytest.fixture
def call(table):
    """call(method, path, **build_event kwargs) -> Reply, through the real handler."""
    def invoke(method: str, path: str, **kwargs) -> Reply:
        return Reply(handler_module.handler(build_event(method, path, **kwargs), Context()))
    return invoke


JSON = {"Content-Type": "application/json"}


@pytest.fixture
def create(call):
    """Create a user through the API; returns its JSON representation."""
    def make(name: str = "Ada Lovelace", email: str = "ada@example.com") -> dict:
        reply = call("POST", "/users", body={"name": name, "email": email}, headers=JSON)
        assert reply.status == 201, reply
        return reply.json
    return make
