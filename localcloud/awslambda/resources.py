"""Lambda resource kinds: functions (code from an asset archive or from S3, their
archives kept for the invoker, versions published as Lambda does), aliases, and
resource-policy permissions (one policy per qualifier, at most 20 KB each)."""
from __future__ import annotations

import json
import re

from botocore.exceptions import ClientError

from infra.archive import build_zip
from infra.policies import LAMBDA_POLICY_LIMIT_BYTES, resource_policy_size
from localcloud.awslambda import archives
from localcloud.control_plane import function_arn, policy_of_qualifier, split_qualifier
from localcloud.kinds import DeployError, Kind, archive_files, error_code, tags_of

_VERSION_PATTERN = re.compile(r"\$LATEST|[0-9]+")
# What Lambda compares to decide whether PublishVersion has anything new to publish.
_VERSIONED = ("CodeSha256", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "Environment")


def invoke_arn(region: str, arn: str) -> str:
    """The API Gateway integration URI that invokes a function (or alias) ARN."""
    return f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"


def _version_identity(config: dict) -> str:
    return json.dumps({k: config.get(k) for k in _VERSIONED}, sort_keys=True, default=str)


class Function(Kind):
    replace_on = ("name",)

    def _configuration(self, i: dict) -> dict:
        return {
            "Role": i["role"], "Handler": i["handler"], "Runtime": i["runtime"],
            "Timeout": int(i.get("timeout") or 3), "MemorySize": int(i.get("memorySize") or 128),
            "Environment": {"Variables": dict((i.get("environment") or {}).get("variables") or {})},
            # X-Ray: Active, or Lambda's default PassThrough (only passes the header along).
            "TracingConfig": {"Mode": (i.get("tracingConfig") or {}).get("mode") or "PassThrough"},
        }

    def _code(self, cloud, i: dict) -> tuple[bytes, dict]:
        """The archive's bytes, and the Code argument that gives Lambda the same archive."""
        bucket, key = i.get("s3Bucket"), i.get("s3Key")
        if bucket or key:
            if not (bucket and key):
                raise DeployError(f"lambda.Function {i['name']}: s3_bucket and s3_key go "
                                  "together; set both (or neither, and give code)")
            location, get = {"S3Bucket": bucket, "S3Key": key}, {"Bucket": bucket, "Key": key}
            if i.get("s3ObjectVersion"):
                location["S3ObjectVersion"] = get["VersionId"] = i["s3ObjectVersion"]
            try:
                body = cloud.client("s3").get_object(**get)["Body"].read()
            except ClientError as err:
                raise DeployError(
                    f"lambda.Function {i['name']}: Error occurred while GetObject. S3 Error "
                    f"Code: {error_code(err)}. s3://{bucket}/{key} cannot be read; upload the "
                    "archive there first (an aws.s3.BucketObjectv2 the function depends on) or "
                    "fix s3_bucket/s3_key") from None
            return body, location
        if i.get("code") is None:
            raise DeployError(f"lambda.Function {i['name']} has no code: give code (an "
                              "AssetArchive) or s3_bucket and s3_key")
        body = build_zip(archive_files(i["code"]))
        return body, {"ZipFile": body}

    def _outputs(self, cloud, latest: dict, version: str) -> dict:
        arn = split_qualifier(latest["FunctionArn"])[0]
        qualified = f"{arn}:{version}"
        return {"arn": arn, "qualifiedArn": qualified, "version": version,
                "codeSha256": latest["CodeSha256"],
                "invokeArn": invoke_arn(cloud.region, arn),
                "qualifiedInvokeArn": invoke_arn(cloud.region, qualified)}

    def _publish(self, aws_lambda, name: str, latest: dict) -> str:
        """Publish $LATEST unless the last version already has its code and configuration
        (Lambda then returns that version); moto would publish after any update call."""
        pages = aws_lambda.get_paginator("list_versions_by_function").paginate(FunctionName=name)
        published = [v for page in pages for v in page["Versions"] if v["Version"] != "$LATEST"]
        if published:
            last = max(published, key=lambda v: int(v["Version"]))
            if _version_identity(last) == _version_identity(latest):
                return last["Version"]
        return aws_lambda.publish_version(FunctionName=name)["Version"]

    def _deployed(self, cloud, i: dict, latest: dict, sha: str) -> dict:
        if latest["CodeSha256"] != sha:  # the S3 object changed between our two reads
            raise DeployError(f"lambda.Function {i['name']}: its archive changed while it was "
                              "deployed; run the deploy again")
        aws_lambda = cloud.client("lambda")
        version = self._publish(aws_lambda, i["name"], latest) if i.get("publish") else "$LATEST"
        return self._outputs(cloud, latest, version)

    def create(self, cloud, name, i):
        body, code = self._code(cloud, i)
        sha = archives.save_archive(cloud.state_dir, body)
        latest = cloud.client("lambda").create_function(
            FunctionName=i["name"], Code=code, Publish=False, Tags=tags_of(i),
            **self._configuration(i))
        return i["name"], self._deployed(cloud, i, latest, sha)

    def update(self, cloud, id_, old, i):
        aws_lambda = cloud.client("lambda")
        body, code = self._code(cloud, i)
        sha = archives.save_archive(cloud.state_dir, body)
        if aws_lambda.get_function_configuration(FunctionName=id_)["CodeSha256"] != sha:
            aws_lambda.update_function_code(FunctionName=id_, **code)
        latest = aws_lambda.update_function_configuration(FunctionName=id_,
                                                          **self._configuration(i))
        return self._deployed(cloud, i, latest, sha)

    def delete(self, cloud, id_, i):
        cloud.client("lambda").delete_function(FunctionName=id_)


