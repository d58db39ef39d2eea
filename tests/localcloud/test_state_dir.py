"""The state directory: the local cloud writes, truncates and deletes there, so it uses
only a real directory and never follows a symbolic link inside it; what it refuses is
named in one line. An OSError that is not about a port does not talk of --port."""
from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.startup_bench import REPO_ROOT
from localcloud.atomic import UnsafePath
from localcloud.awslambda import archives
from localcloud.cli import run_command
from localcloud.engine.state import StateStore


def localcloud(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localcloud", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def refused(state_dir: Path, *command: str) -> str:
    """The one error line of a command refused before anything ran."""
    result = localcloud("--state-dir", str(state_dir), *command)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "--port" not in result.stderr
    return result.stderr


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """A directory outside the state directory, holding a file nobody may touch."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    return other


def untouched(other: Path) -> bool:
    return sorted(p.name for p in other.iterdir()) == ["keep.txt"] \
        and (other / "keep.txt").read_text() == "mine"


UP = ("up", "--port", "0", "--no-serve")


def test_a_state_dir_that_is_a_file_is_named(tmp_path):
    state = tmp_path / ".localcloud"
    state.write_text("not a directory")
    for command in (UP, ("deploy", "dev")):
        message = refused(state, *command)
        assert f"{state} is a file, but the local cloud keeps its state in a directory " \
               "there: move the file away" in message
    assert state.read_text() == "not a directory"


def test_a_state_dir_that_is_a_link_is_refused_and_its_target_kept(tmp_path, elsewhere):
    state = tmp_path / ".localcloud"
    state.symlink_to(elsewhere)
    for command in (UP, ("deploy", "dev")):
        message = refused(state, *command)
        assert f"{state} is a symbolic link (to {elsewhere}); the local cloud deletes what " \
               "its state directory holds at every start" in message
    assert untouched(elsewhere)


@pytest.mark.parametrize("inside", ["up.lock", "session.json", "stacks", "archives/old.zip"])
def test_a_link_inside_the_state_dir_is_named_and_never_followed(tmp_path, elsewhere, inside):
    state = tmp_path / ".localcloud"
    link = state / inside
    link.parent.mkdir(parents=True)
    link.symlink_to(elsewhere / "keep.txt" if inside != "stacks" else elsewhere)
    for command in (UP, ("deploy", "dev")):
        message = refused(state, *command)
        assert f"{link} is a symbolic link (to " in message
        assert f"remove the link (`rm {link}`)" in message
    assert link.is_symlink() and untouched(elsewhere)


def test_state_files_are_never_written_through_a_linked_directory(tmp_path, elsewhere):
    store = StateStore(tmp_path / "state")
    store.dir.mkdir()
    (store.dir / "config").symlink_to(elsewhere)
    with pytest.raises(UnsafePath, match=f"{store.dir / 'config'} is a symbolic link"):
        store.save_config_overrides("prod", {"user-service:promotedCodeHash": "abc"})
    (store.dir / "archives").symlink_to(elsewhere)
    with pytest.raises(UnsafePath, match=f"{store.dir / 'archives'} is a symbolic link"):
        archives.save_archive(store.dir, b"PK\x05\x06" + bytes(18))
    store.dir.rename(tmp_path / "moved")
    (tmp_path / "state").symlink_to(elsewhere)
    with pytest.raises(UnsafePath, match=f"{store.dir} is a symbolic link"):
        store.save_config_overrides("prod", {})
    assert untouched(elsewhere)


def fails_with(error: BaseException, capsys) -> str:
    def command() -> int:
        raise error
    assert run_command(command) == 1
    return capsys.readouterr().err


def test_an_os_error_says_what_and_where_and_only_a_taken_port_mentions_port(capsys):
    message = fails_with(OSError(errno.ENOTDIR, "Not a directory", "/w/.localcloud/stacks"),
                         capsys)
    assert message == "error: /w/.localcloud/stacks: Not a directory\n"
    message = fails_with(PermissionError(errno.EACCES, "Permission denied", "/w/a", None, "/w/b"),
                         capsys)
    assert message == "error: /w/a and /w/b: Permission denied\n"
    message = fails_with(OSError(errno.EADDRINUSE, "Address already in use"), capsys)
    assert message.startswith("error: Address already in use; a port is in use: pass "
                              "another with --port N")
