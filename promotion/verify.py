"""verify: does a stack serve exactly its pins? Pure: what was expected (the stack's pins
and history, or, for a stack nothing was promoted to, its own last outputs) and what was
read from the account (promotion.observe) go in; one Check per promise comes out, each
failure with the exact command that mends it.

The promises, one check each:
- deployment: the stage serves the pinned deployment, and that deployment exists;
- code: the alias `live` serves a version whose CodeSha256 is the pinned archive's, and the
  archive is in the artifacts bucket;
- stage variable: `functionName` names `{function}:live`;
- permission: the alias's resource policy lets API Gateway invoke it from this stage (and,
  where the stack allows it, the console's test-invoke-stage), and from nowhere else;
- definition: the served deployment holds the definition its source proved (the hash the
  contract gate recorded in the history entry when it promoted);
- canary: no canary settings on the stage, unless a canary is pinned, and then they are
  the canary pin's;
- caller policy: the stack's invoke policy allows execute-api:Invoke on this API's stage,
  in the stack's partition, and nothing else.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

from infra import routes as api_routes
from infra.naming import CANARY_ALIAS, FUNCTION_ALIAS as ALIAS, STAGE_VARIABLE
from infra.naming import TEST_INVOKE_STAGE, archive_key
from infra.policies import API_GATEWAY_SERVICE
from promotion.decisions import CanaryPin, code_mismatch

INVOKE = "lambda:InvokeFunction"
EXECUTE = "execute-api:Invoke"
CANARY_VARIABLE_SUFFIX = f":{CANARY_ALIAS}"


@dataclass(frozen=True)
class Expected:
    """What the stack should serve: its pins (`pinned`), or its own last outputs."""
    stack: str
    pinned: bool
    deployment_id: str
    code_hash: str
    function_version: str
    function: str
    stage: str
    rest_api_id: str
    execution_arn: str
    region: str
    partition: str
    artifact_bucket: str
    invoke_policy_arn: str
    allow_test_invoke: bool = False
    definition_hash: str = ""   # recorded by the contract gate; "" where none was
    entry: str = ""             # the current history entry, as `history` numbers it ("#3")
    canary: CanaryPin | None = None


@dataclass(frozen=True)
class Observed:
    """What the account holds now. None: not there (the reason, where one is known, is in
    `problems` by check name)."""
    stage_deployment: str | None
    stage_variables: dict = field(default_factory=dict)
    stage_canary: dict | None = None
    deployment_exists: bool = False
    alias_version: str | None = None
    alias_code_sha256: str | None = None
    archive_exists: bool = False
    permission_statements: tuple[dict, ...] | None = None
    definition_hash: str | None = None
    caller_policy: dict | None = None
    problems: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Commands:
    """How the operator runs things here: the tool's suffix (" --local"), the AWS CLI
    pointed at the stack's account, and what puts back a changed setting (AWS: pulumi up
    --refresh; None where nothing does)."""
    suffix: str = ""
    aws: str = "aws"
    refresh: str | None = "pulumi up --refresh -s {stack}"
    deploy: str = "pulumi up -s {stack}"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_json(self) -> str:
        return json.dumps({"name": self.name, "ok": self.ok, "detail": self.detail,
                           "fix": self.fix}, sort_keys=False)

    def line(self) -> str:
        text = f"{'ok   ' if self.ok else 'DRIFT'} {self.name}: {self.detail}"
        return text if self.ok else f"{text}\n      fix: {self.fix}"


def _quote(text: str) -> str:
    return shlex.quote(text)


def _mend(e: Expected, c: Commands, command: str) -> str:
    """Put a changed setting back: the exact AWS CLI command, and on AWS the refresh."""
    return mend(e.stack, c, command)


def mend(stack: str, c: Commands, command: str) -> str:
    """Put a changed setting of `stack` back: the exact AWS CLI command, and on AWS the
    refresh (a plain update diffs against the recorded state, which never saw the change)."""
    by_cli = f"`{c.aws} {command}`"
    if c.refresh:
        return (f"{by_cli}, or `{c.refresh.format(stack=stack)}` (reads what AWS has, "
                f"then puts back what {stack} declares)")
    return (f"{by_cli} (the local cloud's deploy re-creates only what was deleted; it does "
            "not read back a changed setting as `pulumi up --refresh` does)")


def remove_canary_settings(stack: str, rest_api_id: str, stage: str, c: Commands) -> str:
    """How to take canary settings off a stage: AWS's documented patch ("Turn off a canary
    release": remove /canarySettings)."""
    return mend(stack, c, f"{_update_stage(rest_api_id, stage)} --patch-operations "
                          "op=remove,path=/canarySettings")


