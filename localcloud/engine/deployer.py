"""Deploy one stack of the real program into the emulator, the way `pulumi up --refresh`
would: drop from the stack's last state what the emulator no longer has (`refresh`), run
__main__.py under the mock runtime with mocks that create each declared resource for
real, diff against that state, and leave unchanged resources untouched, update or replace
changed ones, delete removed ones (but never retained or protected)."""
from __future__ import annotations

import hashlib
import shlex
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from botocore.exceptions import BotoCoreError, ClientError

from infra import partitions, stack_references
from localcloud.iam import callers
from localcloud.engine.partition_check import partition_problem
from localcloud.engine.program import ProgramRun, current_options, run_program
from localcloud.engine.refresh import refresh
from localcloud.engine.registry import KINDS
from localcloud.kinds import Cloud, DeployError, error_code
from localcloud.engine.stackfiles import known_stacks, project_name, read_stack_config
from localcloud.engine.state import ResourceRecord, StackState, StateStore, resource_key

STACK_REFERENCE = "pulumi:pulumi:StackReference"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALREADY_EXISTS = "ResourceAlreadyExistsException"  # CloudWatch Logs' code for a taken name
# The local cloud is a local backend: the DIY backend's organization and reference rules.
ORGANIZATION = stack_references.DIY_ORGANIZATION
# The partition the local cloud's own ARNs (moto's, its kinds', its gateway's) are in.
LOCAL_PARTITION = "aws"


def normalize(value):
    """Inputs as JSON-safe data for the state file and for diffs: an archive becomes the
    hashes of its files, so unchanged code compares equal."""
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {name: normalize(asset) for name, asset in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileAsset):
        return hashlib.sha256(Path(value.path).read_bytes()).hexdigest()
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    return value


@dataclass
class DeployResult:
    stack: str
    outputs: dict
    steps: list[tuple[str, str, str]] = field(default_factory=list)  # (action, type, name)
    curl: str | None = None  # a signed call of the stage as its local caller
    gone: list[tuple[str, str]] = field(default_factory=list)  # (type, name) the refresh dropped

    def counts(self) -> Counter:
        return Counter(action for action, _, _ in self.steps)

    def summary(self) -> str:
        counts = self.counts()
        order = ("created", "updated", "replaced", "deleted", "retained", "unchanged")
        gone = [f"{len(self.gone)} gone from the emulator"] if self.gone else []
        return ", ".join(gone + [f"{counts[a]} {a}" for a in order if counts[a]])


