"""python -m promotion: prod runs only what test proved.

  promote --from test --to prod    pin test's deployment and code in prod, update prod
  rollback --stack prod [--to X]   serve an earlier entry of prod's history again
                                   (X: #N as `history` numbers it, a deployment id, or ID:VERSION)
  history --stack prod             what prod has served, newest first
  release --stack test             a non-production stage that received a promotion
                                   deploys its own checkout again (its pins are removed)

Real stacks are driven through Pulumi's Automation API (the Pulumi CLI must be
installed and logged in); add --local to act on the running local cloud instead.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localcloud.cli import run_command
from localcloud.session import running_cloud
from localcloud.engine.stackfiles import known_stacks
from localcloud.engine.state import DEFAULT_STATE_DIR, StateStore
from promotion import commands
from promotion.automation_backend import PulumiBackend
from promotion.backends import BackendError
from promotion.decisions import Refusal
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
    commands_ = root.add_subparsers(dest="command", required=True)
    promote = commands_.add_parser("promote", parents=[common],
                                   help="pin the source's deployment and code in the target")
    promote.add_argument("--from", dest="source", type=stack_name, required=True)
    promote.add_argument("--to", dest="target", type=stack_name, required=True)
    promote.add_argument("--skip-smoke", action="store_true",
                         help="do not check that the source stage answers first")
    promote.add_argument("--allow-from-production", action="store_true",
                         help="allow promoting a production stack onto a non-production one")
    rollback = commands_.add_parser("rollback", parents=[common],
                                    help="serve an earlier entry of the history again")
    rollback.add_argument("--stack", type=stack_name, required=True)
    rollback.add_argument("--to", dest="to",
                          help="#N (a line of `history`), a deployment id, or ID:VERSION "
                               "(default: the entry before the current one)")
    for name, text in (("history", "what a stack has served"),
                       ("release", "remove a non-production stack's pins: it deploys its "
                                   "own checkout again")):
        sub = commands_.add_parser(name, parents=[common], help=text)
        sub.add_argument("--stack", type=stack_name, required=True)
    return root


def stacks_of(args) -> list[str]:
    return [args.source, args.target] if args.command == "promote" else [args.stack]


def backend_for(args):
    if not args.local:
        backend = PulumiBackend()
        backend.prepare(stacks_of(args))
        return backend
    running_cloud(known_stacks()[0], args.state_dir)  # its state is only true while it runs
    return LocalBackend(StateStore(args.state_dir),
                        lambda stack: running_cloud(stack, args.state_dir)[0])


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    def command() -> int:
        backend = backend_for(args)
        try:
            if args.command == "promote":
                commands.promote(backend, args.source, args.target, args.skip_smoke,
                                 args.allow_from_production)
            elif args.command == "rollback":
                commands.rollback(backend, args.stack, args.to)
            elif args.command == "release":
                commands.release(backend, args.stack)
            else:
                commands.history(backend, args.stack)
        finally:
            backend.close()
        return 0
    return run_command(command, user_errors=(Refusal, BackendError))


if __name__ == "__main__":
    sys.exit(main())
