"""What verify reads: the expected state from the stack's config and last outputs, and
the observed one from the account, through the backend's clients (the same calls on AWS
and on the local cloud) and its `served_definition` (an export, or a snapshot). The
checks themselves are pure (promotion.verify)."""
from __future__ import annotations

import json
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from infra.config import FIELD_KEYS
from infra.naming import FUNCTION_ALIAS, archive_key
from infra.partitions import partition_of
from promotion import contract, decisions
from promotion.backends import Backend, BackendError
from promotion.verify import Commands, Expected, Observed

ALLOW_TEST_INVOKE = FIELD_KEYS["allow_test_invoke"]
NEEDED_OUTPUTS = ("restApiId", "stage", "deploymentId", "codeHash", "functionName",
                  "executionArn", "artifactBucket", "invokePolicyArn")


def commands(backend: Backend, stack: str) -> Commands:
    return Commands(suffix=backend.suffix, aws=backend.account_cli(stack),
                    refresh=backend.refresh_hint, deploy=backend.deploy_hint)


def expected(backend: Backend, stack: str) -> Expected:
    """The stack's pins (and its history's current entry), or its own last outputs when
    nothing was promoted to it. BackendError when it was never deployed."""
    outputs = backend.outputs(stack)
    missing = [key for key in NEEDED_OUTPUTS if not outputs.get(key)]
    if not outputs or missing:
        what = "has never been deployed" if not outputs else \
            f"has no {', '.join(missing)} output (its last update did not finish)"
        raise BackendError(f"{stack} {what}: there is nothing to verify; deploy it first "
                           f"({backend.deploy_hint.format(stack=stack)})")
    config = backend.config(stack)
    pins = decisions.Pins.of_config(config)
    region = backend.client(stack, "apigateway").meta.region_name
    partition = partition_of(region)
    entry, definition = "", ""
    if pins.complete:
        history = decisions.parse_history(config)
        version = pins.function_version or str(outputs.get("functionVersion") or "")
        index = decisions.current_index(history, {"deploymentId": pins.deployment_id,
                                                  "codeHash": pins.code_hash,
                                                  "functionVersion": version})
        if index is not None:
            entry = f"#{len(history) - index}"
            definition = history[index].get(decisions.DEFINITION) or ""
        deployment, code = pins.deployment_id, pins.code_hash
    else:
        deployment, code = outputs["deploymentId"], outputs["codeHash"]
        version = str(outputs.get("functionVersion") or "")
    return Expected(
        stack=stack, pinned=pins.complete, deployment_id=deployment, code_hash=code,
        function_version=version, function=outputs["functionName"], stage=outputs["stage"],
        rest_api_id=outputs["restApiId"], execution_arn=outputs["executionArn"],
        region=region, partition=partition.name if partition else "(unknown)",
        artifact_bucket=outputs["artifactBucket"], invoke_policy_arn=outputs["invokePolicyArn"],
        allow_test_invoke=config.get(ALLOW_TEST_INVOKE) == "true",
        definition_hash=definition, entry=entry,
        canary=decisions.CanaryPin.of_config(config))


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def observed(backend: Backend, stack: str, e: Expected) -> Observed:
    """Everything the checks need, read from the account. An AWS error that says a thing
    is not there is an observation; any other (no credentials, access denied) is a
    BackendError: nothing can be verified."""
    problems: dict[str, str] = {}
    apigateway = backend.client(stack, "apigateway")
    lambda_ = backend.client(stack, "lambda")
    try:
        try:
            stage = apigateway.get_stage(restApiId=e.rest_api_id, stageName=e.stage)
        except ClientError as error:
            if _code(error) != "NotFoundException":
                raise
            stage = None
            problems["deployment"] = f"the REST API {e.rest_api_id} has no stage {e.stage}"
        try:
            apigateway.get_deployment(restApiId=e.rest_api_id, deploymentId=e.deployment_id)
            exists = True
        except ClientError as error:
            if _code(error) != "NotFoundException":
                raise
            exists = False
        version = sha = None
        try:
            version = lambda_.get_alias(FunctionName=e.function,
                                        Name=FUNCTION_ALIAS)["FunctionVersion"]
            sha = lambda_.get_function_configuration(FunctionName=e.function,
                                                     Qualifier=version)["CodeSha256"]
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            problems["code"] = f"{e.function} has no alias {FUNCTION_ALIAS} ({error})"
        s3 = backend.client(stack, "s3")
        try:
            s3.head_object(Bucket=e.artifact_bucket, Key=archive_key(e.code_hash))
            archive = True
        except ClientError as error:
            if _code(error) not in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                raise
            archive = False
        try:
            policy = json.loads(lambda_.get_policy(FunctionName=e.function,
                                                   Qualifier=FUNCTION_ALIAS)["Policy"])
            statements = policy.get("Statement") or []
            statements = tuple([statements] if isinstance(statements, dict) else statements)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            statements = ()
            problems["permission"] = (f"{e.function}:{FUNCTION_ALIAS} has no resource policy: "
                                      "nothing may invoke it, every call is a 500")
        caller_policy = None
        iam = backend.client(stack, "iam")
        try:
            version_id = iam.get_policy(PolicyArn=e.invoke_policy_arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=e.invoke_policy_arn,
                                              VersionId=version_id)["PolicyVersion"]["Document"]
            # boto3 decodes IAM's URL-encoded document; a client that does not gets text.
            caller_policy = json.loads(unquote(document)) if isinstance(document, str) \
                else document
        except ClientError as error:
            if _code(error) != "NoSuchEntity":
                raise
            problems["caller policy"] = f"the invoke policy {e.invoke_policy_arn} is gone"
    except (BotoCoreError, ClientError) as error:
        raise BackendError(f"cannot read {stack}'s resources ({error}); verify reads API "
                           "Gateway, Lambda, S3 and IAM with the stack's own AWS settings") \
            from None
    definition = None
    if stage is not None:
        try:
            served = backend.served_definition(stack, {"restApiId": e.rest_api_id,
                                                       "stage": e.stage})
            definition = contract.definition_hash(served.document,
                                                  f"the deployment {stack} serves")
        except (BackendError, contract.UnreadableDocument) as error:
            problems["definition"] = str(error)
    else:
        problems["definition"] = f"there is no stage {e.stage}"
    return Observed(
        stage_deployment=stage.get("deploymentId") if stage else None,
        stage_variables=dict((stage or {}).get("variables") or {}),
        stage_canary=(stage or {}).get("canarySettings") or None,
        deployment_exists=exists, alias_version=version, alias_code_sha256=sha,
        archive_exists=archive, permission_statements=statements,
        definition_hash=definition, caller_policy=caller_policy, problems=problems)
