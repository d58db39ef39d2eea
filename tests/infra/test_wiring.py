"""The awaited values that connect each stack's resources."""
from __future__ import annotations

import json

from infra import archive, policies, routes
from infra.naming import TEST_INVOKE_STAGE
from localcloud.engine.stackfiles import read_stack_config
from tests.infra.mocks import ACCOUNT_ID, REGION

PREFIX = {"dev": "dev-", "test": "test-", "prod": ""}
API_TYPES = ("aws:apigateway/restApi:RestApi", "aws:apigateway/resource:Resource",
             "aws:apigateway/method:Method", "aws:apigateway/integration:Integration")


def test_names_carry_the_stage_prefix_and_prod_has_none(run):
    prefix = PREFIX[run.stack]
    assert run.outputs["functionName"] == f"{prefix}user-service"
    assert run.outputs["tableName"] == f"{prefix}User"
    assert run.one("aws:dynamodb/table:Table").inputs["name"] == f"{prefix}User"
    assert run.one("aws:lambda/function:Function").inputs["name"] == f"{prefix}user-service"
    assert run.one("aws:iam/role:Role").inputs["name"] == f"{prefix}user-service-role"
    assert (run.one("aws:cloudwatch/logGroup:LogGroup").inputs["name"]
            == f"/aws/lambda/{prefix}user-service")


def test_stage_variable_is_this_stacks_function_and_stage_serves_this_deployment(run):
    stage = run.one("aws:apigateway/stage:Stage")
    function = run.one("aws:lambda/function:Function")
    deployment = run.one("aws:apigateway/deployment:Deployment")
    assert stage.inputs["stageName"] == run.stack
    assert stage.inputs["variables"] == {"functionName": function.outputs["name"]}
    assert stage.inputs["deployment"] == deployment.id == run.outputs["deploymentId"]
    assert stage.inputs["restApi"] == deployment.inputs["restApi"]
    assert run.outputs["stageUrl"] == stage.outputs["invokeUrl"]
    assert run.outputs["stageUrl"].endswith(f"/{run.stack}")


def test_every_integration_selects_the_function_through_the_stage_variable(runs):
    integrations = runs["dev"].of_type("aws:apigateway/integration:Integration")
    assert len(integrations) == len(routes.ROUTES)
    expected = (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
                f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
                "${stageVariables.functionName}/invocations")
    for integration in integrations:
        assert integration.inputs["uri"] == expected, integration.urn
        assert integration.inputs["type"] == "AWS_PROXY", integration.urn
        assert integration.inputs["integrationHttpMethod"] == "POST", integration.urn
    served = {(m.inputs["httpMethod"]) for m in runs["dev"].of_type("aws:apigateway/method:Method")}
    assert served == {"GET", "POST", "PUT", "DELETE"}


def test_the_api_paths_are_the_users_routes(runs):
    dev = runs["dev"]
    resources = {r.id: r for r in dev.of_type("aws:apigateway/resource:Resource")}
    root = dev.one("aws:apigateway/restApi:RestApi").outputs["rootResourceId"]

    def path_of(resource_id: str) -> str:
        if resource_id == root:
            return ""
        resource = resources[resource_id]
        return path_of(resource.inputs["parentId"]) + "/" + resource.inputs["pathPart"]

    declared = {(m.inputs["httpMethod"], path_of(m.inputs["resourceId"]))
                for m in dev.of_type("aws:apigateway/method:Method")}
    assert declared == {("GET", "/users"), ("POST", "/users"), ("GET", "/users/{id}"),
                        ("PUT", "/users/{id}"), ("DELETE", "/users/{id}")}


def test_permission_grants_this_stage_only_on_this_function(run, runs):
    execution_arn = runs["dev"].outputs["executionArn"]
    function = run.one("aws:lambda/function:Function")
    permissions = run.of_type("aws:lambda/permission:Permission")
    config = read_stack_config(run.stack)
    stages = [run.stack] + ([TEST_INVOKE_STAGE] if config["user-service:allowTestInvoke"]
                            == "true" else [])
    expected = {f"{execution_arn}/{stage}/{route.method}/{route.arn_path}"
                for stage in stages for route in routes.ROUTES}
    assert {p.inputs["sourceArn"] for p in permissions} == expected
    for permission in permissions:
        assert permission.inputs["function"] == function.outputs["name"], permission.urn
        assert permission.inputs["principal"] == "apigateway.amazonaws.com", permission.urn
        assert permission.inputs["action"] == "lambda:InvokeFunction", permission.urn
        assert permission.delete_before_replace, permission.urn  # its statement id is reused
        stage_part = permission.inputs["sourceArn"][len(execution_arn) + 1:].split("/")[0]
        assert stage_part in stages, permission.urn


