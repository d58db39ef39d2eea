"""A promotion whose update of prod fails at a step, on the local cloud: its engine says it
began a step, so nothing is claimed of what prod serves until an update finishes; when
putting the previous pins back fails too, the message gives the commands that ask the
emulator what prod serves, and they work."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from localcloud.engine.registry import KINDS
from localcloud.kinds import DeployError
from promotion import commands, local_backend
from promotion.backends import BackendError
from promotion.local_backend import LocalBackend

STAGE = "aws:apigateway/stage:Stage"


def test_a_step_that_fails_is_not_taken_for_nothing_changed(cloud, monkeypatch):
    cloud.deploy("test", {"user-service:logRetentionDays": "30"})
    backend = LocalBackend(cloud.store, cloud.cloud, report=lambda line: None)
    failing = {"left": 1}

    def refused_once(kind_update):
        def update(*args, **kwargs):
            if failing["left"]:
                failing["left"] -= 1
                raise DeployError("ConflictException: the stage is being updated")
            return kind_update(*args, **kwargs)
        return update
    monkeypatch.setattr(KINDS[STAGE], "update", refused_once(KINDS[STAGE].update))
    with pytest.raises(BackendError) as failed:
        commands.promote(backend, "test", "prod", report=lambda line: None)
    message = str(failed.value)
    # Steps before the stage's completed: it failed partway.
    assert message.startswith("the update of prod failed partway (ConflictException: the stage "
                              "is being updated; the local cloud's engine began ")
    assert "; its state records what completed)" in message
    # Promoting a stage pins it, and a pinned stage gets its canary log groups first.
    assert "began 3 steps, the first: create aws:cloudwatch/logGroup:LogGroup " in message
    assert "serves what it served" not in message
    # Putting the previous pins back finished, and its smoke check says the rest.
    assert ("; it was rolled back to its previous pins (deployment "
            in message and ") and its smoke check passes (GET " in message)


def test_when_putting_back_fails_too_it_says_how_to_ask_what_prod_serves(cloud, monkeypatch):
    cloud.deploy("test", {"user-service:logRetentionDays": "30"})
    before = cloud.store.load("prod").outputs
    backend = LocalBackend(cloud.store, cloud.cloud, report=lambda line: None)

    def refused(*args, **kwargs):
        raise DeployError("ConflictException: the stage is being updated")
    monkeypatch.setattr(KINDS[STAGE], "update", refused)
    deploy, calls = local_backend.deploy_stack, []

    def emulator_gone_the_second_time(stack, cloud_, store, on_step=None, **kwargs):
        calls.append(stack)
        if len(calls) == 1:  # the promotion's update: the real engine, failing at the stage
            return deploy(stack, cloud_, store, on_step=on_step, **kwargs)
        on_step("change", STAGE, "prod-stage")  # putting back: cut short at its first step
        raise ConnectionError("the emulator went away")
    monkeypatch.setattr(local_backend, "deploy_stack", emulator_gone_the_second_time)
    with pytest.raises(BackendError) as failed:
        commands.promote(backend, "test", "prod", skip_smoke=True, report=lambda line: None)
    message = str(failed.value)
    assert calls == ["prod", "prod"]
    assert "putting back its previous pins (" in message and \
        "failed too (the emulator went away); what prod serves now is not known: `" in message
    assert "rolled back" not in message and "serves what it served" not in message

    # The commands it gives, run as given (the AWS CLI, as the local cloud's deployer).
    hint = message.split("what prod serves now is not known: ")[1]
    get_stage, get_alias = hint.split("`")[1], hint.split("`")[3]
    assert get_stage.endswith(f"apigateway get-stage --rest-api-id {before['restApiId']} "
                              "--stage-name prod")
    assert get_alias.endswith("lambda get-alias --function-name user-service --name live")
    assert "python -m promotion history --stack prod --local" in hint
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not on PATH: the commands were not run")
    stage = cloud.cloud("prod").client("apigateway").get_stage(
        restApiId=before["restApiId"], stageName="prod")
    alias = cloud.cloud("prod").client("lambda").get_alias(FunctionName="user-service",
                                                           Name="live")
    for command, key, expected in ((get_stage, "deploymentId", stage["deploymentId"]),
                                   (get_alias, "FunctionVersion", alias["FunctionVersion"])):
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)[key] == expected
