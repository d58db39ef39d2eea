"""promote, rollback, release, history and canary releases: decide (promotion.decisions,
promotion.canary), check before anything changes that the smoke checks' identity may call
every stage they will call, then apply through a backend; check the target after the
update and put it back if it fails. A canary is deployed, baked (promotion.bake, judged
by promotion.health) and then completed or aborted, each a plain update of the stack."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from infra.naming import CANARY_ALIAS, archive_key
from promotion import canary as canaries
from promotion import contract, decisions, failures, health, identity, observe
from promotion import verify as checks
from promotion.backends import (Backend, BackendError, ServedDefinition, StageMissing,
                                UpdateFailed)
from promotion.bake import BakeSettings, Watch, bake
from promotion.decisions import Pins, Refusal
from promotion.smoke import stage_base_url, unreachable_hint

Report = Callable[[str], None]
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now() -> str:
    return datetime.now(timezone.utc).strftime(TIME_FORMAT)


@dataclass(frozen=True)
class CanaryOptions:
    """promote --canary PERCENT [--bake DURATION] [--max-error-rate P] [--min-requests N]"""
    percent: str
    bake: BakeSettings


def promote(backend: Backend, source: str, target: str, skip_smoke: bool = False,
            allow_from_production: bool = False, report: Report = print,
            canary: CanaryOptions | None = None, clock: Callable[[], float] = time.monotonic,
            pause: Callable[[float], None] = time.sleep, allow_breaking: bool = False) -> None:
    source_outputs, target_outputs = backend.outputs(source), backend.outputs(target)
    target_config = backend.config(target)
    change = decisions.plan_promotion(
        source, target, source_outputs, backend.config(source), target_outputs,
        target_config, backend.retained_deployments(source), now(),
        allow_from_production, backend.deploy_hint, backend.suffix)
    if change is None:
        report(f"{target} already serves what {source} serves; nothing to promote")
        return
    if canary is not None:  # the same checks; then the candidate goes to a canary
        change = canaries.plan_start(target, target_config, target_outputs, change.pins,
                                     canary.percent, now(), allow_from_production,
                                     backend.suffix)
        candidate = change.canary.pins
    else:
        candidate = change.pins
    refuse_unless_source_runs_its_archive(backend, source, source_outputs, candidate)
    proved, served_hash = contract_gate(backend, source, target, source_outputs,
                                        target_outputs, candidate.deployment_id,
                                        allow_breaking, report)
    change = decisions.with_definitions(change, proved, served_hash)
    if skip_smoke:
        report(f"--skip-smoke: no smoke check is sent (not the identity check, not {source}'s "
               f"before the update, not {target}'s after it); {target}'s code is still "
               "checked against the pinned archive")
    else:
        check_smoke_identity(backend, {source: source_outputs, target: target_outputs},
                             report, must_answer=source)
    report(change.summary)
    if canary is None:
        apply(backend, change, report, check_code=True, smoke=not skip_smoke)
    else:
        run_canary(backend, change, canary, skip_smoke, report, clock, pause)


def read_definition(backend: Backend, stack: str, outputs: dict, label: str,
                    fix: str) -> ServedDefinition:
    try:
        return backend.served_definition(stack, outputs)
    except BackendError as error:
        raise Refusal(f"cannot read the OpenAPI document of {label}: {error}; refused: the API "
                      f"contract cannot be checked; nothing was changed. {fix}") from None


def contract_gate(backend: Backend, source: str, target: str, source_outputs: dict,
                  target_outputs: dict, candidate: str, allow_breaking: bool,
                  report: Report) -> tuple[str, str]:
    """Compare the document of the deployment the target's stage serves with the
    candidate's (read through the source's stage, which must serve it: an export is per
    stage); refuse breaking changes unless allowed. Returns the definition hashes of the
    candidate and of what the target served ("" when it served nothing yet)."""
    deploy_source = backend.deploy_hint.format(stack=source)
    candidate_fix = (f"Deploy {source} again ({deploy_source}), then promote; rolling "
                     "back is never gated")
    target_fix = (f"`python -m promotion verify --stack {target}{backend.suffix}` shows what "
                  f"{target}'s stage serves; put it back on an entry of its history "
                  f"(`python -m promotion rollback --stack {target} --to '#N'{backend.suffix}`, "
                  "never gated), then promote")
    new_label = f"the candidate (deployment {candidate}, which {source} serves)"
    read = read_definition(backend, source, source_outputs, new_label, candidate_fix)
    if read.deployment_id != candidate:
        raise Refusal(decisions.candidate_not_served(source, candidate, read.deployment_id,
                                                     deploy_source))
    proved = contract_hash(read.document, new_label, candidate_fix)
    if not (target_outputs.get("restApiId") and target_outputs.get("stage")
            and target_outputs.get("deploymentId")):
        report(f"API contract: {target} serves no API yet, so no client of it can break")
        return proved, ""
    try:
        served = backend.served_definition(target, target_outputs)
    except StageMissing as error:  # e.g. a failed update, or an emulator that started empty
        report(f"API contract: {target} serves no API ({error}), so no client of it can break")
        return proved, ""
    except BackendError as error:
        raise Refusal(f"cannot read the OpenAPI document of the deployment {target} serves: "
                      f"{error}; refused: the API contract cannot be checked; nothing was "
                      f"changed. {target_fix}") from None
    old_label = f"the deployment {target} serves ({served.deployment_id})"
    served_hash = contract_hash(served.document, old_label, target_fix)
    verdict = contract.gate(served.document, read.document, old_label=old_label,
                            new_label=new_label, allow_breaking=allow_breaking)
    if not verdict.ok:
        raise Refusal("\n".join(verdict.lines))
    for line in verdict.lines:
        report(line)
    return proved, served_hash


def contract_hash(document, label: str, fix: str) -> str:
    """The document's definition hash; a document that cannot be read refuses, saying
    which one and what to do."""
    try:
        return contract.definition_hash(document, label)
    except contract.UnreadableDocument as error:
        raise Refusal(f"{error}; refused: the API contract cannot be checked; nothing was "
                      f"changed. {fix}") from None


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
        hint = unreachable_hint(must_answer, stages[must_answer], results[must_answer])
        raise Refusal(f"{must_answer} does not answer the smoke check "
                      f"({results[must_answer]}{hint}); nothing was changed. Fix {must_answer} "
                      "first, or pass --skip-smoke to promote anyway")
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
        hint=f"python -m promotion history --stack {{stack}}{backend.suffix}",
        suffix=backend.suffix)
    before_change(backend, stack, outputs, skip_smoke, report)
    report(change.summary)
    apply(backend, change, report, smoke=not skip_smoke)


def release(backend: Backend, stack: str, skip_smoke: bool = False,
            report: Report = print) -> None:
    change = decisions.plan_release(stack, backend.config(stack), backend.suffix)
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
    # While a canary runs, its alias holds a version no history entry names yet: prune later.
    if function and alias_version and not outputs.get("canary"):
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


# --- canary releases ----------------------------------------------------------------------

def started_at(canary: decisions.CanaryPin) -> datetime:
    try:
        return datetime.strptime(canary.started_at, TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise Refusal(f"{decisions.CANARY_STARTED} is {canary.started_at!r}, not a UTC time "
                      "such as 2026-01-31T12:00:00Z; it is written by promote --canary: "
                      "restore the stack's config, or set it to when the canary began") \
            from None


def canary_code_problem(backend: Backend, stack: str, outputs: dict,
                        canary: decisions.CanaryPin) -> str | None:
    """Why the alias canary does not run the candidate's archive, or None."""
    mismatch = decisions.code_mismatch(backend.served_code(stack, outputs, CANARY_ALIAS),
                                       canary.code_hash)
    return None if mismatch is None else (
        f"the alias {CANARY_ALIAS} does not run the candidate's archive ({mismatch}): "
        f"{archive_key(canary.code_hash)} holds other bytes than its name says")


