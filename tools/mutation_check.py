"""A small mutation check: change one line of a module at a time (a comparison flipped, a
boolean operator swapped, a condition made constant, a number or a name-like string
changed, an element of a literal removed), run the tests that should notice, and count
the mutants they caught.

    .venv/bin/python tools/mutation_check.py                      # every default target
    .venv/bin/python tools/mutation_check.py infra/permission.py  # one target, its tests
    .venv/bin/python tools/mutation_check.py promotion/decisions.py --tests tests/promotion
    .venv/bin/python tools/mutation_check.py infra/policies.py --list   # the mutants only

The mutants run in a copy of the checkout (under a temporary directory), so the checkout
itself is never changed. Each runs `pytest -x` on the target's tests, in a fork of this
process (which has imported pytest, pulumi, boto3, moto... once); a mutant the tests
pass is a survivor: either behaviour no test asserts, or a change that means the same
(an equivalent mutant), which only reading it can tell. Slow: one test run per mutant.
Stopped with Ctrl-C or SIGTERM, it kills the running test, removes its copy of the
checkout and says how far it got. A line marked `# mutation: skip` is never mutated.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import io
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Target module -> the tests that should catch its mutants (fast ones first: -x stops at
# the first failure).
DEFAULT_TARGETS = {
    "infra/policies.py": ["tests/infra/test_permission.py", "tests/localcloud/test_iam_eval.py",
                          "tests/infra/test_partitions.py", "tests/infra/test_wiring.py"],
    "infra/permission.py": ["tests/infra/test_permission.py", "tests/infra/test_wiring.py"],
    "promotion/decisions.py": ["tests/promotion/test_decisions.py",
                               "tests/promotion/test_automation_backend.py",
                               "tests/promotion/test_cli.py"],
    "localcloud/policy.py": ["tests/localcloud/test_iam_eval.py",
                             "tests/localcloud/test_callers.py", "tests/localcloud/test_auth.py"],
    "localcloud/apigateway/auth.py": ["tests/localcloud/test_auth.py",
                                      "tests/localcloud/test_callers.py"],
}

# token -> what it becomes
SWAPS = {
    "==": "!=", "!=": "==", "<": "<=", "<=": "<", ">": ">=", ">=": ">",
    "and": "or", "or": "and", "True": "False", "False": "True",
    "+": "-", "-": "+", "in": "not in", "is": "is not",
}
# A line that is only one element of a literal list, tuple, set or dict.
ELEMENT = re.compile(r"""^\s*(?:"[^"]*"|'[^']*'|[\w.]+\(.*\)|\d+)\s*(?::\s*.+)?,\s*(?:#.*)?$""")
# `if`/`elif`/`while` conditions, to be replaced by a constant.
CONDITION = re.compile(r"^(\s*(?:if|elif|while) )(.+)(:\s*(?:#.*)?)$")
SKIP_COMMENT = "mutation: skip"
# A string literal's prefix and opening quote (not bytes: b-strings are left alone).
QUOTE = re.compile(r"[rRfF]*(\"\"\"|'''|\"|')")


@dataclass(frozen=True)
class Mutant:
    line: int  # 1-based
    what: str
    text: str  # the new line

    def describe(self) -> str:
        return f"line {self.line}: {self.what}"


def docstring_lines(source: str) -> set[int]:
    """Lines of module, class and function docstrings (never mutated)."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def mutants_of(source: str) -> list[Mutant]:
    lines = source.splitlines(keepends=True)
    skip = docstring_lines(source) | {n for n, line in enumerate(lines, 1) if SKIP_COMMENT in line}
    found: list[Mutant] = []

    def add(number: int, what: str, text: str) -> None:
        if number in skip or text == lines[number - 1]:
            return
        candidate = lines[:number - 1] + [text] + lines[number:]
        try:
            ast.parse("".join(candidate))
        except SyntaxError:
            return
        found.append(Mutant(number, what, text))

    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        kind, text, (row, col), (end_row, end_col), _ = token
        if row != end_row or row > len(lines):
            continue
        line = lines[row - 1]
        if (kind == tokenize.OP or kind == tokenize.NAME) and text in SWAPS:
            if text == "in" and line[max(0, col - 4):col] == "not ":
                add(row, "not in -> in", line[:col - 4] + "in" + line[end_col:])
                continue
            if text == "not" or (text == "is" and line[end_col:end_col + 4] == " not"):
                continue
            if text in ("+", "-") and not line[:col].rstrip().endswith((")", "]")) and \
                    not re.search(r"[\w)\]]\s*$", line[:col]):
                continue  # unary sign
            add(row, f"{text} -> {SWAPS[text]}", line[:col] + SWAPS[text] + line[end_col:])
        elif kind == tokenize.NAME and text == "not":
            add(row, "not dropped", line[:col] + line[end_col:].lstrip())
        elif kind == tokenize.STRING and len(text) <= 60:
            # A constant that is a name, an action, a pattern (no spaces: not a message).
            quote = QUOTE.match(text)
            body = text[quote.end():len(text) - len(quote.group(1))] if quote else ""
            if quote and body and not re.search(r"\s", body):
                cut = col + quote.end()
                add(row, f"{text} changed", line[:cut] + "x" + line[cut:])
        elif kind == tokenize.NUMBER and text.isdigit():
            add(row, f"{text} -> {int(text) + 1}", line[:col] + str(int(text) + 1) + line[end_col:])
    for number, line in enumerate(lines, 1):
        condition = CONDITION.match(line.rstrip("\n"))
        if condition and not condition.group(2).startswith(("True", "False")):
            for constant in ("True", "False"):
                add(number, f"condition -> {constant}",
                    condition.group(1) + constant + condition.group(3) + "\n")
        if ELEMENT.match(line) and number not in skip:
            add(number, "element removed", "\n")
    return sorted(found, key=lambda m: (m.line, m.what))


def copy_checkout(into: Path) -> Path:
    repo = into / "repo"
    shutil.copytree(ROOT, repo, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".localcloud", ".build", "__pycache__", ".pytest_cache", "*.zip"))
    return repo


# Imported once, before the first mutant: each mutant's test run is a fork of a process
# that has them, so it pays only for the project's modules and its own tests.
WARM = ("pytest", "pulumi", "pulumi.runtime", "pulumi_aws", "boto3", "botocore", "moto",
        "moto.server", "werkzeug", "waitress", "requests", "cryptography", "yaml")


class Stopped(Exception):
    """SIGINT or SIGTERM arrived: unwind, so the running test is killed and the copy of
    the checkout removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    # A second signal must not interrupt the cleanup the first one started.
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, signal.SIG_IGN)
    raise Stopped(signum)


