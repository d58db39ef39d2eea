"""The control-plane questions the gateway and the invoker ask of the emulator, and the
log writes the Lambda service makes, answered by the cheapest faithful route.

moto's server keeps its state in module-level backends of the process that runs it.
When that process is this one (``python -m localcloud up``, the tests, the benchmark),
:class:`InProcessPlane` reads those backends directly: the very objects moto's request
handlers read, so a change made through boto3 by anyone is seen by the next request,
without the ~3-4 ms of boto3 serialization and werkzeug handling each HTTP round trip
costs this process (under the GIL). Otherwise (the emulator is another process's),
:class:`BotoPlane` asks the same questions through boto3. :class:`ControlPlane` picks
on every call, so a stopped in-process emulator is never read behind its back.

Nothing here caches: every answer is read when asked.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any

from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from localcloud import emulator
from localcloud.emulator import REGION, make_client
from localcloud.emulator_auth import principals
from localcloud.emulator_auth.principals import as_document  # noqa: F401 -- re-exported

log = logging.getLogger("localcloud.control_plane")

class NotFound(Exception):
    """The function (or role) asked about does not exist."""


class Unsupported(Exception):
    """A question only the in-process route can answer."""


# --- qualified functions ----------------------------------------------------------------

def split_qualifier(function: str) -> tuple[str, str | None]:
    """A function name or ARN without its qualifier, and the qualifier (alias or version):
    ``fn:live`` -> ``("fn", "live")``. ``$LATEST`` is the unqualified function, as on Lambda."""
    if function.startswith("arn:"):
        parts = function.split(":")  # arn:aws:lambda:region:account:function:name[:qualifier]
        base, qualifier = ":".join(parts[:7]), (parts[7] if len(parts) > 7 else None)
    else:
        base, separator, qualifier = function.partition(":")
        qualifier = qualifier if separator else None
    return base, (None if qualifier in (None, "", "$LATEST") else qualifier)


def function_arn(function: str, region: str, account: str) -> str:
    """The ARN of a function name, ARN, or either with a qualifier (kept)."""
    if function.startswith("arn:"):
        return function
    return f"arn:aws:lambda:{region}:{account}:function:{function}"


def policy_of_qualifier(policy: str | None, qualifier: str | None) -> str | None:
    """The resource policy (JSON text) that Lambda keeps for one qualifier, from the one
    moto keeps for the function and all its versions and aliases.

    Lambda holds a separate policy per qualifier: a grant on ``fn:live`` is not a grant on
    ``fn`` or ``fn:2``. moto appends every statement to one list (its versions are shallow
    copies that share it) but writes the qualifier into each statement's Resource, so a
    qualifier's own statements are those whose Resource names it. None: no statement.
    """
    if policy is None:
        return None
    document = json.loads(policy)
    statements = document.get("Statement") or []
    own = [statement for statement in statements
           if isinstance(statement.get("Resource"), str)
           and split_qualifier(statement["Resource"])[1] == qualifier]
    if not own:
        return None
    if len(own) == len(statements):
        return policy  # the usual case: no other qualifier has statements
    return json.dumps({**document, "Statement": own})


def stage_logging(method_settings: dict | None, access_log_settings: dict | None) -> dict:
    """The stage's execution-log level (its ``*/*`` method settings) and access-log
    settings (destination and format), as API Gateway applies them."""
    settings = (method_settings or {}).get("*/*") or {}
    return {"level": settings.get("loggingLevel") or "OFF",
            "access": dict(access_log_settings) if access_log_settings else None}


def stage_throttling(method_settings: dict | None) -> dict | None:
    """``{"rateLimit", "burstLimit"}`` of a stage's ``*/*`` method settings, or None.

    Only the stage-wide ``*/*`` entry counts: it is what our MethodSettings write.
    """
    settings = (method_settings or {}).get("*/*") or {}
    if "throttlingRateLimit" not in settings and "throttlingBurstLimit" not in settings:
        return None
    return {"rateLimit": settings.get("throttlingRateLimit"),
            "burstLimit": settings.get("throttlingBurstLimit")}


def mapping_answer(base_path: str, rest_api_id: str, stage: str | None) -> dict:
    """A custom domain's base path mapping, alike from either route."""
    return {"basePath": base_path, "restApiId": rest_api_id, "stage": stage}


def stage_answer(deployment_id: str | None, variables: dict | None,
                 method_settings: dict | None, access_log_settings: dict | None,
                 canary_settings: dict | None = None) -> dict:
    """What the gateway asks of a stage, alike from either route (`canary`: its canary
    settings as GetStage gives them, or None)."""
    return {"deploymentId": deployment_id, "variables": dict(variables or {}),
            "throttling": stage_throttling(method_settings),
            "logging": stage_logging(method_settings, access_log_settings),
            "canary": json.loads(json.dumps(canary_settings)) if canary_settings else None}