def _choose_again(e: Expected, c: Commands) -> str:
    history = f"`python -m promotion history --stack {e.stack}{c.suffix}`"
    if not e.pinned:
        return f"deploy {e.stack} again: `{c.deploy.format(stack=e.stack)}`"
    return (f"serve an entry whose deployment exists: `python -m promotion rollback --stack "
            f"{e.stack} --to '#N'{c.suffix}` ({history} lists them), or promote again: "
            f"`python -m promotion promote --from test --to {e.stack}{c.suffix}`")


def _stage_path(e: Expected) -> str:
    return _update_stage(e.rest_api_id, e.stage)


def _update_stage(rest_api_id: str, stage: str) -> str:
    return f"apigateway update-stage --rest-api-id {rest_api_id} --stage-name {stage}"


def _what(e: Expected) -> str:
    return (f"the pinned one{f' ({e.entry})' if e.entry else ''}" if e.pinned
            else "the one its last update made")


def check_deployment(e: Expected, o: Observed, c: Commands) -> Check:
    name = "deployment"
    if o.stage_deployment is None:
        return Check(name, False, o.problems.get(name) or
                     f"the REST API {e.rest_api_id} has no stage {e.stage}",
                     f"deploy {e.stack} again, which makes it: "
                     f"`{(c.refresh or c.deploy).format(stack=e.stack)}`")
    if not o.deployment_exists:
        return Check(name, False, f"deployment {e.deployment_id}, {_what(e)}, no longer "
                     f"exists in the REST API {e.rest_api_id} (stage {e.stage} serves "
                     f"{o.stage_deployment})", _choose_again(e, c))
    if o.stage_deployment != e.deployment_id:
        return Check(name, False, f"stage {e.stage} serves deployment {o.stage_deployment}, "
                     f"not {e.deployment_id}, {_what(e)}",
                     _mend(e, c, f"{_stage_path(e)} --patch-operations "
                                 f"op=replace,path=/deploymentId,value={e.deployment_id}"))
    return Check(name, True, f"stage {e.stage} serves deployment {e.deployment_id}, "
                 f"{_what(e)}, and it exists")


def check_code(e: Expected, o: Observed, c: Commands) -> Check:
    name, key = "code", archive_key(e.code_hash)
    if o.alias_version is None or o.alias_code_sha256 is None:
        return Check(name, False, o.problems.get(name) or
                     f"{e.function} has no alias {ALIAS}",
                     f"deploy {e.stack} again, which makes it: "
                     f"`{(c.refresh or c.deploy).format(stack=e.stack)}`")
    mismatch = code_mismatch(o.alias_code_sha256, e.code_hash)
    if mismatch:
        fix = (_mend(e, c, f"lambda update-alias --function-name {e.function} --name {ALIAS} "
                           f"--function-version {e.function_version}")
               if e.function_version else _choose_again(e, c))
        return Check(name, False, f"alias {ALIAS} of {e.function} serves version "
                     f"{o.alias_version}, whose code is not the archive {e.code_hash[:12]}…: "
                     f"{mismatch}", fix)
    if not o.archive_exists:
        return Check(name, False, f"alias {ALIAS} serves version {o.alias_version}, the "
                     f"archive's code, but {key} is gone from the artifacts bucket "
                     f"{e.artifact_bucket} (a rollback to it, or an update of {e.stack}, "
                     "would be refused)",
                     "upload it again from a stage that runs that code, e.g. deploy test "
                     f"while its checkout builds it (`{c.deploy.format(stack='test')}`), or "
                     f"promote again: `python -m promotion promote --from test --to "
                     f"{e.stack}{c.suffix}`")
    return Check(name, True, f"alias {ALIAS} serves version {o.alias_version}, CodeSha256 of "
                 f"the archive {e.code_hash[:12]}…, and {key} is in the artifacts bucket")


def check_stage_variable(e: Expected, o: Observed, c: Commands) -> Check:
    name, want = "stage variable", f"{e.function}:{ALIAS}"
    if o.stage_deployment is None:
        return Check(name, False, f"there is no stage {e.stage} to read",
                     f"deploy {e.stack} again: `{(c.refresh or c.deploy).format(stack=e.stack)}`")
    got = o.stage_variables.get(STAGE_VARIABLE)
    if got != want:
        return Check(name, False, f"stage {e.stage}'s {STAGE_VARIABLE} is "
                     f"{got!r}, not {want!r}: it calls another function or alias",
                     _mend(e, c, f"{_stage_path(e)} --patch-operations "
                                 f"op=replace,path=/variables/{STAGE_VARIABLE},value={want}"))
    return Check(name, True, f"stage {e.stage}'s {STAGE_VARIABLE} is {want}")