class Runner:
    """Runs pytest in the copy of the checkout, each time in a fresh fork (POSIX only)."""

    def __init__(self, repo: Path) -> None:
        os.chdir(repo)
        sys.path.insert(0, str(repo))
        sys.dont_write_bytecode = True  # a mutated module is always read from its source
        for name in WARM:
            try:
                importlib.import_module(name)
            except ImportError:
                pass

    def run(self, tests: list[str], timeout: float) -> str:
        """'passed', 'failed' or 'timeout'."""
        pid = os.fork()
        if pid == 0:  # the child: its own session (what its tests start, it may kill)
            code = 70
            try:
                for each in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(each, signal.SIG_DFL)
                os.setsid()
                quiet = os.open(os.devnull, os.O_WRONLY)
                os.dup2(quiet, 1)
                os.dup2(quiet, 2)
                import pytest
                code = int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", *tests]))
            finally:
                os._exit(code)
        deadline = time.monotonic() + timeout
        try:
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    pid = 0
                    return "passed" if os.waitstatus_to_exitcode(status) == 0 else "failed"
                if time.monotonic() > deadline:
                    return "timeout"
                time.sleep(0.05)
        finally:
            if pid:  # timed out, or stopped: the test run and what it started go too
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def check(target: str, tests: list[str], timeout: float, repo: Path,
          runner: Runner, done: list[str]) -> list[tuple[Mutant, str]]:
    """Each mutant's outcome; `done` gets each outcome as it comes, for a stop midway."""
    path = repo / target
    original = path.read_text()
    if runner.run(tests, timeout) != "passed":
        raise SystemExit(f"{target}: its tests fail without any mutation: {' '.join(tests)}")
    results = []
    lines = original.splitlines(keepends=True)
    for mutant in mutants_of(original):
        path.write_text("".join(lines[:mutant.line - 1] + [mutant.text] + lines[mutant.line:]))
        try:
            outcome = runner.run(tests, timeout)
        finally:
            path.write_text(original)
        results.append((mutant, outcome))
        done.append(outcome)
        mark = {"failed": "caught", "timeout": "caught (timeout)", "passed": "SURVIVED"}[outcome]
        print(f"  {time.strftime('%H:%M:%S')} {target} {mutant.describe()}: {mark}", flush=True)
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="modules to mutate (default: the built-in list)")
    parser.add_argument("--tests", nargs="+", help="the tests to run (default: the target's)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per test run")
    parser.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    args = parser.parse_args(argv)
    targets = args.targets or list(DEFAULT_TARGETS)
    for target in targets:
        if not (ROOT / target).is_file():
            parser.error(f"no such module: {target}")
        if not args.tests and target not in DEFAULT_TARGETS:
            parser.error(f"{target} has no default tests; name them with --tests")
    if args.list:
        for target in targets:
            for mutant in mutants_of((ROOT / target).read_text()):
                print(f"{target} {mutant.describe()}: {mutant.text.strip()}")
        return 0
    survivors, totals, done, scratch = [], {}, [], "not made yet"
    started = time.monotonic()
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, _stop)
    try:
        with tempfile.TemporaryDirectory(prefix="mutation-") as scratch:
            try:
                repo = copy_checkout(Path(scratch))
                runner = Runner(repo)
                for target in targets:
                    results = check(target, args.tests or DEFAULT_TARGETS[target],
                                    args.timeout, repo, runner, done)
                    caught = sum(outcome != "passed" for _, outcome in results)
                    totals[target] = (caught, len(results))
                    survivors += [(target, m) for m, outcome in results if outcome == "passed"]
            finally:
                os.chdir(ROOT)  # out of the copy before it is removed
    except Stopped as stop:
        survived = done.count("passed")
        print(f"\nstopped by {stop}: {len(done)} mutants run, {len(done) - survived} caught, "
              f"{survived} survived; the copy of the checkout ({scratch}) is removed",
              flush=True)
        return 128 + stop.signum
    print(f"\n{'module':40} caught / mutants  ({time.monotonic() - started:.0f} s)")
    for target, (caught, total) in totals.items():
        print(f"{target:40} {caught:6} / {total}")
    if survivors:
        print("\nsurvivors:")
        for target, mutant in survivors:
            print(f"  {target} {mutant.describe()}: {mutant.text.strip()}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