def left_as_it_is(backend: Backend, stack: str) -> str:
    """What to run about a canary the tool leaves running."""
    suffix = backend.suffix
    return (f"the canary on {stack} stays as it is (its pins and canary pin are in "
            f"{backend.pins_location(stack)}): `python -m promotion canary status --stack "
            f"{stack}{suffix}` shows how it does; end it with `python -m promotion canary "
            f"complete --stack {stack}{suffix}` or `canary abort --stack {stack}{suffix}`")


def watch(backend: Backend, stack: str, outputs: dict, canary: decisions.CanaryPin,
          skip_smoke: bool) -> Watch:
    def smoke() -> str | None:
        if skip_smoke:
            return None
        result = backend.smoke_check(stack, outputs)
        return "" if result.passed else str(result)
    return Watch(observe=lambda: backend.observe_canary(stack, outputs, started_at(canary),
                                                        datetime.now(timezone.utc)),
                 smoke=smoke)


def run_canary(backend: Backend, change: decisions.ConfigChange, options: CanaryOptions,
               skip_smoke: bool, report: Report, clock: Callable[[], float],
               pause: Callable[[float], None]) -> None:
    """Deploy the canary (its pin in the stack's config first: a tool that dies leaves it
    there), bake it, and complete or abort it by the health rule."""
    stack, canary = change.stack, change.canary
    # The smoke checks belong to the bake, where a failure is judged and recorded.
    apply(backend, change, report, check_code=True, smoke=False)
    outputs = backend.outputs(stack)
    problem = canary_code_problem(backend, stack, outputs, canary)
    if problem:
        verdict = health.Verdict(health.ABORT, problem)
    else:
        report(f"baking the canary for {canaries.duration_text(options.bake.duration_s)} "
               f"(abort over {options.bake.thresholds.max_error_rate:g} points of error rate "
               f"above the base's; {options.bake.thresholds.min_requests} canary requests "
               "needed to judge it)")
        try:
            verdict = bake(watch(backend, stack, outputs, canary, skip_smoke), options.bake,
                           report, clock, pause)
        except KeyboardInterrupt:
            raise BackendError("the bake was interrupted; " + left_as_it_is(backend, stack)) \
                from None
        except BackendError as error:
            raise BackendError(f"{error}; " + left_as_it_is(backend, stack)) from None
    report(f"canary verdict: {verdict.action}: {verdict.reason}")
    if verdict.action == health.COMPLETE:
        complete_canary(backend, stack, skip_smoke=skip_smoke, report=report)
    else:
        abort_canary(backend, stack, verdict.reason, skip_smoke=skip_smoke, report=report)


