"""The local cloud as one dependable process: one per state directory, stopped whole by
SIGINT or SIGTERM, clear messages for what a user gets wrong."""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import redirect_stdout
from pathlib import Path

import boto3
import pytest
import yaml

from benchmarks.startup_bench import REPO_ROOT, RunningCloud, copy_checkout
from localcloud.__main__ import print_result
from localcloud.cli import run_command
from localcloud.emulator import PortInUse
from localcloud.engine.deployer import DeployResult
from localcloud.iam.callers import stage_credentials
from localcloud.kinds import DeployError
from localcloud.engine.stackfiles import name_clashes
from localcloud.engine.state import Session, StateStore
from localcloud.http.server import HttpServer, Refusal, RequestRules
from localcloud.session import LocalCloud


def localcloud(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localcloud", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# --- one local cloud per state directory -------------------------------------------

def test_a_second_up_refuses_and_leaves_the_first_serving(running_up):
    pid = running_up.proc.pid
    for port in ("0", str(port_of(running_up.url))):  # another port, and the same one
        second = localcloud("--state-dir", str(running_up.state_dir), "up", "--port", port,
                            "--no-serve",  # were it not refused, it would end anyway
                            cwd=running_up.checkout)
        assert second.returncode == 1
        assert second.stderr.count("\n") == 1, second.stderr
        assert f"a local cloud is already running with the state in {running_up.state_dir} " \
               f"(pid {pid}, gateway on {running_up.url})" in second.stderr
        assert "Traceback" not in second.stderr + second.stdout
    assert running_up.status("dev") == 200
    # Its state is intact: a deploy against it still finds it and changes nothing.
    redeploy = localcloud("--state-dir", str(running_up.state_dir), "deploy", "dev",
                          cwd=running_up.checkout)
    assert redeploy.returncode == 0, redeploy.stderr
    assert "unchanged" in redeploy.stdout and "created" not in redeploy.stdout


def test_deploy_recreates_what_the_emulator_lost_instead_of_trusting_its_state(checkout,
                                                                              tmp_path):
    run = RunningCloud.up(checkout, tmp_path / "state")
    try:
        run.wait_serving()
        assert run.status("dev") == 200
        recorded = len(StateStore(run.state_dir).load("dev").resources)
        endpoint = StateStore(run.state_dir).load_session().endpoint_url
        # moto's reset route is refused to every caller now; the deployer deletes dev's
        # function and table instead, as someone in the console might.
        deployer = stage_credentials(run.state_dir, "deployer")
        aws = boto3.Session(aws_access_key_id=deployer.access_key, region_name="us-east-1",
                            aws_secret_access_key=deployer.secret_key)
        aws.client("lambda", endpoint_url=endpoint).delete_function(
            FunctionName="dev-user-service")
        aws.client("dynamodb", endpoint_url=endpoint).delete_table(TableName="dev-User")
        assert run.status("dev") != 200
        redeploy = localcloud("--state-dir", str(run.state_dir), "deploy", "dev", cwd=checkout)
        assert redeploy.returncode == 0, redeploy.stderr
        lost = re.search(r"(\d+) gone from the emulator, (\d+) created", redeploy.stdout)
        assert lost, redeploy.stdout
        # The function's versions, alias and permission went with it, and the table.
        assert int(lost[1]) >= 5 and lost[1] == lost[2] and int(lost[1]) < recorded
        assert run.status("dev") == 200
    finally:
        run.stop()


def test_the_session_file_of_a_dead_process_neither_blocks_nor_is_believed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    store = StateStore(tmp_path)
    store.dir.mkdir(parents=True, exist_ok=True)
    (tmp_path / "up.lock").write_text(dead.stdout)
    store.save_session(Session(endpoint_url="http://127.0.0.1:9", gateway_url="http://127.0.0.1:9",
                               pid=int(dead.stdout)))
    refused = localcloud("--state-dir", str(tmp_path), "deploy", "dev", cwd=REPO_ROOT)
    assert refused.returncode == 1
    assert "no local cloud is running" in refused.stderr
    with LocalCloud(tmp_path, gateway_port=0) as cloud:
        assert store.load_session().pid == os.getpid()
        assert get_status(f"{cloud.url}/dev/users") == 403  # serving; nothing deployed yet
    assert store.load_session() is None and (tmp_path / "up.lock").exists()


def test_a_taken_gateway_port_is_named_and_the_state_dir_is_left_alone(tmp_path):
    store = StateStore(tmp_path)
    store.save_config_overrides("prod", {"user-service:promotedCodeHash": "abc"})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"cannot serve the gateway on 127.0.0.1:{port}: "
                                            "Address already in use; pass another port"):
            LocalCloud(tmp_path, gateway_port=port).start()
    assert store.config_overrides("prod") == {"user-service:promotedCodeHash": "abc"}
    assert not store.lock.held and store.lock.holder() is None


