"""Canary releases of a promoted stack, decided: what a canary's start, completion and
abort write to the stack's config, and what the operator typed, checked. Pure, the same
for real stacks and for the local cloud; nothing here touches a stack.

A canary runs on a stack that is pinned already (promoted once): the candidate's
deployment and code go into its canary pin, and the version its alias `live` serves is
pinned too, since the function publishes the candidate's code while the canary runs.
Completing moves the pins to the candidate (one history entry); aborting drops the canary
pin (the attempt and its reason recorded); the pins the stack served stay throughout.
"""
from __future__ import annotations

import re

from promotion.decisions import (CANARY_ABORTED, CANARY_DONE, CanaryPin, ConfigChange, Pins,
                                 Refusal, entry, is_production, parse_history)

PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,6})?")
DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
DEFAULT_BAKE = "10m"
DEFAULT_MAX_ERROR_RATE = 1.0  # percentage points over the base's error rate
DEFAULT_MIN_REQUESTS = 20


def parse_percent(text: str) -> str:
    """A canary's share of the traffic, as typed: more than 0 and less than 100 (0 would
    serve it nothing, 100 is a promotion). Returned as written, e.g. "10" or "2.5"."""
    if not PERCENT.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a percentage; give a number such as 10 or 2.5")
    if not 0 < float(text) < 100:
        raise ValueError(f"{text}% is not a canary's share: give more than 0 and less than "
                         "100 (100 is a plain promote)")
    return text.strip()


def parse_rate(text: str) -> float:
    """A percentage from 0 to 100 inclusive (an error rate)."""
    if not PERCENT.fullmatch(text.strip()) or not 0 <= float(text) <= 100:
        raise ValueError(f"{text!r} is not a percentage from 0 to 100; give e.g. 1 or 0.5")
    return float(text)


def parse_duration(text: str) -> float:
    """`30s`, `10m`, `1h`, or a sum such as `1m30s`, in seconds; more than zero."""
    match = DURATION.fullmatch(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 10m, 1h or 1m30s")
    hours, minutes, seconds = (int(group or 0) for group in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"{text!r} is no time at all; give a bake time above zero")
    return float(total)


def duration_text(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return "".join(f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"),
                                                         (seconds, "s")) if value) or "0s"


def running(config: dict[str, str]) -> CanaryPin | None:
    return CanaryPin.of_config(config)


def plan_start(target: str, config: dict[str, str], outputs: dict, candidate: Pins,
               percent: str, now: str, allow_from_production: bool = False,
               suffix: str = "") -> ConfigChange:
    """The config that starts a canary of `candidate` on `target`: its canary pin, and
    the version `live` serves pinned. Refused when a canary runs already, on a stack that
    is not a production one (unless allowed) or not pinned, or when it serves the
    candidate already."""
    current = running(config)
    if current is not None:
        raise Refusal(f"a canary release already runs on {target} ({current.label()}); end "
                      f"it first: `python -m promotion canary complete --stack {target}"
                      f"{suffix}` or `canary abort --stack {target}{suffix}`")
    if not is_production(config) and not allow_from_production:
        raise Refusal(f"{target} is not a production stack: a canary release is for "
                      "production traffic; pass --allow-from-production to run one on "
                      f"{target} anyway, or promote without --canary")
    pins = Pins.of_config(config)
    if not pins.complete:
        raise Refusal(f"{target} is not pinned yet (it serves its own checkout's code): a "
                      "canary runs beside promoted pins. Promote to it once without --canary "
                      f"(`python -m promotion promote --from ... --to {target}{suffix}`), then "
                      "canary the next change")
    version = pins.function_version or str(outputs.get("functionVersion") or "")
    if not version:
        raise Refusal(f"{target} has no functionVersion output: deploy it first, so the "
                      "version its alias live serves can be pinned while the canary runs")
    if candidate.same_as(pins):
        raise Refusal(f"{target} already serves {pins.label()}; nothing to canary")
    canary = CanaryPin(candidate.deployment_id, candidate.code_hash, percent, now)
    base = Pins(pins.deployment_id, pins.code_hash, version)
    return ConfigChange(target, base, tuple(parse_history(config)),
                        f"canary on {target}: {candidate.label()} takes {percent}% of the "
                        f"traffic; {base.label()} serves the rest", canary=canary)


def _canary_of(stack: str, config: dict[str, str], suffix: str) -> CanaryPin:
    canary = running(config)
    if canary is None:
        raise Refusal(f"no canary release runs on {stack}; start one with `python -m "
                      f"promotion promote --from test --to {stack} --canary PERCENT{suffix}`")
    return canary


def plan_complete(stack: str, config: dict[str, str], outputs: dict, now: str,
                  suffix: str = "") -> ConfigChange:
    """The candidate becomes the stack's pins (the version its alias canary serves), the
    canary pin goes: one history entry."""
    canary = _canary_of(stack, config, suffix)
    deployed = outputs.get("canary") or {}
    version = str(deployed.get("functionVersion") or "")
    if (deployed.get("deploymentId"), deployed.get("codeHash")) != (canary.deployment_id,
                                                                   canary.code_hash) \
            or not version:
        raise Refusal(f"{stack}'s config carries a canary ({canary.label()}), but its last "
                      "deployment does not (its canary output names none, or another): it "
                      "never served the canary, so it cannot be completed. Abort it: "
                      f"`python -m promotion canary abort --stack {stack}{suffix}`")
    pins = Pins(canary.deployment_id, canary.code_hash, version)
    history = (*parse_history(config),
               entry(CANARY_DONE, "canary", pins, now, percent=canary.percent))
    return ConfigChange(stack, pins, history, f"complete the canary on {stack}: it serves "
                        f"{pins.label()} to all traffic", ends_canary=True)


def plan_abort(stack: str, config: dict[str, str], now: str, reason: str,
               suffix: str = "") -> ConfigChange:
    """The canary pin goes; the stack's pins stay; the attempt and why it ended are
    recorded."""
    canary = _canary_of(stack, config, suffix)
    pins = Pins.of_config(config)
    history = (*parse_history(config),
               entry(CANARY_ABORTED, "canary", canary.pins, now, percent=canary.percent,
                     reason=reason))
    return ConfigChange(stack, pins, history, f"abort the canary on {stack} ({reason}): it "
                        f"serves {pins.label()} to all traffic", ends_canary=True)