def test_role_policy_is_exactly_the_handlers_actions_on_this_stages_resources(run):
    table = run.one("aws:dynamodb/table:Table")
    log_group = run.one("aws:cloudwatch/logGroup:LogGroup")
    role = run.one("aws:iam/role:Role")
    role_policy = run.one("aws:iam/rolePolicy:RolePolicy")
    assert role_policy.inputs["role"] == role.id
    document = json.loads(role_policy.inputs["policy"])
    grants = {(action, resource)
              for statement in document["Statement"]
              for action in statement["Action"] for resource in statement["Resource"]}
    assert all(s["Effect"] == "Allow" for s in document["Statement"])
    expected = ({(a, table.outputs["arn"]) for a in policies.HANDLER_DYNAMODB_ACTIONS}
                | {(a, f"{log_group.outputs['arn']}:log-stream:*")
                   for a in policies.LOG_ACTIONS})
    assert grants == expected
    assert table.outputs["arn"].endswith(f":table/{PREFIX[run.stack]}User")
    assert log_group.outputs["arn"].endswith(f":log-group:/aws/lambda/{PREFIX[run.stack]}user-service")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_function_runs_the_handler_archive_with_this_stages_prefix(run):
    function = run.one("aws:lambda/function:Function")
    role = run.one("aws:iam/role:Role")
    assert function.inputs["role"] == role.outputs["arn"]
    assert function.inputs["environment"]["variables"] == {"TABLE_PREFIX": PREFIX[run.stack]}
    assert function.inputs["handler"] == "user_service.handler.handler"
    assert function.inputs["runtime"].startswith("python3.")
    code = function.inputs["code"]
    assert set(code.assets) == set(archive.handler_files())
    assert all(name.startswith("user_service/") and name.endswith(".py") for name in code.assets)
    assert run.outputs["codeHash"] == archive.code_hash(archive.read_handler_files())
    config = read_stack_config(run.stack)
    log_group = run.one("aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["retentionInDays"] == int(config["user-service:logRetentionDays"])
    urns = {r.type: r.urn for r in run.resources}
    assert urns["aws:cloudwatch/logGroup:LogGroup"] in function.dependencies
    assert urns["aws:iam/rolePolicy:RolePolicy"] in function.dependencies


def test_only_the_owner_stack_declares_the_shared_api(runs):
    for type_ in API_TYPES:
        assert runs["dev"].of_type(type_), type_
        assert not runs["test"].of_type(type_), type_
        assert not runs["prod"].of_type(type_), type_
    rest_api = runs["dev"].one("aws:apigateway/restApi:RestApi")
    for stack in ("test", "prod"):
        reference = runs[stack].one("pulumi:pulumi:StackReference")
        assert reference.inputs["name"] == "organization/user-service/dev"
        assert runs[stack].one("aws:apigateway/stage:Stage").inputs["restApi"] == rest_api.id
    assert runs["dev"].outputs["restApiId"] == rest_api.id
    assert runs["dev"].outputs["executionArn"] == rest_api.outputs["executionArn"]


def test_each_stack_owns_a_retained_deployment_redeployed_by_the_definition_hash(run, runs):
    deployment = run.one("aws:apigateway/deployment:Deployment")
    assert deployment.inputs["triggers"] == {"definitionHash": runs["dev"].outputs["definitionHash"]}
    assert deployment.retain_on_delete and not deployment.delete_before_replace
    assert "stageName" not in deployment.inputs


def test_owner_deployment_comes_after_every_method_and_integration(runs):
    dev = runs["dev"]
    deployment = dev.one("aws:apigateway/deployment:Deployment")
    api_parts = [r.urn for r in dev.resources if r.type in API_TYPES[2:]]
    assert len(api_parts) == 2 * len(routes.ROUTES)
    assert set(api_parts) <= set(deployment.dependencies)


def test_stage_throttling_follows_the_stack_config(run):
    config = read_stack_config(run.stack)
    settings = run.one("aws:apigateway/methodSettings:MethodSettings")
    assert settings.inputs["stageName"] == run.stack
    assert settings.inputs["methodPath"] == "*/*"
    assert settings.inputs["settings"]["throttlingRateLimit"] == float(
        config["user-service:throttlingRateLimit"])
    assert settings.inputs["settings"]["throttlingBurstLimit"] == int(
        config["user-service:throttlingBurstLimit"])


def test_prod_carries_data_protections_and_no_test_invoke(runs):
    prod_table = runs["prod"].one("aws:dynamodb/table:Table")
    assert prod_table.protect
    assert prod_table.inputs["deletionProtectionEnabled"] is True
    assert prod_table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert all(f"/{TEST_INVOKE_STAGE}/" not in p.inputs["sourceArn"]
               for p in runs["prod"].of_type("aws:lambda/permission:Permission"))
    dev_table = runs["dev"].one("aws:dynamodb/table:Table")
    assert not dev_table.protect
    assert any(f"/{TEST_INVOKE_STAGE}/" in p.inputs["sourceArn"]
               for p in runs["dev"].of_type("aws:lambda/permission:Permission"))


def test_resource_policy_of_one_stage_fits_lambdas_20kb_limit(run):
    statements = [{
        "Sid": p.inputs["statementId"], "Effect": "Allow",
        "Principal": {"Service": p.inputs["principal"]}, "Action": p.inputs["action"],
        "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{p.inputs['function']}",
        "Condition": {"ArnLike": {"AWS:SourceArn": p.inputs["sourceArn"]}},
    } for p in run.of_type("aws:lambda/permission:Permission")]
    policy = json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": statements})
    assert len(policy.encode()) < 20 * 1024
    assert len({s["Sid"] for s in statements}) == len(statements)


def test_components_parent_their_resources(run):
    components = {r.urn for r in run.resources if r.type.startswith("user-service:")}
    for resource in run.resources:
        if resource.type.startswith("aws:"):
            assert resource.parent in components, resource.urn
