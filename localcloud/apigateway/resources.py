"""API Gateway resource kinds: the REST API (defined by its OpenAPI body), its
Deployments (with their frozen snapshots), Stages (with their canary settings), method
settings, the account's CloudWatch role setting, custom domain names and their base path
mappings. Where moto is lax, these refuse what API Gateway refuses."""
from __future__ import annotations

import json

from infra import domain_names
from infra.naming import STAGE_VARIABLE_VALUE
from infra.openapi import import_warnings
from localcloud.apigateway import domains, snapshots
from localcloud import policy as iam_eval
from localcloud.kinds import DeployError, Kind, found, patch_value, tags_of

# API Gateway's default quota of stages per REST API.
MAX_STAGES_PER_API = 10


class RestApi(Kind):
    def create(self, cloud, name, i):
        apigw = cloud.client("apigateway")
        # Refused before the API exists. (On AWS the provider creates the API first and
        # its PutRestApi then fails, leaving an API without the body.)
        self._document(i)
        arguments = {"name": i["name"], "description": i.get("description") or "",
                     "tags": tags_of(i)}
        if i.get("endpointConfiguration"):
            types = i["endpointConfiguration"]["types"]
            arguments["endpointConfiguration"] = {
                "types": [types] if isinstance(types, str) else list(types)}
        disabled = bool(i.get("disableExecuteApiEndpoint"))
        api = apigw.create_rest_api(**arguments, disableExecuteApiEndpoint=disabled)
        domains.configure_endpoint(cloud.state_dir, api["id"], disabled)
        self._put_body(cloud, api["id"], i)
        return api["id"], self._outputs(cloud, api["id"])

    def update(self, cloud, id_, old, i):
        apigw = cloud.client("apigateway")
        self._put_body(cloud, id_, i)
        disabled = bool(i.get("disableExecuteApiEndpoint"))
        apigw.update_rest_api(restApiId=id_, patchOperations=[
            {"op": "replace", "path": "/name", "value": i["name"]},
            {"op": "replace", "path": "/description", "value": i.get("description") or ""},
            # API Gateway takes "true"/"false"; moto reads any non-empty text as true.
            {"op": "replace", "path": "/disableExecuteApiEndpoint",
             "value": "true" if disabled else ""}])
        domains.configure_endpoint(cloud.state_dir, id_, disabled)
        return self._outputs(cloud, id_)

    @staticmethod
    def _document(i: dict) -> dict | None:
        """The body, as API Gateway's import reads it: with failOnWarnings, anything it would
        warn on or drop refuses the whole import (moto only validates the OpenAPI)."""
        if not i.get("body"):
            return None
        try:
            document = json.loads(i["body"])
        except ValueError as err:
            raise DeployError(f"the REST API's body is not JSON: {err}") from None
        warnings = import_warnings(document) if i.get("failOnWarnings") else []
        if warnings:
            raise DeployError("BadRequestException: Warnings found during import:\n\t"
                              + "\n\t".join(str(w) for w in warnings))
        return document

    @classmethod
    def _put_body(cls, cloud, api_id: str, i: dict) -> None:
        """The OpenAPI body replaces the whole definition (overwrite mode, as the program
        asks); it is kept as the definition the next Deployment freezes. A refused import
        changes nothing."""
        document = cls._document(i)
        if document is None:
            return
        mode = i.get("putRestApiMode") or "overwrite"
        cloud.client("apigateway").put_rest_api(
            restApiId=api_id, mode=mode, body=i["body"].encode(),
            failOnWarnings=bool(i.get("failOnWarnings")))
        snapshots.save_definition(cloud.state_dir, api_id, document)

    def _outputs(self, cloud, api_id):
        root = next(r["id"] for r in cloud.client("apigateway").get_resources(
            restApiId=api_id)["items"] if r["path"] == "/")
        return self._arns(cloud, api_id, root)

    @staticmethod
    def _arns(cloud, api_id, root):
        return {"rootResourceId": root,
                "arn": f"arn:aws:apigateway:{cloud.region}::/restapis/{api_id}",
                "executionArn": f"arn:aws:execute-api:{cloud.region}:{cloud.account_id}:{api_id}"}

    def exists(self, cloud, id_, i):
        return found(lambda: cloud.client("apigateway").get_rest_api(restApiId=id_),
                     "NotFoundException")

    def delete(self, cloud, id_, i):
        cloud.client("apigateway").delete_rest_api(restApiId=id_)
        snapshots.forget_definition(cloud.state_dir, id_)
        domains.forget_endpoint_setting(cloud.state_dir, id_)


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

    def exists(self, cloud, id_, i):
        return _has_deployment(cloud, i["restApi"], id_)

    def delete(self, cloud, id_, i):
        apigw = cloud.client("apigateway")
        serving = [s["stageName"] for s in apigw.get_stages(restApiId=i["restApi"])["item"]
                   if id_ in (s.get("deploymentId"),
                              (s.get("canarySettings") or {}).get("deploymentId"))]
        if serving:  # moto only checks the stage a deployment was created with
            raise DeployError(f"deployment {id_} cannot be deleted: BadRequestException: Active "
                              "stages pointing to this deployment must be moved or deleted "
                              f"(stage {', '.join(serving)})")
        apigw.delete_deployment(restApiId=i["restApi"], deploymentId=id_)


