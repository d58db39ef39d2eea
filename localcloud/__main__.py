"""python -m localcloud: run every stage of the real program on this machine.

  up                  deploy dev, test and prod into a fresh emulator and serve them
  deploy STACK        re-deploy one stack into the running local cloud (applies the diff)
  logs STACK          print a stage's function and gateway logs (--follow: keep printing)
  caller STACK        print the signed curl and awscurl lines that call a stage as its
                      local caller (as `up` prints them)
"""
from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from localcloud.cli import run_command
from localcloud.engine.deployer import DeployResult, deploy_stack
from localcloud.kinds import DeployError
from infra.config import FIELD_KEYS
from localcloud.engine.stackfiles import (REPO_ROOT, StackFileError, check_stack_files,
                                          known_stacks, read_stack_config)
from localcloud.engine.state import DEFAULT_STATE_DIR
from localcloud.iam.callers import (CallerError, awscurl_line, curl_line, deployer_line,
                                    domain_curl_line, stage_credentials)
from localcloud.tail import LogFollower, StageLogs, TailedStack
from localcloud import watch as watching
from localcloud.session import DEFAULT_GATEWAY_PORT, LocalCloud, deploy_order, running_cloud

# Signals that stop `up`, as Ctrl-C does (whatever the caller's shell set them to).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long the main thread sleeps at most between two looks for a signal.
WAKE_INTERVAL_S = 1.0


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
    up.add_argument("--watch", action="store_true",
                    help="follow the checkout's edits: function/ redeploys dev, the program "
                         "(infra/, __main__.py, Pulumi.*.yaml) every stack not pinned")
    up.add_argument("--no-serve", action="store_true",
                    help="deploy, print the URLs and stop (for a quick check)")
    deploy = commands.add_parser("deploy", help="re-deploy one stack into the running cloud")
    deploy.add_argument("stack", help=f"one of: {', '.join(known_stacks())}")
    logs = commands.add_parser("logs", help="print a stage's logs from the running cloud")
    logs.add_argument("stack", help=f"one of: {', '.join(known_stacks())}")
    logs.add_argument("--follow", "-f", action="store_true",
                      help="keep printing new lines until Ctrl-C")
    caller = commands.add_parser("caller", help="print the commands that call a stage as its "
                                                "local caller")
    caller.add_argument("stack", help=f"one of: {', '.join(known_stacks())}")
    return root


def print_result(result: DeployResult, width: int = 0) -> None:
    print(f"  {result.stack:{width}} {result.summary()}", flush=True)


def awscurl_command() -> str:
    """awscurl as requirements.txt pins it, beside this Python (.venv/bin/awscurl): a
    user who has not activated .venv has no awscurl on PATH. Relative to the working
    directory when under it, as the README's lines are."""
    path = Path(sys.executable).with_name("awscurl")
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class CallerLines:
    """The commands that call one stage as its local caller; None where there is none."""
    curl: str | None
    awscurl: str | None
    domain: str | None  # the stage's custom domain, through the gateway (--connect-to)


def caller_lines(stack: str, outputs: dict, region: str, gateway_url: str,
                 state_dir: Path) -> CallerLines:
    """The signed lines of a deployed stage, with its caller's keys from the credentials
    file (its profile is named after the stage)."""
    stage, stage_url = outputs.get("stage"), outputs.get("stageUrl")
    credentials = stage_credentials(state_dir, stage) if stage and stage_url else None
    if credentials is None:
        return CallerLines(None, None, None)
    key, secret = credentials.access_key, credentials.secret_key
    domain, custom_url = None, outputs.get("customUrl")
    if custom_url:
        try:
            domain = domain_curl_line(region, key, secret, custom_url, gateway_url)
        except CallerError as err:
            domain = f"# {stack}: no curl line for {custom_url}: {err}"
    return CallerLines(curl_line(region, key, secret, stage_url),
                       awscurl_line(region, key, secret, stage_url, awscurl_command()), domain)


def custom_domain_curl_lines(results: list[DeployResult], cloud: LocalCloud) -> list[str]:
    """One signed curl line per stage with a custom domain (its customUrl output), as the
    stage's local caller."""
    lines = [caller_lines(r.stack, r.outputs, cloud.cloud(r.stack).region, cloud.url,
                          cloud.store.dir).domain for r in results]
    return [line for line in lines if line]


# Re-entrant: a signal's KeyboardInterrupt in the main thread mid-line must not lock it out.
_OUTPUT = threading.RLock()


def say(line: str) -> None:
    """Print one whole line. While `up` serves, the log follower's thread, the watcher's
    and the main thread print at once, and print() writes a line and its newline apart:
    two threads' lines could then merge into one ("stopping[dev] ...")."""
    with _OUTPUT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _stop_on_signals() -> None:
    """The first SIGINT or SIGTERM stops `up` (KeyboardInterrupt); later ones are ignored,
    so they cannot cut the stop of the gateway and the workers short."""
    def interrupt(signum, frame):
        for each in STOP_SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        raise KeyboardInterrupt
    for each in STOP_SIGNALS:
        signal.signal(each, interrupt)


def wait_for_stop() -> None:
    """Sleep in the main thread until a signal's handler raises (KeyboardInterrupt).

    The kernel hands a signal sent to the process (or its group) to any of its threads
    that does not block it, and CPython's C-level handler, running in that thread, only
    flags it: the Python handler runs in the main thread, at its next bytecode. A main
    thread asleep in an untimed lock wait (`threading.Event().wait()`) would never get
    there. So it sleeps in select() on the wakeup fd, which the C-level handler writes to
    from whichever thread it runs in, and wakes every WAKE_INTERVAL_S anyway."""
    reader, writer = os.pipe()
    os.set_blocking(reader, False)
    os.set_blocking(writer, False)
    previous = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    try:
        while True:
            select.select([reader], [], [], WAKE_INTERVAL_S)
            try:
                os.read(reader, 512)  # back in Python code: a pending handler runs now
            except BlockingIOError:
                pass
    finally:
        signal.set_wakeup_fd(previous)
        os.close(reader)
        os.close(writer)


