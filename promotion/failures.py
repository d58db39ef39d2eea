"""What a failed update left behind, as far as the evidence tells, and what may be said of
it: pure functions, the same for real stacks and the local cloud.

Pulumi saves a stack's state step by step (pulumi/pulumi pkg/backend/snapshot.go): after a
failure, each completed step is in the state, and the stack serves a mix of old and new that
nobody has checked. Its outputs are most likely still those of the last update that
finished (a failed run does not reach register_outputs), so they do not tell either. So
"nothing was changed" is said only where it is known that no step ran:
- CONCURRENT: another update held the stack, and the backend refused to start this one;
- REFUSED: the update's own output proves it. From the Pulumi CLI: it printed no resource
  step (no creating, updating, deleting, replacing, importing or discarding, done, failed or
  interrupted: pkg/backend/display/progress.go), its closing summary is there (the engine
  prints it after every update, failed ones too: pkg/engine/deployment.go) and counts no
  change, and every error is the program's own (a diagnostic of pulumi:pulumi:Stack, or of
  a stack reference it read): the program stopped before it registered any change. From
  the local cloud: its engine began no step.
Otherwise PARTIAL (steps were applied: the summary counts them, or the local state holds
them) or UNKNOWN (a step may have run: one was printed or begun, or the output is cut short).
"""
from __future__ import annotations

import re

CONCURRENT, REFUSED, PARTIAL, UNKNOWN = "concurrent", "refused", "partial", "unknown"
NOTHING_CHANGED = (CONCURRENT, REFUSED)

# A resource step's line in the CLI's progress output, e.g.
# " ~  aws:apigateway:Stage prod updating (0s)" or " +  aws:lambda:Alias live **creating failed**".
STEP_LINE = re.compile(
    r"\b[\w.-]+:[\w/.-]*:[\w.-]+\s+\S+\s+(?:\*\*)?(?:creating|created|updating|updated|"
    r"deleting|deleted|replacing|replaced|importing|imported|discarding|discarded)\b")
# The engine's closing summary: "Resources:" then "+ 1 created", "~ 2 updated", "3 unchanged"...
SUMMARY = "Resources:"
APPLIED_STEP = re.compile(r"^\s*\S*\s*(\d+) (created|updated|deleted|replaced|imported)\b")
# A diagnostic's header: "  pulumi:pulumi:Stack (user-service-prod):", "  aws:lambda:Alias (live):"
DIAGNOSTIC_OF = re.compile(r"^\s+([\w.-]+:[\w/.-]*:[\w.-]+) \(.*\):\s*$")
ROOT_STACK = "pulumi:pulumi:Stack"
# Errors that change nothing: the program's own, and a stack reference's read.
CHANGES_NOTHING = frozenset({ROOT_STACK, "pulumi:pulumi:StackReference"})


def steps_applied(lines: list[str]) -> int:
    """How many resource steps an update's output says it applied (its Resources: block)."""
    count, in_summary = 0, False
    for line in lines:
        if line.strip() == SUMMARY:
            in_summary = True
            continue
        if in_summary:
            match = APPLIED_STEP.match(line)
            if match:
                count += int(match.group(1))
            elif line.strip() and "unchanged" not in line:
                in_summary = False
    return count


def erring_resources(lines: list[str]) -> list[str]:
    """The types whose diagnostics hold an error, in the order the CLI lists them."""
    erring, current, in_diagnostics = [], None, False
    for line in lines:
        if line.strip() == "Diagnostics:":
            in_diagnostics = True
            continue
        if in_diagnostics and line.strip() in (SUMMARY, "Outputs:"):
            in_diagnostics = False
        if not in_diagnostics:
            continue
        header = DIAGNOSTIC_OF.match(line)
        if header:
            current = header.group(1)
        elif "error:" in line and current and current not in erring:
            erring.append(current)
    return erring


