"""What promotion pins, records and refuses: the decision code on its own."""
from __future__ import annotations

import json

import pytest

from promotion.decisions import (Pins, Refusal, code_mismatch, current_index, history_lines,
                                 plan_promotion, plan_release, plan_rollback, record_version,
                                 versions_to_prune)

# The program's config keys (Pulumi.yaml declares them), written down here.
PINNED_DEPLOYMENT = "user-service:promotedDeploymentId"
PINNED_CODE = "user-service:promotedCodeHash"
PINNED_VERSION = "user-service:promotedFunctionVersion"
HISTORY = "user-service:deploymentHistory"
PRODUCTION = "user-service:production"

A, B, C = "a" * 64, "b" * 64, "c" * 64
NOW = "2026-11-21T12:00:00Z"
TEST_OUT = {"deploymentId": "dtest2", "codeHash": B, "functionVersion": "7"}
PROD_OUT = {"deploymentId": "dprod1", "codeHash": A, "functionVersion": "1"}
RETAINED = {"dprod1", "dtest1", "dtest2", "dtest3"}
PROD_CONFIG = {PRODUCTION: "true"}


def promote(source_outputs=TEST_OUT, target_outputs=PROD_OUT, config=None, retained=RETAINED,
            source="test", target="prod", source_config=None, **kwargs):
    return plan_promotion(source, target, source_outputs, source_config or {},
                          target_outputs, {**PROD_CONFIG, **(config or {})}, retained, NOW,
                          **kwargs)


def deployed(change, version):
    """The config after the update published `version` (as commands.apply records it)."""
    values = change.values()
    values[HISTORY] = json.dumps(list(record_version(change.history, version) or change.history))
    return {**PROD_CONFIG, **values}, {"deploymentId": change.pins.deployment_id,
                                       "codeHash": change.pins.code_hash,
                                       "functionVersion": version}


def test_first_promotion_pins_the_source_and_keeps_what_prod_served():
    values = promote().values()
    assert (values[PINNED_DEPLOYMENT], values[PINNED_CODE], values[PINNED_VERSION]) == \
        ("dtest2", B, "")  # prod publishes its own version of test's code
    assert json.loads(values[HISTORY]) == [
        {"at": NOW, "action": "initial", "from": "prod", "deploymentId": "dprod1",
         "codeHash": A, "functionVersion": "1"},
        {"at": NOW, "action": "promote", "from": "test", "deploymentId": "dtest2",
         "codeHash": B, "functionVersion": ""}]


def test_the_published_version_is_recorded_in_the_newest_entry_only_once():
    change = promote()
    filled = record_version(change.history, "2")
    assert [e["functionVersion"] for e in filled] == ["1", "2"]
    assert record_version(filled, "3") is None and record_version(change.history, "") is None


def test_a_code_only_promotion_is_its_own_entry():
    config, outputs = deployed(promote(), "2")
    change = promote(source_outputs={"deploymentId": "dtest2", "codeHash": C},
                     target_outputs=outputs, config=config)
    assert [(e["deploymentId"], e["codeHash"]) for e in change.history] == [
        ("dprod1", A), ("dtest2", B), ("dtest2", C)]


def test_promoting_what_is_already_served_changes_nothing():
    config, outputs = deployed(promote(), "2")
    assert promote(target_outputs=outputs, config=config) is None


@pytest.mark.parametrize("kwargs,message", [
    ({"source": "prod"}, "onto itself"),
    ({"source_outputs": {"stageUrl": "http://x"}}, "has no deploymentId or codeHash output; "
                                                   r"deploy it first \(pulumi up -s test\)"),
    ({"source_outputs": {"deploymentId": "d", "codeHash": ""}}, "has no codeHash output"),
    ({"retained": {"dprod1"}}, "not a retained deployment"),
    ({"config": {HISTORY: "[oops"}}, "not valid JSON"),
    ({"config": {HISTORY: '{"a": 1}'}}, "must be a JSON list"),
])
def test_promotion_refusals(kwargs, message):
    with pytest.raises(Refusal, match=message):
        promote(**kwargs)


