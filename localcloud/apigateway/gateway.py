"""Serves the REST API's stages the way API Gateway does (HTTP itself is
:mod:`localcloud.http.server`'s: waitress in front of :meth:`Gateway.handle_request`, with
API Gateway's limits and answers, :data:`REQUEST_RULES`).

A request ``/{stage}/{path}`` is served from the *snapshot* of the deployment the stage
points at (see :mod:`localcloud.apigateway.snapshots`), never from the API's latest edits:

1. find the stage (the REST API that has a stage of that name) and its deploymentId,
   variables; on a stage with canary settings, draw which release serves the request
   (:mod:`localcloud.apigateway.canary_routing`: the canary's deployment and overridden
   variables for its share); load that deployment's snapshot;
2. match the path against the snapshot's resources (literal segments before
   ``{param}`` before ``{proxy+}``) and the method (an exact method before ``ANY``);
   nothing matches: 403 ``{"message":"Missing Authentication Token"}``;
3. an ``AWS_IAM`` method: check the caller's signature and identity policies
   (:mod:`localcloud.apigateway.auth`), API Gateway's 403 otherwise;
4. past the stage's throttling, 429 (:mod:`localcloud.apigateway.throttling`): only
   requests that were let in so far spend the stage's rate (see ``_serve``);
5. resolve ``${stageVariables.X}`` in the AWS_PROXY integration URI and take the
   function from ``.../functions/{function}/invocations``;
6. check the function's resource policy lets ``apigateway.amazonaws.com`` invoke it
   from ``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}``;
   otherwise 500 and the execution log line
   ``Execution failed due to configuration error: Invalid permissions on Lambda function``;
7. invoke the function with a REST proxy event (payload 1.0; ``X-Forwarded-For`` with the
   client's address appended) and turn its proxy response into the HTTP response
   (malformed response or function error, a response over Lambda's 6 MB included: 502;
   an event over Lambda's 6 MB, which Lambda refuses: 500; function timeout: 504).

Stages and resource policies are read on every request, through
:mod:`localcloud.control_plane` (moto's backends directly when the emulator runs in
this process), so a change made to moto shows on the next request.

Execution log lines go to the ``localcloud.apigateway.gateway`` logger and to an in-memory list
(``Gateway.execution_log``). Every request is answered with JSON, whatever happens.
"""
from __future__ import annotations

import base64
import binascii
import collections
import json
import logging
import os
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.utils import normalize_url_path

from localcloud import control_plane
from localcloud.apigateway import auth, canary_routing, domains, snapshots
from localcloud.apigateway.stage_logs import StageLogWriter
from localcloud.apigateway.stage_metrics import StageMetrics
from localcloud.apigateway.throttling import TOO_MANY_REQUESTS, Clock, StageThrottles
from localcloud import policy as iam_eval
from localcloud.emulator import ACCOUNT_ID, REGION
from localcloud.http.server import HttpServer, Refusal, RequestRules, ServerLimits
from localcloud.invocation import FunctionInvoker, FunctionNotFound, InvokeRefused, InvokerError

log = logging.getLogger("localcloud.apigateway.gateway")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

MISSING_TOKEN = (403, {"message": "Missing Authentication Token"},
                 "MissingAuthenticationTokenException")
INTERNAL_ERROR = (500, {"message": "Internal server error"}, "InternalServerErrorException")
BAD_GATEWAY = (502, {"message": "Internal server error"}, "InternalServerErrorException")
TIMED_OUT = (504, {"message": "Endpoint request timed out"}, None)

