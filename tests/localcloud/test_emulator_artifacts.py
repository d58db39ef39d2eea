"""The emulator launcher and the artifact store (archives and deployment snapshots)."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.awslambda import archives
from localcloud.apigateway import snapshots
from localcloud.emulator import Emulator, make_client

from .builders import add_route, app_zip, create_api, make_zip


# --- emulator ---------------------------------------------------------------------------

def test_emulator_serves_on_loopback_and_its_clients_work(emulator):
    assert emulator.endpoint_url.startswith("http://127.0.0.1:")
    assert emulator.port > 0
    sts = emulator.client("sts")
    assert sts.get_caller_identity()["Account"] == "123456789012"
    assert make_client("dynamodb", emulator.endpoint_url).meta.region_name == "us-east-1"


def test_emulator_on_a_busy_port_fails_with_a_clear_message():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
            Emulator(port=port).start()


def test_a_second_emulator_starts_and_stops_on_its_own_free_port(emulator):
    with Emulator() as other:
        assert other.port != emulator.port
        other.client("sts").get_caller_identity()
    with pytest.raises(RuntimeError):
        other.endpoint_url  # noqa: B018 - stopped


def test_reset_wipes_moto_state_in_its_own_process():
    # moto's state is per process (shared by every emulator in it), so check in a child.
    script = (
        "from localcloud.emulator import Emulator\n"
        "with Emulator() as emu:\n"
        "    ddb = emu.client('dynamodb')\n"
        "    ddb.create_table(TableName='t', BillingMode='PAY_PER_REQUEST',\n"
        "        KeySchema=[{'AttributeName': 'id', 'KeyType': 'HASH'}],\n"
        "        AttributeDefinitions=[{'AttributeName': 'id', 'AttributeType': 'S'}])\n"
        "    before = ddb.list_tables()['TableNames']\n"
        "    emu.reset()\n"
        "    print(before, ddb.list_tables()['TableNames'])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['t'] []"


# --- archives ---------------------------------------------------------------------------

def test_save_archive_returns_lambdas_code_sha256_and_loads_back(tmp_path, emulator):
    zip_bytes = app_zip("# archive test\n")
    sha = archives.save_archive(tmp_path, zip_bytes)
    assert sha == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    assert archives.load_archive(tmp_path, sha) == zip_bytes
    # the stored name is filename-safe even though the sha holds "/" or "+"
    for name in os.listdir(tmp_path / "archives"):
        assert "/" not in name and "+" not in name and name.endswith(".zip")
    # saving again is harmless; nothing temporary is left behind
    assert archives.save_archive(tmp_path, zip_bytes) == sha
    assert [p.name for p in (tmp_path / "archives").iterdir()] == [
        archives.archive_path(tmp_path, sha).name]


def test_archive_sha_matches_what_moto_reports(tmp_path, emulator):
    iam, lam = emulator.client("iam"), emulator.client("lambda")
    role = iam.create_role(RoleName="artifacts-sha-role", AssumeRolePolicyDocument="{}")["Role"]
    zip_bytes = make_zip({"h.py": "def handler(e, c):\n    return 1\n"})
    created = lam.create_function(FunctionName="artifacts-sha", Runtime="python3.12",
                                  Role=role["Arn"], Handler="h.handler", Code={"ZipFile": zip_bytes})
    assert archives.save_archive(tmp_path, zip_bytes) == created["CodeSha256"]


def test_load_archive_errors(tmp_path):
    missing = base64.b64encode(hashlib.sha256(b"nothing").digest()).decode()
    with pytest.raises(FileNotFoundError, match="save_archive"):
        archives.load_archive(tmp_path, missing)
    with pytest.raises(ValueError):
        archives.load_archive(tmp_path, "not-a-sha")
    sha = archives.save_archive(tmp_path, b"zip")
    archives.archive_path(tmp_path, sha).write_bytes(b"tampered")
    with pytest.raises(ValueError, match="corrupt"):
        archives.load_archive(tmp_path, sha)


# --- snapshots --------------------------------------------------------------------------

def test_take_snapshot_records_paths_methods_and_integrations(emulator):
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/users": ["GET"], "/users/{id}": ["GET", "PUT"]},
                     name="snapshot-test")
    snapshot = snapshots.take_snapshot(apigw, api.id)
    assert snapshot["restApiId"] == api.id
    by_path = {r["path"]: r for r in snapshot["resources"]}
    assert set(by_path) == {"/", "/users", "/users/{id}"}
    assert by_path["/"]["methods"] == {}
    assert set(by_path["/users/{id}"]["methods"]) == {"GET", "PUT"}
    get = by_path["/users/{id}"]["methods"]["GET"]
    assert get["httpMethod"] == "GET" and get["resourcePath"] == "/users/{id}"
    assert get["integration"] == {
        "type": "AWS_PROXY", "httpMethod": "POST",
        "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:"
               "us-east-1:123456789012:function:${stageVariables.functionName}/invocations"}


def test_snapshots_are_saved_atomically_and_frozen(tmp_path, emulator):
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/users": ["GET"]}, name="snapshot-frozen")
    deployment_id = snapshots.create_deployment(apigw, tmp_path, api.id)
    assert deployment_id in {d["id"] for d in apigw.get_deployments(restApiId=api.id)["items"]}
    add_route(apigw, api, "/users", ["POST"])  # an edit after the deployment
    saved = snapshots.load_snapshot(tmp_path, deployment_id)
    assert saved["deploymentId"] == deployment_id
    assert set(next(r for r in saved["resources"] if r["path"] == "/users")["methods"]) == {"GET"}
    assert [p.name for p in (tmp_path / "snapshots").iterdir()] == [f"{deployment_id}.json"]
    json.loads((tmp_path / "snapshots" / f"{deployment_id}.json").read_text())

    snapshots.save_snapshot(tmp_path, "manual1", snapshots.take_snapshot(apigw, api.id))
    later = snapshots.load_snapshot(tmp_path, "manual1")
    assert set(next(r for r in later["resources"] if r["path"] == "/users")["methods"]) == {
        "GET", "POST"}


def test_snapshot_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no snapshot for deployment abc"):
        snapshots.load_snapshot(tmp_path, "abc")
    for bad in ("../etc/passwd", "", "a/b"):
        with pytest.raises(ValueError):
            snapshots.save_snapshot(tmp_path, bad, {})
