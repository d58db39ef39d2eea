"""IAM evaluation: pure functions, no emulator."""
from __future__ import annotations

import json
import logging

import pytest

from localcloud import policy as iam_eval
from localcloud.policy import (
    ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, evaluate_identity, lambda_invoke_allowed, map_call,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/dev-User"
OTHER_TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/User"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:dev-user-service"


def allow(action, resource):
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


# --- identity policies ----------------------------------------------------------------

def test_allow_string_action_and_resource():
    policy = allow("dynamodb:GetItem", TABLE)
    assert evaluate_identity([policy], "dynamodb:GetItem", TABLE).result == ALLOW
    assert evaluate_identity([policy], "dynamodb:PutItem", TABLE).result == IMPLICIT_DENY
    assert evaluate_identity([policy], "dynamodb:GetItem", OTHER_TABLE).result == IMPLICIT_DENY


def test_action_list_and_case_insensitive_action():
    policy = allow(["dynamodb:GetItem", "dynamodb:PutItem"], [TABLE])
    assert evaluate_identity([policy], "DynamoDB:putitem", TABLE).allowed
    assert not evaluate_identity([policy], "dynamodb:DeleteItem", TABLE).allowed


def test_resource_arn_is_case_sensitive():
    policy = allow("dynamodb:GetItem", TABLE)
    assert not evaluate_identity([policy], "dynamodb:GetItem", TABLE.replace("User", "user")).allowed


@pytest.mark.parametrize("pattern,action,expected", [
    ("dynamodb:*", "dynamodb:Scan", True),
    ("dynamodb:Get*", "dynamodb:GetItem", True),
    ("dynamodb:Get*", "dynamodb:PutItem", False),
    ("dynamodb:?etItem", "dynamodb:GetItem", True),
    ("dynamodb:?etItem", "dynamodb:GGetItem", False),
    ("*", "logs:PutLogEvents", True),
    ("logs:*Log*", "logs:PutLogEvents", True),
])
def test_action_wildcards(pattern, action, expected):
    assert evaluate_identity([allow(pattern, "*")], action, TABLE).allowed is expected


@pytest.mark.parametrize("pattern,resource,expected", [
    ("arn:aws:dynamodb:us-east-1:123456789012:table/dev-*", TABLE, True),
    ("arn:aws:dynamodb:us-east-1:123456789012:table/dev-*", OTHER_TABLE, False),
    ("arn:aws:dynamodb:*:*:table/User", OTHER_TABLE, True),
    ("arn:aws:dynamodb:us-east-1:123456789012:table/dev-Use?", TABLE, True),
    ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:log-stream:*",
     "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:log-stream:2026/01/01/[$LATEST]ab",
     True),
    ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:log-stream:*",
     "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/g:log-stream:x", False),
])
def test_resource_wildcards(pattern, resource, expected):
    assert evaluate_identity([allow("*", pattern)], "dynamodb:GetItem", resource).allowed is expected


def test_explicit_deny_wins_over_allow_in_any_document():
    allow_all = allow("dynamodb:*", "*")
    deny = {"Statement": [{"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE}]}
    decision = evaluate_identity([allow_all, deny], "dynamodb:DeleteItem", TABLE)
    assert decision.result == EXPLICIT_DENY and not decision
    assert evaluate_identity([allow_all, deny], "dynamodb:GetItem", TABLE).allowed


def test_default_deny():
    assert evaluate_identity([], "dynamodb:GetItem", TABLE).result == IMPLICIT_DENY
    empty = {"Version": "2012-10-17", "Statement": []}
    assert evaluate_identity([empty], "dynamodb:GetItem", TABLE).result == IMPLICIT_DENY


def test_not_action_and_not_resource():
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "dynamodb:Delete*",
                                 "Resource": "*"}]}
    assert evaluate_identity([not_action], "dynamodb:GetItem", TABLE).allowed
    assert not evaluate_identity([not_action], "dynamodb:DeleteItem", TABLE).allowed
    not_resource = {"Statement": [{"Effect": "Allow", "Action": "dynamodb:*",
                                   "NotResource": OTHER_TABLE}]}
    assert evaluate_identity([not_resource], "dynamodb:GetItem", TABLE).allowed
    assert not evaluate_identity([not_resource], "dynamodb:GetItem", OTHER_TABLE).allowed
    deny_not_action = {"Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "NotAction": "dynamodb:GetItem", "Resource": "*"}]}
    assert evaluate_identity([deny_not_action], "dynamodb:GetItem", TABLE).allowed
    assert evaluate_identity([deny_not_action], "dynamodb:Scan", TABLE).result == EXPLICIT_DENY


def test_statement_as_single_object_and_documents_as_json_text():
    single = json.dumps({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE}})
    assert evaluate_identity([single], "dynamodb:GetItem", TABLE).allowed


