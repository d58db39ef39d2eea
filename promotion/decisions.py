"""What to pin, what to record, and what to refuse: pure functions, the same for real
stacks and for the local cloud. Nothing here touches a stack.

Pins are (deploymentId, codeHash, functionVersion). A stack's history is a list of
entries, oldest first; each promotion (a code-only one too), each rollback, each completed
canary release ("canary") and the state a stack served before its first promotion
("initial") is one entry. An aborted canary is recorded too ("canary-aborted", with its
reason), but it never served the stack: rollback walks past it.

While a canary release runs, the stack's config also holds its canary pin (promotion.
canary); nothing else may change the stack's pins until it is completed or aborted.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from infra.archive import lambda_code_sha256
from infra.config import FIELD_KEYS

# The program's own config keys (infra/config.py reads them).
PINNED_DEPLOYMENT = FIELD_KEYS["promoted_deployment_id"]
PINNED_CODE = FIELD_KEYS["promoted_code_hash"]
PINNED_VERSION = FIELD_KEYS["promoted_function_version"]
HISTORY = FIELD_KEYS["deployment_history"]
PRODUCTION = FIELD_KEYS["production"]
PIN_KEYS = (PINNED_DEPLOYMENT, PINNED_CODE, PINNED_VERSION, HISTORY)
CANARY_DEPLOYMENT = FIELD_KEYS["canary_deployment_id"]
CANARY_CODE = FIELD_KEYS["canary_code_hash"]
CANARY_PERCENT = FIELD_KEYS["canary_percent"]
CANARY_STARTED = FIELD_KEYS["canary_started_at"]
CANARY_KEYS = (CANARY_DEPLOYMENT, CANARY_CODE, CANARY_PERCENT, CANARY_STARTED)

# A history entry's record of the definition its deployment held (see Pins).
DEFINITION = "definitionHash"

# History actions: what served the stack, and what did not (an aborted canary).
CANARY_DONE, CANARY_ABORTED = "canary", "canary-aborted"
NOT_SERVED = {"rollback", CANARY_ABORTED}  # not steps of the timeline rollback walks

# Published versions kept besides those in the history and the alias's own.
KEEP_NEWEST_VERSIONS = 5


class Refusal(Exception):
    """A promotion or rollback that must not happen; the target is left as it was."""


@dataclass(frozen=True)
class Pins:
    deployment_id: str
    code_hash: str
    function_version: str = ""  # "" = the version published for that code
    # The hash of the definition the deployment held when its source served it
    # (promotion.contract.definition_hash); "" where none was recorded. Not a pin: history.
    definition_hash: str = ""

    @classmethod
    def of_entry(cls, entry: dict) -> "Pins":
        return cls(entry.get("deploymentId", ""), entry.get("codeHash", ""),
                   str(entry.get("functionVersion") or ""), entry.get(DEFINITION) or "")

    @classmethod
    def of_config(cls, config: dict[str, str]) -> "Pins":
        return cls(config.get(PINNED_DEPLOYMENT) or "", config.get(PINNED_CODE) or "",
                   config.get(PINNED_VERSION) or "")

    @property
    def complete(self) -> bool:
        """Enough to deploy again without the checkout's code."""
        return bool(self.deployment_id and self.code_hash)

    def same_as(self, other: "Pins") -> bool:
        """The same deployment and code; versions compared only when both are known."""
        versions = self.function_version and other.function_version
        return (self.deployment_id, self.code_hash) == (other.deployment_id, other.code_hash) \
            and (not versions or self.function_version == other.function_version)

    def label(self) -> str:
        version = f" version {self.function_version}" if self.function_version else ""
        return f"deployment {self.deployment_id}{version}, code {self.code_hash[:12]}"


