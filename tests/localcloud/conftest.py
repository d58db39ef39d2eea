"""Fixtures for the local-cloud tests: one emulator, invoker and gateway per session.

Everything listens on 127.0.0.1 on free ports and is stopped at the end of the session.
"""
from __future__ import annotations

import pytest

from localcloud.emulator import Emulator
from localcloud.apigateway.gateway import Gateway
from localcloud.awslambda.invoker import Invoker


@pytest.fixture(scope="session")
def emulator():
    with Emulator(port=0) as emu:
        yield emu


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("localcloud-state")


@pytest.fixture(scope="session")
def invoker(emulator, state_dir, tmp_path_factory):
    with Invoker(emulator.endpoint_url, state_dir,
                 work_dir=tmp_path_factory.mktemp("localcloud-work")) as inv:
        yield inv


@pytest.fixture(scope="session")
def gateway(emulator, state_dir, invoker):
    with Gateway(emulator.endpoint_url, state_dir, invoker, port=0) as gw:
        yield gw


@pytest.fixture(scope="session")
def running_up(tmp_path_factory):
    """`python -m localcloud up` of this checkout, serving on free ports with its own state
    directory, as another process (as a user runs it); stopped at the end."""
    from benchmarks.startup_bench import REPO_ROOT, RunningCloud

    state_dir = tmp_path_factory.mktemp("running-up")
    run = RunningCloud.up(REPO_ROOT, state_dir)
    try:
        run.wait_serving()
        run.state_dir = state_dir
        yield run
    finally:
        run.stop()