# What reaches a stage at all, and how API Gateway answers the rest (the front door's rules).
# The sizes are API Gateway's quotas for a Regional REST API ("Amazon API Gateway quotas",
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html):
# "Payload size | 10 MB", "Length, in characters, of the URL for a Regional API | 10240",
# "Total combined size of all header values, including header names, values, any line
# terminators, and whitespaces | 10240 Bytes". The URL's length is taken as the request
# target's (path and query): the scheme and host are the local cloud's, not the client's.
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_URL_BYTES = 10240
MAX_HEADER_BYTES = 10240
MAX_HEADERS = 100
# AWS documents no answer for an oversized URL or header block. The choices, one each:
# - 414 is what the same quota page says API Gateway answers for a URI whose method ARN is
#   too long ("your API will return a 414 Request URI too long response");
# - 431 with "HTTP header is larger than 10240 bytes." is what users report getting back
#   from API Gateway past the header quota (ntsblog.homedev.com.au, 2021-03-09, "AWS API
#   Gateway - HTTP header is larger than 10240 bytes."; backbencher.dev, "431 Status Code
#   With Request Header Fields Too Large", naming API Gateway): reports, not AWS's pages.
URL_TOO_LONG = Refusal(414, "Request URI too long")
HEADERS_TOO_LARGE = Refusal(431, f"HTTP header is larger than {MAX_HEADER_BYTES} bytes.")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
REQUEST_RULES = RequestRules(
    methods=METHODS,
    unknown_method=Refusal(MISSING_TOKEN[0], MISSING_TOKEN[1]["message"],
                           (("x-amzn-ErrorType", MISSING_TOKEN[2]),)),
    max_body_bytes=MAX_BODY_BYTES,
    body_too_large=(f"the body is larger than API Gateway's "
                    f"{MAX_BODY_BYTES // (1024 * 1024)} MB limit"),
    max_target_bytes=MAX_URL_BYTES,
    target_too_long=URL_TOO_LONG,
    max_header_bytes=MAX_HEADER_BYTES,
    headers_too_large=HEADERS_TOO_LARGE,
    max_headers=MAX_HEADERS,
    internal_error=Refusal(INTERNAL_ERROR[0], INTERNAL_ERROR[1]["message"]))

INVALID_PERMISSIONS = ("Execution failed due to configuration error: "
                       "Invalid permissions on Lambda function")
MALFORMED_RESPONSE = ("Execution failed due to configuration error: "
                      "Malformed Lambda proxy response")

_STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_LAMBDA_URI = re.compile(r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/[0-9-]+/functions/"
                         r"(?P<function>.+)/invocations$")


@dataclass
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # The message of a response API Gateway made itself: its $context.error.message.
    error_message: str | None = None


class MalformedResponse(ValueError):
    pass


# --- pure helpers -------------------------------------------------------------------

def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def match_resource(resource_path: str, segments: list[str]) -> dict[str, str] | None:
    """Path parameters if the request segments fit the resource path, else None."""
    pattern = _segments(resource_path)
    params: dict[str, str] = {}
    for index, part in enumerate(pattern):
        if part.startswith("{") and part.endswith("+}"):
            if index != len(pattern) - 1 or index >= len(segments):
                return None
            params[part[1:-2]] = "/".join(unquote(s) for s in segments[index:])
            return params
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = unquote(segments[index])
        elif part != segments[index]:
            return None
    return params if len(pattern) == len(segments) else None


def _specificity(resource_path: str) -> tuple:
    # Lower sorts first: literal (0) before {param} (1) before {proxy+} (2), per segment.
    ranks = []
    for part in _segments(resource_path):
        if part.startswith("{") and part.endswith("+}"):
            ranks.append(2)
        elif part.startswith("{") and part.endswith("}"):
            ranks.append(1)
        else:
            ranks.append(0)
    return tuple(ranks)


def route(snapshot: dict, path: str, method: str):
    """(resource, method definition, path parameters) for a request, or None."""
    segments = _segments(path)
    candidates = []
    for resource in snapshot.get("resources", []):
        params = match_resource(resource["path"], segments)
        if params is not None:
            candidates.append((_specificity(resource["path"]), resource, params))
    candidates.sort(key=lambda item: item[0])
    for _, resource, params in candidates:
        methods = resource.get("methods") or {}
        definition = methods.get(method) or methods.get("ANY")
        if definition is not None:
            return resource, definition, params
    return None


def resolve_stage_variables(uri: str, variables: dict[str, str]) -> str:
    """Substitute ``${stageVariables.X}``; KeyError names a missing variable."""
    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in variables:
            raise KeyError(name)
        return variables[name]
    return _STAGE_VARIABLE.sub(substitute, uri)


def function_from_uri(uri: str) -> str | None:
    """The function ARN (or name) in a Lambda integration URI, else None."""
    match = _LAMBDA_URI.match(uri or "")
    return match.group("function") if match else None


def source_arn(region: str, account: str, api_id: str, stage: str, method: str,
               path: str) -> str:
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path.lstrip('/')}"


