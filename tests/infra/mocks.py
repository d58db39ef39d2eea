"""Mocks that answer the program the way the engine and the AWS provider would: realistic
ids and ARNs (derived from each resource's name, so runs are repeatable) in the region's
partition, the invokes the program makes, and StackReference as a given backend (Pulumi
Cloud or DIY) resolves it, from the owner stack's real outputs."""
from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass

import pulumi

from infra import partitions, stack_references

ACCOUNT_ID = "123456789012"
# Route 53 hosted zones that exist in the account: id -> the zone's name.
HOSTED_ZONES = {"Z0123456789EXAMPLEZONE": "example.com"}
# API Gateway's hosted zone for regional endpoints, which alias records name: us-east-1's
# is aws-cdk's region-info value (apiGatewayRegionalHostedZoneId); the others are made up.
REGIONAL_ZONE_IDS = {"us-east-1": "Z1UJRXOUMOOFQ8"}


@dataclass(frozen=True)
class BackendModel:
    """A backend the program runs on: its stack-reference rules, and the organization
    `pulumi.get_organization()` returns there."""
    name: str
    rules: stack_references.Backend
    organization: str


# Pulumi Cloud: the stack's own organization (any name; "acme" here).
PULUMI_CLOUD = BackendModel("cloud", stack_references.PULUMI_CLOUD, "acme")
# DIY (pulumi login --local): always the organization "organization".
DIY = BackendModel("diy", stack_references.DIY, "organization")


