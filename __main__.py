"""user-service: one stack per stage (dev, test, prod) of a users API on AWS.

Each stack owns its table, function, role, log group, Deployment, Stage and invoke
permission; the REST API itself is owned by one stack and referenced by the others.
"""
import pulumi
import pulumi_aws as aws

from infra import archive
from infra.api import SharedApi, SharedApiArgs
from infra.config import check_promoted_code, load_stage_config
from infra.function import UsersFunction, UsersFunctionArgs
from infra.permission import StageInvokePermission, StageInvokePermissionArgs
from infra.stage import ApiStage, ApiStageArgs
from infra.table import UsersTable, UsersTableArgs

config = load_stage_config()
code_hash = archive.code_hash(archive.read_handler_files())
check_promoted_code(config, code_hash)  # before anything is declared
account_id = aws.get_caller_identity_output().account_id
name = config.stage

table = UsersTable(name, UsersTableArgs(
    table_name=config.table_name,
    deletion_protection=config.deletion_protection,
    point_in_time_recovery=config.point_in_time_recovery,
    protect=config.protect,
    tags=config.tags,
))

function = UsersFunction(name, UsersFunctionArgs(
    function_name=config.function_name,
    role_name=config.role_name,
    log_group_name=config.log_group_name,
    name_prefix=config.name_prefix,
    table_arn=table.table.arn,
    log_retention_days=config.log_retention_days,
    memory_mb=config.function_memory_mb,
    timeout_seconds=config.function_timeout_seconds,
    code_hash=code_hash,
    tags=config.tags,
))

if config.api_owner:
    api = SharedApi("shared-api", SharedApiArgs(
        region=config.region, account_id=account_id, tags={"service": "user-service"}))
    rest_api_id = api.rest_api.id
    execution_arn = api.rest_api.execution_arn
    definition_hash = api.definition_hash
    api_resources = [*api.methods, *api.integrations]
    pulumi.export("rootResourceId", api.rest_api.root_resource_id)
    pulumi.export("executionArn", execution_arn)
    pulumi.export("definitionHash", definition_hash)
else:
    owner = pulumi.StackReference(config.api_stack)
    rest_api_id = owner.require_output("restApiId")
    execution_arn = owner.require_output("executionArn")
    definition_hash = owner.require_output("definitionHash")
    api_resources = []

stage = ApiStage(name, ApiStageArgs(
    rest_api_id=rest_api_id,
    definition_hash=definition_hash,
    stage_name=config.stage,
    function_name=function.function.name,
    throttling_rate_limit=config.throttling_rate_limit,
    throttling_burst_limit=config.throttling_burst_limit,
    tags=config.tags,
    depends_on=api_resources,
    pinned_deployment_id=config.promoted_deployment_id,
))

StageInvokePermission(name, StageInvokePermissionArgs(
    function_name=function.function.name,
    execution_arn=execution_arn,
    stage_name=config.stage,
    allow_test_invoke=config.allow_test_invoke,
))

pulumi.export("restApiId", rest_api_id)
pulumi.export("stage", config.stage)
pulumi.export("stageUrl", stage.stage.invoke_url)
pulumi.export("functionName", function.function.name)
pulumi.export("tableName", table.table.name)
pulumi.export("deploymentId", stage.deployment_id)
pulumi.export("codeHash", code_hash)
