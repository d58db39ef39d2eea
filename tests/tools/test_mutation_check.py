"""tools/mutation_check.py: lines marked `# mutation: skip` are never mutated, and a stop
by SIGINT or SIGTERM kills the running test and removes the tool's copy of the checkout."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "mutation_check.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("mutation_check_under_test", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_line_marked_skip_gets_no_mutants_and_the_others_still_do():
    tool = load_tool()
    source = ('LIMITS = {\n'
              '    "Sid": "Named",  # mutation: skip\n'
              '    "Effect": "Allow",\n'
              '}\n')
    lines = {m.line for m in tool.mutants_of(source)}
    assert 3 in lines  # the unmarked element: its string changed, the element removed
    assert 2 not in lines
    unmarked = source.replace("  # mutation: skip", "")
    assert 2 in {m.line for m in tool.mutants_of(unmarked)}


def test_the_function_roles_statement_ids_are_not_mutated():
    # A Sid is an optional label, unique within the policy; IAM's decision never reads it
    # (IAM User Guide, "IAM JSON policy elements: Sid"), so its mutants cannot be caught.
    tool = load_tool()
    source = (TOOL.parents[1] / "infra" / "policies.py").read_text()
    lines = source.splitlines()
    mutated = {lines[m.line - 1].strip() for m in tool.mutants_of(source)}
    assert not [line for line in mutated if '"Sid": "XRayTraces"' in line
                or '"Sid": "UsersTable"' in line]


# A tiny checkout: a module with two mutants (`3 -> 4` on line 1, then `< -> <=` on line
# 3) and a test that catches the first at once, but on the second says so in a file
# (naming its own process) and then waits, so the tool is stopped while a test runs.
TINY = "LIMIT = 3\n\ndef small(n):\n    return n < LIMIT\n"
TINY_TEST = '''
import os
import time

import tiny


def test_small():
    if tiny.LIMIT == 3 and tiny.small(3):  # the second mutant: wait to be stopped
        with open(os.environ["TINY_READY"], "w") as ready:
            ready.write(str(os.getpid()))
        for _ in range(3600):
            time.sleep(1)
    assert tiny.small(2) and not tiny.small(3)
'''


def wait_for(predicate, what: str, proc: subprocess.Popen) -> None:
    """Wait for the tool to get somewhere; a bound only so that a broken tool cannot hang
    the suite (no speed is asserted)."""
    for _ in range(6000):
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"the tool ended before {what}: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail(f"the tool never reached {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_kills_the_running_test_removes_the_copy_and_says_how_far_it_got(
        tmp_path, signum):
    checkout = tmp_path / "checkout"
    (checkout / "tools").mkdir(parents=True)
    (checkout / "tests").mkdir()
    shutil.copy(TOOL, checkout / "tools" / "mutation_check.py")
    (checkout / "tiny.py").write_text(TINY)
    (checkout / "tests" / "test_tiny.py").write_text(TINY_TEST)
    scratch = tmp_path / "tmp"  # the tool's temporary directory, outside the checkout
    scratch.mkdir()
    ready = tmp_path / "ready"
    env = {**os.environ, "TMPDIR": str(scratch), "TINY_READY": str(ready)}
    proc = subprocess.Popen(
        [sys.executable, "tools/mutation_check.py", "tiny.py", "--tests", "tests/test_tiny.py"],
        cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    test_pid = None
    try:
        wait_for(lambda: ready.exists() and ready.read_text(), "the second mutant's test", proc)
        test_pid = int(ready.read_text())
        assert [p.name.startswith("mutation-") for p in scratch.iterdir()] == [True]
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if test_pid is not None and alive(test_pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(test_pid, signal.SIGKILL)
    assert proc.returncode == 128 + signum, (out, err)
    assert "Traceback" not in err, err
    assert list(scratch.iterdir()) == []
    assert not alive(test_pid)
    [stopped] = [line for line in out.splitlines() if line.startswith("stopped")]
    assert stopped.startswith(f"stopped by {signum.name}: 1 mutants run, 1 caught, "
                              "0 survived; the copy of the checkout (")
    assert stopped.endswith(") is removed")
