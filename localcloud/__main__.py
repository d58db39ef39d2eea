"""python -m localcloud: run every stage of the real program on this machine.

  up                  deploy dev, test and prod into a fresh emulator and serve them
  deploy STACK        re-deploy one stack into the running local cloud (applies the diff)
  logs STACK          print a stage's function and gateway logs (--follow: keep printing)
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from localcloud.cli import run_command
from localcloud.engine.deployer import DeployResult, deploy_stack
from localcloud.kinds import DeployError
from localcloud.engine.stackfiles import StackFileError, check_stack_files, known_stacks
from localcloud.engine.state import DEFAULT_STATE_DIR
from localcloud.iam.callers import CallerError, domain_curl_line, stage_credentials
from localcloud.tail import LogFollower, StageLogs, TailedStack
from localcloud.session import DEFAULT_GATEWAY_PORT, LocalCloud, running_cloud

# Signals that stop `up`, as Ctrl-C does (whatever the caller's shell set them to).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
    logs = commands.add_parser("logs", help="print a stage's logs from the running cloud")
    logs.add_argument("stack", help=f"one of: {', '.join(known_stacks())}")
    logs.add_argument("--follow", "-f", action="store_true",
                      help="keep printing new lines until Ctrl-C")
    return root


def print_result(result: DeployResult, width: int = 0) -> None:
    print(f"  {result.stack:{width}} {result.summary()}", flush=True)


def custom_domain_curl_lines(results: list[DeployResult], cloud: LocalCloud) -> list[str]:
    """One signed curl line per stage with a custom domain (its customUrl output), as the
    stage's local caller."""
    lines = []
    for result in results:
        stage, custom_url = result.outputs.get("stage"), result.outputs.get("customUrl")
        credentials = stage_credentials(cloud.store.dir, stage) if custom_url else None
        if credentials is None:
            continue
        try:
            lines.append(domain_curl_line(cloud.cloud(result.stack).region,
                                          credentials.access_key, credentials.secret_key,
                                          custom_url, cloud.url))
        except CallerError as err:
            lines.append(f"# {result.stack}: no curl line for {custom_url}: {err}")
    return lines


def _stop_on_signals() -> None:
    """The first SIGINT or SIGTERM stops `up` (KeyboardInterrupt); later ones are ignored,
    so they cannot cut the stop of the gateway and the workers short."""
    def interrupt(signum, frame):
        for each in STOP_SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        raise KeyboardInterrupt
    for each in STOP_SIGNALS:
        signal.signal(each, interrupt)


def up(args) -> int:
    check_stack_files()
    width = max(map(len, known_stacks()), default=0)
    _stop_on_signals()
    cloud = LocalCloud(args.state_dir, gateway_port=args.port)
    follower = None
    try:
        cloud.start()
        print(f"AWS emulator on {cloud.emulator.endpoint_url}; gateway on {cloud.url}")
        print("deploying the real program (__main__.py) for each stack:", flush=True)
        results = cloud.deploy_all(on_deployed=lambda result: print_result(result, width),
                                   on_note=lambda line: print(f"  note: {line}", flush=True))
        print(f"\nstages (every method requires SigV4; profiles named after each stage are in "
              f"{cloud.store.dir / 'credentials'}):")
        for result in results:
            print(f"  {result.stack:{width}} {result.outputs['stageUrl']}/users")
        print("\ntry, signed as each stage's local caller (curl 7.75 or later):")
        for result in results:
            if result.curl:
                print(f"  {result.curl}")
        domain_lines = custom_domain_curl_lines(results, cloud)
        if domain_lines:
            print("\ncustom domains, on the same port (the local gateway speaks plain HTTP; "
                  "--connect-to sends the domain to it, no hosts file needed):")
            for line in domain_lines:
                print(f"  {line}")
        if args.no_serve:
            return 0
        print("\nserving until Ctrl-C; each stage's function and gateway logs follow, "
              "prefixed by [stage]", flush=True)
        follower = LogFollower(StageLogs(
            [TailedStack(r.stack, cloud.cloud(r.stack).client("logs")) for r in results],
            cloud.store.load), write=lambda line: print(line, flush=True)).start()
        threading.Event().wait()  # until a signal raises KeyboardInterrupt
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        if follower is not None:
            follower.stop()
        cloud.stop()
    return 0


def _known_stack(stack: str) -> str:
    if stack not in known_stacks():
        raise StackFileError(f"there is no stack {stack!r}; known stacks: "
                             f"{', '.join(known_stacks())}")
    return stack


def deploy(args) -> int:
    check_stack_files()
    cloud, store = running_cloud(_known_stack(args.stack), args.state_dir)
    print_result(deploy_stack(args.stack, cloud, store))
    return 0


def logs(args) -> int:
    cloud, store = running_cloud(_known_stack(args.stack), args.state_dir)
    if not store.load(args.stack).outputs:
        raise DeployError(f"stack {args.stack!r} is not deployed in the running local cloud; "
                          f"deploy it with `python -m localcloud deploy {args.stack}`")
    stage_logs = StageLogs([TailedStack(args.stack, cloud.client("logs"))], store.load)
    for line in stage_logs.new_lines():
        print(line)
    if not args.follow:
        return 0
    sys.stdout.flush()
    follower = LogFollower(stage_logs, write=lambda line: print(line, flush=True)).start()
    try:
        threading.Event().wait()  # until Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        follower.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run_command(lambda: {"up": up, "deploy": deploy, "logs": logs}[args.command](args))


if __name__ == "__main__":
    sys.exit(main())
