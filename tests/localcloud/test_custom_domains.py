"""Custom domain names in the local cloud: the kinds refuse what API Gateway, ACM and
Route 53 refuse where moto does not, the gateway routes by Host and base path, and the
control plane answers alike from either route. Names carry a random suffix (moto's state
is shared by the process)."""
from __future__ import annotations

import pytest

from localcloud.acm.resources import Certificate, CertificateValidation
from localcloud.apigateway import domains
from localcloud.apigateway.resources import BasePathMapping, DomainName
from localcloud.control_plane import BotoPlane, InProcessPlane
from localcloud.engine.stackfiles import domain_clashes
from localcloud.kinds import DeployError
from localcloud.route53.resources import Record, fqdn
from tests.localcloud.builders import cloud_for, create_api, self_signed, suffix

REGION_CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/"


@pytest.fixture
def cloud(emulator, state_dir):
    return cloud_for(emulator, state_dir)


@pytest.fixture
def zone(emulator):
    """A hosted zone of its own domain: (zone id, zone name)."""
    name = f"zone-{suffix()}.example"
    created = emulator.client("route53").create_hosted_zone(
        Name=name, CallerReference=name)["HostedZone"]["Id"]
    return created.rsplit("/", 1)[-1], name


def requested(cloud, domain: str) -> str:
    return Certificate().create(cloud, "certificate", {"domainName": domain,
                                                       "validationMethod": "DNS"})[0]


def domain_inputs(domain: str, certificate: str) -> dict:
    return {"domainName": domain, "regionalCertificateArn": certificate,
            "endpointConfiguration": {"types": "REGIONAL"}, "securityPolicy": "TLS_1_2"}


def api_with_stage(emulator, stage: str = "live"):
    apigw = emulator.client("apigateway")
    api = create_api(apigw, {"/users": ["GET"]}, name=f"domains-{suffix()}")
    deployment = apigw.create_deployment(restApiId=api.id)["id"]
    apigw.create_stage(restApiId=api.id, stageName=stage, deploymentId=deployment)
    return api.id


# --- the gateway's routing (pure) ------------------------------------------------------

MAPPINGS = [{"basePath": "v1", "restApiId": "api1", "stage": "prod"},
            {"basePath": "v2", "restApiId": "api2", "stage": "test"}]


@pytest.mark.parametrize("path,expected", [
    ("/v1/users", ("api1", "prod", "/users")),
    ("/v1/users/abc", ("api1", "prod", "/users/abc")),
    ("/v2", ("api2", "test", "/")),
    ("/v1", ("api1", "prod", "/")),
    ("/v3/users", None),
    ("/users", None),
    ("/", None),
    ("/V1/users", None),   # base paths are matched as written
])
def test_a_path_on_a_domain_goes_to_its_base_paths_stage_or_nowhere(path, expected):
    found = domains.route_on_domain(MAPPINGS, path)
    assert (None if found is None else (found.api_id, found.stage, found.path)) == expected


def test_the_empty_base_path_takes_every_path_and_a_mapping_without_a_stage_names_it():
    root = [{"basePath": "(none)", "restApiId": "api1", "stage": "prod"}]
    assert domains.route_on_domain(root, "/users/1") == domains.DomainRoute("api1", "prod",
                                                                            "/users/1")
    assert domains.route_on_domain(root, "/") == domains.DomainRoute("api1", "prod", "/")
    staged = [{"basePath": "(none)", "restApiId": "api1", "stage": None}]
    assert domains.route_on_domain(staged, "/test/users") == domains.DomainRoute(
        "api1", "test", "/users")
    assert domains.route_on_domain(staged, "/") is None


@pytest.mark.parametrize("host,expected", [
    ("api.example.com", "api.example.com"), ("API.Example.com:443", "api.example.com"),
    ("127.0.0.1:8080", "127.0.0.1"), ("[::1]:8080", "[::1]:8080"), ("", "")])
def test_the_host_is_read_without_port_and_case(host, expected):
    assert domains.request_host([("Host", host)]) == expected


# --- API Gateway's domain names and mappings ------------------------------------------

