"""IAM policy evaluation, as pure functions (no AWS calls).

What is modelled, following the IAM policy-evaluation rules for a single account:

- Identity policies (a user's or a role's inline and attached policies): a request is
  allowed only if some ``Allow`` statement matches and no ``Deny`` statement matches
  (explicit deny wins; default deny).
- A Lambda function's resource policy (the JSON of ``lambda.get_policy``) for a service
  principal such as ``apigateway.amazonaws.com``, with ``aws:SourceArn`` /
  ``aws:SourceAccount`` conditions.
- Statement elements: Effect, Action / NotAction, Resource / NotResource, Principal /
  NotPrincipal (resource policies), Condition with the String*, Arn*, Bool, IpAddress /
  NotIpAddress and Null operators (and ``...IfExists``). Action names match
  case-insensitively, ARNs case-sensitively; both take ``*`` and ``?`` wildcards.
  Condition keys are case-insensitive.

Not modelled: permission boundaries, session policies, SCPs, policy variables
(``${aws:username}``), numeric/date condition operators, ``ForAllValues:`` /
``ForAnyValue:`` set operators (an unsupported operator, or a policy variable in a
statement that applies to the action, raises ``ValueError`` rather than being silently
ignored or read as literal text).

Also here: mapping an AWS API call to the (action, resource ARN) pairs IAM checks.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping

from infra.partitions import partition_of

log = logging.getLogger("localcloud.policy")

ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True)
class Decision:
    """The outcome of an evaluation; ``bool(decision)`` is True only for Allow."""

    result: str  # ALLOW, EXPLICIT_DENY or IMPLICIT_DENY
    statement: str | None = None  # Sid (or index) of the deciding statement, if any

    @property
    def allowed(self) -> bool:
        return self.result == ALLOW

    def __bool__(self) -> bool:
        return self.allowed


# --- wildcard matching --------------------------------------------------------------

@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str, ignore_case: bool) -> re.Pattern:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM-style glob: ``*`` any run of characters (also ``:`` and ``/``), ``?`` one."""
    return _wildcard_regex(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    return wildcard_match(pattern, action, ignore_case=True)


def resource_matches(pattern: str, resource: str) -> bool:
    return wildcard_match(pattern, resource)


def arn_like(pattern: str, arn: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-separated ARN parts matched separately."""
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) == 6 and len(arn_parts) == 6:
        return all(wildcard_match(p, a) for p, a in zip(pattern_parts, arn_parts))
    return wildcard_match(pattern, arn)


# --- documents ----------------------------------------------------------------------

def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _load(document: Any) -> dict:
    if isinstance(document, (str, bytes)):
        document = json.loads(document)
    if not isinstance(document, Mapping):
        raise ValueError(f"a policy document must be a JSON object, not {type(document).__name__}")
    return dict(document)


def statements(document: Any) -> list[dict]:
    """The statements of one policy document (a dict or its JSON text)."""
    return [dict(s) for s in _as_list(_load(document).get("Statement"))]


# The policy language version whose ${...} are policy variables; in 2008-10-17 (the
# default when Version is left out) they are literal text (IAM User Guide, "IAM JSON
# policy elements: Version").
VARIABLES_VERSION = "2012-10-17"


def _versioned_statements(document: Any) -> tuple[list[dict], bool]:
    """A document's statements, and whether its ``${...}`` are policy variables."""
    loaded = _load(document)
    return ([dict(s) for s in _as_list(loaded.get("Statement"))],
            loaded.get("Version") == VARIABLES_VERSION)


def _without_variables(statement: dict, variables: bool) -> bool:
    """True; raises ValueError for a policy variable where IAM substitutes one (Resource,
    NotResource, Condition values): its value comes from the request context, which is
    not modelled, and read as text a Deny naming one would never apply."""
    if not variables:
        return True
    values = [*_as_list(statement.get("Resource")), *_as_list(statement.get("NotResource"))]
    for tests in dict(statement.get("Condition") or {}).values():
        for expected in dict(tests).values():
            values.extend(_as_list(expected))
    for value in values:
        if isinstance(value, str) and "${" in value:
            raise ValueError(f"policy variables are not modelled: {value!r} in statement "
                             f"{statement.get('Sid') or '(no Sid)'}")
    return True


def _statement_id(statement: dict, index: int) -> str:
    return str(statement.get("Sid") or f"#{index}")


def _matches_action(statement: dict, action: str) -> bool:
    if "Action" in statement:
        return any(action_matches(p, action) for p in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(action_matches(p, action) for p in _as_list(statement["NotAction"]))
    return False


def _matches_resource(statement: dict, resource: str, *, required: bool) -> bool:
    if "Resource" in statement:
        return any(resource_matches(p, resource) for p in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(resource_matches(p, resource) for p in _as_list(statement["NotResource"]))
    # Identity policies need a Resource; resource policies may leave it out (implied).
    return not required


# --- conditions ---------------------------------------------------------------------

def _string_equals(pattern: str, value: str) -> bool:
    return pattern == value


def _string_equals_ignore_case(pattern: str, value: str) -> bool:
    return pattern.lower() == value.lower()


def _string_like(pattern: str, value: str) -> bool:
    return wildcard_match(pattern, value)


def _bool_equals(pattern: Any, value: Any) -> bool:
    return str(pattern).lower() == str(value).lower()


def _ip_in(pattern: str, value: str) -> bool:
    """IpAddress: the address lies in the CIDR block (a bare address is a /32 or /128)."""
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return False  # not an address or a block: no match


# operator -> (matcher of one policy value against one request value, negated?)
_OPERATORS = {
    "stringequals": (_string_equals, False),
    "stringnotequals": (_string_equals, True),
    "stringequalsignorecase": (_string_equals_ignore_case, False),
    "stringnotequalsignorecase": (_string_equals_ignore_case, True),
    "stringlike": (_string_like, False),
    "stringnotlike": (_string_like, True),
    "arnequals": (arn_like, False),
    "arnlike": (arn_like, False),
    "arnnotequals": (arn_like, True),
    "arnnotlike": (arn_like, True),
    "bool": (_bool_equals, False),
    "ipaddress": (_ip_in, False),
    "notipaddress": (_ip_in, True),
}


def conditions_match(condition: Mapping[str, Any] | None,
                     context: Mapping[str, Any] | None) -> bool:
    """Whether a statement's Condition block holds for the request context.

    All operators and all keys must hold (AND); any of a key's values may match (OR).
    A key missing from the context fails a positive operator and satisfies a negated
    one; ``...IfExists`` makes a missing key satisfy the operator.
    """
    if not condition:
        return True
    lowered = {str(k).lower(): v for k, v in (context or {}).items()}
    for operator, tests in condition.items():
        name = operator.lower()
        if_exists = name.endswith("ifexists")
        if if_exists:
            name = name[: -len("ifexists")]
        if ":" in name:
            raise ValueError(f"unsupported condition set operator: {operator}")
        for key, expected in dict(tests).items():
            key_l = key.lower()
            values = _as_list(expected)
            if name == "null":
                is_null = key_l not in lowered or lowered[key_l] is None
                if not any(_bool_equals(v, is_null) for v in values):
                    return False
                continue
            if name not in _OPERATORS:
                raise ValueError(f"unsupported condition operator: {operator}")
            matcher, negated = _OPERATORS[name]
            actual = lowered.get(key_l)
            if actual is None:
                if if_exists or negated:
                    continue
                return False
            actual_values = _as_list(actual)
            hit = any(matcher(str(v), str(a)) for v in values for a in actual_values)
            if hit == negated:
                return False
    return True


# --- identity policies --------------------------------------------------------------

def evaluate_identity(policies: Iterable[Any], action: str, resource: str,
                      context: Mapping[str, Any] | None = None) -> Decision:
    """Evaluate identity policies (documents or their JSON) for one action on one ARN."""
    return _decide(
        (index, statement)
        for document in policies
        for found, variables in [_versioned_statements(document)]
        for index, statement in enumerate(found)
        if _matches_action(statement, action)
        and _without_variables(statement, variables)
        and _matches_resource(statement, resource, required=True)
        and conditions_match(statement.get("Condition"), context))


def _decide(matching: Iterable[tuple[int, dict]]) -> Decision:
    """An explicit deny wins; else the first allow; with neither, an implicit deny."""
    allow: str | None = None
    for index, statement in matching:
        effect = statement.get("Effect")
        if effect == "Deny":
            return Decision(EXPLICIT_DENY, _statement_id(statement, index))
        if effect == "Allow" and allow is None:
            allow = _statement_id(statement, index)
    return Decision(ALLOW, allow) if allow is not None else Decision(IMPLICIT_DENY)


IDENTITY_BASED = "identity-based"
SESSION = "session"
_UNREADABLE = (ValueError, TypeError, AttributeError)


def identity_decision(policies: Iterable[Any], action: str, resource: str,
                      context: Mapping[str, Any] | None, principal_arn: str, *,
                      session: Iterable[Any] | None = None,
                      log: logging.Logger = log) -> tuple[Decision, str]:
    """The identity policies' decision, then the session policy's if there is one (both
    must allow), with the kind of policy that decided (IDENTITY_BASED or SESSION, as the
    AccessDenied message names it). Fails closed: a policy the evaluator cannot read (a
    condition operator or a policy variable it does not model, a statement of the wrong
    shape) refuses, whatever the other policies say, since what it would deny cannot be
    known; ``log`` (the caller's) says which principal and why."""
    try:
        decision = evaluate_identity(policies, action, resource, context)
        if decision.allowed and session is not None:
            limited = evaluate_identity(session, action, resource, context)
            if not limited.allowed:
                return limited, SESSION
        return decision, IDENTITY_BASED
    except _UNREADABLE as err:
        log.warning("%s is refused %s on %s: one of its policies cannot be evaluated here "
                    "(%s: %s)", principal_arn, action, resource, type(err).__name__, err)
        return Decision(IMPLICIT_DENY), IDENTITY_BASED


def is_allowed(policies: Iterable[Any], action: str, resource: str,
               context: Mapping[str, Any] | None = None) -> bool:
    return evaluate_identity(policies, action, resource, context).allowed


# --- resource policies --------------------------------------------------------------

def _principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        for kind, values in principal.items():
            for value in _as_list(values):
                if value == "*" and kind in ("AWS", "*"):
                    return True
                if kind == "Service" and str(value).lower() == service.lower():
                    return True
    return False


def _matches_principal(statement: dict, service: str) -> bool:
    if "Principal" in statement:
        return _principal_matches(statement["Principal"], service)
    if "NotPrincipal" in statement:
        return not _principal_matches(statement["NotPrincipal"], service)
    return False


def evaluate_resource_policy(policy: Any, *, principal_service: str, action: str,
                             resource: str, source_arn: str | None = None,
                             source_account: str | None = None,
                             context: Mapping[str, Any] | None = None) -> Decision:
    """Evaluate a resource policy (e.g. ``lambda.get_policy()["Policy"]``) for a call by
    an AWS service principal. ``policy=None`` (no policy at all) is an implicit deny."""
    if policy is None:
        return Decision(IMPLICIT_DENY)
    request_context = {"aws:PrincipalServiceName": principal_service}
    if source_arn is not None:
        request_context["aws:SourceArn"] = source_arn
    if source_account is not None:
        request_context["aws:SourceAccount"] = source_account
    request_context.update(context or {})
    return _decide(
        (index, statement)
        for index, statement in enumerate(statements(policy))
        if _matches_principal(statement, principal_service)
        and _matches_action(statement, action)
        and _matches_resource(statement, resource, required=False)
        and conditions_match(statement.get("Condition"), request_context))


def lambda_invoke_allowed(policy: Any, function_arn: str, source_arn: str, *,
                          principal_service: str = "apigateway.amazonaws.com",
                          source_account: str | None = None) -> Decision:
    """May ``principal_service`` call lambda:InvokeFunction on this function from
    ``source_arn``? (``policy``: the Policy JSON of ``lambda.get_policy``, or None.)"""
    return evaluate_resource_policy(
        policy, principal_service=principal_service, action="lambda:InvokeFunction",
        resource=function_arn, source_arn=source_arn, source_account=source_account)


# --- API calls -> (action, resource) --------------------------------------------------

def _partition(region: str) -> str:
    """What a region's ARNs start with (arn:{partition}:), from botocore's partition data."""
    found = partition_of(region)
    return found.name if found is not None else "aws"


def dynamodb_table_arn(table: str, region: str, account: str) -> str:
    if table.startswith("arn:"):
        return table  # DynamoDB also accepts a table ARN as TableName
    return f"arn:{_partition(region)}:dynamodb:{region}:{account}:table/{table}"


def log_stream_arn(group: str, stream: str, region: str, account: str) -> str:
    return (f"arn:{_partition(region)}:logs:{region}:{account}:log-group:{group}"
            f":log-stream:{stream}")


def log_group_arn(group: str, region: str, account: str) -> str:
    return f"arn:{_partition(region)}:logs:{region}:{account}:log-group:{group}"


_TRANSACT_WRITE_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def map_dynamodb_call(operation: str, params: Mapping[str, Any], region: str,
                      account: str) -> list[tuple[str, str]]:
    """The (action, resource) pairs IAM checks for one DynamoDB API call."""
    action = f"dynamodb:{operation}"
    if operation in ("BatchGetItem", "BatchWriteItem"):
        tables = list((params.get("RequestItems") or {}).keys())
        return [(action, dynamodb_table_arn(t, region, account)) for t in tables] or [(action, "*")]
    if operation == "TransactGetItems":
        pairs = []
        for item in params.get("TransactItems") or []:
            table = (item.get("Get") or {}).get("TableName")
            if table:
                pairs.append(("dynamodb:GetItem", dynamodb_table_arn(table, region, account)))
        return pairs or [(action, "*")]
    if operation == "TransactWriteItems":
        pairs = []
        for item in params.get("TransactItems") or []:
            for kind, item_action in _TRANSACT_WRITE_ACTIONS.items():
                table = (item.get(kind) or {}).get("TableName")
                if table:
                    pairs.append((item_action, dynamodb_table_arn(table, region, account)))
        return pairs or [(action, "*")]
    table = params.get("TableName")
    if table:
        arn = dynamodb_table_arn(table, region, account)
        index = params.get("IndexName")
        if index and operation in ("Query", "Scan"):
            arn = f"{arn}/index/{index}"
        return [(action, arn)]
    if params.get("ResourceArn"):
        return [(action, params["ResourceArn"])]
    return [(action, "*")]


def map_logs_call(operation: str, params: Mapping[str, Any], region: str,
                  account: str) -> list[tuple[str, str]]:
    """The (action, resource) pairs IAM checks for one CloudWatch Logs API call."""
    action = f"logs:{operation}"
    group = params.get("logGroupName")
    stream = params.get("logStreamName")
    if group and stream is not None:
        return [(action, log_stream_arn(group, stream, region, account))]
    if group:
        return [(action, log_group_arn(group, region, account))]
    return [(action, "*")]


# Lambda operations whose IAM action has another name (Service Authorization Reference,
# AWS Lambda: "API operations" table).
_LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"}


def lambda_function_arn(function: str, qualifier: str | None, region: str,
                        account: str) -> str:
    """The ARN IAM authorizes a call on a function against: its name, partial ARN
    (``ACCOUNT:function:NAME``) or ARN, with the qualifier it carries or is given."""
    if function.startswith("arn:"):
        arn = function
    else:
        parts = function.split(":")
        if len(parts) >= 3 and parts[1] == "function":
            account, function = parts[0], ":".join(parts[2:])
        arn = f"arn:{_partition(region)}:lambda:{region}:{account}:function:{function}"
    if qualifier and arn.count(":") == 6:  # not qualified in the name already
        arn = f"{arn}:{qualifier}"
    return arn


def map_lambda_call(operation: str, params: Mapping[str, Any], region: str,
                    account: str) -> list[tuple[str, str]]:
    """The (action, resource) pairs IAM checks for one Lambda API call."""
    action = f"lambda:{_LAMBDA_ACTIONS.get(operation, operation)}"
    function = params.get("FunctionName")
    if isinstance(function, str) and function:
        return [(action, lambda_function_arn(function, params.get("Qualifier"), region,
                                             account))]
    if isinstance(params.get("Resource"), str):  # the tagging operations
        return [(action, params["Resource"])]
    return [(action, "*")]


# The IAM entity a call names, by parameter, and its ARN's resource type.
_IAM_ENTITIES = (("UserName", "user"), ("RoleName", "role"), ("GroupName", "group"),
                 ("InstanceProfileName", "instance-profile"))


def map_iam_call(operation: str, params: Mapping[str, Any], region: str,
                 account: str) -> list[tuple[str, str]]:
    """The (action, resource) pairs IAM checks for one IAM API call: the user, role, group
    or instance profile it names (AttachUserPolicy: the user, not the policy), else the
    policy."""
    action = f"iam:{operation}"
    prefix = f"arn:{_partition(region)}:iam::{account}"
    path = params.get("Path") if operation.startswith("Create") else None
    path = path if isinstance(path, str) and path.startswith("/") else "/"
    for parameter, kind in _IAM_ENTITIES:
        name = params.get(parameter)
        if isinstance(name, str) and name:
            return [(action, f"{prefix}:{kind}{path}{name}")]
    if isinstance(params.get("PolicyArn"), str):
        return [(action, params["PolicyArn"])]
    if operation == "CreatePolicy" and isinstance(params.get("PolicyName"), str):
        return [(action, f"{prefix}:policy{path}{params['PolicyName']}")]
    return [(action, "*")]


def map_sts_call(operation: str, params: Mapping[str, Any], region: str,
                 account: str) -> list[tuple[str, str]]:
    if operation == "AssumeRole" and isinstance(params.get("RoleArn"), str):
        return [("sts:AssumeRole", params["RoleArn"])]
    return [(f"sts:{operation}", "*")]


# S3 operations whose IAM action has another name (the S3 API reference's "Permissions"
# of each operation: ListObjectsV2 "must have permission to perform the s3:ListBucket
# action", HeadObject needs s3:GetObject...).
_S3_ACTIONS = {"ListObjects": "ListBucket", "ListObjectsV2": "ListBucket",
               "HeadBucket": "ListBucket", "HeadObject": "GetObject",
               "ListBuckets": "ListAllMyBuckets", "DeleteObjects": "DeleteObject",
               "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
               "CompleteMultipartUpload": "PutObject", "ListObjectVersions": "ListBucketVersions"}


def map_s3_call(operation: str, params: Mapping[str, Any], region: str,
                account: str) -> list[tuple[str, str]]:
    action = f"s3:{_S3_ACTIONS.get(operation, operation)}"
    bucket, key = params.get("Bucket"), params.get("Key")
    if not isinstance(bucket, str) or not bucket:
        return [(action, "*")]
    arn = f"arn:{_partition(region)}:s3:::{bucket}"
    return [(action, f"{arn}/{key}" if isinstance(key, str) and key else arn)]


# IAM action prefixes that differ from the botocore service's endpoint prefix.
_IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "runtime.sagemaker": "sagemaker"}
# Calls IAM never denies.
_ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}


def iam_prefix(endpoint_prefix: str) -> str:
    return _IAM_PREFIX.get(endpoint_prefix, endpoint_prefix)


_MAPPERS = {"dynamodb": map_dynamodb_call, "logs": map_logs_call, "lambda": map_lambda_call,
            "iam": map_iam_call, "sts": map_sts_call, "s3": map_s3_call}


def map_call(service: str, operation: str, params: Mapping[str, Any] | None, region: str,
             account: str, *, method: str | None = None,
             path: str | None = None) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs one AWS API call is authorized against.

    ``service`` is the IAM prefix (``dynamodb``, ``logs``, ...), ``operation`` the API
    operation name (``GetItem``). API Gateway's management API is authorized by HTTP
    method on the request's path (``apigateway:PATCH`` on
    ``arn:aws:apigateway:REGION::/restapis/ID/stages/NAME``), so it needs ``method`` and
    ``path``. Services without a specific mapping check ``{service}:{operation}`` on
    ``*``, which only a policy granting ``*`` resources allows.
    """
    params = params or {}
    mapper = _MAPPERS.get(service)
    if mapper is not None:
        return mapper(operation, params, region, account)
    if service == "apigateway" and method and path:
        return [(f"apigateway:{method.upper()}",
                 f"arn:{_partition(region)}:apigateway:{region}::{path}")]
    return [(f"{service}:{operation}", "*")]


def always_allowed(action: str) -> bool:
    return action in _ALWAYS_ALLOWED


def access_denied_message(principal_arn: str, action: str, resource: str,
                          decision: Decision, policy_type: str = IDENTITY_BASED) -> str:
    """AWS's wording of an AccessDenied by an identity-based (or ``session``) policy."""
    reason = (f"with an explicit deny in an {policy_type} policy"
              if decision.result == EXPLICIT_DENY
              else f"because no {policy_type} policy allows the {action} action")
    return (f"User: {principal_arn} is not authorized to perform: {action} "
            f"on resource: {resource} {reason}")


def assumed_role_arn(role_arn: str, session_name: str) -> str:
    """``arn:aws:iam::ACCOUNT:role/path/NAME`` -> ``arn:aws:sts::ACCOUNT:assumed-role/NAME/session``."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("role/"):
        raise ValueError(f"not a role ARN: {role_arn!r}")
    name = parts[5].rsplit("/", 1)[-1]
    return f"arn:{parts[1]}:sts::{parts[4]}:assumed-role/{name}/{session_name}"


__all__ = [
    "ALLOW", "EXPLICIT_DENY", "IMPLICIT_DENY", "Decision", "wildcard_match",
    "action_matches", "resource_matches", "arn_like", "statements", "conditions_match",
    "evaluate_identity", "identity_decision", "IDENTITY_BASED", "SESSION", "is_allowed", "evaluate_resource_policy", "lambda_invoke_allowed",
    "dynamodb_table_arn", "log_stream_arn", "log_group_arn", "map_dynamodb_call",
    "map_logs_call", "lambda_function_arn", "map_lambda_call", "map_iam_call", "map_sts_call",
    "map_s3_call", "map_call", "iam_prefix", "always_allowed", "access_denied_message",
    "assumed_role_arn",
]