@dataclass(frozen=True)
class CanaryPin:
    """A canary release on a stack: the candidate's deployment and code, its share of the
    traffic (as written: "10", "2.5") and when it began."""
    deployment_id: str
    code_hash: str
    percent: str
    started_at: str

    @classmethod
    def of_config(cls, config: dict[str, str]) -> "CanaryPin | None":
        if not config.get(CANARY_DEPLOYMENT):
            return None
        return cls(config.get(CANARY_DEPLOYMENT) or "", config.get(CANARY_CODE) or "",
                   config.get(CANARY_PERCENT) or "", config.get(CANARY_STARTED) or "")

    @property
    def pins(self) -> Pins:
        return Pins(self.deployment_id, self.code_hash)

    def values(self) -> dict[str, str]:
        return {CANARY_DEPLOYMENT: self.deployment_id, CANARY_CODE: self.code_hash,
                CANARY_PERCENT: self.percent, CANARY_STARTED: self.started_at}

    def label(self) -> str:
        return (f"deployment {self.deployment_id}, code {self.code_hash[:12]}, at "
                f"{self.percent}% since {self.started_at}")


@dataclass(frozen=True)
class ConfigChange:
    """New config for one stack: its pins and history (None removes a key); for a canary
    release, its canary pin (`canary`, set) or its end (`ends_canary`: the pin removed)."""
    stack: str
    pins: Pins | None
    history: tuple[dict, ...]
    summary: str
    canary: CanaryPin | None = None
    ends_canary: bool = False

    def values(self) -> dict[str, str | None]:
        canary = (self.canary.values() if self.canary else
                  {key: None for key in CANARY_KEYS} if self.ends_canary else {})
        if self.pins is None:
            return {**{key: None for key in PIN_KEYS}, **canary}
        return {PINNED_DEPLOYMENT: self.pins.deployment_id, PINNED_CODE: self.pins.code_hash,
                PINNED_VERSION: self.pins.function_version,
                HISTORY: json.dumps(list(self.history)), **canary}


def previous_values(config: dict[str, str]) -> dict[str, str | None]:
    """The keys promotion writes, as they are now (None: not set), to put them back."""
    return {key: config.get(key) for key in (*PIN_KEYS, *CANARY_KEYS)}


def entry(action: str, source: str, pins: Pins, now: str, **more: str) -> dict:
    """A history entry; `more` adds a canary's `percent` and an abort's `reason`."""
    recorded = {DEFINITION: pins.definition_hash} if pins.definition_hash else {}
    return {"at": now, "action": action, "from": source, "deploymentId": pins.deployment_id,
            "codeHash": pins.code_hash, "functionVersion": pins.function_version,
            **recorded, **more}


def with_definitions(change: ConfigChange, proved: str, served: str) -> ConfigChange:
    """A promotion's change with the definition hashes the contract gate read recorded in
    its new entries: the promotion's own (the candidate's, read through the source's
    stage, `proved`) and a first promotion's "initial" entry (what the target served on
    its own, `served`). A canary's start adds no entry: its completion records what the
    stage then serves (`record_definition`)."""
    history = list(change.history)
    if change.canary is not None or not history or history[-1].get("action") != "promote":
        return change
    if proved:
        history[-1] = {**history[-1], DEFINITION: proved}
    if served and len(history) == 2 and history[0].get("action") == "initial" \
            and not history[0].get(DEFINITION):
        history[0] = {**history[0], DEFINITION: served}
    return ConfigChange(change.stack, change.pins, tuple(history), change.summary,
                        change.canary, change.ends_canary)


def record_definition(history: tuple[dict, ...], deployment_id: str,
                      definition: str) -> tuple[dict, ...] | None:
    """The history with `definition` filled into its newest entry, if that entry lacks one
    and names `deployment_id` (the deployment the stage was read serving); else None."""
    if not history or not definition or history[-1].get(DEFINITION) \
            or history[-1].get("deploymentId") != deployment_id:
        return None
    return (*history[:-1], {**history[-1], DEFINITION: definition})


def candidate_not_served(source: str, candidate: str, serving: str, deploy_hint: str) -> str:
    """The refusal when the source's stage no longer serves the deployment its outputs
    name: the export (per stage) would not be the candidate's."""
    return (f"{source}'s stage serves deployment {serving or '(none)'}, not {candidate}, which "
            f"its last update made and the promotion would pin: the candidate's API cannot be "
            f"read through it. Deploy {source} again ({deploy_hint}), then promote; nothing "
            "was changed")


