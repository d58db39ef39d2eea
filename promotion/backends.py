"""Where the stacks live: real ones, driven by Pulumi's Automation API, or the local
cloud's. Both answer the same questions, so the decisions are made by one piece of code."""
from __future__ import annotations

import urllib.error
import urllib.request
from typing import Callable, Protocol

from localcloud.engine.deployer import deploy_stack
from localcloud.engine.kinds import Cloud
from localcloud.engine.stackfiles import REPO_ROOT, read_stack_config
from localcloud.engine.state import StateStore
from promotion.decisions import PIN_KEYS


class BackendError(Exception):
    """The stacks could not be reached or updated; the message says why."""


class Backend(Protocol):
    def outputs(self, stack: str) -> dict: ...
    def config(self, stack: str) -> dict[str, str]: ...
    def set_config(self, stack: str, values: dict[str, str]) -> None: ...
    def update(self, stack: str) -> None: ...
    def retained_deployments(self, stack: str) -> set[str]: ...


def smoke_check(stage_url: str, timeout: float = 10.0) -> str | None:
    """None when the stage answers GET /users with 200; otherwise what went wrong."""
    try:
        with urllib.request.urlopen(f"{stage_url}/users?limit=1", timeout=timeout) as reply:
            return None if reply.status == 200 else f"HTTP {reply.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}: {error.read()[:200].decode(errors='replace')}"
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))


class LocalBackend:
    """The local cloud: outputs from its state store, pins as its config overrides (the
    repo's stack files are not touched), updates through its deployer."""

    def __init__(self, store: StateStore, cloud_for: Callable[[str], Cloud],
                 report: Callable[[str], None] = print) -> None:
        self.store, self.cloud_for, self.report = store, cloud_for, report

    def outputs(self, stack: str) -> dict:
        return self.store.load(stack).outputs

    def config(self, stack: str) -> dict[str, str]:
        return {**read_stack_config(stack), **self.store.config_overrides(stack)}

    def set_config(self, stack: str, values: dict[str, str]) -> None:
        self.store.save_config_overrides(stack, {**self.store.config_overrides(stack), **values})

    def update(self, stack: str) -> None:
        result = deploy_stack(stack, self.cloud_for(stack), self.store)
        self.report(f"  {stack}: {result.summary()}")

    def retained_deployments(self, stack: str) -> set[str]:
        api = self.outputs(stack).get("restApiId")
        if not api:
            return set()
        return _deployments(self.cloud_for(stack).client("apigateway"), api)


class PulumiBackend:
    """Real stacks, through the Automation API; the engine's output is streamed."""

    def __init__(self, work_dir=REPO_ROOT, report: Callable[[str], None] = print) -> None:
        self.work_dir, self.report = str(work_dir), report
        self._stacks: dict = {}

    def _stack(self, name: str):
        if name not in self._stacks:
            from pulumi import automation as auto
            try:
                self._stacks[name] = auto.select_stack(stack_name=name, work_dir=self.work_dir)
            except Exception as error:  # noqa: BLE001 -- the CLI's errors vary; all mean this
                raise BackendError(
                    f"cannot select stack {name!r} with the Pulumi CLI: {error}. Install the "
                    "Pulumi CLI and log in (pulumi login), or use --local for the local cloud"
                ) from None
        return self._stacks[name]

    def outputs(self, stack: str) -> dict:
        return {key: output.value for key, output in self._stack(stack).outputs().items()}

    def config(self, stack: str) -> dict[str, str]:
        return {key: value.value for key, value in self._stack(stack).get_all_config().items()}

    def set_config(self, stack: str, values: dict[str, str]) -> None:
        from pulumi import automation as auto
        self._stack(stack).set_all_config({k: auto.ConfigValue(value=v) for k, v in values.items()})

    def update(self, stack: str) -> None:
        self._stack(stack).up(on_output=self.report)

    def retained_deployments(self, stack: str) -> set[str]:
        import boto3
        outputs = self.outputs(stack)
        region = self.config(stack).get("aws:region")
        return _deployments(boto3.client("apigateway", region_name=region), outputs["restApiId"])


def _deployments(apigateway, rest_api_id: str) -> set[str]:
    ids: set[str] = set()
    for page in apigateway.get_paginator("get_deployments").paginate(restApiId=rest_api_id):
        ids.update(item["id"] for item in page["items"])
    return ids


def pins_of(config: dict[str, str]) -> dict[str, str]:
    """The keys promotion writes, as they are now (to put back after a failed update)."""
    return {key: config.get(key, "") for key in PIN_KEYS}


__all__ = ["Backend", "BackendError", "LocalBackend", "PulumiBackend", "pins_of",
           "smoke_check"]