class Stage(Kind):
    replace_on = ("restApi", "stageName")

    def _outputs(self, cloud, i):
        api, stage = i["restApi"], i["stageName"]
        return {"invokeUrl": f"{cloud.gateway_url}/{stage}",
                "arn": f"arn:aws:apigateway:{cloud.region}::/restapis/{api}/stages/{stage}",
                "executionArn": f"arn:aws:execute-api:{cloud.region}:{cloud.account_id}:"
                                f"{api}/{stage}"}

    def create(self, cloud, name, i):
        apigw = cloud.client("apigateway")
        self._check(cloud, i)
        stages = apigw.get_stages(restApiId=i["restApi"])["item"]
        if len(stages) >= MAX_STAGES_PER_API:
            raise DeployError(
                f"stage {i['stageName']!r}: LimitExceededException: the REST API {i['restApi']} "
                f"already has {len(stages)} stages ({', '.join(s['stageName'] for s in stages)}), "
                f"API Gateway's quota of {MAX_STAGES_PER_API} per REST API; delete a stage "
                "(pulumi destroy of its stack) or request a quota increase")
        apigw.create_stage(
            restApiId=i["restApi"], stageName=i["stageName"], deploymentId=i["deployment"],
            variables=dict(i.get("variables") or {}), tags=tags_of(i),
            description=i.get("description") or "",
            tracingEnabled=bool(i.get("xrayTracingEnabled")))
        apigw.update_stage(restApiId=i["restApi"], stageName=i["stageName"],
                           patchOperations=[*canary_operations(None, i.get("canarySettings")),
                                            *self._log_operations(i)])
        domains.apply_endpoint_setting(cloud.state_dir, i["restApi"])
        return f"ags-{i['restApi']}-{i['stageName']}", self._outputs(cloud, i)

    @staticmethod
    def _check(cloud, i):
        # API Gateway refuses a stage on a deployment the API does not have ("Deployment id
        # does not exist"); moto takes any id. (A pinned deployment may have vanished with
        # the emulator's state.)
        if not _has_deployment(cloud, i["restApi"], i["deployment"]):
            raise DeployError(
                f"stage {i['stageName']!r}: BadRequestException: Deployment id does not exist: "
                f"{i['deployment']} is not a deployment of REST API {i['restApi']}; point the "
                "stage at one it has (a promoted stage is pinned by promotedDeploymentId: "
                "promote to it again, or roll back to an entry whose deployment exists)")
        for key, value in (i.get("variables") or {}).items():
            if not STAGE_VARIABLE_VALUE.fullmatch(str(value)):
                raise DeployError(
                    f"stage {i['stageName']!r}: BadRequestException: stage variable {key} has "
                    f"the value {value!r}; values must be non-empty and use only letters, "
                    "digits and -._~:/?#&=,")
        settings = i.get("accessLogSettings")
        if settings:
            where = f"stage {i['stageName']!r} (access logging)"
            if str(settings.get("destinationArn", "")).endswith(":*"):
                raise DeployError(f"{where}: BadRequestException: Invalid ARN specified in the "
                                  "request. ARNs must not end with ':*'.")
            if not any(v in str(settings.get("format", ""))
                       for v in ("$context.requestId", "$context.extendedRequestId")):
                raise DeployError(f"{where}: BadRequestException: Access Log format must "
                                  "contain at least one of '$context.requestId' or "
                                  "'$context.extendedRequestId'")
            _require_cloudwatch_role(cloud, where)

    @staticmethod
    def _log_operations(i) -> list[dict]:
        settings = i.get("accessLogSettings")
        if not settings:
            return [{"op": "remove", "path": "/accessLogSettings"}]
        return [{"op": "replace", "path": "/accessLogSettings/destinationArn",
                 "value": settings["destinationArn"]},
                {"op": "replace", "path": "/accessLogSettings/format",
                 "value": settings.get("format") or ""}]

    def update(self, cloud, id_, old, i):
        self._check(cloud, i)
        # In the provider's order: the canary's operations, then the stage's deployment
        # (terraform-provider-aws internal/service/apigateway/stage.go, resourceStageUpdate).
        operations = [*canary_operations(old.get("canarySettings"), i.get("canarySettings")),
                      {"op": "replace", "path": "/deploymentId", "value": i["deployment"]},
                      {"op": "replace", "path": "/tracingEnabled",
                       "value": patch_value(bool(i.get("xrayTracingEnabled")))},
                      *self._log_operations(i)]
        old_vars, new_vars = old.get("variables") or {}, i.get("variables") or {}
        operations += [{"op": "replace", "path": f"/variables/{k}", "value": v}
                       for k, v in new_vars.items()]
        operations += [{"op": "remove", "path": f"/variables/{k}"}
                       for k in old_vars if k not in new_vars]
        cloud.client("apigateway").update_stage(restApiId=i["restApi"],
                                                stageName=i["stageName"],
                                                patchOperations=operations)
        domains.apply_endpoint_setting(cloud.state_dir, i["restApi"])
        return self._outputs(cloud, i)

    def exists(self, cloud, id_, i):
        return found(lambda: cloud.client("apigateway").get_stage(
            restApiId=i["restApi"], stageName=i["stageName"]), "NotFoundException")

    def delete(self, cloud, id_, i):
        cloud.client("apigateway").delete_stage(restApiId=i["restApi"],
                                                stageName=i["stageName"])


