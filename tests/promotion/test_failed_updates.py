"""A failed update: what it left is told from its own evidence, and nothing is said of what
the stack serves beyond what is known (facts C: Pulumi saves the state step by step, and a
failed run's outputs are the last finished update's). The pure decision as a table, then
the flow against the stand-in `pulumi` (tests/promotion/standin_pulumi.py)."""
from __future__ import annotations

import json

import pytest

from promotion import failures
from promotion.decisions import HISTORY, PINNED_CODE, PINNED_DEPLOYMENT, PINNED_VERSION
from tests.promotion.test_automation_backend import (  # noqa: F401 -- fixtures
    OLD, PARTIAL_OUTPUT, REFUSED_OUTPUT, aws, cli, exports, stage_server, up_succeeds)

# The CLI's non-interactive output of an update whose replacement deleted the original
# before another resource failed, from pulumi/pulumi's display golden file
# pkg/backend/display/testdata/not-truncated/
# failed-stacks-dont-rewrite-operations.json.non-interactive.stdout.txt (colours removed):
# a step completed, yet the summary counts none.
DELETED_ORIGINAL = """\
     pulumi:pulumi:Stack test-dev running
 ~   pulumi-python:dynamic:Resource test-x updating
 --  pulumi-python:dynamic:Resource test-r deleting original
 ~   pulumi-python:dynamic:Resource test-x **updating failed**
 --  pulumi-python:dynamic:Resource test-r deleted original
     pulumi:pulumi:Stack test-dev
Resources:
    1 unchanged

Duration: 8s
"""
# A stack reference that cannot be read (the engine's lifecycle golden output for an unknown
# stack: `pulumi:pulumi:StackReference other **reading failed** error: unknown stack`).
UNKNOWN_REFERENCE = """\
Updating (prod)
 >   pulumi:pulumi:StackReference organization/user-service/dev **reading failed** error: unknown stack "organization/user-service/dev"
Diagnostics:
  pulumi:pulumi:StackReference (organization/user-service/dev):
    error: unknown stack "organization/user-service/dev"
Resources:
    12 unchanged
"""
CUT_SHORT = """\
Updating (prod)
 +   aws:lambda:Permission prod-invoke creating (1s)
"""
INTERRUPTED_NO_SUMMARY = """\
Updating (prod)
 ~   aws:apigateway:Stage prod updating (interrupted)
"""
FAILED_CREATE = """\
Updating (prod)
 +   aws:cloudwatch:LogGroup prod-logs creating (0s)
 +   aws:cloudwatch:LogGroup prod-logs **creating failed** error: creating CloudWatch Logs Log Group (/aws/lambda/user-service): ResourceAlreadyExistsException
Diagnostics:
  aws:cloudwatch:LogGroup (prod-logs):
    error: creating CloudWatch Logs Log Group (/aws/lambda/user-service): ResourceAlreadyExistsException: The specified log group already exists
Resources:
    12 unchanged
"""
NO_ERROR_LINES = """\
Updating (prod)
Resources:
    12 unchanged
"""


@pytest.mark.parametrize("output,kind,evidence", [
    (REFUSED_OUTPUT, "refused", "the CLI printed no resource step, its summary counts no "
     "change, and the error is the program's own (pulumi:pulumi:Stack)"),
    (UNKNOWN_REFERENCE, "refused", "the error is the program's own "
     "(pulumi:pulumi:StackReference)"),
    (PARTIAL_OUTPUT, "partial", "the CLI's summary counts 1 applied step, and Pulumi keeps "
     "each completed step in the stack's state"),
    (DELETED_ORIGINAL, "unknown", "the CLI printed a step (~   pulumi-python:dynamic:Resource "
     "test-x updating)"),
    (FAILED_CREATE, "unknown", "the CLI printed a step (+   aws:cloudwatch:LogGroup prod-logs "
     "creating (0s))"),
    (CUT_SHORT, "unknown", "the CLI printed a step"),
    (INTERRUPTED_NO_SUMMARY, "unknown", "the CLI printed a step"),
    ("Updating (prod)\n", "unknown", "the CLI's output ends without its summary of the "
     "update (it was cut short)"),
    (NO_ERROR_LINES, "unknown", "the CLI printed no error of the program"),
    (REFUSED_OUTPUT.replace("pulumi:pulumi:Stack (user-service-prod):",
                            "aws:lambda:Alias (live):"),
     "unknown", "an error is a resource's (aws:lambda:Alias)"),
])
def test_what_a_failed_up_left_is_told_from_its_output(output, kind, evidence):
    found = failures.pulumi_failure(output.splitlines())
    assert found[0] == kind and evidence in found[1], found


