"""`python -m localcloud up` starts each stage's function worker as soon as the stage is
deployed, and the stage's first request is served by that worker, under every check."""
from __future__ import annotations

import time
import urllib.error
import urllib.request

from benchmarks.startup_bench import RunningCloud, copy_checkout

from .test_session import children_of


def test_up_starts_the_stage_worker_before_the_first_request_and_that_request_uses_it(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout", stacks=("dev",))
    run = RunningCloud.up(checkout, tmp_path / "state")
    try:
        run.wait_serving()
        # No request has been made: any worker is one `up` started by itself.
        deadline = time.monotonic() + 60  # generous: the machine may be busy
        while not children_of(run.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        warmed = children_of(run.proc.pid)
        assert len(warmed) == 1, run.lines
        assert run.status("dev") == 200
        assert children_of(run.proc.pid) == warmed  # served by it: no second worker
        # still behind the gateway's checks: unsigned is refused before any invoke
        unsigned = urllib.request.Request(f"{run.url}/dev/users")
        try:
            urllib.request.urlopen(unsigned, timeout=30)
            status = 200
        except urllib.error.HTTPError as error:
            status = error.code
        assert status == 403
        # the first invoke logs the worker's init, as a cold start does
        deadline = time.monotonic() + 60
        while not any("[dev] INIT_START" in line for line in run.lines) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any("[dev] INIT_START" in line for line in run.lines), run.lines
    finally:
        run.stop()
