"""This stage's custom domain: a REGIONAL API Gateway domain name (TLS 1.2) mapped to this
stack's stage, and, when the program owns the DNS (a hosted zone is given), the ACM
certificate it requests and validates by DNS and the alias record that points the
domain at API Gateway.

The order is API Gateway's: a domain name takes an ISSUED certificate, so with a hosted
zone the domain waits for the CertificateValidation (which waits for the validation
records); the mapping names this stack's Stage, so it waits for the stage to exist.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra import domain_names

SECURITY_POLICY = "TLS_1_2"
# How long a validation record lives: ACM reads it at issuance and at each renewal.
VALIDATION_RECORD_TTL = 60


@dataclass(frozen=True)
class StageDomainArgs:
    domain_name: str
    rest_api_id: pulumi.Input[str]
    stage_name: pulumi.Input[str]  # the Stage's own output: the mapping waits for it
    certificate_arn: str | None = None  # an ISSUED certificate in the stack's region ...
    hosted_zone_id: str | None = None   # ... or the zone to request and validate one in
    base_path: str | None = None        # None: the stage answers at the domain's root
    protect: bool = False               # a production stack's domain is protected
    tags: dict[str, str] = field(default_factory=dict)


class StageDomain(pulumi.ComponentResource):
    certificate: aws.acm.Certificate | None
    validation_records: list[aws.route53.Record]
    validation: aws.acm.CertificateValidation | None
    domain: aws.apigateway.DomainName
    mapping: aws.apigateway.BasePathMapping
    alias_record: aws.route53.Record | None
    url: pulumi.Output[str]

    def __init__(self, name: str, args: StageDomainArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("user-service:api:StageDomain", name, None, opts)
        if bool(args.certificate_arn) == bool(args.hosted_zone_id):
            raise ValueError("a stage domain takes either a certificate ARN or a hosted zone")
        child = pulumi.ResourceOptions(parent=self)
        self.certificate, self.validation, self.validation_records = None, None, []
        self.alias_record = None
        certificate_arn: pulumi.Input[str] = (
            self._requested_certificate(name, args) if args.hosted_zone_id
            else args.certificate_arn)

        self.domain = aws.apigateway.DomainName(
            f"{name}-domain-name",
            domain_name=args.domain_name,
            regional_certificate_arn=certificate_arn,
            endpoint_configuration=aws.apigateway.DomainNameEndpointConfigurationArgs(
                types="REGIONAL"),
            security_policy=SECURITY_POLICY,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        # An empty base path is left out, never sent as "" (the provider would send it on).
        self.mapping = aws.apigateway.BasePathMapping(
            f"{name}-base-path-mapping",
            rest_api=args.rest_api_id,
            stage_name=args.stage_name,
            domain_name=self.domain.domain_name,
            **({"base_path": args.base_path} if args.base_path else {}),
            opts=child,
        )
        if args.hosted_zone_id:
            # callers resolve the domain to API Gateway's regional endpoint for it
            self.alias_record = aws.route53.Record(
                f"{name}-alias-record",
                zone_id=args.hosted_zone_id,
                name=self.domain.domain_name,
                type="A",
                aliases=[aws.route53.RecordAliasArgs(
                    name=self.domain.regional_domain_name,
                    zone_id=self.domain.regional_zone_id,
                    evaluate_target_health=True)],
                opts=child,
            )
        self.url = self.mapping.domain_name.apply(
            lambda domain: domain_names.custom_url(domain, args.base_path))
        self.register_outputs({"domainName": self.domain.domain_name,
                               "regionalDomainName": self.domain.regional_domain_name,
                               "url": self.url})

    def _requested_certificate(self, name: str, args: StageDomainArgs) -> pulumi.Output[str]:
        """A certificate for the domain, validated by a DNS record in the hosted zone; the
        ARN once ACM has issued it."""
        child = pulumi.ResourceOptions(parent=self)
        self.certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=args.domain_name,
            validation_method="DNS",
            tags=args.tags,
            opts=child,
        )
        # One record per name the certificate covers (here: the domain alone), taken from
        # ACM's validation option for that name.
        for index, covered in enumerate([args.domain_name]):
            option = self.certificate.domain_validation_options.apply(
                lambda options, covered=covered: _option_for(options, covered))
            self.validation_records.append(aws.route53.Record(
                f"{name}-validation-record-{index}",
                zone_id=args.hosted_zone_id,
                name=option.apply(lambda o: o.resource_record_name),
                type=option.apply(lambda o: o.resource_record_type),
                records=[option.apply(lambda o: o.resource_record_value)],
                ttl=VALIDATION_RECORD_TTL,
                # A renewal or a second certificate for the name asks for the same record.
                allow_overwrite=True,
                opts=child,
            ))
        self.validation = aws.acm.CertificateValidation(
            f"{name}-certificate-validation",
            certificate_arn=self.certificate.arn,
            validation_record_fqdns=[record.fqdn for record in self.validation_records],
            opts=child,
        )
        return self.validation.certificate_arn


def _option_for(options, domain: str):
    """ACM's DNS validation option for `domain` (the provider gives them as a set)."""
    for option in options or []:
        if option.domain_name == domain:
            return option
    raise ValueError(f"ACM gave no DNS validation option for {domain}")
