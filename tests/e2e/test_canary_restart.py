"""The pins survive a restart of the local cloud during a bake: the tool dies mid-bake, the
local cloud is stopped and started again (an empty emulator), and prod's pins, canary pin
and history are still in its config; status says what happened and what to run, abort
records it, and a promotion works again.

Its own local cloud, in its own state directory (moto's backends are per process: this
module's start resets them, so it runs apart from the shared cloud's modules' state, which
each module deploys afresh anyway)."""
from __future__ import annotations

import json

import pytest

from localcloud.session import LocalCloud
from promotion import commands
from promotion.backends import BackendError
from promotion.bake import BakeSettings
from promotion.decisions import CANARY_KEYS, HISTORY, PIN_KEYS
from promotion.health import Thresholds
from promotion.local_backend import LocalBackend
from tests.e2e.conftest import UNTHROTTLED
from tests.e2e.test_promotion import checkout  # noqa: F401


def start(state_dir) -> LocalCloud:
    cloud = LocalCloud(state_dir, gateway_port=0).start()
    return cloud


def test_the_pins_survive_a_restart_of_the_local_cloud_during_a_bake(tmp_path, checkout):  # noqa: F811
    state_dir = tmp_path / "state"
    notes: list[str] = []
    first = start(state_dir)
    try:
        for stack in ("dev", "test", "prod"):
            first.store.save_config_overrides(stack, UNTHROTTLED)
        first.deploy_all()
        backend = LocalBackend(first.store, first.cloud, report=lambda line: None)
        checkout("before-restart")
        first.deploy("test")
        commands.promote(backend, "test", "prod", report=lambda line: None)
        checkout("candidate")
        first.deploy("test")

        def the_tool_dies(seconds: float) -> None:
            raise KeyboardInterrupt
        options = commands.CanaryOptions("10", BakeSettings(600.0, Thresholds(1.0, 20)))
        with pytest.raises(BackendError, match="the bake was interrupted"):
            commands.promote(backend, "test", "prod", canary=options, report=lambda line: None,
                             clock=lambda: 0.0, pause=the_tool_dies)
        during = first.store.config_overrides("prod")
        assert set(CANARY_KEYS) <= set(during) and set(PIN_KEYS) <= set(during)
    finally:
        first.stop()

    second = start(state_dir)
    try:
        # What promotion wrote is kept, as a stack file is on AWS; the rest is not.
        assert second.store.config_overrides("prod") == {
            key: value for key, value in during.items() if key not in UNTHROTTLED}
        second.deploy_all(on_note=notes.append)
        [note] = notes
        assert note.startswith("prod: its pins in ") and "which this local cloud does not " \
            "have (it started empty): it serves its own checkout. The pins are kept" in note
        backend = LocalBackend(second.store, second.cloud, report=lambda line: None)
        lines: list[str] = []
        commands.canary_status(backend, "prod", Thresholds(1.0, 20), report=lines.append)
        assert lines[0].startswith("a canary release runs on prod: deployment ")
        assert "but prod's stage carries no canary settings" in lines[1]
        assert "`python -m promotion canary abort --stack prod --local`" in lines[1]

        commands.abort_canary(backend, "prod", "the local cloud restarted", report=lines.append)
        assert any("nothing of the canary was deployed, so prod was not updated" in line
                   for line in lines)
        after = second.store.config_overrides("prod")
        assert not set(CANARY_KEYS) & set(after)
        history = json.loads(after[HISTORY])
        assert history[-1]["action"] == "canary-aborted"
        assert history[-1]["reason"] == "the local cloud restarted"
        # Promoting works again, on this cloud's own deployments.
        commands.promote(backend, "test", "prod", report=lambda line: None)
        assert second.store.load("prod").outputs["codeHash"] == \
            second.store.load("test").outputs["codeHash"]
    finally:
        second.stop()