# --- stopping: nothing left running -------------------------------------------------

def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited


def in_group(pgid: int) -> set[int]:
    """The processes of a process group that have not exited."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def left_running(pids: set[int], timeout: float = 30) -> set[int]:
    """Those of `pids` still running once they had `timeout` seconds to end (an exited
    process may still be being reaped)."""
    deadline = time.monotonic() + timeout
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return {pid for pid in pids if running(pid)}


def threads_of(pid: int) -> set[int]:
    return {int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()}


def blocks(pid: int, tid: int, sig: int) -> bool:
    """Whether thread `tid` of `pid` blocks `sig` (its SigBlk mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
    except OSError:
        return True  # gone already: not one to signal
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:"))
    return bool(int(mask, 16) >> (sig - 1) & 1)


def signal_thread(pid: int, sig: int) -> int:
    """Send `sig` to one thread of process `pid` other than its main thread (tgkill, as
    the kernel does when it hands a process's signal to that thread); returns its id."""
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "tgkill"):
        pytest.skip("this C library has no tgkill")
    for tid in sorted(threads_of(pid) - {pid}, reverse=True):
        if blocks(pid, tid, sig):
            continue  # the kernel never hands a process's signal to a thread that blocks it
        if libc.tgkill(pid, tid, sig) == 0:
            return tid
    raise AssertionError(f"process {pid} has no thread but its main one to signal")


@contextlib.contextmanager
def cpu_load(processes: int = 2):
    """Processes that keep the CPUs busy, as on a loaded build machine."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(processes)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


@contextlib.contextmanager
def requests_to(run: RunningCloud, stage: str = "dev", clients: int = 2):
    """Signed requests to a stage, each client one after another, while the block runs
    (and until the cloud is gone)."""
    done = threading.Event()

    def client():
        while not done.is_set() and run.proc.poll() is None:
            run.status(stage)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=60)


def port_is_free(port: int) -> bool:
    """Free for a new server: nothing listens (connections in TIME_WAIT do not count, as
    for any server that sets SO_REUSEADDR, the gateway included)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of this checkout with only the dev stack: quicker to start, and its stack
    files can be added to without touching the repo's."""
    return copy_checkout(tmp_path_factory.mktemp("checkout"), stacks=("dev",))


