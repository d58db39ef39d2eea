"""Custom domains end to end: the real program deploys test's domain with a certificate
it requests and validates in a Route 53 zone, and prod's with a certificate imported into
ACM under a base path; the local gateway serves each domain on its own port by Host,
checks signatures against the custom host, and refuses what API Gateway refuses.

The shipped stack files carry no domain (one the user does not own would break
`pulumi up`), so the domains are set as the local cloud's config overrides, as a user
sets them for local runs."""
from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from botocore.credentials import Credentials

from infra.signing import signed_headers
from localcloud.__main__ import custom_domain_curl_lines
from localcloud.engine.registry import KINDS
from localcloud.iam.callers import domain_curl_line, stage_credentials
from localcloud.kinds import DeployError
from tests.e2e.conftest import REGION, UNTHROTTLED, Reply
from tests.localcloud.builders import self_signed

P = "user-service"
TEST_DOMAIN, PROD_DOMAIN = "api-test.example.com", "api.example.com"


@pytest.fixture(scope="module")
def domains(running_cloud):
    """Every stack deployed, test and prod with their domains."""
    cloud = running_cloud
    cloud.reset()
    aws = cloud.cloud("prod")
    zone = aws.client("route53").create_hosted_zone(
        Name="example.com", CallerReference="custom-domains")["HostedZone"]["Id"]
    zone_id = zone.rsplit("/", 1)[-1]
    body, key = self_signed(PROD_DOMAIN)
    certificate = aws.client("acm").import_certificate(Certificate=body, PrivateKey=key)
    overrides = {
        "dev": UNTHROTTLED,
        "test": {**UNTHROTTLED, f"{P}:domainName": TEST_DOMAIN, f"{P}:hostedZoneId": zone_id},
        "prod": {**UNTHROTTLED, f"{P}:domainName": PROD_DOMAIN, f"{P}:basePath": "v1",
                 f"{P}:certificateArn": certificate["CertificateArn"]},
    }
    for stack, values in overrides.items():
        cloud.store.save_config_overrides(stack, values)
    results = {r.stack: r for r in cloud.deploy_all()}
    return cloud, results, zone_id, overrides


def on_domain(cloud, host: str, path: str, method: str = "GET", body: object = None, *,
              sign: str | Credentials | None, signed_host: str | None = None) -> Reply:
    """A request to the local gateway's port with `Host: host`, signed as the named
    stage's local caller for `signed_host` (the host by default), as curl --connect-to
    sends it."""
    gateway = urlsplit(cloud.url)
    data = None if body is None else json.dumps(body).encode()
    headers = {"Host": host}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if sign is not None:
        credentials = (sign if isinstance(sign, Credentials)
                       else stage_credentials(cloud.store.dir, sign))
        signed = signed_headers(f"http://{signed_host or host}{path}", credentials, REGION,
                                method, data, {k: v for k, v in headers.items() if k != "Host"})
        headers.update(signed)
    request = urllib.request.Request(f"http://{gateway.hostname}:{gateway.port}{path}",
                                     data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())


def on_default_endpoint(cloud, stage: str, path: str = "/users", method: str = "GET",
                        body: object = None) -> Reply:
    return on_domain(cloud, urlsplit(cloud.url).netloc, f"/{stage}{path}", method, body,
                     sign=stage)


def test_the_stacks_export_their_custom_urls(domains):
    _, results, _, _ = domains
    assert results["test"].outputs["customUrl"] == f"https://{TEST_DOMAIN}"
    assert results["prod"].outputs["customUrl"] == f"https://{PROD_DOMAIN}/v1"
    assert "customUrl" not in results["dev"].outputs


def test_a_signed_request_on_tests_domain_reaches_tests_function(domains):
    cloud, _, _, _ = domains
    created = on_domain(cloud, TEST_DOMAIN, "/users", "POST",
                        {"name": "Ada", "email": "ada@example.com"}, sign="test")
    assert created.status == 201, created.body
    user = created.json()
    # The same user through test's default endpoint: test's function, test's table.
    assert on_default_endpoint(cloud, "test", f"/users/{user['id']}").json() == user
    assert on_default_endpoint(cloud, "dev", f"/users/{user['id']}").status == 404
    listed = on_domain(cloud, TEST_DOMAIN, "/users?limit=100", sign="test")
    assert listed.status == 200 and user in listed.json()["items"]


