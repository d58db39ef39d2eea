"""Stage throttling as API Gateway applies it: a token bucket per stage.

A stage's ``*/*`` method settings give a steady rate (requests per second) and a burst
(the bucket's size). Every request takes a token; the bucket refills at the rate up to
the burst; a request that finds it empty is answered 429 ``Too Many Requests`` before
the function is invoked. A stage without settings is not throttled; a negative rate or
burst means "no limit" (as the console's -1), and a burst of 0 refuses everything.

Settings are read on every request (through :mod:`localcloud.control_plane`), and a
bucket whose settings changed starts again, full, with the new ones.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

TOO_MANY_REQUESTS = (429, {"message": "Too Many Requests"}, "TooManyRequestsException")

Clock = Callable[[], float]


@dataclass(frozen=True)
class ThrottleSettings:
    rate: float  # tokens added per second
    burst: int   # the bucket's size


def settings_from(throttling: dict | None) -> ThrottleSettings | None:
    """``{"rateLimit", "burstLimit"}`` (control_plane's stage answer) -> settings, or None
    when the stage is not throttled."""
    if not throttling:
        return None
    rate, burst = throttling.get("rateLimit"), throttling.get("burstLimit")
    if rate is None or burst is None or rate < 0 or burst < 0:
        return None
    return ThrottleSettings(float(rate), int(burst))


class TokenBucket:
    """Thread-safe; ``clock`` (seconds, monotonic) is injectable for tests."""

    def __init__(self, settings: ThrottleSettings, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._tokens = float(settings.burst)
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take one token if there is one."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._last)
            self._last = now
            self._tokens = min(float(self.settings.burst),
                               self._tokens + elapsed * self.settings.rate)
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class StageThrottles:
    """One bucket per (REST API id, stage name)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def allow(self, api_id: str, stage_name: str, throttling: dict | None) -> bool:
        """Whether a request to this stage may go on, given the stage's current settings."""
        settings = settings_from(throttling)
        key = (api_id, stage_name)
        with self._lock:
            if settings is None:
                self._buckets.pop(key, None)
                return True
            bucket = self._buckets.get(key)
            if bucket is None or bucket.settings != settings:
                bucket = self._buckets[key] = TokenBucket(settings, self._clock)
        return bucket.take()
