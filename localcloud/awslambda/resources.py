"""Lambda resource kinds: functions (their archives kept for the invoker) and
resource-policy permissions."""
from __future__ import annotations

from infra.archive import build_zip
from localcloud.awslambda import archives
from localcloud.engine.kinds import Kind, archive_files, tags_of

class Function(Kind):
    replace_on = ("name",)

    def _configuration(self, i: dict) -> dict:
        return {
            "Role": i["role"], "Handler": i["handler"], "Runtime": i["runtime"],
            "Timeout": int(i.get("timeout") or 3), "MemorySize": int(i.get("memorySize") or 128),
            "Environment": {"Variables": dict((i.get("environment") or {}).get("variables") or {})},
        }

    def _outputs(self, cloud, config: dict) -> dict:
        arn = config["FunctionArn"]
        return {"arn": arn, "qualifiedArn": f"{arn}:$LATEST", "version": "$LATEST",
                "codeSha256": config["CodeSha256"],
                "invokeArn": f"arn:aws:apigateway:{cloud.region}:lambda:path/2015-03-31/"
                             f"functions/{arn}/invocations"}

    def create(self, cloud, name, i):
        code = build_zip(archive_files(i["code"]))
        archives.save_archive(cloud.state_dir, code)
        config = cloud.client("lambda").create_function(
            FunctionName=i["name"], Code={"ZipFile": code}, Publish=False,
            Tags=tags_of(i), **self._configuration(i))
        return i["name"], self._outputs(cloud, config)

    def update(self, cloud, id_, old, i):
        aws_lambda = cloud.client("lambda")
        code = build_zip(archive_files(i["code"]))
        archives.save_archive(cloud.state_dir, code)
        aws_lambda.update_function_code(FunctionName=id_, ZipFile=code)
        config = aws_lambda.update_function_configuration(FunctionName=id_,
                                                          **self._configuration(i))
        return self._outputs(cloud, config)

    def delete(self, cloud, id_, i):
        cloud.client("lambda").delete_function(FunctionName=id_)


class Permission(Kind):
    # A statement cannot be edited: every change is a replacement.
    def needs_replace(self, old, new):
        return True

    def create(self, cloud, name, i):
        statement = i.get("statementId") or name
        arguments = {"FunctionName": i["function"], "StatementId": statement,
                     "Action": i["action"], "Principal": i["principal"]}
        if i.get("sourceArn"):
            arguments["SourceArn"] = i["sourceArn"]
        cloud.client("lambda").add_permission(**arguments)
        return statement, {"statementId": statement}

    def delete(self, cloud, id_, i):
        cloud.client("lambda").remove_permission(FunctionName=i["function"], StatementId=id_)
