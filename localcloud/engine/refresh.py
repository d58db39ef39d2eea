"""What `pulumi refresh` does before a deploy: read back every resource the stack's state
records, and drop from the state those the emulator no longer has, so the deploy creates
them again instead of trusting a state file that describes a cloud that is gone (an
emulator reset, a resource deleted with boto3 or the AWS CLI).

The engine does the same: a provider's Read that finds no resource returns an empty id,
and the refresh step then removes it from the state (pulumi/pulumi,
pkg/resource/deploy/step.go, `RefreshStep.Apply`: "If the ID is blank treat this as a
delete"), whatever its options: `retainOnDelete` and `protect` govern deletes, not reads.
So a retained resource the state holds (the stage's current Deployment, the uploaded
archive) is created again like any other. Only existence is read back: a resource that is
there but changed behind the deploy's back is left as it is.
"""
from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.engine.registry import KINDS
from localcloud.engine.state import ResourceRecord, StackState
from localcloud.kinds import Cloud, DeployError


def refresh(state: StackState, cloud: Cloud) -> tuple[StackState, list[ResourceRecord]]:
    """The state without the resources the emulator no longer has, and those resources."""
    kept, gone = [], []
    for record in state.resources:
        kind = KINDS.get(record.type)
        if kind is None:  # the deploy names a type it cannot handle; keep it for that
            kept.append(record)
            continue
        try:
            there = kind.exists(cloud, record.id, record.inputs)
        except (ClientError, BotoCoreError) as err:
            raise DeployError(f"{record.type} {record.name!r}: the emulator could not say "
                              f"whether it still has it: {err}") from None
        (kept if there else gone).append(record)
    return StackState(stack=state.stack, outputs=state.outputs, resources=kept), gone
