"""The health rule a canary is judged by: pure, one for AWS and the local cloud.

What is counted over the bake window (promotion.metrics reads it from CloudWatch): API
Gateway's requests and 5XX answers of the canary and of the base release, and Lambda's
invocations and errors of the alias `canary` and of `live`; plus the smoke checks sent to
the stage during the bake.

- A canary error rate over the base's by more than `max_error_rate` percentage points, in
  API Gateway's 5XX or in Lambda's errors: abort at once. "At once" means before the
  canary has its `min_requests`: its errors are then counted against that many requests,
  so a few early requests are not judged alone, yet a canary whose errors alone exceed
  the threshold of the minimum sample is stopped without waiting for the deadline.
- A smoke check of the stage that fails: abort at once (the stage must answer).
- Before the deadline, anything else: keep baking.
- At the deadline, fewer than `min_requests` canary requests: abort, as too few to judge.
  AWS documents Lambda's per-alias dimensions (FunctionName, Resource), but not the Stage
  value under which API Gateway counts a canary's requests (`{stage}/Canary` is read). If
  API Gateway counted none while the alias `canary` ran at least `min_requests` times,
  the abort says so: the canary's 5XX went uncounted too, so it cannot complete.
- Otherwise: complete.
"""
from __future__ import annotations

from dataclasses import dataclass

BAKE, COMPLETE, ABORT = "bake", "complete", "abort"


@dataclass(frozen=True)
class ReleaseCounts:
    """One release's numbers over the window: API Gateway's requests and 5XX answers, and
    its alias's Lambda invocations and errors."""
    requests: int = 0
    server_errors: int = 0
    invocations: int = 0
    function_errors: int = 0


@dataclass(frozen=True)
class Observation:
    canary: ReleaseCounts
    base: ReleaseCounts
    smoke_failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    max_error_rate: float  # percentage points the canary may exceed the base's rate by
    min_requests: int      # canary requests needed to judge it


@dataclass(frozen=True)
class Verdict:
    action: str  # BAKE, COMPLETE or ABORT
    reason: str


def rate(errors: int, total: int) -> float:
    """Errors per request, in percent (0 without requests)."""
    return 100.0 * errors / total if total else 0.0


def _excess(what: str, errors: int, total: int, base_errors: int, base_total: int,
            thresholds: Thresholds) -> str | None:
    """Why the canary's `what` rate is too high against the base's, or None."""
    if not errors:
        return None
    judged = rate(errors, max(total, thresholds.min_requests))
    base = rate(base_errors, base_total)
    if judged - base <= thresholds.max_error_rate:
        return None
    return (f"the canary's {what} rate is {rate(errors, total):.1f}% ({errors} of {total}) "
            f"against the base's {base:.1f}% ({base_errors} of {base_total}), more than "
            f"{thresholds.max_error_rate:g} percentage points over it")


def judge(seen: Observation, deadline_passed: bool, thresholds: Thresholds) -> Verdict:
    for what, errors, total, base_errors, base_total in (
            ("5XX", seen.canary.server_errors, seen.canary.requests,
             seen.base.server_errors, seen.base.requests),
            ("Lambda error", seen.canary.function_errors, seen.canary.invocations,
             seen.base.function_errors, seen.base.invocations)):
        too_high = _excess(what, errors, total, base_errors, base_total, thresholds)
        if too_high:
            return Verdict(ABORT, too_high)
    if seen.smoke_failures:
        return Verdict(ABORT, "the stage failed its smoke check during the bake: "
                              + "; ".join(seen.smoke_failures))
    requests = seen.canary.requests
    if not deadline_passed:
        return Verdict(BAKE, f"{requests} of the {thresholds.min_requests} canary requests "
                             "needed so far, no error rate over the threshold")
    if requests == 0 and seen.canary.invocations >= thresholds.min_requests:
        # Its 5XX are uncounted too: completing would pass a canary whose every answer
        # may have been a 502 (a malformed response is no Lambda error).
        return Verdict(ABORT, f"API Gateway counted none of the canary's requests, yet its "
                              f"alias ran {seen.canary.invocations} times: its 5XX rate "
                              "cannot be judged. Look in CloudWatch (AWS/ApiGateway, Count) "
                              "for the Stage value the canary's requests are counted under")
    if requests < thresholds.min_requests:
        return Verdict(ABORT, f"too few canary requests to judge: {requests} in the bake "
                              f"time, {thresholds.min_requests} needed; bake longer (--bake), "
                              "or give the canary a larger share (--canary)")
    return Verdict(COMPLETE, f"healthy: {requests} canary requests, 5XX "
                             f"{rate(seen.canary.server_errors, requests):.1f}% against the "
                             f"base's {rate(seen.base.server_errors, seen.base.requests):.1f}%, "
                             f"Lambda errors {seen.canary.function_errors} of "
                             f"{seen.canary.invocations}")
