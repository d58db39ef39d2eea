"""ACM certificates, as the AWS provider manages them, and the wait for their issuance.

ACM issues a certificate requested with DNS validation once every name's validation
record (a CNAME it names) is in the DNS. moto instead marks any requested certificate
issued after a delay, records or not; so `CertificateValidation` decides as ACM does,
from the records in the emulator's Route 53 zones. Where the provider would wait (up to
its 75-minute timeout, terraform-provider-aws internal/service/acm/
certificate_validation.go) for a record that is not there, the local cloud says so at
once.
"""
from __future__ import annotations

from localcloud.kinds import DeployError, Kind, tags_of


def validation_options(certificate: dict) -> list[dict]:
    """The provider's domain_validation_options of an ACM certificate description."""
    return [{"domainName": option["DomainName"],
             "resourceRecordName": option["ResourceRecord"]["Name"],
             "resourceRecordType": option["ResourceRecord"]["Type"],
             "resourceRecordValue": option["ResourceRecord"]["Value"]}
            for option in certificate.get("DomainValidationOptions") or []
            if option.get("ResourceRecord")]


def _describe(cloud, arn: str) -> dict:
    acm = cloud.client("acm")
    try:
        return acm.describe_certificate(CertificateArn=arn)["Certificate"]
    except acm.exceptions.ResourceNotFoundException:
        raise DeployError(f"acm: ResourceNotFoundException: Could not find certificate {arn} "
                          f"in {cloud.region}") from None


class Certificate(Kind):
    replace_on = ("domainName", "subjectAlternativeNames", "validationMethod")

    def create(self, cloud, name, i):
        if i.get("validationMethod") != "DNS":
            raise DeployError(f"acm.Certificate {i['domainName']}: the local cloud requests "
                              "certificates with DNS validation only (validation_method=DNS)")
        arguments = {"DomainName": i["domainName"], "ValidationMethod": "DNS"}
        if i.get("subjectAlternativeNames"):
            arguments["SubjectAlternativeNames"] = list(i["subjectAlternativeNames"])
        tags = [{"Key": k, "Value": v} for k, v in tags_of(i).items()]
        if tags:
            arguments["Tags"] = tags
        arn = cloud.client("acm").request_certificate(**arguments)["CertificateArn"]
        return arn, self._outputs(cloud, arn)

    def update(self, cloud, id_, old, i):
        return self._outputs(cloud, id_)  # tags only: nothing ACM serves changes

    @staticmethod
    def _outputs(cloud, arn: str) -> dict:
        certificate = _describe(cloud, arn)
        return {"arn": arn, "status": certificate["Status"], "type": certificate["Type"],
                "domainValidationOptions": validation_options(certificate)}

    def delete(self, cloud, id_, i):
        acm = cloud.client("acm")
        try:
            acm.delete_certificate(CertificateArn=id_)
        except acm.exceptions.ResourceNotFoundException:
            pass


def _records_in_route53(cloud) -> set[tuple[str, str, str]]:
    """(name without the final dot, type, value) of every record in every hosted zone."""
    route53 = cloud.client("route53")
    found = set()
    for page in route53.get_paginator("list_hosted_zones").paginate():
        for zone in page["HostedZones"]:
            for records in route53.get_paginator("list_resource_record_sets").paginate(
                    HostedZoneId=zone["Id"]):
                for record in records["ResourceRecordSets"]:
                    for value in record.get("ResourceRecords") or []:
                        found.add((record["Name"].rstrip(".").lower(), record["Type"],
                                   value["Value"].rstrip(".").lower()))
    return found


class CertificateValidation(Kind):
    """Not an AWS resource: the wait for ACM to issue the certificate. Deleting it only
    stops waiting (the provider's delete is a no-op)."""
    replace_on = ("certificateArn", "validationRecordFqdns")

    def create(self, cloud, name, i):
        arn = i["certificateArn"]
        certificate = _describe(cloud, arn)
        if certificate["Type"] != "AMAZON_ISSUED":
            raise DeployError(f"acm.CertificateValidation: ACM Certificate ({arn}) has type "
                              f"{certificate['Type']}, no validation necessary")
        options = validation_options(certificate)
        fqdns = {f.rstrip(".") for f in i.get("validationRecordFqdns") or []}
        if fqdns:
            missing = [f"missing {o['domainName']} DNS validation record: "
                       f"{o['resourceRecordName'].rstrip('.')}" for o in options
                       if o["resourceRecordName"].rstrip(".") not in fqdns]
            if missing:
                raise DeployError(f"acm.CertificateValidation ({arn}): " + "; ".join(missing))
        published = _records_in_route53(cloud)
        absent = [o for o in options if (o["resourceRecordName"].rstrip(".").lower(),
                                         o["resourceRecordType"],
                                         o["resourceRecordValue"].rstrip(".").lower())
                  not in published]
        if absent:
            raise DeployError(
                f"waiting for ACM Certificate ({arn}) to be issued: ACM issues it only once "
                "its validation records are in the DNS, and these are in no Route 53 hosted "
                "zone: " + "; ".join(f"{o['resourceRecordName']} {o['resourceRecordType']} "
                                     f"{o['resourceRecordValue']}" for o in absent)
                + " (on AWS the update would wait 75 minutes, then fail)")
        return str(certificate.get("CreatedAt") or arn), {"certificateArn": arn}

    def update(self, cloud, id_, old, i):
        return {"certificateArn": i["certificateArn"]}

    def delete(self, cloud, id_, i):
        return None