def canary_operations(old: dict | None, new: dict | None) -> list[dict]:
    """The UpdateStage operations that turn the canary settings `old` into `new` (engine
    inputs, camelCase; None: no canary), as the provider makes them: the settings removed
    whole, or each changed field replaced (a new canary starts from API Gateway's
    defaults: 0 percent, no overrides, no stage cache)."""
    if not new:
        return [{"op": "remove", "path": "/canarySettings"}] if old else []
    old = old or {}
    operations = []
    if new.get("deploymentId") and new.get("deploymentId") != old.get("deploymentId"):
        operations.append({"op": "replace", "path": "/canarySettings/deploymentId",
                           "value": new["deploymentId"]})
    old_overrides = old.get("stageVariableOverrides") or {}
    new_overrides = new.get("stageVariableOverrides") or {}
    operations += [{"op": "remove", "path": f"/canarySettings/stageVariableOverrides/{name}"}
                   for name in old_overrides if name not in new_overrides]
    operations += [{"op": "replace", "path": f"/canarySettings/stageVariableOverrides/{name}",
                    "value": value} for name, value in new_overrides.items()
                   if old_overrides.get(name) != value]
    percent = float(new.get("percentTraffic") or 0.0)
    if percent != float(old.get("percentTraffic") or 0.0):
        operations.append({"op": "replace", "path": "/canarySettings/percentTraffic",
                           "value": f"{percent:f}"})
    if bool(new.get("useStageCache")) != bool(old.get("useStageCache")):
        operations.append({"op": "replace", "path": "/canarySettings/useStageCache",
                           "value": patch_value(bool(new.get("useStageCache")))})
    return operations


