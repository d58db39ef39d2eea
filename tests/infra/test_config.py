"""Bad configuration is refused before any resource is declared, one message per problem
naming the key, the stack file and what is allowed."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from infra.config import KEYS, ConfigError, parse_stage_config
from localcloud.engine.stackfiles import REPO_ROOT, read_stack_config
from tests.infra.conftest import run_stack
from tests.infra.mocks import AwsMocks

P = "user-service"


def config_of(stack: str, **overrides: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = dict(read_stack_config(stack))
    for key, value in overrides.items():
        values[key if ":" in key else f"{P}:{key}"] = value
    return values


def problems(stack: str, **overrides: str | None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_stage_config(config_of(stack, **overrides), stack)
    return str(caught.value)


@pytest.mark.parametrize("stack", ["dev", "test", "prod"])
def test_the_shipped_stack_files_are_valid(stack):
    config = parse_stage_config(config_of(stack), stack)
    assert config.stage == stack
    assert config.region == "us-east-1"


def test_missing_stage_is_named_with_the_fix():
    message = problems("test", stage=None)
    assert "Pulumi.test.yaml" in message
    assert f"{P}:stage is missing" in message and "pulumi config set" in message


def test_missing_prefix_is_named():
    assert f"{P}:namePrefix is missing" in problems("dev", namePrefix=None)


@pytest.mark.parametrize("stage", ["my stage", "dev/1", "", "x" * 65, "test-invoke-stage"])
def test_stage_names_api_gateway_rejects(stage):
    message = problems("dev", stage=stage)
    assert f"{P}:stage" in message and repr(stage) in message


@pytest.mark.parametrize("prefix,what", [
    ("x" * 60, "function name"),       # user-service makes it 72 > 64
    ("dev_", None),                    # valid for the function, fine everywhere: control
    ("dev.", "function name"),         # '.' is not allowed in a function name
    ("dev$", "function name"),
])
def test_prefixes_that_make_invalid_names(prefix, what):
    values = config_of("dev", namePrefix=prefix)
    if what is None:
        assert parse_stage_config(values, "dev").function_name == "dev_user-service"
        return
    message = problems("dev", namePrefix=prefix)
    assert f"{P}:namePrefix" in message and what in message and "AWS allows" in message


def test_role_name_length_is_checked_separately():
    # 50 + "user-service" = 62 fits a function name, but 50 + "user-service-role" = 67 does not.
    message = problems("dev", namePrefix="a" * 50)
    assert "role name" in message and "function name" not in message


def test_function_name_that_is_no_valid_stage_variable_value():
    from infra.naming import prefix_problems, stage_variable_problem
    assert stage_variable_problem("dev-user-service") is None
    assert "would be rejected" in stage_variable_problem("")
    assert "would be rejected" in stage_variable_problem("a b")
    assert any("stage variable" in p for p in prefix_problems("dev user "))


def test_production_stack_with_a_prefix_is_refused():
    message = problems("prod", namePrefix="prod-")
    assert f"{P}:namePrefix" in message and "production stack must have an empty prefix" in message


def test_any_stack_marked_production_gets_the_same_rules():
    message = problems("test", production="true")
    assert f"{P}:namePrefix" in message
    assert f"{P}:allowTestInvoke" in message
    assert f"{P}:protect" in message and f"{P}:deletionProtection" in message


def test_test_invoke_in_prod_is_refused():
    message = problems("prod", allowTestInvoke="true")
    assert f"{P}:allowTestInvoke is true" in message and "never allows" in message


def test_prod_without_data_protection_is_refused():
    message = problems("prod", pointInTimeRecovery="false")
    assert f"{P}:pointInTimeRecovery is false" in message


def test_neither_owner_nor_reference_is_refused():
    message = problems("test", apiStack="")
    assert f"{P}:apiStack is empty and apiOwner is false" in message


def test_both_owner_and_reference_is_refused():
    message = problems("dev", apiStack="organization/user-service/test")
    assert "not both" in message


@pytest.mark.parametrize("key,value,allowed", [
    ("logRetentionDays", "10", "CloudWatch Logs allows only"),
    ("logRetentionDays", "ten", "must be a whole number"),
    ("allowTestInvoke", "yes", "must be true or false"),
    ("throttlingRateLimit", "0", "above 0"),
    ("throttlingBurstLimit", "-1", "1 to 5000"),
    ("functionMemoryMb", "64", "128 to 10240"),
    ("functionTimeoutSeconds", "60", "1 to 29"),
    ("aws:region", "Virginia", "in no AWS partition"),
    ("apiStack", "org/proj/stack/extra", "use the owner stack's name"),
])
def test_out_of_range_values_say_what_is_allowed(key, value, allowed):
    message = problems("test", **{key: value})
    full_key = key if ":" in key else f"{P}:{key}"
    assert f"{full_key} is" in message and allowed in message


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-3", "us-gov-west-1", "cn-north-1"])
def test_a_region_in_any_partition_is_accepted(region):
    assert parse_stage_config(config_of("test", **{"aws:region": region}), "test").region == region


@pytest.mark.parametrize("region", ["Virginia", "us-east-1a", "xx-east-1", "us-gov-west", "",
                                    "us-éast-1", "us-east-١"])
def test_a_region_in_no_known_partition_names_aws_region_and_the_fix(region):
    message = problems("test", **{"aws:region": region})
    assert f"aws:region is {region!r}, which is in no AWS partition" in message
    assert "aws, aws-cn" in message and "aws-us-gov" in message
    assert "use an AWS region name, e.g. us-east-1, us-gov-west-1 or cn-north-1" in message


def test_every_problem_is_reported_at_once():
    message = problems("prod", namePrefix="p-", allowTestInvoke="true", stage="bad stage")
    assert message.startswith("Pulumi.prod.yaml has 3 configuration problems:")
    assert len(re.findall(r"^  - ", message, re.M)) == 3


def test_bad_config_stops_the_program_before_any_resource_is_declared():
    class CountingMocks(AwsMocks):
        declared = 0

        def new_resource(self, args):
            CountingMocks.declared += 1
            return super().new_resource(args)

    with pytest.raises(ConfigError, match="production stack must have an empty prefix"):
        run_stack("prod", overrides={f"{P}:namePrefix": "prod-"}, mocks_class=CountingMocks)
    assert CountingMocks.declared == 0


def test_pulumi_yaml_declares_every_key_the_program_reads():
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    declared = {f"{project['name']}:{key}" for key in project["config"]}
    read = {key for key in KEYS if not key.startswith("aws:")}
    assert declared == read


@pytest.mark.parametrize("path", sorted(Path(REPO_ROOT).glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_stack_files_only_set_known_keys(path):
    keys = set(yaml.safe_load(path.read_text())["config"])
    assert keys <= set(KEYS), keys - set(KEYS)


def test_a_production_owner_refuses_an_open_api():
    values = {"apiOwner": "true", "apiStack": ""}
    message = problems("prod", apiAuthorization="NONE", **values)
    assert "refuses an open API" in message and "AWS_IAM" in message


def test_only_the_owner_sets_the_apis_authorization_and_the_account_role():
    assert "set it in the owner stack" in problems("test", apiAuthorization="NONE")
    assert "only the stack that owns" in problems("test", apiGatewayCloudWatchRole="true")
    assert "use AWS_IAM" in problems("dev", apiAuthorization="OPEN")


def test_logging_settings_are_checked_and_data_trace_is_never_in_production():
    assert "use one of OFF, ERROR, INFO" in problems("dev", apiLoggingLevel="DEBUG")
    assert "never logs full requests" in problems("prod", apiDataTrace="true")
    parse_stage_config(config_of("test", apiDataTrace="true"), "test")  # allowed outside prod


def test_api_stack_naming_itself_is_refused():
    assert "this very stack" in problems("test", apiStack="test")
