"""Every resource type the local cloud can deploy, by Pulumi type token."""
from __future__ import annotations

from localcloud.acm import resources as acm
from localcloud.apigateway import resources as apigateway
from localcloud.awslambda import resources as awslambda
from localcloud.dynamodb import resources as dynamodb
from localcloud.iam import resources as iam
from localcloud.kinds import Kind
from localcloud.logs import resources as logs
from localcloud.route53 import resources as route53
from localcloud.s3 import resources as s3

KINDS: dict[str, Kind] = {
    "aws:dynamodb/table:Table": dynamodb.Table(),
    "aws:iam/role:Role": iam.Role(),
    "aws:iam/rolePolicy:RolePolicy": iam.RolePolicy(),
    "aws:iam/policy:Policy": iam.Policy(),
    "aws:cloudwatch/logGroup:LogGroup": logs.LogGroup(),
    "aws:lambda/function:Function": awslambda.Function(),
    "aws:lambda/alias:Alias": awslambda.Alias(),
    "aws:lambda/permission:Permission": awslambda.Permission(),
    "aws:s3/bucket:Bucket": s3.Bucket(),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": s3.BucketPublicAccessBlock(),
    "aws:s3/bucketObjectv2:BucketObjectv2": s3.BucketObjectv2(),
    "aws:apigateway/restApi:RestApi": apigateway.RestApi(),
    "aws:apigateway/deployment:Deployment": apigateway.Deployment(),
    "aws:apigateway/stage:Stage": apigateway.Stage(),
    "aws:apigateway/methodSettings:MethodSettings": apigateway.MethodSettings(),
    "aws:apigateway/account:Account": apigateway.Account(),
    "aws:apigateway/domainName:DomainName": apigateway.DomainName(),
    "aws:apigateway/basePathMapping:BasePathMapping": apigateway.BasePathMapping(),
    "aws:acm/certificate:Certificate": acm.Certificate(),
    "aws:acm/certificateValidation:CertificateValidation": acm.CertificateValidation(),
    "aws:route53/record:Record": route53.Record(),
}