def test_prods_domain_under_its_base_path_refuses_tests_caller_and_serves_its_own(domains):
    cloud, _, _, _ = domains
    refused = on_domain(cloud, PROD_DOMAIN, "/v1/users", sign="test")
    assert refused.status == 403
    message = refused.json()["Message"]
    assert "is not authorized to perform: execute-api:Invoke on resource:" in message
    assert "/prod/GET/users" in message
    assert on_domain(cloud, PROD_DOMAIN, "/v1/users", sign="prod").status == 200


def test_unmapped_paths_on_a_domain_are_forbidden_and_unknown_routes_are_not_found(domains):
    cloud, _, _, _ = domains
    for path in ("/users", "/v2/users", "/prod/users", "/"):
        reply = on_domain(cloud, PROD_DOMAIN, path, sign="prod")
        assert (reply.status, reply.json()) == (403, {"message": "Forbidden"}), path
    unknown = on_domain(cloud, PROD_DOMAIN, "/v1/nothing-here", sign="prod")
    assert (unknown.status, unknown.json()) == (403, {"message": "Missing Authentication Token"})
    # A host that is no custom domain is the default endpoint, as before.
    assert on_domain(cloud, "unknown.example.com", "/test/users", sign="test",
                     signed_host="unknown.example.com").status == 200


def test_the_signature_is_checked_against_the_custom_host(domains):
    cloud, _, _, _ = domains
    gateway_host = urlsplit(cloud.url).netloc
    reply = on_domain(cloud, TEST_DOMAIN, "/users", sign="test", signed_host=gateway_host)
    assert reply.status == 403
    assert "signature we calculated does not match" in reply.json()["message"]
    assert f"host:{TEST_DOMAIN}" in reply.json()["message"]  # the canonical request's host


def test_the_function_sees_the_domain_and_the_path_as_sent(domains):
    cloud, _, _, _ = domains
    created = on_domain(cloud, PROD_DOMAIN, "/v1/users", "POST",
                        {"name": "Grace", "email": "grace@example.com"}, sign="prod")
    assert created.status == 201, created.body
    # The function's Location keeps the base path the client used.
    assert created.headers["Location"] == f"/v1/users/{created.json()['id']}"
    log = cloud.cloud("prod").client("logs")
    events = log.filter_log_events(logGroupName="/aws/apigateway/user-service/prod/access")
    lines = [json.loads(e["message"]) for e in events["events"]]
    posted = [line for line in lines if line.get("httpMethod") == "POST"]
    assert posted, lines
    # $context.path on a custom domain is the path as sent, base path included.
    assert {line.get("path") for line in posted} <= {"/v1/users"}


def test_the_certificate_was_validated_in_the_zone_and_the_alias_targets_the_domain(domains):
    cloud, results, zone_id, _ = domains
    aws = cloud.cloud("test")
    records = aws.client("route53").list_resource_record_sets(
        HostedZoneId=zone_id)["ResourceRecordSets"]
    alias = [r for r in records if r["Name"] == f"{TEST_DOMAIN}." and r["Type"] == "A"]
    domain = aws.client("apigateway").get_domain_name(domainName=TEST_DOMAIN)
    assert alias[0]["AliasTarget"]["DNSName"].rstrip(".") == domain["regionalDomainName"]
    assert alias[0]["AliasTarget"]["HostedZoneId"] == domain["regionalHostedZoneId"]
    certificate = aws.client("acm").describe_certificate(
        CertificateArn=domain["regionalCertificateArn"])["Certificate"]
    assert certificate["DomainName"] == TEST_DOMAIN
    assert certificate["CertificateArn"].startswith(f"arn:aws:acm:{REGION}:")
    [option] = certificate["DomainValidationOptions"]
    names = {r["Name"] for r in records if r["Type"] == "CNAME"}
    assert option["ResourceRecord"]["Name"] in names
    assert domain["securityPolicy"] == "TLS_1_2"
    assert domain["endpointConfiguration"] == {"types": ["REGIONAL"]}
    assert [(m["basePath"], m["stage"]) for m in aws.client("apigateway").get_base_path_mappings(
        domainName=TEST_DOMAIN)["items"]] == [("(none)", "test")]


def test_the_printed_curl_line_signs_for_the_domain_and_connects_to_the_gateway(domains):
    cloud, results, _, _ = domains
    credentials = stage_credentials(cloud.store.dir, "test")
    line = domain_curl_line(REGION, credentials.access_key, credentials.secret_key,
                            results["test"].outputs["customUrl"], cloud.url)
    port = urlsplit(cloud.url).port
    assert line == (f"curl --connect-to {TEST_DOMAIN}:80:127.0.0.1:{port} --aws-sigv4 "
                    f'"aws:amz:{REGION}:execute-api" --user "{credentials.access_key}:'
                    f'{credentials.secret_key}" http://{TEST_DOMAIN}/users')


