"""With the API's default endpoint off, every stageUrl answers 403 Forbidden: the promotion
tool's smoke checks then call each stage on its custom domain (its customUrl), which the
local gateway serves by Host, signed for the domain."""
from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import pytest

from promotion.__main__ import main
from promotion.local_backend import LocalBackend
from tests.e2e.conftest import UNTHROTTLED
from tests.localcloud.builders import self_signed

P = "user-service"
TEST_DOMAIN, PROD_DOMAIN = "api-test.example.com", "api.example.com"


@pytest.fixture(scope="module")
def off(running_cloud):
    """Every stack deployed, the owner with the default endpoint off, test and prod each
    on a domain (prod under a base path)."""
    cloud = running_cloud
    cloud.reset()
    aws = cloud.cloud("prod")
    zone = aws.client("route53").create_hosted_zone(
        Name="example.com", CallerReference="smoke-on-domains")["HostedZone"]["Id"]
    body, key = self_signed(PROD_DOMAIN)
    certificate = aws.client("acm").import_certificate(Certificate=body, PrivateKey=key)
    overrides = {
        "dev": {**UNTHROTTLED, f"{P}:disableExecuteApiEndpoint": "true"},
        "test": {**UNTHROTTLED, f"{P}:domainName": TEST_DOMAIN,
                 f"{P}:hostedZoneId": zone.rsplit("/", 1)[-1]},
        "prod": {**UNTHROTTLED, f"{P}:domainName": PROD_DOMAIN, f"{P}:basePath": "v1",
                 f"{P}:certificateArn": certificate["CertificateArn"]},
    }
    for stack, values in overrides.items():
        cloud.store.save_config_overrides(stack, values)
    cloud.deploy_all()
    yield cloud
    cloud.reset()  # the next module starts from the shipped stack files


def test_the_smoke_checks_reach_each_stage_on_its_domain(off):
    cloud = off
    backend = LocalBackend(cloud.store, cloud.cloud, report=lambda line: None)
    # On its stageUrl, the check is refused: the default endpoint is off.
    outputs = cloud.store.load("test").outputs
    on_stage_url = backend.smoke_check("test", {**outputs, "disableExecuteApiEndpoint": False})
    assert (on_stage_url.url, on_stage_url.status) == (
        f"{cloud.url}/test/users?limit=1", 403), str(on_stage_url)
    assert "Forbidden" in on_stage_url.detail
    for stack, url in (("test", f"https://{TEST_DOMAIN}"), ("prod", f"https://{PROD_DOMAIN}/v1")):
        result = backend.smoke_check(stack, cloud.store.load(stack).outputs)
        assert (result.url, result.status) == (f"{url}/users?limit=1", 200), str(result)

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["promote", "--from", "test", "--to", "prod", "--local",
                     "--state-dir", str(cloud.store.dir)])
    assert (code, err.getvalue()) == (0, ""), err.getvalue()
    assert "smoke check: test answers 200" in out.getvalue()
    assert "smoke check: prod answers 200" in out.getvalue()
    assert cloud.store.load("prod").outputs["deploymentId"] == \
        cloud.store.load("test").outputs["deploymentId"]
