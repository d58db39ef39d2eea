"""The local cloud's state store: per stack, what the last deploy declared (as Pulumi's
state file would hold it) and the stack's outputs, plus the running session's address.

Files are JSON under the state directory, written atomically.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from localcloud.atomic import write_atomic

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


def write_json(path: Path, data: object) -> None:
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True).encode())


def read_json(path: Path):
    return json.loads(path.read_text())


class StateStore:
    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR) -> None:
        self.dir = Path(state_dir)

    def _stack_path(self, stack: str) -> Path:
        return self.dir / "stacks" / f"{stack}.json"

    def load(self, stack: str) -> StackState:
        path = self._stack_path(stack)
        if not path.is_file():
            return StackState(stack=stack)
        data = read_json(path)
        return StackState(stack=stack, outputs=data["outputs"],
                          resources=[ResourceRecord(**r) for r in data["resources"]])

    def save(self, state: StackState) -> None:
        write_json(self._stack_path(state.stack), {
            "stack": state.stack, "outputs": state.outputs,
            "resources": [asdict(r) for r in state.resources]})

    def config_overrides(self, stack: str) -> dict[str, str]:
        """Config set for this local cloud only (e.g. promotion's pins), over the stack file."""
        path = self.dir / "config" / f"{stack}.json"
        return read_json(path) if path.is_file() else {}

    def save_config_overrides(self, stack: str, values: dict[str, str]) -> None:
        write_json(self.dir / "config" / f"{stack}.json", values)

    def save_session(self, session: Session) -> None:
        write_json(self.dir / "session.json", asdict(session))

    def load_session(self) -> Session | None:
        path = self.dir / "session.json"
        return Session(**read_json(path)) if path.is_file() else None

    def clear(self) -> None:
        """Forget everything: a new emulator starts empty, so must the state."""
        for path in sorted(self.dir.rglob("*"), reverse=True) if self.dir.exists() else []:
            path.unlink() if path.is_file() else path.rmdir()
