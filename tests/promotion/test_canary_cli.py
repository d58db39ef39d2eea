"""A canary's bad input is refused by the command line itself, before any stack is read:
one message that says what to do, never a traceback."""
from __future__ import annotations

import pytest

from tests.promotion.test_cli import run

PROMOTE = ("promotion", "promote", "--from", "test", "--to", "prod")


@pytest.mark.parametrize("args,message", [
    ((*PROMOTE, "--canary", "150"), "argument --canary: 150% is not a canary's share: give "
                                    "more than 0 and less than 100"),
    ((*PROMOTE, "--canary", "0"), "argument --canary: 0% is not a canary's share"),
    ((*PROMOTE, "--canary", "100"), "argument --canary: 100% is not a canary's share"),
    ((*PROMOTE, "--canary", "ten"), "argument --canary: 'ten' is not a percentage; give a "
                                    "number such as 10 or 2.5"),
    ((*PROMOTE, "--canary", "10", "--bake", "soon"),
     "argument --bake: 'soon' is not a duration; write e.g. 30s, 10m, 1h or 1m30s"),
    ((*PROMOTE, "--canary", "10", "--bake", "0s"), "argument --bake: '0s' is no time at all"),
    ((*PROMOTE, "--canary", "10", "--max-error-rate", "150"),
     "argument --max-error-rate: '150' is not a percentage from 0 to 100"),
    ((*PROMOTE, "--canary", "10", "--min-requests", "0"),
     "argument --min-requests: '0' is not a number of requests; give 1 or more"),
    ((*PROMOTE, "--bake", "5m"), "--bake: these set up a canary's bake; add --canary PERCENT, "
                                 "or leave them out"),
    (("promotion", "canary", "pause", "--stack", "prod"), "invalid choice: 'pause'"),
    (("promotion", "canary", "status", "--stack", "prod", "--skip-smoke"),
     "unrecognized arguments: --skip-smoke"),  # status sends no smoke check
])
def test_bad_canary_input_is_refused_before_anything(tmp_path, args, message):
    result = run(*args, tmp_path=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