def parse_proxy_response(payload: Any) -> GatewayResponse:
    """A Lambda proxy response -> status, headers, body. Raises MalformedResponse."""
    if not isinstance(payload, dict):
        raise MalformedResponse(f"the response is a {type(payload).__name__}, not an object")
    status = payload.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode must be an integer HTTP status, not {status!r}")
    body = payload.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedResponse(f"body must be a string or null, not {type(body).__name__}")
    encoded = payload.get("isBase64Encoded", False)
    if encoded is not None and not isinstance(encoded, bool):
        raise MalformedResponse("isBase64Encoded must be a boolean")
    headers: list[tuple[str, str]] = []

    def header_value(name: str, value: Any) -> str:
        if isinstance(value, bool):
            value = str(value).lower()
        if not isinstance(value, (str, int, float)):
            raise MalformedResponse(f"header {name!r} has a {type(value).__name__} value")
        text = str(value)
        if "\r" in text or "\n" in text:
            raise MalformedResponse(f"header {name!r} holds a line break")
        return text

    multi = payload.get("multiValueHeaders")
    if multi is not None:
        if not isinstance(multi, dict):
            raise MalformedResponse("multiValueHeaders must be an object")
        for name, values in multi.items():
            if not isinstance(values, list):
                raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
            headers.extend((str(name), header_value(name, v)) for v in values)
    single = payload.get("headers")
    if single is not None:
        if not isinstance(single, dict):
            raise MalformedResponse("headers must be an object")
        present = {name.lower() for name, _ in headers}
        for name, value in single.items():
            if str(name).lower() not in present:
                headers.append((str(name), header_value(name, value)))
    if any(not name or any(c in name for c in "\r\n:") for name, _ in headers):
        raise MalformedResponse("a header name is empty or holds ':' or a line break")
    if body is None:
        data = b""
    elif encoded:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as err:
            raise MalformedResponse("isBase64Encoded is true but body is not base64") from err
    else:
        data = body.encode("utf-8")
    return GatewayResponse(status, headers, data)


def with_forwarded_for(headers: list[tuple[str, str]], source_ip: str) -> list[tuple[str, str]]:
    """The request's headers with ``X-Forwarded-For`` as API Gateway hands it on: what the
    client sent (every value, in order), then the address of the connection it came from.

    AWS's pages do not say it; an AWS answer on re:Post does ("In case of Regional, the
    last IP address in X-Forwarded-For header would be used as sourceIp", and "we only
    trust the entry who made a call directly to endpoint"), which is what appending gives:
    the last entry is the one a client cannot choose. The field keeps the client's name
    and place; a request without one gets it last."""
    sent = [value.strip() for name, value in headers if name.lower() == "x-forwarded-for"]
    value = ", ".join([*(v for v in sent if v), source_ip])
    out: list[tuple[str, str]] = []
    for name, original in headers:
        if name.lower() != "x-forwarded-for":
            out.append((name, original))
        elif value is not None:
            out.append((name, value))
            value = None  # the client's repeats are in the one value
    if value is not None:
        out.append(("X-Forwarded-For", value))
    return out


