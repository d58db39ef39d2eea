"""The stack's configuration: read once, validated once, frozen.

`parse_stage_config` is pure (tests call it directly); `load_stage_config` is the only
place in the program that reads `pulumi.Config`. Defaults live in Pulumi.yaml, which the
Pulumi CLI applies before the program runs (and tests/local cloud apply the same way).

The CLI also checks each value against the type Pulumi.yaml declares before the program
runs (pulumi/pulumi pkg/workspace/config.go, validateStackConfigValue, and
sdk/go/common/workspace/project.go, ValidateConfigValue), and hands the program strings: a
`boolean` is exactly "true" or "false", an `integer` is what Go's strconv.Atoi parses. The
parsers here accept exactly that much, so a value passes here if and only if it passes there.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, Mapping

import pulumi

from infra import domain_names, naming, partitions, stack_references

PROJECT = "user-service"

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)
# strconv.Atoi: an optional sign and ASCII digits, within a 64-bit int.
ATOI = re.compile(r"[+-]?[0-9]+")
INT64 = range(-2**63, 2**63)
# API Gateway's integration timeout is 29 s: a longer function timeout only hides 504s.
MAX_TIMEOUT_SECONDS = 29
DEPLOYMENT_ID = re.compile(r"[A-Za-z0-9]{1,32}")
CODE_HASH = re.compile(r"[0-9a-f]{64}")
HISTORY_FIELDS = {"deploymentId", "codeHash", "functionVersion", "action", "from", "at",
                  "percent", "reason", "definitionHash"}
FUNCTION_VERSION = re.compile(r"[1-9][0-9]{0,9}")
AUTHORIZATIONS = ("AWS_IAM", "NONE")
LOGGING_LEVELS = ("OFF", "ERROR", "INFO")
# A canary's share of the traffic: a decimal number, as API Gateway's percentTraffic (a
# double) takes it. Pulumi.yaml declares it a string: the engine's config types have no
# float, and an `integer` key refuses "2.5" (strconv.Atoi), while a `string` key takes
# both "2.5" and an unquoted YAML 2.5 (the engine hands every scalar over as its text).
PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,6})?")
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


class ConfigError(pulumi.RunError):
    """Bad configuration; Pulumi shows a RunError's message without a traceback."""


@dataclass(frozen=True)
class StageConfig:
    stack: str
    stage: str
    name_prefix: str
    region: str
    production: bool
    api_owner: bool
    api_stack: str | None
    log_retention_days: int
    throttling_rate_limit: int
    throttling_burst_limit: int
    allow_test_invoke: bool
    deletion_protection: bool
    point_in_time_recovery: bool
    protect: bool
    function_memory_mb: int
    function_timeout_seconds: int
    api_authorization: str = "AWS_IAM"
    api_logging_level: str = "OFF"
    api_data_trace: bool = False
    api_xray_tracing: bool = False
    api_gateway_cloudwatch_role: bool = False
    # Set by promotion: the Deployment this stage serves, the code it runs (deployed from
    # the artifacts bucket, not the checkout) and, after a rollback, the version.
    promoted_deployment_id: str | None = None
    promoted_code_hash: str | None = None
    promoted_function_version: str | None = None
    # The deployments this stage has served, oldest first (kept by promotion/rollback).
    deployment_history: tuple[dict, ...] = ()
    # Set by `promote --canary` while a canary release runs on this (pinned) stage: the
    # candidate Deployment and code, its share of the traffic, and when it began.
    canary_deployment_id: str | None = None
    canary_code_hash: str | None = None
    canary_percent: float | None = None
    canary_started_at: str | None = None
    # The stage's custom domain (REGIONAL): its certificate, given (certificateArn) or
    # requested and validated by DNS in a Route 53 zone (hostedZoneId); None: no domain.
    domain_name: str | None = None
    certificate_arn: str | None = None
    hosted_zone_id: str | None = None
    base_path: str | None = None  # None: the stage answers at the domain's root
    # Owner only: every stage of the shared API answers on its custom domain only.
    disable_execute_api_endpoint: bool = False
    # Where the stack lives: pulumi.get_organization() (on the DIY backend always
    # "organization") and pulumi.get_project(); stack references are qualified with them.
    organization: str = stack_references.DIY_ORGANIZATION
    project: str = PROJECT

    @property
    def api_stack_reference(self) -> str | None:
        """The owner stack's name as every backend resolves it (org/project/stack)."""
        return (stack_references.qualified(self.api_stack, self.organization, self.project)
                if self.api_stack else None)

    @property
    def own_reference(self) -> str:
        """This stack's own name, fully qualified (prod reads its last outputs through it)."""
        return stack_references.qualified(self.stack, self.organization, self.project)

    @property
    def function_name(self) -> str:
        return naming.function_name(self.name_prefix)

    @property
    def table_name(self) -> str:
        return naming.table_name(self.name_prefix)

    @property
    def role_name(self) -> str:
        return naming.role_name(self.name_prefix)

    @property
    def log_group_name(self) -> str:
        return naming.log_group_name(self.function_name)

    @property
    def invoke_policy_name(self) -> str:
        return naming.invoke_policy_name(self.name_prefix)

    @property
    def pinned(self) -> bool:
        return self.promoted_deployment_id is not None

    @property
    def canary(self) -> bool:
        """A canary release runs on this stage (its pin is complete: checked on parsing)."""
        return self.canary_deployment_id is not None

    @property
    def tags(self) -> dict[str, str]:
        return {"service": naming.SERVICE, "stage": self.stage, "stack": self.stack}


