"""Who the smoke checks sign as, and what to tell an operator whose identity a stage
refuses: pure functions, the same on AWS and on the local cloud.

Every method requires `execute-api:Invoke` on its stage, so the identity that signs the
smoke checks needs each checked stage's invoke policy (its `invokePolicyArn` output).
An AWS administrator's AdministratorAccess (Action "*") includes it; a narrower operator
policy, or `apigateway:*` alone (API Gateway's management API), does not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from promotion.smoke import SmokeResult

# A user, a role, or a role's session: the identities IAM policies are attached to.
_ATTACHABLE = re.compile(r"arn:[a-z-]+:(?:iam|sts)::\d{12}:(user|role|assumed-role)/(.+)")
# Roles IAM Identity Center makes for a permission set: IAM refuses to change them ("the
# protected role ... is only modifiable by AWS"); their policies come from the permission set.
_IDENTITY_CENTER_ROLE = "AWSReservedSSO_"


def role_name(identity_arn: str | None) -> str | None:
    """The IAM role an identity acts as (a role, or a role's session), else None."""
    match = _ATTACHABLE.fullmatch(identity_arn or "")
    if match is None or match.group(1) == "user":
        return None
    kind, rest = match.groups()
    # role/[path/]NAME; assumed-role/NAME/SESSION (a session's ARN has no path)
    return rest.rsplit("/", 1)[-1] if kind == "role" else rest.split("/", 1)[0]


def attach_command(identity_arn: str | None, policy_arn: str, aws: str = "aws") -> str | None:
    """The AWS CLI command that gives the identity the policy: a user gets it, a role
    gets it (a role's session, `assumed-role/ROLE/SESSION`, acts with its role's
    policies); None for anything else (root, a federated user, an unknown identity, a
    role of IAM Identity Center)."""
    match = _ATTACHABLE.fullmatch(identity_arn or "")
    if match is None:
        return None
    kind, rest = match.groups()
    if kind == "user":  # user/[path/]NAME
        return f"{aws} iam attach-user-policy --user-name {rest.rsplit('/', 1)[-1]} " \
               f"--policy-arn {policy_arn}"
    role = role_name(identity_arn)
    if role is None or role.startswith(_IDENTITY_CENTER_ROLE):
        return None
    return f"{aws} iam attach-role-policy --role-name {role} --policy-arn {policy_arn}"


@dataclass(frozen=True)
class Refused:
    """A stage that answered a smoke check with 403: who signed, and the fix."""
    stack: str
    result: SmokeResult
    identity_arn: str | None      # from STS GetCallerIdentity; None if it could not be read
    identity_source: str          # where the credentials came from (a profile...)
    policy_arn: str               # the stack's invokePolicyArn output ("" if it has none)
    aws: str = "aws"              # the AWS CLI as the operator runs it for this cloud
    arn_problem: str = ""         # why the ARN is unknown

    def signer(self) -> str:
        if self.identity_arn:
            return f"{self.identity_arn} ({self.identity_source})"
        return (f"the identity of {self.identity_source} (STS GetCallerIdentity did not name "
                f"it: {self.arn_problem})")

    def fix(self) -> str:
        if not self.result.lacks_permission:  # the key, session or signature, not a policy
            return ("it does not accept these credentials (an unknown or inactive key, an "
                    "expired session, a clock far off): renew them")
        if not self.policy_arn:
            return (f"{self.stack} exports no invokePolicyArn; deploy it with this program, "
                    "then attach that policy to the identity")
        command = attach_command(self.identity_arn, self.policy_arn, self.aws)
        if command:
            return f"attach {self.stack}'s invoke policy to it: `{command}`"
        role = role_name(self.identity_arn)
        if role and role.startswith(_IDENTITY_CENTER_ROLE):
            name = self.policy_arn.rsplit("/", 1)[-1]
            return (f"{role} is IAM Identity Center's role (IAM refuses to change it): add "
                    f"the customer managed policy {name} ({self.policy_arn}) to the permission "
                    "set it comes from")
        return f"attach {self.stack}'s invoke policy {self.policy_arn} to the user or role it is"

    def sentence(self) -> str:
        return f"{self.stack} refuses {self.signer()} ({self.result}): {self.fix()}"


def stages_text(stacks: list[str]) -> str:
    return " and ".join(stacks)


def refusal_message(refused: list[Refused]) -> str:
    """One message for every stage that refused the identity, before anything changed."""
    stacks = stages_text([r.stack for r in refused])
    return (f"the smoke checks would be refused by {stacks}, so nothing was changed: "
            + "; ".join(r.sentence() for r in refused)
            + f". Or pass --smoke-profile NAME: a profile allowed to invoke {stacks}")