# --- through boto3 (an emulator in another process) ----------------------------------

class BotoPlane:
    """The control plane over HTTP, through boto3, signed with ``credentials`` (by default
    as the local cloud itself, which only works for an emulator of this process)."""

    def __init__(self, endpoint_url: str, region: str = REGION,
                 credentials: Credentials | None = None) -> None:
        self._apigw = make_client("apigateway", endpoint_url, region, credentials)
        self._lambda = make_client("lambda", endpoint_url, region, credentials)
        self._iam = make_client("iam", endpoint_url, region, credentials)
        self._logs = make_client("logs", endpoint_url, region, credentials)
        self._cloudwatch = make_client("cloudwatch", endpoint_url, region, credentials)

    def rest_api_ids(self) -> list[str]:
        """Every REST API, oldest first (ties by id)."""
        pages = self._apigw.get_paginator("get_rest_apis").paginate()
        apis = [api for page in pages for api in page.get("items", [])]
        apis.sort(key=lambda api: (str(api.get("createdDate", "")), api["id"]))
        return [api["id"] for api in apis]

    def stage(self, api_id: str, stage_name: str) -> dict | None:
        """{deploymentId, variables, throttling, logging} of a stage, or None."""
        try:
            stage = self._apigw.get_stage(restApiId=api_id, stageName=stage_name)
        except (self._apigw.exceptions.NotFoundException,
                self._apigw.exceptions.BadRequestException):
            return None
        return stage_answer(stage.get("deploymentId"), stage.get("variables"),
                            stage.get("methodSettings"), stage.get("accessLogSettings"),
                            stage.get("canarySettings"))

    def rest_api_name(self, api_id: str) -> str | None:
        try:
            return self._apigw.get_rest_api(restApiId=api_id).get("name")
        except self._apigw.exceptions.NotFoundException:
            return None

    def base_path_mappings(self, domain_name: str) -> list[dict] | None:
        """[{basePath, restApiId, stage}] of a custom domain name; None: no such domain."""
        try:
            pages = self._apigw.get_paginator("get_base_path_mappings").paginate(
                domainName=domain_name)
            return [mapping_answer(m["basePath"], m["restApiId"], m.get("stage"))
                    for page in pages for m in page.get("items", [])]
        except (self._apigw.exceptions.NotFoundException,
                self._apigw.exceptions.BadRequestException):
            return None

    def function_policy(self, function: str) -> str | None:
        """The resource policy (JSON text) of the function or of its qualifier (``fn:live``),
        None when it has none or there is no such function, alias or version."""
        try:
            base, qualifier = split_qualifier(function)
            policy = self._lambda.get_policy(
                FunctionName=base, **({"Qualifier": qualifier} if qualifier else {}))["Policy"]
            return policy_of_qualifier(policy, qualifier)
        except self._lambda.exceptions.ResourceNotFoundException:
            return None
        except ClientError as err:  # e.g. a stage variable that is no function name
            log.info("get_policy(%s) failed: %s", function, err)
            return None

    def function_configuration(self, function: str) -> dict:
        try:
            return self._lambda.get_function_configuration(FunctionName=function)
        except self._lambda.exceptions.ResourceNotFoundException as err:
            raise NotFound(f"function not found: {function}") from err

    def role_policies(self, role_name: str) -> list[dict]:
        """The role's inline, then attached managed, policy documents; NotFound: no role."""
        documents: list[dict] = []
        try:
            for page in self._iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
                for policy_name in page["PolicyNames"]:
                    doc = self._iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)
                    documents.append(as_document(doc["PolicyDocument"]))
            pages = self._iam.get_paginator("list_attached_role_policies").paginate(
                RoleName=role_name)
            for page in pages:
                for attached in page["AttachedPolicies"]:
                    policy = self._iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
                    version = self._iam.get_policy_version(
                        PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
                    documents.append(as_document(version["PolicyVersion"]["Document"]))
        except self._iam.exceptions.NoSuchEntityException as err:
            raise NotFound(f"role not found: {role_name}") from err
        return documents

    def access_key(self, access_key_id: str) -> dict | None:
        # IAM never returns a secret key after creating it, so only moto's backends know it.
        raise Unsupported("checking SigV4 signatures needs the AWS emulator in this process "
                          "(python -m localcloud up); the emulator at this endpoint is another "
                          "process's")

    def user_policies(self, user_name: str) -> list[dict]:
        raise Unsupported("reading users' policies needs the AWS emulator in this process")

    def temporary_key_active(self, access_key_id: str) -> bool:
        return True  # another process's emulator: its front check will say

    def log_group_exists(self, group: str) -> bool:
        pages = self._logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=group)
        return any(g["logGroupName"] == group for page in pages for g in page["logGroups"])

    def create_log_group(self, group: str) -> None:
        try:
            self._logs.create_log_group(logGroupName=group)
        except self._logs.exceptions.ResourceAlreadyExistsException:
            pass

    def create_log_stream(self, group: str, stream: str) -> None:
        try:
            self._logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except self._logs.exceptions.ResourceAlreadyExistsException:
            pass

    def put_log_events(self, group: str, stream: str, events: list[dict]) -> None:
        self._logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    def put_metric_data(self, namespace: str, data: list[dict]) -> None:
        self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)