def short_id(*parts: object, length: int = 10) -> str:
    """An API Gateway-style id (lowercase letters and digits), stable for the same parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    alphabet = string.ascii_lowercase + string.digits
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def configured_region() -> str:
    """The provider's region: the stack's aws:region, as the default provider reads it."""
    return pulumi.Config("aws").require("region")


class AwsMocks(pulumi.runtime.Mocks):
    def __init__(self, backend: BackendModel, stacks: dict[str, dict] | None = None,
                 missing_objects: tuple[str, ...] = (),
                 hosted_zones: dict[str, str] | None = None) -> None:
        self.backend = backend
        # Every other stack that exists, by organization/project/stack -> its outputs ({}
        # for one created but never updated). The stack being updated exists too.
        self.stacks = stacks or {}
        # S3 keys that are not in the bucket (every other key a program asks for is).
        self.missing_objects = set(missing_objects)
        self.hosted_zones = dict(HOSTED_ZONES if hosted_zones is None else hosted_zones)

    @property
    def region(self) -> str:
        return configured_region()

    @property
    def partition(self) -> str:
        return partitions.provider_partition_result(self.region)["partition"]

    @property
    def dns_suffix(self) -> str:
        return partitions.provider_partition_result(self.region)["dnsSuffix"]

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if region else ''}:"
                f"{ACCOUNT_ID if account else ''}:{resource}")

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "id": ACCOUNT_ID, "userId": "AIDAEXAMPLEUSERID",
                    "arn": self.arn("iam", "user/deployer", region=False)}, []
        if args.token == "aws:index/getPartition:getPartition":
            return partitions.provider_partition_result(self.region), []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region,
                    "endpoint": f"ec2.{self.region}.{self.dns_suffix}",
                    "description": self.region}, []
        if args.token == "aws:s3/getObjects:getObjects":
            prefix = args.args.get("prefix") or ""
            keys = [] if prefix in self.missing_objects else [prefix]
            return {"bucket": args.args["bucket"], "prefix": prefix, "id": args.args["bucket"],
                    "keys": keys}, []
        raise NotImplementedError(f"the mocks do not answer the invoke {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.custom is False:  # a component: the engine gives it no id and no state
            return None, {}
        handler = getattr(self, "_" + args.typ.split(":")[-1], None)
        if handler is None:
            raise NotImplementedError(f"the mocks do not know the resource type {args.typ}")
        resource_id, outputs = handler(args.name, dict(args.inputs))
        return resource_id, {**args.inputs, **outputs}

    # pulumi:pulumi:StackReference, as the backend answers it: its rules judge the name,
    # a stack that does not exist is "unknown stack", one never updated has no outputs.
    def _StackReference(self, name, inputs):
        reference = inputs["name"]
        this_stack = f"{self.backend.organization}/{pulumi.get_project()}/{pulumi.get_stack()}"
        existing = {this_stack: {}, **self.stacks}
        outputs = self.backend.rules.outputs(reference, pulumi.get_project(), existing)
        return reference, {"name": reference, "outputs": outputs, "secretOutputNames": []}

    def _Table(self, name, inputs):
        table = inputs["name"]
        return table, {"arn": self.arn("dynamodb", f"table/{table}")}

    def _Role(self, name, inputs):
        role = inputs["name"]
        return role, {"arn": self.arn("iam", f"role/{role}", region=False),
                      "uniqueId": "AROA" + short_id(role, length=17).upper()}

    def _RolePolicy(self, name, inputs):
        policy = inputs.get("name") or f"{name}-{short_id(name, length=7)}"
        return f"{inputs['role']}:{policy}", {"name": policy}

    def _LogGroup(self, name, inputs):
        group = inputs["name"]
        return group, {"arn": self.arn("logs", f"log-group:{group}")}

    def _invoke_arn(self, arn: str) -> str:
        return (f"arn:{self.partition}:apigateway:{self.region}:lambda:path/2015-03-31/"
                f"functions/{arn}/invocations")

    def _Function(self, name, inputs):
        function = inputs["name"]
        arn = self.arn("lambda", f"function:{function}")
        version = "1" if inputs.get("publish") else "$LATEST"  # a new function's first
        return function, {"arn": arn, "qualifiedArn": f"{arn}:{version}", "version": version,
                          "invokeArn": self._invoke_arn(arn)}

    def _Alias(self, name, inputs):
        arn = self.arn("lambda", f"function:{inputs['functionName']}:{inputs['name']}")
        return arn, {"arn": arn, "invokeArn": self._invoke_arn(arn)}

    def _Permission(self, name, inputs):
        return inputs["statementId"], {}

    def _Policy(self, name, inputs):
        arn = self.arn("iam", f"policy/{inputs['name']}", region=False)
        return arn, {"arn": arn, "policyId": "ANPA" + short_id(arn, length=17).upper()}

    def _Bucket(self, name, inputs):
        bucket = inputs["bucket"]
        return bucket, {"arn": self.arn("s3", bucket, region=False, account=False),
                        "bucket": bucket, "bucketDomainName": f"{bucket}.s3.{self.dns_suffix}"}

    def _BucketPublicAccessBlock(self, name, inputs):
        return inputs["bucket"], {}

    def _BucketObjectv2(self, name, inputs):
        return f"{inputs['bucket']}/{inputs['key']}", {"etag": short_id(inputs["key"], length=32),
                                                       "versionId": ""}

    def _Account(self, name, inputs):
        return "api-gateway-account", {}

    def _RestApi(self, name, inputs):
        api = short_id("restapi", inputs["name"])
        return api, {"rootResourceId": short_id("root", api, length=10),
                     "arn": self.arn("apigateway", f"/restapis/{api}", account=False),
                     "executionArn": self.arn("execute-api", api)}

    def _Deployment(self, name, inputs):
        # A new snapshot gets a new id: derive it from what triggers the redeploy.
        deployment = short_id("deployment", pulumi.get_stack(), inputs["restApi"], sorted(
            (inputs.get("triggers") or {}).items()), length=6)
        return deployment, {"createdDate": "2026-11-21T00:00:00Z"}

    def _Stage(self, name, inputs):
        api, stage = inputs["restApi"], inputs["stageName"]
        return f"ags-{api}-{stage}", {
            "arn": self.arn("apigateway", f"/restapis/{api}/stages/{stage}", account=False),
            "executionArn": self.arn("execute-api", f"{api}/{stage}"),
            "invokeUrl": f"https://{api}.execute-api.{self.region}.{self.dns_suffix}/{stage}"}

    def _MethodSettings(self, name, inputs):
        return f"{inputs['restApi']}-{inputs['stageName']}-{inputs['methodPath']}", {}

    # Custom domains: API Gateway's domain name and mapping, ACM, Route 53.
    def _DomainName(self, name, inputs):
        domain = inputs["domainName"]
        zone = REGIONAL_ZONE_IDS.get(self.region) or "Z" + short_id("zone", self.region,
                                                                     length=13).upper()
        return domain, {
            "arn": self.arn("apigateway", f"/domainnames/{domain}", account=False),
            "regionalDomainName": (f"d-{short_id('domain', domain)}.execute-api."
                                   f"{self.region}.{self.dns_suffix}"),
            "regionalZoneId": zone, "certificateUploadDate": "2026-11-21T00:00:00Z"}

    def _BasePathMapping(self, name, inputs):
        # The provider's id: DOMAIN/BASEPATH, an empty base path left empty.
        return f"{inputs['domainName']}/{inputs.get('basePath') or ''}", {}

    def _Certificate(self, name, inputs):
        domain = inputs["domainName"]
        digest = hashlib.sha256(f"certificate|{domain}".encode()).hexdigest()
        certificate_id = "-".join((digest[:8], digest[8:12], digest[12:16], digest[16:20],
                                   digest[20:32]))
        arn = self.arn("acm", f"certificate/{certificate_id}")
        names = [domain, *(inputs.get("subjectAlternativeNames") or [])]
        return arn, {"arn": arn, "status": "PENDING_VALIDATION", "domainValidationOptions": [
            {"domainName": covered,
             "resourceRecordName": f"_{short_id('record', covered, length=32)}.{covered}.",
             "resourceRecordType": "CNAME",
             "resourceRecordValue": f"_{short_id('value', covered, length=32)}."
                                    f"{short_id('acm', length=10)}.acm-validations.aws."}
            for covered in names]}

    def _CertificateValidation(self, name, inputs):
        return "2026-11-21 00:00:00 +0000 UTC", {"certificateArn": inputs["certificateArn"]}

    def _Record(self, name, inputs):
        zone_id = inputs["zoneId"]
        if zone_id not in self.hosted_zones:
            raise ValueError(f"NoSuchHostedZone: No hosted zone found with ID: {zone_id}")
        # The provider's fqdn: the name in lower case without its final dot, with the
        # zone's name appended unless it ends with it.
        zone = self.hosted_zones[zone_id]
        fqdn = inputs["name"].rstrip(".").lower()
        if not fqdn.endswith(zone):
            fqdn = f"{fqdn}.{zone}"
        return f"{zone_id}_{inputs['name']}_{inputs['type']}", {"fqdn": fqdn}