def test_a_domain_name_exists_once_and_takes_only_a_certificate_of_its_region(emulator, cloud):
    domain = f"api-{suffix()}.example.com"
    certificate = requested(cloud, domain)
    other_region = certificate.replace(":us-east-1:", ":us-west-2:")
    with pytest.raises(DeployError, match=r"Invalid certificate ARN: .*Certificate must be "
                                          r"in 'us-east-1'\."):
        DomainName().create(cloud, "d", domain_inputs(domain, other_region))
    other_partition = certificate.replace("arn:aws:", "arn:aws-us-gov:").replace(
        ":us-east-1:", ":us-gov-west-1:")
    with pytest.raises(DeployError, match="Certificate must be in 'us-east-1'"):
        DomainName().create(cloud, "d", domain_inputs(domain, other_partition))
    with pytest.raises(DeployError, match="ACM in us-east-1 has no such certificate"):
        DomainName().create(cloud, "d", domain_inputs(
            domain, REGION_CERTIFICATE + "00000000-0000-0000-0000-000000000000"))
    created, outputs = DomainName().create(cloud, "d", domain_inputs(domain, certificate))
    assert created == domain
    assert outputs["regionalDomainName"].endswith(".execute-api.us-east-1.amazonaws.com")
    # moto would silently replace it; API Gateway refuses a second one.
    with pytest.raises(DeployError, match="The domain name you provided already exists"):
        DomainName().create(cloud, "again", domain_inputs(domain, certificate))
    with pytest.raises(DeployError, match="label"):
        DomainName().create(cloud, "bad", domain_inputs("bad_name.example.com", certificate))


def test_base_path_mappings_conflict_as_api_gateway_says(emulator, cloud):
    domain = f"api-{suffix()}.example.com"
    DomainName().create(cloud, "d", domain_inputs(domain, requested(cloud, domain)))
    api = api_with_stage(emulator)
    mapping = BasePathMapping()
    v1 = {"domainName": domain, "restApi": api, "stageName": "live", "basePath": "v1"}
    assert mapping.create(cloud, "v1", v1)[0] == f"{domain}/v1"
    with pytest.raises(DeployError, match="ConflictException: Base path already exists"):
        mapping.create(cloud, "v1-again", v1)
    root = {"domainName": domain, "restApi": api, "stageName": "live"}
    with pytest.raises(DeployError, match="Only one base path mapping is allowed if the base "
                                          "path is empty"):
        mapping.create(cloud, "root", root)
    mapping.delete(cloud, f"{domain}/v1", v1)
    assert mapping.create(cloud, "root", root)[0] == f"{domain}/"
    # moto lets a second empty base path through.
    with pytest.raises(DeployError, match="Base path already exists"):
        mapping.create(cloud, "root-again", root)
    with pytest.raises(DeployError, match="Only one base path mapping is allowed"):
        mapping.create(cloud, "v2", {**v1, "basePath": "v2"})
    with pytest.raises(DeployError, match="Invalid stage identifier"):
        other = f"api-{suffix()}.example.com"
        DomainName().create(cloud, "o", domain_inputs(other, requested(cloud, other)))
        mapping.create(cloud, "x", {**root, "domainName": other, "stageName": "nope"})


def test_a_domain_declared_again_keeps_its_mappings_and_a_deleted_one_takes_them(
        emulator, cloud):
    apigw = emulator.client("apigateway")
    domain = f"api-{suffix()}.example.com"
    certificate = requested(cloud, domain)
    DomainName().create(cloud, "d", domain_inputs(domain, certificate))
    assert apigw.get_base_path_mappings(domainName=domain)["items"] == []  # moto: a 500
    api = api_with_stage(emulator)
    BasePathMapping().create(cloud, "m", {"domainName": domain, "restApi": api,
                                          "stageName": "live"})
    DomainName().update(cloud, domain, {}, {**domain_inputs(domain, certificate),
                                            "securityPolicy": "TLS_1_0"})
    assert [(m["basePath"], m["stage"]) for m in apigw.get_base_path_mappings(
        domainName=domain)["items"]] == [("(none)", "live")]
    DomainName().delete(cloud, domain, {})
    DomainName().create(cloud, "d", domain_inputs(domain, certificate))
    assert apigw.get_base_path_mappings(domainName=domain)["items"] == []


def test_both_control_plane_routes_answer_a_domains_mappings_alike(emulator, cloud):
    domain = f"api-{suffix()}.example.com"
    boto, in_process = BotoPlane(emulator.endpoint_url), InProcessPlane()
    assert boto.base_path_mappings(domain) is None is in_process.base_path_mappings(domain)
    DomainName().create(cloud, "d", domain_inputs(domain, requested(cloud, domain)))
    assert boto.base_path_mappings(domain) == [] == in_process.base_path_mappings(domain)
    api = api_with_stage(emulator)
    BasePathMapping().create(cloud, "m", {"domainName": domain, "restApi": api,
                                          "stageName": "live", "basePath": "v1"})
    expected = [{"basePath": "v1", "restApiId": api, "stage": "live"}]
    assert boto.base_path_mappings(domain) == expected == in_process.base_path_mappings(domain)


# --- ACM and Route 53 -------------------------------------------------------------------

