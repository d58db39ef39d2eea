"""python -m promotion: prod runs only what test proved.

  promote --from test --to prod    pin test's deployment and code in prod, update prod
  rollback --stack prod [--to X]   serve an earlier entry of prod's history again
                                   (X: #N as `history` numbers it, a deployment id, or ID:VERSION)
  history --stack prod             what prod has served, newest first
  release --stack test             a non-production stage that received a promotion
                                   deploys its own checkout again (its pins are removed)
  promote --from test --to prod --canary PERCENT [--bake 10m] [--max-error-rate 1]
                                   release to PERCENT of prod's traffic first, watch it
                                   for the bake time, then complete or abort it
  canary status|complete|abort --stack prod
                                   a running canary: how it does; end it by hand
  verify --stack prod [--json]     does the stack serve exactly its pins? one line per
                                   check; exit 0: yes, 1: drift, 2: it could not be read

Real stacks are driven through Pulumi's Automation API (the Pulumi CLI must be
installed and logged in); add --local to act on the running local cloud instead.

promote, rollback and release smoke-check the stages they touch with a SigV4-signed
GET, which needs execute-api:Invoke on each: before anything changes they check that the
identity the checks sign with may call every stage (--smoke-profile NAME chooses it;
--skip-smoke sends no smoke check at all).
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from localcloud.cli import USER_ERRORS, run_command
from localcloud.session import running_cloud
from localcloud.engine.stackfiles import known_stacks
from localcloud.engine.state import DEFAULT_STATE_DIR, StateStore
from promotion import canary, commands
from promotion.automation_backend import PulumiBackend
from promotion.backends import BackendError
from promotion.bake import BakeSettings
from promotion.decisions import Refusal
from promotion.health import Thresholds
from promotion.local_backend import LocalBackend


def stack_name(text: str) -> str:
    if text not in known_stacks():
        raise argparse.ArgumentTypeError(
            f"unknown stack {text!r}; known stacks: {', '.join(known_stacks())}")
    return text


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m promotion", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--local", action="store_true",
                        help="act on the running local cloud (python3 tasks.py run)")
    common.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="the local cloud's state directory (with --local)")
    # The commands that change a stack smoke-check it, signed as one identity.
    smoke = argparse.ArgumentParser(add_help=False)
    choice = smoke.add_mutually_exclusive_group()
    choice.add_argument("--smoke-profile", metavar="NAME", type=profile_name,
                        help="sign every smoke check with this AWS profile (with --local: a "
                             "profile of .localcloud/credentials, e.g. deployer); default: "
                             "each stack's own aws:profile (--local: each stage's caller)")
    choice.add_argument("--skip-smoke", action="store_true",
                        help="send no smoke check: not the identity check before the change, "
                             "not the source's, not the target's after the update")
    commands_ = root.add_subparsers(dest="command", required=True)
    promote = commands_.add_parser("promote", parents=[common, smoke],
                                   help="pin the source's deployment and code in the target")
    promote.add_argument("--from", dest="source", type=stack_name, required=True)
    promote.add_argument("--to", dest="target", type=stack_name, required=True)
    promote.add_argument("--allow-from-production", action="store_true",
                         help="allow promoting a production stack onto a non-production one "
                              "(and a canary on a non-production stack)")
    promote.add_argument("--allow-breaking", action="store_true",
                         help="promote even if the candidate's API breaks the target's "
                              "clients (the contract gate lists the changes either way)")
    promote.add_argument("--canary", metavar="PERCENT", type=typed(canary.parse_percent),
                         help="release to PERCENT (more than 0, less than 100) of the target's "
                              "traffic first; complete or abort by its health after --bake")
    promote.add_argument("--bake", metavar="DURATION", type=typed(canary.parse_duration),
                         help=f"with --canary: how long to watch it, e.g. 30s, 10m, 1h "
                              f"(default {canary.DEFAULT_BAKE})")
    thresholds(promote)
    rollback = commands_.add_parser("rollback", parents=[common, smoke],
                                    help="serve an earlier entry of the history again")
    rollback.add_argument("--stack", type=stack_name, required=True)
    rollback.add_argument("--to", dest="to",
                          help="#N (a line of `history`), a deployment id, or ID:VERSION "
                               "(default: the entry before the current one)")
    release = commands_.add_parser("release", parents=[common, smoke],
                                   help="remove a non-production stack's pins: it deploys its "
                                        "own checkout again")
    release.add_argument("--stack", type=stack_name, required=True)
    verify = commands_.add_parser("verify", parents=[common],
                                  help="check that a stack serves exactly its pins (exit 0), "
                                       "or name each drift and its fix (exit 1)")
    verify.add_argument("--stack", type=stack_name, required=True)
    verify.add_argument("--json", action="store_true",
                        help="one JSON object per check: name, ok, detail, fix")
    history = commands_.add_parser("history", parents=[common], help="what a stack has served")
    history.add_argument("--stack", type=stack_name, required=True)
    canary_ = commands_.add_parser("canary", help="a running canary release: status, or "
                                                   "complete or abort it by hand")
    actions = canary_.add_subparsers(dest="action", required=True)
    status = actions.add_parser("status", parents=[common],
                                help="the canary's pin, the stage's settings, how it does")
    status.add_argument("--stack", type=stack_name, required=True)
    thresholds(status)
    for action, text in (("complete", "the stack serves the candidate to all traffic"),
                         ("abort", "the canary goes; the stack serves its pins")):
        end = actions.add_parser(action, parents=[common, smoke], help=text)
        end.add_argument("--stack", type=stack_name, required=True)
    return root


def typed(parse):
    """An argparse type from a parser whose ValueError says what is wrong."""
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return convert


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of requests; give 1 or more")
    return int(text)


def thresholds(command: argparse.ArgumentParser) -> None:
    command.add_argument("--max-error-rate", metavar="PERCENT", type=typed(canary.parse_rate),
                         help="abort a canary whose error rate (5XX, or Lambda errors) exceeds "
                              "the base's by more than PERCENT points (default "
                              f"{canary.DEFAULT_MAX_ERROR_RATE:g})")
    command.add_argument("--min-requests", metavar="N", type=positive,
                         help="canary requests needed to judge it by the end of the bake "
                              f"(default {canary.DEFAULT_MIN_REQUESTS})")


def thresholds_of(args) -> Thresholds:
    rate = args.max_error_rate
    return Thresholds(canary.DEFAULT_MAX_ERROR_RATE if rate is None else rate,
                      args.min_requests or canary.DEFAULT_MIN_REQUESTS)


def canary_options(args) -> commands.CanaryOptions | None:
    if args.canary is None:
        return None
    return commands.CanaryOptions(args.canary, BakeSettings(
        args.bake or canary.parse_duration(canary.DEFAULT_BAKE), thresholds_of(args)))


def stop_on_termination() -> None:
    """A kill or a lost terminal stops the bake as Ctrl-C does: the canary is left as it
    is, and the tool says what to run."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    for name in ("SIGTERM", "SIGHUP"):  # SIGHUP: the terminal went (not on Windows)
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), interrupt)


