"""API Gateway resource kinds: the REST API, its Deployments (with their frozen
snapshots), Stages and method settings."""
from __future__ import annotations

from localcloud.apigateway import snapshots
from localcloud.engine.kinds import Kind, patch_value, tags_of

class RestApi(Kind):
    def create(self, cloud, name, i):
        apigw = cloud.client("apigateway")
        arguments = {"name": i["name"], "description": i.get("description") or "",
                     "tags": tags_of(i)}
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
        deployment_id = snapshots.create_deployment(
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
            variables=dict(i.get("variables") or {}), tags=tags_of(i),
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
        operations = [{"op": "replace", "path": f"{prefix}/{path}", "value": patch_value(value)}
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
