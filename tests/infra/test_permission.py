"""The invoke permission's statements: scoped to one stage, and small whatever the API."""
from __future__ import annotations

import re

from infra import policies
from infra.permission import permission_statements, policy_size_problem

# The stage API Gateway's console test button invokes as.
TEST_INVOKE_STAGE = "test-invoke-stage"
# Lambda's limit on a function's resource policy (its quotas page: 20 KB).
LIMIT = 20 * 1024

EXECUTION_ARN = "arn:aws:execute-api:ap-southeast-2:123456789012:abcdefghij"
# The longest function name AWS allows, qualified by the alias.
FUNCTION_ARN = "arn:aws:lambda:ap-southeast-2:123456789012:function:" + "f" * 64 + ":live"


def source_arns(statements) -> list[str]:
    return [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in statements]


def test_each_permitted_stage_gets_one_statement_scoped_to_that_stage_only():
    statements = permission_statements(FUNCTION_ARN, EXECUTION_ARN, "test", True)
    assert source_arns(statements) == [f"{EXECUTION_ARN}/test/*/*",
                                       f"{EXECUTION_ARN}/{TEST_INVOKE_STAGE}/*/*"]
    for statement in statements:
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert statement["Resource"] == FUNCTION_ARN
    prod = permission_statements(FUNCTION_ARN, EXECUTION_ARN, "prod", False)
    assert source_arns(prod) == [f"{EXECUTION_ARN}/prod/*/*"]
    # Never a wildcard in the stage position: dev's grant cannot serve prod.
    assert all(arn[len(EXECUTION_ARN) + 1:].split("/")[0] != "*" for arn in source_arns(statements))


def test_the_longest_names_with_test_invoke_stay_far_below_lambdas_20kb():
    statements = permission_statements(FUNCTION_ARN, EXECUTION_ARN, "s" * 64, True)
    size = policies.resource_policy_size(statements)
    assert size < LIMIT // 20, size
    # One statement per route (the earlier design) passed the limit at about 30 routes;
    # these statements do not grow with the routes at all.
    per_route = [policies.invoke_statement(f"apigateway-{stage}-route-{n}", FUNCTION_ARN,
                                           f"{EXECUTION_ARN}/{stage}/GET/users/{n}")
                 for stage in ("s" * 64, TEST_INVOKE_STAGE) for n in range(100)]
    assert policies.resource_policy_size(per_route) > LIMIT


def test_the_policy_size_is_the_compact_json_lambda_keeps():
    statement = policies.invoke_statement("sid", "arn:f", "arn:s")
    expected = ('{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"sid","Effect":'
                '"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":'
                '"lambda:InvokeFunction","Resource":"arn:f","Condition":{"ArnLike":'
                '{"AWS:SourceArn":"arn:s"}}}]}')
    assert policies.resource_policy_size([statement]) == len(expected)


def test_grants_over_the_limit_are_refused_before_anything_is_declared(monkeypatch):
    assert policy_size_problem("aws", "us-east-1", "user-service", "live", "prod", False) is None
    monkeypatch.setattr(policies, "LAMBDA_POLICY_LIMIT_BYTES", 400)
    problem = policy_size_problem("aws", "us-east-1", "dev-user-service", "live", "dev", True)
    assert problem.startswith("the invoke grants of stage 'dev' make a ")
    assert "over Lambda's 400 bytes" in problem


def test_the_size_estimate_counts_the_partitions_longer_arns(monkeypatch):
    monkeypatch.setattr(policies, "LAMBDA_POLICY_LIMIT_BYTES", 0)  # always say the size

    def size(partition: str) -> int:
        problem = policy_size_problem(partition, "us-gov-west-1", "dev-user-service", "live",
                                      "dev", True)
        return int(re.search(r"make a (\d+)-byte", problem).group(1))
    # Two statements (dev, test-invoke-stage), two ARNs each: each 7 bytes longer.
    assert size("aws-us-gov") - size("aws") == 4 * len("-us-gov")