def _text(raw: str) -> str:
    return raw


def _bool(raw: str) -> bool:
    if raw in ("true", "false"):
        return raw == "true"
    raise ValueError("must be true or false (Pulumi.yaml declares it boolean)")


def _int(raw: str) -> int:
    if ATOI.fullmatch(raw) and int(raw) in INT64:
        return int(raw)
    raise ValueError("must be a whole number, written without spaces, dots or exponents "
                     "(Pulumi.yaml declares it integer)")


def _percent(raw: str) -> float | None:
    if raw == "":
        return None
    if not PERCENT.fullmatch(raw):
        raise ValueError("must be a number of percent, e.g. 10 or 2.5 (Pulumi.yaml declares "
                         "it a string: the engine has no float type)")
    return float(raw)


def _history(raw: str) -> tuple[dict, ...]:
    try:
        entries = json.loads(raw or "[]")
    except json.JSONDecodeError:
        raise ValueError("must be a JSON list (it is written by the promotion tool)") from None
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and set(e) <= HISTORY_FIELDS and "deploymentId" in e
            for e in entries):
        raise ValueError("must be a list of {deploymentId, codeHash, action, from, at} "
                         "entries (it is written by the promotion tool)")
    return tuple(entries)


# Config key -> (dataclass field, parser). aws:region is the AWS provider's own key.
KEYS: dict[str, tuple[str, Callable[[str], object]]] = {
    f"{PROJECT}:stage": ("stage", _text),
    f"{PROJECT}:namePrefix": ("name_prefix", _text),
    "aws:region": ("region", _text),
    f"{PROJECT}:production": ("production", _bool),
    f"{PROJECT}:apiOwner": ("api_owner", _bool),
    f"{PROJECT}:apiStack": ("api_stack", _text),
    f"{PROJECT}:logRetentionDays": ("log_retention_days", _int),
    f"{PROJECT}:throttlingRateLimit": ("throttling_rate_limit", _int),
    f"{PROJECT}:throttlingBurstLimit": ("throttling_burst_limit", _int),
    f"{PROJECT}:allowTestInvoke": ("allow_test_invoke", _bool),
    f"{PROJECT}:deletionProtection": ("deletion_protection", _bool),
    f"{PROJECT}:pointInTimeRecovery": ("point_in_time_recovery", _bool),
    f"{PROJECT}:protect": ("protect", _bool),
    f"{PROJECT}:functionMemoryMb": ("function_memory_mb", _int),
    f"{PROJECT}:functionTimeoutSeconds": ("function_timeout_seconds", _int),
    f"{PROJECT}:apiAuthorization": ("api_authorization", _text),
    f"{PROJECT}:apiLoggingLevel": ("api_logging_level", _text),
    f"{PROJECT}:apiDataTrace": ("api_data_trace", _bool),
    f"{PROJECT}:apiXrayTracing": ("api_xray_tracing", _bool),
    f"{PROJECT}:apiGatewayCloudWatchRole": ("api_gateway_cloudwatch_role", _bool),
    f"{PROJECT}:promotedDeploymentId": ("promoted_deployment_id", _text),
    f"{PROJECT}:promotedCodeHash": ("promoted_code_hash", _text),
    f"{PROJECT}:promotedFunctionVersion": ("promoted_function_version", _text),
    f"{PROJECT}:deploymentHistory": ("deployment_history", _history),
    f"{PROJECT}:canaryDeploymentId": ("canary_deployment_id", _text),
    f"{PROJECT}:canaryCodeHash": ("canary_code_hash", _text),
    f"{PROJECT}:canaryPercent": ("canary_percent", _percent),
    f"{PROJECT}:canaryStartedAt": ("canary_started_at", _text),
    f"{PROJECT}:domainName": ("domain_name", _text),
    f"{PROJECT}:certificateArn": ("certificate_arn", _text),
    f"{PROJECT}:hostedZoneId": ("hosted_zone_id", _text),
    f"{PROJECT}:basePath": ("base_path", _text),
    f"{PROJECT}:disableExecuteApiEndpoint": ("disable_execute_api_endpoint", _bool),
}
FIELD_KEYS = {field: key for key, (field, _) in KEYS.items()}


