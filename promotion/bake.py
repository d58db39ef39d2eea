"""Watching a canary for its bake time: read the counts, send the smoke check, apply the
health rule, say how it goes, and stop at the first verdict that is not "keep baking".
The clock and the pause are given, so tests replay a bake without waiting on time."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from promotion import health
from promotion.canary import duration_text
from promotion.health import Observation, Thresholds, Verdict

DEFAULT_INTERVAL_S = 30.0


@dataclass(frozen=True)
class BakeSettings:
    duration_s: float
    thresholds: Thresholds
    interval_s: float = DEFAULT_INTERVAL_S


@dataclass(frozen=True)
class Watch:
    """What a bake looks at: the counts so far, and one smoke check (None: none is sent,
    --skip-smoke; else a failure's description, or "" when it answered 200)."""
    observe: Callable[[], Observation]
    smoke: Callable[[], str | None]


def progress(elapsed_s: float, settings: BakeSettings, seen: Observation) -> str:
    canary, base = seen.canary, seen.base
    return (f"  baked {duration_text(elapsed_s)} of {duration_text(settings.duration_s)}: "
            f"canary {canary.requests} requests, {canary.server_errors} 5XX "
            f"({health.rate(canary.server_errors, canary.requests):.1f}%), Lambda "
            f"{canary.function_errors} errors in {canary.invocations}; base {base.requests} "
            f"requests, {base.server_errors} 5XX "
            f"({health.rate(base.server_errors, base.requests):.1f}%), Lambda "
            f"{base.function_errors} errors in {base.invocations}")


def bake(watch: Watch, settings: BakeSettings, report: Callable[[str], None],
         clock: Callable[[], float] = time.monotonic,
         pause: Callable[[float], None] = time.sleep) -> Verdict:
    """Judge the canary each round until the rule completes or aborts it."""
    started = clock()
    while True:
        failure = watch.smoke()
        seen = watch.observe()
        if failure:
            seen = Observation(seen.canary, seen.base, (failure,))
        elapsed = clock() - started
        verdict = health.judge(seen, elapsed >= settings.duration_s, settings.thresholds)
        report(progress(elapsed, settings, seen))
        if verdict.action != health.BAKE:
            return verdict
        pause(max(0.0, min(settings.interval_s, settings.duration_s - elapsed)))