def refuse_while_canary(stack: str, config: dict[str, str], suffix: str = "") -> None:
    """Nothing else changes a stack's pins while a canary release runs on it: API Gateway
    would refuse a third deployment on its stage, and the canary's outcome would be lost."""
    canary = CanaryPin.of_config(config)
    if canary is not None:
        raise Refusal(f"a canary release runs on {stack} ({canary.label()}); end it first: "
                      f"`python -m promotion canary complete --stack {stack}{suffix}` or "
                      f"`python -m promotion canary abort --stack {stack}{suffix}` "
                      f"(`canary status --stack {stack}{suffix}` shows how it does)")


def parse_history(config: dict[str, str], where: str = "the stack's config") -> list[dict]:
    raw = config.get(HISTORY) or "[]"
    try:
        history = json.loads(raw)
    except json.JSONDecodeError:
        raise Refusal(f"{HISTORY} in {where} is not valid JSON; restore it from version "
                      "control") from None
    if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
        raise Refusal(f"{HISTORY} in {where} must be a JSON list of entries; restore it from "
                      "version control")
    return history


def served(outputs: dict, stack: str, role: str, deploy_hint: str) -> Pins:
    """What a deployed stack serves, from its outputs."""
    missing = [k for k in ("deploymentId", "codeHash") if not outputs.get(k)]
    if missing:
        raise Refusal(f"the {role} stack {stack!r} has no {' or '.join(missing)} output; "
                      f"deploy it first ({deploy_hint.format(stack=stack)})")
    return Pins(outputs["deploymentId"], outputs["codeHash"],
                str(outputs.get("functionVersion") or ""))


def is_production(config: dict[str, str]) -> bool:
    return config.get(PRODUCTION) == "true"


def plan_promotion(source: str, target: str, source_outputs: dict, source_config: dict[str, str],
                   target_outputs: dict, target_config: dict[str, str], retained: set[str],
                   now: str, allow_from_production: bool = False,
                   deploy_hint: str = "pulumi up -s {stack}", suffix: str = ""
                   ) -> ConfigChange | None:
    """Pin the source's deployment and code in the target; None when it already serves
    exactly them. The target's function publishes its own version of that code, so the
    version is left to the program ("") and recorded after the update."""
    refuse_while_canary(target, target_config, suffix)
    if source == target:
        raise Refusal(f"cannot promote {source!r} onto itself; promote from the stack that "
                      "proved the change to another one (e.g. --from test --to prod)")
    if is_production(source_config) and not is_production(target_config) \
            and not allow_from_production:
        raise Refusal(f"{source} is a production stack and {target} is not: promoting "
                      f"production back onto {target} would replace {target}'s own code; pass "
                      "--allow-from-production if that is what you want")
    proved = served(source_outputs, source, "source", deploy_hint)
    pins = Pins(proved.deployment_id, proved.code_hash)
    if pins.deployment_id not in retained:
        raise Refusal(f"{source}'s deployment {pins.deployment_id} is not a retained deployment "
                      "of the shared API; redeploy the source stack and try again")
    history = parse_history(target_config)
    current = Pins(target_outputs.get("deploymentId", ""), target_outputs.get("codeHash", ""))
    if current.same_as(pins) and Pins.of_config(target_config).same_as(pins):
        return None
    if not history and current.complete:
        # The first promotion keeps what the target served on its own, for rollback.
        history.append(entry("initial", target, Pins(
            current.deployment_id, current.code_hash,
            str(target_outputs.get("functionVersion") or "")), now))
    history.append(entry("promote", source, pins, now))
    return ConfigChange(target, pins, tuple(history),
                        f"promote {source} → {target}: {pins.label()} "
                        f"(was {current.label() if current.complete else 'nothing'})")


