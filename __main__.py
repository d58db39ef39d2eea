"""user-service: one stack per stage (dev, test, prod) of a users API on AWS.

Each stack owns its table, function (versions and the `live` alias), role, log groups,
Deployment, Stage, invoke permission and caller policy; the REST API and the artifacts
bucket are owned by one stack and referenced by the others. A promoted stage may carry a
canary release: the candidate's version, the alias `canary` and its own invoke permission,
and the Stage's canary settings.
"""
import pulumi
import pulumi_aws as aws

from infra import archive, domain_names, naming, openapi, stack_outputs
from infra.api import SharedApi, SharedApiArgs
from infra.api_account import ApiGatewayAccount, ApiGatewayAccountArgs
from infra.artifacts import ArtifactBucket, ArtifactBucketArgs
from infra.callers import StageCallerPolicy, StageCallerPolicyArgs
from infra.config import ConfigError, load_stage_config
from infra.domain import StageDomain, StageDomainArgs
from infra.function import ALIAS, CANARY_ALIAS, UsersFunction, UsersFunctionArgs
from infra.permission import (StageInvokePermission, StageInvokePermissionArgs,
                              policy_size_problem)
from infra.routes import ROUTES
from infra.stage import ApiStage, ApiStageArgs, StageCanary, StageLogging
from infra.table import UsersTable, UsersTableArgs

config = load_stage_config()
# Refuse, before anything is declared, a definition API Gateway would not take.
problems = openapi.document_problems(openapi.api_document(ROUTES, "uri", config.api_authorization))
if problems:
    raise ConfigError("the API definition (infra/routes.py, infra/openapi.py) would be refused "
                      "by API Gateway:\n  - " + "\n  - ".join(problems))
if config.pinned:
    # A promoted stage runs the archive its source uploaded, never this checkout's code.
    code_hash, upload = config.promoted_code_hash, None
else:
    # The archive is named by its own bytes: a build that differs gets a key of its own.
    built = archive.build_zip(archive.read_handler_files())
    code_hash, upload = archive.code_hash(built), archive.write_build_zip(built)
account_id = aws.get_caller_identity_output().account_id
# Every ARN the program writes is in the region's partition: aws, aws-us-gov or aws-cn.
region_partition = aws.get_partition_output()
name = config.stage
pins = stack_outputs.pins_of(config.promoted_deployment_id, config.promoted_code_hash,
                             config.promoted_function_version)


async def referenced_outputs() -> dict:
    """Other stacks' outputs this stack builds on, checked before anything is declared.
    Every reference is fully qualified (organization/project/stack): Pulumi Cloud takes
    no other form, and the DIY backend takes it too."""
    owner: dict = {}
    if not config.api_owner:
        reference = config.api_stack_reference
        owner = await pulumi.StackReference(reference).outputs.future() or {}
        problem = stack_outputs.owner_output_problem(owner, reference, config.stack,
                                                     config.production)
        if problem:
            raise ConfigError(problem)
    if config.production:
        # The stack's own last outputs: a checkout without the pins must not undo a promotion.
        last = await pulumi.StackReference(f"{config.stack}-last-update",
                                           stack_name=config.own_reference).outputs.future()
        problem = stack_outputs.dropped_pins_problem(last or {}, pins, config.stack)
        if problem:
            raise ConfigError(problem)
    if config.pinned:
        await check_pinned_archive(owner, config.promoted_code_hash, "promotedCodeHash")
    if config.canary:
        await check_pinned_archive(owner, config.canary_code_hash, "canaryCodeHash")
    return owner


async def check_pinned_archive(owner: dict, code_hash: str, key_name: str) -> None:
    """A promoted stage (and its canary) deploys the archive its source uploaded: it must
    be there, or the update would fail halfway, at the function."""
    bucket = owner.get("artifactBucket") or naming.artifact_bucket_name(
        await account_id.future(), config.region)
    key = naming.archive_key(code_hash)
    found = await aws.s3.get_objects_output(bucket=bucket, prefix=key, max_keys=1).keys.future()
    if key not in (found or []):
        raise ConfigError(
            f"Pulumi.{config.stack}.yaml pins the code {code_hash[:12]}…, but "
            f"s3://{bucket}/{key} does not exist: only code a stage has deployed can be "
            "promoted. Deploy it to test first and promote from there (python -m promotion "
            f"promote --from test --to {config.stack}), or correct {key_name}")


