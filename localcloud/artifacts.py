"""The local cloud's state directory: what moto does not keep.

- Function archives, by their Lambda CodeSha256 (base64 of the zip's SHA-256): moto
  stores the code but cannot run it, and the invoker needs the bytes back.
- Deployment snapshots: moto's deployments do not freeze the API definition, so the
  deployer records the definition at the moment it creates each deployment, and the
  gateway serves a stage from the snapshot of the deployment the stage points at.

Layout::

    {state_dir}/archives/{filename-safe CodeSha256}.zip
    {state_dir}/snapshots/{deployment id}.json

Every file is written atomically (a temporary file in the same directory, then
``os.replace``), so a reader never sees half a file.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

SNAPSHOT_FORMAT = 1
_DEPLOYMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def code_sha256(zip_bytes: bytes) -> str:
    """The CodeSha256 Lambda reports for this archive: base64 of its SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode("ascii")


def _archive_name(sha: str) -> str:
    # base64 may hold "/" and "+": use the URL-safe alphabet for the file name.
    try:
        raw = base64.b64decode(sha, validate=True)
    except (ValueError, TypeError) as err:
        raise ValueError(f"not a CodeSha256 (base64 of a SHA-256 digest): {sha!r}") from err
    if len(raw) != 32:
        raise ValueError(f"not a CodeSha256 (base64 of a SHA-256 digest): {sha!r}")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") + ".zip"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def archive_path(state_dir: str | os.PathLike, sha: str) -> Path:
    return Path(state_dir) / "archives" / _archive_name(sha)


def save_archive(state_dir: str | os.PathLike, zip_bytes: bytes) -> str:
    """Store a function archive; returns its CodeSha256 (equal to what Lambda reports)."""
    sha = code_sha256(zip_bytes)
    path = archive_path(state_dir, sha)
    if not path.exists():
        _write_atomic(path, zip_bytes)
    return sha


def load_archive(state_dir: str | os.PathLike, code_sha256_value: str) -> bytes:
    """The archive with this CodeSha256. Raises FileNotFoundError if it was never saved."""
    path = archive_path(state_dir, code_sha256_value)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no archive with CodeSha256 {code_sha256_value} in {Path(state_dir) / 'archives'}; "
            "the deployer must call localcloud.artifacts.save_archive(state_dir, zip_bytes) "
            "with the same zip it gives to lambda.create_function/update_function_code"
        ) from None
    if code_sha256(data) != code_sha256_value:
        raise ValueError(f"archive {path} is corrupt: its SHA-256 is not {code_sha256_value}")
    return data


# --- deployment snapshots -----------------------------------------------------------

def _integration_of(apigw_client, rest_api_id: str, resource_id: str, method: str,
                    embedded: dict | None) -> dict | None:
    integration = embedded
    if integration is None:
        try:
            integration = apigw_client.get_integration(
                restApiId=rest_api_id, resourceId=resource_id, httpMethod=method)
        except apigw_client.exceptions.NotFoundException:
            return None
    return {
        "type": integration.get("type"),
        "uri": integration.get("uri"),
        "httpMethod": integration.get("httpMethod"),
    }


def take_snapshot(apigw_client, rest_api_id: str) -> dict[str, Any]:
    """The REST API's definition right now: every resource path and its methods.

    Shape::

        {"format": 1, "restApiId": ..., "name": ..., "binaryMediaTypes": [...],
         "takenAt": epoch seconds,
         "resources": [{"id": ..., "path": "/users/{id}",
                        "methods": {"GET": {"httpMethod": "GET", "resourcePath": ...,
                                            "authorizationType": "NONE",
                                            "apiKeyRequired": False,
                                            "integration": {"type": "AWS_PROXY",
                                                            "uri": ..., "httpMethod": "POST"}
                                                           | None}}}]}
    """
    api = apigw_client.get_rest_api(restApiId=rest_api_id)
    resources = []
    paginator = apigw_client.get_paginator("get_resources")
    for page in paginator.paginate(restApiId=rest_api_id, embed=["methods"]):
        for item in page.get("items", []):
            methods = {}
            for verb, method in sorted((item.get("resourceMethods") or {}).items()):
                method = method or {}
                if "httpMethod" not in method:
                    # Not embedded: ask for the method itself.
                    method = apigw_client.get_method(
                        restApiId=rest_api_id, resourceId=item["id"], httpMethod=verb)
                methods[verb] = {
                    "httpMethod": verb,
                    "resourcePath": item["path"],
                    "authorizationType": method.get("authorizationType", "NONE"),
                    "apiKeyRequired": bool(method.get("apiKeyRequired", False)),
                    "integration": _integration_of(apigw_client, rest_api_id, item["id"], verb,
                                                   method.get("methodIntegration")),
                }
            resources.append({"id": item["id"], "path": item["path"], "methods": methods})
    resources.sort(key=lambda resource: resource["path"])
    return {
        "format": SNAPSHOT_FORMAT,
        "restApiId": rest_api_id,
        "name": api.get("name"),
        "binaryMediaTypes": list(api.get("binaryMediaTypes") or []),
        "takenAt": time.time(),
        "resources": resources,
    }


def snapshot_path(state_dir: str | os.PathLike, deployment_id: str) -> Path:
    if not isinstance(deployment_id, str) or not _DEPLOYMENT_ID.match(deployment_id):
        raise ValueError(f"not a deployment id: {deployment_id!r}")
    return Path(state_dir) / "snapshots" / f"{deployment_id}.json"


def save_snapshot(state_dir: str | os.PathLike, deployment_id: str,
                  snapshot: dict[str, Any]) -> Path:
    path = snapshot_path(state_dir, deployment_id)
    record = dict(snapshot, deploymentId=deployment_id)
    _write_atomic(path, json.dumps(record, indent=1, sort_keys=True).encode("utf-8"))
    return path


def load_snapshot(state_dir: str | os.PathLike, deployment_id: str) -> dict[str, Any]:
    """The snapshot saved for this deployment. Raises FileNotFoundError if none was."""
    path = snapshot_path(state_dir, deployment_id)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no snapshot for deployment {deployment_id} in {path.parent}; the deployer must "
            "call localcloud.artifacts.save_snapshot (or create_deployment) when it deploys"
        ) from None


def create_deployment(apigw_client, state_dir: str | os.PathLike, rest_api_id: str,
                      **create_deployment_kwargs) -> str:
    """Create a deployment in moto and save its snapshot; returns the deployment id.

    The snapshot is taken just before the deployment is created (nothing else should
    edit the API in between, exactly as with a real ``create_deployment``).
    """
    snapshot = take_snapshot(apigw_client, rest_api_id)
    deployment = apigw_client.create_deployment(restApiId=rest_api_id,
                                                **create_deployment_kwargs)
    save_snapshot(state_dir, deployment["id"], snapshot)
    return deployment["id"]