def parse_stage_config(values: Mapping[str, str | None], stack: str,
                       organization: str = stack_references.DIY_ORGANIZATION,
                       project: str = PROJECT) -> StageConfig:
    """Turn raw config strings into a StageConfig, or raise one ConfigError listing
    every problem, each naming the key, the stack file and what is allowed. `organization`
    and `project` are where the stack lives (pulumi.get_organization(), get_project()):
    the stack references are checked against the rules of the backend that implies."""
    problems: list[tuple[str, str]] = []
    parsed: dict[str, object] = {}
    for key, (field, parse) in KEYS.items():
        raw = values.get(key)
        if raw is None:
            problems.append((key, "is missing; set it with `pulumi config set "
                                  f"{key} <value> -s {stack}` or in the stack file"))
            continue
        try:
            parsed[field] = parse(raw)
        except ValueError as err:
            problems.append((key, f"is {raw!r}, but it {err}"))
    if not problems:
        for optional in ("api_stack", "promoted_deployment_id", "promoted_code_hash",
                         "promoted_function_version", "domain_name", "certificate_arn",
                         "hosted_zone_id", "base_path", "canary_deployment_id",
                         "canary_code_hash", "canary_started_at"):
            parsed[optional] = parsed[optional] or None
        config = StageConfig(stack=stack, organization=organization, project=project, **parsed)
        problems = _consistency_problems(config)
        if not problems:
            return config
    raise ConfigError(format_problems(stack, problems))


def format_problems(stack: str, problems: list[tuple[str, str]]) -> str:
    lines = [f"Pulumi.{stack}.yaml has {len(problems)} configuration "
             f"problem{'s' if len(problems) != 1 else ''}:"]
    lines += [f"  - {key} {message}" for key, message in problems]
    return "\n".join(lines)


