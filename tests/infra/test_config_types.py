"""Config the engine accepts: before the program runs, the Pulumi CLI checks every stack
value (and every Pulumi.yaml default it applies) against the type Pulumi.yaml declares.
A model of that check, written from pulumi/pulumi, judges every stack file and every value
the promotion tool writes; the program's loader must accept exactly what it accepts.

- pkg/workspace/config.go: mergeConfig applies defaults (createConfigValue: a string, int
  or bool becomes its text, anything else JSON marked as an object), then
  validateStackConfigValue checks each value: an object's text is JSON-decoded, any other
  value stays the text the stack file's YAML value was stored as.
- sdk/go/common/resource/config/object.go, MarshalString: how a YAML value is stored (a
  bool, int or float as its JSON text; a string as itself; a list or map as JSON, object).
- sdk/go/common/workspace/project.go, ValidateConfigValue: string; integer (an int, a
  whole float, or text strconv.Atoi parses); boolean (true/false, or exactly the texts
  "true" and "false"); object (a map); array (a list whose items match `items`).
- Stack files are YAML 1.2 to the CLI (gopkg.in/yaml.v3): `yes` and `on` are strings.
"""
from __future__ import annotations

import json
import math
import re

import pytest
import yaml

from infra.config import ConfigError, parse_stage_config
from localcloud.engine.stackfiles import REPO_ROOT, known_stacks, read_stack_config
from promotion import decisions

PROJECT = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
DECLARED = {f"{PROJECT['name']}:{key}": spec for key, spec in PROJECT["config"].items()}
TYPES = ("string", "integer", "boolean", "array", "object")


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's core schema for booleans and floats."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"))


def go_json_number(value: float) -> str:
    """encoding/json's text of a float64 (whole numbers without a fraction)."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


def stored(value) -> tuple[str, bool]:
    """A stack file's YAML value as config.Value holds it: (text, is an object)."""
    if isinstance(value, bool):
        return ("true" if value else "false"), False
    if isinstance(value, int):
        return str(value), False
    if isinstance(value, float):
        return go_json_number(value), False
    if isinstance(value, str):
        return value, False
    return json.dumps(value, separators=(",", ":")), True


def atoi(text: str) -> bool:
    digits = text[1:] if text[:1] in ("+", "-") else text
    return (digits != "" and all(c in "0123456789" for c in digits)
            and -2**63 <= int(text) < 2**63)


def valid(type_: str, items: dict | None, content) -> bool:
    if type_ == "string":
        return isinstance(content, str)
    if type_ == "integer":
        if isinstance(content, bool):
            return False
        if isinstance(content, int):
            return True
        if isinstance(content, float):
            return content == math.trunc(content)
        return isinstance(content, str) and atoi(content)
    if type_ == "boolean":
        return content in ("true", "false") or isinstance(content, bool)
    if type_ == "object":
        return isinstance(content, dict)
    return (isinstance(content, list) and items is not None
            and all(valid(items["type"], items.get("items"), item) for item in content))


def engine_accepts(key: str, text: str, is_object: bool = False) -> bool:
    spec = DECLARED[key]
    return valid(spec["type"], spec.get("items"), json.loads(text) if is_object else text)


def default_as_stored(default) -> tuple[str, bool]:
    """createConfigValue: a string, int or bool is its text; anything else JSON, object."""
    if isinstance(default, bool):
        return ("true" if default else "false"), False
    if isinstance(default, (str, int)):
        return str(default), False
    return json.dumps(default), True


def stack_values(stack: str) -> dict[str, object]:
    path = REPO_ROOT / f"Pulumi.{stack}.yaml"
    return yaml.load(path.read_text(), Loader=Yaml12Loader)["config"]


# --- the project and the stack files -------------------------------------------------------

def test_pulumi_yaml_declares_only_the_engines_types():
    assert {key: spec["type"] for key, spec in DECLARED.items()
            if spec.get("type") not in TYPES} == {}


def test_every_default_passes_its_declared_type():
    refused = [key for key, spec in DECLARED.items() if "default" in spec
               and not engine_accepts(key, *default_as_stored(spec["default"]))]
    assert refused == []


@pytest.mark.parametrize("stack", known_stacks())
def test_every_stack_file_passes_the_engines_type_check(stack):
    refused = [f"Stack '{stack}' with configuration key '{key}' must be of type "
               f"'{DECLARED[key]['type']}'"
               for key, value in stack_values(stack).items()
               if key in DECLARED and not engine_accepts(key, *stored(value))]
    assert refused == []


