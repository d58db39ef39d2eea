"""`up --watch`: the local cloud follows the checkout's edits.

What a batch of changed paths asks for is decided by `plan` (pure): an edit under
`function/` redeploys dev only (a new version, dev's alias `live` moved to it); an edit of
the program (`__main__.py`, `infra/`, a `Pulumi*.yaml`) redeploys every stack that is not
pinned by a promotion; anything else asks for nothing. A pinned stack never follows the
checkout.

Before anything is deployed the edited code must compile and the handler must import
(`code_problem`): a broken save gives one line naming the file and the error, and every
stage keeps serving what it served. The function's code is not imported by this process,
so dev is redeployed here, in the running cloud; an edit of the program is deployed by
`python -m localcloud deploy STACK` in a fresh interpreter, the only way its new modules
are imported (this process's `infra` modules are the ones the local cloud itself uses).

watchfiles groups the changes it sees until none came for `STEP_MS` (at most
`DEBOUNCE_MS`), and changes made while a deploy runs come as the next batch: quick
successive saves make one deploy.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable

DEV_STACK = "dev"
FUNCTION_DIR = "function"
PROGRAM_DIR = "infra"
PROGRAM_FILE = "__main__.py"
# Never followed: tools' and the local cloud's own files.
IGNORED_DIRS = frozenset({".venv", ".localcloud", ".git", "__pycache__", ".pytest_cache",
                          ".hypothesis", ".mypy_cache", ".ruff_cache", "node_modules", ".idea",
                          ".vscode"})
IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", ".tmp", "~")
DEBOUNCE_MS = 1600  # watchfiles' default: the longest a batch is held
STEP_MS = 50        # a batch ends when no change came for this long
READY_POLL_MS = 200


@dataclass(frozen=True)
class Plan:
    """What a batch of changes asks for: the changed files (relative, POSIX) that decide."""
    function: tuple[str, ...] = ()
    program: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.function and not self.program

    def changed(self) -> str:
        """The changed files, for the redeploy line (the first three, then a count)."""
        files = sorted({*self.program, *self.function})
        shown = ", ".join(files[:3])
        return shown + (f" and {len(files) - 3} more" if len(files) > 3 else "")


def relative(path: str | Path, root: Path) -> str | None:
    """`path` relative to the checkout, POSIX style; None outside it."""
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def ignored(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return (any(part in IGNORED_DIRS for part in parts[:-1])
            or (bool(parts) and parts[-1] in IGNORED_DIRS)
            or rel.endswith(IGNORED_SUFFIXES))


def is_program_file(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return (rel == PROGRAM_FILE
            or (len(parts) == 1 and rel.startswith("Pulumi.") and rel.endswith((".yaml", ".yml")))
            or rel in ("Pulumi.yaml", "Pulumi.yml")
            or (len(parts) > 1 and parts[0] == PROGRAM_DIR))


def plan(changed: Iterable[str | Path], root: Path) -> Plan:
    """What the changed paths (created, modified or deleted alike) ask for."""
    function, program = set(), set()
    for path in changed:
        rel = relative(path, root)
        if rel is None or ignored(rel):
            continue
        if rel.split("/", 1)[0] == FUNCTION_DIR and "/" in rel:
            function.add(rel)
        elif is_program_file(rel):
            program.add(rel)
    return Plan(tuple(sorted(function)), tuple(sorted(program)))


def watch_filter(root: Path) -> Callable[[object, str], bool]:
    """watchfiles' filter: only the paths `plan` may act on reach a batch."""
    def keep(_change: object, path: str) -> bool:
        return not plan([path], root).empty
    return keep


# --- checks before a deploy --------------------------------------------------------------

def code_problem(root: Path, files: Iterable[str], python: str = sys.executable) -> str | None:
    """Why the edit cannot be deployed, in one line naming the file, or None.

    Every changed Python file that still exists must compile; after an edit under
    function/, the handler must also import, in a fresh interpreter with no AWS keys (an
    import that fails would make every request to dev an error)."""
    for rel in sorted(files):
        path = root / rel
        if path.suffix != ".py" or not path.is_file():
            continue
        try:
            compile(path.read_bytes(), rel, "exec")
        except SyntaxError as err:
            return f"{rel}:{err.lineno or '?'}: {err.msg}"
        except ValueError as err:  # e.g. null bytes
            return f"{rel}: {err}"
    if any(rel.startswith(f"{FUNCTION_DIR}/") for rel in files):
        return handler_import_problem(root / FUNCTION_DIR, python)
    return None


HANDLER_MODULE = "user_service.handler"


