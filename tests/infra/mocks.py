"""Mocks that answer the program the way the engine and the AWS provider would: realistic
ids and ARNs (derived from each resource's name, so runs are repeatable), the invokes the
program makes, and StackReference with the owner stack's real outputs."""
from __future__ import annotations

import hashlib
import string

import pulumi

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


def short_id(*parts: object, length: int = 10) -> str:
    """An API Gateway-style id (lowercase letters and digits), stable for the same parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    alphabet = string.ascii_lowercase + string.digits
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


class AwsMocks(pulumi.runtime.Mocks):
    def __init__(self, stack_outputs: dict[str, dict] | None = None,
                 missing_objects: tuple[str, ...] = ()) -> None:
        # Stack name (as the program names it) -> that stack's outputs, for StackReference.
        self.stack_outputs = stack_outputs or {}
        # S3 keys that are not in the bucket (every other key a program asks for is).
        self.missing_objects = set(missing_objects)

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "id": ACCOUNT_ID, "userId": "AIDAEXAMPLEUSERID",
                    "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/deployer"}, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": REGION, "region": REGION, "id": REGION,
                    "endpoint": f"ec2.{REGION}.amazonaws.com",
                    "description": "US East (N. Virginia)"}, []
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

    # pulumi:pulumi:StackReference, as the engine answers it.
    # A stack that was created but never updated has no outputs; the stack being updated
    # exists; any other unknown stack is an error, as the engine says.
    def _StackReference(self, name, inputs):
        stack = inputs["name"]
        if stack not in self.stack_outputs and stack != pulumi.get_stack():
            raise ValueError(f"unknown stack reference {stack!r}")
        return stack, {"name": stack, "outputs": self.stack_outputs.get(stack, {}),
                       "secretOutputNames": []}

    def _Table(self, name, inputs):
        table = inputs["name"]
        return table, {"arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"}

    def _Role(self, name, inputs):
        role = inputs["name"]
        return role, {"arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{role}",
                      "uniqueId": "AROA" + short_id(role, length=17).upper()}

    def _RolePolicy(self, name, inputs):
        policy = inputs.get("name") or f"{name}-{short_id(name, length=7)}"
        return f"{inputs['role']}:{policy}", {"name": policy}

    def _LogGroup(self, name, inputs):
        group = inputs["name"]
        return group, {"arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}"}

    def _Function(self, name, inputs):
        function = inputs["name"]
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}"
        version = "1" if inputs.get("publish") else "$LATEST"  # a new function's first
        return function, {
            "arn": arn, "qualifiedArn": f"{arn}:{version}", "version": version,
            "invokeArn": f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
                         f"{arn}/invocations"}

    def _Alias(self, name, inputs):
        arn = (f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
               f"{inputs['functionName']}:{inputs['name']}")
        return arn, {"arn": arn, "invokeArn": f"arn:aws:apigateway:{REGION}:lambda:path/"
                                              f"2015-03-31/functions/{arn}/invocations"}

    def _Permission(self, name, inputs):
        return inputs["statementId"], {}

    def _Policy(self, name, inputs):
        arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/{inputs['name']}"
        return arn, {"arn": arn, "policyId": "ANPA" + short_id(arn, length=17).upper()}

    def _Bucket(self, name, inputs):
        bucket = inputs["bucket"]
        return bucket, {"arn": f"arn:aws:s3:::{bucket}", "bucket": bucket,
                        "bucketDomainName": f"{bucket}.s3.amazonaws.com"}

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
                     "arn": f"arn:aws:apigateway:{REGION}::/restapis/{api}",
                     "executionArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api}"}

    def _Deployment(self, name, inputs):
        # A new snapshot gets a new id: derive it from what triggers the redeploy.
        deployment = short_id("deployment", pulumi.get_stack(), inputs["restApi"], sorted(
            (inputs.get("triggers") or {}).items()), length=6)
        return deployment, {"createdDate": "2026-11-21T00:00:00Z"}

    def _Stage(self, name, inputs):
        api, stage = inputs["restApi"], inputs["stageName"]
        return f"ags-{api}-{stage}", {
            "arn": f"arn:aws:apigateway:{REGION}::/restapis/{api}/stages/{stage}",
            "executionArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api}/{stage}",
            "invokeUrl": f"https://{api}.execute-api.{REGION}.amazonaws.com/{stage}"}

    def _MethodSettings(self, name, inputs):
        return f"{inputs['restApi']}-{inputs['stageName']}-{inputs['methodPath']}", {}