def test_identity_statement_without_resource_matches_nothing():
    no_resource = {"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem"}]}
    assert not evaluate_identity([no_resource], "dynamodb:GetItem", TABLE).allowed


def test_decision_names_the_deciding_statement():
    policy = {"Statement": [{"Sid": "Reads", "Effect": "Allow", "Action": "dynamodb:GetItem",
                             "Resource": TABLE}]}
    assert evaluate_identity([policy], "dynamodb:GetItem", TABLE).statement == "Reads"


def test_the_infra_role_policy_grants_exactly_its_actions_on_its_resources():
    from infra.policies import function_role_policy

    log_group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/dev-user-service"
    policy = function_role_policy(TABLE, log_group)
    # The calls function/user_service/store.py makes.
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"):
        assert evaluate_identity([policy], action, TABLE).allowed
        assert not evaluate_identity([policy], action, OTHER_TABLE).allowed
    assert not evaluate_identity([policy], "dynamodb:UpdateItem", TABLE).allowed
    # X-Ray only for a traced function (Lambda sends its segments with the role).
    assert not evaluate_identity([policy], "xray:PutTraceSegments", "*").allowed
    traced = function_role_policy(TABLE, log_group, tracing=True)
    assert evaluate_identity([traced], "xray:PutTraceSegments", "*").allowed
    stream = iam_eval.log_stream_arn("/aws/lambda/dev-user-service", "2026/01/01/[$LATEST]ab",
                                     REGION, ACCOUNT)
    assert evaluate_identity([policy], "logs:PutLogEvents", stream).allowed
    other = iam_eval.log_stream_arn("/aws/lambda/user-service", "s", REGION, ACCOUNT)
    assert not evaluate_identity([policy], "logs:PutLogEvents", other).allowed


# --- conditions -----------------------------------------------------------------------

def test_conditions_string_and_arn_operators():
    ctx = {"aws:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc/dev/GET/users"}
    assert iam_eval.conditions_match({"StringEquals": {"AWS:SourceArn": ctx["aws:SourceArn"]}}, ctx)
    assert not iam_eval.conditions_match({"StringEquals": {"aws:sourcearn": "x"}}, ctx)
    assert iam_eval.conditions_match({"ArnLike": {"aws:SourceArn": "arn:aws:execute-api:*:*:abc/dev/*"}}, ctx)
    assert not iam_eval.conditions_match({"ArnLike": {"aws:SourceArn": "arn:aws:execute-api:*:*:abc/test/*"}}, ctx)
    assert iam_eval.conditions_match({"ArnEquals": {"aws:SourceArn": ctx["aws:SourceArn"]}}, ctx)
    assert iam_eval.conditions_match({"StringLike": {"aws:SourceArn": "*/dev/*"}}, ctx)
    assert iam_eval.conditions_match({"StringNotEquals": {"aws:SourceArn": "x"}}, ctx)
    # any of a key's values may match
    assert iam_eval.conditions_match({"ArnLike": {"aws:SourceArn": ["nope", "arn:aws:execute-api:*"]}}, ctx)


def test_conditions_missing_keys_and_if_exists():
    assert not iam_eval.conditions_match({"StringEquals": {"aws:SourceAccount": "1"}}, {})
    assert iam_eval.conditions_match({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}, {})
    assert iam_eval.conditions_match({"StringNotEquals": {"aws:SourceAccount": "1"}}, {})
    assert iam_eval.conditions_match({"Null": {"aws:SourceAccount": "true"}}, {})
    assert not iam_eval.conditions_match({"Null": {"aws:SourceAccount": "false"}}, {})


