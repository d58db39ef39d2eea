"""How each resource type the program declares is created, updated and deleted in the
emulator, through boto3 — the local cloud's stand-in for the AWS provider.

Each kind receives the resolved inputs (camelCase keys, as the engine hands them to a
provider) and returns the resource's id and its provider-computed outputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from infra.archive import build_zip
from localcloud import artifacts
from localcloud.emulator import make_client


class DeployError(Exception):
    """A deploy step that cannot be done; the message says what and how to fix it."""


@dataclass
class Cloud:
    """What every kind needs: the emulator, the state directory, the served gateway."""
    endpoint_url: str
    region: str
    account_id: str
    state_dir: Path
    gateway_url: str

    def __post_init__(self) -> None:
        self._clients: dict[str, object] = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = make_client(service, self.endpoint_url, self.region)
        return self._clients[service]


def _tags(inputs: dict) -> dict[str, str]:
    return dict(inputs.get("tags") or {})


def archive_files(code) -> dict[str, bytes]:
    """The files of a pulumi.AssetArchive of FileAssets, by archive path."""
    return {name: Path(asset.path).read_bytes() for name, asset in code.assets.items()}


def _patch_value(value) -> str:
    """A patch operation's text: numbers arrive as floats from the engine."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Kind:
    """A resource type. `replace_on` lists the inputs that cannot change in place."""
    replace_on: tuple[str, ...] = ()

    def create(self, cloud: Cloud, name: str, i: dict) -> tuple[str, dict]:
        raise NotImplementedError

    def update(self, cloud: Cloud, id_: str, old: dict, i: dict) -> dict:
        # Most kinds here apply a change by declaring the same thing again.
        self.delete(cloud, id_, old)
        return self.create(cloud, "", i)[1]

    def delete(self, cloud: Cloud, id_: str, i: dict) -> None:
        raise NotImplementedError

    def needs_replace(self, old: dict, new: dict) -> bool:
        return any(old.get(k) != new.get(k) for k in self.replace_on)


class Table(Kind):
    replace_on = ("name", "hashKey", "rangeKey", "attributes")

    def create(self, cloud, name, i):
        ddb = cloud.client("dynamodb")
        keys = [{"AttributeName": i["hashKey"], "KeyType": "HASH"}]
        if i.get("rangeKey"):
            keys.append({"AttributeName": i["rangeKey"], "KeyType": "RANGE"})
        table = ddb.create_table(
            TableName=i["name"], KeySchema=keys,
            AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]}
                                  for a in i["attributes"]],
            BillingMode=i.get("billingMode") or "PAY_PER_REQUEST",
            DeletionProtectionEnabled=bool(i.get("deletionProtectionEnabled")),
            Tags=[{"Key": k, "Value": v} for k, v in _tags(i).items()],
        )["TableDescription"]
        self._point_in_time_recovery(cloud, i)
        return i["name"], {"arn": table["TableArn"]}

    def update(self, cloud, id_, old, i):
        ddb = cloud.client("dynamodb")
        ddb.update_table(TableName=id_,
                         DeletionProtectionEnabled=bool(i.get("deletionProtectionEnabled")))
        self._point_in_time_recovery(cloud, i)
        return {"arn": ddb.describe_table(TableName=id_)["Table"]["TableArn"]}

    def delete(self, cloud, id_, i):
        ddb = cloud.client("dynamodb")
        if ddb.describe_table(TableName=id_)["Table"].get("DeletionProtectionEnabled"):
            raise DeployError(f"table {id_} has deletion protection; turn it off "
                              "(deletionProtection: false) and deploy before deleting it")
        ddb.delete_table(TableName=id_)

    @staticmethod
    def _point_in_time_recovery(cloud, i):
        enabled = bool((i.get("pointInTimeRecovery") or {}).get("enabled"))
        cloud.client("dynamodb").update_continuous_backups(
            TableName=i["name"],
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled})


class Role(Kind):
    replace_on = ("name",)

    def create(self, cloud, name, i):
        role = cloud.client("iam").create_role(
            RoleName=i["name"], AssumeRolePolicyDocument=i["assumeRolePolicy"],
            Tags=[{"Key": k, "Value": v} for k, v in _tags(i).items()])["Role"]
        return i["name"], {"arn": role["Arn"], "uniqueId": role["RoleId"]}

    def update(self, cloud, id_, old, i):
        iam = cloud.client("iam")
        iam.update_assume_role_policy(RoleName=id_, PolicyDocument=i["assumeRolePolicy"])
        role = iam.get_role(RoleName=id_)["Role"]
        return {"arn": role["Arn"], "uniqueId": role["RoleId"]}

    def delete(self, cloud, id_, i):
        iam = cloud.client("iam")
        for policy in iam.list_role_policies(RoleName=id_)["PolicyNames"]:
            iam.delete_role_policy(RoleName=id_, PolicyName=policy)
        iam.delete_role(RoleName=id_)


