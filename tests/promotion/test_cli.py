"""Bad command lines and unreachable stacks get a clear message, never a traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest

from localcloud.engine.stackfiles import REPO_ROOT, known_stacks


def run(*args: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


@pytest.mark.parametrize("args,code,message", [
    (("promotion", "promote", "--from", "test", "--to", "no-such-stack"), 2,
     f"unknown stack 'no-such-stack'; known stacks: {', '.join(known_stacks())}"),
    (("promotion", "rollback"), 2, "the following arguments are required: --stack"),
    (("promotion", "history", "--stack", "prod"), 1, "the Pulumi CLI is not on PATH; install it"),
    (("promotion", "rollback", "--stack", "prod", "--to"), 2, "--to: expected one argument"),
    # One identity signs every smoke check, or none is sent: not both.
    (("promotion", "promote", "--from", "test", "--to", "prod", "--skip-smoke",
      "--smoke-profile", "ops"), 2, "argument --smoke-profile: not allowed with argument "
                                    "--skip-smoke"),
    (("promotion", "rollback", "--stack", "prod", "--smoke-profile", " "), 2,
     "argument --smoke-profile: a profile name cannot be empty"),
    (("promotion", "history", "--stack", "prod", "--smoke-profile", "ops"), 2,
     "unrecognized arguments: --smoke-profile ops"),  # history sends no smoke check
    (("localcloud", "up", "--port", "http"), 2, "'http' is not a port number"),
])
def test_bad_arguments_and_missing_tools(tmp_path, args, code, message):
    result = run(*args, tmp_path=tmp_path)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_local_commands_without_a_running_local_cloud(tmp_path):
    for args in (("promotion", "history", "--stack", "prod", "--local", "--state-dir", str(tmp_path)),
                 ("localcloud", "--state-dir", str(tmp_path), "deploy", "test")):
        result = run(*args, tmp_path=tmp_path)
        assert result.returncode == 1
        assert "no local cloud is running; start one with `python3 tasks.py run`" in result.stderr
        assert "Traceback" not in result.stderr
