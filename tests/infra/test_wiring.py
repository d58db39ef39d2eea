"""The awaited values that connect each stack's resources."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from infra import archive, naming, openapi
from localcloud.apigateway.snapshots import authorization_types
from localcloud.engine.stackfiles import read_stack_config
from tests.infra.conftest import deploy_stacks, with_archives
from tests.infra.mocks import ACCOUNT_ID

PREFIX = {"dev": "dev-", "test": "test-", "prod": ""}
OWNED_BY_DEV = ("aws:apigateway/restApi:RestApi", "aws:s3/bucket:Bucket",
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                "aws:apigateway/account:Account")
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
# The DynamoDB calls function/user_service/store.py makes (get_item, put_item,
# delete_item, scan), and what Lambda does to write a function's logs.
HANDLER_CALLS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan")
LOG_WRITES = ("logs:CreateLogStream", "logs:PutLogEvents")
# IAM's current policy language; without it (or with another) policy variables and some
# keys mean something else, and a misspelt one is refused.
POLICY_VERSION = "2012-10-17"


def trust_policy(service: str) -> dict:
    """The trust policy of a role only `service` may assume."""
    return {"Version": POLICY_VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
# The stage API Gateway's console test button invokes as.
TEST_INVOKE_STAGE = "test-invoke-stage"


def log_group(run, name: str):
    found = [g for g in run.of_type(LOG_GROUP) if g.inputs["name"] == name]
    assert len(found) == 1, f"{run.stack}: no single log group {name!r}"
    return found[0]


def named(run, type_: str, name: str):
    found = [r for r in run.of_type(type_) if r.inputs.get("name") == name]
    assert len(found) == 1, f"{run.stack}: no single {type_} named {name!r}"
    return found[0]


def function_role(run):
    return named(run, "aws:iam/role:Role", f"{PREFIX[run.stack]}user-service-role")


def function_role_policy(run):
    role = function_role(run)
    return [p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id][0]


def config(run) -> dict[str, str]:
    return read_stack_config(run.stack)


def test_names_carry_the_stage_prefix_and_prod_has_none(run):
    prefix = PREFIX[run.stack]
    assert run.outputs["functionName"] == f"{prefix}user-service"
    assert run.outputs["tableName"] == f"{prefix}User"
    assert run.one("aws:dynamodb/table:Table").inputs["name"] == f"{prefix}User"
    assert run.one("aws:lambda/function:Function").inputs["name"] == f"{prefix}user-service"
    function_role(run)
    assert run.one("aws:iam/policy:Policy").inputs["name"] == f"{prefix}user-service-invoke"
    log_group(run, f"/aws/lambda/{prefix}user-service")


def test_stage_variable_names_this_stacks_alias_and_the_stage_serves_this_deployment(run):
    stage = run.one("aws:apigateway/stage:Stage")
    function = run.one("aws:lambda/function:Function")
    alias = run.one("aws:lambda/alias:Alias")
    deployment = run.one("aws:apigateway/deployment:Deployment")
    assert stage.inputs["stageName"] == run.stack
    function_name = f"{PREFIX[run.stack]}user-service"
    assert alias.inputs["name"] == "live" == run.outputs["functionAlias"]
    assert alias.inputs["functionName"] == function.outputs["name"] == function_name
    assert stage.inputs["variables"] == {"functionName": f"{function_name}:live"}
    assert stage.inputs["deployment"] == deployment.id == run.outputs["deploymentId"]
    assert stage.inputs["restApi"] == deployment.inputs["restApi"] == run.outputs["restApiId"]
    assert run.outputs["stageUrl"] == stage.outputs["invokeUrl"]
    assert run.outputs["stageUrl"].endswith(f"/{run.stack}")


def empty_values(value, path: str = ""):
    """Where an input holds "" (at any depth: maps, objects, lists)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from empty_values(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from empty_values(item, f"{path}[{index}]")
    elif isinstance(value, str) and not value.strip():
        yield path or "(the input itself)"


def test_no_stack_declares_an_empty_value_anywhere(run):
    # Providers bridged from Terraform drop map entries whose value is "" (and treat an
    # empty optional string as unset): prod's empty prefix would vanish and every prod
    # request would fail. Environment, stage variables, tags, triggers: none may be empty.
    for resource in run.resources:
        assert list(empty_values(resource.inputs)) == [], resource.urn
        if resource.type == "aws:apigateway/stage:Stage":
            for value in resource.inputs["variables"].values():
                assert naming.stage_variable_problem(value) is None, resource.urn


def test_a_promoted_prod_declares_no_empty_value_either():
    # A promotion pins promotedFunctionVersion "" (the version published for the code).
    promoted = archive.build_zip({"user_service/handler.py": b"# promoted code\n"})
    pins = {"user-service:promotedDeploymentId": "abc123",
            "user-service:promotedCodeHash": hashlib.sha256(promoted).hexdigest(),
            "user-service:promotedFunctionVersion": ""}
    prod = deploy_stacks(overrides={"prod": pins}, account=with_archives(promoted))["prod"]
    for resource in prod.resources:
        assert list(empty_values(resource.inputs)) == [], resource.urn


def test_the_function_is_told_its_full_table_name(run):
    function = run.one("aws:lambda/function:Function")
    table = run.one("aws:dynamodb/table:Table")
    assert function.inputs["environment"]["variables"] == {
        "TABLE_NAME": f"{PREFIX[run.stack]}User"}
    assert table.outputs["name"] == f"{PREFIX[run.stack]}User"


def test_the_owner_defines_the_api_by_one_openapi_document(runs, world):
    rest_api = runs["dev"].one("aws:apigateway/restApi:RestApi")
    assert rest_api.inputs["putRestApiMode"] == "overwrite"
    document = json.loads(rest_api.inputs["body"])
    assert openapi.document_problems(document) == []
    partition, region = world.partition, world.region
    uri = (f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/"
           f"arn:{partition}:lambda:{region}:{ACCOUNT_ID}:function:"
           "${stageVariables.functionName}/invocations")
    operations = [(path, method, operation) for path, methods in document["paths"].items()
                  for method, operation in methods.items()]
    assert {(m.upper(), p) for p, m, _ in operations} == {
        ("GET", "/users"), ("POST", "/users"), ("GET", "/users/{id}"),
        ("PUT", "/users/{id}"), ("DELETE", "/users/{id}")}
    for path, method, operation in operations:
        integration = operation["x-amazon-apigateway-integration"]
        assert integration["uri"] == uri, (method, path)
        assert integration["type"] == "aws_proxy" and integration["httpMethod"] == "POST"
    assert runs["dev"].outputs["definitionHash"] == openapi.document_hash(document)


def test_every_method_of_the_deployed_document_requires_iam_authorization(runs):
    document = json.loads(runs["dev"].one("aws:apigateway/restApi:RestApi").inputs["body"])
    authorizations = authorization_types(document)  # as API Gateway reads them
    assert len(authorizations) == 5
    assert set(authorizations.values()) == {"AWS_IAM"}
    assert all(runs[s].outputs["apiAuthorization"] == "AWS_IAM" for s in runs)


def test_the_reference_file_is_what_the_program_deploys(runs, world):
    deployed = runs["dev"].one("aws:apigateway/restApi:RestApi").inputs["body"]
    reference = (archive.REPO_ROOT / "openapi.json").read_text()
    assert reference == openapi.reference_text(), "run `python -m infra.openapi`"
    # The README's placeholders, and the servers entry's DNS suffix.
    filled = json.loads(reference.replace("{region}", world.region)
                        .replace("{account}", ACCOUNT_ID)
                        .replace("{partition}", world.partition)
                        .replace("amazonaws.com", world.dns_suffix))
    assert filled == json.loads(deployed)


def test_the_shared_api_and_the_artifacts_bucket_are_protected(runs, world):
    dev = runs["dev"]
    assert dev.one("aws:apigateway/restApi:RestApi").protect
    bucket = dev.one("aws:s3/bucket:Bucket")
    assert bucket.protect
    assert bucket.inputs["bucket"] == f"user-service-artifacts-{ACCOUNT_ID}-{world.region}"
    block = dev.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert block.inputs["bucket"] == bucket.id
    assert all(block.inputs[key] is True for key in (
        "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))


def test_permission_grants_this_stage_only_on_this_alias(run, runs):
    execution_arn = runs["dev"].outputs["executionArn"]
    function = run.one("aws:lambda/function:Function")
    permissions = run.of_type("aws:lambda/permission:Permission")
    stages = [run.stack] + ([TEST_INVOKE_STAGE] if config(run)["user-service:allowTestInvoke"]
                            == "true" else [])
    assert {p.inputs["sourceArn"] for p in permissions} == {
        f"{execution_arn}/{stage}/*/*" for stage in stages}
    alias = run.one("aws:lambda/alias:Alias")
    for permission in permissions:
        assert permission.inputs["function"] == function.outputs["name"] == \
            f"{PREFIX[run.stack]}user-service", permission.urn
        assert permission.inputs["qualifier"] == "live", permission.urn
        # Lambda refuses a grant on an alias that does not exist yet.
        assert alias.urn in permission.dependencies, permission.urn
        # The stage sends nothing to the alias before its grant exists.
        assert permission.urn in run.one("aws:apigateway/stage:Stage").dependencies
        assert permission.inputs["principal"] == "apigateway.amazonaws.com", permission.urn
        # The statement says who may call: API Gateway, as the stage it names.
        stage = permission.inputs["sourceArn"][len(execution_arn) + 1:].split("/")[0]
        assert permission.inputs["statementId"] == f"apigateway-{stage}", permission.urn
        assert permission.inputs["action"] == "lambda:InvokeFunction", permission.urn
        assert permission.delete_before_replace, permission.urn  # its statement id is reused


def test_callers_policy_grants_invoke_on_this_stage_only(run, runs):
    execution_arn = runs["dev"].outputs["executionArn"]
    policy = run.one("aws:iam/policy:Policy")
    document = json.loads(policy.inputs["policy"])
    assert document["Version"] == POLICY_VERSION
    assert document["Statement"] == [{
        "Sid": "InvokeOneStage", "Effect": "Allow", "Action": "execute-api:Invoke",
        "Resource": [f"{execution_arn}/{run.stack}/*/*"]}]
    assert run.outputs["invokePolicyArn"] == policy.outputs["arn"]


def test_role_policy_is_exactly_the_handlers_actions_on_this_stages_resources(run):
    """Exactly: the handler's actions on this stage's table and log group, and, where the
    stage traces (test and prod), X-Ray's two write actions on "*", the one exception to
    the no-* rule (X-Ray defines no resource for them)."""
    table = run.one("aws:dynamodb/table:Table")
    function_logs = log_group(run, f"/aws/lambda/{PREFIX[run.stack]}user-service")
    role = function_role(run)
    role_policy = function_role_policy(run)
    document = json.loads(role_policy.inputs["policy"])
    grants = {(action, resource)
              for statement in document["Statement"]
              for action in statement["Action"] for resource in statement["Resource"]}
    assert all(s["Effect"] == "Allow" for s in document["Statement"])
    assert document["Version"] == POLICY_VERSION
    expected = ({(a, table.outputs["arn"]) for a in HANDLER_CALLS}
                | {(a, f"{function_logs.outputs['arn']}:log-stream:*") for a in LOG_WRITES})
    if config(run)["user-service:apiXrayTracing"] == "true":
        expected |= {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
    assert grants == expected
    wildcards = [s for s in document["Statement"] if "*" in s["Resource"]]
    assert all(s["Action"] == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
               and s["Resource"] == ["*"] for s in wildcards), "* only for X-Ray's writes"
    assert table.outputs["arn"].endswith(f":table/{PREFIX[run.stack]}User")
    assert json.loads(role.inputs["assumeRolePolicy"]) == trust_policy("lambda.amazonaws.com")


def test_function_runs_the_archive_it_uploads_by_code_hash_as_a_published_version(run, runs,
                                                                                   world):
    function = run.one("aws:lambda/function:Function")
    role = function_role(run)
    upload = run.one("aws:s3/bucketObjectv2:BucketObjectv2")
    # The archive is named by its own bytes (the SHA-256 of the very file uploaded).
    uploaded = open(upload.inputs["source"].path, "rb").read()
    code_hash = hashlib.sha256(uploaded).hexdigest()
    assert run.outputs["codeHash"] == code_hash
    assert function.inputs["role"] == role.outputs["arn"] == \
        f"arn:{world.partition}:iam::{ACCOUNT_ID}:role/{PREFIX[run.stack]}user-service-role"
    assert function.inputs["handler"] == "user_service.handler.handler"
    assert function.inputs["runtime"].startswith("python3.")
    assert function.inputs["publish"] is True
    assert (function.inputs["s3Bucket"] == upload.inputs["bucket"]
            == runs["dev"].outputs["artifactBucket"])
    assert function.inputs["s3Key"] == upload.inputs["key"] == f"archives/{code_hash}.zip"
    assert upload.retain_on_delete  # promotions and rollbacks deploy it again
    assert upload.urn in function.dependencies
    # Lambda's own hash of the code it was given is that of the uploaded bytes.
    assert function.outputs["codeSha256"] == \
        base64.b64encode(hashlib.sha256(uploaded).digest()).decode()
    # A new function's first published version is what the alias serves.
    assert run.one("aws:lambda/alias:Alias").inputs["functionVersion"] == \
        function.outputs["version"] == run.outputs["functionVersion"] == "1"
    log_retention = int(config(run)["user-service:logRetentionDays"])
    function_logs = log_group(run, f"/aws/lambda/{PREFIX[run.stack]}user-service")
    assert function_logs.inputs["retentionInDays"] == log_retention
    assert function_logs.urn in function.dependencies
    assert function_role_policy(run).urn in function.dependencies


def test_the_uploaded_archive_is_the_reproducible_zip_of_the_handler_files(run):
    upload = run.one("aws:s3/bucketObjectv2:BucketObjectv2")
    files = archive.read_handler_files()
    assert open(upload.inputs["source"].path, "rb").read() == archive.build_zip(files)


def test_only_the_owner_stack_declares_the_shared_api_and_bucket(runs, world):
    for type_ in OWNED_BY_DEV:
        assert runs["dev"].of_type(type_), type_
        assert not runs["test"].of_type(type_), type_
        assert not runs["prod"].of_type(type_), type_
    rest_api = runs["dev"].one("aws:apigateway/restApi:RestApi")
    for stack in ("test", "prod"):
        # apiStack is the plain `dev`; every backend resolves the fully qualified name.
        reference = [r for r in runs[stack].of_type("pulumi:pulumi:StackReference")
                     if r.inputs["name"] == f"{world.organization}/user-service/dev"]
        assert len(reference) == 1, [r.inputs["name"] for r in runs[stack].of_type(
            "pulumi:pulumi:StackReference")]
        assert runs[stack].one("aws:apigateway/stage:Stage").inputs["restApi"] == rest_api.id
    assert runs["dev"].outputs["restApiId"] == rest_api.id
    assert runs["dev"].outputs["executionArn"] == rest_api.outputs["executionArn"]


def test_each_stack_owns_a_retained_deployment_redeployed_by_the_document_hash(run, runs):
    deployment = run.one("aws:apigateway/deployment:Deployment")
    assert deployment.inputs["triggers"] == {"definitionHash": runs["dev"].outputs["definitionHash"]}
    assert deployment.retain_on_delete and not deployment.delete_before_replace
    assert "stageName" not in deployment.inputs


def test_the_owners_deployment_comes_after_the_api_definition(runs):
    dev = runs["dev"]
    deployment = dev.one("aws:apigateway/deployment:Deployment")
    assert dev.one("aws:apigateway/restApi:RestApi").urn in deployment.dependencies


def test_stage_throttling_and_logging_follow_the_stack_config(run):
    values = config(run)
    settings = run.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert settings["throttlingRateLimit"] == float(values["user-service:throttlingRateLimit"])
    assert settings["throttlingBurstLimit"] == int(values["user-service:throttlingBurstLimit"])
    assert settings["loggingLevel"] == values["user-service:apiLoggingLevel"]
    assert settings["dataTraceEnabled"] is (values["user-service:apiDataTrace"] == "true")
    stage = run.one("aws:apigateway/stage:Stage")
    assert stage.inputs["xrayTracingEnabled"] is (values["user-service:apiXrayTracing"] == "true")


def test_a_traced_stage_traces_its_function_too_in_active_mode(run):
    traced = config(run)["user-service:apiXrayTracing"] == "true"
    assert traced is (run.stack in ("test", "prod"))  # as shipped: both cases are covered
    assert run.one("aws:apigateway/stage:Stage").inputs["xrayTracingEnabled"] is traced
    function = run.one("aws:lambda/function:Function")
    assert function.inputs.get("tracingConfig") == ({"mode": "Active"} if traced else None)


def test_each_stage_writes_json_access_logs_to_its_own_group(run, runs):
    stage = run.one("aws:apigateway/stage:Stage")
    access = log_group(run, f"/aws/apigateway/user-service/{run.stack}/access")
    execution = log_group(
        run, f"API-Gateway-Execution-Logs_{runs['dev'].outputs['restApiId']}/{run.stack}")
    settings = stage.inputs["accessLogSettings"]
    assert settings["destinationArn"] == access.outputs["arn"]
    # JSON once the variable API Gateway quotes itself is quoted.
    fields = json.loads(settings["format"].replace(
        ":$context.error.messageString}", ':"$context.error.messageString"}'))
    assert fields["errorMessage"] == "$context.error.messageString"
    # API Gateway's $context variables for REST APIs (its access-logging reference).
    for needed, variable in {
            "requestId": "$context.requestId", "sourceIp": "$context.identity.sourceIp",
            "caller": "$context.identity.caller", "httpMethod": "$context.httpMethod",
            "resourcePath": "$context.resourcePath", "status": "$context.status",
            "integrationStatus": "$context.integration.status",
            "integrationError": "$context.integration.error",
            "responseLatency": "$context.responseLatency"}.items():
        assert fields[needed] == variable, needed
    retention = int(config(run)["user-service:logRetentionDays"])
    assert access.inputs["retentionInDays"] == execution.inputs["retentionInDays"] == retention
    assert execution.urn in stage.dependencies
    assert run.outputs["accessLogGroup"] == access.inputs["name"]


def test_the_account_cloudwatch_role_is_opt_in_and_writes_only_stage_log_groups(runs, world):
    dev = runs["dev"]
    assert read_stack_config("dev")["user-service:apiGatewayCloudWatchRole"] == "true"
    account = dev.one("aws:apigateway/account:Account")
    role = [r for r in dev.of_type("aws:iam/role:Role")
            if r.inputs["name"] == "user-service-apigateway-cloudwatch"][0]
    assert account.inputs["cloudwatchRoleArn"] == role.outputs["arn"] == \
        f"arn:{world.partition}:iam::{ACCOUNT_ID}:role/user-service-apigateway-cloudwatch"
    assert json.loads(role.inputs["assumeRolePolicy"]) == \
        trust_policy("apigateway.amazonaws.com")
    policy = json.loads([p for p in dev.of_type("aws:iam/rolePolicy:RolePolicy")
                         if p.inputs["role"] == role.id][0].inputs["policy"])
    assert policy["Version"] == POLICY_VERSION
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    # AWS's managed AmazonAPIGatewayPushToCloudWatchLogs, less its two reads
    # (logs:GetLogEvents, logs:FilterLogEvents): what API Gateway does to write stage logs.
    assert sorted(a for s in policy["Statement"] for a in s["Action"]) == [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups",
        "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = policy["Statement"][0]["Resource"]
    api_id = dev.outputs["restApiId"]
    # Every stage's access and execution groups of this API (not every API's), and their
    # streams (`:*`), where CreateLogStream and PutLogEvents act.
    groups = f"arn:{world.partition}:logs:{world.region}:{ACCOUNT_ID}:log-group:"
    assert sorted(resources) == sorted(
        f"{groups}{group}{streams}" for group in (
            "/aws/apigateway/user-service/*/access", f"API-Gateway-Execution-Logs_{api_id}/*")
        for streams in ("", ":*"))
    assert "logs:DescribeLogGroups" not in policy["Statement"][0]["Action"]
    # A list action: IAM authorises it on the account's and region's groups, not a pattern.
    assert policy["Statement"][1] == {
        "Sid": "FindLogGroups", "Effect": "Allow", "Action": ["logs:DescribeLogGroups"],
        "Resource": [f"arn:{world.partition}:logs:{world.region}:{ACCOUNT_ID}:log-group:*"]}
    # Deleting the Account resets the account's settings: a destroyed dev must not.
    assert account.retain_on_delete and role.retain_on_delete
    stage = dev.one("aws:apigateway/stage:Stage")
    assert account.parent in stage.dependencies or account.urn in stage.dependencies


def test_prod_carries_data_protections_no_test_invoke_and_no_data_trace(runs):
    prod_table = runs["prod"].one("aws:dynamodb/table:Table")
    assert prod_table.protect
    assert prod_table.inputs["deletionProtectionEnabled"] is True
    assert prod_table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert all(f"/{TEST_INVOKE_STAGE}/" not in p.inputs["sourceArn"]
               for p in runs["prod"].of_type("aws:lambda/permission:Permission"))
    assert runs["prod"].one("aws:apigateway/methodSettings:MethodSettings").inputs[
        "settings"]["dataTraceEnabled"] is False
    dev_table = runs["dev"].one("aws:dynamodb/table:Table")
    assert not dev_table.protect
    assert any(f"/{TEST_INVOKE_STAGE}/" in p.inputs["sourceArn"]
               for p in runs["dev"].of_type("aws:lambda/permission:Permission"))


@pytest.mark.parametrize("stack", ["dev", "test", "prod"])
def test_the_declared_resource_policy_fits_lambdas_20kb_limit(runs, stack, world):
    run = runs[stack]
    function_arn = (f"arn:{world.partition}:lambda:{world.region}:{ACCOUNT_ID}:function:"
                    f"{run.outputs['functionName']}:live")
    # Each statement as AddPermission writes it into the policy Lambda keeps (compact JSON).
    statements = [{"Sid": p.inputs["statementId"], "Effect": "Allow",
                   "Principal": {"Service": "apigateway.amazonaws.com"},
                   "Action": "lambda:InvokeFunction", "Resource": function_arn,
                   "Condition": {"ArnLike": {"AWS:SourceArn": p.inputs["sourceArn"]}}}
                  for p in run.of_type("aws:lambda/permission:Permission")]
    policy = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
    assert len(json.dumps(policy, separators=(",", ":")).encode()) < 20 * 1024
    assert len({s["Sid"] for s in statements}) == len(statements)


def test_components_parent_their_resources(run):
    components = {r.urn for r in run.resources if r.type.startswith("user-service:")}
    for resource in run.resources:
        if resource.type.startswith("aws:"):
            assert resource.parent in components, resource.urn