class RolePolicy(Kind):
    replace_on = ("role", "name")

    def create(self, cloud, name, i):
        policy = i.get("name") or name
        cloud.client("iam").put_role_policy(RoleName=i["role"], PolicyName=policy,
                                            PolicyDocument=i["policy"])
        return f"{i['role']}:{policy}", {"name": policy}

    def update(self, cloud, id_, old, i):
        return self.create(cloud, id_.split(":", 1)[1], i)[1]

    def delete(self, cloud, id_, i):
        role, policy = id_.split(":", 1)
        cloud.client("iam").delete_role_policy(RoleName=role, PolicyName=policy)


class LogGroup(Kind):
    replace_on = ("name",)

    def create(self, cloud, name, i):
        logs = cloud.client("logs")
        logs.create_log_group(logGroupName=i["name"], tags=_tags(i))
        self.update(cloud, i["name"], {}, i)
        return i["name"], {"arn": f"arn:aws:logs:{cloud.region}:{cloud.account_id}:"
                                  f"log-group:{i['name']}"}

    def update(self, cloud, id_, old, i):
        logs = cloud.client("logs")
        if i.get("retentionInDays"):
            logs.put_retention_policy(logGroupName=id_, retentionInDays=int(i["retentionInDays"]))
        else:
            logs.delete_retention_policy(logGroupName=id_)
        return {"arn": f"arn:aws:logs:{cloud.region}:{cloud.account_id}:log-group:{id_}"}

    def delete(self, cloud, id_, i):
        cloud.client("logs").delete_log_group(logGroupName=id_)


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
        artifacts.save_archive(cloud.state_dir, code)
        config = cloud.client("lambda").create_function(
            FunctionName=i["name"], Code={"ZipFile": code}, Publish=False,
            Tags=_tags(i), **self._configuration(i))
        return i["name"], self._outputs(cloud, config)

    def update(self, cloud, id_, old, i):
        aws_lambda = cloud.client("lambda")
        code = build_zip(archive_files(i["code"]))
        artifacts.save_archive(cloud.state_dir, code)
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


class RestApi(Kind):
    def create(self, cloud, name, i):
        apigw = cloud.client("apigateway")
        arguments = {"name": i["name"], "description": i.get("description") or "",
                     "tags": _tags(i)}
        if i.get("endpointConfiguration"):
            types = i["endpointConfiguration"]["types"]
            arguments["endpointConfiguration"] = {
                "types": [types] if isinstance(types, str) else list(types)}
        api = apigw.create_rest_api(**arguments)
        root = next(r["id"] for r in apigw.get_resources(restApiId=api["id"])["items"]
                    if r["path"] == "/")
        return api["id"], self._outputs(cloud, api["id"], root)

    def update(self, cloud, id_, old, i):
        apigw = cloud.client("apigateway")
        apigw.update_rest_api(restApiId=id_, patchOperations=[
            {"op": "replace", "path": "/name", "value": i["name"]},
            {"op": "replace", "path": "/description", "value": i.get("description") or ""}])
        return self._outputs(cloud, id_, apigw.get_rest_api(restApiId=id_)["rootResourceId"])

    def _outputs(self, cloud, api_id, root):
        return {"rootResourceId": root,
                "arn": f"arn:aws:apigateway:{cloud.region}::/restapis/{api_id}",
                "executionArn": f"arn:aws:execute-api:{cloud.region}:{cloud.account_id}:{api_id}"}

    def delete(self, cloud, id_, i):
        cloud.client("apigateway").delete_rest_api(restApiId=id_)


class ApiResource(Kind):
    def needs_replace(self, old, new):
        return True

    def create(self, cloud, name, i):
        resource = cloud.client("apigateway").create_resource(
            restApiId=i["restApi"], parentId=i["parentId"], pathPart=i["pathPart"])
        return resource["id"], {"path": resource["path"]}

    def delete(self, cloud, id_, i):
        cloud.client("apigateway").delete_resource(restApiId=i["restApi"], resourceId=id_)


class Method(Kind):
    def create(self, cloud, name, i):
        cloud.client("apigateway").put_method(
            restApiId=i["restApi"], resourceId=i["resourceId"], httpMethod=i["httpMethod"],
            authorizationType=i["authorization"])
        return f"agm-{i['restApi']}-{i['resourceId']}-{i['httpMethod']}", {}

    def delete(self, cloud, id_, i):
        cloud.client("apigateway").delete_method(
            restApiId=i["restApi"], resourceId=i["resourceId"], httpMethod=i["httpMethod"])


