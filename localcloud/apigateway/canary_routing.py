"""Which release of a stage serves a request: "total API traffic is separated at random
into a production release and a canary release with a pre-configured ratio" (developer
guide, canary-release), and the canary runs with "stage variables for the canary release
that can override production release stage variables" (an override-only variable is added;
the others are the stage's). The draw comes from a random source the gateway is given, so
a test can seed it."""
from __future__ import annotations

from typing import Callable


def serves_canary(canary: dict | None, draw: Callable[[], float]) -> bool:
    """True for a request the canary serves: `draw()` is uniform in [0, 1), and the canary
    takes percentTraffic of a hundred."""
    if not canary:
        return False
    return draw() * 100.0 < float(canary.get("percentTraffic") or 0.0)


def release_variables(variables: dict | None, canary: dict | None) -> dict:
    """The stage variables a release invokes with: the stage's, and for the canary, with
    its overrides applied."""
    merged = dict(variables or {})
    if canary:
        merged.update(canary.get("stageVariableOverrides") or {})
    return merged
