"""Mocks that answer the program the way the engine and the AWS provider would: realistic
ids and ARNs (derived from each resource's name, so runs are repeatable) in the region's
partition, the invokes the program makes, and StackReference as a given backend (Pulumi
Cloud or DIY) resolves it, from the owner stack's real outputs.

A resource's outputs are what the provider's state holds after `pulumi up`: the inputs it
keeps, its defaults for the ones left out, and what AWS computes, from what an `Account`
holds across updates (the bytes of S3 objects, each function's published versions, each
stack's last Deployment). So a function's version grows only when its code or
configuration changes, its CodeSha256 is the hash of the archive it was given, and a
Deployment keeps its id until its triggers replace it."""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import string
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Recorded:
    """A resource as the engine's state last recorded it."""
    id: str
    inputs: dict
    outputs: dict


# When the account's history starts; every change it records is a second later.
EPOCH = datetime.datetime(2026, 11, 21, tzinfo=datetime.timezone.utc)


class NotFoundError(Exception):
    """What AWS answers when a resource names something the account does not hold."""


@dataclass
class Account:
    """One AWS account across the updates of a test, as AWS keeps it: the bytes of every S3
    object (bucket, key), each function's published versions (what each one froze, oldest
    first: version N is the N-th), and, per stack and resource, the id and inputs of its
    last create or update (so an update keeps an id and a replacement makes a new one)."""
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    versions: dict[str, list[str]] = field(default_factory=dict)
    resources: dict[tuple[str, str, str], Recorded] = field(default_factory=dict)
    # Each function's code and configuration when it last changed, and when that was.
    modified: dict[str, tuple[str, datetime.datetime]] = field(default_factory=dict)
    changes: int = 0

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        self.objects[(bucket, key)] = body

    def publish_versions(self, function: str, count: int) -> None:
        """`count` versions published before the test's history (with other code)."""
        for _ in range(count):
            published = self.versions.setdefault(function, [])
            published.append(f"published before this history: {len(published) + 1}")

    def tick(self) -> datetime.datetime:
        self.changes += 1
        return EPOCH + datetime.timedelta(seconds=self.changes)


# The resource types whose provider state has tagsAll.
TAGGABLE = {f"aws:{module}:{type_}" for module, type_ in (
    ("dynamodb/table", "Table"), ("iam/role", "Role"), ("cloudwatch/logGroup", "LogGroup"),
    ("lambda/function", "Function"), ("iam/policy", "Policy"), ("s3/bucket", "Bucket"),
    ("s3/bucketObjectv2", "BucketObjectv2"), ("apigateway/restApi", "RestApi"),
    ("apigateway/stage", "Stage"), ("apigateway/domainName", "DomainName"),
    ("acm/certificate", "Certificate"))}


def tags_all(tags: dict | None) -> dict:
    """The provider's tagsAll: its default_tags (aws:defaultTags), overridden by the
    resource's own tags."""
    defaults = (pulumi.Config("aws").get_object("defaultTags") or {}).get("tags") or {}
    return {**defaults, **(tags or {})}


