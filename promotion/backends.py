"""What promotion asks of a place where stacks live, and what both places share: the AWS
calls (retained deployments, version pruning, a stage's canary settings, a canary's
CloudWatch metrics) and the signed smoke check, made with the clients and credentials each
backend gives for a stack."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from infra.metrics import api_name_dimension
from infra.naming import CANARY_ALIAS
from promotion import failures
from promotion.decisions import versions_to_prune
from promotion.health import Observation
from promotion.identity import Refused
from promotion.metrics import MetricsUnavailable, read_observation
from promotion.smoke import SmokeResult, smoke_check, smoke_url, stage_base_url


class BackendError(Exception):
    """The stacks could not be reached or updated; the message says why and what to do."""


class StageMissing(BackendError):
    """The stack's stage is not in the REST API (its outputs name one): it serves nothing."""


class UpdateFailed(Exception):
    """An update that did not complete. `kind` says what it left behind
    (promotion.failures): CONCURRENT and REFUSED changed nothing, PARTIAL applied some
    steps, UNKNOWN may have; `evidence` says how that is known."""
    CONCURRENT, REFUSED, PARTIAL, UNKNOWN = (failures.CONCURRENT, failures.REFUSED,
                                             failures.PARTIAL, failures.UNKNOWN)

    def __init__(self, kind: str, detail: str, evidence: str = "") -> None:
        super().__init__(detail)
        self.kind, self.detail, self.evidence = kind, detail, evidence


@dataclass(frozen=True)
class ServedDefinition:
    """The OpenAPI document of the deployment a stage serves now, as the backend reads it
    (an export of the stage on AWS, the deployment's snapshot on the local cloud), and
    that deployment's id (GetStage), read just before it."""
    deployment_id: str
    document: object  # bytes, text or a dict: promotion.contract reads each


@dataclass(frozen=True)
class SmokeIdentity:
    """What signs a stage's smoke checks: botocore credentials, the region they sign for,
    and where they come from (for messages, e.g. "profile 'deployer' in ...")."""
    credentials: object
    region: str
    source: str