# The owner says whether the API's default endpoint is off; every stage re-exports it.
ENDPOINT_OUTPUT = "disableExecuteApiEndpoint"


def declare_shared_api(partition: str, dns_suffix: str) -> tuple[dict, list]:
    """The owner's shared resources, as the outputs other stacks read of it."""
    artifacts = ArtifactBucket("artifacts", ArtifactBucketArgs(
        region=config.region, account_id=account_id, tags={"service": "user-service"}))
    api = SharedApi("shared-api", SharedApiArgs(
        partition=partition, region=config.region, account_id=account_id,
        authorization=config.api_authorization, tags={"service": "user-service"},
        dns_suffix=dns_suffix, disable_execute_api_endpoint=config.disable_execute_api_endpoint))
    # Stages may log only once the account's CloudWatch role is set.
    stage_after = [api.rest_api]
    if config.api_gateway_cloudwatch_role:
        stage_after.append(ApiGatewayAccount("apigateway-account", ApiGatewayAccountArgs(
            partition=partition, region=config.region, account_id=account_id,
            rest_api_id=api.rest_api.id, tags={"service": "user-service"})))
    pulumi.export("rootResourceId", api.rest_api.root_resource_id)
    return {
        "restApiId": api.rest_api.id,
        "executionArn": api.rest_api.execution_arn,
        "definitionHash": api.definition_hash,
        "artifactBucket": artifacts.bucket.bucket,
        "apiAuthorization": config.api_authorization,
        ENDPOINT_OUTPUT: config.disable_execute_api_endpoint,
        stack_outputs.OWNER_MARKER: config.stack,
    }, stage_after