def test_unsupported_condition_operator_is_an_error_not_a_silent_pass():
    with pytest.raises(ValueError, match="unsupported condition operator"):
        iam_eval.conditions_match({"NumericLessThan": {"aws:x": "1"}}, {"aws:x": "0"})


USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
ALLOW_ALL = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}


def with_deny(version, **element):
    """ALLOW_ALL and a Deny of dynamodb:GetItem that names a policy variable somewhere."""
    statement = {"Sid": "NoOwnTable", "Effect": "Deny", "Action": "dynamodb:GetItem",
                 **element}
    document = {"Statement": [statement]}
    if version is not None:
        document["Version"] = version
    return [ALLOW_ALL, document]


VARIABLE_TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/${{aws:username}}"


@pytest.mark.parametrize("element", [
    {"Resource": VARIABLE_TABLE},
    {"Resource": ["arn:aws:s3:::x", VARIABLE_TABLE]},
    {"NotResource": VARIABLE_TABLE},
    {"Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalArn": "${aws:PrincipalArn}"}}},
    {"Resource": "*", "Condition": {"StringLike": {"aws:username": ["bob", "${aws:username}"]}}},
    {"Resource": "*", "Condition": {"StringEquals": {"aws:username": "${*}"}}},
], ids=["resource", "resource-list", "not-resource", "condition", "condition-list",
        "escape"])
def test_a_policy_variable_in_a_2012_policy_fails_closed(element):
    # Read as text, the Deny would never apply and the Allow would let alice in.
    with pytest.raises(ValueError, match="policy variables are not modelled"):
        evaluate_identity(with_deny("2012-10-17", **element), "dynamodb:GetItem", TABLE,
                          {"aws:username": "alice", "aws:PrincipalArn": USER_ARN})


@pytest.mark.parametrize("version", ["2008-10-17", None])
def test_in_a_2008_policy_a_variable_is_literal_text(version):
    policies = with_deny(version, Resource=VARIABLE_TABLE)
    assert evaluate_identity(policies, "dynamodb:GetItem", TABLE).result == ALLOW
    literal = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/${{aws:username}}"
    assert evaluate_identity(policies, "dynamodb:GetItem", literal).result == EXPLICIT_DENY


def test_a_variable_in_a_statement_for_other_actions_decides_nothing():
    policies = with_deny("2012-10-17", Resource=VARIABLE_TABLE)
    assert evaluate_identity(policies, "dynamodb:PutItem", TABLE).result == ALLOW
    # In the Action element a ${ is no variable: the statement stands as written.
    assert evaluate_identity([allow("dynamodb:${x}", TABLE)], "dynamodb:GetItem",
                             TABLE).result == IMPLICIT_DENY


ROLE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"


def test_the_shared_decision_takes_the_session_policy_and_says_which_decided():
    both = iam_eval.identity_decision([ALLOW_ALL], "dynamodb:GetItem", TABLE, {},
                                      ROLE_SESSION, session=[allow("dynamodb:GetItem", TABLE)])
    assert (both[0].result, both[1]) == (ALLOW, "identity-based")
    limited = iam_eval.identity_decision([ALLOW_ALL], "dynamodb:PutItem", TABLE, {},
                                         ROLE_SESSION, session=[allow("dynamodb:GetItem", TABLE)])
    assert (limited[0].result, limited[1]) == (IMPLICIT_DENY, "session")
    alone = iam_eval.identity_decision([allow("dynamodb:GetItem", TABLE)], "dynamodb:PutItem",
                                       TABLE, {}, ROLE_SESSION)
    assert (alone[0].result, alone[1]) == (IMPLICIT_DENY, "identity-based")


@pytest.mark.parametrize("where", ["identity", "session"])
def test_the_shared_decision_refuses_what_it_cannot_read_and_logs_who(where, caplog):
    unreadable = with_deny("2012-10-17", Resource=VARIABLE_TABLE)
    policies, session = ((unreadable, None) if where == "identity"
                         else ([ALLOW_ALL], unreadable))
    logger = logging.getLogger("tests.shared-decision")
    with caplog.at_level(logging.WARNING, logger="tests.shared-decision"):
        decision, kind = iam_eval.identity_decision(policies, "dynamodb:GetItem", TABLE, {},
                                                    ROLE_SESSION, session=session, log=logger)
    assert (decision.result, kind) == (IMPLICIT_DENY, "identity-based")
    assert [(r.name, r.getMessage()) for r in caplog.records] == [(
        "tests.shared-decision",
        f"{ROLE_SESSION} is refused dynamodb:GetItem on {TABLE}: one of its policies cannot "
        "be evaluated here (ValueError: policy variables are not modelled: "
        f"'{VARIABLE_TABLE}' in statement NoOwnTable)")]


