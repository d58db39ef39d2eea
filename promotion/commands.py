"""promote, rollback and history: decide (promotion.decisions), then apply through a
backend, putting the target back as it was if the update fails."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import pulumi

from infra import archive
from promotion import decisions
from promotion.backends import Backend, BackendError, pins_of, smoke_check


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def checkout_code_hash() -> str:
    return archive.code_hash(archive.read_handler_files())


def apply(backend: Backend, change: decisions.ConfigChange, report: Callable[[str], None]) -> None:
    before = pins_of(backend.config(change.stack))
    backend.set_config(change.stack, change.values())
    try:
        backend.update(change.stack)
    except Exception as error:  # noqa: BLE001 -- any failure: put the stack back
        backend.set_config(change.stack, before)
        if not isinstance(error, pulumi.RunError):
            # The program refuses before declaring anything; other failures may have
            # changed part of the stack, so deploy the old pins again.
            try:
                backend.update(change.stack)
            except Exception as again:  # noqa: BLE001
                raise BackendError(f"updating {change.stack} failed ({error}); restoring its "
                                   f"previous pins failed too ({again}); run the update again"
                                   ) from None
        raise BackendError(f"updating {change.stack} failed, so it was left as it was: {error}"
                           ) from None
    report(f"done: {change.summary}")


def promote(backend: Backend, source: str, target: str, skip_smoke: bool,
            report: Callable[[str], None] = print) -> None:
    source_outputs = backend.outputs(source)
    change = decisions.plan_promotion(
        source, target, source_outputs, backend.outputs(target), backend.config(target),
        backend.retained_deployments(source), checkout_code_hash(), now())
    if change is None:
        report(f"{target} already serves what {source} serves; nothing to promote")
        return
    if not skip_smoke:
        url = source_outputs.get("stageUrl")
        problem = smoke_check(url) if url else "it has no stageUrl output"
        if problem:
            raise decisions.Refusal(f"{source} does not answer the smoke check (GET "
                                    f"{url}/users): {problem}; fix {source} first, or pass "
                                    "--skip-smoke to promote anyway")
        report(f"smoke check: {url}/users answers 200")
    report(change.summary)
    apply(backend, change, report)


def rollback(backend: Backend, stack: str, to: str | None,
             report: Callable[[str], None] = print) -> None:
    change = decisions.plan_rollback(
        stack, backend.outputs(stack), backend.config(stack),
        backend.retained_deployments(stack), to, checkout_code_hash(), now())
    report(change.summary)
    apply(backend, change, report)


def history(backend: Backend, stack: str, report: Callable[[str], None] = print) -> None:
    lines = decisions.history_lines(stack, backend.config(stack), backend.outputs(stack))
    if not lines:
        raise decisions.Refusal(f"{stack} has not been deployed yet")
    report(f"deployments {stack} has served, newest first (* = current):")
    for line in lines:
        report(f"  {line}")
