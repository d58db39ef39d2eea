"""Custom domain names at the gateway, and the switch of the default endpoint.

A request whose ``Host`` is a custom domain name is served by the domain's base path
mappings, before any ``/{stage}`` routing: a mapping whose base path is the request's
first path segment serves the rest of the path as its stage; the mapping of the empty
base path (``(none)``) serves any other path whole; a path that no mapping takes gets 403
``{"message":"Forbidden"}``, "from API Gateway when it has no place to point an event
(when there is no base path mapping)" (Zappa#1248). A path that a mapping takes but no
route matches then gets the stage's usual 403 ``Missing Authentication Token``
(repost.aws knowledge-center api-gateway-403-custom-domain).

The default endpoint (the ``/{stage}/...`` URL on the gateway's own host) can be turned
off for a REST API (``disableExecuteApiEndpoint``): "Clients can still connect to your
default endpoint, but they will receive a 403 Forbidden status code. Disabling the
default endpoint affects all stages of the API. This setting takes affect when you update
any setting on any stage" (API Gateway developer guide, rest-api-disable-default-endpoint).
So the REST API kind records what is configured, every stage update applies it, and the
gateway serves what was last applied: ``{state_dir}/endpoints/{rest api id}.json``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from localcloud.atomic import write_atomic

FORBIDDEN = (403, {"message": "Forbidden"}, None)
NO_BASE_PATH = "(none)"


@dataclass(frozen=True)
class DomainRoute:
    """Where a request on a custom domain goes: a stage of an API, and the path the stage
    serves (the request's path without the base path)."""
    api_id: str
    stage: str
    path: str


def request_host(headers: list[tuple[str, str]]) -> str:
    """The host a request names (``Host``), in lower case and without a port."""
    host = next((value for name, value in headers if name.lower() == "host"), "")
    host = host.strip().lower()
    if host.startswith("["):  # an IPv6 literal: never a domain name
        return host
    return host.rsplit(":", 1)[0] if ":" in host else host


def route_on_domain(mappings: list[dict], raw_path: str) -> DomainRoute | None:
    """The stage a path on a domain reaches through its mappings ({basePath, restApiId,
    stage} as API Gateway lists them), or None: no mapping takes it (403 Forbidden)."""
    segments = raw_path.split("/")
    first = unquote(segments[1]) if len(segments) > 1 else ""
    by_base_path = {m.get("basePath") or NO_BASE_PATH: m for m in mappings}
    if first and first != NO_BASE_PATH and first in by_base_path:
        mapping, rest = by_base_path[first], segments[2:]
    elif NO_BASE_PATH in by_base_path:
        mapping, rest = by_base_path[NO_BASE_PATH], segments[1:]
    else:
        return None
    stage = mapping.get("stage")
    if not stage or stage == NO_BASE_PATH:
        # A mapping without a stage leaves the stage to the next path segment.
        if not rest or not rest[0]:
            return None
        stage, rest = unquote(rest[0]), rest[1:]
    return DomainRoute(api_id=mapping["restApiId"], stage=stage, path="/" + "/".join(rest))


# --- the default endpoint's setting, as configured and as last applied by a stage --------

def _setting_path(state_dir: str | Path, api_id: str) -> Path:
    return Path(state_dir) / "endpoints" / f"{api_id}.json"


def _read(state_dir: str | Path, api_id: str) -> dict:
    try:
        return json.loads(_setting_path(state_dir, api_id).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def configure_endpoint(state_dir: str | Path, api_id: str, disabled: bool) -> None:
    """What the REST API says now (it waits for a stage update to apply)."""
    _write(state_dir, api_id, {**_read(state_dir, api_id), "configured": disabled})


def apply_endpoint_setting(state_dir: str | Path, api_id: str) -> None:
    """A stage of the API was updated: what is configured now applies to every stage."""
    setting = _read(state_dir, api_id)
    _write(state_dir, api_id, {**setting, "applied": bool(setting.get("configured"))})


def forget_endpoint_setting(state_dir: str | Path, api_id: str) -> None:
    _setting_path(state_dir, api_id).unlink(missing_ok=True)


def _write(state_dir: str | Path, api_id: str, setting: dict) -> None:
    write_atomic(_setting_path(state_dir, api_id), json.dumps(setting).encode())


class EndpointSettings:
    """Whether an API's default endpoint is off, as the gateway reads it on each request
    (re-read only when the file changes)."""

    def __init__(self, state_dir: str | Path) -> None:
        self.state_dir = Path(state_dir)
        self._cache: dict[str, tuple[tuple, bool]] = {}

    def disabled(self, api_id: str) -> bool:
        path = _setting_path(self.state_dir, api_id)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return False
        version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # a whole-file write is new
        cached = self._cache.get(api_id)
        if cached is None or cached[0] != version:
            cached = (version, bool(_read(self.state_dir, api_id).get("applied")))
            self._cache[api_id] = cached
        return cached[1]