def test_production_onto_non_production_only_when_asked():
    args = dict(source="prod", target="test", source_outputs=PROD_OUT, target_outputs=TEST_OUT,
                source_config=PROD_CONFIG)
    with pytest.raises(Refusal, match="--allow-from-production") as refused:
        plan_promotion(args["source"], args["target"], PROD_OUT, PROD_CONFIG, TEST_OUT, {},
                       RETAINED, NOW)
    assert "--to test" not in str(refused.value)
    change = plan_promotion("prod", "test", PROD_OUT, PROD_CONFIG, TEST_OUT, {}, RETAINED, NOW,
                            allow_from_production=True)
    assert change.pins == Pins("dprod1", A)


def test_release_clears_the_pins_of_a_non_production_stage():
    change = plan_promotion("prod", "test", PROD_OUT, PROD_CONFIG, TEST_OUT, {}, RETAINED, NOW,
                            allow_from_production=True)
    released = plan_release("test", change.values())
    assert released.values() == {PINNED_DEPLOYMENT: None, PINNED_CODE: None,
                                 PINNED_VERSION: None, HISTORY: None}
    with pytest.raises(Refusal, match="production stack"):
        plan_release("prod", {**PROD_CONFIG, PINNED_DEPLOYMENT: "d"})
    with pytest.raises(Refusal, match="no pins"):
        plan_release("test", {})


def three_promotions():
    """prod: initial (dprod1, A, v1) → (dtest2, B, v2) → code-only (dtest2, C, v3)."""
    config, outputs = deployed(promote(), "2")
    config, outputs = deployed(promote(source_outputs={"deploymentId": "dtest2", "codeHash": C},
                                       target_outputs=outputs, config=config), "3")
    return config, outputs


def rollback(config, outputs, to=None, retained=RETAINED):
    return plan_rollback("prod", outputs, config, retained, to, NOW)


def test_rolling_back_twice_walks_back_one_entry_at_a_time():
    config, outputs = three_promotions()
    first = rollback(config, outputs)
    assert first.pins == Pins("dtest2", B, "2")  # the code-only promotion is undone
    config, outputs = deployed(first, "2")
    second = rollback(config, outputs)
    assert second.pins == Pins("dprod1", A, "1")
    assert second.history[-1] == {"at": NOW, "action": "rollback", "from": "rollback",
                                  "deploymentId": "dprod1", "codeHash": A,
                                  "functionVersion": "1"}
    config, outputs = deployed(second, "1")
    with pytest.raises(Refusal, match="no earlier entry"):
        rollback(config, outputs)


@pytest.mark.parametrize("to,pins", [
    ("dprod1", Pins("dprod1", A, "1")),
    ("dtest2:2", Pins("dtest2", B, "2")),
    ("#3", Pins("dprod1", A, "1")),
    ("2", Pins("dtest2", B, "2")),
])
def test_rollback_to_forms(to, pins):
    config, outputs = three_promotions()
    assert rollback(config, outputs, to).pins == pins


@pytest.mark.parametrize("to,message", [
    ("dtest2", r"ran with different function code .* \(#1, #2\) or as dtest2:VERSION"),
    ("nope", "nope is not in prod's history; `history --stack prod` lists them"),
    ("dtest2:9", "dtest2:9 is not in prod's history"),
    ("#9", "has 3 entries, so there is no #9"),
    ("dtest2:3", "already serves deployment dtest2 version 3"),
    ("#1", "already serves"),
])
def test_rollback_to_refusals(to, message):
    config, outputs = three_promotions()
    with pytest.raises(Refusal, match=message):
        rollback(config, outputs, to)


