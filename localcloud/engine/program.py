"""Run the real program (__main__.py) once, for one stack, under Pulumi's mock runtime.

The same runner serves the unit tests (mocks that invent realistic ids) and the local
cloud (mocks that create each resource in the emulator). It records every registered
resource with its inputs and resource options, which the plain mock monitor drops.
"""
from __future__ import annotations

import asyncio
import runpy
import warnings
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime import stack as pulumi_stack

from localcloud.engine.stackfiles import REPO_ROOT, project_name

PROGRAM = REPO_ROOT / "__main__.py"


ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class ResourceOptions:
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    parent: str = ""  # the parent's URN as the engine gives it ("" under the root stack)


def engine_urn(urn: str, qualified_type: str, name: str) -> str:
    """The URN the Pulumi engine gives a resource of this stack and project (taken from
    `urn`, any URN of the run): its type qualified by each parent's type, the root stack's
    left out (pulumi/pulumi sdk/go/common/resource/urn/urn.go, New). The SDK's mocks keep
    only the nearest parent's type and the root stack's, so their URNs differ."""
    stack_and_project = urn.split("::")[:2]
    return "::".join([*stack_and_project, qualified_type, name])


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    id: str
    inputs: dict
    outputs: dict
    options: ResourceOptions
    dependencies: list[str]

    @property
    def protect(self) -> bool:
        return self.options.protect

    @property
    def retain_on_delete(self) -> bool:
        return self.options.retain_on_delete

    @property
    def delete_before_replace(self) -> bool:
        return self.options.delete_before_replace


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
        # mock URN -> (qualified type, URN), as the engine gives them; "" for the root.
        self._engine: dict[str, tuple[str, str]] = {}

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        parent_type, parent_urn = self._engine.get(request.parent, ("", ""))
        options = ResourceOptions(
            protect=bool(request.protect), retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace), parent=parent_urn)
        _current.options = options
        try:
            response = super().RegisterResource(request)
        finally:
            _current.options = ResourceOptions()
        if request.type == ROOT_STACK_TYPE:
            self._engine[response.urn] = ("", "")
        else:
            qualified = f"{parent_type}${request.type}" if parent_type else request.type
            self._engine[response.urn] = (qualified, engine_urn(response.urn, qualified,
                                                                request.name))
        if request.type != ROOT_STACK_TYPE:
            self._record(response.urn, request, request.object, options)
        return response

    def ReadResource(self, request):  # noqa: N802 -- reads, e.g. StackReference
        response = super().ReadResource(request)
        self._record(response.urn, request, request.properties, ResourceOptions(), request.id)
        return response

    def _record(self, urn: str, request, properties, options: ResourceOptions,
                requested_id: str = "") -> None:
        registered = self.resources[urn]
        self.registrations.append(Registration(
            urn=urn, type=request.type, name=request.name, parent=request.parent,
            id=registered.id or requested_id,
            inputs=pulumi.runtime.rpc.deserialize_properties(properties),
            outputs=dict(registered.state or {}), options=options,
            dependencies=list(request.dependencies)))


def _open_event_loop() -> None:
    """The mock runtime runs the program on this thread's event loop; a command that ended
    in this process (localcloud.cli.run_command) closes it, so start a new one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            closed = asyncio.get_event_loop().is_closed()
        except RuntimeError:  # no loop on this thread
            closed = True
    if closed:
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_program(stack: str, mocks: pulumi_mocks.Mocks, config: dict[str, str], *,
                organization: str, preview: bool = False,
                program: Path = PROGRAM) -> ProgramRun:
    """Run the program for `stack` with `config` (full keys, string values), in
    `organization` (what pulumi.get_organization() returns: the stack's organization on
    Pulumi Cloud, always "organization" on the DIY backend); return its exported outputs
    and every resource it registered. Errors the program raises (e.g. a ConfigError)
    propagate unchanged."""
    _open_event_loop()
    pulumi_settings.ROOT.set(None)  # a fresh root Stack for this run
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project_name(), stack=stack, preview=preview,
                             monitor=monitor, organization=organization)
    pulumi.runtime.set_all_config(dict(config))
    # set_mocks finishes the root Stack it makes at once, which closes it to pulumi.run;
    # make the root the way the engine's run_in_stack does, finished after the program.
    pulumi_settings.ROOT.set(None)
    stack_resource = pulumi_stack.Stack()
    run = ProgramRun(stack=stack)
    root = str(program.parent)
    if root not in sys.path:
        sys.path.insert(0, root)

    @pulumi.runtime.test
    def execute():
        runpy.run_path(str(program), run_name="__main__")
        # Once the module has run, await the entrypoint it gave pulumi.run, as the engine does.
        entrypoint = stack_resource._take_async_program()
        done = pulumi.Output.from_input(entrypoint() if entrypoint else None)

        def finish(_):
            stack_resource._finish()
            return pulumi.Output.from_input(dict(stack_resource.outputs)).apply(run.outputs.update)
        return done.apply(finish)

    execute()
    run.resources = monitor.registrations
    return run
