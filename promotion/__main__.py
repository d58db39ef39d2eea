"""python -m promotion: prod runs only what test proved.

  promote --from test --to prod   pin test's deployment and code in prod, update prod
  rollback --stack prod [--to ID] point prod at an earlier deployment, update prod
  history --stack prod            the deployments prod has served, newest first

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
from promotion.backends import BackendError, LocalBackend, PulumiBackend
from promotion.decisions import Refusal


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
    rollback = commands_.add_parser("rollback", parents=[common],
                                    help="serve an earlier deployment again")
    rollback.add_argument("--stack", type=stack_name, required=True)
    rollback.add_argument("--to", dest="deployment_id",
                          help="the deployment id (default: the one served before)")
    history = commands_.add_parser("history", parents=[common],
                                   help="the deployments a stack has served")
    history.add_argument("--stack", type=stack_name, required=True)
    return root


def backend_for(args):
    if not args.local:
        return PulumiBackend()
    running_cloud(known_stacks()[0], args.state_dir)  # its state is only true while it runs
    return LocalBackend(StateStore(args.state_dir),
                        lambda stack: running_cloud(stack, args.state_dir)[0])


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    def command() -> int:
        backend = backend_for(args)
        if args.command == "promote":
            commands.promote(backend, args.source, args.target, args.skip_smoke)
        elif args.command == "rollback":
            commands.rollback(backend, args.stack, args.deployment_id)
        else:
            commands.history(backend, args.stack)
        return 0
    return run_command(command, user_errors=(Refusal, BackendError))


if __name__ == "__main__":
    sys.exit(main())