@pytest.mark.parametrize("begun,state_changed,kind,evidence", [
    ([], False, "refused", "the local cloud's engine began no step"),
    (["create aws:cloudwatch/logGroup:LogGroup prod-logs"], False, "unknown",
     "began 1 step, the first: create aws:cloudwatch/logGroup:LogGroup prod-logs; its state "
     "records none completed"),
    (["change aws:lambda/alias:Alias prod-alias", "create aws:x:Y z"], True, "partial",
     "began 2 steps, the first: change aws:lambda/alias:Alias prod-alias; its state records"),
])
def test_what_a_failed_local_deploy_left_is_told_from_its_engine(begun, state_changed, kind,
                                                                  evidence):
    found = failures.local_failure(begun, state_changed)
    assert found[0] == kind and evidence in found[1], found


WHERE, DEPLOY, FIND_OUT = "Pulumi.prod.yaml", "pulumi up -s prod", "ASK-AWS"


@pytest.mark.parametrize("kind,says,never", [
    ("concurrent", ["another update of prod is in progress (D); nothing was changed and "
                    "Pulumi.prod.yaml is as it was"], ["not known"]),
    ("refused", ["the update of prod stopped before it changed anything (D); prod serves "
                 "what it served (E) and Pulumi.prod.yaml is as it was"], ["not known"]),
    ("partial", ["the update of prod failed partway (D; E)"], ["serves what it served",
                                                               "nothing was changed"]),
    ("unknown", ["the update of prod failed (D), and whether any of its steps were applied is "
                 "not known (E)"], ["serves what it served", "nothing was changed"]),
])
def test_the_failure_is_said_as_far_as_it_is_known(kind, says, never):
    text = failures.failure_text(kind, "prod", "D", "E", WHERE)
    for part in says:
        assert part in text
    for part in never:
        assert part not in text


@pytest.mark.parametrize("outcome,says", [
    (dict(label=None), "prod had no pins before and nothing recorded what it served, so it was "
     "not deployed again; what prod serves now is not known: ASK-AWS. Its config in "
     "Pulumi.prod.yaml is as it was"),
    (dict(label="L", restore_error="R"), "putting back its previous pins (L) failed too (R); "
     "what prod serves now is not known: ASK-AWS. The previous pins are in Pulumi.prod.yaml"),
    (dict(label="L", smoke_passed=True, smoke_said="GET u: HTTP 200"),
     "it was rolled back to its previous pins (L) and its smoke check passes (GET u: HTTP "
     "200); Pulumi.prod.yaml holds those pins"),
    (dict(label="L", smoke_passed=False, smoke_said="GET u: HTTP 502"),
     "it was rolled back to its previous pins (L) but its smoke check fails (GET u: HTTP 502)"),
    (dict(label="L", smoke_passed=None),
     "it was rolled back to its previous pins (L) (no smoke check: --skip-smoke)"),
])
def test_the_restore_is_said_as_far_as_an_update_or_a_smoke_check_showed(outcome, says):
    text = failures.restore_text("prod", WHERE, DEPLOY, FIND_OUT, **outcome)
    assert says in text
    assert "answers again" not in text and "partly updated" not in text


