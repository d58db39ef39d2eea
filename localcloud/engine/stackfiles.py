"""Stack configuration as the Pulumi CLI hands it to the program: Pulumi.yaml's declared
defaults, overlaid with Pulumi.<stack>.yaml, every value a string."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


class StackFileError(Exception):
    """A stack that has no stack file, or a file that is not valid."""


def known_stacks(root: Path = REPO_ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def project_name(root: Path = REPO_ROOT) -> str:
    return _load_yaml(root / "Pulumi.yaml")["name"]


def config_string(value: object) -> str:
    """How the CLI passes a YAML value to the program: booleans as true/false, objects
    as JSON, everything else as its text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def read_stack_config(stack: str, root: Path = REPO_ROOT) -> dict[str, str]:
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise StackFileError(f"there is no stack {stack!r}: {path.name} does not exist; "
                             f"known stacks: {', '.join(known_stacks(root)) or 'none'}")
    project = _load_yaml(root / "Pulumi.yaml")
    values = {
        f"{project['name']}:{key}": config_string(spec["default"])
        for key, spec in (project.get("config") or {}).items()
        if isinstance(spec, dict) and "default" in spec
    }
    stack_config = _load_yaml(path).get("config") or {}
    if not isinstance(stack_config, dict):
        raise StackFileError(f"{path.name}: 'config' must be a mapping of key: value")
    for key, value in stack_config.items():
        if isinstance(value, dict) and "secure" in value:
            raise StackFileError(f"{path.name}: {key} is a secret; the local cloud cannot "
                                 "decrypt secrets, give it a plain value for local runs")
        values[str(key)] = config_string(value)
    return values


def _load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise StackFileError(f"cannot read {path.name}: {err}") from None
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name} must be a YAML mapping")
    return data
