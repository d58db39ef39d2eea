"""The README's `pulumi import` of each stack's function log group is the one the engine
would take for the resource the program declares: its logical name, its id (the group's
name), its parent component's URN and its protection (facts B)."""
from __future__ import annotations

from localcloud.engine.deployer import import_command
from tests.infra.conftest import STACKS, deploy_stacks
from localcloud.engine.stackfiles import REPO_ROOT

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def test_the_readme_adopts_each_stacks_function_log_group_as_the_program_declares_it():
    readme = (REPO_ROOT / "README.md").read_text()
    written = [line for line in readme.splitlines()
               if line.startswith(f"pulumi import {LOG_GROUP} ")]
    expected = []
    for stack, run in deploy_stacks().items():
        [group] = [r for r in run.of_type(LOG_GROUP)
                   if r.inputs["name"] == f"/aws/lambda/{run.outputs['functionName']}"]
        expected.append(import_command(LOG_GROUP, group.name, group.inputs["name"],
                                       group.options.parent, group.options.protect, stack))
    assert written == expected
    assert len(written) == len(STACKS)