def up(args) -> int:
    check_stack_files()
    width = max(map(len, known_stacks()), default=0)
    _stop_on_signals()
    cloud = LocalCloud(args.state_dir, gateway_port=args.port)
    follower = watcher = None
    try:
        cloud.start()
        print(f"AWS emulator on {cloud.emulator.endpoint_url}; gateway on {cloud.url}")
        print("deploying the real program (__main__.py) for each stack:", flush=True)
        results = cloud.deploy_all(on_deployed=lambda result: print_result(result, width),
                                   on_note=lambda line: say(f"  note: {line}"),
                                   warm=not args.no_serve)
        print(f"\nstages (every method requires SigV4; profiles named after each stage are in "
              f"{cloud.store.dir / 'credentials'}):")
        for result in results:
            print(f"  {result.stack:{width}} {result.outputs['stageUrl']}/users")
        lines = [caller_lines(r.stack, r.outputs, cloud.cloud(r.stack).region, cloud.url,
                              cloud.store.dir) for r in results]
        print("\ntry, signed as each stage's local caller (curl 7.75 or later):")
        for line in lines:
            if line.curl:
                print(f"  {line.curl}")
        print("or with awscurl (pinned in requirements.txt; the keys are passed as flags, so "
              "your own AWS keys and profiles are not used):")
        for line in lines:
            if line.awscurl:
                print(f"  {line.awscurl}")
        domain_lines = [line.domain for line in lines if line.domain]
        if domain_lines:
            print("\ncustom domains, on the same port (the local gateway speaks plain HTTP; "
                  "--connect-to sends the domain to it, no hosts file needed):")
            for line in domain_lines:
                print(f"  {line}")
        print(f"\nthe deployer: {deployer_line(cloud.store.dir)}")
        print("(`python -m localcloud caller STACK` prints a stage's lines again)")
        if args.no_serve:
            return 0
        print("\nserving until Ctrl-C; each stage's function and gateway logs follow, "
              "prefixed by [stage]", flush=True)
        follower = LogFollower(StageLogs(
            [TailedStack(r.stack, cloud.cloud(r.stack).client("logs")) for r in results],
            cloud.store.load), write=say)
        follower.start()
        if args.watch:
            watcher = watching.Watcher(REPO_ROOT, follow_edits(cloud), say=say)
            if watcher.start():
                say(f"watching {REPO_ROOT} for edits (function/ redeploys {watching.DEV_STACK}; "
                    "infra/, __main__.py and Pulumi.*.yaml every stack not pinned)")
        wait_for_stop()
    except KeyboardInterrupt:
        say("stopping")
    finally:
        if watcher is not None:
            watcher.stop()
        if follower is not None:
            follower.stop()
        cloud.stop()
    return 0


PINNED_KEY = FIELD_KEYS["promoted_deployment_id"]


def follow_edits(cloud: LocalCloud) -> watching.Redeploy:
    """How `up --watch` redeploys into this running cloud."""
    def version(stack: str) -> str:
        return str(cloud.store.load(stack).outputs.get("functionVersion", "?"))

    def deploy_dev() -> str:
        # The new version's worker starts now, and the old version's idle ones are retired
        # (a request in flight finishes on its own).
        cloud.warm(cloud.deploy(watching.DEV_STACK))
        return version(watching.DEV_STACK)

    def deploy_program(stack: str) -> str:
        # A fresh interpreter imports the edited program; this one keeps serving.
        done = subprocess.run([sys.executable, "-m", "localcloud", "--state-dir",
                               str(cloud.store.dir), "deploy", stack], cwd=REPO_ROOT,
                              capture_output=True, text=True)
        if done.returncode != 0:
            said = done.stderr.strip().splitlines() or [f"it exited {done.returncode}"]
            raise DeployError(said[-1].removeprefix("error: "))
        return version(stack)

    def unpinned() -> list[str]:
        return [stack for stack in deploy_order(known_stacks())
                if not cloud.store.config_overrides(stack).get(PINNED_KEY)
                and not read_stack_config(stack).get(PINNED_KEY)]

    return watching.Redeploy(deploy_dev=deploy_dev, deploy_program=deploy_program,
                             unpinned_stacks=unpinned,
                             has_dev=lambda: watching.DEV_STACK in known_stacks())


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
    follower = LogFollower(stage_logs, write=say)
    try:
        follower.start()
        wait_for_stop()  # until Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        follower.stop()
    return 0


def caller(args) -> int:
    cloud, store = running_cloud(_known_stack(args.stack), args.state_dir)
    outputs = store.load(args.stack).outputs
    lines = caller_lines(args.stack, outputs, cloud.region, cloud.gateway_url, store.dir)
    if lines.curl is None:
        raise DeployError(f"stack {args.stack!r} has no stage caller in the running local "
                          f"cloud yet; deploy it with `python -m localcloud deploy {args.stack}`")
    for line in (lines.curl, lines.awscurl, lines.domain):
        if line:
            print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run_command(lambda: {"up": up, "deploy": deploy, "logs": logs,
                                "caller": caller}[args.command](args))


if __name__ == "__main__":
    sys.exit(main())