class Alias(Kind):
    replace_on = ("name", "functionName")

    def _outputs(self, cloud, alias: dict) -> dict:
        return {"arn": alias["AliasArn"], "invokeArn": invoke_arn(cloud.region, alias["AliasArn"]),
                "functionVersion": alias["FunctionVersion"], "name": alias["Name"]}

    def _arguments(self, name: str, i: dict) -> dict:
        version = str(i.get("functionVersion") or "")
        if not _VERSION_PATTERN.fullmatch(version):
            raise DeployError(f"lambda.Alias {name}: function_version {version!r} is not a "
                              "version; use a published version number (the function's "
                              "`version` output) or $LATEST")
        return {"FunctionName": i["functionName"], "Name": name, "FunctionVersion": version,
                "Description": i.get("description") or ""}

    def create(self, cloud, name, i):
        alias = cloud.client("lambda").create_alias(**self._arguments(i.get("name") or name, i))
        return alias["AliasArn"], self._outputs(cloud, alias)

    def update(self, cloud, id_, old, i):
        name = split_qualifier(id_)[1]
        return self._outputs(cloud, cloud.client("lambda").update_alias(**self._arguments(name, i)))

    def delete(self, cloud, id_, i):
        try:
            cloud.client("lambda").delete_alias(FunctionName=i["functionName"],
                                                Name=split_qualifier(id_)[1])
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":  # the function went first
                raise


def permission_statement(resource_arn: str, statement_id: str, action: str, principal: str,
                         source_arn: str | None = None,
                         source_account: str | None = None) -> dict:
    """The statement AddPermission adds to a resource policy, as Lambda writes it."""
    if principal.endswith(".amazonaws.com"):
        principal_value: object = {"Service": principal}
    elif re.fullmatch(r"[0-9]{12}", principal):
        principal_value = {"AWS": f"arn:aws:iam::{principal}:root"}
    elif principal == "*":
        principal_value = "*"
    else:
        principal_value = {"AWS": principal}
    statement = {"Sid": statement_id, "Effect": "Allow", "Principal": principal_value,
                 "Action": action, "Resource": resource_arn}
    condition: dict = {}
    if source_account:
        condition["StringEquals"] = {"AWS:SourceAccount": source_account}
    if source_arn:
        condition["ArnLike"] = {"AWS:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return statement


class Permission(Kind):
    # A statement cannot be edited: every change is a replacement.
    def needs_replace(self, old, new):
        return True

    @staticmethod
    def _target(i: dict) -> tuple[str, str | None]:
        function, qualifier = split_qualifier(i["function"])
        return function, i.get("qualifier") or qualifier

    def _statements(self, aws_lambda, function: str, qualifier: str | None) -> list[dict]:
        """The statements of the qualifier's own policy (moto shares one between qualifiers)."""
        arguments = {"FunctionName": function, **({"Qualifier": qualifier} if qualifier else {})}
        try:
            policy = aws_lambda.get_policy(**arguments)["Policy"]
        except ClientError as err:
            if error_code(err) == "ResourceNotFoundException":
                return []  # no policy yet (or no function: add_permission says so)
            raise
        own = policy_of_qualifier(policy, qualifier)
        return json.loads(own)["Statement"] if own else []

    def create(self, cloud, name, i):
        aws_lambda = cloud.client("lambda")
        function, qualifier = self._target(i)
        statement_id = i.get("statementId") or name
        target = function + (f":{qualifier}" if qualifier else "")
        statements = self._statements(aws_lambda, function, qualifier)
        if any(s.get("Sid") == statement_id for s in statements):
            raise DeployError(
                f"lambda.Permission {name}: ResourceConflictException: The statement id "
                f"({statement_id}) provided already exists in the policy of {target}. Give "
                "this permission another statement_id, or remove the existing statement.")
        resource = function_arn(target, cloud.region, cloud.account_id)
        statement = permission_statement(resource, statement_id, i["action"], i["principal"],
                                         i.get("sourceArn"), i.get("sourceAccount"))
        size = resource_policy_size([*statements, statement])
        if size > LAMBDA_POLICY_LIMIT_BYTES:
            raise DeployError(
                f"lambda.Permission {name}: PolicyLengthExceededException: The final policy "
                f"size ({size}) is bigger than the limit ({LAMBDA_POLICY_LIMIT_BYTES}). The resource "
                f"policy of {target} would hold {len(statements) + 1} statements; grant with "
                "fewer statements (e.g. one per stage whose source ARN ends in /*/*) so it "
                "stays within Lambda's 20 KB.")
        arguments = {"FunctionName": function, "StatementId": statement_id,
                     "Action": i["action"], "Principal": i["principal"]}
        if qualifier:
            arguments["Qualifier"] = qualifier
        if i.get("sourceArn"):
            arguments["SourceArn"] = i["sourceArn"]
        if i.get("sourceAccount"):
            arguments["SourceAccount"] = i["sourceAccount"]
        aws_lambda.add_permission(**arguments)
        return statement_id, {"statementId": statement_id}

    def delete(self, cloud, id_, i):
        function, qualifier = self._target(i)
        arguments = {"FunctionName": function, "StatementId": id_,
                     **({"Qualifier": qualifier} if qualifier else {})}
        try:
            cloud.client("lambda").remove_permission(**arguments)
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":  # the function went first
                raise