def handler_import_problem(function_dir: Path, python: str) -> str | None:
    script = ("import importlib, sys, traceback\n"
              "try:\n"
              f"    importlib.import_module({HANDLER_MODULE!r})\n"
              "except BaseException as err:\n"
              "    frame = traceback.extract_tb(err.__traceback__)[-1]\n"
              "    print(f'{frame.filename}:{frame.lineno}: {type(err).__name__}: {err}')\n"
              "    sys.exit(1)\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1",
           "AWS_DEFAULT_REGION": "us-east-1", "TABLE_NAME": "import-check"}
    done = subprocess.run([python, "-c", script], cwd=function_dir, env=env,
                          capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        return None
    said = (done.stdout.strip() or done.stderr.strip().splitlines()[-1:] or ["it exited"])
    line = said if isinstance(said, str) else said[0]
    prefix = str(function_dir.resolve()) + "/"
    return line.replace(prefix, f"{FUNCTION_DIR}/")


# --- the loop ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Redeploy:
    """What the loop needs of the running cloud."""
    deploy_dev: Callable[[], str]              # deploy dev here; returns its new version
    deploy_program: Callable[[str], str]       # deploy a stack in a fresh process
    unpinned_stacks: Callable[[], list[str]]   # in deploy order
    has_dev: Callable[[], bool]


def apply(batch: Plan, root: Path, redeploy: Redeploy, say: Callable[[str], None],
          clock: Callable[[], float] = time.perf_counter, python: str = sys.executable) -> None:
    """Deploy what `batch` asks for, saying one line per stage (or one for a refusal)."""
    problem = code_problem(root, [*batch.function, *batch.program], python)
    if problem:
        say(f"watch: {problem}; nothing was deployed, every stage serves what it served "
            "(the next good save deploys)")
        return
    if batch.program:
        stacks = redeploy.unpinned_stacks()
        reason = f"{batch.changed()} changed"
    elif redeploy.has_dev():
        stacks = [DEV_STACK]
        reason = f"{batch.changed()} changed"
    else:
        say(f"watch: {batch.changed()} changed, but there is no stack {DEV_STACK!r} to "
            "follow the function")
        return
    for stack in stacks:
        started = clock()
        try:
            version = (redeploy.deploy_program(stack) if batch.program
                       else redeploy.deploy_dev())
        except Exception as err:  # noqa: BLE001 -- one line, and the loop goes on
            say(f"watch: {reason}; {stack} was not redeployed: {one_line(err)}; it serves "
                "what it served (the next good save deploys)")
            return
        say(f"watch: {reason} -> {stack} redeployed, version {version} "
            f"({clock() - started:.2f} s)")


def one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0] if "\n" in text else text


class Watcher:
    """Follows `root` in a thread of the `up` process until `stop()`."""

    def __init__(self, root: Path, redeploy: Redeploy, say: Callable[[str], None],
                 watch=None) -> None:
        self.root = root
        self.redeploy = redeploy
        self.say = say
        self._watch = watch  # watchfiles.watch, or a stand-in for tests
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watch", daemon=True)

    def start(self, ready_within: float = 60.0) -> bool:
        """Start following; True once the watches are in place (a save from then on is
        seen), False when watching is impossible (already said) or not ready in time."""
        self._thread.start()
        self._ready.wait(ready_within)
        return self._ready.is_set() and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        watch = self._watch
        if watch is None:
            from watchfiles import watch
        try:
            # An empty batch every READY_POLL_MS: the first says the watches are in place
            # (watchfiles adds them before it first waits).
            batches = watch(self.root, watch_filter=watch_filter(self.root),
                            debounce=DEBOUNCE_MS, step=STEP_MS, stop_event=self._stop,
                            raise_interrupt=False, rust_timeout=READY_POLL_MS,
                            yield_on_timeout=True)
            for changes in batches:
                self._ready.set()
                batch = plan([path for _, path in changes], self.root)
                if batch.empty:
                    continue
                try:
                    apply(batch, self.root, self.redeploy, self.say)
                except Exception as err:  # noqa: BLE001 -- the loop outlives one bad batch
                    self.say(f"watch: {batch.changed()} changed, but checking it failed: "
                             f"{one_line(err)}")
        except (OSError, RuntimeError) as err:
            self._ready.set()
            # e.g. the inotify watch limit reached (watchfiles raises OSError) or an
            # internal error of its notifier (a RuntimeError).
            self.say(f"watch: cannot watch {self.root} ({one_line(err)}); serving without "
                     "watching: deploy edits with `python -m localcloud deploy STACK` (on "
                     "Linux, raising fs.inotify.max_user_watches lets watching work)")