def test_a_number_that_is_also_a_deployment_id_is_ambiguous():
    history = [{"action": "initial", "from": "prod", "deploymentId": "123456", "codeHash": A,
                "functionVersion": "1"}] * 1 + [
        {"action": "promote", "from": "test", "deploymentId": "d2", "codeHash": B,
         "functionVersion": "2"}]
    config = {**PROD_CONFIG, HISTORY: json.dumps(history)}
    outputs = {"deploymentId": "d2", "codeHash": B, "functionVersion": "2"}
    with pytest.raises(Refusal, match="ambiguous: .* #123456 for the line, or 123456:VERSION"):
        plan_rollback("prod", outputs, config, {"123456", "d2"}, "123456", NOW)
    assert plan_rollback("prod", outputs, config, {"123456", "d2"}, "123456:1", NOW).pins == \
        Pins("123456", A, "1")


def test_rollback_refusals_before_anything_changes():
    config, outputs = three_promotions()
    with pytest.raises(Refusal, match="dprod1 no longer exists"):
        rollback(config, outputs, "#3", retained={"dtest2"})
    with pytest.raises(Refusal, match="no history to roll back in"):
        rollback(PROD_CONFIG, PROD_OUT)
    with pytest.raises(Refusal, match="which its history does not hold; choose an entry with --to"):
        rollback(config, {"deploymentId": "elsewhere", "codeHash": A})


def test_history_lines_newest_first_numbered_with_the_current_marked():
    config, outputs = three_promotions()
    config, outputs = deployed(rollback(config, outputs), "2")
    lines = history_lines("prod", config, outputs)
    assert [line.split()[:2] + line.split()[3:5] for line in lines] == [
        ["*", "#1", "dtest2", "version"], ["#2", NOW, "version", "3"],
        ["#3", NOW, "version", "2"], ["#4", NOW, "version", "1"]]
    assert lines[0].endswith("code bbbbbbbbbbbb  rollback")
    assert lines[1].endswith("code cccccccccccc  promote from test")
    assert lines[3].endswith("code aaaaaaaaaaaa  initial from prod")
    assert history_lines("prod", {}, PROD_OUT) == [
        "* dprod1  (its own deployment; nothing promoted yet)"]


def test_versions_in_the_history_the_alias_and_the_newest_five_are_kept():
    history = [{"functionVersion": "2"}, {"functionVersion": ""}, {"functionVersion": "4"}]
    published = ["$LATEST"] + [str(v) for v in range(1, 12)]
    assert versions_to_prune(published, history, "5") == ["1", "3", "6"]
    assert versions_to_prune(published, history, "11", keep_newest=0) == [
        str(v) for v in (1, 3, 5, 6, 7, 8, 9, 10)]


