"""What one stack reads of another's outputs, checked: the API owner's, and a production
stack's own last outputs (its pins must not vanish silently). Pure, so tests call it."""
from __future__ import annotations

from typing import Mapping

# What every stage needs from the stack that owns the shared REST API.
OWNER_OUTPUTS = ("restApiId", "executionArn", "definitionHash", "artifactBucket",
                 "apiAuthorization")
PIN_OUTPUT = "pins"
# While a canary release runs: its deployment, code, share, start, alias and version.
CANARY_OUTPUT = "canary"
# Exported by the owner only (its stack name): every stage re-exports the API's outputs.
OWNER_MARKER = "apiOwnerStack"
EMPTY = '""'


def owner_output_problem(outputs: Mapping[str, object], api_stack: str, stack: str,
                         production: bool) -> str | None:
    """Why the owner's outputs cannot serve this stack, or None."""
    owner = api_stack.rsplit("/", 1)[-1]
    if not outputs:
        return (f"Pulumi.{stack}.yaml references the API owner stack {api_stack!r} "
                "(user-service:apiStack), which has no outputs: it is not deployed yet, or it "
                f"is not the stack that owns the API. Deploy it first with `pulumi up -s {owner}`, "
                "or set apiStack to the stack that has apiOwner: true")
    missing = [key for key in (*OWNER_OUTPUTS, OWNER_MARKER) if not outputs.get(key)]
    if missing:
        return (f"Pulumi.{stack}.yaml references {api_stack!r} as the API owner "
                f"(user-service:apiStack), but that stack lacks the outputs {', '.join(missing)}: "
                "it does not own the shared REST API, or it was deployed by an older version of "
                f"this program. Set apiStack to the stack with apiOwner: true, or run "
                f"`pulumi up -s {owner}` with this checkout first")
    if production and outputs.get("apiAuthorization") != "AWS_IAM":
        return (f"Pulumi.{stack}.yaml is a production stack, but the shared API of {api_stack!r} "
                f"has apiAuthorization {outputs.get('apiAuthorization')!r}: its methods need no "
                "authorization, so anyone who can reach the URL could read and change every "
                f"user. Set user-service:apiAuthorization to AWS_IAM in Pulumi.{owner}.yaml and "
                f"`pulumi up -s {owner}` first")
    return None


def pins_of(deployment_id: str | None, code_hash: str | None, version: str | None) -> dict:
    """The pins a stack runs with, as it exports them ({} when it runs its own)."""
    if not deployment_id:
        return {}
    return {"deploymentId": deployment_id, "codeHash": code_hash or "",
            "functionVersion": version or ""}


def dropped_pins_problem(last_outputs: Mapping[str, object], pins: dict, stack: str) -> str | None:
    """A production stack whose last update ran pinned must not be updated without pins:
    that would silently serve a fresh Deployment and the checkout's code."""
    last = last_outputs.get(PIN_OUTPUT) if last_outputs else None
    if not last or not isinstance(last, Mapping):
        return None
    if pins:
        same = (pins["deploymentId"], pins["codeHash"]) == (last.get("deploymentId"),
                                                              last.get("codeHash"))
        if same and last.get("functionVersion") and not pins["functionVersion"]:
            return (f"{stack} last ran version {last['functionVersion']} of the promoted code "
                    f"(a rollback's pin), but Pulumi.{stack}.yaml no longer has "
                    "promotedFunctionVersion: this update would silently move the alias to "
                    f"another version. Restore the committed Pulumi.{stack}.yaml, or set it "
                    f"again: pulumi config set user-service:promotedFunctionVersion "
                    f"{last['functionVersion']} -s {stack}")
        return None
    commands = "; ".join(
        f"pulumi config set user-service:{key} {last.get(field) or EMPTY} -s {stack}"
        for key, field in (("promotedDeploymentId", "deploymentId"),
                           ("promotedCodeHash", "codeHash"),
                           ("promotedFunctionVersion", "functionVersion")))
    return (f"{stack} last ran the promoted deployment {last.get('deploymentId')} with code "
            f"{str(last.get('codeHash'))[:12]}…, but Pulumi.{stack}.yaml has no pins "
            "(promotedDeploymentId, promotedCodeHash): this update would silently replace what "
            f"{stack} serves. Restore the committed Pulumi.{stack}.yaml (git checkout "
            f"Pulumi.{stack}.yaml), or set the pins again: {commands}")