def test_a_certificate_is_issued_only_once_its_validation_record_is_in_a_zone(
        emulator, cloud, zone):
    zone_id, zone_name = zone
    domain = f"api.{zone_name}"
    arn, outputs = Certificate().create(cloud, "c", {"domainName": domain,
                                                     "validationMethod": "DNS"})
    [option] = outputs["domainValidationOptions"]
    assert option["domainName"] == domain and option["resourceRecordType"] == "CNAME"
    validation = CertificateValidation()
    with pytest.raises(DeployError, match="ACM issues it only once its validation records "
                                          "are in the DNS"):
        validation.create(cloud, "v", {"certificateArn": arn})
    with pytest.raises(DeployError, match=f"missing {domain} DNS validation record"):
        validation.create(cloud, "v", {"certificateArn": arn,
                                       "validationRecordFqdns": [f"_other.{domain}"]})
    _, record = Record().create(cloud, "r", {
        "zoneId": zone_id, "name": option["resourceRecordName"],
        "type": option["resourceRecordType"], "records": [option["resourceRecordValue"]],
        "ttl": 60, "allowOverwrite": True})
    assert record["fqdn"] == option["resourceRecordName"].rstrip(".").lower()
    _, issued = validation.create(cloud, "v", {"certificateArn": arn,
                                               "validationRecordFqdns": [record["fqdn"]]})
    assert issued == {"certificateArn": arn}


def test_an_imported_certificate_needs_no_validation(emulator, cloud):
    body, key = self_signed("imported.example.com")
    arn = emulator.client("acm").import_certificate(Certificate=body,
                                                    PrivateKey=key)["CertificateArn"]
    with pytest.raises(DeployError, match="has type IMPORTED, no validation necessary"):
        CertificateValidation().create(cloud, "v", {"certificateArn": arn})


def test_a_record_is_created_once_unless_it_may_overwrite_and_lands_in_its_zone(
        emulator, cloud, zone):
    zone_id, zone_name = zone
    alias = {"zoneId": zone_id, "name": f"api.{zone_name}", "type": "A", "aliases": [
        {"name": "d-abc.execute-api.us-east-1.amazonaws.com", "zoneId": "Z1UJRXOUMOOFQ8",
         "evaluateTargetHealth": True}]}
    record_id, outputs = Record().create(cloud, "a", alias)
    assert outputs["fqdn"] == f"api.{zone_name}"
    with pytest.raises(DeployError, match=r"Tried to create resource record set "
                                          rf"\[name='api.{zone_name}.', type='A'\] but it "
                                          "already exists"):
        Record().create(cloud, "a-again", alias)
    Record().create(cloud, "a-overwrite", {**alias, "allowOverwrite": True})
    # A name outside the zone is made one inside it, as the provider does.
    assert Record().create(cloud, "elsewhere", {**alias, "name": "api.other.example"})[1][
        "fqdn"] == f"api.other.example.{zone_name}"
    with pytest.raises(DeployError, match="NoSuchHostedZone"):
        Record().create(cloud, "nozone", {**alias, "zoneId": "ZNOSUCHZONE"})
    Record().delete(cloud, record_id, alias)
    listed = emulator.client("route53").list_resource_record_sets(
        HostedZoneId=zone_id)["ResourceRecordSets"]
    assert [r["Name"] for r in listed if r["Type"] == "A"] == [
        f"api.other.example.{zone_name}."]


def test_the_providers_fqdn_appends_the_zone_unless_the_name_ends_with_it():
    assert fqdn("_abc.API.example.com.", "example.com.") == "_abc.api.example.com"
    assert fqdn("www", "example.com.") == "www.example.com"
    assert fqdn("", "example.com.") == "example.com"


# --- across stack files -----------------------------------------------------------------

def test_two_stack_files_claiming_one_domain_are_refused_whatever_their_base_paths():
    p = "user-service"
    configs = {"prod": {f"{p}:domainName": "api.example.com"},
               "test": {f"{p}:domainName": "API.example.com", f"{p}:basePath": "v1"},
               "dev": {f"{p}:domainName": ""}, "qa": {}}
    assert domain_clashes(configs, p) == [
        "`Pulumi.prod.yaml` and `Pulumi.test.yaml` both claim the domain `api.example.com`"]
    assert domain_clashes({"a": {f"{p}:domainName": "a.example.com"},
                           "b": {f"{p}:domainName": "b.example.com"}}, p) == []


def test_the_run_command_refuses_stack_files_claiming_one_domain(tmp_path):
    import shutil

    from localcloud.engine.stackfiles import REPO_ROOT, StackFileError, check_stack_files

    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    for stack in ("test", "prod"):
        text = (REPO_ROOT / f"Pulumi.{stack}.yaml").read_text()
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(
            text + "  user-service:domainName: api.example.com\n")
    with pytest.raises(StackFileError, match="`Pulumi.prod.yaml` and `Pulumi.test.yaml` both "
                                             "claim the domain `api.example.com`"):
        check_stack_files(tmp_path)
    (tmp_path / "Pulumi.test.yaml").write_text(
        (REPO_ROOT / "Pulumi.test.yaml").read_text()
        + "  user-service:domainName: api-test.example.com\n")
    check_stack_files(tmp_path)
