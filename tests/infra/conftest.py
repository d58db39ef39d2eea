"""Run the real program for every real stack file under realistic mocks."""
from __future__ import annotations

import pytest

from localcloud.engine.program import ProgramRun, run_program
from localcloud.engine.stackfiles import read_stack_config
from tests.infra.mocks import AwsMocks

OWNER_STACK = "dev"
STACKS = ("dev", "test", "prod")


def deploy_stacks(stacks=STACKS, overrides: dict[str, dict[str, str]] | None = None
                  ) -> dict[str, ProgramRun]:
    """Run the owner stack first, then the others with StackReference answered from the
    owner's real outputs, as `pulumi up -s dev` then `-s test`, `-s prod` would."""
    overrides = overrides or {}
    runs: dict[str, ProgramRun] = {}
    owner = run_program(OWNER_STACK, AwsMocks(), {**read_stack_config(OWNER_STACK),
                                                  **overrides.get(OWNER_STACK, {})})
    references = {OWNER_STACK: owner.outputs}
    for stack in stacks:
        runs[stack] = owner if stack == OWNER_STACK else run_program(
            stack, AwsMocks(references),
            {**read_stack_config(stack), **overrides.get(stack, {})})
    return runs


@pytest.fixture(scope="session")
def runs() -> dict[str, ProgramRun]:
    return deploy_stacks()


@pytest.fixture(params=STACKS)
def run(request, runs) -> ProgramRun:
    return runs[request.param]