def _consistency_problems(c: StageConfig) -> list[tuple[str, str]]:
    key = FIELD_KEYS
    found: list[tuple[str, str]] = []

    def problem(field: str, message: str) -> None:
        found.append((key[field], message))

    stage = naming.stage_name_problem(c.stage)
    if stage:
        problem("stage", stage)
    for message in naming.prefix_problems(c.name_prefix):
        problem("name_prefix", f"{c.name_prefix!r} {message}")
    if c.production and c.name_prefix:
        problem("name_prefix", f"is {c.name_prefix!r}, but a production stack must have an "
                               "empty prefix (namePrefix: \"\") so its names are the bare ones")
    if partitions.partition_of(c.region) is None:
        problem("region", f"is {c.region!r}, which is in no AWS partition (botocore knows "
                          f"{', '.join(partitions.known_partitions())}); use an AWS region "
                          "name, e.g. us-east-1, us-gov-west-1 or cn-north-1")
    if c.api_owner and c.api_stack:
        problem("api_stack", f"is {c.api_stack!r}, but apiOwner is true: a stack either owns "
                             "the shared REST API or references its owner, not both")
    if not c.api_owner and not c.api_stack:
        problem("api_stack", "is empty and apiOwner is false: set apiOwner: true in the one "
                             "stack that owns the shared REST API, or apiStack to that stack's "
                             "name (e.g. dev)")
    if c.api_stack:
        found.extend(_reference_problems(c))
    if c.api_gateway_cloudwatch_role and not c.api_owner:
        problem("api_gateway_cloudwatch_role", "is true, but only the stack that owns the "
                "shared REST API (apiOwner: true) may set API Gateway's account-wide "
                "CloudWatch role; remove it here")
    if not c.api_owner and c.api_authorization != "AWS_IAM":
        problem("api_authorization", f"is {c.api_authorization!r}, but the API's authorization "
                "is part of the shared API's definition: set it in the owner stack's file")
    if c.api_authorization not in AUTHORIZATIONS:
        problem("api_authorization", f"is {c.api_authorization!r}; use AWS_IAM (callers sign "
                                     "with SigV4) or NONE")
    if c.api_logging_level not in LOGGING_LEVELS:
        problem("api_logging_level", f"is {c.api_logging_level!r}; use one of "
                                     f"{', '.join(LOGGING_LEVELS)}")
    if c.log_retention_days not in LOG_RETENTION_DAYS:
        problem("log_retention_days", f"is {c.log_retention_days}; CloudWatch Logs allows only "
                                      f"{', '.join(map(str, LOG_RETENTION_DAYS))}")
    if not 0 < c.throttling_rate_limit <= 10000:
        problem("throttling_rate_limit", f"is {c.throttling_rate_limit}; use requests per "
                                         "second above 0 and at most 10000")
    if not 0 < c.throttling_burst_limit <= 5000:
        problem("throttling_burst_limit", f"is {c.throttling_burst_limit}; use 1 to 5000")
    if not 128 <= c.function_memory_mb <= 10240:
        problem("function_memory_mb", f"is {c.function_memory_mb}; Lambda allows 128 to 10240 MB")
    if not 1 <= c.function_timeout_seconds <= MAX_TIMEOUT_SECONDS:
        problem("function_timeout_seconds", f"is {c.function_timeout_seconds}; use 1 to "
                f"{MAX_TIMEOUT_SECONDS} (API Gateway gives up after 29 s)")
    if bool(c.promoted_deployment_id) != bool(c.promoted_code_hash):
        problem("promoted_deployment_id", "and promotedCodeHash are pinned together by "
                "`python -m promotion promote`; set both or neither")
    if c.promoted_deployment_id and not DEPLOYMENT_ID.fullmatch(c.promoted_deployment_id):
        problem("promoted_deployment_id", f"is {c.promoted_deployment_id!r}, which is not an "
                                          "API Gateway deployment id (letters and digits)")
    if c.promoted_code_hash and not CODE_HASH.fullmatch(c.promoted_code_hash):
        problem("promoted_code_hash", f"is {c.promoted_code_hash!r}; it must be the 64-hex "
                                      "codeHash output of the stack that was promoted")
    if c.promoted_function_version and not c.promoted_code_hash:
        problem("promoted_function_version", "is set without promotedCodeHash; a version is "
                "pinned only with the code it runs (`python -m promotion rollback`)")
    if c.promoted_function_version and not FUNCTION_VERSION.fullmatch(c.promoted_function_version):
        problem("promoted_function_version", f"is {c.promoted_function_version!r}, which is not "
                "a published Lambda version number (1, 2, ...)")
    found.extend(_domain_problems(c))
    found.extend(_canary_problems(c))
    if c.production:
        if c.api_authorization != "AWS_IAM":
            problem("api_authorization", f"is {c.api_authorization!r}, but a production stack "
                    "refuses an open API: anyone who can reach its URL could read and change "
                    "every user. Set it to AWS_IAM (callers attach the stack's invokePolicyArn "
                    "and sign with SigV4)")
        if c.api_data_trace:
            problem("api_data_trace", "is true, but a production stage never logs full "
                                      "requests and responses (they hold personal data); "
                                      "set it to false")
        if c.allow_test_invoke:
            problem("allow_test_invoke", "is true, but a production stack never allows the "
                                         "console's test-invoke; set it to false")
        for field in ("deletion_protection", "point_in_time_recovery", "protect"):
            if not getattr(c, field):
                problem(field, "is false, but a production stack keeps its data protections; "
                               "set it to true")
    return found