@pytest.mark.parametrize("stack", known_stacks())
def test_the_program_is_handed_the_text_the_engine_stores(stack):
    # The tests and the local cloud read stack files with PyYAML: the same text as the CLI.
    handed = read_stack_config(stack)
    assert {key: stored(value)[0] for key, value in stack_values(stack).items()} == {
        key: handed[key] for key in stack_values(stack)}


def test_the_model_refuses_what_the_engine_refuses():
    # A fractional rate in a stack file is stored as "2.5": no integer (issue 14's case).
    rate = "user-service:throttlingRateLimit"
    assert DECLARED[rate]["type"] == "integer"
    assert not engine_accepts(rate, *stored(yaml.load("2.5", Loader=Yaml12Loader)))
    assert engine_accepts(rate, *stored(yaml.load("20", Loader=Yaml12Loader)))
    assert engine_accepts(rate, *stored(yaml.load("20.0", Loader=Yaml12Loader)))  # "20"
    flag = "user-service:allowTestInvoke"
    assert not engine_accepts(flag, *stored(yaml.load("yes", Loader=Yaml12Loader)))
    assert engine_accepts(flag, *stored(yaml.load("True", Loader=Yaml12Loader)))  # a bool
    assert not engine_accepts(flag, *stored(yaml.load("'True'", Loader=Yaml12Loader)))


# --- the loader accepts exactly what the declared types allow ------------------------------

SAMPLES = ("0", "10", "-3", "+7", "007", "2.5", "20.0", "1e3", " 10", "10 ", "1_000", "٣",
           "", "ten", "9223372036854775807", "9223372036854775808", "true", "false", "True",
           "TRUE", " true", "yes", "1", "0x10")
TYPE_MESSAGE = {"integer": "(Pulumi.yaml declares it integer)",
                "boolean": "(Pulumi.yaml declares it boolean)"}


def loader_refuses_type(stack: str, key: str, text: str) -> bool:
    try:
        parse_stage_config({**read_stack_config(stack), key: text}, stack)
    except ConfigError as refused:
        return any(line.startswith(f"  - {key} is ") and TYPE_MESSAGE[DECLARED[key]["type"]]
                   in line for line in str(refused).splitlines())
    return False


@pytest.mark.parametrize("key", [k for k, s in DECLARED.items() if s["type"] in TYPE_MESSAGE])
def test_the_loader_refuses_a_value_for_its_type_exactly_when_the_engine_does(key):
    disagree = [text for text in SAMPLES
                if loader_refuses_type("test", key, text) == engine_accepts(key, text)]
    assert disagree == []


# --- what the promotion tool writes --------------------------------------------------------

def promotion_writes() -> list[dict[str, str | None]]:
    """What the promotion tool writes (`pulumi config set --plaintext`: strings): a promote,
    a rollback, the version an update published, the pins put back after a failure."""
    test = {"deploymentId": "abc123", "codeHash": "e" * 64, "functionVersion": "4"}
    promote = decisions.plan_promotion(
        "test", "prod", test, read_stack_config("test"), {}, read_stack_config("prod"),
        {"abc123"}, "2026-11-21T00:00:00Z")
    promoted = {**read_stack_config("prod"), **promote.values()}
    served = {"deploymentId": "def456", "codeHash": "f" * 64, "functionVersion": "5"}
    history = json.loads(promoted[decisions.HISTORY]) + [
        decisions.entry("promote", "test", decisions.Pins("def456", "f" * 64, "5"),
                        "2026-11-22T00:00:00Z")]
    rollback = decisions.plan_rollback(
        "prod", served, {**promoted, decisions.HISTORY: json.dumps(history)},
        {"abc123", "def456"}, None, "2026-11-23T00:00:00Z")
    # After an update: the version it published, filled into the newest entry.
    recorded = decisions.record_version(promote.history, "7")
    assert recorded is not None
    # After a failed update: the pins as they were, put back.
    restored = decisions.previous_values(promoted)
    return [promote.values(), rollback.values(), {decisions.HISTORY: json.dumps(list(recorded))},
            restored]


def test_every_value_the_promotion_tool_writes_passes_the_engine_and_the_loader():
    for written in promotion_writes():
        refused = [key for key, text in written.items()
                   if text is not None and not engine_accepts(key, text)]
        assert refused == [], written
        # The loader takes it too (None: the key is removed, Pulumi.yaml's default applies).
        kept = {key: text for key, text in written.items() if text is not None}
        config = parse_stage_config({**read_stack_config("prod"), **kept}, "prod")
        if decisions.PINNED_DEPLOYMENT in kept:
            assert config.promoted_deployment_id == kept[decisions.PINNED_DEPLOYMENT]
        if decisions.HISTORY in kept:
            assert list(config.deployment_history) == json.loads(kept[decisions.HISTORY])
