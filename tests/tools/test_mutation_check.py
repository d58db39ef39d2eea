"""tools/mutation_check.py: lines marked `# mutation: skip` are never mutated."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "mutation_check.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("mutation_check_under_test", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_line_marked_skip_gets_no_mutants_and_the_others_still_do():
    tool = load_tool()
    source = ('LIMITS = {\n'
              '    "Sid": "Named",  # mutation: skip\n'
              '    "Effect": "Allow",\n'
              '}\n')
    lines = {m.line for m in tool.mutants_of(source)}
    assert 3 in lines  # the unmarked element: its string changed, the element removed
    assert 2 not in lines
    unmarked = source.replace("  # mutation: skip", "")
    assert 2 in {m.line for m in tool.mutants_of(unmarked)}


def test_the_function_roles_statement_ids_are_not_mutated():
    # A Sid is an optional label, unique within the policy; IAM's decision never reads it
    # (IAM User Guide, "IAM JSON policy elements: Sid"), so its mutants cannot be caught.
    tool = load_tool()
    source = (TOOL.parents[1] / "infra" / "policies.py").read_text()
    lines = source.splitlines()
    mutated = {lines[m.line - 1].strip() for m in tool.mutants_of(source)}
    assert not [line for line in mutated if '"Sid": "XRayTraces"' in line
                or '"Sid": "UsersTable"' in line]
