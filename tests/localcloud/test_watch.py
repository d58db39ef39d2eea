"""`up --watch`: what a batch of edits asks for (pure), the checks before a deploy, the
loop's lines, and, end to end, a copy of the checkout whose handler is edited while it is
served."""
from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from benchmarks.startup_bench import RunningCloud, copy_checkout
from localcloud import watch
from infra.signing import signed_headers
from localcloud.iam.callers import stage_credentials
from tests.localcloud.test_session import children_of, running

ROOT = Path("/checkout")


@pytest.mark.parametrize("paths,function,program", [
    (["function/user_service/handler.py"], ("function/user_service/handler.py",), ()),
    (["function/user_service/new_module.py", "function/user_service/store.py"],
     ("function/user_service/new_module.py", "function/user_service/store.py"), ()),
    (["infra/stage.py"], (), ("infra/stage.py",)),
    (["__main__.py"], (), ("__main__.py",)),
    (["Pulumi.yaml", "Pulumi.test.yaml"], (), ("Pulumi.test.yaml", "Pulumi.yaml")),
    (["infra/stage.py", "function/user_service/handler.py"],
     ("function/user_service/handler.py",), ("infra/stage.py",)),
    # Not ours to follow: tools' files, caches, the local cloud's state, other files.
    ([".venv/lib/python3.11/site-packages/x.py", ".localcloud/state/dev.json",
      ".git/index", "function/user_service/__pycache__/handler.cpython-311.pyc",
      "infra/__pycache__/stage.cpython-311.pyc", ".pytest_cache/v/cache/nodeids",
      ".hypothesis/examples/x", "README.md", "tests/test_x.py", "promotion/commands.py",
      "function/user_service/handler.py.swp", "function/user_service/handler.py~",
      "sub/Pulumi.dev.yaml", "function", "/elsewhere/function/user_service/handler.py"],
     (), ()),
])
def test_a_batch_asks_for_dev_for_the_function_and_every_unpinned_stack_for_the_program(
        paths, function, program):
    batch = watch.plan([ROOT / path if not path.startswith("/") else path for path in paths],
                       ROOT)
    assert batch == watch.Plan(function, program)


def test_the_redeploy_line_names_at_most_three_files():
    batch = watch.Plan(tuple(f"function/m{n}.py" for n in range(5)))
    assert batch.changed() == "function/m0.py, function/m1.py, function/m2.py and 2 more"


def make_function(root: Path, handler: str) -> Path:
    package = root / "function" / "user_service"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text(handler)
    return root


def test_a_syntax_error_is_named_by_file_and_line(tmp_path):
    root = make_function(tmp_path, "def handler(event, context):\n    return (\n")
    problem = watch.code_problem(root, ["function/user_service/handler.py"])
    assert problem.startswith("function/user_service/handler.py:2: ")


def test_a_handler_that_does_not_import_is_named_by_file_line_and_error(tmp_path):
    root = make_function(tmp_path, "import json\nimport no_such_module_here\n")
    problem = watch.code_problem(root, ["function/user_service/handler.py"])
    assert problem == ("function/user_service/handler.py:2: ModuleNotFoundError: No module "
                       "named 'no_such_module_here'")


def test_a_handler_that_imports_and_a_deleted_file_are_no_problem(tmp_path):
    root = make_function(tmp_path, "def handler(event, context):\n    return {}\n")
    assert watch.code_problem(root, ["function/user_service/handler.py",
                                     "function/user_service/deleted.py"]) is None


class Recorder:
    def __init__(self, fail: Exception | None = None, pinned=("prod",)) -> None:
        self.deployed: list[str] = []
        self.fail = fail
        self.pinned = pinned

    def redeploy(self, dev: bool = True) -> watch.Redeploy:
        def deploy(stack: str) -> str:
            if self.fail:
                raise self.fail
            self.deployed.append(stack)
            return "7"
        return watch.Redeploy(
            deploy_dev=lambda: deploy("dev"), deploy_program=deploy,
            unpinned_stacks=lambda: [s for s in ("dev", "test", "prod") if s not in self.pinned],
            has_dev=lambda: dev)


def clock(times):
    ticks = iter(times)
    return lambda: next(ticks)


def test_a_function_edit_redeploys_dev_only_and_says_so_in_one_line(tmp_path):
    root = make_function(tmp_path, "X = 1\n")
    said, recorder = [], Recorder()
    watch.apply(watch.Plan(("function/user_service/handler.py",)), root, recorder.redeploy(),
                said.append, clock=clock([10.0, 10.5]))
    assert recorder.deployed == ["dev"]
    assert said == ["watch: function/user_service/handler.py changed -> dev redeployed, "
                    "version 7 (0.50 s)"]


def test_a_program_edit_redeploys_every_stack_not_pinned_one_line_each(tmp_path):
    said, recorder = [], Recorder(pinned=("prod",))
    watch.apply(watch.Plan((), ("infra/stage.py",)), tmp_path, recorder.redeploy(),
                said.append, clock=clock([0.0, 1.0, 1.0, 3.0]))
    assert recorder.deployed == ["dev", "test"]
    assert said == ["watch: infra/stage.py changed -> dev redeployed, version 7 (1.00 s)",
                    "watch: infra/stage.py changed -> test redeployed, version 7 (2.00 s)"]


