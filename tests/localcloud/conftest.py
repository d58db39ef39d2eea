"""Fixtures for the local-cloud tests: one emulator, invoker and gateway per session.

Everything listens on 127.0.0.1 on free ports and is stopped at the end of the session.
"""
from __future__ import annotations

import pytest

from localcloud.emulator import Emulator
from localcloud.apigateway.gateway import Gateway
from localcloud.awslambda.invoker import Invoker
from localcloud.awslambda.qualified_policies import remove_permissions_per_qualifier
from localcloud.apigateway.canary_store import keep_canary_settings_as_api_gateway_does
from localcloud.apigateway.domain_store import keep_domain_mappings_as_api_gateway_does
from localcloud.awslambda.versions import number_versions_as_lambda_does


@pytest.fixture(scope="session")
def emulator():
    number_versions_as_lambda_does()  # as the local cloud does before it starts moto
    keep_domain_mappings_as_api_gateway_does()
    keep_canary_settings_as_api_gateway_does()
    remove_permissions_per_qualifier()
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
    """`python -m localcloud up` as a user runs it, in another process, serving on free
    ports with its own state directory; stopped at the end. It runs a copy of this
    checkout with only the dev stack (quicker to start; the API owner serves alone)."""
    from benchmarks.startup_bench import RunningCloud, copy_checkout

    checkout = copy_checkout(tmp_path_factory.mktemp("running-up"), stacks=("dev",))
    state_dir = checkout / "state"
    run = RunningCloud.up(checkout, state_dir)
    try:
        run.wait_serving()
        run.checkout, run.state_dir = checkout, state_dir
        yield run
    finally:
        run.stop()