class MethodSettings(Kind):
    """A stage's method settings. A setting left out (or the whole resource deleted) goes
    back to API Gateway's default, which the gateway then serves: no stage throttle beyond
    the account's 10000/5000, execution logs off."""
    replace_on = ("restApi", "stageName", "methodPath")
    SETTINGS = (("throttlingRateLimit", "throttling/rateLimit", 10000.0),
                ("throttlingBurstLimit", "throttling/burstLimit", 5000),
                ("metricsEnabled", "metrics/enabled", False),
                ("loggingLevel", "logging/loglevel", "OFF"),
                ("dataTraceEnabled", "logging/dataTrace", False))

    def create(self, cloud, name, i):
        settings = i.get("settings") or {}
        if settings.get("loggingLevel", "OFF") != "OFF" or settings.get("dataTraceEnabled"):
            _require_cloudwatch_role(cloud, f"stage {i['stageName']!r} (execution logging)")
        self._apply(cloud, i, settings)
        return f"{i['restApi']}-{i['stageName']}-{i['methodPath']}", {}

    def update(self, cloud, id_, old, i):
        return self.create(cloud, "", i)[1]

    def exists(self, cloud, id_, i):
        """The settings live on their stage: there while it has them for this method path."""
        apigw = cloud.client("apigateway")
        try:
            stage = apigw.get_stage(restApiId=i["restApi"], stageName=i["stageName"])
        except apigw.exceptions.NotFoundException:
            return False
        return i["methodPath"] in (stage.get("methodSettings") or {})

    def delete(self, cloud, id_, i):
        apigw = cloud.client("apigateway")
        try:
            apigw.get_stage(restApiId=i["restApi"], stageName=i["stageName"])
        except apigw.exceptions.NotFoundException:
            return  # the settings went with their stage
        self._apply(cloud, i, {})

    def _apply(self, cloud, i, settings: dict) -> None:
        prefix = f"/{i['methodPath']}"
        operations = [{"op": "replace", "path": f"{prefix}/{path}",
                       "value": patch_value(default if settings.get(key) is None
                                            else settings[key])}
                      for key, path, default in self.SETTINGS]
        cloud.client("apigateway").update_stage(restApiId=i["restApi"],
                                                stageName=i["stageName"],
                                                patchOperations=operations)
        domains.apply_endpoint_setting(cloud.state_dir, i["restApi"])