CANARY_FIELDS = ("canary_deployment_id", "canary_code_hash", "canary_percent",
                 "canary_started_at")


def _canary_problems(c: StageConfig) -> list[tuple[str, str]]:
    """A canary pin is complete or absent, well formed, on a pinned stage only, and with
    the version the alias `live` serves pinned too: while a canary runs, the function
    publishes the candidate's archive, and `live` must stay where it was."""
    key, found = FIELD_KEYS, []
    given = [field for field in CANARY_FIELDS if getattr(c, field) is not None]
    if not given:
        return found
    fix = ("they are written by `python -m promotion promote --canary` and removed by "
           "`python -m promotion canary complete` or `canary abort`")
    if len(given) != len(CANARY_FIELDS):
        missing = ", ".join(key[f].split(":", 1)[1] for f in CANARY_FIELDS if f not in given)
        found.append((key[given[0]], f"is set without {missing}: a canary pin is complete or "
                      f"absent; {fix}"))
        return found
    if not c.pinned:
        found.append((key["canary_deployment_id"], "is set, but this stage is not pinned "
                      "(promotedDeploymentId): only a promoted stage may carry a canary; "
                      "promote to it once without --canary first"))
    elif not c.promoted_function_version:
        found.append((key["canary_deployment_id"], "is set, but promotedFunctionVersion is "
                      "not: while a canary runs the function publishes the candidate's code, "
                      "and the alias live must stay on the version it serves; " + fix))
    if not DEPLOYMENT_ID.fullmatch(c.canary_deployment_id):
        found.append((key["canary_deployment_id"], f"is {c.canary_deployment_id!r}, which is "
                      "not an API Gateway deployment id (letters and digits)"))
    if not CODE_HASH.fullmatch(c.canary_code_hash):
        found.append((key["canary_code_hash"], f"is {c.canary_code_hash!r}; it must be the "
                      "64-hex codeHash output of the stack the candidate comes from"))
    if not 0 < c.canary_percent < 100:
        found.append((key["canary_percent"], f"is {c.canary_percent:g}; a canary takes more "
                      "than 0 and less than 100 percent of the traffic (0 serves it nothing, "
                      "100 is a promotion: use `canary complete`)"))
    if not TIMESTAMP.fullmatch(c.canary_started_at):
        found.append((key["canary_started_at"], f"is {c.canary_started_at!r}; it must be a UTC "
                      "time such as 2026-01-31T12:00:00Z"))
    if (c.canary_deployment_id, c.canary_code_hash) == (c.promoted_deployment_id,
                                                        c.promoted_code_hash):
        found.append((key["canary_deployment_id"], "and canaryCodeHash are what the stage "
                      "serves already (its pins): a canary releases something new; " + fix))
    return found


