"""Deployment snapshots: moto's deployments do not freeze the API definition, so the
deployer records the definition at the moment it creates each deployment, and the
gateway serves a stage from the snapshot of the deployment the stage points at.

An API defined by an OpenAPI body (as the program defines it) is snapshotted from that
document, which the RestApi kind keeps as the API's current definition: moto's
``put_rest_api`` builds resources and integrations from ``paths`` but drops the rest
(security, among others). An API built method by method is snapshotted from moto.

Layout: ``{state_dir}/definitions/{rest api id}.json`` (the current document) and
``{state_dir}/snapshots/{deployment id}.json``.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from localcloud.atomic import write_atomic

SNAPSHOT_FORMAT = 1
_DEPLOYMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


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


def definition_path(state_dir: str | os.PathLike, rest_api_id: str) -> Path:
    if not isinstance(rest_api_id, str) or not _DEPLOYMENT_ID.match(rest_api_id):
        raise ValueError(f"not a REST API id: {rest_api_id!r}")
    return Path(state_dir) / "definitions" / f"{rest_api_id}.json"


def save_definition(state_dir: str | os.PathLike, rest_api_id: str, document: dict) -> None:
    """The API's OpenAPI body as last put (overwrite mode): what the next deployment freezes."""
    write_atomic(definition_path(state_dir, rest_api_id),
                 json.dumps(document, sort_keys=True).encode("utf-8"))


def load_definition(state_dir: str | os.PathLike, rest_api_id: str) -> dict | None:
    path = definition_path(state_dir, rest_api_id)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def forget_definition(state_dir: str | os.PathLike, rest_api_id: str) -> None:
    definition_path(state_dir, rest_api_id).unlink(missing_ok=True)


OPERATION_KEYS = {"get", "put", "post", "delete", "options", "head", "patch", "trace",
                  "x-amazon-apigateway-any-method"}


def http_method(key: str) -> str:
    """The method an OpenAPI operation key stands for (API Gateway's extension is ANY)."""
    return "ANY" if key == "x-amazon-apigateway-any-method" else key.upper()


def operations(document: dict):
    """(path, method, operation) for every operation; path-level keys such as
    `parameters` are not operations."""
    for path, item in (document.get("paths") or {}).items():
        for key, operation in (item or {}).items():
            if key in OPERATION_KEYS and isinstance(operation, dict):
                yield path, http_method(key), operation


def authorization_types(document: dict) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> AWS_IAM or NONE, as API Gateway reads each operation's security
    (the document's top-level security where an operation names none)."""
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    found = {}
    for path, method, operation in operations(document):
        requirements = operation.get("security", document.get("security")) or []
        names = {n for requirement in requirements for n in requirement}
        sigv4 = any((schemes.get(n) or {}).get("x-amazon-apigateway-authtype") == "awsSigv4"
                    for n in names)
        found[(method, path)] = "AWS_IAM" if sigv4 else "NONE"
    return found


def snapshot_from_document(document: dict, resource_ids: dict[str, str], rest_api_id: str,
                           name: str | None) -> dict[str, Any]:
    """The snapshot of an API defined by an OpenAPI document (same shape as take_snapshot).
    `resource_ids` maps each resource path to the id API Gateway gave it."""
    authorization = authorization_types(document)
    by_path: dict[str, dict] = {}
    for path, method, operation in operations(document):
        integration = operation.get("x-amazon-apigateway-integration")
        by_path.setdefault(path, {})[method] = {
            "httpMethod": method,
            "resourcePath": path,
            "authorizationType": authorization[(method, path)],
            "apiKeyRequired": False,
            "integration": None if not integration else {
                "type": str(integration.get("type", "")).upper(),
                "uri": integration.get("uri"),
                "httpMethod": integration.get("httpMethod"),
            },
        }
    resources = [{"id": resource_ids.get(path), "path": path, "methods": dict(sorted(methods.items()))}
                 for path, methods in sorted(by_path.items())]
    return {
        "format": SNAPSHOT_FORMAT,
        "restApiId": rest_api_id,
        "name": name,
        "binaryMediaTypes": [],
        "takenAt": time.time(),
        "resources": resources,
        "document": document,
    }


def snapshot_path(state_dir: str | os.PathLike, deployment_id: str) -> Path:
    if not isinstance(deployment_id, str) or not _DEPLOYMENT_ID.match(deployment_id):
        raise ValueError(f"not a deployment id: {deployment_id!r}")
    return Path(state_dir) / "snapshots" / f"{deployment_id}.json"


def save_snapshot(state_dir: str | os.PathLike, deployment_id: str,
                  snapshot: dict[str, Any]) -> Path:
    path = snapshot_path(state_dir, deployment_id)
    record = dict(snapshot, deploymentId=deployment_id)
    write_atomic(path, json.dumps(record, indent=1, sort_keys=True).encode("utf-8"))
    return path


def load_snapshot(state_dir: str | os.PathLike, deployment_id: str) -> dict[str, Any]:
    """The snapshot saved for this deployment. Raises FileNotFoundError if none was."""
    path = snapshot_path(state_dir, deployment_id)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no snapshot for deployment {deployment_id} in {path.parent}; the deployer must "
            "call localcloud.apigateway.snapshots.save_snapshot (or create_deployment) when it deploys"
        ) from None


def create_deployment(apigw_client, state_dir: str | os.PathLike, rest_api_id: str,
                      **create_deployment_kwargs) -> str:
    """Create a deployment in moto and save its snapshot; returns the deployment id.

    The snapshot is taken just before the deployment is created (nothing else should
    edit the API in between, exactly as with a real ``create_deployment``).
    """
    document = load_definition(state_dir, rest_api_id)
    if document is None:
        snapshot = take_snapshot(apigw_client, rest_api_id)
    else:
        resource_ids = {item["path"]: item["id"] for page in apigw_client.get_paginator(
            "get_resources").paginate(restApiId=rest_api_id) for item in page.get("items", [])}
        snapshot = snapshot_from_document(
            document, resource_ids, rest_api_id,
            apigw_client.get_rest_api(restApiId=rest_api_id).get("name"))
    deployment = apigw_client.create_deployment(restApiId=rest_api_id,
                                                **create_deployment_kwargs)
    save_snapshot(state_dir, deployment["id"], snapshot)
    return deployment["id"]
