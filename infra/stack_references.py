"""How each Pulumi backend resolves the name a `pulumi.StackReference` is given, with each
backend's own messages. Pure: the program qualifies its references and checks them with
these rules before anything is declared, the tests' mocks answer StackReference with them
(a model of each backend), and the local cloud, a local backend, follows the DIY ones.

From pulumi/pulumi (pkg/ and sdk/go/common/):
- Pulumi Cloud (`pulumi login`): backend/httpstate/backend.go, httpstateBackendClient.
  GetStackOutputs refuses any name that is not `<organization>/<project>/<stack>`.
- DIY (`pulumi login --local`, or a bucket): backend/diy/store.go, projectReferenceStore.
  ParseReference takes `stack`, `org/stack` or `org/project/stack`, and the organization
  must be `organization`, which is also what the program's `pulumi.get_organization()`
  returns there (backend/diy/state.go).
- Both: backend/backend.go, backendClient.GetStackOutputs: a stack that does not exist is
  `unknown stack "<name>"`. A stack that exists but was never updated has no outputs: no
  error, an empty map (diy/state.go getSnapshotStackOutputs: no latest checkpoint;
  resource/stack/deployment.go DeserializeStackOutputs: no root Stack resource).
- Names: tokens.ParseStackName (stack_name.go), tokens.ValidateProjectName (project.go).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Mapping

# The DIY backend's one organization.
DIY_ORGANIZATION = "organization"

CLOUD_NEEDS_FULL_NAME = (
    "a stack reference's name should be of the form '<organization>/<project>/<stack>'. "
    "See https://www.pulumi.com/docs/using-pulumi/stack-outputs-and-references/"
    "#using-stack-references for more information.")
DIY_ORGANIZATION_ONLY = "organization name must be 'organization'"
DIY_EMPTY_NAME = "stack name must not be empty"

_NAME_BYTES = re.compile(rb"[A-Za-z0-9_.-]*")


class ReferenceRefused(Exception):
    """A backend refused a stack reference; the message is the backend's own."""


def unknown_stack(name: str) -> str:
    """The engine's message for a stack that does not exist (Go's %q of the name)."""
    return f"unknown stack {json.dumps(name, ensure_ascii=False)}"


def _go_quoted_byte(byte: int) -> str:
    """Go's %q of one byte: strconv.QuoteRune of that byte taken as a rune."""
    char = chr(byte)
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v", "'": "\\'", "\\": "\\\\"}
    if char in escapes:
        return f"'{escapes[char]}'"
    if byte < 0x20 or byte == 0x7F:
        return f"'\\x{byte:02x}'"
    return f"'{char}'" if char.isprintable() else f"'\\u{byte:04x}'"


def stack_name_problem(name: str) -> str | None:
    """tokens.ParseStackName's refusal of a stack name, or None. Go measures and indexes
    the name in UTF-8 bytes."""
    raw = name.encode()
    if raw == b"":
        return "a stack name may not be empty"
    if len(raw) > 100:
        return "a stack name cannot exceed 100 characters"
    valid = _NAME_BYTES.match(raw).end()
    if valid != len(raw):
        return ("a stack name may only contain alphanumeric, hyphens, underscores, or periods: "
                f"invalid character {_go_quoted_byte(raw[valid])} at position {valid}")
    return None


def project_name_problem(name: str) -> str | None:
    """tokens.ValidateProjectName's refusal of a project name, or None."""
    raw = name.encode()
    if raw == b"":
        return "project names may not be empty"
    if len(raw) > 100:
        return "project names are limited to 100 characters"
    if not _NAME_BYTES.fullmatch(raw):
        return "project names may only contain alphanumerics, hyphens, underscores, and periods"
    return None


@dataclass(frozen=True)
class Backend:
    """One backend's rules: `parse` gives the stack a name means, as
    `organization/project/stack`, or raises ReferenceRefused with the backend's message."""
    name: str

    def parse(self, reference: str, current_project: str) -> str:
        raise NotImplementedError

    def outputs(self, reference: str, current_project: str,
                stacks: Mapping[str, Mapping]) -> dict:
        """The outputs the engine gives a StackReference, from `stacks` (every stack that
        exists, by `organization/project/stack`, {} for one never updated)."""
        stack = self.parse(reference, current_project)
        if stack not in stacks:
            raise ReferenceRefused(unknown_stack(reference))
        return dict(stacks[stack])


class _PulumiCloud(Backend):
    def parse(self, reference: str, current_project: str) -> str:
        if reference.count("/") != 2:
            raise ReferenceRefused(CLOUD_NEEDS_FULL_NAME)
        # ParseStackReference: an empty project is the current one; an empty organization
        # is the user's default one, which a program cannot see (kept empty: no stack here
        # is named so, and the program sends no such name).
        organization, project, stack = reference.split("/")
        problem = stack_name_problem(stack)
        if problem:
            raise ReferenceRefused(problem)
        return f"{organization}/{project or current_project}/{stack}"


class _Diy(Backend):
    def parse(self, reference: str, current_project: str) -> str:
        if reference == "":
            raise ReferenceRefused(DIY_EMPTY_NAME)
        parts = reference.split("/")
        organization, project, stack = {
            1: ("", "", parts[0]),
            2: (parts[0], "", parts[-1]),
            3: tuple(parts),
        }.get(len(parts), ("", "", ""))  # more parts: the store reads no stack name
        organization = organization or DIY_ORGANIZATION
        if organization != DIY_ORGANIZATION:
            raise ReferenceRefused(DIY_ORGANIZATION_ONLY)
        project = project or current_project
        problem = project_name_problem(project) or stack_name_problem(stack)
        if problem:
            raise ReferenceRefused(problem)
        return f"{DIY_ORGANIZATION}/{project}/{stack}"


PULUMI_CLOUD: Backend = _PulumiCloud("Pulumi Cloud")
DIY: Backend = _Diy("DIY (pulumi login --local)")


def backend_of(organization: str) -> Backend:
    """The backend a program runs on, told by `pulumi.get_organization()`: `organization`
    on the DIY backend, the stack's own organization on Pulumi Cloud. (A Pulumi Cloud
    organization named `organization` is taken for DIY: its stacks may then reference only
    their own organization's.)"""
    return DIY if organization == DIY_ORGANIZATION else PULUMI_CLOUD


def qualified(name: str, organization: str, project: str) -> str:
    """The name a StackReference is given: a plain stack name in this organization and
    project; a name with slashes as it is (the backend's rules then judge it)."""
    return name if "/" in name else f"{organization}/{project}/{name}"


def fully_qualified(reference: str) -> bool:
    """`organization/project/stack` with every part given: the one form that Pulumi Cloud
    and the DIY backend both resolve, and to the same stack."""
    parts = reference.split("/")
    return len(parts) == 3 and all(parts)


def reference_problem(reference: str, organization: str, project: str) -> str | None:
    """The backend's refusal of this reference, before the engine is asked, or None."""
    try:
        backend_of(organization).parse(reference, project)
    except ReferenceRefused as refused:
        return str(refused)
    return None
