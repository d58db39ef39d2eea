"""A custom domain per stage, wired as API Gateway requires: every stack, in every
partition and on both backends, with and without a domain, with a certificate given or
requested and validated in a hosted zone. Expected values are written down here."""
from __future__ import annotations

import re

import pytest

from tests.infra.conftest import HOME, STACKS, deploy_stacks
from tests.infra.mocks import ACCOUNT_ID

P = "user-service"
ZONE = "Z0123456789EXAMPLEZONE"  # the mocks' hosted zone for example.com
DOMAIN = {"dev": "api-dev.example.com", "test": "api-test.example.com",
          "prod": "api.example.com"}
DOMAIN_NAME = "aws:apigateway/domainName:DomainName"
MAPPING = "aws:apigateway/basePathMapping:BasePathMapping"
CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
STAGE = "aws:apigateway/stage:Stage"
CERTIFICATE_ID = "0c8d4f6e-1a2b-4c3d-9e8f-0123456789ab"


def certificate_arn(world, region: str | None = None) -> str:
    return (f"arn:{world.partition}:acm:{region or world.region}:{ACCOUNT_ID}:"
            f"certificate/{CERTIFICATE_ID}")


def with_certificates(world, base_path: str = "") -> dict[str, dict[str, str]]:
    return {stack: {f"{P}:domainName": DOMAIN[stack],
                    f"{P}:certificateArn": certificate_arn(world),
                    f"{P}:basePath": base_path} for stack in STACKS}


def with_zone() -> dict[str, dict[str, str]]:
    return {stack: {f"{P}:domainName": DOMAIN[stack], f"{P}:hostedZoneId": ZONE}
            for stack in STACKS}


@pytest.fixture(scope="module")
def certificate_runs(world):
    return deploy_stacks(overrides=with_certificates(world), world=world)


@pytest.fixture(scope="module")
def zone_runs(world):
    return deploy_stacks(overrides=with_zone(), world=world)


def check_mapping(run, domain_resource):
    """The mapping maps this stack's own stage, on the shared API, at the domain."""
    stage = run.one(STAGE)
    mapping = run.one(MAPPING)
    assert mapping.inputs["restApi"] == stage.inputs["restApi"] == run.outputs["restApiId"]
    assert mapping.inputs["stageName"] == stage.outputs["stageName"] == run.stack
    assert stage.urn in mapping.dependencies  # it waits for the stage it names
    assert mapping.inputs["domainName"] == domain_resource.outputs["domainName"] \
        == DOMAIN[run.stack]
    return mapping


def check_domain_name(run, certificate: str):
    domain = run.one(DOMAIN_NAME)
    assert domain.inputs["domainName"] == DOMAIN[run.stack]
    assert domain.inputs["regionalCertificateArn"] == certificate
    assert domain.inputs["endpointConfiguration"] == {"types": "REGIONAL"}
    assert domain.inputs["securityPolicy"] == "TLS_1_2"
    assert "certificateArn" not in domain.inputs  # that one is EDGE's
    assert domain.protect == (run.stack == "prod")
    return domain


def test_a_stack_without_a_domain_declares_none(run):
    for type_ in (DOMAIN_NAME, MAPPING, CERTIFICATE, VALIDATION, RECORD):
        assert run.of_type(type_) == [], type_
    assert "customUrl" not in run.outputs


@pytest.mark.parametrize("stack", STACKS)
def test_a_given_certificate_in_the_region_and_the_mapping_to_this_stage(
        certificate_runs, world, stack):
    run = certificate_runs[stack]
    domain = check_domain_name(run, certificate_arn(world))
    mapping = check_mapping(run, domain)
    assert "basePath" not in mapping.inputs  # the root: never an empty string
    assert run.outputs["customUrl"] == f"https://{DOMAIN[stack]}"
    # The program requests nothing and writes no DNS: the certificate and DNS are the user's.
    assert run.of_type(CERTIFICATE) == run.of_type(VALIDATION) == run.of_type(RECORD) == []
    # The stage's default URL is still exported, and still the execute-api one.
    assert re.fullmatch(rf"https://[a-z0-9]{{10}}\.execute-api\.{world.region}\."
                        rf"{re.escape(world.dns_suffix)}/{stack}", run.outputs["stageUrl"])


@pytest.mark.parametrize("stack", STACKS)
def test_a_requested_certificate_is_validated_in_the_zone_and_the_record_targets_the_domain(
        zone_runs, world, stack):
    run = zone_runs[stack]
    certificate = run.one(CERTIFICATE)
    assert certificate.inputs["domainName"] == DOMAIN[stack]
    assert certificate.inputs["validationMethod"] == "DNS"
    # Requested in the stack's own region and partition (the provider's region).
    assert certificate.outputs["arn"].startswith(
        f"arn:{world.partition}:acm:{world.region}:{ACCOUNT_ID}:certificate/")
    [option] = certificate.outputs["domainValidationOptions"]
    records = {r.inputs["type"]: r for r in run.of_type(RECORD)}
    assert set(records) == {"CNAME", "A"}
    proof = records["CNAME"]
    assert proof.inputs["zoneId"] == ZONE
    assert (proof.inputs["name"], proof.inputs["type"], proof.inputs["records"]) == (
        option["resourceRecordName"], option["resourceRecordType"],
        [option["resourceRecordValue"]])
    assert proof.inputs["allowOverwrite"] is True
    validation = run.one(VALIDATION)
    assert validation.inputs["certificateArn"] == certificate.outputs["arn"]
    assert validation.inputs["validationRecordFqdns"] == [proof.outputs["fqdn"]]
    assert proof.urn in validation.dependencies
    # The domain takes the certificate once issued: from the validation, not the request.
    domain = check_domain_name(run, validation.outputs["certificateArn"])
    assert validation.urn in domain.dependencies
    check_mapping(run, domain)
    alias = records["A"]
    assert alias.inputs["zoneId"] == ZONE
    assert alias.inputs["name"] == DOMAIN[stack]
    assert alias.inputs["aliases"] == [{
        "name": domain.outputs["regionalDomainName"],
        "zoneId": domain.outputs["regionalZoneId"], "evaluateTargetHealth": True}]
    assert domain.outputs["regionalDomainName"].endswith(
        f".execute-api.{world.region}.{world.dns_suffix}")
    assert run.outputs["customUrl"] == f"https://{DOMAIN[stack]}"


def test_a_base_path_is_mapped_and_is_in_the_custom_url():
    runs = deploy_stacks(overrides=with_certificates(HOME, base_path="v1"))
    for stack, run in runs.items():
        assert run.one(MAPPING).inputs["basePath"] == "v1"
        assert run.outputs["customUrl"] == f"https://{DOMAIN[stack]}/v1"



def test_no_domain_resource_declares_an_empty_value(certificate_runs, zone_runs):
    # The root mapping leaves basePath out: an empty string would reach AWS as one.
    from tests.infra.test_wiring import empty_values
    for runs in (certificate_runs, zone_runs):
        for run in runs.values():
            for resource in run.resources:
                assert list(empty_values(resource.inputs)) == [], resource.urn
