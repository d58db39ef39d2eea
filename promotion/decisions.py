"""What to pin, what to record, and what to refuse: pure functions, the same for real
stacks and for the local cloud. Nothing here touches a stack."""
from __future__ import annotations

import json
from dataclasses import dataclass

from infra.config import PROJECT

PINNED_DEPLOYMENT = f"{PROJECT}:promotedDeploymentId"
PINNED_CODE = f"{PROJECT}:promotedCodeHash"
HISTORY = f"{PROJECT}:deploymentHistory"
PIN_KEYS = (PINNED_DEPLOYMENT, PINNED_CODE, HISTORY)


class Refusal(Exception):
    """A promotion or rollback that must not happen; the target is left as it was."""


@dataclass(frozen=True)
class ConfigChange:
    stack: str
    deployment_id: str
    code_hash: str
    history: tuple[dict, ...]
    summary: str

    def values(self) -> dict[str, str]:
        return {PINNED_DEPLOYMENT: self.deployment_id, PINNED_CODE: self.code_hash,
                HISTORY: json.dumps(list(self.history))}


def parse_history(config: dict[str, str]) -> list[dict]:
    raw = config.get(HISTORY) or "[]"
    try:
        history = json.loads(raw)
    except json.JSONDecodeError:
        raise Refusal(f"{HISTORY} is not valid JSON; restore it from version control") from None
    if not isinstance(history, list):
        raise Refusal(f"{HISTORY} must be a JSON list; restore it from version control")
    return history


def served(outputs: dict, stack: str, role: str) -> tuple[str, str]:
    """The deployment id and code hash a deployed stack reports."""
    missing = [k for k in ("deploymentId", "codeHash") if not outputs.get(k)]
    if missing:
        raise Refusal(f"the {role} stack {stack!r} has no {' or '.join(missing)} output; "
                      f"deploy it first (pulumi up -s {stack}, or the local cloud's deploy)")
    return outputs["deploymentId"], outputs["codeHash"]


def plan_promotion(source: str, target: str, source_outputs: dict, target_outputs: dict,
                   target_config: dict[str, str], retained: set[str], checkout_code: str,
                   now: str) -> ConfigChange | None:
    """Pin the source's deployment and code in the target; None when it already serves
    exactly them."""
    if source == target:
        raise Refusal(f"cannot promote {source!r} onto itself; promote from the stack that "
                      "proved the change (e.g. --from test --to prod)")
    deployment, code = served(source_outputs, source, "source")
    if deployment not in retained:
        raise Refusal(f"{source}'s deployment {deployment} is not a retained deployment of the "
                      "shared API; redeploy the source stack and try again")
    if code != checkout_code:
        raise Refusal(f"{source} runs function code {code[:12]}…, but this checkout's code is "
                      f"{checkout_code[:12]}…; check out the code {source} was deployed from (or "
                      f"deploy this code to {source} and verify it there first)")
    history = parse_history(target_config)
    current = target_outputs.get("deploymentId")
    if current == deployment and target_config.get(PINNED_CODE) == code:
        return None
    if not history and current:
        # The first promotion keeps what the target served on its own, for rollback.
        history.append({"deploymentId": current, "codeHash": target_outputs.get("codeHash", ""),
                        "action": "initial", "from": target, "at": now})
    history.append({"deploymentId": deployment, "codeHash": code, "action": "promote",
                    "from": source, "at": now})
    return ConfigChange(target, deployment, code, tuple(history),
                        f"promote {source} → {target}: deployment {deployment}, "
                        f"code {code[:12]}… (was {current or 'nothing'})")


def plan_rollback(stack: str, outputs: dict, config: dict[str, str], retained: set[str],
                  to: str | None, checkout_code: str, now: str) -> ConfigChange:
    """Pin an earlier deployment (and the code it ran) from the stack's history."""
    history = parse_history(config)
    current = outputs.get("deploymentId")
    if to is not None:
        matches = [e for e in history if e.get("deploymentId") == to]
        if not matches:
            raise Refusal(f"{to} is not in {stack}'s history; `history --stack {stack}` lists "
                          "the deployments it can roll back to")
        entry = matches[-1]
        if to == current:
            raise Refusal(f"{stack} already serves deployment {to}")
    else:
        entry = next((e for e in reversed(history) if e.get("deploymentId") != current), None)
        if entry is None:
            raise Refusal(f"{stack} has no earlier deployment in its history to roll back to; "
                          "a stack gets history when something is promoted to it")
    deployment, code = entry["deploymentId"], entry.get("codeHash", "")
    if deployment not in retained:
        raise Refusal(f"deployment {deployment} no longer exists in the shared API; choose "
                      f"another with `history --stack {stack}`")
    if code != checkout_code:
        raise Refusal(f"deployment {deployment} ran function code {code[:12]}…, but this "
                      f"checkout's code is {checkout_code[:12]}…; check out that code (its "
                      "commit), then roll back again, so the function rolls back with the API")
    history.append({"deploymentId": deployment, "codeHash": code, "action": "rollback",
                    "from": stack, "at": now})
    return ConfigChange(stack, deployment, code, tuple(history),
                        f"roll back {stack}: deployment {current} → {deployment}")


def history_lines(stack: str, config: dict[str, str], outputs: dict) -> list[str]:
    """The deployments the stack has served, newest first, the current one marked."""
    history = parse_history(config)
    current = outputs.get("deploymentId")
    if not history:
        return [f"* {current}  (its own deployment; nothing promoted yet)"] if current else []
    lines, marked = [], False
    for entry in reversed(history):
        mark = "*" if entry.get("deploymentId") == current and not marked else " "
        marked = marked or mark == "*"
        source = f" from {entry['from']}" if entry.get("action") == "promote" else ""
        lines.append(f"{mark} {entry['deploymentId']}  {entry.get('action', '?'):8}{source:10} "
                     f"code {entry.get('codeHash', '')[:12]}  {entry.get('at', '')}")
    return lines