# --- Lambda resource policies -----------------------------------------------------------

def lambda_policy(*source_arns, condition_operator="ArnLike", key="AWS:SourceArn",
                  principal=None, action="lambda:InvokeFunction", resource=FUNCTION):
    return json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": [
        {"Sid": f"s{i}", "Effect": "Allow",
         "Principal": principal or {"Service": "apigateway.amazonaws.com"},
         "Action": action, "Resource": resource,
         "Condition": {condition_operator: {key: arn}}}
        for i, arn in enumerate(source_arns)]})


SOURCE = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/users"


def test_lambda_policy_as_moto_returns_it():
    policy = lambda_policy(SOURCE)
    assert lambda_invoke_allowed(policy, FUNCTION, SOURCE).allowed
    assert not lambda_invoke_allowed(policy, FUNCTION, SOURCE.replace("/dev/", "/test/")).allowed
    assert not lambda_invoke_allowed(policy, FUNCTION, SOURCE + "/abc").allowed


def test_lambda_policy_wildcard_source_and_other_operators():
    wildcard = lambda_policy("arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/users/*")
    assert lambda_invoke_allowed(wildcard, FUNCTION, SOURCE + "/u-1").allowed
    assert not lambda_invoke_allowed(wildcard, FUNCTION, SOURCE.replace("/dev/", "/prod/") + "/u").allowed
    for operator in ("ArnEquals", "StringEquals"):
        assert lambda_invoke_allowed(lambda_policy(SOURCE, condition_operator=operator),
                                     FUNCTION, SOURCE).allowed
    assert lambda_invoke_allowed(lambda_policy(SOURCE, key="aws:sourcearn"), FUNCTION, SOURCE).allowed


def test_lambda_policy_wrong_principal_action_or_function_is_denied():
    assert not lambda_invoke_allowed(
        lambda_policy(SOURCE, principal={"Service": "events.amazonaws.com"}), FUNCTION, SOURCE).allowed
    assert not lambda_invoke_allowed(
        lambda_policy(SOURCE, action="lambda:GetFunction"), FUNCTION, SOURCE).allowed
    assert lambda_invoke_allowed(lambda_policy(SOURCE, action="lambda:*"), FUNCTION, SOURCE).allowed
    other = FUNCTION.replace("dev-user-service", "user-service")
    assert not lambda_invoke_allowed(lambda_policy(SOURCE), other, SOURCE).allowed


def test_no_policy_is_denied_and_explicit_deny_wins():
    assert lambda_invoke_allowed(None, FUNCTION, SOURCE).result == IMPLICIT_DENY
    policy = json.loads(lambda_policy(SOURCE))
    policy["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "lambda:*",
                                "Resource": FUNCTION})
    assert lambda_invoke_allowed(policy, FUNCTION, SOURCE).result == EXPLICIT_DENY


def test_source_account_condition():
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                             "Action": "lambda:InvokeFunction", "Resource": FUNCTION,
                             "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}}]}
    assert lambda_invoke_allowed(policy, FUNCTION, SOURCE, source_account=ACCOUNT).allowed
    assert not lambda_invoke_allowed(policy, FUNCTION, SOURCE, source_account="999999999999").allowed


# --- API calls to (action, resource) ------------------------------------------------------

def test_dynamodb_calls_map_to_table_arns():
    assert map_call("dynamodb", "GetItem", {"TableName": "dev-User"}, REGION, ACCOUNT) == [
        ("dynamodb:GetItem", TABLE)]
    assert map_call("dynamodb", "Query", {"TableName": "dev-User", "IndexName": "byName"},
                    REGION, ACCOUNT) == [("dynamodb:Query", TABLE + "/index/byName")]
    assert map_call("dynamodb", "PutItem", {"TableName": TABLE}, REGION, ACCOUNT) == [
        ("dynamodb:PutItem", TABLE)]
    assert map_call("dynamodb", "ListTables", {}, REGION, ACCOUNT) == [("dynamodb:ListTables", "*")]


