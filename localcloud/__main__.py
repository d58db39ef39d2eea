"""python -m localcloud: run every stage of the real program on this machine.

  up                  deploy dev, test and prod into a fresh emulator and serve them
  deploy STACK        re-deploy one stack into the running local cloud (applies the diff)
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from localcloud.cli import run_command
from localcloud.engine.deployer import DeployResult, deploy_stack
from localcloud.session import DEFAULT_GATEWAY_PORT, LocalCloud, running_cloud
from localcloud.engine.stackfiles import StackFileError, known_stacks
from localcloud.engine.state import DEFAULT_STATE_DIR


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535)")
    return port


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    root.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                      help="where the local cloud keeps its state (default: .localcloud)")
    commands = root.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="deploy every stack and serve the API until Ctrl-C")
    up.add_argument("--port", type=_port, default=DEFAULT_GATEWAY_PORT,
                    help=f"gateway port on 127.0.0.1 (default {DEFAULT_GATEWAY_PORT}; 0: any free)")
    up.add_argument("--no-serve", action="store_true",
                    help="deploy, print the URLs and stop (for a quick check)")
    deploy = commands.add_parser("deploy", help="re-deploy one stack into the running cloud")
    deploy.add_argument("stack", help=f"one of: {', '.join(known_stacks())}")
    return root


def print_result(result: DeployResult) -> None:
    print(f"  {result.stack:5} {result.summary()}")


def up(args) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalCloud(args.state_dir, gateway_port=args.port) as cloud:
        print(f"AWS emulator on {cloud.emulator.endpoint_url}; gateway on {cloud.url}")
        print("deploying the real program (__main__.py) for each stack:")
        results = cloud.deploy_all(on_deployed=print_result)
        print("\nstages:")
        for result in results:
            print(f"  {result.stack:5} {result.outputs['stageUrl']}/users")
        first = results[0].outputs["stageUrl"]
        print("\ntry:\n"
              f"  curl -s -X POST {first}/users -H 'Content-Type: application/json' "
              "-d '{\"name\": \"Ada\", \"email\": \"ada@example.com\"}'\n"
              f"  curl -s {first}/users")
        if args.no_serve:
            return 0
        print("\nserving until Ctrl-C")
        sys.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("stopping")
    return 0


def deploy(args) -> int:
    if args.stack not in known_stacks():
        raise StackFileError(f"there is no stack {args.stack!r}; known stacks: "
                             f"{', '.join(known_stacks())}")
    cloud, store = running_cloud(args.stack, args.state_dir)
    print_result(deploy_stack(args.stack, cloud, store))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run_command(lambda: {"up": up, "deploy": deploy}[args.command](args))


if __name__ == "__main__":
    sys.exit(main())
