"""A custom domain's configuration is checked before anything is declared: the name, the
certificate's service, region and partition, the base path, one way to a certificate;
and the default endpoint's switch, the owner's alone."""
from __future__ import annotations

import pytest

from infra import domain_names
from infra.config import ConfigError, parse_stage_config
from localcloud.engine.stackfiles import read_stack_config

P = "user-service"
ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0c8d4f6e-1a2b-4c3d-9e8f-0123456789ab"


def parsed(stack: str, **overrides: str):
    values = dict(read_stack_config(stack))
    values.update({f"{P}:{key}": value for key, value in overrides.items()})
    return parse_stage_config(values, stack)


def problems(stack: str, **overrides: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parsed(stack, **overrides)
    return str(caught.value)


def test_the_shipped_stack_files_declare_no_domain():
    # A domain the user does not own would fail `pulumi up` on AWS.
    for stack in ("dev", "test", "prod"):
        config = parsed(stack)
        assert (config.domain_name, config.certificate_arn, config.hosted_zone_id,
                config.base_path, config.disable_execute_api_endpoint) == (
                    None, None, None, None, False)


def test_a_domain_with_a_certificate_or_a_zone_is_taken():
    config = parsed("prod", domainName="api.example.com", certificateArn=ARN, basePath="v1")
    assert (config.domain_name, config.certificate_arn, config.base_path) == (
        "api.example.com", ARN, "v1")
    config = parsed("test", domainName="api-test.example.com", hostedZoneId="Z0123456789ABC")
    assert config.hosted_zone_id == "Z0123456789ABC" and config.certificate_arn is None


@pytest.mark.parametrize("name,says", [
    ("api", "not a fully qualified domain name"),
    ("API.example.com", "lower case: 'api.example.com'"),
    ("api.example.com.", "without the final dot"),
    ("-api.example.com", "label '-api'"),
    ("api-.example.com", "label 'api-'"),
    ("a..example.com", "label ''"),
    ("api_test.example.com", "label 'api_test'"),
    (("a" * 64) + ".example.com", "1-63"),
    (".".join(["a" * 63] * 4) + ".com", "at most 253"),
    ("*.example.com", "a wildcard"),
    ("10.0.0.1", "an address"),
    ("https://api.example.com", "label 'https://api'"),
])
def test_domain_names_api_gateway_refuses(name, says):
    message = problems("test", domainName=name, certificateArn=ARN)
    assert f"{P}:domainName" in message and says in message, message


def test_the_longest_domain_name_is_taken():
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57, "com"])
    assert len(name) == 253
    assert domain_names.domain_name_problem(name) is None
    assert domain_names.domain_name_problem("x" + name) is not None


@pytest.mark.parametrize("arn,says", [
    ("arn:aws:acm:us-west-2:123456789012:certificate/0c8d4f6e-1a2b-4c3d-9e8f-0123456789ab",
     "a certificate in us-west-2"),
    ("arn:aws-us-gov:acm:us-east-1:123456789012:certificate/0c8d4f6e-1a2b-4c3d-9e8f-0123456789ab",
     "in partition 'aws-us-gov'"),
    ("arn:aws:iam::123456789012:server-certificate/api", "an ARN of service 'iam'"),
    ("arn:aws:acm:us-east-1:123456789012:key/0c8d4f6e", "not an ACM certificate ARN"),
    ("arn:aws:acm:us-east-1:12345:certificate/0c8d4f6e", "not an ACM certificate ARN"),
    ("0c8d4f6e-1a2b-4c3d-9e8f-0123456789ab", "not an ARN"),
])
def test_certificates_api_gateway_refuses(arn, says):
    message = problems("prod", domainName="api.example.com", certificateArn=arn)
    assert f"{P}:certificateArn" in message and says in message, message
    assert "us-east-1" in message  # where the certificate must be


def test_a_certificate_is_checked_against_the_stacks_own_region_and_partition():
    china = "arn:aws-cn:acm:cn-north-1:123456789012:certificate/0c8d4f6e-1a2b"
    assert domain_names.certificate_arn_problem(china, "cn-north-1") is None
    assert "partition 'aws'" in domain_names.certificate_arn_problem(
        china.replace("aws-cn", "aws"), "cn-north-1")
    gov = "arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/0c8d4f6e"
    assert domain_names.certificate_arn_problem(gov, "us-gov-west-1") is None
    assert "us-gov-west-1" in domain_names.certificate_arn_problem(gov, "us-gov-east-1")


@pytest.mark.parametrize("base_path,says", [
    ("v1/users", "one path segment"),
    ("/v1", "one path segment"),
    ("(none)", "no base path"),
    ("v 1", "only letters, digits"),
    ("v1?", "only letters, digits"),
    ("v%201", "only letters, digits"),
])
def test_base_paths_api_gateway_refuses(base_path, says):
    message = problems("test", domainName="api-test.example.com", certificateArn=ARN,
                       basePath=base_path)
    assert f"{P}:basePath" in message and says in message, message


@pytest.mark.parametrize("base_path", ["v1", "api.v2", "a-b_c", "$x+!*'()"])
def test_base_paths_api_gateway_takes(base_path):
    assert domain_names.base_path_problem(base_path) is None


def test_a_certificate_and_a_zone_together_are_refused():
    message = problems("test", domainName="api-test.example.com", certificateArn=ARN,
                       hostedZoneId="Z0123456789ABC")
    assert f"{P}:certificateArn and hostedZoneId are both set; set one" in message


def test_a_domain_without_a_certificate_says_how_to_get_one():
    message = problems("test", domainName="api-test.example.com")
    assert f"{P}:domainName" in message
    assert "certificateArn (an ACM certificate in us-east-1) or hostedZoneId" in message


@pytest.mark.parametrize("key,value", [("certificateArn", ARN),
                                       ("hostedZoneId", "Z0123456789ABC"),
                                       ("basePath", "v1")])
def test_domain_settings_without_a_domain_are_refused(key, value):
    message = problems("test", **{key: value})
    assert f"{P}:{key} is {value!r}, but domainName is not set" in message


@pytest.mark.parametrize("zone,says", [("/hostedzone/Z0123456789ABC", "'Z0123456789ABC'"),
                                       ("z0123", "not a Route 53 hosted zone id")])
def test_hosted_zone_ids_route53_refuses(zone, says):
    message = problems("test", domainName="api-test.example.com", hostedZoneId=zone)
    assert f"{P}:hostedZoneId" in message and says in message


def test_only_the_owner_turns_the_default_endpoint_off():
    message = problems("test", disableExecuteApiEndpoint="true")
    assert f"{P}:disableExecuteApiEndpoint is true, but it is a setting of the shared" in message
    assert parsed("dev", disableExecuteApiEndpoint="true").disable_execute_api_endpoint


def test_every_problem_is_listed_at_once():
    message = problems("prod", domainName="API", certificateArn="x", hostedZoneId="bad",
                       basePath="a/b")
    for key in ("domainName", "certificateArn", "hostedZoneId", "basePath"):
        assert f"{P}:{key}" in message, key


def test_custom_urls_have_no_trailing_slash():
    assert domain_names.custom_url("api.example.com", None) == "https://api.example.com"
    assert domain_names.custom_url("api.example.com", "v1") == "https://api.example.com/v1"
