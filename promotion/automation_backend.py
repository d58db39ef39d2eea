"""Real stacks, through Pulumi's Automation API (which drives the Pulumi CLI).

Everything the CLI will need is checked before anything runs (the CLI on PATH, a login,
the passphrase of a passphrase-encrypted stack); the stack that was selected before is
selected again at the end; a failed `up` is told apart by what it left behind; AWS calls
use the stack's own aws:region and aws:profile."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from promotion import failures
from promotion.backends import (Backend, BackendError, ServedDefinition, SmokeIdentity,
                                UpdateFailed, aws_errors)
from promotion.failures import steps_applied  # noqa: F401 -- the summary's reader, here too

# The Pulumi project (Pulumi.yaml and the stack files) is the repository's root.
REPO_ROOT = Path(__file__).resolve().parents[1]

PASSPHRASE_VARS = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")


def passphrase_problem(stack: str, work_dir: Path, env: dict[str, str]) -> str | None:
    """A stack encrypted with a passphrase (its stack file has `encryptionsalt`) needs the
    passphrase in the environment: the Automation API runs the CLI non-interactively."""
    path = Path(work_dir) / f"Pulumi.{stack}.yaml"
    try:
        settings = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None  # the CLI itself says what is wrong with a missing or broken file
    passphrase = isinstance(settings, dict) and ("encryptionsalt" in settings or
                                                 settings.get("secretsprovider") == "passphrase")
    # An empty PULUMI_CONFIG_PASSPHRASE is a valid (empty) passphrase; an empty _FILE is not.
    given = "PULUMI_CONFIG_PASSPHRASE" in env or bool(env.get("PULUMI_CONFIG_PASSPHRASE_FILE"))
    if passphrase and not given:
        return (f"{path.name} uses the passphrase secrets provider (it has an encryptionsalt), "
                "and the Pulumi CLI runs here without a terminal to ask for it: set "
                "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE, a file holding it) "
                "and run the command again")
    return None


def error_lines(lines: list[str]) -> str:
    """The CLI's own error lines, for a one-line message."""
    errors = [line.strip() for line in lines if line.strip().startswith("error:")] or \
        [line.strip() for line in lines if "error:" in line]
    return " / ".join(dict.fromkeys(errors)) or "the Pulumi CLI failed without an error line"