# --- straight from moto's backends (an emulator in this process) ---------------------

def _error_code(exc: BaseException) -> str:
    # moto's REST errors carry the AWS code in error_type; its IAM errors in code.
    code = getattr(exc, "error_type", None) or getattr(exc, "code", None)
    return code if isinstance(code, str) else ""


class InProcessPlane:
    """The control plane read from moto's backends, as moto's handlers read them.

    Each method does what the matching moto response handler does for our boto3
    clients' requests (same account, region, backend calls), minus the HTTP.
    """

    def __init__(self, region: str = REGION) -> None:
        self.region = region

    def _backend(self, service: str, region: str | None = None):
        # Imported here: a process that only talks to another process's emulator never
        # needs moto's models.
        from moto.backends import get_backend
        from moto.iam.models import get_account_id_from

        # As moto's server picks the account of a request signed as the local cloud.
        account = os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(
            emulator.local_cloud_credentials().access_key)
        return get_backend(service)[account][region or self.region]

    def rest_api_ids(self) -> list[str]:
        apis = list(self._backend("apigateway").apis.values())
        apis.sort(key=lambda api: (api.create_date, api.id))
        return [api.id for api in apis]

    def stage(self, api_id: str, stage_name: str) -> dict | None:
        api = self._backend("apigateway").apis.get(api_id)
        stage = api.stages.get(stage_name) if api is not None else None
        if stage is None:
            return None
        return stage_answer(stage.deployment_id, stage.variables, stage.method_settings,
                            stage.access_log_settings, getattr(stage, "canary_settings", None))

    def rest_api_name(self, api_id: str) -> str | None:
        api = self._backend("apigateway").apis.get(api_id)
        return api.name if api is not None else None

    def base_path_mappings(self, domain_name: str) -> list[dict] | None:
        backend = self._backend("apigateway")
        if domain_name not in backend.domain_names:
            return None
        mappings = list((backend.base_path_mappings.get(domain_name) or {}).values())
        return [mapping_answer(m.base_path, m.rest_api_id, m.stage) for m in mappings]

    def function_policy(self, function: str) -> str | None:
        base, qualifier = split_qualifier(function)
        try:
            wire = self._backend("lambda").get_policy(base, qualifier)
        except Exception as err:  # noqa: BLE001 -- any error means: nobody may invoke it
            if _error_code(err) != "ResourceNotFoundException":
                # Loud: a moto upgrade that broke this read would otherwise look like a
                # missing permission.
                log.warning("get_policy(%s) failed: %s", function, err)
            return None
        return policy_of_qualifier(json.loads(wire)["Policy"], qualifier)

    def function_configuration(self, function: str) -> dict:
        try:
            fn = self._backend("lambda").get_function(function, None)
        except Exception as err:
            if _error_code(err) == "ResourceNotFoundException":
                raise NotFound(f"function not found: {function}") from err
            raise
        # A deep copy, as a response would be: the caller may keep or change it.
        return json.loads(json.dumps(fn.get_configuration(), default=str))

    def role_policies(self, role_name: str) -> list[dict]:
        from moto.utilities.utils import get_partition

        iam = self._backend("iam", get_partition(self.region))
        try:
            role = iam.get_role(role_name)
            return [as_document(doc) for doc in principals.role_policy_documents(iam, role)]
        except Exception as err:
            if _error_code(err) == "NoSuchEntity":
                raise NotFound(f"role not found: {role_name}") from err
            raise

    def _iam(self):
        from moto.utilities.utils import get_partition

        return self._backend("iam", get_partition(self.region))

    def access_key(self, access_key_id: str) -> dict | None:
        """{secretAccessKey, status, userName, userId, userArn} of an IAM user's access
        key, None for a key nobody holds (or a temporary key, which has no user)."""
        iam = self._iam()
        key = iam.access_keys.get(access_key_id)
        user = iam.users.get(key.user_name) if key is not None and key.user_name else None
        # moto keeps a deleted user's keys; IAM lists (and honours) only a user's own.
        if user is None or all(k.access_key_id != access_key_id for k in user.access_keys):
            return None
        return {"secretAccessKey": key.secret_access_key, "status": key.status,
                "userName": user.name, "userId": user.id, "userArn": user.arn}

    def user_policies(self, user_name: str) -> list[dict]:
        """The user's inline and attached policies, then each of its groups'; NotFound:
        no such user."""
        iam = self._iam()
        user = iam.users.get(user_name)
        if user is None:
            raise NotFound(f"user not found: {user_name}")
        return [as_document(doc) for doc in principals.user_policy_documents(iam, user)]

    def temporary_key_active(self, access_key_id: str) -> bool:
        """Whether moto still holds this STS key, unexpired (a reset deletes it)."""
        return principals.temporary_key_active(access_key_id)

    def log_group_exists(self, group: str) -> bool:
        return group in self._backend("logs").groups

    def create_log_group(self, group: str) -> None:
        try:
            self._backend("logs").create_log_group(group, None, kmsKeyId=None)
        except Exception as err:
            if _error_code(err) != "ResourceAlreadyExistsException":
                raise

    def create_log_stream(self, group: str, stream: str) -> None:
        try:
            self._backend("logs").create_log_stream(group, stream)
        except Exception as err:
            if _error_code(err) != "ResourceAlreadyExistsException":
                raise

    def put_log_events(self, group: str, stream: str, events: list[dict]) -> None:
        self._backend("logs").put_log_events(group, stream, events)

    def put_metric_data(self, namespace: str, data: list[dict]) -> None:
        # As moto's PutMetricData handler hands the request's MetricData on (no Timestamp:
        # moto stamps each datum with the time it arrives).
        self._backend("cloudwatch").put_metric_data(namespace, data)