def test_the_program_refuses_an_oversized_policy_before_declaring_anything(monkeypatch):
    import pytest

    from infra.config import ConfigError
    from tests.infra.conftest import deploy_stacks
    monkeypatch.setattr(policies, "LAMBDA_POLICY_LIMIT_BYTES", 400)
    with pytest.raises(ConfigError, match="over Lambda's 400 bytes"):
        deploy_stacks(("dev",))


def the_longest_policy(function_arn: str, execution_arn: str, stages: list[str]) -> int:
    """The bytes of the resource policy Lambda keeps for one statement per stage (compact
    JSON, statements as AddPermission writes them), written out here."""
    statements = ",".join(
        f'{{"Sid":"apigateway-{stage}","Effect":"Allow","Principal":{{"Service":'
        f'"apigateway.amazonaws.com"}},"Action":"lambda:InvokeFunction","Resource":'
        f'"{function_arn}","Condition":{{"ArnLike":{{"AWS:SourceArn":'
        f'"{execution_arn}/{stage}/*/*"}}}}}}' for stage in stages)
    return len(f'{{"Version":"2012-10-17","Id":"default","Statement":[{statements}]}}')


def test_the_estimate_is_the_policy_with_the_longest_account_and_api_ids(monkeypatch):
    # 12-digit account, 10-character API id: the longest ARNs the stage can have.
    size = the_longest_policy(
        "arn:aws-us-gov:lambda:us-gov-west-1:000000000000:function:dev-user-service:live",
        "arn:aws-us-gov:execute-api:us-gov-west-1:000000000000:xxxxxxxxxx",
        ["dev", TEST_INVOKE_STAGE])
    monkeypatch.setattr(policies, "LAMBDA_POLICY_LIMIT_BYTES", 0)  # always say the size
    assert f"make a {size}-byte resource policy on dev-user-service:live" in policy_size_problem(
        "aws-us-gov", "us-gov-west-1", "dev-user-service", "live", "dev", True)
    # Lambda refuses a policy bigger than its limit: one of exactly the limit fits.
    monkeypatch.setattr(policies, "LAMBDA_POLICY_LIMIT_BYTES", size)
    assert policy_size_problem("aws-us-gov", "us-gov-west-1", "dev-user-service", "live", "dev",
                               True) is None
    monkeypatch.setattr(policies, "LAMBDA_POLICY_LIMIT_BYTES", size - 1)
    assert "over Lambda's" in policy_size_problem("aws-us-gov", "us-gov-west-1",
                                                  "dev-user-service", "live", "dev", True)


# A Permission's logical name is part of its URN, and Pulumi takes a changed URN for a new
# resource: it creates that one, then deletes the old ("Resource names", pulumi.com docs).
# The new Permission would add the statement id the old one still holds, which Lambda
# refuses (409 ResourceConflictException "The statement id ... provided already exists"),
# so these names are part of the deployed state and are written down here.
PERMISSION_URN = ("urn:pulumi:{stack}::user-service::user-service:api:StageInvokePermission"
                  "$aws:lambda/permission:Permission::{name}")


def permission_urns(run) -> set[str]:
    return {p.urn for p in run.of_type("aws:lambda/permission:Permission")}


def test_each_stacks_invoke_permissions_keep_their_logical_names():
    from tests.infra.conftest import deploy_stacks
    runs = deploy_stacks()
    assert permission_urns(runs["dev"]) == {
        PERMISSION_URN.format(stack="dev", name="dev-dev-invoke"),
        PERMISSION_URN.format(stack="dev", name="dev-test-invoke-stage-invoke")}
    assert permission_urns(runs["test"]) == {
        PERMISSION_URN.format(stack="test", name="test-test-invoke"),
        PERMISSION_URN.format(stack="test", name="test-test-invoke-stage-invoke")}
    assert permission_urns(runs["prod"]) == {
        PERMISSION_URN.format(stack="prod", name="prod-prod-invoke")}


def test_the_canary_alias_permission_keeps_its_logical_name():
    from tests.infra.test_canary import prod_with
    assert permission_urns(prod_with()) == {
        PERMISSION_URN.format(stack="prod", name="prod-prod-invoke"),
        PERMISSION_URN.format(stack="prod", name="prod-canary-prod-invoke")}