class Account(Kind):
    """API Gateway's per-account, per-region settings: one exists whether declared or not,
    so "deleting" it only stops managing it, as the provider does."""

    def create(self, cloud, name, i):
        return "api-gateway-account", self.update(cloud, "", {}, i)

    def update(self, cloud, id_, old, i):
        role_arn = i.get("cloudwatchRoleArn") or ""
        if role_arn:
            _check_cloudwatch_role(cloud, role_arn)
        cloud.client("apigateway").update_account(patchOperations=[
            {"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}])
        return {"throttleSettings": []}

    def exists(self, cloud, id_, i):
        """Always there, but "as recorded" only while it holds the role the deploy set
        (a reset emulator's account has none: the deploy sets it again)."""
        current = cloud.client("apigateway").get_account().get("cloudwatchRoleArn") or ""
        return current == (i.get("cloudwatchRoleArn") or "")

    def delete(self, cloud, id_, i):
        return None


class DomainName(Kind):
    """A REGIONAL custom domain name. API Gateway refuses a name that exists already
    (domain names are unique within a region across all accounts), a certificate of
    another region ("Invalid certificate ARN: ... Certificate must be in '{region}'.")
    and one ACM does not have; moto takes any of them (and silently replaces a name)."""
    replace_on = ("domainName",)

    def create(self, cloud, name, i):
        apigw, domain = cloud.client("apigateway"), i["domainName"]
        where = f"apigateway.DomainName {domain!r}"
        problem = domain_names.domain_name_problem(domain)
        if problem:
            raise DeployError(f"{where}: BadRequestException: the domain name {problem}")
        try:
            apigw.get_domain_name(domainName=domain)
        except apigw.exceptions.NotFoundException:
            pass
        else:  # the v2 API's words for it (aws/serverless-application-model#2208)
            raise DeployError(f"{where}: BadRequestException: The domain name you provided "
                              "already exists. A custom domain belongs to one stack: give "
                              "each stack its own user-service:domainName")
        self._check(cloud, i, where)
        created = apigw.create_domain_name(**self._arguments(i))
        return domain, self._outputs(cloud, created)

    @staticmethod
    def _arguments(i: dict) -> dict:
        types = (i.get("endpointConfiguration") or {}).get("types") or "EDGE"
        arguments = {"domainName": i["domainName"],
                     "endpointConfiguration": {
                         "types": [types] if isinstance(types, str) else list(types)},
                     "tags": tags_of(i)}
        for key in ("regionalCertificateArn", "certificateArn", "securityPolicy"):
            if i.get(key):
                arguments[key] = i[key]
        return arguments

    @staticmethod
    def _check(cloud, i: dict, where: str) -> None:
        types = (i.get("endpointConfiguration") or {}).get("types")
        if types not in ("REGIONAL", ["REGIONAL"]):
            raise DeployError(f"{where}: the local cloud serves REGIONAL domain names only "
                              f"(endpointConfiguration types {types!r})")
        arn = i.get("regionalCertificateArn")
        if not arn:
            raise DeployError(f"{where}: BadRequestException: A regional certificate is "
                              "required for a REGIONAL domain name (regionalCertificateArn)")
        if domain_names.certificate_arn_problem(arn, cloud.region):
            raise DeployError(f"{where}: BadRequestException: Invalid certificate ARN: {arn}. "
                              f"Certificate must be in '{cloud.region}'.")
        acm = cloud.client("acm")
        try:
            acm.describe_certificate(CertificateArn=arn)
        except acm.exceptions.ResourceNotFoundException:
            raise DeployError(f"{where}: BadRequestException: Invalid certificate ARN: {arn}; "
                              f"ACM in {cloud.region} has no such certificate. The local "
                              "cloud's emulator starts with none: import or request one in "
                              "it, or give the stack a hostedZoneId of the emulator (see the "
                              "README's custom domains on the local cloud)") from None

    def update(self, cloud, id_, old, i):
        # API Gateway patches a domain in place (certificate, security policy, tags);
        # moto cannot, so it is declared again under the same name, with its mappings.
        apigw = cloud.client("apigateway")
        self._check(cloud, i, f"apigateway.DomainName {id_!r}")
        mappings = apigw.get_base_path_mappings(domainName=id_).get("items", [])
        apigw.delete_domain_name(domainName=id_)
        created = apigw.create_domain_name(**self._arguments(i))
        for mapping in mappings:
            apigw.create_base_path_mapping(
                domainName=id_, restApiId=mapping["restApiId"], stage=mapping["stage"],
                **({} if mapping["basePath"] == domain_names.NO_BASE_PATH
                   else {"basePath": mapping["basePath"]}))
        return self._outputs(cloud, created)

    @staticmethod
    def _outputs(cloud, domain: dict) -> dict:
        return {"domainName": domain["domainName"],
                "arn": f"arn:aws:apigateway:{cloud.region}::/domainnames/{domain['domainName']}",
                "regionalDomainName": domain["regionalDomainName"],
                "regionalZoneId": domain["regionalHostedZoneId"]}

    def exists(self, cloud, id_, i):
        return found(lambda: cloud.client("apigateway").get_domain_name(domainName=id_),
                     "NotFoundException")

    def delete(self, cloud, id_, i):
        apigw = cloud.client("apigateway")
        try:
            apigw.delete_domain_name(domainName=id_)
        except apigw.exceptions.NotFoundException:
            pass


class BasePathMapping(Kind):
    """A domain's mapping of a base path (or of its root) to a stage. API Gateway refuses
    a base path the domain maps already ("ConflictException: Base path already exists for
    this domain name"), any second mapping where one has the empty base path ("Only one
    base path mapping is allowed if the base path is empty."), and a stage that does not
    exist; moto lets two mappings of the empty base path through."""
    replace_on = ("domainName",)

    def create(self, cloud, name, i):
        apigw, domain = cloud.client("apigateway"), i["domainName"]
        base_path = domain_names.mapping_base_path(i.get("basePath"))
        where = f"apigateway.BasePathMapping {domain}/{i.get('basePath') or ''}"
        if i.get("basePath"):
            problem = domain_names.base_path_problem(i["basePath"])
            if problem:
                raise DeployError(f"{where}: BadRequestException: the base path {problem}")
        try:
            existing = [m["basePath"] for m in apigw.get_base_path_mappings(
                domainName=domain).get("items", [])]
        except apigw.exceptions.NotFoundException:
            raise DeployError(f"{where}: NotFoundException: Invalid domain name identifier "
                              "specified") from None
        if base_path in existing:
            raise DeployError(f"{where}: ConflictException: Base path already exists for this "
                              "domain name")
        if existing and domain_names.NO_BASE_PATH in (base_path, *existing):
            raise DeployError(f"{where}: ConflictException: Only one base path mapping is "
                              "allowed if the base path is empty.")
        try:
            apigw.get_stage(restApiId=i["restApi"], stageName=i["stageName"])
        except (apigw.exceptions.NotFoundException, apigw.exceptions.BadRequestException):
            raise DeployError(f"{where}: BadRequestException: Invalid stage identifier "
                              f"specified ({i['stageName']} of {i['restApi']})") from None
        arguments = {"domainName": domain, "restApiId": i["restApi"], "stage": i["stageName"]}
        if i.get("basePath"):  # never "" (moto would store it as given)
            arguments["basePath"] = i["basePath"]
        apigw.create_base_path_mapping(**arguments)
        return f"{domain}/{i.get('basePath') or ''}", {}

    def exists(self, cloud, id_, i):
        apigw = cloud.client("apigateway")
        try:
            mappings = apigw.get_base_path_mappings(domainName=i["domainName"]).get("items", [])
        except apigw.exceptions.NotFoundException:  # the domain itself is gone
            return False
        return domain_names.mapping_base_path(i.get("basePath")) in {
            m["basePath"] for m in mappings}

    def delete(self, cloud, id_, i):
        apigw = cloud.client("apigateway")
        try:
            apigw.delete_base_path_mapping(
                domainName=i["domainName"],
                basePath=domain_names.mapping_base_path(i.get("basePath")))
        except apigw.exceptions.NotFoundException:
            pass


def _has_deployment(cloud, api_id: str, deployment_id: str) -> bool:
    # Listed, not read: moto answers GetDeployment of an unknown id with a 500.
    apigw = cloud.client("apigateway")
    try:
        return any(d["id"] == deployment_id
                   for page in apigw.get_paginator("get_deployments").paginate(restApiId=api_id)
                   for d in page.get("items", []))
    except apigw.exceptions.NotFoundException:  # the API itself is gone
        return False


def _check_cloudwatch_role(cloud, role_arn: str) -> None:
    """API Gateway takes a CloudWatch role only if it may assume it and the role has a
    policy; moto takes any ARN."""
    iam, role_name = cloud.client("iam"), role_arn.rsplit("/", 1)[-1]
    refusal = DeployError(
        f"apigateway.Account: BadRequestException: The role ARN does not have required "
        f"permissions configured. Please grant trust permission for API Gateway and add the "
        f"required role policy. (role {role_arn})")
    try:
        trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    except iam.exceptions.NoSuchEntityException:
        raise refusal from None
    trusted = iam_eval.evaluate_resource_policy(
        trust, principal_service="apigateway.amazonaws.com", action="sts:AssumeRole",
        resource=role_arn).allowed
    has_policy = (iam.list_role_policies(RoleName=role_name)["PolicyNames"]
                  or iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"])
    if not (trusted and has_policy):
        raise refusal


def _require_cloudwatch_role(cloud, what: str) -> None:
    """API Gateway writes logs only through the account's CloudWatch role."""
    if not cloud.client("apigateway").get_account().get("cloudwatchRoleArn"):
        raise DeployError(
            f"{what}: BadRequestException: CloudWatch Logs role ARN must be set in account "
            "settings to enable logging. Set user-service:apiGatewayCloudWatchRole: true in "
            "the owner stack (see the README's Logs section) and deploy it first")
