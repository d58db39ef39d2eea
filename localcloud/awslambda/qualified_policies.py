"""Removing a permission from the policy of the qualifier it was added to, as Lambda does.

Lambda keeps a resource policy per qualifier: `RemovePermission(StatementId=S,
Qualifier=canary)` removes S from the alias canary's policy and leaves the S of `live`
alone. moto keeps every qualifier's statements in one list (control_plane.
policy_of_qualifier reads each qualifier's own back by the statement's Resource) and
ignores the Qualifier on removal: it removes the first S it finds, so taking a canary's
grant away took live's. Here the statement whose Resource names the qualifier is the one
removed. This runs in the process that runs moto's server (the local cloud's own), before
anything is deployed.

And an alias's policy goes with the alias: deleting an alias deletes its policy, so an
alias made again under the same name starts with none (terraform-provider-aws issue
12917: a permission on an alias is gone after the alias is made again). moto leaves the
alias's statements in the function's list, where a new AddPermission of the same
statement id then conflicts, though GetPolicy on the (missing) alias finds none.
"""
from __future__ import annotations

from urllib.parse import unquote

from localcloud.control_plane import split_qualifier

_MARK = "_removes_the_qualifiers_own"
_ALIAS_MARK = "_removes_the_aliass_policy"


def _drop_statements_of(policies, qualifier: str) -> None:
    for policy in policies:
        policy.statements[:] = [
            s for s in policy.statements
            if not (isinstance(s.get("Resource"), str)
                    and split_qualifier(s["Resource"])[1] == qualifier)]


def remove_permissions_per_qualifier() -> None:
    """moto's RemovePermission honours the Qualifier, and DeleteAlias deletes the alias's
    policy (idempotent)."""
    from moto.awslambda.exceptions import UnknownPolicyException
    from moto.awslambda.responses import LambdaResponse

    _delete_alias_with_its_policy(LambdaResponse)
    if getattr(LambdaResponse.remove_permission, _MARK, False):
        return

    def remove_permission(self):
        function_name = unquote(self.path.split("/")[-3])
        statement_id = self.path.split("/")[-1].split("?")[0]
        qualifier = self.querystring.get("Qualifier", [None])[0]
        function = self.backend.get_function(function_name)
        if not function:
            return 404, {"status": 404}, "{}"
        statements = function.policy.statements
        own = [s for s in statements if s.get("Sid") == statement_id and isinstance(
            s.get("Resource"), str) and split_qualifier(s["Resource"])[1] == (qualifier or None)]
        if not own:
            raise UnknownPolicyException()
        statements.remove(own[0])
        return 204, {"status": 204}, "{}"

    setattr(remove_permission, _MARK, True)
    LambdaResponse.remove_permission = remove_permission


def _delete_alias_with_its_policy(LambdaResponse) -> None:
    if getattr(LambdaResponse.delete_alias, _ALIAS_MARK, False):
        return
    original = LambdaResponse.delete_alias

    def delete_alias(self):
        function_name = unquote(self.path.rsplit("/")[-3])
        alias_name = unquote(self.path.rsplit("/", 2)[-1])
        # The statements live on the function object moto's AddPermission resolved the
        # alias to (its version's, a copy sharing or not the latest's): both are searched.
        policies = {}
        for qualifier in (None, alias_name):
            try:
                function = self.backend.get_function(function_name, qualifier)
            except Exception:  # noqa: BLE001 -- no such function or alias: moto answers
                continue
            if function is not None:
                policies[id(function.policy)] = function.policy
        answer = original(self)
        _drop_statements_of(policies.values(), alias_name)
        return answer

    setattr(delete_alias, _ALIAS_MARK, True)
    LambdaResponse.delete_alias = delete_alias