def complete_canary(backend: Backend, stack: str, skip_smoke: bool = False,
                    report: Report = print, check_identity: bool = False) -> None:
    """The stage's deployment and the alias live move to the candidate; then the canary's
    settings, alias and permission go (the engine deletes last). One history entry."""
    config, outputs = backend.config(stack), backend.outputs(stack)
    change = canaries.plan_complete(stack, config, outputs, now(), backend.suffix)
    if check_identity and not skip_smoke:
        before_change(backend, stack, outputs, skip_smoke, report)
    report(change.summary)
    apply(backend, change, report, check_code=True, smoke=not skip_smoke)
    record_served_definition(backend, stack, report)


def record_served_definition(backend: Backend, stack: str, report: Report) -> None:
    """After a canary completes, its entry records the definition the stage then serves:
    an export is per stage, so the canary's own deployment could not be read while it was
    the canary; the stage serves it now (a deployment is frozen)."""
    outputs = backend.outputs(stack)
    try:
        served = backend.served_definition(stack, outputs)
        definition = contract.definition_hash(served.document, f"the deployment {stack} serves")
    except (BackendError, contract.UnreadableDocument) as error:
        report(f"warning: the definition {stack} serves was not recorded ({error}); "
               f"`python -m promotion verify --stack {stack}{backend.suffix}` will say so")
        return
    history = decisions.record_definition(
        tuple(decisions.parse_history(backend.config(stack))), served.deployment_id,
        definition)
    if history is not None:
        backend.set_config(stack, {decisions.HISTORY: json.dumps(list(history))})


