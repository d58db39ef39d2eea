"""What the local cloud's stand-in for the AWS provider is made of: the emulator it
deploys into (`Cloud`), the error a deploy step raises, and `Kind`, the create, read
(`exists`), update and delete of one resource type. Each AWS service's package holds its own kinds
(``localcloud/<service>/resources.py``); `localcloud.engine.registry` collects them.

Each kind receives the resolved inputs (camelCase keys, as the engine hands them to a
provider) and returns the resource's id and its provider-computed outputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from botocore.exceptions import ClientError

from botocore.credentials import Credentials

from localcloud.emulator import make_client


class DeployError(Exception):
    """A deploy step that cannot be done; the message says what and how to fix it."""


@dataclass
class Cloud:
    """What every kind needs: the emulator, the state directory, the served gateway, and
    whom to sign as (None: the local cloud itself, in the process that runs the emulator;
    from another process, its deployer)."""
    endpoint_url: str
    region: str
    account_id: str
    state_dir: Path
    gateway_url: str
    credentials: Credentials | None = None

    def __post_init__(self) -> None:
        self._clients: dict[str, object] = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = make_client(service, self.endpoint_url, self.region,
                                                 self.credentials)
        return self._clients[service]


def tags_of(inputs: dict) -> dict[str, str]:
    return dict(inputs.get("tags") or {})


def archive_files(code) -> dict[str, bytes]:
    """The files of a pulumi.AssetArchive of FileAssets, by archive path."""
    return {name: Path(asset.path).read_bytes() for name, asset in code.assets.items()}


def error_code(err) -> str:
    """The AWS error code of a botocore ClientError ("" if it has none)."""
    return err.response.get("Error", {}).get("Code", "")


def found(read: Callable[[], object], *not_found: str) -> bool:
    """Whether a read finds its resource: False when the emulator answers with one of the
    `not_found` error codes, True when the read succeeds (any other error is raised)."""
    try:
        read()
    except ClientError as err:
        if error_code(err) in not_found:
            return False
        raise
    return True


def patch_value(value) -> str:
    """A patch operation's text: numbers arrive as floats from the engine."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Kind:
    """A resource type. `replace_on` lists the inputs that cannot change in place."""
    replace_on: tuple[str, ...] = ()

    def create(self, cloud: Cloud, name: str, i: dict) -> tuple[str, dict]:
        raise NotImplementedError

    def exists(self, cloud: Cloud, id_: str, i: dict) -> bool:
        """Whether the emulator still has the resource the last deploy recorded (its id and
        inputs): the engine's refresh drops what it no longer has from the state, so the
        deploy creates it again. A cheap read, as the provider's Read."""
        raise NotImplementedError

    def update(self, cloud: Cloud, id_: str, old: dict, i: dict) -> dict:
        # Most kinds here apply a change by declaring the same thing again.
        self.delete(cloud, id_, old)
        return self.create(cloud, "", i)[1]

    def delete(self, cloud: Cloud, id_: str, i: dict) -> None:
        raise NotImplementedError

    def needs_replace(self, old: dict, new: dict) -> bool:
        return any(old.get(k) != new.get(k) for k in self.replace_on)

    def import_id(self, i: dict) -> str | None:
        """The id `pulumi import` adopts this resource by, when AWS refuses to create it
        because it exists already (None: this kind suggests no import)."""
        return None
