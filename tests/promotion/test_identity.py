"""What the promotion tool tells an operator whose smoke-check identity a stage refuses:
the identity, the stage, and the command that fixes it, for every kind of identity STS
GetCallerIdentity names, in every partition."""
from __future__ import annotations

import pytest

from promotion.identity import Refused, attach_command, refusal_message
from promotion.smoke import SmokeResult

POLICY = "arn:aws:iam::123456789012:policy/prod-user-service-invoke"


@pytest.mark.parametrize("arn,command", [
    ("arn:aws:iam::123456789012:user/ops",
     f"aws iam attach-user-policy --user-name ops --policy-arn {POLICY}"),
    ("arn:aws:iam::123456789012:user/team/a/ops",  # a user with a path: the name is last
     f"aws iam attach-user-policy --user-name ops --policy-arn {POLICY}"),
    ("arn:aws:iam::123456789012:role/service/deploy-role",
     f"aws iam attach-role-policy --role-name deploy-role --policy-arn {POLICY}"),
    # A role's session acts with its role's policies: the role gets the policy.
    ("arn:aws:sts::123456789012:assumed-role/deploy-role/ci-run-42",
     f"aws iam attach-role-policy --role-name deploy-role --policy-arn {POLICY}"),
    ("arn:aws-us-gov:sts::123456789012:assumed-role/deploy-role/ada@example.com",
     f"aws iam attach-role-policy --role-name deploy-role --policy-arn {POLICY}"),
    ("arn:aws-cn:iam::123456789012:user/ops",
     f"aws iam attach-user-policy --user-name ops --policy-arn {POLICY}"),
    # Nothing to attach to: root, a federated user, a role IAM Identity Center owns.
    ("arn:aws:iam::123456789012:root", None),
    ("arn:aws:sts::123456789012:federated-user/ada", None),
    ("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/ada", None),
    (None, None),
])
def test_the_attach_command_fits_the_identity(arn, command):
    assert attach_command(arn, POLICY) == command


DENIED = '{"Message":"User: ... is not authorized to perform: execute-api:Invoke on ..."}'


def refused(stack="prod", arn="arn:aws:iam::123456789012:user/ops", policy=POLICY,
            body=DENIED, **kwargs):
    result = SmokeResult(f"https://x.execute-api.us-east-1.amazonaws.com/{stack}/users?limit=1",
                         403, body)
    return Refused(stack, result, arn, "prod's aws:profile 'ops'", policy, **kwargs)


def test_one_message_names_every_refusing_stage_its_identity_and_both_fixes():
    test_policy = "arn:aws:iam::123456789012:policy/test-user-service-invoke"
    message = refusal_message([refused("test", policy=test_policy), refused("prod")])
    assert message == (
        "the smoke checks would be refused by test and prod, so nothing was changed: "
        "test refuses arn:aws:iam::123456789012:user/ops (prod's aws:profile 'ops') "
        "(GET https://x.execute-api.us-east-1.amazonaws.com/test/users?limit=1: HTTP 403: "
        '{"Message":"User: ... is not authorized to perform: execute-api:Invoke on ..."}): '
        "attach test's invoke policy to it: "
        "`aws iam attach-user-policy --user-name ops --policy-arn "
        "arn:aws:iam::123456789012:policy/test-user-service-invoke`; "
        "prod refuses arn:aws:iam::123456789012:user/ops (prod's aws:profile 'ops') "
        "(GET https://x.execute-api.us-east-1.amazonaws.com/prod/users?limit=1: HTTP 403: "
        '{"Message":"User: ... is not authorized to perform: execute-api:Invoke on ..."}): '
        "attach prod's invoke policy to it: "
        "`aws iam attach-user-policy --user-name ops --policy-arn "
        "arn:aws:iam::123456789012:policy/prod-user-service-invoke`. "
        "Or pass --smoke-profile NAME: a profile allowed to invoke test and prod")


def test_the_fix_when_no_command_fits():
    sso = refused(arn="arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Ops_0a1b/ada")
    assert sso.fix() == (
        "AWSReservedSSO_Ops_0a1b is IAM Identity Center's role (IAM refuses to change it): "
        "add the customer managed policy prod-user-service-invoke "
        f"({POLICY}) to the permission set it comes from")
    assert refused(arn="arn:aws:iam::123456789012:root").fix() == (
        f"attach prod's invoke policy {POLICY} to the user or role it is")
    assert refused(policy="").fix() == (
        "prod exports no invokePolicyArn; deploy it with this program, then attach that "
        "policy to the identity")
    unknown = refused(arn=None, arn_problem="ExpiredToken")
    assert unknown.signer() == ("the identity of prod's aws:profile 'ops' (STS "
                                "GetCallerIdentity did not name it: ExpiredToken)")


def test_credentials_the_stage_does_not_accept_are_renewed_not_given_a_policy():
    for body in ('{"message":"The security token included in the request is invalid."}',
                 '{"message":"Signature expired: 20261204T100000Z is now earlier than ..."}',
                 '{"message":"The request signature we calculated does not match ..."}'):
        assert refused(body=body).fix() == (
            "it does not accept these credentials (an unknown or inactive key, an expired "
            "session, a clock far off): renew them")


@pytest.mark.parametrize("status,body,identity,permission", [
    (403, DENIED, True, True),
    (403, '{"message":"The security token included in the request is invalid."}', True, False),
    # API Gateway's answer to a request that matches no stage, path or method: the stage's
    # problem, reached before any identity is looked at.
    (403, '{"message":"Missing Authentication Token"}', False, False),
    # The default endpoint turned off (or an unmapped path on a custom domain): nothing to
    # do with who signed.
    (403, '{"message":"Forbidden"}', False, False),
    (403, '{"message": "Forbidden"}', False, False),
    (403, '{"message":"Credential should be scoped to a valid region. "}', True, False),
    (500, '{"message": "Internal server error"}', False, False),
    (None, "GET ...: Connection refused", False, False),
])
def test_which_answers_are_about_the_identity(status, body, identity, permission):
    result = SmokeResult("https://x/prod/users?limit=1", status, body)
    assert (result.identity_refused, result.lacks_permission) == (identity, permission)


def test_the_command_runs_the_aws_cli_as_the_backend_says():
    local = "AWS_SHARED_CREDENTIALS_FILE=.localcloud/credentials aws --profile deployer " \
            "--endpoint-url http://127.0.0.1:5000"
    assert refused(aws=local).fix() == (
        f"attach prod's invoke policy to it: `{local} iam attach-user-policy --user-name ops "
        f"--policy-arn {POLICY}`")
