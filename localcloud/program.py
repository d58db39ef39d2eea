"""Run the real program (__main__.py) once, for one stack, under Pulumi's mock runtime.

The same runner serves the unit tests (mocks that invent realistic ids) and the local
cloud (mocks that create each resource in the emulator). It records every registered
resource with its inputs and resource options, which the plain mock monitor drops.
"""
from __future__ import annotations

import runpy
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings

from localcloud.stackfiles import REPO_ROOT, project_name

PROGRAM = REPO_ROOT / "__main__.py"


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    id: str
    inputs: dict
    outputs: dict
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    dependencies: list[str]


@dataclass
class ProgramRun:
    stack: str
    outputs: dict = field(default_factory=dict)
    resources: list[Registration] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Registration:
        found = self.of_type(type_)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_}, found {len(found)}")
        return found[0]


@dataclass(frozen=True)
class ResourceOptions:
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False


_current = threading.local()


def current_options() -> ResourceOptions:
    """The options of the registration being handled on this thread: mocks are not
    told them, but a deployer needs them to replace and delete as the engine would."""
    return getattr(_current, "options", ResourceOptions())


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, keeping what each registration asked for."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        _current.options = ResourceOptions(
            protect=bool(request.protect), retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace))
        try:
            response = super().RegisterResource(request)
        finally:
            _current.options = ResourceOptions()
        if request.type != "pulumi:pulumi:Stack":
            registered = self.resources[response.urn]
            self.registrations.append(Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                id=registered.id or "",
                inputs=pulumi.runtime.rpc.deserialize_properties(request.object),
                outputs=dict(registered.state or {}),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                dependencies=list(request.dependencies),
            ))
        return response

    def ReadResource(self, request):  # noqa: N802 -- reads, e.g. StackReference
        response = super().ReadResource(request)
        registered = self.resources[response.urn]
        self.registrations.append(Registration(
            urn=response.urn, type=request.type, name=request.name, parent=request.parent,
            id=registered.id or request.id,
            inputs=pulumi.runtime.rpc.deserialize_properties(request.properties),
            outputs=dict(registered.state or {}), protect=False, retain_on_delete=False,
            delete_before_replace=False, dependencies=list(request.dependencies)))
        return response


def run_program(stack: str, mocks: pulumi_mocks.Mocks, config: dict[str, str],
                preview: bool = False, program: Path = PROGRAM) -> ProgramRun:
    """Run the program for `stack` with `config` (full keys, string values); return its
    exported outputs and every resource it registered. Errors the program raises
    (e.g. a ConfigError) propagate unchanged."""
    pulumi_settings.ROOT.set(None)  # a fresh root Stack for this run
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project_name(), stack=stack, preview=preview,
                             monitor=monitor)
    pulumi.runtime.set_all_config(dict(config))
    run = ProgramRun(stack=stack)
    root = str(program.parent)
    if root not in sys.path:
        sys.path.insert(0, root)

    @pulumi.runtime.test
    def execute():
        runpy.run_path(str(program), run_name="__main__")
        exports = dict(pulumi_settings.get_root_resource().outputs)
        return pulumi.Output.from_input(exports).apply(run.outputs.update)

    execute()
    run.resources = monitor.registrations
    return run
