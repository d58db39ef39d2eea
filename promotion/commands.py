"""promote, rollback, release and history: decide (promotion.decisions), check before
anything changes that the smoke checks' identity may call every stage they will call,
then apply through a backend; check the target after the update and put it back if it
fails."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Callable

from infra.naming import archive_key
from promotion import decisions, failures, identity
from promotion.backends import Backend, BackendError, UpdateFailed
from promotion.decisions import Pins, Refusal
from promotion.smoke import stage_base_url

Report = Callable[[str], None]


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def promote(backend: Backend, source: str, target: str, skip_smoke: bool = False,
            allow_from_production: bool = False, report: Report = print) -> None:
    source_outputs, target_outputs = backend.outputs(source), backend.outputs(target)
    change = decisions.plan_promotion(
        source, target, source_outputs, backend.config(source), target_outputs,
        backend.config(target), backend.retained_deployments(source), now(),
        allow_from_production, backend.deploy_hint)
    if change is None:
        report(f"{target} already serves what {source} serves; nothing to promote")
        return
    refuse_unless_source_runs_its_archive(backend, source, source_outputs, change.pins)
    if skip_smoke:
        report(f"--skip-smoke: no smoke check is sent (not the identity check, not {source}'s "
               f"before the update, not {target}'s after it); {target}'s code is still "
               "checked against the pinned archive")
    else:
        check_smoke_identity(backend, {source: source_outputs, target: target_outputs},
                             report, must_answer=source)
    report(change.summary)
    apply(backend, change, report, check_code=True, smoke=not skip_smoke)


def check_smoke_identity(backend: Backend, stages: dict[str, dict], report: Report,
                         must_answer: str | None = None) -> None:
    """Before anything changes, send each stage the signed GET its smoke checks will send,
    as the identity they will sign with. A stage that refuses the identity (a 403, but not
    the one for a path it does not serve) refuses the command with one message (the
    identity, the stages, the fixes). Credentials that cannot even be read (an expired SSO
    session...) refuse it too. `must_answer` (a promotion's source)
    must also answer 200: that is its smoke check. Another stage that fails otherwise is
    only reported: the change may be what mends it, and its check after the update decides.
    A stage not deployed yet has no URL to check; its check after the update is the first."""
    results = {}
    for stack, outputs in stages.items():
        if not stage_base_url(outputs):
            report(f"{stack} has no stageUrl output yet (not deployed): the identity its smoke "
                   "check signs with is first tried after its update")
            continue
        try:
            backend.caller(stack)
        except BackendError as error:
            raise Refusal(f"{error}; nothing was changed") from None
        results[stack] = backend.smoke_check(stack, outputs)
    refused = [backend.refused(stack, stages[stack], result)
               for stack, result in results.items() if result.identity_refused]
    if refused:
        raise Refusal(identity.refusal_message(refused))
    if must_answer in results and not results[must_answer].passed:
        raise Refusal(f"{must_answer} does not answer the smoke check "
                      f"({results[must_answer]}); nothing was changed. Fix {must_answer} first, "
                      "or pass --skip-smoke to promote anyway")
    for stack, result in results.items():
        report(f"smoke check: {stack} answers 200" if result.passed else
               f"smoke check: {stack} fails now ({result}); going on: its check after the "
               "update decides")


def refuse_unless_source_runs_its_archive(backend: Backend, source: str, outputs: dict,
                                          pins: Pins) -> None:
    """The target is checked against the pinned code hash after its update; that proves it
    runs the source's bytes only if the source itself runs the archive that hash names."""
    mismatch = decisions.code_mismatch(backend.served_code(source, outputs), pins.code_hash)
    if mismatch:
        raise Refusal(f"{source} does not run the archive its codeHash output names "
                      f"({mismatch}); nothing was changed. It was deployed by an earlier "
                      "version of this program (which named archives by their files), or its "
                      f"function was changed outside it: deploy {source} again "
                      f"({backend.deploy_hint.format(stack=source)}), then promote")


def rollback(backend: Backend, stack: str, to: str | None, skip_smoke: bool = False,
             report: Report = print) -> None:
    outputs = backend.outputs(stack)
    change = decisions.plan_rollback(
        stack, outputs, backend.config(stack),
        backend.retained_deployments(stack), to, now(),
        hint=f"python -m promotion history --stack {{stack}}{backend.suffix}")
    before_change(backend, stack, outputs, skip_smoke, report)
    report(change.summary)
    apply(backend, change, report, smoke=not skip_smoke)


def release(backend: Backend, stack: str, skip_smoke: bool = False,
            report: Report = print) -> None:
    change = decisions.plan_release(stack, backend.config(stack))
    before_change(backend, stack, backend.outputs(stack), skip_smoke, report)
    report(change.summary)
    apply(backend, change, report, smoke=not skip_smoke)


def before_change(backend: Backend, stack: str, outputs: dict, skip_smoke: bool,
                  report: Report) -> None:
    """A command that changes one stack: its identity check, or the word that none is sent."""
    if skip_smoke:
        report(f"--skip-smoke: no smoke check is sent (not the identity check, not {stack}'s "
               "after the update)")
    else:
        check_smoke_identity(backend, {stack: outputs}, report)


def history(backend: Backend, stack: str, report: Report = print) -> None:
    lines = decisions.history_lines(stack, backend.config(stack), backend.outputs(stack))
    if not lines:
        raise Refusal(f"{stack} has not been deployed yet")
    report(f"what {stack} has served, newest first (* = now; rollback --to takes #N, "
           "a deployment id, or ID:VERSION):")
    for line in lines:
        report(f"  {line}")


def apply(backend: Backend, change: decisions.ConfigChange, report: Report,
          check_code: bool = False, smoke: bool = True) -> None:
    """Write the new pins, update, check the stage (its smoke check unless `smoke` is
    off, and, with `check_code`, that its alias runs the very bytes the pinned code hash
    names); on any failure leave the stack in a state the message names, with its
    previous pins where they can be deployed again."""
    stack = change.stack
    before = backend.config(stack)
    # The version the alias serves now: a restore points it back at exactly that one,
    # rather than publishing the same code again as a new version.
    previous = backend.outputs(stack)
    served = str(previous.get("functionVersion") or "")
    backend.set_config(stack, change.values())
    try:
        backend.update(stack)
    except UpdateFailed as failure:
        raise BackendError(failed_update(backend, change, before, failure, served,
                                         smoke, previous)) from None
    outputs = backend.outputs(stack)
    result = backend.smoke_check(stack, outputs) if smoke else None
    if result is not None and not result.passed:
        told = str(result)
        if result.identity_refused:  # the identity, not the stage (e.g. deployed just now)
            told = backend.refused(stack, outputs, result).sentence() + \
                ", or pass --smoke-profile NAME"
        raise BackendError(f"{stack} was updated but fails its smoke check ({told}); "
                           + restore(backend, change, before, served, smoke, previous))
    if check_code and change.pins is not None:
        mismatch = decisions.code_mismatch(backend.served_code(stack, outputs),
                                           change.pins.code_hash)
        if mismatch:
            raise BackendError(
                f"{stack} was updated but does not run the pinned archive ({mismatch}): "
                f"{archive_key(change.pins.code_hash)} in the artifacts bucket holds other "
                "bytes than its name says (it was replaced outside this program); "
                + restore(backend, change, before, served, smoke, previous))
    history = decisions.record_version(change.history, str(outputs.get("functionVersion") or ""))
    if history is not None:
        backend.set_config(stack, {decisions.HISTORY: json.dumps(list(history))})
    function, alias_version = outputs.get("functionName"), str(outputs.get("functionVersion") or "")
    if function and alias_version:
        pruned = backend.prune_versions(stack, function, list(history or change.history),
                                        alias_version)
        if pruned:
            report(f"deleted unused published versions of {function}: {', '.join(pruned)}")
    report(f"done: {change.summary}")
    report(backend.after_change(stack))


def restore_pins(change: decisions.ConfigChange, before: dict[str, str],
                 served: str = "") -> tuple[dict, Pins | None]:
    """The config to put back, and the pins it deploys (None: it cannot be deployed again
    without the checkout the stack ran before). A stack that had no pins before is pinned
    to what it served then, from the "initial" entry of the history. `served` is the
    version the alias pointed at before: the restore points it there again."""
    values, pins = decisions.previous_values(before), Pins.of_config(before)
    if pins.complete:
        if served and not pins.function_version:
            pins = Pins(pins.deployment_id, pins.code_hash, served)
            values = {**values, decisions.PINNED_VERSION: served}
        return values, pins
    initial = [e for e in change.history if e.get("action") == "initial"]
    if not initial:
        return values, None
    pins = Pins.of_entry(initial[0])
    return decisions.ConfigChange(change.stack, pins, tuple(initial), "").values(), pins


def restore(backend: Backend, change: decisions.ConfigChange, before: dict[str, str],
            served: str = "", smoke: bool = True, outputs: dict | None = None) -> str:
    """Put the previous pins back and deploy them; what that did, as far as it is known.
    `outputs`: the stack's outputs before the change (for the commands that tell what it
    serves, should that stay unknown)."""
    stack, where = change.stack, backend.pins_location(change.stack)
    values, pins = restore_pins(change, before, served)
    backend.set_config(stack, values)
    said = dict(where=where, deploy=backend.deploy_hint.format(stack=stack),
                find_out=backend.serving_hint(stack, outputs or backend.outputs(stack)))
    if pins is None:
        return failures.restore_text(stack, label=None, **said)
    try:
        backend.update(stack)
    except UpdateFailed as again:
        return failures.restore_text(stack, label=pins.label(), restore_error=again.detail,
                                     **said)
    if not smoke:
        return failures.restore_text(stack, label=pins.label(), smoke_passed=None, **said)
    still = backend.smoke_check(stack, backend.outputs(stack))
    return failures.restore_text(stack, label=pins.label(), smoke_passed=still.passed,
                                 smoke_said=str(still), **said)


def failed_update(backend: Backend, change: decisions.ConfigChange, before: dict[str, str],
                  failure: UpdateFailed, served: str = "", smoke: bool = True,
                  outputs: dict | None = None) -> str:
    """The message of an update that failed. Where nothing changed (failures.NOTHING_CHANGED,
    known from the update's own evidence) the previous config is put back; otherwise the
    previous pins are deployed again (`restore`)."""
    stack, where = change.stack, backend.pins_location(change.stack)
    said = failures.failure_text(failure.kind, stack, failure.detail, failure.evidence, where)
    if failure.kind in failures.NOTHING_CHANGED:
        backend.set_config(stack, decisions.previous_values(before))
        return said
    return f"{said}; " + restore(backend, change, before, served, smoke, outputs)
