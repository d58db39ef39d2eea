"""The function's memory and timeout come from the stack's config, and the version the
stage serves follows the code and configuration: a new version only when either changes,
as Lambda publishes them."""
from __future__ import annotations

import base64
import hashlib

from infra import archive
from tests.infra.conftest import deploy_stacks
from tests.infra.mocks import Account

FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
P = "user-service"


def settings(memory: str, timeout: str) -> dict[str, str]:
    return {f"{P}:functionMemoryMb": memory, f"{P}:functionTimeoutSeconds": timeout}


def test_memory_and_timeout_from_the_stack_config_reach_the_function():
    # Unset in the shipped stack files: Pulumi.yaml's defaults (256 MB, 10 s), not
    # Lambda's own (128 MB, 3 s).
    shipped = deploy_stacks()
    sized = deploy_stacks(overrides={"dev": settings("1024", "25"), "test": settings("512", "20"),
                                     "prod": settings("2048", "29")})
    assert {stack: (run.one(FUNCTION).outputs["memorySize"], run.one(FUNCTION).outputs["timeout"])
            for stack, run in shipped.items()} == {
        "dev": (256, 10), "test": (256, 10), "prod": (256, 10)}
    assert {stack: (run.one(FUNCTION).outputs["memorySize"], run.one(FUNCTION).outputs["timeout"])
            for stack, run in sized.items()} == {
        "dev": (1024, 25), "test": (512, 20), "prod": (2048, 29)}


def test_a_version_is_published_only_for_new_code_or_configuration(monkeypatch):
    account = Account()  # one account, updated again and again
    first = deploy_stacks(("dev",), account=account)["dev"]
    again = deploy_stacks(("dev",), account=account)["dev"]
    resized = deploy_stacks(("dev",), overrides={"dev": settings("512", "10")},
                            account=account)["dev"]
    files = {**archive.read_handler_files(), "user_service/extra.py": b"# new code\n"}
    monkeypatch.setattr(archive, "read_handler_files", lambda: files)
    recoded = deploy_stacks(("dev",), overrides={"dev": settings("512", "10")},
                            account=account)["dev"]

    def served(run):
        return (run.one(FUNCTION).outputs["version"], run.one(ALIAS).inputs["functionVersion"],
                run.outputs["functionVersion"])
    assert [served(run) for run in (first, again, resized, recoded)] == [
        ("1", "1", "1"), ("1", "1", "1"), ("2", "2", "2"), ("3", "3", "3")]
    # Nothing changed: the function was not modified either.
    assert again.one(FUNCTION).outputs["lastModified"] == \
        first.one(FUNCTION).outputs["lastModified"]
    assert resized.one(FUNCTION).outputs["lastModified"] != \
        first.one(FUNCTION).outputs["lastModified"]
    # The new code is what Lambda runs: its hash is that of the new archive's bytes.
    new_archive = archive.build_zip(files)
    assert recoded.one(FUNCTION).outputs["codeSha256"] == \
        base64.b64encode(hashlib.sha256(new_archive).digest()).decode()
    assert recoded.outputs["codeHash"] == hashlib.sha256(new_archive).hexdigest()
    assert resized.one(FUNCTION).outputs["codeSha256"] != \
        recoded.one(FUNCTION).outputs["codeSha256"]
