"""Promotion and rollback on the local cloud, to the issue-10 contract: every stage serves
a published version through its alias `live`, archives are kept by code hash, every method
needs a SigV4 signature (each stage's caller profile is in .localcloud/credentials), and
prod serves only what test proved, whatever the checkout holds.

These tests need the program's and the local cloud's side of the contract (aliases, S3
archives, SigV4 profiles); they fail until those branches are merged."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import time
import urllib.error
import urllib.request
import zipfile
from contextlib import redirect_stderr, redirect_stdout

import boto3
import pytest

from infra import archive, openapi, routes
from infra.signing import signed_headers
from localcloud.iam.callers import read_credentials
from tests.e2e.test_access_logs import access_lines
from promotion import commands
from promotion.__main__ import main
from promotion.backends import BackendError
from promotion.decisions import HISTORY, PIN_KEYS, Refusal
from promotion.local_backend import LocalBackend

PROFILE = routes.Route("GET", "/users/{id}/profile")
VERSIONED_HANDLER = '''

_unversioned_handler = handler


def handler(event, context):  # every response says which code answered
    response = _unversioned_handler(event, context)
    response.setdefault("headers", {})["X-Users-Api"] = "{version}"
    return response
'''


@pytest.fixture
def backend(cloud):
    return LocalBackend(cloud.store, cloud.cloud, report=lambda line: None)


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """Put a copy of the function, changed to answer as `version`, in the checkout's place
    (the repo's files are not touched)."""
    def with_code(version: str, extra: str = ""):
        copy = tmp_path / version
        shutil.copytree(archive.REPO_ROOT / "function", copy,
                        ignore=shutil.ignore_patterns("__pycache__"))
        handler = copy / archive.PACKAGE / "handler.py"
        handler.write_text(handler.read_text() + VERSIONED_HANDLER.replace("{version}", version)
                           + extra)
        monkeypatch.setattr(archive, "FUNCTION_DIR", copy)
    return with_code


def signed_get(cloud, stage: str, path: str) -> tuple[int, dict]:
    url = f"{cloud.url}/{stage}{path}"
    caller = LocalBackend(cloud.store, cloud.cloud).caller(stage)
    request = urllib.request.Request(url, headers=signed_headers(url, caller.credentials,
                                                                 caller.region))
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, dict(reply.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def behaviour(cloud, stage: str) -> tuple[int, str | None]:
    """(status of the new route, X-Users-Api header of a list request)."""
    user = "00000000-0000-4000-8000-000000000000"
    profile, _ = signed_get(cloud, stage, f"/users/{user}/profile")
    status, headers = signed_get(cloud, stage, "/users?limit=1")
    assert status == 200
    return profile, headers.get("X-Users-Api")


def served(cloud, stack: str) -> tuple[str, str, str]:
    outputs = cloud.store.load(stack).outputs
    return outputs["deploymentId"], outputs["codeHash"], str(outputs.get("functionVersion", ""))


def cli(cloud, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*argv, "--local", "--state-dir", str(cloud.store.dir)])
    return code, out.getvalue(), err.getvalue()


def ok(cloud, *argv: str) -> str:
    code, out, err = cli(cloud, *argv)
    assert (code, err) == (0, ""), err
    return out


OLD = (403, None)  # the route does not exist; the repo's function answers


def test_promote_then_roll_back_twice_with_no_checkout_change(cloud, backend, checkout,
                                                             monkeypatch):
    first = served(cloud, "prod")
    assert behaviour(cloud, "prod") == OLD

    # A new route (in the API's owner, dev) and new code, proven on test, promoted.
    monkeypatch.setattr(routes, "ROUTES", routes.ROUTES + (PROFILE,))
    monkeypatch.setitem(openapi.OPERATIONS, (PROFILE.method, PROFILE.path), {
        "operationId": "getProfile", "parameters": openapi.OPERATIONS[("GET", "/users/{id}")][
            "parameters"], "responses": {"404": {"description": "not served yet"}}})
    checkout("v2")
    cloud.deploy("dev")
    cloud.deploy("test")
    v2 = behaviour(cloud, "test")
    assert v2[1] == "v2" and v2[0] != 403
    started = time.perf_counter()
    out = ok(cloud, "promote", "--from", "test", "--to", "prod")
    print(f"local promote: {time.perf_counter() - started:.2f} s")
    assert ".localcloud/config/prod.json" in out or "config/prod.json" in out
    assert behaviour(cloud, "prod") == v2
    second = served(cloud, "prod")
    assert second[:2] == served(cloud, "test")[:2]
    # The very bytes test ran: prod's alias serves a version with test's CodeSha256.
    lam = cloud.cloud("prod").client("lambda")
    assert (lam.get_function(FunctionName="user-service:live")["Configuration"]["CodeSha256"]
            == lam.get_function(FunctionName="test-user-service:live")["Configuration"]["CodeSha256"])

    # Code only: same API, new code; its own entry.
    checkout("v3")
    cloud.deploy("test")
    assert served(cloud, "test")[0] == second[0]
    ok(cloud, "promote", "--from", "test", "--to", "prod")
    assert behaviour(cloud, "prod")[1] == "v3"

    # The checkout now holds code nobody deployed; rollbacks need none of it.
    checkout("v4-never-deployed")
    monkeypatch.setattr(routes, "ROUTES", routes.ROUTES[:-1])
    started = time.perf_counter()
    ok(cloud, "rollback", "--stack", "prod")
    print(f"local rollback: {time.perf_counter() - started:.2f} s")
    assert behaviour(cloud, "prod") == v2 and served(cloud, "prod") == second
    ok(cloud, "rollback", "--stack", "prod")
    assert behaviour(cloud, "prod") == OLD and served(cloud, "prod") == first

    out = ok(cloud, "history", "--stack", "prod")
    listed = [line.split() for line in out.splitlines()[1:]]
    assert [(row[0], row[1], row[3]) for row in listed[:1]] == [("*", "#1", first[0])]
    assert [row[-1] for row in listed] == ["rollback", "rollback", "test", "test", "prod"]
    published = cloud.cloud("prod").client("lambda").list_versions_by_function(
        FunctionName="user-service")["Versions"]
    assert {first[2], second[2]} <= {v["Version"] for v in published}


# Code that works on test and breaks on prod (prod's table is `User`): test's smoke check
# passes, prod's after the update fails.
BROKEN_IN_PROD = """
import os as _os
if _os.environ.get("TABLE_NAME") == "User":
    raise RuntimeError("broken in prod only")
"""


def test_a_target_failing_its_smoke_check_is_put_back(cloud, backend, checkout):
    cloud.deploy("test")
    ok(cloud, "promote", "--from", "test", "--to", "prod")
    before = served(cloud, "prod"), cloud.store.config_overrides("prod")
    checkout("broken-in-prod", extra=BROKEN_IN_PROD)
    cloud.deploy("test")
    assert signed_get(cloud, "test", "/users?limit=1")[0] == 200
    code, out, err = cli(cloud, "promote", "--from", "test", "--to", "prod")
    assert code == 1, out
    assert "smoke check: test answers 200" in out and "smoke check: prod answers 200" in out
    assert "prod was updated but fails its smoke check (GET " in err
    assert "it was rolled back to its previous pins" in err and "its smoke check passes (GET " in err
    # The very version it served before, not the same code published once more.
    assert served(cloud, "prod") == before[0]
    pins = {k: v for k, v in cloud.store.config_overrides("prod").items()
            if k != "user-service:promotedFunctionVersion"}
    assert pins == before[1]
    assert cloud.store.config_overrides("prod")["user-service:promotedFunctionVersion"] == \
        before[0][2]
    assert signed_get(cloud, "prod", "/users?limit=1")[0] == 200


def test_skip_smoke_skips_the_targets_check_too_and_a_rollback_mends_a_failing_stage(
        cloud, checkout):
    cloud.deploy("test")
    ok(cloud, "promote", "--from", "test", "--to", "prod")
    working = served(cloud, "prod")
    checkout("broken-in-prod-skipped", extra=BROKEN_IN_PROD)
    cloud.deploy("test")
    out = ok(cloud, "promote", "--from", "test", "--to", "prod", "--skip-smoke")
    assert "--skip-smoke: no smoke check is sent (not the identity check, not test's before " \
           "the update, not prod's after it)" in out
    # Nothing checked prod after its update: it serves the broken code.
    assert served(cloud, "prod")[1] == served(cloud, "test")[1]
    assert signed_get(cloud, "prod", "/users?limit=1")[0] >= 500
    # A rollback's check before the change says prod fails and goes on; after it, it answers.
    out = ok(cloud, "rollback", "--stack", "prod")
    assert "smoke check: prod fails now (GET " in out and "going on" in out
    assert served(cloud, "prod") == working
    assert signed_get(cloud, "prod", "/users?limit=1")[0] == 200


def test_production_onto_test_only_when_asked_and_release_returns_test(cloud, checkout):
    checkout("own-code-of-test")
    cloud.deploy("test")
    code, _, err = cli(cloud, "promote", "--from", "prod", "--to", "test")
    assert code == 1 and "--allow-from-production" in err and "--to test" not in err
    ok(cloud, "promote", "--from", "prod", "--to", "test", "--skip-smoke",
       "--allow-from-production")
    assert served(cloud, "test")[1] == served(cloud, "prod")[1]
    ok(cloud, "release", "--stack", "test")
    assert behaviour(cloud, "test")[1] == "own-code-of-test"
    assert not set(PIN_KEYS) & set(cloud.store.config_overrides("test"))


def test_local_messages_name_the_local_pins_and_commands(cloud, backend):
    outputs = cloud.store.load("prod").outputs
    entry = {"at": "t", "action": "initial", "from": "prod", "functionVersion": "",
             "deploymentId": outputs["deploymentId"], "codeHash": outputs["codeHash"]}
    backend.set_config("prod", {HISTORY: json.dumps([entry])})
    try:
        code, _, err = cli(cloud, "rollback", "--stack", "prod", "--to", "zzzzzz")
    finally:
        backend.set_config("prod", {HISTORY: None})
    assert code == 1
    assert "`python -m promotion history --stack prod --local` lists them" in err
    assert "Pulumi.prod.yaml" not in err


def test_a_failed_update_puts_the_pins_back(cloud, backend, monkeypatch):
    cloud.deploy("test", {"user-service:logRetentionDays": "30"})
    before = served(cloud, "prod"), cloud.store.config_overrides("prod")

    def emulator_gone(*args, **kwargs):
        raise ConnectionError("the emulator went away")
    monkeypatch.setattr("promotion.local_backend.deploy_stack", emulator_gone)
    with pytest.raises(BackendError, match=r"the update of prod stopped before it changed "
                                           r"anything \(the emulator went away\); prod serves "
                                           r"what it served \(the local cloud's engine began no "
                                           r"step\)"):
        commands.promote(backend, "test", "prod", skip_smoke=True, report=lambda line: None)
    assert (served(cloud, "prod"), cloud.store.config_overrides("prod")) == before
    with pytest.raises(Refusal, match="prod has no history to roll back in"):
        commands.rollback(backend, "prod", None, report=lambda line: None)


def lambda_code_sha256(zip_bytes: bytes) -> str:
    """What Lambda reports as CodeSha256: the base64 of the zip's SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def test_builds_from_two_machines_get_two_keys_and_prod_runs_the_very_bytes_test_ran(
        cloud, checkout, monkeypatch):
    """dev is built on this machine; test, from the same files, on another (Windows'
    create_system, another deflate level): other bytes, so another key, and neither
    overwrites the other; prod then runs test's bytes exactly."""
    checkout("two-machines")
    cloud.deploy("dev")
    dev_hash = cloud.store.load("dev").outputs["codeHash"]
    bucket = cloud.store.load("dev").outputs["artifactBucket"]
    s3, lam = cloud.cloud("dev").client("s3"), cloud.cloud("dev").client("lambda")

    def stored(code_hash: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=f"archives/{code_hash}.zip")["Body"].read()
    dev_bytes = stored(dev_hash)
    assert hashlib.sha256(dev_bytes).hexdigest() == dev_hash

    built_here = archive.build_zip
    monkeypatch.setattr(archive, "build_zip", lambda files: built_here(
        files, create_system=0, compress_level=1))
    cloud.deploy("test")
    test_hash = cloud.store.load("test").outputs["codeHash"]
    test_bytes = stored(test_hash)
    assert hashlib.sha256(test_bytes).hexdigest() == test_hash != dev_hash
    # The same files, other bytes: two objects, the first one untouched.
    unzipped = [zipfile.ZipFile(io.BytesIO(b)) for b in (dev_bytes, test_bytes)]
    assert {n: unzipped[0].read(n) for n in unzipped[0].namelist()} == \
        {n: unzipped[1].read(n) for n in unzipped[1].namelist()}
    assert {info.create_system for info in unzipped[1].infolist()} == {0}
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="archives/")["Contents"]}
    assert {f"archives/{dev_hash}.zip", f"archives/{test_hash}.zip"} <= listed
    assert stored(dev_hash) == dev_bytes
    assert lam.get_function(FunctionName="dev-user-service:live")["Configuration"][
        "CodeSha256"] == lambda_code_sha256(dev_bytes)

    # dev's API was deployed again from the repo's routes: a route an earlier test added
    # (and promoted) is gone from test's deployment, which the contract gate calls breaking.
    ok(cloud, "promote", "--from", "test", "--to", "prod", "--allow-breaking")
    assert served(cloud, "prod")[1] == test_hash
    assert lam.get_function(FunctionName="user-service:live")["Configuration"][
        "CodeSha256"] == lambda_code_sha256(test_bytes)
    assert behaviour(cloud, "prod")[1] == "two-machines"
    assert stored(dev_hash) == dev_bytes