def _source_arns(statement: dict) -> list[str]:
    condition = statement.get("Condition") or {}
    arns = []
    for operator in ("ArnLike", "ArnEquals", "StringLike", "StringEquals"):
        value = (condition.get(operator) or {}).get("AWS:SourceArn")
        arns += [value] if isinstance(value, str) else list(value or [])
    return arns


def _is_gateway(statement: dict) -> bool:
    principal = statement.get("Principal")
    service = principal.get("Service") if isinstance(principal, dict) else principal
    return service == API_GATEWAY_SERVICE or service == "*" or \
        (isinstance(service, list) and API_GATEWAY_SERVICE in service)


def _actions(statement: dict) -> set[str]:
    action = statement.get("Action")
    return {action} if isinstance(action, str) else set(action or [])


def check_permission(e: Expected, o: Observed, c: Commands) -> Check:
    name = "permission"
    own = api_routes.stage_arn(e.execution_arn, e.stage)
    allowed = {own} | ({api_routes.stage_arn(e.execution_arn, TEST_INVOKE_STAGE)}
                       if e.allow_test_invoke else set())
    add = (f"lambda add-permission --function-name {e.function} --qualifier {ALIAS} "
           f"--statement-id apigateway-{e.stage} --action {INVOKE} --principal "
           f"{API_GATEWAY_SERVICE} --source-arn {_quote(own)}")
    grants = [s for s in o.permission_statements or () if s.get("Effect") == "Allow"
              and _is_gateway(s) and _actions(s) & {INVOKE, "lambda:*", "*"}]
    wider = [s for s in grants if not _source_arns(s) or set(_source_arns(s)) - allowed]
    if wider:
        names = ", ".join(f"{s.get('Sid', '?')} ({', '.join(_source_arns(s)) or 'any source'})"
                          for s in wider)
        first = wider[0].get("Sid", "SID")
        return Check(name, False, f"{e.function}:{ALIAS}'s policy also lets API Gateway invoke "
                     f"it from elsewhere than stage {e.stage}: {names}",
                     _mend(e, c, f"lambda remove-permission --function-name {e.function} "
                                 f"--qualifier {ALIAS} --statement-id {first}"))
    if not any(own in _source_arns(s) for s in grants):
        return Check(name, False, o.problems.get(name) or
                     f"{e.function}:{ALIAS}'s policy has no statement letting API Gateway "
                     f"invoke it from stage {e.stage} ({own}): every call is a 500",
                     _mend(e, c, add) if not c.refresh else
                     f"`{c.refresh.format(stack=e.stack)}` (re-creates the permission), or "
                     f"`{c.aws} {add}`")
    return Check(name, True, f"API Gateway may invoke {e.function}:{ALIAS} from stage "
                 f"{e.stage} only ({own})")


def check_definition(e: Expected, o: Observed, c: Commands) -> Check:
    name = "definition"
    if not e.pinned:
        return Check(name, True, f"nothing was promoted to {e.stack}, so no stage proved a "
                     "definition for it; the deployment check covers what its last update "
                     "made (a deployment is frozen)")
    if o.definition_hash is None:
        return Check(name, False, f"the definition stage {e.stage} serves cannot be read: "
                     f"{o.problems.get(name) or 'unknown'}",
                     f"fix what the deployment check says, then `python -m promotion verify "
                     f"--stack {e.stack}{c.suffix}`")
    if not e.definition_hash:
        entry = e.entry or "(none matches its pins)"
        return Check(name, False, f"{e.stack}'s history entry {entry} records no definition "
                     "hash (it was recorded before verify existed); stage "
                     f"{e.stage} serves definition {o.definition_hash[:12]}…",
                     f"promote again, which records it: `python -m promotion promote --from "
                     f"test --to {e.stack}{c.suffix}`")
    if o.definition_hash != e.definition_hash:
        return Check(name, False, f"the deployment stage {e.stage} serves holds definition "
                     f"{o.definition_hash[:12]}…, not {e.definition_hash[:12]}…, which its "
                     f"source proved ({e.entry})", _choose_again(e, c))
    return Check(name, True, f"the served deployment holds definition "
                 f"{e.definition_hash[:12]}…, the one its source proved ({e.entry})")