SIGNAL_CASES = [  # (command, signal, to the process group: Ctrl-C in a terminal)
    ("tasks.py run", signal.SIGTERM, False),
    ("tasks.py run", signal.SIGINT, False),
    ("tasks.py run", signal.SIGINT, True),
    ("localcloud up", signal.SIGTERM, False),
    ("localcloud up", signal.SIGINT, False),
]


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A cloud per signal case, all started at once (each in its own copy of the
    checkout, since `tasks.py run` keeps its state in the checkout)."""
    runs = {}
    for case in SIGNAL_CASES:
        home = copy_checkout(tmp_path_factory.mktemp("signals"), stacks=("dev",))
        runs[case] = ((RunningCloud.tasks_run(home), home / ".localcloud")
                      if case[0] == "tasks.py run" else
                      (RunningCloud.up(home, home / "state"), home / "state"))
    yield runs
    for run, _ in runs.values():
        run.stop(signal.SIGKILL)


@pytest.mark.parametrize("case", SIGNAL_CASES, ids=lambda c: f"{c[0]}-{c[1].name}"
                         + ("-group" if c[2] else ""))
def test_a_signal_stops_the_server_and_every_worker(started, case):
    run, state_dir = started[case]
    _, sig, to_group = case
    url = run.wait_serving()
    assert run.status("dev") == 200  # a warm worker
    workers = children_of(run.proc.pid)
    assert workers, run.lines
    if to_group:
        os.killpg(run.proc.pid, sig)
    else:
        run.proc.send_signal(sig)
    assert run.exited(timeout=60) == 0, run.lines  # generous: the machine may be busy
    assert "stopping" in run.lines, "\n".join(run.lines)
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)  # an exited process may still be being reaped
    assert not any(running(pid) for pid in workers), [p for p in workers if running(p)]
    assert port_is_free(port_of(url))
    assert not (state_dir / "session.json").exists()
    text = "\n".join(run.lines)
    assert "Traceback" not in text, text


def test_a_stop_signal_handed_to_any_thread_of_up_stops_it(checkout, tmp_path):
    """The kernel hands a signal sent to a process to any of its threads; the one that
    gets it must still stop `up` (its main thread waits while others serve)."""
    run = RunningCloud.up(checkout, tmp_path / "state")
    try:
        run.wait_serving()
        assert run.status("dev") == 200  # a warm worker, and the gateway's threads
        group = in_group(run.proc.pid)
        signal_thread(run.proc.pid, signal.SIGTERM)
        assert run.exited(timeout=60) == 0, run.lines  # generous: the machine may be busy
        assert "stopping" in run.lines, "\n".join(run.lines)
        assert left_running(group) == set()
    finally:
        run.stop(signal.SIGKILL)


def test_ctrl_c_handed_to_the_follower_thread_stops_logs_follow(running_up):
    follow = RunningCloud([sys.executable, "-m", "localcloud", "--state-dir",
                           str(running_up.state_dir), "logs", "dev", "--follow"],
                          running_up.checkout, running_up.state_dir)
    try:
        deadline = time.monotonic() + 60
        while len(threads_of(follow.proc.pid)) < 2 and time.monotonic() < deadline:
            assert follow.proc.poll() is None, follow.lines
            time.sleep(0.05)  # until its follower thread runs
        signal_thread(follow.proc.pid, signal.SIGINT)
        assert follow.exited(timeout=60) == 0, follow.lines
        assert "Traceback" not in "\n".join(follow.lines)
    finally:
        follow.stop(signal.SIGKILL)


def test_the_code_dirs_a_killed_cloud_left_are_removed_at_the_next_start(checkout, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    killed = subprocess.Popen([sys.executable, "-m", "localcloud", "--state-dir",
                               str(tmp_path / "state"), "up", "--port", "0"],
                              cwd=checkout, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        left = temp / "none"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and killed.poll() is None:
            found = list(temp.glob("localcloud-*"))  # its work directory
            if found:
                left = found[0]
                break
            time.sleep(0.05)
        assert left.is_dir(), "the cloud made no work directory"
    finally:
        os.killpg(killed.pid, signal.SIGKILL)  # nothing of it gets to clean up
        killed.wait()
    assert left.is_dir()
    again = subprocess.run([sys.executable, "-m", "localcloud", "--state-dir",
                            str(tmp_path / "state"), "up", "--port", "0", "--no-serve"],
                           cwd=checkout, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not left.exists()
    assert list(temp.iterdir()) == []  # and the new one removed its own when it stopped


LOADED_CLOUDS, LOADED_ROUNDS = 5, 2  # 10 fresh starts, each stopped by one SIGTERM


def test_sigterm_to_its_process_group_stops_up_every_time_under_load(checkout, tmp_path):
    with cpu_load():
        for round_ in range(LOADED_ROUNDS):
            runs = [RunningCloud.up(checkout, tmp_path / f"state-{round_}-{n}")
                    for n in range(LOADED_CLOUDS)]
            try:
                for run in runs:
                    run.wait_serving(timeout=300)
                    assert run.status("dev") == 200, run.lines  # a warm worker
                for run in runs:
                    group = in_group(run.proc.pid)
                    assert len(group) >= 2, run.lines  # the cloud and its worker
                    with requests_to(run):
                        os.killpg(run.proc.pid, signal.SIGTERM)
                        assert run.exited(timeout=60) == 0, run.lines
                    assert "stopping" in run.lines, "\n".join(run.lines)
                    assert left_running(group) == set()
                    assert not (run.state_dir / "session.json").exists()
            finally:
                for run in runs:
                    run.stop(signal.SIGKILL)


def test_a_front_door_whose_loop_ended_first_stops_without_touching_its_closed_trigger():
    """stop() sets the flag, then wakes the loop; the loop may see the flag first (it
    wakes every second anyway) and close everything, the trigger included."""
    rules = RequestRules(methods=("GET",), unknown_method=Refusal(405, "GET only"),
                         max_body_bytes=8, body_too_large="too large", max_target_bytes=64,
                         target_too_long=Refusal(414, "too long"), max_header_bytes=4096,
                         headers_too_large=Refusal(431, "too large"), max_headers=5,
                         internal_error=Refusal(500, "broke"))
    front = HttpServer(lambda *args, **kwargs: None, rules, "127.0.0.1", 0)
    front.start()
    front._stopping.set()  # the loop sees it before stop() gets to wake it
    front.join(timeout=60)
    assert not front.running()
    front.stop()  # must not write to the descriptor the loop has closed
    assert port_is_free(front.port)


# --- stack files that would deploy over each other ----------------------------------

def test_name_clashes_are_found_per_setting():
    config = lambda prefix, stage: {"user-service:namePrefix": prefix, "user-service:stage": stage}
    assert name_clashes({"dev": config("dev-", "dev"), "test": config("test-", "test"),
                         "prod": config("", "prod")}, "user-service") == []
    assert name_clashes({"copy": config("test-", "test"), "test": config("test-", "test"),
                         "prod": config("", "prod"), "eu": config("", "eu")}, "user-service") == [
        "`Pulumi.eu.yaml` and `Pulumi.prod.yaml` both use an empty prefix",
        "`Pulumi.copy.yaml` and `Pulumi.test.yaml` both use prefix `test-`",
        "`Pulumi.copy.yaml` and `Pulumi.test.yaml` both use stage name `test`"]
    # An unset key is the config validation's to report, not a clash.
    assert name_clashes({"a": {}, "b": {}}, "user-service") == []


def test_a_copied_stack_file_is_refused_before_anything_is_deployed(checkout, tmp_path):
    copy = checkout / "Pulumi.copy.yaml"
    copy.write_text((checkout / "Pulumi.dev.yaml").read_text())
    try:
        for args in (("up", "--port", "0", "--no-serve"), ("deploy", "dev")):
            result = localcloud("--state-dir", str(tmp_path), *args, cwd=checkout)
            assert result.returncode == 1
            assert "`Pulumi.copy.yaml` and `Pulumi.dev.yaml` both use prefix `dev-`" \
                in result.stderr
            assert "Traceback" not in result.stderr
            assert not (tmp_path / "stacks").exists()
    finally:
        copy.unlink()


def test_a_command_that_fails_ends_the_tasks_its_program_left_pending(caplog):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def failing_deploy() -> int:
        # As a program that fails mid-run leaves the SDK's RPC tasks pending.
        loop.create_task(asyncio.sleep(3600))
        raise DeployError("the stack reference names a stack that is not deployed")

    assert run_command(failing_deploy) == 1
    gc.collect()
    assert loop.is_closed()
    assert "Task was destroyed but it is pending" not in caplog.text


def test_a_failed_deploy_ends_with_one_error_line(tmp_path):
    # A checkout whose only stack references a stack that does not exist.
    home = copy_checkout(tmp_path / "checkout", stacks=())
    config = yaml.safe_load((REPO_ROOT / "Pulumi.test.yaml").read_text())["config"]
    config.update({"user-service:namePrefix": "broken-", "user-service:stage": "broken",
                   "user-service:apiStack": "organization/user-service/no-such-stack"})
    (home / "Pulumi.broken.yaml").write_text(yaml.safe_dump({"config": config}))
    result = localcloud("--state-dir", str(tmp_path / "state"), "up", "--port", "0",
                        "--no-serve", cwd=home)
    assert result.returncode == 1
    # One line that names what is wrong (whichever part of the program finds it).
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "organization/user-service/no-such-stack" in result.stderr


def test_output_stays_aligned_for_any_stack_name():
    out = io.StringIO()
    with redirect_stdout(out):
        for stack in ("dev", "eu-central-staging"):
            print_result(DeployResult(stack, {}, [("created", "t", "n")]), width=18)
    lines = out.getvalue().splitlines()
    assert {line.index("1 created") for line in lines} == {len("  eu-central-staging ")}