def test_the_deployer_is_refused_before_anything_changes_until_it_holds_the_invoke_policies(
        cloud, checkout):
    """The local cloud's deployer administers every service of the deploy but holds no
    stage's invoke policy, as an AWS operator without AdministratorAccess: smoke checks
    signed as it are refused, and the promotion stops before it changes anything."""
    checkout("proven-for-the-deployer")
    cloud.deploy("test")
    policies = {stack: cloud.store.load(stack).outputs["invokePolicyArn"]
                for stack in ("test", "prod")}
    policies["api"] = cloud.store.load("prod").outputs["restApiId"]

    def state():
        return ({stack: (cloud.store.load(stack).outputs, cloud.store.config_overrides(stack),
                         [(r.key, r.id) for r in cloud.store.load(stack).resources])
                 for stack in ("test", "prod")}, behaviour(cloud, "prod"))
    before = state()
    assert before[1][1] != "proven-for-the-deployer"  # not yet the code test proved

    code, out, err = cli(cloud, "promote", "--from", "test", "--to", "prod",
                         "--smoke-profile", "deployer")
    assert code == 1 and "Traceback" not in err
    # Both checks really reached the stages, signed as the deployer, and were refused by
    # the gateway's IAM check (API Gateway masks the account in its message).
    for stack in ("test", "prod"):
        assert smoke_lines(cloud, stack)[-1] == (
            "403", "-", "User: arn:aws:iam::********9012:user/localcloud-deployer is not "
            "authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:"
            f"us-east-1:********9012:{policies['api']}/{stack}/GET/users")
    assert state() == before
    assert "the smoke checks would be refused by test and prod, so nothing was changed" in err
    for stack in ("test", "prod"):
        assert (f"{stack} refuses arn:aws:iam::123456789012:user/localcloud-deployer (profile "
                f"'deployer' in {cloud.store.dir}/credentials) (GET {cloud.url}/{stack}/users?"
                "limit=1: HTTP 403: ") in err
        assert (f"attach {stack}'s invoke policy to it: `AWS_SHARED_CREDENTIALS_FILE="
                f"{cloud.store.dir}/credentials aws --profile deployer --endpoint-url "
                f"{cloud.emulator.endpoint_url} --region us-east-1 iam attach-user-policy "
                "--user-name "
                f"localcloud-deployer --policy-arn {policies[stack]}`") in err
    assert err.rstrip().endswith("Or pass --smoke-profile NAME: a profile allowed to invoke "
                                 "test and prod")

    # As the message says: the deployer (it has iam:*) attaches the policies to itself.
    key, secret = read_credentials(cloud.store.dir)["deployer"]
    iam = boto3.client("iam", endpoint_url=cloud.emulator.endpoint_url, region_name="us-east-1",
                       aws_access_key_id=key, aws_secret_access_key=secret)
    attached = []
    try:
        for stack in ("prod", "test"):
            iam.attach_user_policy(UserName="localcloud-deployer", PolicyArn=policies[stack])
            attached.append(policies[stack])
            code, out, err = cli(cloud, "promote", "--from", "test", "--to", "prod",
                                 "--smoke-profile", "deployer")
            if stack == "prod":  # test's check still needs test's policy
                assert code == 1 and state() == before
                assert "the smoke checks would be refused by test, so nothing was changed" in err
                assert "prod refuses" not in err
        assert (code, err) == (0, ""), err
        assert "smoke check: test answers 200" in out and "smoke check: prod answers 200" in out
        assert behaviour(cloud, "prod")[1] == "proven-for-the-deployer"
        # prod's check after the update signed as the deployer too: prod's access log has
        # the deployer's GET before the update and after it, then the test's own call.
        deployer = ("200", "arn:aws:iam::123456789012:user/localcloud-deployer", "-")
        caller = ("200", "arn:aws:iam::123456789012:user/localcloud-prod-caller", "-")
        assert smoke_lines(cloud, "prod")[-3:] == [deployer, deployer, caller]
        # A rollback checks and signs as the same identity.
        out = ok(cloud, "rollback", "--stack", "prod", "--smoke-profile", "deployer")
        assert "smoke check: prod answers 200" in out
        assert smoke_lines(cloud, "prod")[-2:] == [deployer, deployer]
        assert behaviour(cloud, "prod")[1] != "proven-for-the-deployer"
    finally:
        for arn in attached:
            iam.detach_user_policy(UserName="localcloud-deployer", PolicyArn=arn)

    # Without --smoke-profile each stage's own caller signs: the deployer, holding nothing
    # again, is not who the checks sign as.
    checkout("proven-for-the-callers")
    cloud.deploy("test")
    ok(cloud, "promote", "--from", "test", "--to", "prod")
    assert behaviour(cloud, "prod")[1] == "proven-for-the-callers"


def smoke_lines(cloud, stack: str) -> list[tuple[str, str, str]]:
    """(status, signer's ARN, error message) of every GET /users in the stage's access log,
    oldest first."""
    lines = [json.loads(line) for line in access_lines(cloud, stack)]
    return [(line["status"], line["userArn"], line["errorMessage"]) for line in lines
            if line["httpMethod"] == "GET" and line["resourcePath"] == "/users"]


def test_a_smoke_profile_the_local_credentials_file_lacks_is_refused_first(cloud):
    before = cloud.store.config_overrides("prod")
    code, _, err = cli(cloud, "rollback", "--stack", "prod", "--smoke-profile", "ops")
    assert code == 1 and "Traceback" not in err
    assert (f"--smoke-profile ops: there is no such profile in {cloud.store.dir}/credentials; "
            "it has deployer, dev, prod, test") in err
    assert cloud.store.config_overrides("prod") == before