def declare_stage(owner: dict, stage_after: list) -> None:
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
        table_name=config.table_name,
        table_arn=table.table.arn,
        log_retention_days=config.log_retention_days,
        memory_mb=config.function_memory_mb,
        timeout_seconds=config.function_timeout_seconds,
        code_hash=code_hash,
        artifact_bucket=owner["artifactBucket"],
        upload=upload,
        pinned_version=config.promoted_function_version,
        tags=config.tags,
        tracing=config.api_xray_tracing,  # the stage's traces go on into the function
        canary_code_hash=config.canary_code_hash,
    ))

    # The grant exists before the stage can send anything to the alias.
    permission = StageInvokePermission(name, StageInvokePermissionArgs(
        function_name=function.function.name,
        qualifier=function.alias.name,
        execution_arn=owner["executionArn"],
        stage_name=config.stage,
        allow_test_invoke=config.allow_test_invoke,
    ))
    stage_after_permissions = [permission]
    canary = None
    if function.canary_alias is not None:
        # The canary invokes its own alias, and a qualified invoke is authorised by that
        # alias's own policy: without this grant every canary request is a 500.
        stage_after_permissions.append(StageInvokePermission(
            f"{name}-canary", StageInvokePermissionArgs(
                function_name=function.function.name,
                qualifier=function.canary_alias.name,
                execution_arn=owner["executionArn"],
                stage_name=config.stage,
                allow_test_invoke=config.allow_test_invoke,
            )))
        canary = StageCanary(
            deployment_id=config.canary_deployment_id,
            percent=config.canary_percent,
            function_variable=pulumi.Output.concat(function.canary_alias.function_name, ":",
                                                   function.canary_alias.name),
        )

    stage = ApiStage(name, ApiStageArgs(
        rest_api_id=owner["restApiId"],
        definition_hash=owner["definitionHash"],
        stage_name=config.stage,
        function_variable=pulumi.Output.concat(function.alias.function_name, ":", ALIAS),
        throttling_rate_limit=config.throttling_rate_limit,
        throttling_burst_limit=config.throttling_burst_limit,
        logging=StageLogging(
            retention_days=config.log_retention_days,
            level=config.api_logging_level,
            data_trace=config.api_data_trace,
            xray_tracing=config.api_xray_tracing,
        ),
        tags=config.tags,
        depends_on=[*stage_after, *stage_after_permissions],
        pinned_deployment_id=config.promoted_deployment_id,
        # API Gateway applies the default endpoint's setting when a stage is next updated:
        # the owner's stage gets a new Deployment when it changes (true is the only value
        # written, so an API that never had it keeps its deployments).
        redeploy_triggers=({ENDPOINT_OUTPUT: "true"} if config.api_owner
                           and config.disable_execute_api_endpoint else {}),
        canary_logs=config.pinned,
        canary=canary,
    ))

    if config.domain_name:
        domain = StageDomain(name, StageDomainArgs(
            domain_name=config.domain_name,
            rest_api_id=owner["restApiId"],
            stage_name=stage.stage.stage_name,
            certificate_arn=config.certificate_arn,
            hosted_zone_id=config.hosted_zone_id,
            base_path=config.base_path,
            protect=config.production,
            tags=config.tags,
        ))
        pulumi.export("customUrl", domain.url)
    warning = domain_names.default_endpoint_warning(
        config.stack, config.stage, config.api_owner, config.api_stack,
        bool(owner.get(ENDPOINT_OUTPUT)), bool(config.domain_name))
    if warning:
        pulumi.log.warn(warning)

    callers = StageCallerPolicy(name, StageCallerPolicyArgs(
        policy_name=config.invoke_policy_name,
        execution_arn=owner["executionArn"],
        stage_name=config.stage,
        tags=config.tags,
    ))

    pulumi.export("restApiId", owner["restApiId"])
    pulumi.export("executionArn", owner["executionArn"])
    pulumi.export("definitionHash", owner["definitionHash"])
    pulumi.export("artifactBucket", owner["artifactBucket"])
    pulumi.export("apiAuthorization", owner["apiAuthorization"])
    pulumi.export(ENDPOINT_OUTPUT, bool(owner.get(ENDPOINT_OUTPUT)))
    if config.api_owner:  # only the owner says so: another stage's re-exports are not an owner
        pulumi.export(stack_outputs.OWNER_MARKER, owner[stack_outputs.OWNER_MARKER])
    pulumi.export("stage", config.stage)
    pulumi.export("stageUrl", stage.stage.invoke_url)
    pulumi.export("functionName", function.function.name)
    pulumi.export("functionAlias", ALIAS)
    pulumi.export("functionVersion", function.served_version)
    pulumi.export("tableName", table.table.name)
    pulumi.export("deploymentId", stage.deployment_id)
    pulumi.export("codeHash", code_hash)
    pulumi.export("invokePolicyArn", callers.policy.arn)
    pulumi.export("accessLogGroup", stage.access_logs.name)
    pulumi.export("executionLogGroup", stage.execution_logs.name)
    pulumi.export(stack_outputs.PIN_OUTPUT, pins)
    pulumi.export(stack_outputs.CANARY_OUTPUT, {} if not config.canary else {
        "deploymentId": config.canary_deployment_id,
        "codeHash": config.canary_code_hash,
        "percent": config.canary_percent,
        "startedAt": config.canary_started_at,
        "functionAlias": CANARY_ALIAS,
        "functionVersion": function.canary_version,
    })


async def main() -> None:
    partition = await region_partition.future()
    for qualifier in (ALIAS, CANARY_ALIAS) if config.canary else (ALIAS,):
        too_large = policy_size_problem(partition.partition, config.region,
                                        config.function_name, qualifier, config.stage,
                                        config.allow_test_invoke)
        if too_large:
            raise ConfigError(too_large)
    owner = await referenced_outputs()
    stage_after: list = []
    if config.api_owner:
        owner, stage_after = declare_shared_api(partition.partition, partition.dns_suffix)
    declare_stage(owner, stage_after)


pulumi.run(main)