def test_a_broken_edit_deploys_nothing_and_says_why_in_one_line(tmp_path):
    root = make_function(tmp_path, "def handler(:\n")
    said, recorder = [], Recorder()
    watch.apply(watch.Plan(("function/user_service/handler.py",)), root, recorder.redeploy(),
                said.append)
    assert recorder.deployed == []
    assert len(said) == 1 and said[0].startswith("watch: function/user_service/handler.py:1: ")
    assert "nothing was deployed, every stage serves what it served" in said[0]


def test_a_deploy_the_program_refuses_is_one_line_and_the_stage_keeps_serving(tmp_path):
    said = []
    recorder = Recorder(fail=RuntimeError("user-service:throttlingBurstLimit must be an "
                                          "integer\n(more detail)"))
    watch.apply(watch.Plan((), ("Pulumi.dev.yaml",)), tmp_path, recorder.redeploy(),
                said.append)
    assert said == ["watch: Pulumi.dev.yaml changed; dev was not redeployed: "
                    "user-service:throttlingBurstLimit must be an integer; it serves what it "
                    "served (the next good save deploys)"]


def test_without_a_dev_stack_a_function_edit_says_there_is_none(tmp_path):
    root = make_function(tmp_path, "X = 1\n")
    said, recorder = [], Recorder()
    watch.apply(watch.Plan(("function/user_service/handler.py",)), root,
                recorder.redeploy(dev=False), said.append)
    assert recorder.deployed == [] and "there is no stack 'dev'" in said[0]


def test_watching_that_is_impossible_is_one_line_and_serving_goes_on(tmp_path):
    def no_watches(*args, **kwargs):
        raise OSError(28, "OS file watch limit reached")
        yield  # a generator, as watchfiles.watch is
    said = []
    watcher = watch.Watcher(tmp_path, Recorder().redeploy(), said.append, watch=no_watches)
    watcher.start()
    watcher.stop()
    assert len(said) == 1
    assert said[0].startswith(f"watch: cannot watch {tmp_path} (")
    assert "OS file watch limit reached" in said[0] and "serving without watching" in said[0]


def test_the_watcher_hands_each_batch_to_the_plan_and_ignores_empty_ones(tmp_path):
    root = make_function(tmp_path, "X = 1\n")

    def two_batches(*args, **kwargs):
        yield {(2, str(root / ".git" / "index"))}
        yield {(2, str(root / "function/user_service/handler.py")),
               (3, str(root / "function/user_service/old.py"))}
    said, recorder = [], Recorder()
    watcher = watch.Watcher(root, recorder.redeploy(), said.append, watch=two_batches)
    watcher.start()
    watcher.stop()
    assert recorder.deployed == ["dev"]
    assert said[0].startswith("watch: function/user_service/handler.py, "
                              "function/user_service/old.py changed -> dev redeployed")


# --- end to end ------------------------------------------------------------------------------

def signed_get(run: RunningCloud, stage: str) -> tuple[int, dict]:
    credentials = stage_credentials(run.state_dir, stage)
    url = f"{run.url}/{stage}/users"
    request = urllib.request.Request(url, headers=signed_headers(url, credentials,
                                                                 "us-east-1", "GET"))
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, dict(reply.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


EDIT_MARK = "X-Edit"


def mark_responses(checkout: Path, mark: str) -> None:
    """Every response of the handler gets the header X-Edit: `mark`."""
    responses = checkout / "function/user_service/responses.py"
    text = responses.read_text()
    start = text.index("NO_STORE = {")
    end = text.index("}", start) + 1
    responses.write_text(text[:start] + f'NO_STORE = {{"Cache-Control": "no-store", '
                         f'"{EDIT_MARK}": "{mark}"}}' + text[end:])


def test_an_edited_handler_is_served_by_dev_only_and_a_broken_save_changes_nothing(
        tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    run = RunningCloud.up(checkout, tmp_path / "state", "--watch")
    try:
        run.wait_serving()
        run.wait_for("watching ")
        for stage in ("dev", "test", "prod"):
            status, headers = signed_get(run, stage)
            assert status == 200 and EDIT_MARK not in headers
        workers = children_of(run.proc.pid)  # one warm worker per stage
        assert len(workers) == 3, workers
        mark_responses(checkout, "1")
        line = run.wait_for("-> dev redeployed, version 2")
        assert line.startswith("watch: function/user_service/responses.py changed -> ")
        # dev's old worker was retired (test's and prod's keep serving).
        retired = [pid for pid in workers if not running(pid)]
        deadline = time.monotonic() + 30  # an exited process may still be being reaped
        while len(retired) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
            retired = [pid for pid in workers if not running(pid)]
        assert len(retired) == 1, (workers, retired)
        assert signed_get(run, "dev")[1][EDIT_MARK] == "1"
        for stage in ("test", "prod"):  # they serve what they served
            assert EDIT_MARK not in signed_get(run, stage)[1]

        handler = checkout / "function/user_service/handler.py"
        good = handler.read_text()
        handler.write_text(good + "\ndef broken(:\n")
        run.wait_for("invalid syntax; nothing was deployed")
        status, headers = signed_get(run, "dev")
        assert status == 200 and headers[EDIT_MARK] == "1"  # the last good version

        # The fix and another edit, saved together: one redeploy.
        handler.write_text(good)
        mark_responses(checkout, "2")
        line = run.wait_for("-> dev redeployed, version 3")
        assert "function/user_service/handler.py" in line
        assert "function/user_service/responses.py" in line
        assert signed_get(run, "dev")[1][EDIT_MARK] == "2"
        redeploys = [each for each in run.lines if "redeployed" in each]
        assert len(redeploys) == 2, redeploys
        assert not [each for each in run.lines if "Traceback" in each], run.lines
    finally:
        run.stop()