def curl_at_least(major: int, minor: int) -> str | None:
    curl = shutil.which("curl")
    version = subprocess.run([curl, "--version"], capture_output=True, text=True).stdout \
        if curl else ""
    parts = version.split()[1].split(".") if version else []
    return curl if curl and tuple(int(p) for p in parts[:2]) >= (major, minor) else None


def test_the_run_commands_domain_lines_answer_with_curl(domains):
    # What `python -m localcloud up` prints for each domain, run as a user would.
    cloud, results, _, _ = domains
    lines = custom_domain_curl_lines(list(results.values()), cloud)
    assert [line.split("--connect-to ")[1].split(":")[0] for line in lines] == [
        TEST_DOMAIN, PROD_DOMAIN]
    if curl_at_least(7, 75) is None:
        pytest.skip("needs curl 7.75 or later (--aws-sigv4)")
    for line in lines:
        done = subprocess.run(shlex.split(line) + ["-s", "-w", "\n%{http_code}"],
                              capture_output=True, text=True, timeout=30)
        body, _, status = done.stdout.rpartition("\n")
        assert status == "200", done.stdout + done.stderr
        assert set(json.loads(body)) == {"items", "nextToken"}


def test_a_second_stack_claiming_a_domain_is_refused_and_changes_nothing(domains):
    cloud, _, _, overrides = domains
    before = cloud.store.load("dev")
    with pytest.raises(DeployError, match="The domain name you provided already exists"):
        cloud.deploy("dev", {**overrides["dev"], f"{P}:domainName": TEST_DOMAIN,
                             f"{P}:hostedZoneId": domains[2]})
    mappings = cloud.cloud("test").client("apigateway").get_base_path_mappings(
        domainName=TEST_DOMAIN)["items"]
    assert [(m["basePath"], m["stage"]) for m in mappings] == [("(none)", "test")]
    assert on_domain(cloud, TEST_DOMAIN, "/users", sign="test").status == 200
    cloud.deploy("dev")  # back to the state the module started from
    assert cloud.store.load("dev").outputs == before.outputs


def test_the_owner_turns_the_default_endpoint_off_for_every_stage(domains):
    cloud, _, _, overrides = domains
    try:
        off = cloud.deploy("dev", {**overrides["dev"], f"{P}:disableExecuteApiEndpoint": "true"})
        assert ("replaced", "aws:apigateway/deployment:Deployment", "dev-deployment") in off.steps
        for stage in ("dev", "test", "prod"):
            reply = on_default_endpoint(cloud, stage)
            assert (reply.status, reply.json()) == (403, {"message": "Forbidden"}), stage
        assert on_domain(cloud, TEST_DOMAIN, "/users", sign="test").status == 200
        assert on_domain(cloud, PROD_DOMAIN, "/v1/users", sign="prod").status == 200
    finally:
        cloud.deploy("dev")
    for stage in ("dev", "test", "prod"):
        assert on_default_endpoint(cloud, stage).status == 200, stage


def test_the_setting_applies_only_when_a_stage_is_next_updated(domains):
    # What a change to the REST API alone does (no stage updated): API Gateway applies it
    # at the next update of any stage, so the default endpoint still answers until then.
    cloud, _, _, _ = domains
    record = next(r for r in cloud.store.load("dev").resources
                  if r.type == "aws:apigateway/restApi:RestApi")
    rest_api, stage = KINDS[record.type], KINDS["aws:apigateway/stage:Stage"]
    dev = cloud.cloud("dev")
    stage_record = next(r for r in cloud.store.load("dev").resources
                        if r.type == "aws:apigateway/stage:Stage")
    try:
        rest_api.update(dev, record.id, record.inputs,
                        {**record.inputs, "disableExecuteApiEndpoint": True})
        assert on_default_endpoint(cloud, "test").status == 200
        stage.update(dev, stage_record.id, stage_record.inputs, stage_record.inputs)
        assert on_default_endpoint(cloud, "test").status == 403
    finally:
        rest_api.update(dev, record.id, record.inputs, record.inputs)
        stage.update(dev, stage_record.id, stage_record.inputs, stage_record.inputs)
    assert on_default_endpoint(cloud, "test").status == 200
