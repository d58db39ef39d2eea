"""The Automation API backend against a stand-in `pulumi` executable (it records every
command line and answers as the CLI does), AWS in moto, and stages served on 127.0.0.1:
exact command lines, the original stack selected again, each failure of `up` mapped to
what it left behind, AWS calls made with the stack's own aws:profile and aws:region."""
from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import re
import shutil
import stat
import threading
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.apigateway.responses import APIGatewayResponse

from promotion.__main__ import main
from promotion.automation_backend import steps_applied
from promotion.decisions import HISTORY, PINNED_CODE, PINNED_DEPLOYMENT, PINNED_VERSION

A, OLD = "a" * 64, "0" * 64
REGION, PROFILE = "us-west-2", "ops"  # not the ambient ones: the calls must use the stack's
PARTIAL_OUTPUT = """Updating (prod)
 ~  aws:apigateway:Stage prod updating (0s) [diff: ~deployment]
 ~  aws:apigateway:Stage prod updated (1s)
 ~  aws:lambda:Alias live **updating failed** error: ResourceConflictException
Diagnostics:
  aws:lambda:Alias (live):
    error: updating Lambda Alias (live): ResourceConflictException: The operation cannot be performed at this time.
Resources:
    ~ 1 updated
    11 unchanged
"""
REFUSED_OUTPUT = """Updating (prod)
Diagnostics:
  pulumi:pulumi:Stack (user-service-prod):
    error: Pulumi.prod.yaml has 1 configuration problem:
      - user-service:promotedCodeHash is 'x'; it must be the 64-hex codeHash output of the stack that was promoted
Resources:
    12 unchanged
"""
CONFLICT = "error: [409] Conflict: Another update is currently in progress."