class Backend:
    """Outputs, config and updates of stacks, plus the AWS clients and the smoke checks'
    identity for each stack. Subclasses say where the stacks live.

    `smoke_profile` names the profile every smoke check signs with (--smoke-profile);
    None: each backend's own default for the stack (see `caller`)."""
    suffix = ""                        # added to every command the tool suggests
    deploy_hint = "pulumi up -s {stack}"
    # What puts back a setting changed outside the program (None: nothing here does).
    refresh_hint: str | None = "pulumi up --refresh -s {stack}"

    def __init__(self, report: Callable[[str], None] = print,
                 smoke_profile: str | None = None) -> None:
        self.report = report
        self.smoke_profile = smoke_profile

    # -- where the stacks live (subclasses) --
    def outputs(self, stack: str) -> dict: raise NotImplementedError
    def config(self, stack: str) -> dict[str, str]: raise NotImplementedError
    def set_config(self, stack: str, values: dict[str, str | None]) -> None: raise NotImplementedError
    def update(self, stack: str) -> None: raise NotImplementedError  # raises UpdateFailed
    def client(self, stack: str, service: str): raise NotImplementedError
    def caller(self, stack: str) -> SmokeIdentity: raise NotImplementedError  # or BackendError
    def check_smoke_profile(self) -> None: raise NotImplementedError  # BackendError if unusable
    def sts_client(self, stack: str, identity: SmokeIdentity): raise NotImplementedError
    def aws_cli(self, stack: str) -> str: return "aws"  # how the operator runs the AWS CLI here
    # The AWS CLI on the stack's own resources (its account and region, where they differ).
    def account_cli(self, stack: str) -> str: return self.aws_cli(stack)
    def pins_location(self, stack: str) -> str: raise NotImplementedError
    # The document of the deployment the stack's stage serves (BackendError if unreadable).
    def served_definition(self, stack: str, outputs: dict) -> ServedDefinition:
        raise NotImplementedError
    def after_change(self, stack: str) -> str: raise NotImplementedError

    def close(self) -> None:
        """Put back whatever the backend changed around the stacks (e.g. the selection)."""

    def serving_hint(self, stack: str, outputs: dict, aws: str | None = None) -> str:
        """How to find out what a stage serves when no finished update says it: ask API
        Gateway and Lambda (the stage's deployment, the alias's version) with the AWS CLI
        `aws`, then put it on a known entry."""
        aws = aws or self.aws_cli(stack)
        alias = outputs.get("functionAlias") or "live"
        return (f"`{aws} apigateway get-stage --rest-api-id {outputs.get('restApiId') or 'API_ID'} "
                f"--stage-name {outputs.get('stage') or stack}` shows its deploymentId and "
                f"`{aws} lambda get-alias --function-name "
                f"{outputs.get('functionName') or 'FUNCTION'} --name {alias}` its "
                f"functionVersion; `python -m promotion history --stack {stack}{self.suffix}` "
                "lists the entries `rollback --to` puts it on")

    # -- shared --
    def retained_deployments(self, stack: str) -> set[str]:
        api = self.outputs(stack).get("restApiId")
        if not api:
            return set()
        with aws_errors(f"listing the deployments of {stack}'s REST API {api}"):
            ids: set[str] = set()
            pages = self.client(stack, "apigateway").get_paginator("get_deployments")
            for page in pages.paginate(restApiId=api):
                ids.update(item["id"] for item in page["items"])
            return ids

    def prune_versions(self, stack: str, function: str, history: list[dict],
                       alias_version: str) -> list[str]:
        """Delete the function's published versions nothing refers to; returns them."""
        with aws_errors(f"pruning the published versions of {function}"):
            lambda_ = self.client(stack, "lambda")
            published = [v["Version"] for page in lambda_.get_paginator(
                "list_versions_by_function").paginate(FunctionName=function)
                for v in page["Versions"]]
            doomed = versions_to_prune(published, history, alias_version)
            for version in doomed:
                lambda_.delete_function(FunctionName=function, Qualifier=version)
            return doomed

    def served_code(self, stack: str, outputs: dict, alias: str | None = None) -> str:
        """The CodeSha256 of the version the stage's alias (or `alias`) serves."""
        function = f"{outputs.get('functionName')}:{alias or outputs.get('functionAlias') or 'live'}"
        with aws_errors(f"reading the configuration of {function}"):
            return self.client(stack, "lambda").get_function_configuration(
                FunctionName=function)["CodeSha256"]

    def stage(self, stack: str, outputs: dict) -> dict:
        """GetStage of the stack's stage (BackendError, saying so, when it is missing)."""
        api, stage = outputs.get("restApiId"), outputs.get("stage")
        apigateway = self.client(stack, "apigateway")
        with aws_errors(f"reading stage {stage} of the REST API {api}"):
            try:
                return apigateway.get_stage(restApiId=api, stageName=stage)
            except apigateway.exceptions.NotFoundException:
                raise StageMissing(f"the REST API {api} has no stage {stage} (its last update "
                                   f"made one; it was deleted since): deploy {stack} again "
                                   f"({self.deploy_hint.format(stack=stack)})") from None

    def stage_canary(self, stack: str, outputs: dict) -> dict | None:
        """The canary settings the stack's stage carries now (GetStage), or None."""
        api, stage = outputs.get("restApiId"), outputs.get("stage")
        if not api or not stage:
            return None
        with aws_errors(f"reading stage {stage} of the REST API {api}"):
            return self.client(stack, "apigateway").get_stage(
                restApiId=api, stageName=stage).get("canarySettings") or None

    def canary_deployed(self, stack: str, outputs: dict) -> bool:
        """Whether any of a canary reached the stack: its stage's settings, or its alias."""
        if self.stage_canary(stack, outputs):
            return True
        function = outputs.get("functionName")
        if not function:
            return False
        lambda_ = self.client(stack, "lambda")
        with aws_errors(f"looking for the alias {CANARY_ALIAS} of {function}"):
            try:
                lambda_.get_alias(FunctionName=function, Name=CANARY_ALIAS)
            except lambda_.exceptions.ResourceNotFoundException:
                return False
        return True

    def observe_canary(self, stack: str, outputs: dict, since: datetime,
                       until: datetime) -> Observation:
        """The canary's and the base's counts from `since`, from CloudWatch."""
        api = outputs.get("restApiId")
        with aws_errors(f"reading the name of the REST API {api}"):
            name = self.client(stack, "apigateway").get_rest_api(restApiId=api).get("name")
        try:
            return read_observation(self.client(stack, "cloudwatch"),
                                    api_name_dimension(name, api), outputs.get("stage"),
                                    outputs.get("functionName"), since, until)
        except MetricsUnavailable as error:
            raise BackendError(str(error)) from None

    def smoke_check(self, stack: str, outputs: dict) -> SmokeResult:
        """The stage's answer to a GET /users?limit=1 signed as `caller(stack)`, at its
        stageUrl, or its customUrl where the default endpoint is off."""
        url = stage_base_url(outputs)
        if not url:
            return SmokeResult("", None, f"{stack} has no stageUrl output")
        try:
            identity = self.caller(stack)
        except BackendError as error:
            return SmokeResult(smoke_url(url), None, str(error))
        return smoke_check(url, identity.credentials, identity.region,
                           connect_to=self.connect_to(stack, url))

    def connect_to(self, stack: str, url: str) -> str | None:
        """Where to send a request for `url` instead of its host (None: to its host)."""
        return None

    def identity_arn(self, stack: str, identity: SmokeIdentity) -> tuple[str | None, str]:
        """The ARN STS GetCallerIdentity gives for the identity (it needs no permission),
        or None and why not."""
        try:
            return self.sts_client(stack, identity).get_caller_identity()["Arn"], ""
        except (BotoCoreError, ClientError, KeyError) as error:
            return None, str(error)

    def refused(self, stack: str, outputs: dict, result: SmokeResult) -> Refused:
        """A 403 to the stack's smoke check, told with the identity's ARN and the fix."""
        identity = self.caller(stack)
        arn, problem = self.identity_arn(stack, identity)
        return Refused(stack, result, arn, identity.source,
                       str(outputs.get("invokePolicyArn") or ""), self.aws_cli(stack), problem)


@contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """An AWS call's failure as a BackendError that names what was being done."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise BackendError(f"{doing} failed: {error}") from None