class PulumiBackend(Backend):
    def __init__(self, work_dir: Path = REPO_ROOT, report: Callable[[str], None] = print,
                 env: dict[str, str] | None = None, smoke_profile: str | None = None) -> None:
        super().__init__(report, smoke_profile)
        self.work_dir = Path(work_dir)
        self.env = dict(os.environ if env is None else env)
        self._stacks: dict = {}
        self._workspace = None
        self._selected: str | None = None
        self._sessions: dict[str, boto3.Session] = {}
        self._smoke_sessions: dict[str, boto3.Session] = {}

    def prepare(self, stacks: list[str]) -> None:
        """Every check that needs no change, before anything runs: the CLI, the login,
        the passphrases; then remember which stack is selected."""
        from pulumi import automation as auto
        if shutil.which("pulumi", path=self.env.get("PATH")) is None:
            raise BackendError("the Pulumi CLI is not on PATH; install it "
                               "(https://www.pulumi.com/docs/install/) and log in (pulumi login), "
                               "or add --local to act on the local cloud")
        problems = [p for p in (passphrase_problem(s, self.work_dir, self.env) for s in stacks) if p]
        if problems:
            raise BackendError("; ".join(problems))
        try:
            # The CLI runs with the environment that was checked above.
            self._workspace = auto.LocalWorkspace(work_dir=str(self.work_dir),
                                                  env_vars=dict(self.env))
            self._workspace.who_am_i()
        except auto.CommandError as error:
            raise BackendError(f"the Pulumi CLI is not logged in ({_first_error(error)}); run "
                               "`pulumi login` (Pulumi Cloud) or `pulumi login --local`, then "
                               "run this command again") from None
        except (OSError, auto.InvalidVersionError) as error:
            raise BackendError(f"cannot run the Pulumi CLI: {error}") from None
        current = self._workspace.stack()
        self._selected = current.name if current else None

    def close(self) -> None:
        """Select again the stack that was selected before (or none), whatever happened."""
        if self._workspace is None:
            return
        from pulumi import automation as auto
        try:
            if self._selected:
                self._workspace.select_stack(self._selected)
            else:
                self._workspace.pulumi_command.run(["stack", "unselect"], str(self.work_dir), {})
        except auto.CommandError as error:
            self.report(f"warning: could not select stack {self._selected or '(none)'} again "
                        f"({_first_error(error)}); check `pulumi stack --show-name` before a "
                        "bare `pulumi up`")

    def _stack(self, name: str):
        if name not in self._stacks:
            from pulumi import automation as auto
            if self._workspace is None:
                self.prepare([name])
            try:
                self._stacks[name] = auto.Stack.select(name, self._workspace)
            except auto.StackNotFoundError:
                raise BackendError(f"there is no stack {name!r} in the backend you are logged in "
                                   f"to (pulumi whoami -v); create and deploy it with `pulumi "
                                   f"stack init {name} && pulumi up -s {name}`") from None
            except auto.CommandError as error:
                raise BackendError(f"cannot select stack {name!r}: {_first_error(error)}") from None
        return self._stacks[name]

    def outputs(self, stack: str) -> dict:
        return {key: output.value for key, output in self._call(stack, "outputs").items()}

    def config(self, stack: str) -> dict[str, str]:
        return {key: value.value for key, value in self._call(stack, "get_all_config").items()}

    def set_config(self, stack: str, values: dict[str, str | None]) -> None:
        from pulumi import automation as auto
        removed = [key for key, value in values.items() if value is None]
        kept = {key: auto.ConfigValue(value=value) for key, value in values.items()
                if value is not None}
        if kept:
            self._call(stack, "set_all_config", kept)
        if removed:
            self._call(stack, "remove_all_config", removed)

    def _call(self, stack: str, method: str, *args):
        from pulumi import automation as auto
        try:
            return getattr(self._stack(stack), method)(*args)
        except auto.CommandError as error:
            raise BackendError(f"the Pulumi CLI failed on stack {stack}: "
                               f"{_first_error(error)}") from None

    def update(self, stack: str) -> None:
        from pulumi import automation as auto
        lines: list[str] = []

        def out(line: str) -> None:
            lines.append(line)
            self.report(line)
        try:
            self._stack(stack).up(on_output=out, on_error=out)
        except auto.ConcurrentUpdateError:
            raise UpdateFailed(failures.CONCURRENT, error_lines(lines),
                               "the backend refused to start this update") from None
        except auto.CommandError:
            # What it left is told by its output alone (failures.pulumi_failure).
            kind, evidence = failures.pulumi_failure(lines)
            raise UpdateFailed(kind, error_lines(lines), evidence) from None

    def session(self, stack: str) -> boto3.Session:
        """The stack's own AWS account and region: its aws:profile and aws:region."""
        if stack not in self._sessions:
            config = self.config(stack)
            try:
                self._sessions[stack] = boto3.Session(
                    profile_name=config.get("aws:profile") or None,
                    region_name=config.get("aws:region") or None)
            except BotoCoreError as error:
                raise BackendError(f"{stack}'s AWS settings (aws:profile, aws:region) do not "
                                   f"work: {error}") from None
        return self._sessions[stack]

    def client(self, stack: str, service: str):
        return self.session(stack).client(service)

    def check_smoke_profile(self) -> None:
        """--smoke-profile must name a profile of the AWS config or credentials files."""
        if self.smoke_profile is None:
            return
        try:
            boto3.Session(profile_name=self.smoke_profile)
        except BotoCoreError as error:  # ProfileNotFound, or a config file it cannot read
            raise BackendError(f"--smoke-profile {self.smoke_profile}: {error}; name a profile "
                               "of your AWS config (aws configure list-profiles lists them) "
                               "that may invoke the stages") from None

    def smoke_session(self, stack: str) -> boto3.Session:
        """The smoke checks' AWS session for the stack: the --smoke-profile, in the stack's
        own aws:region (the stage's region is what the signature is scoped to); without
        it, the stack's own session."""
        if self.smoke_profile is None:
            return self.session(stack)
        if stack not in self._smoke_sessions:
            try:
                self._smoke_sessions[stack] = boto3.Session(
                    profile_name=self.smoke_profile,
                    region_name=self.config(stack).get("aws:region") or None)
            except BotoCoreError as error:
                raise BackendError(f"--smoke-profile {self.smoke_profile}: {error}") from None
        return self._smoke_sessions[stack]

    def caller(self, stack: str) -> SmokeIdentity:
        session = self.smoke_session(stack)
        if self.smoke_profile is not None:
            source = f"profile {self.smoke_profile!r}, --smoke-profile"
        else:
            profile = self.config(stack).get("aws:profile")
            source = (f"{stack}'s aws:profile {profile!r}" if profile else
                      f"the default AWS credentials; {stack} sets no aws:profile")
        try:
            credentials = session.get_credentials()
            # An SSO or assume-role profile fetches its keys only when they are first
            # used: fetch them now, so an expired SSO session or a role it may not assume
            # refuses the command before anything changes, not the check after an update.
            if credentials is not None:
                credentials.get_frozen_credentials()
        except (BotoCoreError, ClientError) as error:
            raise BackendError(f"the AWS credentials of {source} cannot be read: {error}") \
                from None
        if credentials is None:
            raise BackendError(f"no AWS credentials in {source} to sign {stack}'s smoke "
                               "check with")
        return SmokeIdentity(credentials, session.region_name or "us-east-1", source)

    def sts_client(self, stack: str, identity: SmokeIdentity):
        return self.smoke_session(stack).client("sts")

    def pins_location(self, stack: str) -> str:
        return f"Pulumi.{stack}.yaml"

    def served_definition(self, stack: str, outputs: dict) -> ServedDefinition:
        """GetExport of the stack's stage: "exports a deployed version of a RestApi", the
        deployment the stage serves. OpenAPI 3 as JSON, with extensions=apigateway (each
        method's x-amazon-apigateway-integration and request validator, so a hash of it
        covers what the methods call; the contract gate ignores extensions)."""
        api, stage = outputs.get("restApiId"), outputs.get("stage")
        deployment = self.stage(stack, outputs).get("deploymentId", "")
        with aws_errors(f"exporting stage {stage} of the REST API {api} (GetExport oas30)"):
            export = self.client(stack, "apigateway").get_export(
                restApiId=api, stageName=stage, exportType="oas30",
                parameters={"extensions": "apigateway"}, accepts="application/json")
            return ServedDefinition(deployment, export["body"].read())

    def account_cli(self, stack: str) -> str:
        """The AWS CLI in the stack's own account and region (its aws:profile, aws:region)."""
        config = self.config(stack)
        return " ".join(["aws", *(["--profile", config["aws:profile"]]
                                  if config.get("aws:profile") else []),
                         *(["--region", config["aws:region"]]
                           if config.get("aws:region") else [])])

    def serving_hint(self, stack: str, outputs: dict, aws: str | None = None) -> str:
        # The stage is in the stack's own account and region.
        aws = aws or self.account_cli(stack)
        return (f"`pulumi stack export -s {stack}` shows what its completed steps recorded (a "
                f"step cut short is in pending_operations), `pulumi refresh -s {stack}` reads "
                "it from AWS; or " + super().serving_hint(stack, outputs, aws))

    def after_change(self, stack: str) -> str:
        name = self.pins_location(stack)
        return (f"commit {name}: it holds {stack}'s pins and history, and the program refuses "
                f"to update {stack} without them (git add {name} && git commit -m "
                f"'{stack}: promotion pins')")


def _first_error(error: Exception) -> str:
    """The CLI's first error line, from a CommandError's text (code, stdout, stderr)."""
    text = str(error).strip()
    lines = [line[line.index("error:"):] for line in text.splitlines() if "error:" in line]
    return lines[0] if lines else text.splitlines()[-1] if text else repr(error)
