"""The real program deployed into a local cloud on 127.0.0.1, reached over real HTTP.

Every method requires SigV4, so `call` signs as the local caller of the stage it calls
(the profile named after the stage in the cloud's credentials file), unless told to sign
as another (`sign="prod"`, or `sign=(key id, secret)`) or not at all (`sign=False`).
"""
from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from unittest import mock
from urllib.parse import urlsplit

import botocore.auth
import pytest
import requests
from botocore.credentials import Credentials

from infra.signing import signed_headers, sigv4_url
from localcloud.iam.callers import stage_credentials
from localcloud.engine.stackfiles import known_stacks
from localcloud.session import LocalCloud

# Gateway base URL -> the running cloud's state directory (where the profiles are).
_STATE_DIRS: dict[str, object] = {}
REGION = "us-east-1"
UNTHROTTLED = {"user-service:throttlingRateLimit": "10000",
               "user-service:throttlingBurstLimit": "5000"}


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def profile(url: str, name: str) -> Credentials:
    """The credentials of a stage's local caller, as the cloud serving `url` wrote them."""
    base = next(b for b in _STATE_DIRS if url.startswith(b))
    credentials = stage_credentials(_STATE_DIRS[base], name)
    assert credentials is not None, f"no profile {name!r} in the cloud's credentials file"
    return credentials


def signed_at_time(url: str, method: str, data: bytes | None, headers: dict,
                   credentials: Credentials, signed_at: datetime.datetime | None) -> dict:
    """Signed as at `signed_at` (botocore reads the time from get_current_datetime)."""
    now = signed_at or datetime.datetime.now(datetime.timezone.utc)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=now):
        return signed_headers(url, credentials, REGION, method, data, headers)


def call(url: str, method: str = "GET", body: object = None, headers: dict | None = None,
         raw: bytes | None = None, *, sign: bool | str | tuple[str, str] = True,
         tamper: bytes | None = None, signed_at: datetime.datetime | None = None) -> Reply:
    """One request over HTTP; `tamper` replaces the body after it was signed."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    if sign is not False:
        if isinstance(sign, tuple):
            credentials = Credentials(*sign)
        else:
            credentials = profile(url, urlsplit(url).path.split("/")[1] if sign is True else sign)
        url = sigv4_url(url)
        headers = signed_at_time(url, method, data, headers, credentials, signed_at)
    if tamper is not None:
        data = tamper
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())


@pytest.fixture(scope="session")
def running_cloud(tmp_path_factory):
    with LocalCloud(tmp_path_factory.mktemp("state"), gateway_port=0) as local:
        yield local


@pytest.fixture(scope="module")
def cloud(running_cloud):
    """Every stack freshly deployed for each test module (they change stacks, config and
    pins); the emulator, gateway and invoker are started once."""
    running_cloud.reset()
    for stack in known_stacks():
        # The suite sends requests faster than the shipped stage limits (dev: 10 per
        # second); throttling itself is tested in tests/localcloud/test_throttling.py.
        running_cloud.store.save_config_overrides(stack, UNTHROTTLED)
    running_cloud.deploy_all()
    _STATE_DIRS[running_cloud.url] = running_cloud.store.dir
    return running_cloud


@pytest.fixture
def url(cloud):
    return lambda stage, path="/users": f"{cloud.url}/{stage}{path}"


def create_user(url, stage: str, name: str = "Ada", email: str = "ada@example.com") -> dict:
    reply = call(url(stage), "POST", {"name": name, "email": email})
    assert reply.status == 201, reply.body
    return reply.json()


class SigV4(requests.auth.AuthBase):
    """requests' auth that signs as a stage's local caller (for schemathesis' calls)."""

    def __init__(self, cloud: LocalCloud, stage: str) -> None:
        self.url, self.stage = cloud.url, stage

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        # requests leaves some characters (e.g. `!`) unencoded in the query; send exactly
        # what is signed.
        prepared.url = sigv4_url(prepared.url)
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        headers = {k: v for k, v in prepared.headers.items()
                   if k.lower() not in ("authorization", "x-amz-date")}
        prepared.headers.update(signed_headers(prepared.url, profile(self.url, self.stage),
                                               REGION, prepared.method, body, headers))
        return prepared