class EmulatorProvider(pulumi.runtime.Mocks):
    """Mocks whose answers are real resources in the emulator."""

    def __init__(self, cloud: Cloud, previous: StackState, store: StateStore,
                 on_step=lambda action, type_, name: None) -> None:
        self.cloud = cloud
        # Told of each change as it begins (before the emulator is asked), so a caller
        # knows whether a failed deploy began any.
        self.on_step = on_step
        self.previous = previous.by_key()
        self.store = store
        self.records: list[ResourceRecord] = []
        self.steps: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()  # one cloud operation at a time, in declaration order

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            identity = self.cloud.client("sts").get_caller_identity()
            return {"accountId": identity["Account"], "arn": identity["Arn"],
                    "userId": identity["UserId"], "id": identity["Account"]}, []
        if args.token == "aws:index/getPartition:getPartition":
            return partitions.provider_partition_result(self.cloud.region), []
        if args.token == "aws:index/getRegion:getRegion":
            region = self.cloud.region
            suffix = partitions.provider_partition_result(region)["dnsSuffix"]
            return {"name": region, "region": region, "id": region,
                    "endpoint": f"ec2.{region}.{suffix}", "description": region}, []
        if args.token == "aws:s3/getObjects:getObjects":
            bucket, prefix = args.args["bucket"], args.args.get("prefix") or ""
            listed = self.cloud.client("s3").list_objects_v2(
                Bucket=bucket, Prefix=prefix, MaxKeys=int(args.args.get("maxKeys") or 1000))
            return {"bucket": bucket, "prefix": prefix, "id": bucket,
                    "keys": [item["Key"] for item in listed.get("Contents", [])]}, []
        raise DeployError(f"the local cloud cannot answer the invoke {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(args.inputs["name"])
        if args.custom is False:  # components hold no cloud resource
            return None, {}
        kind = KINDS.get(args.typ)
        if kind is None:
            raise DeployError(
                f"the local cloud cannot deploy resource type {args.typ} (resource "
                f"{args.name!r}); it knows {', '.join(sorted(KINDS))}")
        options = current_options()
        inputs = normalize(dict(args.inputs))
        problem = partition_problem(args.typ, args.name, inputs, self.cloud.region)
        if problem:
            raise DeployError(problem)
        key = resource_key(args.typ, args.name)
        with self.lock:
            old = self.previous.get(key)
            try:
                action, id_, outputs = self._apply(kind, args, inputs, old, options)
            except (ClientError, BotoCoreError) as err:
                raise DeployError(f"{args.typ} {args.name!r}: the emulator refused it: {err}"
                                  + self._adoption(kind, args, inputs, options, err)) from None
            self.records.append(ResourceRecord(
                type=args.typ, name=args.name, id=id_, inputs=inputs, outputs=outputs,
                protect=options.protect, retain_on_delete=options.retain_on_delete,
                delete_before_replace=options.delete_before_replace))
            self.steps.append((action, args.typ, args.name))
        return id_, {**args.inputs, **outputs}

    def _apply(self, kind, args, inputs, old: ResourceRecord | None, options):
        cloud, raw = self.cloud, dict(args.inputs)
        if old is None or old.inputs != inputs:
            self.on_step("create" if old is None else "change", args.typ, args.name)
        if old is None:
            return ("created", *kind.create(cloud, args.name, raw))
        if old.inputs == inputs:
            return "unchanged", old.id, old.outputs
        if not kind.needs_replace(old.inputs, inputs):
            return "updated", old.id, kind.update(cloud, old.id, old.inputs, raw)
        if old.protect:
            raise DeployError(f"{args.typ} {args.name!r} is protected and this change "
                              "replaces it; unprotect it first (protect: false)")
        if options.delete_before_replace:
            kind.delete(cloud, old.id, old.inputs)
            created = kind.create(cloud, args.name, raw)
        else:
            created = kind.create(cloud, args.name, raw)
            if not old.retain_on_delete:
                kind.delete(cloud, old.id, old.inputs)
        return ("replaced", *created)

    def _adoption(self, kind, args, inputs: dict, options, err) -> str:
        """For a create AWS refuses because the resource exists already, outside the
        stack: how to adopt it (the exact `pulumi import`), or, here, to delete it."""
        id_ = kind.import_id(inputs)
        if id_ is None or not isinstance(err, ClientError) or \
                error_code(err) != ALREADY_EXISTS:
            return ""
        note = getattr(kind, "exists_note", "")
        delete = (f"AWS_SHARED_CREDENTIALS_FILE={callers.credentials_path(self.cloud.state_dir)} "
                  f"aws --profile {callers.DEPLOYER_PROFILE} --endpoint-url "
                  f"{self.cloud.endpoint_url} --region {self.cloud.region} logs "
                  f"delete-log-group --log-group-name {id_}"
                  if args.typ == LOG_GROUP else "")
        return (f". {id_} exists already, outside this stack" + (f" ({note})" if note else "")
                + ". On AWS, adopt it into the stack, then run the update again: `"
                + import_command(args.typ, args.name, id_, options.parent, options.protect,
                                 pulumi.get_stack())
                + "` (the program declares it already: no code to add)"
                + (f"; on the local cloud, which imports nothing, delete it instead: `{delete}`"
                   if delete else ""))

    def _stack_reference(self, name: str):
        # As the DIY backend answers: its rules judge the name, a stack with no stack file
        # is unknown, one never deployed here has no outputs (the program says what that
        # means: deploy the owner first).
        project = project_name()
        existing = {f"{ORGANIZATION}/{project}/{stack}": self.store.load(stack).outputs
                    for stack in known_stacks()}
        try:
            outputs = stack_references.DIY.outputs(name, project, existing)
        except stack_references.ReferenceRefused as refused:
            raise DeployError(f"stack reference {name!r}: {refused}") from None
        return name, {"name": name, "outputs": outputs, "secretOutputNames": []}

    def delete_removed(self) -> None:
        """Resources the last deploy had and this one did not declare, newest first."""
        seen = {r.key for r in self.records}
        removed = [r for r in reversed(list(self.previous.values())) if r.key not in seen]
        protected = [r for r in removed if r.protect]
        if protected:
            raise DeployError("refusing to delete protected resources: " + ", ".join(
                f"{r.type} {r.name!r}" for r in protected) + "; unprotect them first")
        for record in removed:
            if record.retain_on_delete:
                self.steps.append(("retained", record.type, record.name))
                continue
            self.on_step("delete", record.type, record.name)
            try:
                KINDS[record.type].delete(self.cloud, record.id, record.inputs)
            except (ClientError, BotoCoreError) as err:
                raise DeployError(f"deleting {record.type} {record.name!r} failed: {err}") from None
            self.steps.append(("deleted", record.type, record.name))


def import_command(type_: str, name: str, id_: str, parent_urn: str, protect: bool,
                   stack: str) -> str:
    """`pulumi import` of one resource the program declares: by its logical name, under
    its parent component (the engine's URN), protected only as the program protects it,
    and with no code printed to add (pulumi/pulumi pkg/cmd/pulumi/operations/import.go:
    --parent 'name=urn', --protect (default true), --generate-code (default true))."""
    spec = f"parent={parent_urn}"
    quoted = f"'{spec}'" if "'" not in spec else shlex.quote(spec)  # as import's help writes it
    parent = f" --parent {quoted}" if parent_urn else ""
    protection = "" if protect else " --protect=false"
    return (f"pulumi import {type_} {shlex.quote(name)} {shlex.quote(id_)}{parent}{protection}"
            f" --generate-code=false -s {shlex.quote(stack)}")


def root_cause(error: BaseException) -> BaseException:
    """The error the user can act on, from under the SDK's wrappers."""
    seen = error
    while seen is not None:
        if isinstance(seen, (DeployError, pulumi.RunError)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return error


def deploy_stack(stack: str, cloud: Cloud, store: StateStore,
                 config_overrides: dict[str, str] | None = None,
                 on_step=lambda action, type_, name: None) -> DeployResult:
    """`on_step(action, type, name)` hears of each change as it begins."""
    config = {**read_stack_config(stack), **store.config_overrides(stack),
              **(config_overrides or {})}
    partition = partitions.partition_of(cloud.region)
    if partition is None or partition.name != LOCAL_PARTITION:
        raise DeployError(
            f"stack {stack} is in {cloud.region} (partition "
            f"{partition.name if partition else 'none'}), but the local cloud emulates the "
            f"{LOCAL_PARTITION} partition only: its own ARNs are arn:{LOCAL_PARTITION}:... "
            f"Set aws:region in Pulumi.{stack}.yaml to a region of it (e.g. us-east-1) for "
            f"local runs, or deploy to AWS with `pulumi up -s {stack}`")
    previous, gone = refresh(store.load(stack), cloud)
    provider = EmulatorProvider(cloud, previous, store, on_step)
    try:
        run: ProgramRun = run_program(stack, provider, config, organization=ORGANIZATION)
        provider.delete_removed()
    except Exception as error:  # noqa: BLE001 -- re-raised as the user's error below
        # Keep what was done, as Pulumi keeps a partial update's state.
        done = {r.key for r in provider.records}
        store.save(StackState(stack=stack, outputs=previous.outputs, resources=provider.records + [
            r for r in previous.resources if r.key not in done]))
        cause = root_cause(error)
        if cause is error:
            raise
        raise cause from None
    store.save(StackState(stack=stack, outputs=run.outputs, resources=provider.records))
    return DeployResult(stack=stack, outputs=run.outputs, steps=provider.steps,
                        curl=stage_caller(cloud, store, run.outputs),
                        gone=[(r.type, r.name) for r in gone])


def stage_caller(cloud: Cloud, store: StateStore, outputs: dict) -> str | None:
    """Every stage requires SigV4: give it a local caller holding its invoke policy, with
    a profile named after the stage in {state dir}/credentials. Its curl line, or None
    for a stack that exports no caller policy."""
    if not outputs.get("invokePolicyArn"):
        return None
    stage = outputs["stage"]
    try:
        [line] = callers.ensure_stage_callers(
            cloud, store.dir, {stage: (outputs["invokePolicyArn"], outputs["stageUrl"])})
    except callers.CallerError as err:
        raise DeployError(f"stage {stage}: its local caller could not be made: {err}") from None
    return line