def check_canary(e: Expected, o: Observed, c: Commands) -> Check:
    name, settings = "canary", o.stage_canary
    remove = remove_canary_settings(e.stack, e.rest_api_id, e.stage, c)
    if e.canary is None:
        if settings:
            return Check(name, False, f"stage {e.stage} carries canary settings no pin "
                         f"names: deployment {settings.get('deploymentId')} to "
                         f"{settings.get('percentTraffic')}% of the requests", remove)
        return Check(name, True, f"no canary on stage {e.stage}, and none is pinned")
    status = f"`python -m promotion canary status --stack {e.stack}{c.suffix}`"
    if not settings:
        return Check(name, False, f"a canary is pinned ({e.canary.label()}) but stage "
                     f"{e.stage} carries no canary settings",
                     f"{status} says what to do; record it as ended: `python -m promotion "
                     f"canary abort --stack {e.stack}{c.suffix}`")
    want = {"deploymentId": e.canary.deployment_id,
            "stageVariableOverrides": {STAGE_VARIABLE: f"{e.function}{CANARY_VARIABLE_SUFFIX}"}}
    got = {"deploymentId": settings.get("deploymentId"),
           "stageVariableOverrides": settings.get("stageVariableOverrides") or {}}
    same_share = _percent(settings.get("percentTraffic")) == _percent(e.canary.percent)
    if got != want or not same_share:
        return Check(name, False, f"stage {e.stage}'s canary settings (deployment "
                     f"{got['deploymentId']}, {settings.get('percentTraffic')}%, "
                     f"{got['stageVariableOverrides']}) are not the canary pin's "
                     f"({e.canary.label()})",
                     f"end it and start again: `python -m promotion canary abort --stack "
                     f"{e.stack}{c.suffix}` ({status} shows it)")
    return Check(name, True, f"stage {e.stage} carries the pinned canary: {e.canary.label()}")


def _percent(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def check_caller_policy(e: Expected, o: Observed, c: Commands) -> Check:
    name = "caller policy"
    own = api_routes.stage_arn(e.execution_arn, e.stage)
    prefix = f"arn:{e.partition}:execute-api:{e.region}:"
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "InvokeOneStage", "Effect": "Allow", "Action": EXECUTE, "Resource": [own]}]},
        separators=(",", ":"))
    fix = _mend(e, c, f"iam create-policy-version --policy-arn {e.invoke_policy_arn} "
                      f"--set-as-default --policy-document {_quote(document)}")
    if not own.startswith(prefix):
        return Check(name, False, f"{e.stack}'s execution ARN {e.execution_arn} is not in "
                     f"its region's partition ({prefix}...)",
                     f"deploy {e.stack} again: `{c.deploy.format(stack=e.stack)}`")
    if o.caller_policy is None:
        return Check(name, False, o.problems.get(name) or
                     f"the invoke policy {e.invoke_policy_arn} cannot be read",
                     f"deploy {e.stack} again: `{(c.refresh or c.deploy).format(stack=e.stack)}`")
    statements = o.caller_policy.get("Statement") or []
    statements = [statements] if isinstance(statements, dict) else statements
    allows = [s for s in statements if s.get("Effect") == "Allow"]
    extra = []
    for s in allows:
        resources = s.get("Resource")
        resources = [resources] if isinstance(resources, str) else list(resources or [])
        if _actions(s) != {EXECUTE} or set(resources) - {own} or s.get("NotAction") \
                or s.get("NotResource"):
            extra.append(f"{sorted(_actions(s)) or s.get('NotAction')} on "
                         f"{resources or s.get('NotResource')}")
    if extra:
        return Check(name, False, f"{e.invoke_policy_arn} grants more than stage {e.stage}: "
                     f"{'; '.join(extra)}", fix)
    if not any(own in ([s.get("Resource")] if isinstance(s.get("Resource"), str)
                       else s.get("Resource") or []) for s in allows):
        return Check(name, False, f"{e.invoke_policy_arn} does not grant {EXECUTE} on stage "
                     f"{e.stage} ({own})", fix)
    return Check(name, True, f"{e.invoke_policy_arn} grants {EXECUTE} on {own} only")


CHECKS = (check_deployment, check_code, check_stage_variable, check_permission,
          check_definition, check_canary, check_caller_policy)


def checks(expected: Expected, observed: Observed, commands: Commands) -> list[Check]:
    return [check(expected, observed, commands) for check in CHECKS]
