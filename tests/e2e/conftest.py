"""The real program deployed into a local cloud on 127.0.0.1, reached over real HTTP."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from localcloud.session import LocalCloud


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def call(url: str, method: str = "GET", body: object = None, headers: dict | None = None,
         raw: bytes | None = None) -> Reply:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
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
    running_cloud.deploy_all()
    return running_cloud


@pytest.fixture
def url(cloud):
    return lambda stage, path="/users": f"{cloud.url}/{stage}{path}"


def create_user(url, stage: str, name: str = "Ada", email: str = "ada@example.com") -> dict:
    reply = call(url(stage), "POST", {"name": name, "email": email})
    assert reply.status == 201, reply.body
    return reply.json()
