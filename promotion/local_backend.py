"""The local cloud's stacks: outputs from its state store, pins in its config overrides
(.localcloud/config/{stack}.json; the repo's stack files are not touched), updates through
its deployer, callers signed with the stage's profile in .localcloud/credentials."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from localcloud.engine.deployer import deploy_stack
from localcloud.kinds import Cloud
from localcloud.engine.stackfiles import read_stack_config
from localcloud.engine.state import StateStore
from localcloud.iam.callers import credentials_path, stage_credentials
from promotion.backends import Backend, BackendError, UpdateFailed

class LocalBackend(Backend):
    suffix = " --local"
    deploy_hint = "python -m localcloud deploy {stack}"

    def __init__(self, store: StateStore, cloud_for: Callable[[str], Cloud],
                 report: Callable[[str], None] = print) -> None:
        super().__init__(report)
        self.store, self.cloud_for = store, cloud_for

    def outputs(self, stack: str) -> dict:
        return self.store.load(stack).outputs

    def config(self, stack: str) -> dict[str, str]:
        return {**read_stack_config(stack), **self.store.config_overrides(stack)}

    def set_config(self, stack: str, values: dict[str, str | None]) -> None:
        # The overrides hold only what differs from the stack file, so putting back the
        # previous values leaves the file as it was.
        files = read_stack_config(stack)
        merged = {**self.store.config_overrides(stack), **values}
        self.store.save_config_overrides(stack, {
            key: value for key, value in merged.items()
            if value is not None and value != files.get(key)})

    def update(self, stack: str) -> None:
        before = self._resources(stack)
        try:
            result = deploy_stack(stack, self.cloud_for(stack), self.store)
        except Exception as error:  # noqa: BLE001 -- what it left behind decides
            kind = UpdateFailed.PARTIAL if self._resources(stack) != before \
                else UpdateFailed.REFUSED
            raise UpdateFailed(kind, str(error) or type(error).__name__) from None
        self.report(f"  {stack}: {result.summary()}")

    def _resources(self, stack: str) -> list:
        return [(r.key, r.id, r.inputs) for r in self.store.load(stack).resources]

    def client(self, stack: str, service: str):
        return self.cloud_for(stack).client(service)

    def caller(self, stack: str) -> tuple[object, str]:
        """The stage's own caller profile, as the local cloud wrote it when it deployed."""
        profile = self.outputs(stack).get("stage") or stack
        credentials = stage_credentials(self.store.dir, profile)
        if credentials is None:
            raise BackendError(f"no credentials for profile {profile!r} in "
                               f"{credentials_path(self.store.dir)}; the local cloud writes it "
                               f"when it deploys the stage (python -m localcloud deploy {stack})")
        return credentials, self.cloud_for(stack).region

    def pins_location(self, stack: str) -> str:
        path = self.store.dir / "config" / f"{stack}.json"
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    def after_change(self, stack: str) -> str:
        return (f"{stack}'s pins and history are in {self.pins_location(stack)} (the local "
                "cloud's state; your stack files are untouched)")
