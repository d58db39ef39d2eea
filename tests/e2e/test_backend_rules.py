"""The local cloud is a local backend: it runs the program in the DIY backend's
organization and resolves stack references by the DIY backend's rules."""
from __future__ import annotations

import subprocess
import sys

import pytest

from infra.config import ConfigError
from localcloud.engine.stackfiles import REPO_ROOT
from tests.e2e.conftest import call


def test_the_shipped_references_resolve_fully_qualified_in_the_organization(cloud, url):
    # `apiStack: dev` became organization/user-service/dev, and it resolved: test serves.
    assert call(url("test")).status == 200
    spelled_out = cloud.deploy("test", {"user-service:apiStack": "organization/user-service/dev"})
    assert set(spelled_out.counts()) == {"unchanged"}  # the very same owner


def test_another_organization_is_refused_before_anything_is_declared(cloud, url):
    before = cloud.store.load("test")
    with pytest.raises(ConfigError) as refused:
        cloud.deploy("test", {"user-service:apiStack": "acme/user-service/dev"})
    message = str(refused.value)
    assert "user-service:apiStack is 'acme/user-service/dev'" in message
    assert "\"organization name must be 'organization'\"" in message
    assert cloud.store.load("test") == before
    assert call(url("test")).status == 200


def test_a_stack_that_does_not_exist_is_the_backends_unknown_stack(cloud):
    # In its own process: the failed run leaves futures whose error asyncio prints when
    # the interpreter ends. It signs as the local cloud's deployer, as another process must.
    script = ("import sys\n"
              "from pathlib import Path\n"
              "from localcloud.engine.deployer import deploy_stack\n"
              "from localcloud.engine.state import StateStore\n"
              "from localcloud.iam.callers import stage_credentials\n"
              "from localcloud.session import cloud_for\n"
              "store = StateStore(Path(sys.argv[1]))\n"
              "deployer = stage_credentials(store.dir, 'deployer')\n"
              "try:\n"
              "    deploy_stack('test', cloud_for('test', store.load_session(), store, deployer),\n"
              "                 store, {'user-service:apiStack': 'qa'})\n"
              "except Exception as err:\n"
              "    print(f'refused {type(err).__name__}: {err}')\n")
    done = subprocess.run([sys.executable, "-c", script, str(cloud.store.dir)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == ("refused DeployError: stack reference "
                                   "'organization/user-service/qa': unknown stack "
                                   '"organization/user-service/qa"'), done.stdout + done.stderr


def test_a_traced_stage_runs_an_actively_traced_function(cloud):
    lambdas = cloud.cloud("test").client("lambda")
    assert lambdas.get_function_configuration(
        FunctionName="test-user-service")["TracingConfig"] == {"Mode": "Active"}
    assert lambdas.get_function_configuration(
        FunctionName="dev-user-service")["TracingConfig"] == {"Mode": "PassThrough"}