class Stage(http.server.BaseHTTPRequestHandler):
    """A stage behind API Gateway's IAM check, as its caller sees it: 403 with API
    Gateway's AccessDenied body to a key not allowed on the path's stage (`denied`), else
    the statuses queued for the stage (`answers`, one per request), else 200. Keeps each
    request's path and Authorization header."""
    answers: dict[str, list[int | tuple[int, str]]] = {}
    denied: dict[str, set[str]] = {}
    seen: list[tuple[str, str]] = []
    url = ""

    def do_GET(self):  # noqa: N802 -- the library's name
        authorization = self.headers.get("Authorization", "")
        Stage.seen.append((self.path, authorization))
        prefix = "/" + self.path.split("/")[1]
        key = re.search(r"Credential=([^/]+)/", authorization)
        if key and key.group(1) in Stage.denied.get(prefix, ()):
            status = 403
        elif Stage.answers.get(prefix):
            status = Stage.answers[prefix].pop(0)
        else:
            status = 200
        if isinstance(status, tuple):  # (status, body): an answer of its own
            status, body = status[0], status[1].encode()
        elif status == 403:
            body = json.dumps({"Message": f"User: arn:aws:iam::123456789012:user/someone is "
                               f"not authorized to perform: execute-api:Invoke on resource: "
                               f"arn:aws:execute-api:{REGION}:********9012:api{self.path}"}
                              ).encode()
        else:
            body = b"[]"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def stage_server():
    Stage.answers, Stage.denied, Stage.seen = {}, {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Stage.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield Stage.url
    server.shutdown()
    server.server_close()


def handler_zip(number: int) -> bytes:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:  # one timestamp: the same bytes every call
        archive.writestr(zipfile.ZipInfo("handler.py", date_time=(1980, 1, 1, 0, 0, 0)),
                         f"def handler(e, c): return {number}")
    return code.getvalue()


# Test's code hash: the SHA-256 of the archive test's alias serves.
B = hashlib.sha256(handler_zip(8)).hexdigest()


@pytest.fixture
def aws(tmp_path, monkeypatch):
    """moto, with the stack's profile (the keys of IAM user `ops`) in a credentials file of
    its own, and a second user's profile, `release` (user release-bot)."""
    credentials = tmp_path / "aws-credentials"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION, aws_access_key_id="admin",
                           aws_secret_access_key="admin")
        keys = {}
        for profile, user in ((PROFILE, "ops"), ("release", "release-bot")):
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[profile] = key["AccessKeyId"]
            with credentials.open("a") as file:
                file.write(f"[{profile}]\naws_access_key_id = {key['AccessKeyId']}\n"
                           f"aws_secret_access_key = {key['SecretAccessKey']}\n")
        # The release profile's own region is not the stacks': their aws:region must win.
        (tmp_path / "aws-config").write_text("[profile release]\nregion = eu-west-1\n")
        session = boto3.Session(profile_name=PROFILE, region_name=REGION)
        apigateway = session.client("apigateway")
        api = apigateway.create_rest_api(name="users")["id"]
        root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
        apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET",
                              authorizationType="AWS_IAM")
        apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
        deployments = [apigateway.create_deployment(restApiId=api)["id"] for _ in range(2)]
        for stage, deployment in zip(("test", "prod"), deployments):
            apigateway.create_stage(restApiId=api, stageName=stage, deploymentId=deployment)
        role = session.client("iam").create_role(
            RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lambda_ = session.client("lambda")
        lambda_.create_function(FunctionName="user-service", Runtime="python3.12", Role=role,
                                Handler="handler.handler", Code={"ZipFile": handler_zip(0)})
        for number in range(1, 9):  # versions 1..8, each of other code
            lambda_.update_function_code(FunctionName="user-service", ZipFile=handler_zip(number))
            lambda_.publish_version(FunctionName="user-service")
        # Test serves the bytes of prod's version 8 (what the stand-in's `up` "deploys").
        lambda_.create_function(FunctionName="test-user-service", Runtime="python3.12",
                                Role=role, Handler="handler.handler",
                                Code={"ZipFile": handler_zip(8)}, Publish=True)
        lambda_.create_alias(FunctionName="test-user-service", Name="live", FunctionVersion="1")
        lambda_.create_alias(FunctionName="user-service", Name="live", FunctionVersion="8")
        yield {"api": api, "deployments": deployments, "lambda": lambda_, "keys": keys,
               "apigateway": apigateway}


# What each deployment holds, as API Gateway's GetExport renders it (OpenAPI 3).
DOCUMENT = {"openapi": "3.0.1", "info": {"title": "users", "version": "1"},
            "paths": {"/users": {"get": {"responses": {"200": {"description": "a page"}}}},
                      "/users/{id}": {"delete": {"responses": {"204": {"description": "gone"}}}}}}
WITHOUT_DELETE = {**DOCUMENT, "paths": {"/users": DOCUMENT["paths"]["/users"]}}


@pytest.fixture
def exports(monkeypatch):
    """moto's GetExport ignores the stage and the export type (Swagger 2.0 of the API's
    current resources); AWS exports the deployment the stage serves. So GetExport answers
    here as AWS does: the document held by the stage's deployment (`held`, by deployment
    id; DOCUMENT by default), with a `servers` entry naming the stage, as AWS's exports
    have. Each request's query and Accept header are kept."""
    held: dict[str, dict] = {}
    requests: list[tuple[str, dict, str]] = []

    def get_export(self):
        parts = self.path.split("?")[0].split("/")
        api, stage, export_type = parts[-5], parts[-3], parts[-1]
        deployment = self.backend.get_stage(api, stage).deployment_id
        requests.append((export_type, dict(self.querystring), self.headers.get("Accept", "")))
        document = {**held.get(deployment, DOCUMENT), "servers": [{
            "url": f"https://{api}.execute-api.{REGION}.amazonaws.com/{{basePath}}",
            "variables": {"basePath": {"default": f"/{stage}"}}}]}
        return 200, {"Content-Type": "application/json"}, json.dumps(document)
    monkeypatch.setattr(APIGatewayResponse, "get_export", get_export)
    return held, requests


def invoke_policy(stack: str) -> str:
    return f"arn:aws:iam::123456789012:policy/{stack}-user-service-invoke"


def outputs(api, deployment, code, url, version):
    stack = url.rsplit("/", 1)[-1]
    return {"restApiId": api, "deploymentId": deployment, "codeHash": code, "stageUrl": url,
            "stage": stack,
            "functionName": "user-service" if stack == "prod" else "test-user-service",
            "functionVersion": version, "functionAlias": "live",
            "invokePolicyArn": invoke_policy(stack)}


@pytest.fixture
def cli(tmp_path, monkeypatch, aws, stage_server, exports):
    """The stand-in on PATH with a test and a prod stack; dev is selected."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    standin = bin_dir / "pulumi"
    shutil.copy(Path(__file__).with_name("standin_pulumi.py"), standin)
    standin.chmod(standin.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    for name in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        monkeypatch.delenv(name, raising=False)
    aws_config = {"aws:region": REGION, "aws:profile": PROFILE}
    test_d, prod_d = aws["deployments"]
    state = {"selected": "dev", "stacks": {
        "dev": {"config": {}, "outputs": {}, "ups": []},
        "test": {"config": dict(aws_config), "ups": [],
                 "outputs": outputs(aws["api"], test_d, B, f"{stage_server}/test", "3")},
        "prod": {"config": {**aws_config, "user-service:production": "true"}, "ups": [],
                 "outputs": outputs(aws["api"], prod_d, A, f"{stage_server}/prod", "8")}}}

    class Cli:
        dir = bin_dir

        def state(self):
            return json.loads((bin_dir / "state.json").read_text())

        def write(self, data):
            (bin_dir / "state.json").write_text(json.dumps(data))

        def calls(self):
            path = bin_dir / "calls.jsonl"
            lines = path.read_text().splitlines() if path.exists() else []
            return [json.loads(line) for line in lines]

        def run(self, *argv):
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                code = main(list(argv))
            return code, out.getvalue(), err.getvalue()

    cli = Cli()
    cli.write(state)
    cli.deployments = (test_d, prod_d)
    return cli


def up_succeeds(cli, deployment, code, version):
    return {"stdout": "Resources:\n    ~ 2 updated\n    10 unchanged",
            "outputs": {"deploymentId": deployment, "codeHash": code, "functionVersion": version}}


def commands_of(cli):
    return [" ".join(a for a in c["args"] if a != "--non-interactive") for c in cli.calls()]


def test_promote_runs_exactly_these_commands_and_selects_dev_again(cli, aws):
    test_d, prod_d = cli.deployments
    state = cli.state()
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "9")]
    cli.write(state)
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert (code, err) == (0, "")
    commands = commands_of(cli)
    assert commands[:5] == ["version", "whoami --json", "stack ls --json",
                            "stack select --stack test", "stack output --json --stack test"]
    set_all = next(c for c in cli.calls() if c["args"][1:3] == ["config", "set-all"])
    assert set_all["args"][3:5] == ["--stack", "prod"]
    ups = [c for c in cli.calls() if c["args"][1:2] == ["up"]]
    assert [u["args"] for u in ups] == [["--non-interactive", "up", "--yes", "--skip-preview",
                                         "--exec-kind", "auto.local", "--stack", "prod"]]
    pinned = ups[0]["config"]
    assert (pinned[PINNED_DEPLOYMENT], pinned[PINNED_CODE], pinned[PINNED_VERSION]) == \
        (test_d, B, "")
    assert commands[-1] == "stack select --stack dev" and cli.state()["selected"] == "dev"
    history = json.loads(cli.state()["stacks"]["prod"]["config"][HISTORY])
    assert [(e["action"], e["deploymentId"], e["functionVersion"]) for e in history] == [
        ("initial", prod_d, "8"), ("promote", test_d, "9")]
    # The identity check (test, then prod, before any change) and prod's smoke check after
    # the update, all signed with the stack's profile, for its region.
    assert [path for path, _ in Stage.seen] == ["/test/users?limit=1", "/prod/users?limit=1",
                                                "/prod/users?limit=1"]
    assert all(f"Credential={aws['keys'][PROFILE]}/" in auth and
               f"/{REGION}/execute-api/aws4_request" in auth for _, auth in Stage.seen)
    assert "smoke check: test answers 200" in out and "smoke check: prod answers 200" in out
    # Kept: the history's 8, the alias's 9 (not published in moto), the newest five.
    versions = [v["Version"] for v in
                aws["lambda"].list_versions_by_function(FunctionName="user-service")["Versions"]]
    assert versions == ["$LATEST", "4", "5", "6", "7", "8"]
    assert "deleted unused published versions of user-service: 1, 2, 3" in out
    assert "commit Pulumi.prod.yaml" in out


@pytest.mark.parametrize("outcome,message,restored_by_up", [
    ({"stderr": CONFLICT, "code": 255},
     "another update of prod is in progress (error: [409] Conflict: Another update is currently "
     "in progress.); nothing was changed and Pulumi.prod.yaml is as it was", False),
    ({"stdout": REFUSED_OUTPUT, "code": 255},
     "the update of prod stopped before it changed anything (error: Pulumi.prod.yaml has 1 "
     "configuration problem:); prod serves what it served (the CLI printed no resource step, "
     "its summary counts no change, and the error is the program's own (pulumi:pulumi:Stack)) "
     "and Pulumi.prod.yaml is as it was", False),
    ({"stdout": PARTIAL_OUTPUT, "code": 255},
     "the update of prod failed partway (error: updating Lambda Alias (live): "
     "ResourceConflictException", True),
])
def test_a_failed_up_is_told_apart_and_prod_put_back(cli, outcome, message, restored_by_up):
    test_d, prod_d = cli.deployments
    state = cli.state()
    pinned = {PINNED_DEPLOYMENT: prod_d, PINNED_CODE: OLD, PINNED_VERSION: "8", HISTORY: json.dumps(
        [{"at": "t", "action": "promote", "from": "test", "deploymentId": prod_d,
          "codeHash": OLD, "functionVersion": "8"}])}
    state["stacks"]["prod"]["config"].update(pinned)
    state["stacks"]["prod"]["outputs"]["codeHash"] = OLD
    state["stacks"]["prod"]["ups"] = [outcome, up_succeeds(cli, prod_d, OLD, "8")]
    cli.write(state)
    before = dict(state["stacks"]["prod"]["config"])
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1 and message in err and "Traceback" not in err
    ups = [c for c in cli.calls() if c["args"][1:2] == ["up"]]
    assert len(ups) == (2 if restored_by_up else 1)
    if restored_by_up:
        assert ups[1]["config"] == before
        assert "it was rolled back to its previous pins (deployment " \
               f"{prod_d} version 8, code 000000000000) and its smoke check passes (GET " in err
    assert cli.state()["stacks"]["prod"]["config"] == before
    assert cli.state()["selected"] == "dev"


def test_a_promoted_target_that_runs_other_bytes_than_the_source_is_put_back(cli, aws):
    test_d, prod_d = cli.deployments
    state = cli.state()
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "9"),
                                      up_succeeds(cli, prod_d, A, "8")]
    cli.write(state)
    # As if the archive had been uploaded again with other bytes after test deployed it.
    aws["lambda"].update_alias(FunctionName="user-service", Name="live", FunctionVersion="7")
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1
    # Version 7's archive, not the one the pin names (independently: base64 of its SHA-256).
    version_7 = base64.b64encode(hashlib.sha256(handler_zip(7)).digest()).decode()
    assert (f"prod was updated but does not run the pinned archive (its alias serves "
            f"CodeSha256 {version_7}, and the archive {B[:12]}… has CodeSha256 ") in err
    assert "it was rolled back to its previous pins" in err
    ups = [c for c in cli.calls() if c["args"][1:2] == ["up"]]
    assert len(ups) == 2  # the promotion, then the restore


def test_a_source_that_does_not_run_the_archive_its_code_hash_names_is_refused(cli, aws):
    # As a stack deployed before archives were named by their bytes: its codeHash is the
    # hash of its files, not of the zip its alias serves.
    state = cli.state()
    state["stacks"]["test"]["outputs"]["codeHash"] = "b" * 64
    cli.write(state)
    before = json.loads(json.dumps(state["stacks"]["prod"]))
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1 and "Traceback" not in err
    assert "test does not run the archive its codeHash output names" in err
    assert "nothing was changed" in err and "deploy test again (pulumi up -s test)" in err
    assert not [c for c in cli.calls() if c["args"][1:2] == ["up"]
                or c["args"][1:3] == ["config", "set-all"]]
    assert cli.state()["stacks"]["prod"] == before
    assert Stage.seen == []  # refused before the smoke check too


def test_a_target_failing_its_smoke_check_is_put_back(cli):
    test_d, prod_d = cli.deployments
    state = cli.state()
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "9"),
                                      up_succeeds(cli, prod_d, A, "8")]
    cli.write(state)
    # prod answers before the change, the promoted prod fails, the restored one answers
    Stage.answers = {"/prod": [200, 500]}
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1
    assert "prod was updated but fails its smoke check (GET http://127.0.0.1:" in err
    assert "HTTP 500" in err
    assert f"it was rolled back to its previous pins (deployment {prod_d} version 8, code " \
           "aaaaaaaaaaaa) and its smoke check passes (GET " in err
    ups = [c for c in cli.calls() if c["args"][1:2] == ["up"]]
    assert ups[1]["config"][PINNED_DEPLOYMENT] == prod_d  # pinned to what prod served
    assert cli.state()["selected"] == "dev"


def test_everything_the_cli_needs_is_checked_before_anything_runs(cli, tmp_path, monkeypatch):
    state = cli.state()
    state["logged_in"] = False
    cli.write(state)
    code, _, err = cli.run("history", "--stack", "prod")
    assert code == 1 and "the Pulumi CLI is not logged in (error: PULUMI_ACCESS_TOKEN must be " \
        "set" in err and "run `pulumi login` (Pulumi Cloud) or `pulumi login --local`" in err
    assert commands_of(cli) == ["version", "whoami --json"]

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    code, _, err = cli.run("history", "--stack", "prod")
    assert code == 1 and "the Pulumi CLI is not on PATH" in err and "--local" in err


def test_a_passphrase_stack_needs_its_passphrase_before_anything_runs(cli, tmp_path, monkeypatch):
    from promotion.automation_backend import PulumiBackend, passphrase_problem
    work = tmp_path / "work"
    work.mkdir()
    (work / "Pulumi.prod.yaml").write_text("encryptionsalt: v1:abc\nconfig: {}\n")
    problem = passphrase_problem("prod", work, {})
    assert "Pulumi.prod.yaml uses the passphrase secrets provider" in problem
    assert "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE" in problem
    assert passphrase_problem("prod", work, {"PULUMI_CONFIG_PASSPHRASE": "x"}) is None
    assert passphrase_problem("test", work, {}) is None
    from promotion.backends import BackendError
    with pytest.raises(BackendError, match="passphrase secrets provider"):
        PulumiBackend(work_dir=work).prepare(["test", "prod"])
    assert cli.calls() == []


def test_unknown_stack_and_no_selection_before(cli):
    state = cli.state()
    state["selected"] = None
    del state["stacks"]["prod"]
    cli.write(state)
    code, _, err = cli.run("history", "--stack", "prod")
    assert code == 1 and "there is no stack 'prod' in the backend you are logged in to" in err
    assert commands_of(cli)[-1] == "stack unselect" and cli.state()["selected"] is None


def test_steps_applied_reads_the_resources_summary():
    assert steps_applied(PARTIAL_OUTPUT.splitlines()) == 1
    assert steps_applied(REFUSED_OUTPUT.splitlines()) == 0
    assert steps_applied(["Resources:", "    + 2 created", "    +-1 replaced", "    - 1 deleted",
                          "    3 unchanged", "", "Duration: 5s"]) == 4


def test_the_backend_works_in_the_pulumi_project_by_default():
    from promotion.automation_backend import PulumiBackend
    project = Path(__file__).resolve().parents[2]  # tests/promotion/ -> the repository
    assert (project / "Pulumi.yaml").is_file()
    assert PulumiBackend(report=lambda line: None, env={}).work_dir == project


# --- the identity the smoke checks sign with ---------------------------------------------

def changes(cli) -> list[str]:
    """The commands that change a stack: config writes and updates."""
    return [c for c in commands_of(cli) if c.startswith(("config set-all", "config rm-all", "up"))]


def signed_by(auth: str) -> tuple[str, str]:
    """(access key id, region) of a SigV4 Authorization header."""
    key, _, region = re.search(r"Credential=([^,]+),", auth).group(1).split("/")[:3]
    return key, region


def test_a_smoke_profile_signs_every_check_and_a_403_refuses_before_anything_changes(cli, aws):
    test_d, prod_d = cli.deployments
    bot = aws["keys"]["release"]
    Stage.denied = {"/test": {bot}, "/prod": {bot}}  # release-bot holds no invoke policy yet
    before = cli.state()["stacks"]
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod",
                             "--smoke-profile", "release")
    assert code == 1 and "Traceback" not in err
    assert changes(cli) == [] and cli.state()["stacks"] == before
    assert "the smoke checks would be refused by test and prod, so nothing was changed" in err
    for stack in ("test", "prod"):
        assert (f"{stack} refuses arn:aws:iam::123456789012:user/release-bot (profile "
                f"'release', --smoke-profile) (GET {Stage.url}/{stack}/users?limit=1: HTTP 403: "
                '{"Message": "User: ') in err
        assert (f"attach {stack}'s invoke policy to it: `aws iam attach-user-policy --user-name "
                f"release-bot --policy-arn arn:aws:iam::123456789012:policy/{stack}-user-service-"
                "invoke`") in err
    assert "Or pass --smoke-profile NAME: a profile allowed to invoke test and prod" in err
    # Both checks were signed by the profile's key, for the stacks' region (not its own).
    assert [(path, signed_by(auth)) for path, auth in Stage.seen] == [
        ("/test/users?limit=1", (bot, REGION)), ("/prod/users?limit=1", (bot, REGION))]

    # Only prod's policy attached: the source's check still needs test's.
    Stage.denied, Stage.seen = {"/test": {bot}}, []
    code, _, err = cli.run("promote", "--from", "test", "--to", "prod",
                           "--smoke-profile", "release")
    assert code == 1 and "refused by test, so nothing was changed" in err
    assert "prod refuses" not in err and changes(cli) == []

    # Both attached: it promotes, and prod's check after the update signs as release-bot too.
    Stage.denied, Stage.seen = {}, []
    state = cli.state()
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "9")]
    cli.write(state)
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod",
                             "--smoke-profile", "release")
    assert (code, err) == (0, "")
    assert [(path, signed_by(auth)) for path, auth in Stage.seen] == [
        ("/test/users?limit=1", (bot, REGION)), ("/prod/users?limit=1", (bot, REGION)),
        ("/prod/users?limit=1", (bot, REGION))]


def test_without_a_smoke_profile_a_403_names_the_stacks_own_profile(cli, aws):
    Stage.denied = {"/prod": {aws["keys"][PROFILE]}}
    code, _, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1 and changes(cli) == []
    assert ("prod refuses arn:aws:iam::123456789012:user/ops (prod's aws:profile 'ops') "
            f"(GET {Stage.url}/prod/users?limit=1: HTTP 403") in err
    assert ("`aws iam attach-user-policy --user-name ops --policy-arn "
            "arn:aws:iam::123456789012:policy/prod-user-service-invoke`") in err


@pytest.mark.parametrize("argv", [
    ("promote", "--from", "test", "--to", "prod", "--smoke-profile", "nobody"),
    ("rollback", "--stack", "prod", "--smoke-profile", "nobody"),
    ("release", "--stack", "test", "--smoke-profile", "nobody"),
])
def test_a_smoke_profile_that_does_not_exist_is_refused_before_anything_runs(cli, argv):
    code, _, err = cli.run(*argv)
    assert code == 1 and "Traceback" not in err
    assert ("--smoke-profile nobody: The config profile (nobody) could not be found; name a "
            "profile of your AWS config") in err
    assert changes(cli) == [] and not [c for c in commands_of(cli) if "output" in c]
    assert Stage.seen == []


def test_an_sso_profile_whose_session_has_expired_is_refused_before_anything_changes(
        cli, tmp_path, monkeypatch):
    """An SSO profile's keys are fetched when first used: with no valid SSO session they
    cannot be, and that must stop the command before the update, not after it."""
    monkeypatch.setenv("HOME", str(tmp_path))  # an empty SSO token cache (~/.aws/sso/cache)
    with (tmp_path / "aws-config").open("a") as config:
        config.write("[profile sso-ops]\nsso_start_url = https://example.awsapps.com/start\n"
                     "sso_region = us-east-1\nsso_account_id = 123456789012\n"
                     "sso_role_name = Operator\n")
    code, _, err = cli.run("promote", "--from", "test", "--to", "prod",
                           "--smoke-profile", "sso-ops")
    assert code == 1 and "Traceback" not in err
    assert ("the AWS credentials of profile 'sso-ops', --smoke-profile cannot be read: Error "
            "loading SSO Token: Token for https://example.awsapps.com/start does not exist; "
            "nothing was changed") in err
    assert changes(cli) == [] and Stage.seen == []


def test_skip_smoke_sends_no_smoke_check_says_so_and_still_checks_the_code(cli, aws):
    test_d, prod_d = cli.deployments
    state = cli.state()
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "9"),
                                      up_succeeds(cli, prod_d, A, "8")]
    cli.write(state)
    Stage.denied = {"/test": {aws["keys"][PROFILE]}, "/prod": {aws["keys"][PROFILE]}}
    # As if the archive had been replaced: the code check, not a smoke check, still runs.
    aws["lambda"].update_alias(FunctionName="user-service", Name="live", FunctionVersion="7")
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod", "--skip-smoke")
    assert code == 1
    assert ("--skip-smoke: no smoke check is sent (not the identity check, not test's before "
            "the update, not prod's after it)") in out
    assert "prod was updated but does not run the pinned archive" in err
    assert "it was rolled back to its previous pins" in err and "(no smoke check: --skip-smoke)" in err
    assert len([c for c in changes(cli) if c.startswith("up")]) == 2
    assert Stage.seen == []


def test_a_target_failing_before_the_change_is_said_and_the_promotion_goes_on(cli):
    test_d, _ = cli.deployments
    state = cli.state()
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "9")]
    cli.write(state)
    Stage.answers = {"/prod": [500]}  # broken now; the promotion is what mends it
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert (code, err) == (0, "")
    assert (f"smoke check: prod fails now (GET {Stage.url}/prod/users?limit=1: HTTP 500: []); "
            "going on: its check after the update decides") in out


def test_a_stage_that_serves_no_such_path_is_the_stages_problem_not_the_identitys(cli):
    """API Gateway answers 403 Missing Authentication Token to a path no deployed stage
    serves, before it looks at who signed: no policy would mend that."""
    no_route = (403, '{"message":"Missing Authentication Token"}')
    Stage.answers = {"/test": [no_route]}
    code, _, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1 and changes(cli) == []
    assert (f"test does not answer the smoke check (GET {Stage.url}/test/users?limit=1: HTTP "
            '403: {"message":"Missing Authentication Token"}); nothing was changed. Fix test '
            "first, or pass --skip-smoke to promote anyway") in err
    assert "refuses" not in err and "attach" not in err

    test_d, _ = cli.deployments
    state = cli.state()
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "9")]
    cli.write(state)
    Stage.answers = {"/prod": [no_route]}  # the target before the change: said, and on it goes
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert (code, err) == (0, "")
    assert (f"smoke check: prod fails now (GET {Stage.url}/prod/users?limit=1: HTTP 403: "
            '{"message":"Missing Authentication Token"}); going on') in out


def test_credentials_a_stage_does_not_accept_are_told_apart_from_a_missing_policy(cli):
    Stage.answers = {"/prod": [(403, '{"message":"The security token included in the '
                                     'request is invalid."}')]}
    code, _, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1 and changes(cli) == []
    assert ("prod refuses arn:aws:iam::123456789012:user/ops (prod's aws:profile 'ops') (GET "
            f"{Stage.url}/prod/users?limit=1: HTTP 403: "
            '{"message":"The security token included in the request is invalid."}): it does '
            "not accept these credentials") in err
    assert "attach-user-policy" not in err


def test_a_target_with_no_stage_url_yet_is_first_checked_after_its_update(cli, aws):
    """Nothing to send a GET to before the target's stage exists: the tool says so, goes on,
    and the check after the update is the first (and decides)."""
    test_d, prod_d = cli.deployments
    state = cli.state()
    del state["stacks"]["prod"]["outputs"]["stageUrl"]
    up = up_succeeds(cli, test_d, B, "9")
    up["outputs"]["stageUrl"] = f"{Stage.url}/prod"
    state["stacks"]["prod"]["ups"] = [up]
    cli.write(state)
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert (code, err) == (0, "")
    assert ("prod has no stageUrl output yet (not deployed): the identity its smoke check "
            "signs with is first tried after its update") in out
    assert [path for path, _ in Stage.seen] == ["/test/users?limit=1", "/prod/users?limit=1"]
    assert "smoke check: test answers 200" in out


def test_a_403_after_the_update_names_the_identity_and_puts_the_target_back(cli, aws):
    test_d, prod_d = cli.deployments
    state = cli.state()
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "9"),
                                      up_succeeds(cli, prod_d, A, "8")]
    cli.write(state)
    Stage.answers = {"/prod": [200, 403]}  # e.g. prod's invoke policy detached meanwhile
    code, _, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1
    assert ("prod was updated but fails its smoke check (prod refuses arn:aws:iam::123456789012:"
            "user/ops (prod's aws:profile 'ops')") in err
    assert ("attach prod's invoke policy to it: `aws iam attach-user-policy --user-name ops "
            "--policy-arn arn:aws:iam::123456789012:policy/prod-user-service-invoke`, or pass "
            "--smoke-profile NAME); it was rolled back to its previous pins") in err


def with_history(cli):
    """prod promoted once: its history holds what it served before and the promotion."""
    test_d, prod_d = cli.deployments
    state = cli.state()
    history = [{"at": "t", "action": "initial", "from": "prod", "deploymentId": prod_d,
                "codeHash": OLD, "functionVersion": "7"},
               {"at": "t", "action": "promote", "from": "test", "deploymentId": prod_d,
                "codeHash": A, "functionVersion": "8"}]
    state["stacks"]["prod"]["config"].update({
        PINNED_DEPLOYMENT: prod_d, PINNED_CODE: A, PINNED_VERSION: "8",
        HISTORY: json.dumps(history)})
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, prod_d, OLD, "7")]
    cli.write(state)
    return state


def test_rollback_checks_the_identity_its_smoke_check_signs_with(cli, aws):
    bot = aws["keys"]["release"]
    before = with_history(cli)["stacks"]
    Stage.denied = {"/prod": {bot}}
    code, _, err = cli.run("rollback", "--stack", "prod", "--smoke-profile", "release")
    assert code == 1 and changes(cli) == [] and cli.state()["stacks"] == before
    assert ("the smoke checks would be refused by prod, so nothing was changed: prod refuses "
            "arn:aws:iam::123456789012:user/release-bot") in err
    assert "--policy-arn arn:aws:iam::123456789012:policy/prod-user-service-invoke`" in err

    Stage.denied, Stage.seen = {}, []
    code, out, err = cli.run("rollback", "--stack", "prod", "--smoke-profile", "release")
    assert (code, err) == (0, "")
    assert [(path, signed_by(auth)) for path, auth in Stage.seen] == [
        ("/prod/users?limit=1", (bot, REGION))] * 2  # before the change, and after it


def test_rollback_with_skip_smoke_sends_nothing_and_says_so(cli, aws):
    with_history(cli)
    Stage.denied = {"/prod": {aws["keys"][PROFILE]}}
    code, out, err = cli.run("rollback", "--stack", "prod", "--skip-smoke")
    assert (code, err) == (0, "")
    assert "--skip-smoke: no smoke check is sent (not the identity check, not prod's after " \
           "the update)" in out
    assert Stage.seen == []


def export_hash(document: dict) -> str:
    """A definition hash written out here: SHA-256 of the sorted, compact JSON of the
    document without `servers` (the only part of an export that names its stage)."""
    kept = {k: v for k, v in document.items() if k != "servers"}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def test_the_contract_gate_reads_both_stages_exports_and_refuses_a_removed_route(
        cli, exports):
    held, requests = exports
    test_d, prod_d = cli.deployments
    held[test_d] = WITHOUT_DELETE
    state = cli.state()
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "9")]
    cli.write(state)
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1 and "Traceback" not in err
    assert (f"API contract: the candidate (deployment {test_d}, which test serves) against the "
            f"deployment prod serves ({prod_d})") in err
    assert "breaking: /users/{id}: path removed, with DELETE; an old client that calls it is " \
           "refused" in err
    assert "pass --allow-breaking to promote anyway" in err
    assert not [c for c in cli.calls() if c["args"][1:2] == ["up"]]
    assert HISTORY not in cli.state()["stacks"]["prod"]["config"]
    # Each stage exported as OpenAPI 3, JSON, with API Gateway's extensions.
    assert requests == [("oas30", {"extensions": ["apigateway"]}, "application/json")] * 2

    code, out, err = cli.run("promote", "--from", "test", "--to", "prod", "--allow-breaking")
    assert (code, err) == (0, ""), err
    assert "allowed by --allow-breaking: 1 breaking change" in out
    history = json.loads(cli.state()["stacks"]["prod"]["config"][HISTORY])
    assert [(e["action"], e.get("definitionHash")) for e in history] == [
        ("initial", export_hash(DOCUMENT)), ("promote", export_hash(WITHOUT_DELETE))]


def test_the_gate_refuses_when_the_sources_stage_serves_another_deployment(cli, aws):
    test_d, prod_d = cli.deployments
    aws["apigateway"].update_stage(restApiId=aws["api"], stageName="test", patchOperations=[
        {"op": "replace", "path": "/deploymentId", "value": prod_d}])
    code, _, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1 and "Traceback" not in err
    assert (f"test's stage serves deployment {prod_d}, not {test_d}, which its last update made "
            "and the promotion would pin") in err
    assert "Deploy test again (pulumi up -s test), then promote; nothing was changed" in err
    assert not [c for c in cli.calls() if c["args"][1:2] == ["up"]]


def test_an_export_that_is_not_openapi_3_refuses_and_names_the_document(cli, exports):
    held, _ = exports
    test_d, prod_d = cli.deployments
    held[prod_d] = {"swagger": "2.0", "paths": {}}
    code, _, err = cli.run("promote", "--from", "test", "--to", "prod", "--allow-breaking")
    assert code == 1 and "Traceback" not in err
    assert (f"cannot read the OpenAPI document of the deployment prod serves ({prod_d}): it is "
            "not an OpenAPI 3 document (swagger '2.0')") in err
    assert "python -m promotion verify --stack prod` shows what prod's stage serves" in err
    assert not [c for c in cli.calls() if c["args"][1:2] == ["up"]]


# --- verify, read from AWS (moto) -----------------------------------------------------------

def run_json(cli, *argv):
    code, out, err = cli.run("verify", *argv, "--json")
    return code, [json.loads(line) for line in out.splitlines()], err


def test_verify_reads_prod_from_aws_with_the_stacks_own_settings(cli, aws):
    """prod promoted (the stand-in's up changes no AWS resource, so the promotion's effect
    on the stage is made by hand here, with what prod's program declares), then verified;
    a moved alias is then named."""
    test_d, prod_d = cli.deployments
    api = aws["api"]
    execution_arn = f"arn:aws:execute-api:{REGION}:123456789012:{api}"
    own = f"{execution_arn}/prod/*/*"
    state = cli.state()
    state["stacks"]["prod"]["outputs"].update(executionArn=execution_arn,
                                              artifactBucket="artifacts")
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "8")]
    cli.write(state)
    assert cli.run("promote", "--from", "test", "--to", "prod")[0] == 0
    session = boto3.Session(profile_name=PROFILE, region_name=REGION)
    aws["apigateway"].update_stage(restApiId=api, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/deploymentId", "value": test_d},
        {"op": "replace", "path": "/variables/functionName", "value": "user-service:live"}])
    s3 = session.client("s3")
    s3.create_bucket(Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="artifacts", Key=f"archives/{B}.zip", Body=handler_zip(8))
    aws["lambda"].add_permission(FunctionName="user-service", Qualifier="live",
                                 StatementId="apigateway-prod", Action="lambda:InvokeFunction",
                                 Principal="apigateway.amazonaws.com", SourceArn=own)
    session.client("iam").create_policy(PolicyName="prod-user-service-invoke",
                                        PolicyDocument=json.dumps({
                                            "Version": "2012-10-17", "Statement": [{
                                                "Effect": "Allow", "Action": "execute-api:Invoke",
                                                "Resource": [own]}]}))
    code, checks, err = run_json(cli, "--stack", "prod")
    assert (code, err) == (0, ""), checks
    assert [c["name"] for c in checks] == ["deployment", "code", "stage variable", "permission",
                                           "definition", "canary", "caller policy"]
    assert all(c["ok"] for c in checks)

    aws["lambda"].update_alias(FunctionName="user-service", Name="live", FunctionVersion="5")
    code, checks, err = run_json(cli, "--stack", "prod")
    assert (code, err) == (1, "")
    assert [(c["name"], c["fix"]) for c in checks if not c["ok"]] == [(
        "code", f"`aws --profile {PROFILE} --region {REGION} lambda update-alias --function-name "
                "user-service --name live --function-version 8`, or `pulumi up --refresh -s "
                "prod` (reads what AWS has, then puts back what prod declares)")]


def test_verify_of_a_stack_never_deployed_is_one_line_and_exit_2(cli):
    code, out, err = cli.run("verify", "--stack", "dev")
    assert (code, out) == (2, "")
    assert err == ("error: dev has never been deployed: there is nothing to verify; deploy it "
                   "first (pulumi up -s dev)\n")


def test_verify_without_credentials_is_one_line_and_exit_2(cli, tmp_path, monkeypatch):
    state = cli.state()
    for key in ("aws:profile",):
        state["stacks"]["prod"]["config"].pop(key)
    state["stacks"]["prod"]["outputs"].update(
        executionArn="arn:aws:execute-api:us-west-2:123456789012:x", artifactBucket="a")
    cli.write(state)
    empty = tmp_path / "no-credentials"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    # Empty is "not set" to botocore's environment provider (moto's own keys are restored
    # when it stops, so they are not deleted here).
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, out, err = cli.run("verify", "--stack", "prod")
    assert (code, out) == (2, "") and len(err.splitlines()) == 1, err
    assert err.startswith("error: cannot read prod's resources (Unable to locate credentials)")


def test_a_target_whose_stage_is_gone_serves_no_api_and_the_gate_passes(cli, aws):
    test_d, _ = cli.deployments
    aws["apigateway"].delete_stage(restApiId=aws["api"], stageName="prod")
    state = cli.state()
    state["stacks"]["prod"]["ups"] = [up_succeeds(cli, test_d, B, "9")]
    cli.write(state)
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod", "--skip-smoke")
    assert (code, err) == (0, ""), err
    assert (f"API contract: prod serves no API (the REST API {aws['api']} has no stage prod "
            "(its last update made one; it was deleted since)") in out