def profile_name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a profile name cannot be empty")
    return text


def stacks_of(args) -> list[str]:
    return [args.source, args.target] if args.command == "promote" else [args.stack]


def backend_for(args):
    smoke_profile = getattr(args, "smoke_profile", None)
    if not args.local:
        backend = PulumiBackend(smoke_profile=smoke_profile)
        backend.prepare(stacks_of(args))
    else:
        running_cloud(known_stacks()[0], args.state_dir)  # its state is only true while it runs
        backend = LocalBackend(StateStore(args.state_dir),
                               lambda stack: running_cloud(stack, args.state_dir)[0],
                               smoke_profile=smoke_profile)
    try:
        backend.check_smoke_profile()  # before anything reads or changes a stack
    except BackendError:
        backend.close()
        raise
    return backend


def main(argv: list[str] | None = None) -> int:
    arguments = parser()
    args = arguments.parse_args(argv)
    if args.command == "promote" and args.canary is None:
        given = [option for option, value in (("--bake", args.bake),
                                              ("--max-error-rate", args.max_error_rate),
                                              ("--min-requests", args.min_requests))
                 if value is not None]
        if given:
            arguments.error(f"{', '.join(given)}: these set up a canary's bake; add "
                            "--canary PERCENT, or leave them out")

    if args.command == "verify":
        return run_command(lambda: verify_command(args))

    def command() -> int:
        if args.command == "promote" and args.canary is not None:
            stop_on_termination()
        backend = backend_for(args)
        try:
            if args.command == "promote":
                commands.promote(backend, args.source, args.target, args.skip_smoke,
                                 args.allow_from_production, canary=canary_options(args),
                                 allow_breaking=args.allow_breaking)
            elif args.command == "canary" and args.action == "status":
                commands.canary_status(backend, args.stack, thresholds_of(args))
            elif args.command == "canary" and args.action == "complete":
                commands.complete_canary(backend, args.stack, args.skip_smoke,
                                         check_identity=True)
            elif args.command == "canary":
                commands.abort_canary(backend, args.stack, "aborted by hand (canary abort)",
                                      args.skip_smoke, check_identity=True)
            elif args.command == "rollback":
                commands.rollback(backend, args.stack, args.to, args.skip_smoke)
            elif args.command == "release":
                commands.release(backend, args.stack, args.skip_smoke)
            else:
                commands.history(backend, args.stack)
        except KeyboardInterrupt:
            # Ctrl-C, or a kill or lost terminal during a canary run (stop_on_termination);
            # the bake says its own (the canary left as it is) before it gets here.
            raise BackendError(interrupted(args, backend.suffix)) from None
        finally:
            backend.close()
        return 0
    return run_command(command, user_errors=(Refusal, BackendError))


def interrupted(args, suffix: str) -> str:
    """What an interrupted command can say: for one that changes a stack, that an update
    it began may have changed some of it, and how to see what the stack serves."""
    stack = getattr(args, "target", None) or getattr(args, "stack", None)
    if args.command in ("history",) or getattr(args, "action", None) == "status":
        return "interrupted; nothing was changed"
    return (f"interrupted; if an update of {stack} had begun, what {stack} serves is not "
            f"known until an update finishes: `python -m promotion verify --stack "
            f"{stack}{suffix}` checks it against its pins, `python -m promotion history "
            f"--stack {stack}{suffix}` shows them"
            + (f", and `python -m promotion canary status --stack {stack}{suffix}` the canary"
               if getattr(args, "canary", None) is not None else ""))


def verify_command(args) -> int:
    """0: the stack serves its pins; 1: drift; 2: it could not be verified (never deployed,
    no credentials, no local cloud running...), said in one line."""
    try:
        backend = backend_for(args)
    except (Refusal, BackendError, *USER_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return commands.verify(backend, args.stack, args.json)
    except (Refusal, BackendError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        backend.close()


if __name__ == "__main__":
    sys.exit(main())