def test_the_served_code_is_compared_with_the_pinned_hash_itself():
    # sha256("abc"), as hex and as Lambda's base64 CodeSha256 (written down independently).
    pinned = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert code_mismatch("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", pinned) is None
    other = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="  # sha256("")
    assert code_mismatch(other, pinned) == (
        f"its alias serves CodeSha256 {other}, and the archive ba7816bf8f01… has CodeSha256 "
        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
    assert "is not the SHA-256 of an archive" in code_mismatch(other, "x" * 64)


# --- Pins.same_as: the same deployment and code; versions compared when both are known --

@pytest.mark.parametrize("left,right,same", [
    (Pins("d1", A, "2"), Pins("d1", A, "2"), True),
    (Pins("d1", A, "2"), Pins("d1", A, "3"), False),   # another version of the same code
    (Pins("d1", A, "2"), Pins("d1", A, ""), True),     # one version not known yet
    (Pins("d1", A, ""), Pins("d1", A, "3"), True),
    (Pins("d1", A, ""), Pins("d1", A, ""), True),
    (Pins("d1", A, "2"), Pins("d2", A, "2"), False),   # another deployment
    (Pins("d1", A, "2"), Pins("d1", B, "2"), False),   # other code
    (Pins("d1", A, ""), Pins("d2", B, ""), False),
])
def test_same_as(left, right, same):
    assert left.same_as(right) is same
    assert right.same_as(left) is same


def promoted_back():
    """prod: initial (dprod1, A, v1) → (dtest2, B, v2) → (dtest3, C, v3) → test went back to
    (dtest2, B) and was promoted again: prod published v4 of B (its last version held C)."""
    config, outputs = deployed(promote(), "2")
    config, outputs = deployed(promote(source_outputs={"deploymentId": "dtest3", "codeHash": C},
                                       target_outputs=outputs, config=config), "3")
    config, outputs = deployed(promote(target_outputs=outputs, config=config), "4")
    assert [Pins.of_entry(e) for e in json.loads(config[HISTORY])] == [
        Pins("dprod1", A, "1"), Pins("dtest2", B, "2"), Pins("dtest3", C, "3"),
        Pins("dtest2", B, "4")]
    return config, outputs


def test_the_current_entry_is_the_one_with_the_served_version():
    config, outputs = promoted_back()
    history = json.loads(config[HISTORY])
    assert current_index(history, outputs) == 3
    # Serving version 2 (the same deployment and code as the newest entry): entry 1.
    assert current_index(history, {**outputs, "functionVersion": "2"}) == 1
    # A version the history never recorded is no entry's, whatever its deployment and code.
    assert current_index(history, {**outputs, "functionVersion": "9"}) is None
    # Without a known version, the newest entry with that deployment and code.
    assert current_index(history, {**outputs, "functionVersion": ""}) == 3
    lines = history_lines("prod", config, {**outputs, "functionVersion": "2"})
    assert [line[0] for line in lines] == [" ", " ", "*", " "]  # #3, not #1


def test_rolling_back_to_another_version_of_the_same_deployment_and_code():
    config, outputs = promoted_back()
    change = rollback(config, outputs, "dtest2:2")
    assert change.pins == Pins("dtest2", B, "2")
    with pytest.raises(Refusal, match="already serves deployment dtest2 version 4"):
        rollback(config, outputs, "dtest2:4")


def test_a_rollback_walks_back_from_the_entry_with_the_served_version():
    config, outputs = promoted_back()
    # From version 4 (the newest entry) one step back is C.
    assert rollback(config, outputs).pins == Pins("dtest3", C, "3")
    # Serving version 2 of the same deployment and code, one step back is the initial state.
    assert rollback(config, {**outputs, "functionVersion": "2"}).pins == Pins("dprod1", A, "1")


# --- the definition each entry's deployment held (recorded by the contract gate) -----------

def test_a_promotion_records_the_candidates_definition_and_the_initial_entry_the_served_one():
    from promotion.decisions import with_definitions
    change = with_definitions(promote(), "proved-hash", "served-hash")
    history = json.loads(change.values()[HISTORY])
    assert [(e["action"], e["definitionHash"]) for e in history] == [
        ("initial", "served-hash"), ("promote", "proved-hash")]
    # A later promotion leaves the entries it did not make alone.
    config, outputs = deployed(change, "2")
    later = with_definitions(promote(source_outputs={**TEST_OUT, "deploymentId": "dtest3"},
                                     target_outputs=outputs, config=config), "new", "other")
    assert [e.get("definitionHash") for e in json.loads(later.values()[HISTORY])] == [
        "served-hash", "proved-hash", "new"]


def test_a_rollback_carries_the_definition_its_entry_recorded():
    from promotion.decisions import with_definitions
    config, outputs = deployed(with_definitions(promote(), "proved-hash", "served-hash"), "2")
    back = plan_rollback("prod", outputs, config, RETAINED, None, NOW)
    assert json.loads(back.values()[HISTORY])[-1]["definitionHash"] == "served-hash"


@pytest.mark.parametrize("newest,deployment,expected", [
    ({"deploymentId": "d2"}, "d2", "h"),                          # filled
    ({"deploymentId": "d2", "definitionHash": "x"}, "d2", None),  # kept
    ({"deploymentId": "d2"}, "d3", None),                         # the stage serves another
])
def test_record_definition_fills_only_the_newest_entry_of_the_deployment_read(
        newest, deployment, expected):
    from promotion.decisions import record_definition
    history = record_definition(({"deploymentId": "d1"}, newest), deployment, "h")
    if expected is None:
        assert history is None
    else:
        assert history == ({"deploymentId": "d1"}, {**newest, "definitionHash": expected})