def _domain_problems(c: StageConfig) -> list[tuple[str, str]]:
    """The custom domain: a valid name, exactly one way to its certificate (given, in
    the stack's own region and partition; or requested and validated in a hosted zone),
    a base path API Gateway takes; and the default endpoint switched off only where the
    API is declared."""
    key, found = FIELD_KEYS, []
    if c.disable_execute_api_endpoint and not c.api_owner:
        found.append((key["disable_execute_api_endpoint"], "is true, but it is a setting of "
                      "the shared REST API, and applies to every stage on it: set it in the "
                      "owner stack's file (apiOwner: true), and remove it here"))
    if not c.domain_name:
        for field in ("certificate_arn", "hosted_zone_id", "base_path"):
            if getattr(c, field):
                found.append((key[field], f"is {getattr(c, field)!r}, but domainName is not "
                                          "set: set user-service:domainName too, or remove it"))
        return found
    problem = domain_names.domain_name_problem(c.domain_name)
    if problem:
        found.append((key["domain_name"], problem))
    if c.certificate_arn and c.hosted_zone_id:
        found.append((key["certificate_arn"], "and hostedZoneId are both set; set one: "
                      "certificateArn to use a certificate you have in ACM, or hostedZoneId "
                      "to have the program request one and validate it by DNS in that zone"))
    elif not c.certificate_arn and not c.hosted_zone_id:
        found.append((key["domain_name"], f"is {c.domain_name!r}, but it needs a certificate: "
                      f"set certificateArn (an ACM certificate in {c.region}) or hostedZoneId "
                      "(the Route 53 zone of the domain: the program requests the certificate, "
                      "validates it and creates the alias record)"))
    if c.certificate_arn:
        problem = domain_names.certificate_arn_problem(c.certificate_arn, c.region)
        if problem:
            found.append((key["certificate_arn"], problem))
    if c.hosted_zone_id:
        problem = domain_names.hosted_zone_id_problem(c.hosted_zone_id)
        if problem:
            found.append((key["hosted_zone_id"], problem))
    if c.base_path:
        problem = domain_names.base_path_problem(c.base_path)
        if problem:
            found.append((key["base_path"], problem))
    return found


def _reference_problems(c: StageConfig) -> list[tuple[str, str]]:
    """apiStack is a plain stack name or a full one. A reference the current backend would
    refuse is refused here with that backend's own message; one it would take in another
    form (DIY's `organization/dev`) is refused too, since only a full name resolves on both
    backends; and it must not be this very stack."""
    key, reference = FIELD_KEYS["api_stack"], c.api_stack_reference
    fix = (f"use the owner stack's name, e.g. dev, or its full name, e.g. "
           f"{c.organization}/{c.project}/dev")
    refused = stack_references.reference_problem(reference, c.organization, c.project)
    if refused:
        backend = stack_references.backend_of(c.organization)
        note = (f"on this backend every stack is in organization "
                f"'{stack_references.DIY_ORGANIZATION}'; "
                if refused == stack_references.DIY_ORGANIZATION_ONLY else "")
        return [(key, f"is {c.api_stack!r}, a reference the {backend.name} backend refuses "
                      f"(\"{refused}\"); {note}{fix}")]
    if not stack_references.fully_qualified(reference):
        return [(key, f"is {c.api_stack!r}, which is not a full <organization>/<project>/"
                      f"<stack> name (Pulumi Cloud takes no other form); {fix}")]
    if reference == c.own_reference:
        return [(key, f"is {c.api_stack!r}, this very stack: name the stack that owns the "
                      "shared REST API (apiOwner: true), e.g. dev")]
    return []


def load_stage_config() -> StageConfig:
    """Read every key once from the stack's configuration; the stack references are
    checked against the backend the program runs on."""
    values: dict[str, str | None] = {}
    for key in KEYS:
        namespace, name = key.split(":", 1)
        values[key] = pulumi.Config(namespace).get(name)
    return parse_stage_config(values, pulumi.get_stack(), pulumi.get_organization(),
                              pulumi.get_project())