def test_dynamodb_batch_and_transact_calls_map_to_every_table():
    batch = map_call("dynamodb", "BatchWriteItem", {"RequestItems": {"dev-User": [], "User": []}},
                     REGION, ACCOUNT)
    assert batch == [("dynamodb:BatchWriteItem", TABLE), ("dynamodb:BatchWriteItem", OTHER_TABLE)]
    transact = map_call("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "dev-User"}}, {"Delete": {"TableName": "User"}},
        {"ConditionCheck": {"TableName": "dev-User"}}]}, REGION, ACCOUNT)
    assert transact == [("dynamodb:PutItem", TABLE), ("dynamodb:DeleteItem", OTHER_TABLE),
                        ("dynamodb:ConditionCheckItem", TABLE)]


def test_logs_calls_map_to_log_stream_arns():
    expected = ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:log-stream:"
                "2026/01/01/[$LATEST]ab")
    for operation in ("CreateLogStream", "PutLogEvents"):
        assert map_call("logs", operation, {"logGroupName": "/aws/lambda/f",
                                            "logStreamName": "2026/01/01/[$LATEST]ab"},
                        REGION, ACCOUNT) == [(f"logs:{operation}", expected)]


def test_other_services_map_to_star():
    assert map_call("sqs", "ListQueues", {}, REGION, ACCOUNT) == [("sqs:ListQueues", "*")]
    assert map_call("s3", "ListBuckets", {}, REGION, ACCOUNT) == [("s3:ListAllMyBuckets", "*")]


def test_lambda_calls_map_to_the_function_and_qualifier_they_name():
    fn = "arn:aws:lambda:us-east-1:123456789012:function:user-service"
    for params, resource in [
            ({"FunctionName": "user-service"}, fn),
            ({"FunctionName": "user-service", "Qualifier": "live"}, f"{fn}:live"),
            ({"FunctionName": "user-service:live"}, f"{fn}:live"),
            ({"FunctionName": "123456789012:function:user-service"}, fn),
            ({"FunctionName": f"{fn}:3", "Qualifier": "3"}, f"{fn}:3"),
            ({}, "*")]:
        assert map_call("lambda", "GetFunction", params, REGION, ACCOUNT) == [
            ("lambda:GetFunction", resource)], params
    assert map_call("lambda", "Invoke", {"FunctionName": "user-service"}, REGION, ACCOUNT) == [
        ("lambda:InvokeFunction", fn)]


def test_iam_calls_map_to_the_entity_they_act_on():
    # AttachUserPolicy is authorized on the user it attaches to, not on the policy.
    assert map_call("iam", "AttachUserPolicy", {
        "UserName": "localcloud-test-caller",
        "PolicyArn": "arn:aws:iam::123456789012:policy/prod-invoke"}, REGION, ACCOUNT) == [
        ("iam:AttachUserPolicy", "arn:aws:iam::123456789012:user/localcloud-test-caller")]
    assert map_call("iam", "PutRolePolicy", {"RoleName": "r"}, REGION, ACCOUNT) == [
        ("iam:PutRolePolicy", "arn:aws:iam::123456789012:role/r")]
    assert map_call("iam", "CreateRole", {"RoleName": "r", "Path": "/svc/"}, REGION,
                    ACCOUNT) == [("iam:CreateRole", "arn:aws:iam::123456789012:role/svc/r")]
    assert map_call("iam", "GetPolicy", {"PolicyArn": "arn:aws:iam::aws:policy/X"}, REGION,
                    ACCOUNT) == [("iam:GetPolicy", "arn:aws:iam::aws:policy/X")]
    assert map_call("iam", "ListUsers", {}, REGION, ACCOUNT) == [("iam:ListUsers", "*")]
    assert map_call("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::123456789012:role/r"},
                    REGION, ACCOUNT) == [("sts:AssumeRole", "arn:aws:iam::123456789012:role/r")]


