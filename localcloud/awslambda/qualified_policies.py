"""Removing a permission from the policy of the qualifier it was added to, as Lambda does.

Lambda keeps a resource policy per qualifier: `RemovePermission(StatementId=S,
Qualifier=canary)` removes S from the alias canary's policy and leaves the S of `live`
alone. moto keeps every qualifier's statements in one list (control_plane.
policy_of_qualifier reads each qualifier's own back by the statement's Resource) and
ignores the Qualifier on removal: it removes the first S it finds, so taking a canary's
grant away took live's. Here the statement whose Resource names the qualifier is the one
removed. This runs in the process that runs moto's server (the local cloud's own), before
anything is deployed.
"""
from __future__ import annotations

from urllib.parse import unquote

from localcloud.control_plane import split_qualifier

_MARK = "_removes_the_qualifiers_own"


def remove_permissions_per_qualifier() -> None:
    """moto's RemovePermission honours the Qualifier (idempotent)."""
    from moto.awslambda.exceptions import UnknownPolicyException
    from moto.awslambda.responses import LambdaResponse

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
