"""A log group AWS made before the stack declared it (Lambda creates /aws/lambda/{function}
on a function's first invocation, and keeps it after the function is gone): creating it
fails as on AWS, ResourceAlreadyExistsException, and the error says how to adopt it into
the stack, with the exact `pulumi import` for that resource under its component."""
from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from localcloud.kinds import DeployError

GROUP = "/aws/lambda/test-user-service"
# The engine's URN of test's UsersFunction component (a child of the root stack, whose type
# the engine leaves out): written down here, not computed.
COMPONENT = "urn:pulumi:test::user-service::user-service:compute:UsersFunction::test"


def test_a_log_group_that_exists_already_is_refused_with_the_import_that_adopts_it(
        running_cloud):
    cloud = running_cloud
    cloud.reset()
    cloud.deploy("dev")
    logs = cloud.cloud("test").client("logs")
    logs.create_log_group(logGroupName=GROUP)  # as an earlier function's first invocation

    with pytest.raises(DeployError) as refused:
        cloud.deploy("test")
    message = str(refused.value)
    assert message.startswith("aws:cloudwatch/logGroup:LogGroup 'test-logs': the emulator "
                              "refused it: An error occurred (ResourceAlreadyExistsException) "
                              "when calling the CreateLogGroup operation: The specified log "
                              "group already exists. ")
    assert (f"{GROUP} exists already, outside this stack (Lambda creates "
            "/aws/lambda/{function} when a function of that name is first invoked") in message
    assert ("On AWS, adopt it into the stack, then run the update again: `pulumi import "
            f"aws:cloudwatch/logGroup:LogGroup test-logs {GROUP} --parent 'parent={COMPONENT}'"
            " --protect=false --generate-code=false -s test` (the program declares it "
            "already: no code to add)") in message
    # The group is as it was: nothing of the stack's settings reached it.
    [group] = logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]
    assert "retentionInDays" not in group

    # The local cloud imports nothing: its own advice is to delete the group (then deploy
    # again), with the AWS CLI as its deployer.
    delete = message.split("on the local cloud, which imports nothing, delete it instead: `")[1]
    delete = delete.rstrip("`")
    assert shlex.split(delete)[-2:] == ["--log-group-name", GROUP]
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not on PATH: the local advice was not run")
    done = subprocess.run(["bash", "-c", delete], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"] == []
