"""The mocks answer like the engine, so the wiring tests mean something."""
from __future__ import annotations

import subprocess
import sys

import pytest

from localcloud.engine.stackfiles import REPO_ROOT, StackFileError, known_stacks, read_stack_config


def test_a_stack_reference_to_an_unknown_stack_fails_like_the_engine():
    # In its own process: the failed run leaves futures whose error asyncio prints when
    # the interpreter ends.
    script = ("from localcloud.engine.program import run_program\n"
              "from localcloud.engine.stackfiles import read_stack_config\n"
              "from tests.infra.mocks import AwsMocks\n"
              "try:\n"
              "    run_program('test', AwsMocks({}), read_stack_config('test'))\n"
              "except Exception as err:\n"
              "    print('refused:', err)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert "refused: unknown stack reference 'dev'" in done.stdout, done.stdout + done.stderr


def test_ids_and_arns_look_like_aws(runs):
    dev = runs["dev"]
    api = dev.one("aws:apigateway/restApi:RestApi")
    assert len(api.id) == 10 and api.id.isalnum() and api.id.islower()
    assert api.outputs["executionArn"] == f"arn:aws:execute-api:us-east-1:123456789012:{api.id}"
    function = dev.one("aws:lambda/function:Function")
    assert function.outputs["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:dev-user-service"
    deployments = {runs[s].outputs["deploymentId"] for s in runs}
    assert len(deployments) == 3  # every stack owns its own Deployment


def test_unknown_stack_file_lists_the_known_ones():
    with pytest.raises(StackFileError, match=f"known stacks: {', '.join(known_stacks())}$"):
        read_stack_config("no-such-stack")