def test_s3_and_api_gateway_calls_map_as_iam_names_them():
    assert map_call("s3", "ListObjectsV2", {"Bucket": "b"}, REGION, ACCOUNT) == [
        ("s3:ListBucket", "arn:aws:s3:::b")]
    assert map_call("s3", "PutObject", {"Bucket": "b", "Key": "archives/x.zip"}, REGION,
                    ACCOUNT) == [("s3:PutObject", "arn:aws:s3:::b/archives/x.zip")]
    # API Gateway's management API: the HTTP method on the resource's path.
    assert map_call("apigateway", "UpdateStage", {}, REGION, ACCOUNT, method="PATCH",
                    path="/restapis/a1/stages/prod") == [
        ("apigateway:PATCH", "arn:aws:apigateway:us-east-1::/restapis/a1/stages/prod")]


def test_arns_take_the_regions_partition():
    assert map_call("dynamodb", "Scan", {"TableName": "User"}, "us-gov-west-1", ACCOUNT) == [
        ("dynamodb:Scan", "arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/User")]


def test_access_denied_message_reads_like_aws():
    principal = iam_eval.assumed_role_arn("arn:aws:iam::123456789012:role/svc/dev-role",
                                          "dev-user-service")
    assert principal == "arn:aws:sts::123456789012:assumed-role/dev-role/dev-user-service"
    message = iam_eval.access_denied_message(principal, "dynamodb:GetItem", TABLE,
                                             iam_eval.Decision(IMPLICIT_DENY))
    assert message == (
        "User: arn:aws:sts::123456789012:assumed-role/dev-role/dev-user-service is not authorized "
        f"to perform: dynamodb:GetItem on resource: {TABLE} because no identity-based policy "
        "allows the dynamodb:GetItem action")
    explicit = iam_eval.access_denied_message(principal, "dynamodb:GetItem", TABLE,
                                              iam_eval.Decision(EXPLICIT_DENY))
    assert explicit.endswith("with an explicit deny in an identity-based policy")


# --- execute-api:Invoke (a stage's invoke policy) ----------------------------------------

API = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3"


def stage_invoke_policy(stage, effect="Allow"):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Action": "execute-api:Invoke", "Resource": f"{API}/{stage}/*/*"}]}


def test_invoke_policy_allows_its_own_stage_only():
    policy = stage_invoke_policy("dev")
    for arn in (f"{API}/dev/GET/users", f"{API}/dev/PUT/users/u-1", f"{API}/dev/DELETE/"):
        assert evaluate_identity([policy], "execute-api:Invoke", arn).result == ALLOW, arn
    for arn in (f"{API}/test/GET/users", f"{API}/prod/GET/users", f"{API}/devx/GET/users",
                f"{API}/dev", "arn:aws:execute-api:us-east-1:123456789012:other/dev/GET/users"):
        assert evaluate_identity([policy], "execute-api:Invoke", arn).result == IMPLICIT_DENY, arn
    assert not evaluate_identity([policy], "execute-api:ManageConnections",
                                 f"{API}/dev/GET/users").allowed


def test_invoke_policy_explicit_deny_wins_over_any_allow():
    allow_all = {"Statement": [{"Effect": "Allow", "Action": "execute-api:*",
                                "Resource": f"{API}/*"}]}
    deny_prod = stage_invoke_policy("prod", effect="Deny")
    assert evaluate_identity([allow_all, deny_prod], "execute-api:Invoke",
                             f"{API}/dev/GET/users").allowed
    assert evaluate_identity([allow_all, deny_prod], "execute-api:Invoke",
                             f"{API}/prod/GET/users").result == EXPLICIT_DENY


@pytest.mark.parametrize("operator,block,address,expected", [
    ("IpAddress", "127.0.0.0/8", "127.0.0.1", True),
    ("IpAddress", "10.0.0.0/8", "127.0.0.1", False),
    ("IpAddress", "203.0.113.7", "203.0.113.7", True),
    ("IpAddress", "0.0.0.0/0", "::1", False),  # a v6 address is in no v4 block
    ("IpAddress", "::/0", "::1", True),
    ("IpAddress", "127.0.0.0/8", "not-an-ip", False),
    ("NotIpAddress", "10.0.0.0/8", "127.0.0.1", True),
    ("NotIpAddress", "127.0.0.0/8", "127.0.0.1", False),
])
def test_ip_address_conditions(operator, block, address, expected):
    condition = {operator: {"aws:SourceIp": block}}
    assert iam_eval.conditions_match(condition, {"aws:SourceIp": address}) is expected