def abort_canary(backend: Backend, stack: str, reason: str, skip_smoke: bool = False,
                 report: Report = print, check_identity: bool = False) -> None:
    """The canary's settings, alias and permission go; the stage serves its pins as it
    did throughout; the attempt and the reason are recorded."""
    config, outputs = backend.config(stack), backend.outputs(stack)
    change = canaries.plan_abort(stack, config, now(), reason, backend.suffix)
    if check_identity and not skip_smoke:
        before_change(backend, stack, outputs, skip_smoke, report)
    report(change.summary)
    if not backend.canary_deployed(stack, outputs):
        # Nothing of it reached the stack (its update failed before the alias, or the
        # local cloud restarted empty): recording the abort is all there is to do.
        backend.set_config(stack, change.values())
        report(f"done: {change.summary} (nothing of the canary was deployed, so {stack} "
               "was not updated)")
        report(backend.after_change(stack))
        return
    apply(backend, change, report, check_code=True, smoke=not skip_smoke)


def canary_status(backend: Backend, stack: str, thresholds: health.Thresholds,
                  report: Report = print) -> None:
    """What runs on the stack: its canary pin (config), the stage's canary settings
    (live), how the canary does so far, and what to run."""
    config, outputs = backend.config(stack), backend.outputs(stack)
    if not outputs:
        raise Refusal(f"{stack} has not been deployed yet")
    pin, live = canaries.running(config), backend.stage_canary(stack, outputs)
    if pin is None and live is None:
        report(f"no canary release runs on {stack}")
        return
    if pin is None:
        # An update diffs against the stack's recorded state, which never saw them: only
        # removing them (or, on AWS, an update that refreshes first) takes them off.
        remove = checks.remove_canary_settings(stack, outputs["restApiId"], outputs["stage"],
                                               observe.commands(backend, stack))
        report(f"{stack}'s stage carries canary settings its config does not (deployment "
               f"{live.get('deploymentId')}, {live.get('percentTraffic')}%): they were made "
               f"outside this tool. Remove them: {remove}")
        return
    report(f"a canary release runs on {stack}: {pin.label()} "
           f"(config: {backend.pins_location(stack)})")
    if live is None:
        report(f"  but {stack}'s stage carries no canary settings: the update that deploys "
               "it did not finish, the local cloud started again (empty since), or they were "
               "removed outside this tool; nothing serves the canary. Record it as "
               f"aborted: `python -m promotion canary abort --stack {stack}{backend.suffix}`")
        return
    report(f"  the stage serves it: deployment {live.get('deploymentId')} to "
           f"{live.get('percentTraffic')}% of the requests, with "
           f"{live.get('stageVariableOverrides') or {}}")
    seen = backend.observe_canary(stack, outputs, started_at(pin), datetime.now(timezone.utc))
    verdict = health.judge(seen, False, thresholds)
    elapsed = (datetime.now(timezone.utc) - started_at(pin)).total_seconds()
    report(f"  since it began ({canaries.duration_text(elapsed)} ago): canary "
           f"{seen.canary.requests} requests, {seen.canary.server_errors} 5XX, Lambda "
           f"{seen.canary.function_errors} errors in {seen.canary.invocations}; base "
           f"{seen.base.requests} requests, {seen.base.server_errors} 5XX, Lambda "
           f"{seen.base.function_errors} errors in {seen.base.invocations}")
    report(f"  by the health rule: {'keep baking' if verdict.action == health.BAKE else verdict.action}"
           f" ({verdict.reason})")
    report(f"  end it: `python -m promotion canary complete --stack {stack}{backend.suffix}` "
           f"or `python -m promotion canary abort --stack {stack}{backend.suffix}`")


# --- verify -------------------------------------------------------------------------------

def verify(backend: Backend, stack: str, as_json: bool = False, report: Report = print) -> int:
    """One line per check (with --json, one JSON object per line): 0 when the stack serves
    exactly its pins (or, unpinned, its last outputs), 1 on any drift. What cannot be read
    at all raises BackendError."""
    expected = observe.expected(backend, stack)
    results = checks.checks(expected, observe.observed(backend, stack, expected),
                            observe.commands(backend, stack))
    for result in results:
        report(result.as_json() if as_json else result.line())
    failed = [result.name for result in results if not result.ok]
    if not as_json:
        what = "its pins" if expected.pinned else "what its last update made"
        report(f"{stack} serves exactly {what}" if not failed else
               f"{stack} has drifted: {', '.join(failed)}")
    return 1 if failed else 0
