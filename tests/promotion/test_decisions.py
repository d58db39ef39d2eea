"""What promotion pins, records and refuses: the decision code on its own."""
from __future__ import annotations

import json

import pytest

from promotion.decisions import (HISTORY, PINNED_CODE, PINNED_DEPLOYMENT, Refusal, history_lines,
                                 plan_promotion, plan_rollback)

A, B, C = "a" * 64, "b" * 64, "c" * 64
NOW = "2026-11-21T12:00:00Z"
TEST_OUT = {"deploymentId": "dtest2", "codeHash": B, "stageUrl": "http://x/test"}
PROD_OUT = {"deploymentId": "dprod1", "codeHash": A}
RETAINED = {"dprod1", "dtest1", "dtest2"}


def promote(source_outputs=TEST_OUT, target_outputs=PROD_OUT, config=None, retained=RETAINED,
            code=B, source="test", target="prod"):
    return plan_promotion(source, target, source_outputs, target_outputs, config or {},
                          retained, code, NOW)


def test_first_promotion_pins_the_source_and_keeps_what_prod_served():
    change = promote()
    values = change.values()
    assert values[PINNED_DEPLOYMENT] == "dtest2" and values[PINNED_CODE] == B
    history = json.loads(values[HISTORY])
    assert [(e["deploymentId"], e["action"]) for e in history] == [
        ("dprod1", "initial"), ("dtest2", "promote")]
    assert history[1]["from"] == "test" and history[1]["at"] == NOW


def test_later_promotions_append_to_the_history():
    earlier = promote().values()
    change = promote(source_outputs={"deploymentId": "dtest3", "codeHash": C},
                     target_outputs={"deploymentId": "dtest2", "codeHash": B},
                     config=earlier, retained=RETAINED | {"dtest3"}, code=C)
    history = json.loads(change.values()[HISTORY])
    assert [e["deploymentId"] for e in history] == ["dprod1", "dtest2", "dtest3"]


def test_promoting_what_is_already_served_changes_nothing():
    pinned = promote().values()
    assert promote(target_outputs={"deploymentId": "dtest2", "codeHash": B},
                   config=pinned) is None


@pytest.mark.parametrize("kwargs,message", [
    ({"source": "prod"}, "onto itself"),
    ({"source_outputs": {"stageUrl": "http://x"}}, "has no deploymentId or codeHash output"),
    ({"source_outputs": {"deploymentId": "d", "codeHash": ""}}, "has no codeHash output"),
    ({"retained": {"dprod1"}}, "not a retained deployment"),
    ({"code": C}, "check out the code test was deployed from"),
])
def test_promotion_refusals(kwargs, message):
    with pytest.raises(Refusal, match=message):
        promote(**kwargs)


def served_history():
    return promote().values()


def test_rollback_goes_to_the_deployment_served_before():
    config = served_history()
    change = plan_rollback("prod", {"deploymentId": "dtest2"}, config, RETAINED, None, A, NOW)
    assert change.deployment_id == "dprod1" and change.code_hash == A
    history = json.loads(change.values()[HISTORY])
    assert history[-1] == {"deploymentId": "dprod1", "codeHash": A, "action": "rollback",
                           "from": "prod", "at": NOW}


def test_rollback_to_a_named_deployment():
    config = served_history()
    change = plan_rollback("prod", {"deploymentId": "dtest2"}, config, RETAINED, "dprod1", A, NOW)
    assert change.deployment_id == "dprod1"


@pytest.mark.parametrize("to,retained,code,message", [
    ("nope", RETAINED, A, "not in prod's history"),
    ("dtest2", RETAINED, B, "already serves deployment dtest2"),
    (None, {"dtest2"}, A, "no longer exists"),
    (None, RETAINED, B, "check out that code"),
])
def test_rollback_refusals(to, retained, code, message):
    with pytest.raises(Refusal, match=message):
        plan_rollback("prod", {"deploymentId": "dtest2"}, served_history(), retained, to, code, NOW)


def test_rollback_without_history_is_refused():
    with pytest.raises(Refusal, match="no earlier deployment"):
        plan_rollback("prod", PROD_OUT, {}, RETAINED, None, A, NOW)


def test_corrupt_history_is_refused_not_overwritten():
    with pytest.raises(Refusal, match="not valid JSON"):
        promote(config={HISTORY: "[oops"})


def test_history_lists_newest_first_with_the_current_marked():
    config = served_history()
    rolled = plan_rollback("prod", {"deploymentId": "dtest2"}, config, RETAINED, None, A, NOW)
    lines = history_lines("prod", rolled.values(), {"deploymentId": "dprod1"})
    assert [line.split()[:3] for line in lines] == [
        ["*", "dprod1", "rollback"], ["dtest2", "promote", "from"], ["dprod1", "initial", "code"]]
    assert history_lines("prod", {}, PROD_OUT) == [
        "* dprod1  (its own deployment; nothing promoted yet)"]