def _multi(pairs: list[tuple[str, str]]) -> tuple[dict | None, dict | None]:
    """(last value per key, all values per key), both None when there are no pairs."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


# --- the gateway --------------------------------------------------------------------

class Gateway:
    """Serves every stage of the REST APIs in the emulator on one HTTP port.

    ``rest_api_id`` pins one API; otherwise a stage name is looked up in every API
    (the first API that has it serves it).
    """

    def __init__(self, endpoint_url: str, state_dir: str | os.PathLike,
                 invoker: FunctionInvoker, *,
                 host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, region: str = REGION,
                 account_id: str = ACCOUNT_ID, rest_api_id: str | None = None,
                 execution_log_size: int = 10_000,
                 # The front door's defaults. Its 60 s body deadline is ours: AWS documents
                 # no upload deadline for a REST API (its 29 s is the integration's), and
                 # 60 s lets the largest body (10 MB) arrive at 1.4 Mbit/s.
                 server_limits: ServerLimits = ServerLimits(),
                 clock: Clock = time.monotonic,
                 canary_seed: int | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.state_dir = Path(state_dir)
        self.invoker = invoker
        self.host = host
        self.requested_port = port
        self.region = region
        self.account_id = account_id
        self.rest_api_id = rest_api_id
        self._plane = control_plane.for_endpoint(endpoint_url, region)
        self._log: collections.deque[dict] = collections.deque(maxlen=execution_log_size)
        self._log_lock = threading.Lock()
        self._snapshots: dict[str, tuple[int, dict]] = {}
        self._throttles = StageThrottles(clock)  # `clock`: seconds, monotonic
        self._stage_logs = StageLogWriter(self._plane)
        self._stage_metrics = StageMetrics(self._plane)
        # Which release serves each request on a stage with a canary: seeded, a test
        # replays the same split (`canary_random.seed(n)` between runs).
        self.canary_random = random.Random(canary_seed)
        self._endpoints = domains.EndpointSettings(self.state_dir)
        self.server_limits = server_limits
        self._server: HttpServer | None = None

    # --- lifecycle ----------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the gateway is not running; call start() first")
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        """Bind and serve in a background thread (see localcloud.http.server); returns the
        base URL."""
        if self._server is not None:
            return self.url
        self._server = HttpServer(self.handle_request, REQUEST_RULES, self.host,
                                  self.requested_port, self.server_limits,
                                  name="localcloud-gateway")
        self._server.start()
        log.info("gateway serving on %s", self.url)
        return self.url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def serve_forever(self) -> None:
        """Start and block until interrupted (Ctrl-C)."""
        self.start()
        server = self._server
        try:
            while server.running():
                server.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> "Gateway":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- execution log ------------------------------------------------------------

    @property
    def execution_log(self) -> list[dict]:
        """Entries {time, requestId, apiId, stage, method, path, message}, oldest first."""
        with self._log_lock:
            return list(self._log)

    def execution_messages(self, request_id: str | None = None) -> list[str]:
        return [e["message"] for e in self.execution_log
                if request_id is None or e["requestId"] == request_id]

    def clear_execution_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _execution(self, request: dict, message: str, level: int = logging.INFO) -> None:
        entry = {"time": time.time(), "requestId": request.get("requestId"),
                 "apiId": request.get("apiId"), "stage": request.get("stage"),
                 "method": request.get("method"), "path": request.get("path"),
                 "deploymentId": request.get("deploymentId"),
                 "canary": bool(request.get("canary")), "message": message}
        with self._log_lock:
            self._log.append(entry)
        log.log(level, "(%s) %s %s %s: %s", entry["requestId"], entry["stage"], entry["method"],
                entry["path"], message)
        if entry["apiId"]:
            self._stage_logs.execution(
                entry["apiId"], entry["stage"], request.get("loggingLevel"),
                "ERROR" if level >= logging.ERROR else "INFO", entry["requestId"], message,
                canary=bool(request.get("canary")))

    # --- lookups in the emulator --------------------------------------------------

    def find_stage(self, stage_name: str, api_id: str | None = None) -> tuple[str, dict] | None:
        """(rest api id, {deploymentId, variables}) for a stage name (of `api_id`, when a
        custom domain's mapping names the API), or None."""
        api_ids = ([api_id] if api_id else [self.rest_api_id] if self.rest_api_id
                   else self._plane.rest_api_ids())
        for api_id in api_ids:
            stage = self._plane.stage(api_id, stage_name)
            if stage is not None:
                return api_id, stage
        return None

    def snapshot(self, deployment_id: str) -> dict:
        path = snapshots.snapshot_path(self.state_dir, deployment_id)
        mtime = path.stat().st_mtime_ns if path.exists() else -1
        cached = self._snapshots.get(deployment_id)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        snapshot = snapshots.load_snapshot(self.state_dir, deployment_id)
        self._snapshots[deployment_id] = (mtime, snapshot)
        return snapshot

    def invoke_permitted(self, function: str, source: str) -> bool:
        # A qualified function (``fn:live``) is authorised by its qualifier's own policy.
        policy = self._plane.function_policy(function)  # None: nobody may invoke it
        decision = iam_eval.lambda_invoke_allowed(
            policy, control_plane.function_arn(function, self.region, self.account_id), source,
            source_account=self.account_id)
        return decision.allowed

    # --- requests -----------------------------------------------------------------

    def _error(self, request_id: str, spec: tuple) -> GatewayResponse:
        status, body, error_type = spec
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
        if error_type:
            headers.append(("x-amzn-ErrorType", error_type))
        return GatewayResponse(status, headers, json.dumps(body).encode("utf-8"),
                               error_message=next(iter(body.values()), None))

    def handle_request(self, method: str, target: str, headers: list[tuple[str, str]],
                       body: bytes, *, source_ip: str = "127.0.0.1",
                       protocol: str = "HTTP/1.1") -> GatewayResponse:
        """Serve one request (the HTTP server calls this; tests may too), and write the
        stage's access-log line for it, as API Gateway does for every request a stage got."""
        started = time.perf_counter()
        request = {"requestId": str(uuid.uuid4()), "method": method, "apiId": None,
                   "identity.sourceIp": source_ip, "protocol": protocol, "httpMethod": method,
                   "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())}
        response = self._serve(request, method, target, headers, body, source_ip, protocol)
        if request.get("accessLog"):
            context = {**request, "path": request["contextPath"],
                       "error.message": response.error_message,
                       "status": response.status, "responseLength": len(response.body),
                       "responseLatency": int((time.perf_counter() - started) * 1000)}
            self._stage_logs.access(request["accessLog"], context,
                                    canary=bool(request.get("canary")))
        if request.get("apiId"):  # a request that reached a stage counts in its metrics
            self._stage_metrics.publish(request["apiId"], request["stage"],
                                        bool(request.get("canary")), response.status)
        return response

    def _serve(self, request: dict, method: str, target: str, headers: list[tuple[str, str]],
               body: bytes, source_ip: str, protocol: str) -> GatewayResponse:
        request_id = request["requestId"]
        raw_path, _, query = target.partition("?")
        raw_path = raw_path.split("#", 1)[0]
        if normalize_url_path(raw_path) != raw_path:
            # "." / ".." / "//" segments: a SigV4 signature covers the normalised path, so
            # serving the raw one would let a signature for one route reach another.
            return self._error(request_id, MISSING_TOKEN)
        # A custom domain's mappings route the request before the /{stage} of the default
        # endpoint does (localcloud.apigateway.domains).
        host = domains.request_host(headers)
        mappings = self._plane.base_path_mappings(host) if host else None
        if mappings is not None:
            on_domain = domains.route_on_domain(mappings, raw_path)
            if on_domain is None:
                return self._error(request_id, domains.FORBIDDEN)
            mapped_api, stage_name, path = on_domain.api_id, on_domain.stage, on_domain.path
        else:
            segments = raw_path.split("/")
            stage_name = unquote(segments[1]) if len(segments) > 1 else ""
            mapped_api, path = None, "/" + "/".join(segments[2:])
        # $context.path: the path as the client sent it on a domain, /{stage}/... otherwise.
        context_path = raw_path if mapped_api else f"/{stage_name}{path}"
        request.update({"stage": stage_name, "path": path, "contextPath": context_path})
        if not _STAGE_NAME.fullmatch(stage_name):
            return self._error(request_id, MISSING_TOKEN)
        found = self.find_stage(stage_name, mapped_api)
        if found is None:
            return self._error(request_id, MISSING_TOKEN)
        api_id, stage = found
        if mapped_api is None and self._endpoints.disabled(api_id):
            return self._error(request_id, domains.FORBIDDEN)  # only its domains serve it
        logging_settings = stage.get("logging") or {}
        canary_settings = stage.get("canary")
        canary = canary_routing.serves_canary(canary_settings, self.canary_random.random)
        deployment_id = canary_settings["deploymentId"] if canary else stage.get("deploymentId")
        request.update({"apiId": api_id, "accessLog": logging_settings.get("access"),
                        "loggingLevel": logging_settings.get("level"), "canary": canary,
                        "deploymentId": deployment_id,
                        # $context.isCanaryRequest: only on a stage with a canary
                        "isCanaryRequest": None if not canary_settings else str(canary).lower()})
        try:
            snapshot = self.snapshot(deployment_id)
        except (FileNotFoundError, ValueError, TypeError) as err:
            self._execution(request, f"Execution failed: no snapshot of deployment "
                                     f"{deployment_id}: {err}", logging.ERROR)
            return self._error(request_id, INTERNAL_ERROR)
        matched = route(snapshot, path, method)
        if matched is None:
            return self._error(request_id, MISSING_TOKEN)
        resource, definition, path_params = matched
        request["resourcePath"] = resource["path"]
        source = source_arn(self.region, self.account_id, api_id, stage_name, method, path)
        caller = None
        if definition.get("authorizationType") == "AWS_IAM":
            try:
                caller = auth.authorize(
                    auth.ReceivedRequest(method, target, headers, body, source_ip),
                    region=self.region, resource_arn=source, identities=self._plane)
            except control_plane.Unsupported as err:
                self._execution(request, f"Execution failed: {err}", logging.ERROR)
                return self._error(request_id, INTERNAL_ERROR)
            if isinstance(caller, auth.Refusal):
                return self._error(request_id, caller.spec)
            request.update({f"identity.{key}": value
                            for key, value in caller.event_fields().items()})
        # Throttling comes after authorization. AWS does not say where in its order; what it
        # does say puts it there: usage-plan limits are applied before a stage's ("API
        # Gateway throttling-related settings are applied in the following order", request
        # throttling page), and a usage plan's client may be known only from a Lambda
        # authorizer's answer (API key source AUTHORIZER). So requests refused as unsigned,
        # wrongly signed or not allowed spend nothing of the stage's rate, and cannot use it
        # up before the stage's own callers get to it.
        if not self._throttles.allow(api_id, stage_name, stage.get("throttling")):
            return self._error(request_id, TOO_MANY_REQUESTS)
        variables = canary_routing.release_variables(stage.get("variables"),
                                                     canary_settings if canary else None)
        integration = definition.get("integration") or {}
        if integration.get("type") != "AWS_PROXY":
            self._execution(request, "Execution failed due to configuration error: "
                                     f"integration type {integration.get('type')!r} is not "
                                     "served by the local gateway (only AWS_PROXY)", logging.ERROR)
            return self._error(request_id, INTERNAL_ERROR)
        try:
            uri = resolve_stage_variables(integration.get("uri") or "", variables)
        except KeyError as missing:
            self._execution(request, "Execution failed due to configuration error: stage "
                                     f"variable {missing.args[0]!r} is not defined on stage "
                                     f"{stage_name}", logging.ERROR)
            return self._error(request_id, INTERNAL_ERROR)
        function = function_from_uri(uri)
        if function is None:
            self._execution(request, "Execution failed due to configuration error: "
                                     f"not a Lambda function integration URI: {uri}", logging.ERROR)
            return self._error(request_id, INTERNAL_ERROR)
        if not self.invoke_permitted(function, source):
            self._execution(request, INVALID_PERMISSIONS, logging.ERROR)
            return self._error(request_id, INTERNAL_ERROR)

        event = self.build_event(method=method, path=path, query=query, headers=headers,
                                 body=body, resource=resource, definition=definition,
                                 path_params=path_params, variables=variables, api_id=api_id,
                                 stage_name=stage_name, deployment_id=deployment_id,
                                 request_id=request_id, source_ip=source_ip, protocol=protocol,
                                 caller=caller, request_path=context_path if mapped_api else None)
        invoked = time.perf_counter()
        try:
            result = self.invoker.invoke(function, event)
        except FunctionNotFound:
            self._execution(request, INVALID_PERMISSIONS, logging.ERROR)
            return self._error(request_id, INTERNAL_ERROR)
        except InvokeRefused as refused:
            # "If the Lambda API rejects the invocation request, API Gateway returns a 500
            # error code" with {"message": "Internal server error"} ("Handling Lambda errors
            # with an API Gateway API", Lambda developer guide). The two log lines follow the
            # shape of API Gateway's for a Lambda that answers an error status; their exact
            # wording for this case is not on an AWS page.
            request.update({"integration.status": refused.status,
                            "integration.error": refused.error_type})
            self._execution(request, f"Lambda invocation failed with status: {refused.status}. "
                                     f"Lambda request id: {refused.request_id}", logging.ERROR)
            self._execution(request, "Execution failed due to configuration error: "
                                     f"{refused.message}", logging.ERROR)
            return self._error(request_id, INTERNAL_ERROR)
        except InvokerError as err:
            self._execution(request, f"Execution failed: {err}", logging.ERROR)
            return self._error(request_id, INTERNAL_ERROR)
        request.update({"integration.latency": int((time.perf_counter() - invoked) * 1000),
                        "integration.status": 200})
        if not result.ok and not result.timed_out:
            request["integration.error"] = (result.error or {}).get("errorType") or "Unhandled"
        if result.timed_out:
            self._execution(request, "Execution failed due to a timeout error", logging.ERROR)
            return self._error(request_id, TIMED_OUT)
        if not result.ok:
            error = result.error or {}
            self._execution(request, "Lambda execution failed with status 200 due to customer "
                                     f"function error: {error.get('errorMessage')}. Lambda "
                                     f"request id: {result.request_id}", logging.ERROR)
            self._execution(request, MALFORMED_RESPONSE, logging.ERROR)
            return self._error(request_id, BAD_GATEWAY)
        try:
            response = parse_proxy_response(result.payload)
        except MalformedResponse as err:
            self._execution(request, f"Lambda proxy response not accepted: {err}", logging.ERROR)
            self._execution(request, MALFORMED_RESPONSE, logging.ERROR)
            return self._error(request_id, BAD_GATEWAY)
        names = {name.lower() for name, _ in response.headers}
        if "content-type" not in names:
            response.headers.append(("Content-Type", "application/json"))
        response.headers.append(("x-amzn-RequestId", request_id))
        self._execution(request, f"Method completed with status: {response.status}")
        return response

    def build_event(self, *, method: str, path: str, query: str,
                    headers: list[tuple[str, str]], body: bytes, resource: dict,
                    definition: dict, path_params: dict, variables: dict, api_id: str,
                    stage_name: str, deployment_id: str, request_id: str, source_ip: str,
                    protocol: str, caller: auth.CallerIdentity | None = None,
                    request_path: str | None = None) -> dict:
        """The REST API proxy integration event (payload format 1.0). `request_path`: the
        path as sent on a custom domain, which API Gateway gives as both `path` and
        `requestContext.path`, base path included (localstack/localstack#12296)."""
        header_pairs = with_forwarded_for(headers, source_ip)
        present = {name.lower() for name, _ in header_pairs}
        host = next((value for name, value in header_pairs if name.lower() == "host"), "")
        for name, value in (("X-Forwarded-Proto", "http"),
                            ("X-Forwarded-Port", host.rpartition(":")[2] if ":" in host else "80"),
                            ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-"
                                                f"{uuid.uuid4().hex[:24]}")):
            if name.lower() not in present:
                header_pairs.append((name, value))
        single_headers, multi_headers = _multi(header_pairs)
        query_pairs = parse_qsl(query, keep_blank_values=True) if query else []
        single_query, multi_query = _multi(query_pairs)
        if body:
            try:
                body_text, is_base64 = body.decode("utf-8"), False
            except UnicodeDecodeError:
                body_text, is_base64 = base64.b64encode(body).decode("ascii"), True
        else:
            body_text, is_base64 = None, False
        now = time.time()
        user_agent = next((v for n, v in header_pairs if n.lower() == "user-agent"), None)
        return {
            "resource": resource["path"],
            "path": request_path or path,
            "httpMethod": method,
            "headers": single_headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": single_query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": path_params or None,
            "stageVariables": variables or None,
            "requestContext": {
                "resourceId": resource.get("id"),
                "resourcePath": resource["path"],
                "httpMethod": method,
                "extendedRequestId": base64.b32encode(uuid.uuid4().bytes)[:16].decode(),
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "path": request_path or f"/{stage_name}{path}",
                "accountId": self.account_id,
                "protocol": protocol,
                "stage": stage_name,
                "domainPrefix": host.split(".", 1)[0].split(":", 1)[0] if host else "",
                "requestTimeEpoch": int(now * 1000),
                "requestId": request_id,
                "identity": {
                    "cognitoIdentityPoolId": None, "accountId": None,
                    "cognitoIdentityId": None, "caller": None, "sourceIp": source_ip,
                    "principalOrgId": None, "accessKey": None,
                    "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None,
                    "userArn": None, "userAgent": user_agent, "user": None,
                    **(caller.event_fields() if caller is not None else {}),
                },
                "domainName": host,
                "deploymentId": deployment_id,
                "apiId": api_id,
            },
            "body": body_text,
            "isBase64Encoded": is_base64,
        }
