"""Run the real program for every real stack file under realistic mocks, on each backend
model (Pulumi Cloud, DIY) and in each partition (aws, aws-us-gov, aws-cn)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest

from localcloud.engine.program import ProgramRun, run_program
from localcloud.engine.stackfiles import project_name, read_stack_config
from tests.infra.mocks import DIY, PULUMI_CLOUD, Account, AwsMocks, BackendModel

OWNER_STACK = "dev"
STACKS = ("dev", "test", "prod")


@dataclass(frozen=True)
class World:
    """Where the stacks are deployed: a backend, and a region with its partition and DNS
    suffix written down here (from botocore's partitions.json), not computed."""
    backend: BackendModel
    region: str
    partition: str
    dns_suffix: str

    @property
    def organization(self) -> str:
        return self.backend.organization

    def stack_name(self, stack: str) -> str:
        """The fully qualified name the backend knows the stack by."""
        return f"{self.organization}/{project_name()}/{stack}"

    def __str__(self) -> str:
        return f"{self.backend.name}-{self.region}"


REGIONS = (("us-east-1", "aws", "amazonaws.com"),
           ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
           ("cn-north-1", "aws-cn", "amazonaws.com.cn"))
WORLDS = tuple(World(backend, *region) for region in REGIONS for backend in (PULUMI_CLOUD, DIY))
# The shipped stack files' region, on Pulumi Cloud.
HOME = WORLDS[0]


def run_stack(stack: str, world: World = HOME, stacks: dict[str, dict] | None = None,
              overrides: dict[str, str] | None = None, account: Account | None = None,
              mocks_class: type[AwsMocks] = AwsMocks) -> ProgramRun:
    """One stack's program in `world`, with `stacks` the other stacks that exist there
    (a plain name is in the world's organization and this project), as the backend would
    resolve references to them, updating `account` (a new, empty one by default)."""
    values = {**read_stack_config(stack), "aws:region": world.region, **(overrides or {})}
    existing = {name if "/" in name else world.stack_name(name): outputs
                for name, outputs in (stacks or {}).items()}
    return run_program(stack, mocks_class(world.backend, existing, account), values,
                       organization=world.organization)


def deploy_stacks(stacks=STACKS, overrides: dict[str, dict[str, str]] | None = None,
                  world: World = HOME, account: Account | None = None) -> dict[str, ProgramRun]:
    """Run the owner stack first, then the others with StackReference answered from the
    owner's real outputs, as `pulumi up -s dev` then `-s test`, `-s prod` would, all in
    one account (`account`, to go on from an earlier deploy, or a new one)."""
    overrides = overrides or {}
    account = account if account is not None else Account()
    runs: dict[str, ProgramRun] = {}
    owner = run_stack(OWNER_STACK, world, overrides=overrides.get(OWNER_STACK), account=account)
    references = {OWNER_STACK: owner.outputs}
    for stack in stacks:
        runs[stack] = owner if stack == OWNER_STACK else run_stack(
            stack, world, references, overrides.get(stack), account)
    return runs


def artifacts_bucket(world: World = HOME) -> str:
    """The owner's artifacts bucket in `world`, written down here."""
    return f"user-service-artifacts-123456789012-{world.region}"


def with_archives(*archives: bytes, world: World = HOME,
                  account: Account | None = None) -> Account:
    """An account whose artifacts bucket already holds these archives, each under the key
    the program gives an archive (archives/<SHA-256 of its bytes>.zip), as an earlier
    update of some stage left them."""
    account = account if account is not None else Account()
    for body in archives:
        account.put_object(artifacts_bucket(world),
                           f"archives/{hashlib.sha256(body).hexdigest()}.zip", body)
    return account


@pytest.fixture(scope="session", params=WORLDS, ids=str)
def world(request) -> World:
    return request.param


@pytest.fixture(scope="session")
def runs(world) -> dict[str, ProgramRun]:
    return deploy_stacks(world=world)


@pytest.fixture(params=STACKS)
def run(request, runs) -> ProgramRun:
    return runs[request.param]
