"""Stack configuration as the Pulumi CLI hands it to the program: Pulumi.yaml's declared
defaults, overlaid with Pulumi.<stack>.yaml, every value a string."""
from __future__ import annotations

import copy
import functools
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


# libyaml's parser where PyYAML was built with it (the same safe constructor and
# resolver, ten times faster than the pure-Python one), else the pure-Python one.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=64)
def _parse_yaml(text: str):
    """The parsed text. Keyed by the text itself, so a file is read on every call (an edit
    is seen at once) but parsed only when its text is new: a start-up reads Pulumi.yaml
    dozens of times."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def _load_yaml(path: Path) -> dict:
    try:
        data = _parse_yaml(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise StackFileError(f"cannot read {path.name}: {err}") from None
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name} must be a YAML mapping")
    return copy.deepcopy(data)  # the cached value is shared: callers get their own


# The settings each stack must hold alone: names are `{namePrefix}user-service` etc., and
# every stage is a stage of the one shared REST API.
UNIQUE_SETTINGS = (("namePrefix", "prefix"), ("stage", "stage name"))


def name_clashes(configs: dict[str, dict[str, str]], project: str) -> list[str]:
    """One line per pair of stacks that would create the same names (same namePrefix) or
    the same API stage; `configs` maps each stack to its config as read_stack_config gives."""
    clashes = []
    for key, what in UNIQUE_SETTINGS:
        first_with: dict[str, str] = {}
        for stack in sorted(configs):
            value = configs[stack].get(f"{project}:{key}")
            if value is None:  # unset: the program's config validation names it
                continue
            if value not in first_with:
                first_with[value] = stack
                continue
            shown = f"{what} `{value}`" if value else f"an empty {what}"
            clashes.append(f"`Pulumi.{first_with[value]}.yaml` and `Pulumi.{stack}.yaml` "
                           f"both use {shown}")
    return clashes


def domain_clashes(configs: dict[str, dict[str, str]], project: str) -> list[str]:
    """One line per pair of stacks that claim the same custom domain: each stack creates
    its own API Gateway domain name, and a name exists once per region ("A custom domain
    name must be unique within a Region across all AWS accounts"), whatever the base path."""
    clashes, first_with = [], {}
    for stack in sorted(configs):
        domain = (configs[stack].get(f"{project}:domainName") or "").strip().lower()
        if not domain:
            continue
        if domain in first_with:
            clashes.append(f"`Pulumi.{first_with[domain]}.yaml` and `Pulumi.{stack}.yaml` "
                           f"both claim the domain `{domain}`")
        else:
            first_with[domain] = stack
    return clashes


def check_stack_files(root: Path = REPO_ROOT) -> None:
    """Refuse stack files that would deploy over each other (e.g. an unedited copy of
    Pulumi.test.yaml), or claim the same custom domain, before anything is deployed."""
    project = project_name(root)
    configs = {s: read_stack_config(s, root) for s in known_stacks(root)}
    clashes = name_clashes(configs, project)
    if clashes:
        raise StackFileError(f"{'; '.join(clashes)}: each stack needs its own "
                             f"{project}:namePrefix and {project}:stage; edit or remove "
                             "the copy")
    clashes = domain_clashes(configs, project)
    if clashes:
        raise StackFileError(f"{'; '.join(clashes)}: a custom domain belongs to one stack "
                             f"(each creates its own API Gateway domain name); give each "
                             f"stack its own {project}:domainName")
