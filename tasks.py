#!/usr/bin/env python3
"""Set-up, run, test and benchmark targets; needs nothing but Python 3.11+.

Every target first makes sure the repo's own virtual environment (.venv) exists and
holds exactly the pinned requirements, so a fresh clone needs no manual install step.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
REQUIREMENTS = ROOT / "requirements.txt"
STAMP = VENV / ".requirements.sha256"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

USAGE = """usage: python3 tasks.py TARGET [ARGS...]

targets:
  setup   create .venv and install the pinned requirements
  run     set up, then deploy dev, test and prod into the local cloud and serve them
          (extra ARGS go to `python -m localcloud up`, e.g. --port 9090, or --watch to
          follow the checkout's edits)
  test    set up, then run the whole test suite, files in parallel on up to 2 cores
          (extra ARGS go to pytest, e.g. tests/infra -n 0)
  bench   set up, then run the benchmarks and print their ratios
"""


def setup() -> None:
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not PYTHON.exists():
        print("creating .venv (once) ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing the pinned requirements into .venv (the first time takes a few "
          "minutes; pip reports each package as it goes) ...", flush=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check",
         "-r", str(REQUIREMENTS)],
        check=True,
    )
    STAMP.write_text(wanted + "\n")
    print("set-up done", flush=True)


def in_venv(*args: str) -> int:
    """Run the venv's python with `args` in the repo. On POSIX this process becomes it
    (exec), so signals sent to `tasks.py run` (Ctrl-C, kill PID) reach the local cloud
    itself, and nothing is left running when it stops."""
    os.chdir(ROOT)
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(PYTHON, [str(PYTHON), *args])
    return subprocess.run([str(PYTHON), *args]).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"setup", "run", "test", "bench"}:
        print(USAGE, file=sys.stderr)
        return 2
    target, rest = argv[0], argv[1:]
    try:
        setup()
    except subprocess.CalledProcessError as err:
        print(f"set-up failed: `{' '.join(err.cmd)}` exited {err.returncode}; "
              "check the network access to PyPI and run `python3 tasks.py setup` again.",
              file=sys.stderr)
        return 1
    if target == "run":
        return in_venv("-m", "localcloud", "up", *rest)
    if target == "test":
        # Test files run in parallel, one worker per core (at most 2: the build machines
        # have 2); a file's tests stay together, so its fixtures are made once.
        workers = str(max(1, min(2, os.cpu_count() or 1)))
        return in_venv("-m", "pytest", "-n", workers, "--dist", "loadfile", *rest)
    if target == "bench":
        return in_venv("-m", "benchmarks", *rest)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