class ControlPlane:
    """In-process while an emulator of this process serves the endpoint, else boto3
    (signed with ``credentials``)."""

    def __init__(self, endpoint_url: str, region: str = REGION,
                 credentials: Credentials | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.credentials = credentials
        self._in_process = InProcessPlane(region)
        self._boto: BotoPlane | None = None

    @property
    def in_process(self) -> bool:
        return emulator.in_process(self.endpoint_url) is not None

    def _current(self) -> InProcessPlane | BotoPlane:
        if emulator.in_process(self.endpoint_url) is not None:
            return self._in_process
        if self._boto is None:  # a race makes two alike; either serves
            self._boto = BotoPlane(self.endpoint_url, self.region, self.credentials)
        return self._boto

    # --- the questions (see BotoPlane for what each answers) ---------------------

    def rest_api_ids(self) -> list[str]:
        return self._current().rest_api_ids()

    def stage(self, api_id: str, stage_name: str) -> dict | None:
        return self._current().stage(api_id, stage_name)

    def base_path_mappings(self, domain_name: str) -> list[dict] | None:
        return self._current().base_path_mappings(domain_name)

    def rest_api_name(self, api_id: str) -> str | None:
        return self._current().rest_api_name(api_id)

    def function_policy(self, function: str) -> str | None:
        return self._current().function_policy(function)

    def function_configuration(self, function: str) -> dict:
        return self._current().function_configuration(function)

    def role_policies(self, role_name: str) -> list[dict]:
        return self._current().role_policies(role_name)

    def access_key(self, access_key_id: str) -> dict | None:
        return self._current().access_key(access_key_id)

    def user_policies(self, user_name: str) -> list[dict]:
        return self._current().user_policies(user_name)

    def temporary_key_active(self, access_key_id: str) -> bool:
        return self._current().temporary_key_active(access_key_id)

    def log_group_exists(self, group: str) -> bool:
        return self._current().log_group_exists(group)

    def create_log_group(self, group: str) -> None:
        self._current().create_log_group(group)

    def create_log_stream(self, group: str, stream: str) -> None:
        self._current().create_log_stream(group, stream)

    def put_log_events(self, group: str, stream: str, events: list[dict]) -> None:
        self._current().put_log_events(group, stream, events)

    def put_metric_data(self, namespace: str, data: list[dict]) -> None:
        self._current().put_metric_data(namespace, data)


def for_endpoint(endpoint_url: str, region: str = REGION,
                 credentials: Credentials | None = None) -> ControlPlane:
    return ControlPlane(endpoint_url, region, credentials)