# --- the flow, with the stand-in pulumi ------------------------------------------------

def pinned_prod(cli, outcomes):
    """prod pinned to its own deployment, its next `up`s answered by `outcomes`."""
    _, prod_d = cli.deployments
    state = cli.state()
    state["stacks"]["prod"]["config"].update({
        PINNED_DEPLOYMENT: prod_d, PINNED_CODE: OLD, PINNED_VERSION: "8",
        HISTORY: json.dumps([{"at": "t", "action": "promote", "from": "test",
                              "deploymentId": prod_d, "codeHash": OLD,
                              "functionVersion": "8"}])})
    state["stacks"]["prod"]["outputs"]["codeHash"] = OLD
    state["stacks"]["prod"]["ups"] = outcomes
    cli.write(state)
    return dict(state["stacks"]["prod"]["config"])


def ups(cli) -> list[dict]:
    return [c for c in cli.calls() if c["args"][1:2] == ["up"]]


def test_a_step_printed_under_a_clean_summary_is_not_taken_for_nothing_changed(
        cli, stage_server):
    _, prod_d = cli.deployments
    before = pinned_prod(cli, [{"stdout": DELETED_ORIGINAL, "code": 255},
                               up_succeeds(cli, prod_d, OLD, "8")])
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1 and "Traceback" not in err
    assert ("the update of prod failed (the Pulumi CLI failed without an error line), and "
            "whether any of its steps were applied is not known (the CLI printed a step (~   "
            "pulumi-python:dynamic:Resource test-x updating))") in err
    assert "serves what it served" not in err
    # So the previous pins were deployed again, and that update finished.
    assert len(ups(cli)) == 2 and ups(cli)[1]["config"] == before
    assert (f"it was rolled back to its previous pins (deployment {prod_d} version 8, code "
            f"000000000000) and its smoke check passes (GET {stage_server}/prod/users?limit=1:"
            " HTTP 200)") in err


def test_when_the_restore_fails_too_it_says_how_to_find_out_what_prod_serves(cli, aws):
    _, prod_d = cli.deployments
    pinned_prod(cli, [{"stdout": PARTIAL_OUTPUT, "code": 255},
                      {"stdout": CUT_SHORT, "code": 255}])
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1 and "Traceback" not in err
    assert "the update of prod failed partway (error: updating Lambda Alias (live)" in err
    assert (f"putting back its previous pins (deployment {prod_d} version 8, code "
            "000000000000) failed too (the Pulumi CLI failed without an error line); what prod "
            "serves now is not known: `pulumi stack export -s prod` shows what its completed "
            "steps recorded (a step cut short is in pending_operations), `pulumi refresh -s "
            "prod` reads it from AWS; or `aws --profile ops --region us-west-2 apigateway "
            f"get-stage --rest-api-id {aws['api']} --stage-name prod` shows its deploymentId and "
            "`aws --profile ops --region us-west-2 lambda get-alias --function-name "
            "user-service --name live` its functionVersion; `python -m "
            "promotion history --stack prod` lists the entries `rollback --to` puts it on")\
        in err
    assert "rolled back" not in err and "smoke check passes" not in err


def test_a_program_refusing_before_any_step_changes_nothing_and_is_said_so(cli):
    before = pinned_prod(cli, [{"stdout": UNKNOWN_REFERENCE, "code": 255}])
    code, out, err = cli.run("promote", "--from", "test", "--to", "prod")
    assert code == 1 and "Traceback" not in err
    assert ("the update of prod stopped before it changed anything (error: unknown stack "
            "\"organization/user-service/dev\"); prod serves what it served (the CLI printed no "
            "resource step, its summary counts no change, and the error is the program's own "
            "(pulumi:pulumi:StackReference)) and Pulumi.prod.yaml is as it was") in err
    assert len(ups(cli)) == 1  # not deployed again: nothing had changed
    assert cli.state()["stacks"]["prod"]["config"] == before
