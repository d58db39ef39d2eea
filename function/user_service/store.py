"""The users table: the only module that talks to DynamoDB.

It calls exactly GetItem, PutItem, DeleteItem and Scan, the actions the function's
role grants (infra/policies.py: HANDLER_DYNAMODB_ACTIONS); anything else would be
refused in AWS. Every write is conditional, so concurrent writers never silently
overwrite each other: a create requires the id to be new, a replace or delete
requires the version the caller read.
"""
from __future__ import annotations

import os
import threading
from typing import Mapping

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from . import settings

# Fail fast inside a Lambda's short timeout; "standard" retries back off on throttling.
_CONFIG = Config(connect_timeout=2, read_timeout=5,
                 retries={"mode": "standard", "max_attempts": 3})

_client = None
_client_lock = threading.Lock()
_table_name: str | None = None


class ConditionFailed(Exception):
    """The item was not in the state the write required (exists / version changed)."""


def client():
    """The container's one DynamoDB client, made on first use from the standard
    environment (AWS_REGION, AWS_ENDPOINT_URL, credentials) and then reused."""
    global _client
    existing = _client
    if existing is not None:
        return existing
    # boto3's default session is not thread-safe to create; clients are safe to share.
    with _client_lock:
        if _client is None:
            _client = boto3.client("dynamodb", config=_CONFIG)
        return _client


def reset_client() -> None:
    """Forget the cached client (tests point the environment at a new endpoint)."""
    global _client
    with _client_lock:
        _client = None


def configure(environ: Mapping[str, str] = os.environ) -> str:
    """Read and check the stage's table name; the handler does this once, at init.

    Raises settings.ConfigurationError when TABLE_NAME is missing or invalid. Calling
    it again re-reads the environment, as a new container would (tests, benchmarks).
    """
    global _table_name
    _table_name = settings.table_name_from(environ)
    return _table_name


def table_name() -> str:
    name = _table_name
    return name if name is not None else configure()


def _to_item(user: dict) -> dict:
    return {
        "id": {"S": user["id"]},
        "name": {"S": user["name"]},
        "email": {"S": user["email"]},
        "createdAt": {"S": user["createdAt"]},
        "updatedAt": {"S": user["updatedAt"]},
        "version": {"N": str(user["version"])},
    }


def _from_item(item: dict) -> dict:
    return {
        "id": item["id"]["S"],
        "name": item["name"]["S"],
        "email": item["email"]["S"],
        "createdAt": item["createdAt"]["S"],
        "updatedAt": item["updatedAt"]["S"],
        "version": int(item["version"]["N"]),
    }


def _is_condition_failure(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def get_user(user_id: str) -> dict | None:
    # Consistent reads: a client that just wrote must see its write (and its new ETag).
    response = client().get_item(TableName=table_name(), Key={"id": {"S": user_id}},
                                 ConsistentRead=True)
    item = response.get("Item")
    return _from_item(item) if item else None


def create_user(user: dict) -> None:
    try:
        client().put_item(TableName=table_name(), Item=_to_item(user),
                          ConditionExpression="attribute_not_exists(id)")
    except ClientError as err:
        if _is_condition_failure(err):
            raise ConditionFailed() from None
        raise


_VERSION_IS = {"ConditionExpression": "#version = :version",
               "ExpressionAttributeNames": {"#version": "version"}}


def replace_user(user: dict, expected_version: int) -> None:
    """Write `user` only if the stored item still has `expected_version`."""
    try:
        client().put_item(TableName=table_name(), Item=_to_item(user),
                          ExpressionAttributeValues={":version": {"N": str(expected_version)}},
                          **_VERSION_IS)
    except ClientError as err:
        if _is_condition_failure(err):
            raise ConditionFailed() from None
        raise


def delete_user(user_id: str, expected_version: int) -> None:
    """Delete only if the stored item still has `expected_version`."""
    try:
        client().delete_item(TableName=table_name(), Key={"id": {"S": user_id}},
                             ExpressionAttributeValues={":version": {"N": str(expected_version)}},
                             **_VERSION_IS)
    except ClientError as err:
        if _is_condition_failure(err):
            raise ConditionFailed() from None
        raise


def list_users(limit: int, start_after: str | None) -> tuple[list[dict], str | None]:
    """One page: at most `limit` items read, so a request costs its page, not the table.

    Returns the users and the id to continue after (None when the scan is done).
    DynamoDB may return a last key even when no items follow; the next page is then
    simply empty.
    """
    params = {"TableName": table_name(), "Limit": limit}
    if start_after is not None:
        params["ExclusiveStartKey"] = {"id": {"S": start_after}}
    response = client().scan(**params)
    last_key = response.get("LastEvaluatedKey")
    return ([_from_item(item) for item in response.get("Items", [])],
            last_key["id"]["S"] if last_key else None)
