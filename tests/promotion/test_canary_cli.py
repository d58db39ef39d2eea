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


class Interrupted:
    """A backend that nothing reads: the command is interrupted where it would begin."""
    suffix = " --local"

    def close(self) -> None:
        pass


@pytest.mark.parametrize("argv,said", [
    (["promote", "--from", "test", "--to", "prod", "--canary", "10", "--local"],
     "error: interrupted; if an update of prod had begun, what prod serves is not known until "
     "an update finishes: `python -m promotion verify --stack prod --local` checks it against "
     "its pins, `python -m promotion history --stack prod --local` shows them, and `python -m "
     "promotion canary status --stack prod --local` the canary\n"),
    (["rollback", "--stack", "prod", "--local"],
     "error: interrupted; if an update of prod had begun, what prod serves is not known until "
     "an update finishes: `python -m promotion verify --stack prod --local` checks it against "
     "its pins, `python -m promotion history --stack prod --local` shows them\n"),
    (["history", "--stack", "prod", "--local"], "error: interrupted; nothing was changed\n"),
])
def test_an_interrupt_anywhere_is_one_line_saying_what_may_have_changed(
        monkeypatch, capsys, argv, said):
    import signal

    from promotion import __main__ as cli
    from promotion import commands

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C, or a kill while the canary's update runs
    monkeypatch.setattr(cli, "backend_for", lambda args: Interrupted())
    for name in ("promote", "rollback", "history"):
        monkeypatch.setattr(commands, name, interrupt)
    handlers = {each: signal.getsignal(each) for each in (signal.SIGTERM, signal.SIGHUP)}
    try:
        assert cli.main(argv) == 1
    finally:
        for each, handler in handlers.items():
            signal.signal(each, handler)
    captured = capsys.readouterr()
    assert captured.err == said and "Traceback" not in captured.out
