"""The local cloud's state store: per stack, what the last deploy declared (as Pulumi's
state file would hold it) and the stack's outputs, plus the running session's address.

Files are JSON under the state directory, written atomically. The directory's lock file
(``up.lock``) says which process runs the local cloud that the state describes.

The local cloud writes, truncates and deletes what the directory holds, so it must be a
real directory with no symbolic link inside (`check_state_dir`): a link would point those
at files elsewhere.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from localcloud.atomic import UnsafePath, link_message, write_atomic

LOCK_ATTEMPTS = 10  # 0.2 s in all
DEFAULT_STATE_DIR = Path(__file__).resolve().parents[2] / ".localcloud"


@dataclass
class ResourceRecord:
    type: str
    name: str
    id: str
    inputs: dict            # normalized: JSON-safe, archives replaced by their hashes
    outputs: dict
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False

    @property
    def key(self) -> str:
        return resource_key(self.type, self.name)


def resource_key(type_: str, name: str) -> str:
    return f"{type_}::{name}"


@dataclass
class StackState:
    stack: str
    outputs: dict = field(default_factory=dict)
    resources: list[ResourceRecord] = field(default_factory=list)  # in declaration order

    def by_key(self) -> dict[str, ResourceRecord]:
        return {r.key: r for r in self.resources}


@dataclass(frozen=True)
class Session:
    """Where a running `python -m localcloud up` can be reached."""
    endpoint_url: str
    gateway_url: str
    pid: int


def write_json(path: Path, data: object, root: Path | None = None) -> None:
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True).encode(), root=root)


def read_json(path: Path):
    return json.loads(path.read_text())


LOCK_FILE = "up.lock"


def check_state_dir(state_dir: Path) -> None:
    """Refuse a state directory that is a file or a symbolic link, or that holds a link
    anywhere inside, with a message that names it (nothing to check if it does not exist
    yet)."""
    state_dir = Path(state_dir)
    try:
        mode = os.lstat(state_dir).st_mode
    except FileNotFoundError:
        return
    use_another = "or give the local cloud another directory (`python -m localcloud --state-dir DIR ...`)"
    if stat.S_ISLNK(mode):
        raise UnsafePath(
            f"{state_dir} is a symbolic link (to {os.readlink(state_dir)}); the local cloud "
            "deletes what its state directory holds at every start, so it never follows a "
            f"link there: remove the link, {use_another}")
    if not stat.S_ISDIR(mode):
        raise UnsafePath(f"{state_dir} is a file, but the local cloud keeps its state in a "
                         f"directory there: move the file away, {use_another}")
    for link in _links_under(state_dir):
        raise UnsafePath(link_message(link))


def _links_under(directory: Path):
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_symlink():
                yield Path(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                yield from _links_under(Path(entry.path))


def _open_lock(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:  # the lock file is a link: never write through it
            raise UnsafePath(link_message(path)) from None
        raise


class AlreadyRunning(Exception):
    """Another process runs the local cloud of this state directory."""


class StateLock:
    """An exclusive, non-blocking lock on a state directory, held by the process that runs
    the local cloud, with that process's pid written in it. The OS releases it when the
    process ends, however it ends, so a crashed cloud never blocks the next one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock (False if another holder has it) and record this pid in it."""
        check_state_dir(self.path.parent)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_lock(self.path, os.O_RDWR | os.O_CREAT)
        # holder() probes with a brief shared lock: a moment's retry tells that apart from
        # a running cloud.
        for attempt in range(LOCK_ATTEMPTS):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == LOCK_ATTEMPTS - 1:
                    os.close(fd)
                    return False
                time.sleep(0.02)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> int | None:
        """The pid of the process holding the lock (0 if it has not written it yet), or
        None when nobody holds it."""
        if self.held:
            return os.getpid()
        try:
            fd = _open_lock(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.read(fd, 32).decode(errors="replace").strip()
                return int(text) if text.isdigit() else 0
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)


class StateStore:
    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR) -> None:
        self.dir = Path(state_dir)
        self.lock = StateLock(self.dir / LOCK_FILE)

    def _stack_path(self, stack: str) -> Path:
        return self.dir / "stacks" / f"{stack}.json"

    def load(self, stack: str) -> StackState:
        path = self._stack_path(stack)
        if not path.is_file():
            return StackState(stack=stack)
        data = read_json(path)
        return StackState(stack=stack, outputs=data["outputs"],
                          resources=[ResourceRecord(**r) for r in data["resources"]])

    def check(self) -> None:
        """Refuse a state directory the local cloud must not use (see check_state_dir)."""
        check_state_dir(self.dir)

    def save(self, state: StackState) -> None:
        write_json(self._stack_path(state.stack), {
            "stack": state.stack, "outputs": state.outputs,
            "resources": [asdict(r) for r in state.resources]}, root=self.dir)

    def config_overrides(self, stack: str) -> dict[str, str]:
        """Config set for this local cloud only (e.g. promotion's pins), over the stack file."""
        path = self.dir / "config" / f"{stack}.json"
        return read_json(path) if path.is_file() else {}

    def save_config_overrides(self, stack: str, values: dict[str, str]) -> None:
        write_json(self.dir / "config" / f"{stack}.json", values, root=self.dir)

    def save_session(self, session: Session) -> None:
        write_json(self.dir / "session.json", asdict(session), root=self.dir)

    def load_session(self) -> Session | None:
        path = self.dir / "session.json"
        return Session(**read_json(path)) if path.is_file() else None

    def remove_session(self) -> None:
        (self.dir / "session.json").unlink(missing_ok=True)

    def clear(self, keep_config_keys: frozenset[str] = frozenset()) -> None:
        """Forget everything but the lock: a new emulator starts empty, so must the state.
        (The lock file stays: deleting it would let a second cloud lock a new file.)
        `keep_config_keys`: those keys of each stack's config overrides stay (promotion's
        pins: the operator's record, as a stack file is on AWS, outlives a restart)."""
        self.check()  # what is deleted here is the directory's own, never a link's target
        kept = {stack: {key: value for key, value in self.config_overrides(stack).items()
                        if key in keep_config_keys}
                for stack in self._override_stacks()} if keep_config_keys else {}
        lock = self.dir / LOCK_FILE
        for path in sorted(self.dir.rglob("*"), reverse=True) if self.dir.exists() else []:
            if path != lock:
                path.unlink() if path.is_file() else path.rmdir()
        for stack, values in kept.items():
            if values:
                self.save_config_overrides(stack, values)

    def _override_stacks(self) -> list[str]:
        folder = self.dir / "config"
        return sorted(path.stem for path in folder.glob("*.json")) if folder.is_dir() else []