class Integration(Kind):
    def create(self, cloud, name, i):
        cloud.client("apigateway").put_integration(
            restApiId=i["restApi"], resourceId=i["resourceId"], httpMethod=i["httpMethod"],
            type=i["type"], integrationHttpMethod=i["integrationHttpMethod"], uri=i["uri"])
        return f"agi-{i['restApi']}-{i['resourceId']}-{i['httpMethod']}", {}

    def delete(self, cloud, id_, i):
        cloud.client("apigateway").delete_integration(
            restApiId=i["restApi"], resourceId=i["resourceId"], httpMethod=i["httpMethod"])


class Deployment(Kind):
    replace_on = ("restApi", "triggers", "variables")

    def create(self, cloud, name, i):
        # The snapshot is what makes a Deployment frozen: the gateway serves from it.
        deployment_id = artifacts.create_deployment(
            cloud.client("apigateway"), cloud.state_dir, i["restApi"],
            description=i.get("description") or "")
        return deployment_id, {"createdDate": ""}

    def update(self, cloud, id_, old, i):
        cloud.client("apigateway").update_deployment(
            restApiId=i["restApi"], deploymentId=id_, patchOperations=[
                {"op": "replace", "path": "/description", "value": i.get("description") or ""}])
        return {"createdDate": ""}

    def delete(self, cloud, id_, i):
        cloud.client("apigateway").delete_deployment(restApiId=i["restApi"], deploymentId=id_)


class Stage(Kind):
    replace_on = ("restApi", "stageName")

    def _outputs(self, cloud, i):
        api, stage = i["restApi"], i["stageName"]
        return {"invokeUrl": f"{cloud.gateway_url}/{stage}",
                "arn": f"arn:aws:apigateway:{cloud.region}::/restapis/{api}/stages/{stage}",
                "executionArn": f"arn:aws:execute-api:{cloud.region}:{cloud.account_id}:"
                                f"{api}/{stage}"}

    def create(self, cloud, name, i):
        cloud.client("apigateway").create_stage(
            restApiId=i["restApi"], stageName=i["stageName"], deploymentId=i["deployment"],
            variables=dict(i.get("variables") or {}), tags=_tags(i),
            description=i.get("description") or "")
        return f"ags-{i['restApi']}-{i['stageName']}", self._outputs(cloud, i)

    def update(self, cloud, id_, old, i):
        operations = [{"op": "replace", "path": "/deploymentId", "value": i["deployment"]}]
        old_vars, new_vars = old.get("variables") or {}, i.get("variables") or {}
        operations += [{"op": "replace", "path": f"/variables/{k}", "value": v}
                       for k, v in new_vars.items()]
        operations += [{"op": "remove", "path": f"/variables/{k}"}
                       for k in old_vars if k not in new_vars]
        cloud.client("apigateway").update_stage(restApiId=i["restApi"],
                                                stageName=i["stageName"],
                                                patchOperations=operations)
        return self._outputs(cloud, i)

    def delete(self, cloud, id_, i):
        cloud.client("apigateway").delete_stage(restApiId=i["restApi"],
                                                stageName=i["stageName"])


class MethodSettings(Kind):
    replace_on = ("restApi", "stageName", "methodPath")

    def create(self, cloud, name, i):
        settings = i.get("settings") or {}
        prefix = f"/{i['methodPath']}"
        operations = [{"op": "replace", "path": f"{prefix}/{path}", "value": _patch_value(value)}
                      for key, path in (("throttlingRateLimit", "throttling/rateLimit"),
                                        ("throttlingBurstLimit", "throttling/burstLimit"),
                                        ("metricsEnabled", "metrics/enabled"))
                      if (value := settings.get(key)) is not None]
        cloud.client("apigateway").update_stage(restApiId=i["restApi"],
                                                stageName=i["stageName"],
                                                patchOperations=operations)
        return f"{i['restApi']}-{i['stageName']}-{i['methodPath']}", {}

    def update(self, cloud, id_, old, i):
        return self.create(cloud, "", i)[1]

    def delete(self, cloud, id_, i):
        # Settings go with their stage; alone they are only reset, which the emulator
        # does not serve anyway.
        return None


KINDS: dict[str, Kind] = {
    "aws:dynamodb/table:Table": Table(),
    "aws:iam/role:Role": Role(),
    "aws:iam/rolePolicy:RolePolicy": RolePolicy(),
    "aws:cloudwatch/logGroup:LogGroup": LogGroup(),
    "aws:lambda/function:Function": Function(),
    "aws:lambda/permission:Permission": Permission(),
    "aws:apigateway/restApi:RestApi": RestApi(),
    "aws:apigateway/resource:Resource": ApiResource(),
    "aws:apigateway/method:Method": Method(),
    "aws:apigateway/integration:Integration": Integration(),
    "aws:apigateway/deployment:Deployment": Deployment(),
    "aws:apigateway/stage:Stage": Stage(),
    "aws:apigateway/methodSettings:MethodSettings": MethodSettings(),
}