class AwsMocks(pulumi.runtime.Mocks):
    def __init__(self, backend: BackendModel, stacks: dict[str, dict] | None = None,
                 account: Account | None = None,
                 hosted_zones: dict[str, str] | None = None) -> None:
        self.backend = backend
        # Every other stack that exists, by organization/project/stack -> its outputs ({}
        # for one created but never updated). The stack being updated exists too.
        self.stacks = stacks or {}
        # What the account holds: the objects in its buckets, published versions, ...
        self.account = account if account is not None else Account()
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
            # ListObjectsV2: the bucket's keys that start with the prefix, in key order.
            bucket, prefix = args.args["bucket"], args.args.get("prefix") or ""
            keys = sorted(k for b, k in self.account.objects if b == bucket
                          and k.startswith(prefix))[:int(args.args.get("maxKeys") or 1000)]
            return {"bucket": bucket, "prefix": prefix, "id": bucket, "keys": keys}, []
        raise NotImplementedError(f"the mocks do not answer the invoke {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.custom is False:  # a component: the engine gives it no id and no state
            return None, {}
        handler = getattr(self, "_" + args.typ.split(":")[-1], None)
        if handler is None:
            raise NotImplementedError(f"the mocks do not know the resource type {args.typ}")
        resource_id, outputs = handler(args.name, dict(args.inputs))
        state = {**args.inputs, **outputs}
        if args.typ in TAGGABLE:
            state["tagsAll"] = tags_all(args.inputs.get("tags"))
        if not pulumi.runtime.is_dry_run():
            self.account.resources[self._key(args.name)] = Recorded(
                resource_id, dict(args.inputs), state)
        return resource_id, state

    @staticmethod
    def _key(name: str) -> tuple[str, str, str]:
        return (pulumi.get_project(), pulumi.get_stack(), name)

    def _last(self, name: str) -> Recorded | None:
        """This stack's resource of that name as its last update left it, if any."""
        return self.account.resources.get(self._key(name))

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

    def _code(self, function: str, inputs: dict) -> bytes:
        """The archive Lambda reads: the S3 object the function names (GetObject)."""
        body = self.account.objects.get((inputs.get("s3Bucket"), inputs.get("s3Key")))
        if body is None:
            raise NotFoundError(
                f"creating Lambda Function ({function}): InvalidParameterValueException: Error "
                "occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The "
                "specified key does not exist.")
        return body

    def _Function(self, name, inputs):
        # The provider's state is the function as GetFunction reads it back: its defaults
        # for what was left out, Lambda's CodeSha256 (base64 of the archive's SHA-256), and
        # the newest published version (ListVersionsByFunction's last; $LATEST if none).
        function = inputs["name"]
        arn = self.arn("lambda", f"function:{function}")
        code = self._code(function, inputs)
        configuration = {
            "codeSha256": base64.b64encode(hashlib.sha256(code).digest()).decode(),
            "sourceCodeSize": len(code),
            "memorySize": inputs.get("memorySize") or 128, "timeout": inputs.get("timeout") or 3,
            "packageType": "Zip", "architectures": inputs.get("architectures") or ["x86_64"],
            "tracingConfig": inputs.get("tracingConfig") or {"mode": "PassThrough"},
        }
        # A version freezes the code and the configuration; Lambda publishes one only when
        # either changed since the last (PublishVersion), and the provider asks only when
        # `publish` is set.
        frozen = json.dumps({key: inputs.get(key) for key in (
            "role", "handler", "runtime", "environment", "description")} | {
            key: configuration[key] for key in (
                "codeSha256", "memorySize", "timeout", "tracingConfig", "architectures")},
            sort_keys=True, default=str)
        published = self.account.versions.setdefault(function, [])
        changed = not published or published[-1] != frozen
        if inputs.get("publish") and changed and not pulumi.runtime.is_dry_run():
            published.append(frozen)
        version = str(len(published)) if published else "$LATEST"
        # LastModified moves with every change of code or configuration.
        modified = self.account.modified.get(function)
        if modified is None or modified[0] != frozen:
            modified = self.account.modified[function] = (frozen, self.account.tick())
        return function, {
            **configuration, "arn": arn, "version": version,
            "qualifiedArn": f"{arn}:{version}", "invokeArn": self._invoke_arn(arn),
            "qualifiedInvokeArn": self._invoke_arn(f"{arn}:{version}"),
            "lastModified": modified[1].strftime("%Y-%m-%dT%H:%M:%S.000+0000")}

    def _Alias(self, name, inputs):
        function, version = inputs["functionName"], inputs["functionVersion"]
        published = len(self.account.versions.get(function, []))
        if version != "$LATEST" and not (version.isdigit() and 1 <= int(version) <= published):
            # CreateAlias/UpdateAlias on a version that was never published.
            raise NotFoundError(
                f"creating Lambda Alias ({inputs['name']}): ResourceNotFoundException: Function "
                f"not found: {self.arn('lambda', f'function:{function}:{version}')}")
        arn = self.arn("lambda", f"function:{function}:{inputs['name']}")
        return arn, {"arn": arn, "invokeArn": self._invoke_arn(arn)}

    def _Permission(self, name, inputs):
        return inputs["statementId"], {}

    def _Policy(self, name, inputs):
        arn = self.arn("iam", f"policy/{inputs['name']}", region=False)
        return arn, {"arn": arn, "policyId": "ANPA" + short_id(arn, length=17).upper(),
                     "attachmentCount": 0}

    def _Bucket(self, name, inputs):
        bucket = inputs["bucket"]
        return bucket, {"arn": self.arn("s3", bucket, region=False, account=False),
                        "bucket": bucket, "bucketDomainName": f"{bucket}.s3.{self.dns_suffix}",
                        "bucketRegionalDomainName": f"{bucket}.s3.{self.region}.{self.dns_suffix}",
                        "bucketRegion": self.region}

    def _BucketPublicAccessBlock(self, name, inputs):
        return inputs["bucket"], {}

    def _BucketObjectv2(self, name, inputs):
        # PutObject: the object holds the asset's bytes; a single-part upload's ETag is
        # their MD5 (the provider strips the quotes); an unversioned bucket gives no
        # version id.
        bucket, key = inputs["bucket"], inputs["key"]
        source = inputs.get("source")
        body = (inputs.get("content") or "").encode() if source is None else \
            open(source.path, "rb").read()
        if not pulumi.runtime.is_dry_run():
            self.account.put_object(bucket, key, body)
        return f"{bucket}/{key}", {"etag": hashlib.md5(body).hexdigest(), "versionId": ""}

    def _Account(self, name, inputs):
        return "api-gateway-account", {}

    def _RestApi(self, name, inputs):
        api = short_id("restapi", inputs["name"])
        return api, {"rootResourceId": short_id("root", api, length=10),
                     "arn": self.arn("apigateway", f"/restapis/{api}", account=False),
                     "executionArn": self.arn("execute-api", api)}

    def _Deployment(self, name, inputs):
        # Its REST API, triggers and variables replace it (ForceNew in the provider's
        # aws_api_gateway_deployment): a new snapshot, with a new id and date. Its
        # description is updated in place.
        last = self._last(name)
        if last is not None and all(last.inputs.get(k) == inputs.get(k)
                                    for k in ("restApi", "triggers", "variables")):
            return last.id, {"createdDate": last.outputs["createdDate"]}
        created = self.account.tick()
        return short_id("deployment", pulumi.get_stack(), self.account.changes, length=6), {
            "createdDate": created.strftime("%Y-%m-%dT%H:%M:%SZ")}

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