def current_index(history: list[dict], outputs: dict) -> int | None:
    """The newest entry matching what the stack serves now (an aborted canary never
    served it)."""
    now = Pins(outputs.get("deploymentId", ""), outputs.get("codeHash", ""),
               str(outputs.get("functionVersion") or ""))
    return next((i for i in range(len(history) - 1, -1, -1)
                 if history[i].get("action") != CANARY_ABORTED
                 and Pins.of_entry(history[i]).same_as(now)), None)


def previous_entry(history: list[dict], current: int) -> int | None:
    """The entry before the current one, walking back over what was promoted: a rollback
    entry stands for the entry it restored, so rolling back twice goes two steps back."""
    timeline = [i for i, e in enumerate(history) if e.get("action") not in NOT_SERVED]
    position = current
    if history[current].get("action") == "rollback":
        pins = Pins.of_entry(history[current])
        position = next((i for i in reversed(timeline) if i < current
                         and Pins.of_entry(history[i]).same_as(pins)), None)
        if position is None:
            return None
    earlier = [i for i in timeline if i < position]
    return earlier[-1] if earlier else None


INDEX = re.compile(r"#?(\d+)")


def choose_entry(history: list[dict], to: str, stack: str, hint: str) -> int:
    """`--to` as a deployment id, `deploymentId:version`, or `N`/`#N`: the N-th line of
    `history` (1 = newest). Anything that could mean two different states is refused."""
    listing = f"`{hint}` lists them"
    numbered = INDEX.fullmatch(to)
    by_id = [i for i, e in enumerate(history) if e.get("deploymentId") == to
             and e.get("action") != CANARY_ABORTED]
    if numbered and (to.startswith("#") or not by_id):
        n = int(numbered.group(1))
        if not 1 <= n <= len(history):
            raise Refusal(f"{stack}'s history has {len(history)} entries, so there is no "
                          f"#{n}; {listing}")
        if history[len(history) - n].get("action") == CANARY_ABORTED:
            raise Refusal(f"#{n} is an aborted canary release: it never served {stack} as a "
                          f"whole; choose another entry ({listing})")
        return len(history) - n
    if numbered and by_id:
        raise Refusal(f"--to {to} is ambiguous: it is both a line number of the history and a "
                      f"deployment id; write #{to} for the line, or {to}:VERSION for the "
                      "deployment")
    if ":" in to:
        deployment, version = to.rsplit(":", 1)
        matches = [i for i, e in enumerate(history) if e.get("deploymentId") == deployment
                   and str(e.get("functionVersion") or "") == version
                   and e.get("action") != CANARY_ABORTED]
        if not matches:
            raise Refusal(f"{to} is not in {stack}'s history; {listing}")
        return matches[-1]
    if not by_id:
        raise Refusal(f"{to} is not in {stack}'s history; {listing}")
    states = {(Pins.of_entry(history[i]).code_hash, Pins.of_entry(history[i]).function_version)
              for i in by_id}
    if len(states) > 1:
        choices = ", ".join(sorted({f"#{len(history) - i}" for i in by_id}))
        raise Refusal(f"deployment {to} ran with different function code in {stack}'s history; "
                      f"choose one by its line ({choices}) or as {to}:VERSION; {listing}")
    return by_id[-1]


def plan_rollback(stack: str, outputs: dict, config: dict[str, str], retained: set[str],
                  to: str | None, now: str, hint: str = "history --stack {stack}",
                  suffix: str = "") -> ConfigChange:
    """Pin an earlier entry of the stack's history: its deployment, code and version."""
    refuse_while_canary(stack, config, suffix)
    history = parse_history(config)
    hint = hint.format(stack=stack)
    if not history:
        raise Refusal(f"{stack} has no history to roll back in; a stack gets history when "
                      "something is promoted to it")
    current = current_index(history, outputs)
    if to is not None:
        chosen = choose_entry(history, to, stack, hint)
        if current is not None and Pins.of_entry(history[chosen]).same_as(
                Pins.of_entry(history[current])):
            raise Refusal(f"{stack} already serves {Pins.of_entry(history[chosen]).label()}")
    else:
        if current is None:
            raise Refusal(f"{stack} serves deployment {outputs.get('deploymentId')}, which its "
                          f"history does not hold; choose an entry with --to ({hint})")
        chosen = previous_entry(history, current)
        if chosen is None:
            raise Refusal(f"{stack} has no earlier entry in its history to roll back to")
    pins = Pins.of_entry(history[chosen])
    if pins.deployment_id not in retained:
        raise Refusal(f"deployment {pins.deployment_id} no longer exists in the shared API; "
                      f"choose another entry ({hint})")
    history.append(entry("rollback", "rollback", pins, now))
    return ConfigChange(stack, pins, tuple(history),
                        f"roll back {stack} to {pins.label()} "
                        f"(was deployment {outputs.get('deploymentId')})")


