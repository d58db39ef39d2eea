"""The local cloud's stacks: outputs from its state store, pins in its config overrides
(.localcloud/config/{stack}.json; the repo's stack files are not touched), updates through
its deployer, smoke checks signed with a profile of .localcloud/credentials: the stage's
own caller profile, or the one --smoke-profile names (e.g. `deployer`)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from typing import Callable

import boto3

from localcloud.apigateway.snapshots import load_snapshot
from localcloud.engine.deployer import deploy_stack
from localcloud.kinds import Cloud
from localcloud.engine.stackfiles import read_stack_config
from localcloud.engine.state import StateStore
from localcloud.iam.callers import (DEPLOYER_PROFILE, credentials_path, read_credentials,
                                    stage_credentials)
from promotion import failures
from promotion.backends import (Backend, BackendError, ServedDefinition, SmokeIdentity,
                                UpdateFailed)


def shown(path: Path) -> str:
    """A path as the user typed it from here: relative to the working directory if inside."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class LocalBackend(Backend):
    suffix = " --local"
    deploy_hint = "python -m localcloud deploy {stack}"
    # Its deploy re-creates what is gone (localcloud.engine.refresh) but does not read a
    # changed setting back.
    refresh_hint = None

    def __init__(self, store: StateStore, cloud_for: Callable[[str], Cloud],
                 report: Callable[[str], None] = print,
                 smoke_profile: str | None = None) -> None:
        super().__init__(report, smoke_profile)
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
        before, begun = self._resources(stack), []
        try:
            result = deploy_stack(stack, self.cloud_for(stack), self.store,
                                  on_step=lambda *step: begun.append(" ".join(step)))
        except Exception as error:  # noqa: BLE001 -- what it left behind decides
            kind, evidence = failures.local_failure(begun, self._resources(stack) != before)
            raise UpdateFailed(kind, str(error) or type(error).__name__, evidence) from None
        self.report(f"  {stack}: {result.summary()}")

    def _resources(self, stack: str) -> dict:
        """Each recorded resource's id and inputs (by key: a failed deploy records them in
        another order)."""
        return {r.key: (r.id, r.inputs) for r in self.store.load(stack).resources}

    def client(self, stack: str, service: str):
        return self.cloud_for(stack).client(service)

    def check_smoke_profile(self) -> None:
        """--smoke-profile must name a profile of the local cloud's credentials file."""
        if self.smoke_profile is None:
            return
        profiles = read_credentials(self.store.dir)
        if self.smoke_profile not in profiles:
            raise BackendError(
                f"--smoke-profile {self.smoke_profile}: there is no such profile in "
                f"{shown(credentials_path(self.store.dir))}; it has "
                f"{', '.join(sorted(profiles)) or 'none'} (each stage's caller, and "
                f"{DEPLOYER_PROFILE!r}, the local cloud's deployer)")

    def caller(self, stack: str) -> SmokeIdentity:
        """The --smoke-profile, else the stage's own caller profile, as the local cloud
        wrote them (the deployer's when it started, a caller's when it deployed)."""
        where = shown(credentials_path(self.store.dir))
        if self.smoke_profile is not None:
            profile, source = self.smoke_profile, f"profile {self.smoke_profile!r} in {where}"
        else:
            profile = self.outputs(stack).get("stage") or stack
            source = f"{stack}'s caller profile {profile!r} in {where}"
        credentials = stage_credentials(self.store.dir, profile)
        if credentials is None:
            raise BackendError(f"no credentials for profile {profile!r} in {where}; the local "
                               "cloud writes a stage's when it deploys the stage (python -m "
                               f"localcloud deploy {stack}) and {DEPLOYER_PROFILE!r} when it "
                               "starts")
        return SmokeIdentity(credentials, self.cloud_for(stack).region, source)

    def connect_to(self, stack: str, url: str) -> str | None:
        """A custom domain's URL is served by the local gateway (by its Host, in plain
        HTTP): the request goes to the gateway's address, naming and signed for the domain."""
        gateway = urlsplit(self.cloud_for(stack).gateway_url)
        return None if urlsplit(url).netloc == gateway.netloc else gateway.netloc

    def sts_client(self, stack: str, identity: SmokeIdentity):
        """The emulator's STS, called with the identity's own key (it answers with the
        ARN of the IAM user that holds the key)."""
        cloud = self.cloud_for(stack)
        frozen = identity.credentials.get_frozen_credentials()
        return boto3.session.Session(
            aws_access_key_id=frozen.access_key, aws_secret_access_key=frozen.secret_key,
            aws_session_token=frozen.token, region_name=cloud.region,
        ).client("sts", endpoint_url=cloud.endpoint_url)

    def aws_cli(self, stack: str) -> str:
        """The AWS CLI pointed at the emulator, signing as the deployer (it has iam:*), in
        the stack's region: the CLI refuses to run without one, and the deployer's profile
        has none."""
        cloud = self.cloud_for(stack)
        return (f"AWS_SHARED_CREDENTIALS_FILE={shown(credentials_path(self.store.dir))} aws "
                f"--profile {DEPLOYER_PROFILE} --endpoint-url {cloud.endpoint_url} "
                f"--region {cloud.region}")

    def pins_location(self, stack: str) -> str:
        return shown(self.store.dir / "config" / f"{stack}.json")

    def served_definition(self, stack: str, outputs: dict) -> ServedDefinition:
        """moto's GetExport ignores the stage and the export type (Swagger 2.0 of the API's
        current resources), so the document is the snapshot the stage's deployment froze:
        the OpenAPI body the REST API had when that deployment was made."""
        deployment = self.stage(stack, outputs).get("deploymentId", "")
        try:
            snapshot = load_snapshot(self.store.dir, deployment)
        except (FileNotFoundError, ValueError):
            raise BackendError(f"the local cloud holds no snapshot of deployment {deployment!r}, "
                               f"which stage {outputs.get('stage')} serves") from None
        return ServedDefinition(deployment, snapshot.get("document"))

    def after_change(self, stack: str) -> str:
        return (f"{stack}'s pins and history are in {self.pins_location(stack)} (the local "
                "cloud's state; your stack files are untouched)")
