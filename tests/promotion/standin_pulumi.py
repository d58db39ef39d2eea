#!/usr/bin/env python3
"""A stand-in for the `pulumi` executable, for tests: it appends each command line (and,
for `up`, the stack's config at that moment) to calls.jsonl beside its state.json, and
answers the commands the Automation API runs the way the CLI does. Each `up` takes the
next outcome from the stack's "ups" list: stdout, stderr, exit code, and outputs to set."""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATE = HERE / "state.json"
state = json.loads(STATE.read_text())
args = sys.argv[1:]
if args[:1] == ["--non-interactive"]:
    args = args[1:]
stack = args[args.index("--stack") + 1] if "--stack" in args else None
stacks = state["stacks"]
record = {"args": sys.argv[1:]}
if args[:1] == ["up"]:
    record["config"] = dict(stacks[stack]["config"])
with (HERE / "calls.jsonl").open("a") as log:
    log.write(json.dumps(record) + "\n")


def answer(stdout="", stderr="", code=0):
    STATE.write_text(json.dumps(state))
    if stdout:
        print(stdout)
    if stderr:
        print(stderr, file=sys.stderr)
    sys.exit(code)


if args == ["version"]:
    answer("v3.140.0")
if args[:1] == ["whoami"]:
    if not state.get("logged_in", True):
        answer(stderr="error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive "
                      "CLI sessions", code=255)
    answer(json.dumps({"user": "ada", "url": "file://~"}))
if stack is not None and stack not in stacks:
    answer(stderr=f"error: no stack named '{stack}' found", code=255)
if args[:2] == ["stack", "ls"]:
    answer(json.dumps([{"name": name, "current": name == state.get("selected")}
                       for name in stacks]))
if args[:2] == ["stack", "select"]:
    state["selected"] = stack
    answer()
if args[:2] == ["stack", "unselect"]:
    state["selected"] = None
    answer()
if args[:2] == ["stack", "output"]:
    answer(json.dumps(stacks[stack]["outputs"]))
if args[:2] == ["stack", "history"]:
    answer(json.dumps([{"kind": "update", "startTime": "2026-11-21T12:00:00.000Z",
                        "message": "", "environment": {}, "config": {}, "result": "succeeded"}]))
if args[:2] == ["config", "set-all"]:
    pairs = [args[i + 1] for i, arg in enumerate(args) if arg == "--plaintext"]
    stacks[stack]["config"].update(pair.split("=", 1) for pair in pairs)
    answer()
if args[:2] == ["config", "rm-all"]:
    for key in args[args.index("--stack") + 2:]:
        stacks[stack]["config"].pop(key, None)
    answer()
if args[:1] == ["config"] and "--json" in args:
    answer(json.dumps({key: {"value": value, "secret": False}
                       for key, value in stacks[stack]["config"].items()}))
if args[:1] == ["up"]:
    outcome = stacks[stack]["ups"].pop(0)
    stacks[stack]["outputs"].update(outcome.get("outputs", {}))
    answer(outcome.get("stdout", ""), outcome.get("stderr", ""), outcome.get("code", 0))
answer(stderr=f"error: the stand-in does not know `pulumi {' '.join(args)}`", code=2)