def plan_release(stack: str, config: dict[str, str], suffix: str = "") -> ConfigChange:
    """A non-production stack that received a promotion goes back to its own checkout's
    code and API: its pins and history are removed."""
    refuse_while_canary(stack, config, suffix)
    if is_production(config):
        raise Refusal(f"{stack} is a production stack: it always serves a promoted state; "
                      "use rollback to change what it serves")
    if not any(config.get(key) for key in PIN_KEYS[:3]):
        raise Refusal(f"{stack} has no pins: it already serves its own checkout's code")
    return ConfigChange(stack, None, (), f"release {stack}: its pins are removed, it deploys "
                        "its own checkout again")


def code_mismatch(served_code_sha256: str, code_hash: str) -> str | None:
    """None when Lambda's CodeSha256 of what an alias serves is the archive named by
    `code_hash` (the hex SHA-256 of its zip); otherwise what differs."""
    try:
        expected = lambda_code_sha256(code_hash)
    except ValueError:
        return f"{code_hash!r} is not the SHA-256 of an archive"
    if served_code_sha256 == expected:
        return None
    return (f"its alias serves CodeSha256 {served_code_sha256}, and the archive "
            f"{code_hash[:12]}… has CodeSha256 {expected}")


def record_version(history: tuple[dict, ...], version: str) -> tuple[dict, ...] | None:
    """The history with the version the update published filled into its newest entry;
    None when there is nothing to fill."""
    if not history or not version or history[-1].get("functionVersion"):
        return None
    return (*history[:-1], {**history[-1], "functionVersion": version})


def versions_to_prune(published: list[str], history: list[dict], alias_version: str,
                      keep_newest: int = KEEP_NEWEST_VERSIONS) -> list[str]:
    """Published versions that are in no history entry, not the alias's, and not among
    the newest `keep_newest`; $LATEST is never a candidate."""
    numbered = sorted((v for v in published if v.isdigit()), key=int)
    keep = {str(e.get("functionVersion")) for e in history if e.get("functionVersion")}
    keep |= {alias_version} | set(numbered[-keep_newest:] if keep_newest else [])
    return [v for v in numbered if v not in keep]


def described(e: dict) -> str:
    """What an entry was, for `history`."""
    action = e.get("action", "?")
    if action == "rollback":
        return "rollback"
    if action == CANARY_DONE:
        return f"canary release at {e.get('percent', '?')}%, completed"
    if action == CANARY_ABORTED:
        return f"canary release at {e.get('percent', '?')}%, aborted: {e.get('reason', '?')}"
    return f"{action} from {e.get('from', '?')}"


def history_lines(stack: str, config: dict[str, str], outputs: dict) -> list[str]:
    """The entries, newest first and numbered as `--to N` takes them, the current marked."""
    history = parse_history(config)
    if not history:
        current = outputs.get("deploymentId")
        return [f"* {current}  (its own deployment; nothing promoted yet)"] if current else []
    marked = current_index(history, outputs)
    lines = []
    for number, index in enumerate(range(len(history) - 1, -1, -1), start=1):
        e = history[index]
        source = described(e)
        lines.append(f"{'*' if index == marked else ' '} #{number:<3} {e.get('at', ''):20} "
                     f"{e.get('deploymentId', '')}  version {e.get('functionVersion') or '?':>4}  "
                     f"code {e.get('codeHash', '')[:12]}  {source}")
    return lines