def pulumi_failure(lines: list[str]) -> tuple[str, str]:
    """(kind, how it is known) of an `up` that failed, from the CLI's output lines."""
    applied = steps_applied(lines)
    if applied:
        return PARTIAL, (f"the CLI's summary counts {applied} applied step"
                         f"{'s' if applied > 1 else ''}, and Pulumi keeps each completed step "
                         "in the stack's state")
    printed = next((line.strip() for line in lines if STEP_LINE.search(line)), None)
    if printed:
        return UNKNOWN, f"the CLI printed a step ({printed})"
    if not any(line.strip() == SUMMARY for line in lines):
        return UNKNOWN, ("the CLI's output ends without its summary of the update (it was cut "
                         "short)")
    erring = erring_resources(lines)
    if not erring:
        return UNKNOWN, "the CLI printed no error of the program"
    if not set(erring) <= CHANGES_NOTHING:
        return UNKNOWN, "an error is a resource's (" + ", ".join(erring) + ")"
    return REFUSED, ("the CLI printed no resource step, its summary counts no change, and the "
                     f"error is the program's own ({', '.join(erring)})")


def local_failure(steps_begun: list[str], state_changed: bool) -> tuple[str, str]:
    """(kind, how it is known) of a local deploy that failed: the steps its engine began
    (each "ACTION TYPE NAME"), and whether its recorded state differs from before."""
    if not steps_begun:
        return REFUSED, "the local cloud's engine began no step"
    first = f"the local cloud's engine began {len(steps_begun)} step" + \
        ("s" if len(steps_begun) > 1 else "") + f", the first: {steps_begun[0]}"
    if state_changed:
        return PARTIAL, first + "; its state records what completed"
    return UNKNOWN, first + "; its state records none completed, the last may have been cut short"


# --- what is said ---------------------------------------------------------------------

def failure_text(kind: str, stack: str, detail: str, evidence: str, where: str) -> str:
    """The first part of the message of a failed update: what it left, and how that is
    known. For PARTIAL and UNKNOWN, what was done about it follows (`restore_text`)."""
    if kind == CONCURRENT:
        return (f"another update of {stack} is in progress ({detail}); nothing was changed and "
                f"{where} is as it was. Wait for that update to finish (pulumi stack history "
                f"-s {stack} shows it), then run this command again")
    if kind == REFUSED:
        return (f"the update of {stack} stopped before it changed anything ({detail}); "
                f"{stack} serves what it served ({evidence}) and {where} is as it was. Fix the "
                "cause, then run this command again")
    if kind == PARTIAL:
        return f"the update of {stack} failed partway ({detail}; {evidence})"
    return (f"the update of {stack} failed ({detail}), and whether any of its steps were "
            f"applied is not known ({evidence})")


def restore_text(stack: str, where: str, deploy: str, find_out: str, *, label: str | None,
                 restore_error: str | None = None, smoke_passed: bool | None = None,
                 smoke_said: str = "") -> str:
    """What putting the previous pins back did. `label`: those pins (None: there were none
    to deploy); `restore_error`: why deploying them failed; then the smoke check after it:
    `smoke_passed` (None: not sent, --skip-smoke) and what it said. Nothing is said of what
    the stack serves beyond what a finished update, or a smoke check, has shown."""
    unknown = f"what {stack} serves now is not known: {find_out}"
    if label is None:
        return (f"{stack} had no pins before and nothing recorded what it served, so it was not "
                f"deployed again; {unknown}. Its config in {where} is as it was; run `{deploy}` "
                f"from the commit {stack} was deployed from, or fix the cause and run this "
                "command again")
    if restore_error is not None:
        return (f"putting back its previous pins ({label}) failed too ({restore_error}); "
                f"{unknown}. The previous pins are in {where}; fix the cause, then run "
                f"`{deploy}` to deploy them")
    state = ("(no smoke check: --skip-smoke)" if smoke_passed is None else
             f"and its smoke check passes ({smoke_said})" if smoke_passed else
             f"but its smoke check fails ({smoke_said})")
    return f"it was rolled back to its previous pins ({label}) {state}; {where} holds those pins"
