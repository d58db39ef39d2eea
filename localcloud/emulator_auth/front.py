"""The front check: a WSGI middleware in front of moto's app that lets through only what
the account's IAM would.

For every request, in this order:

0. Its body is read only if it is signed and within MAX_BODY_BYTES (declared, or
   chunked and read up to the cap): an unsigned request is refused on its headers.
1. moto's own routes and controls (``/moto-api/...`` with its dashboard, ``data.json`` and
   reset; the instance metadata service; ``x-moto-*`` headers, which pick moto's
   account) are refused to everyone: the local cloud resets moto in process.
2. The request must be signed (SigV4, in the Authorization header) with a key the
   emulator knows, for the very service, region and key moto will serve it with; the
   signature is recomputed with botocore (:mod:`localcloud.sigv4`).
3. The local cloud itself and its deployer may do anything. Anyone else (a stage's
   caller, a function's role, any user made in the emulator) may call what their
   identity policies allow, evaluated by :mod:`localcloud.policy` (the gateway's
   evaluation) for the IAM action and resource of the operation moto will run; a role
   session's policy, if it has one, must allow it too.

A refusal is answered in the called service's own error format; anything unexpected in
the check refuses the request (500) rather than letting it through. Every decision on
an IAM action is told to the listeners (:func:`listen`), e.g. the invoker's call log.
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from localcloud import policy as iam_eval
from localcloud import sigv4
from localcloud.emulator_auth import errors, operations
from localcloud.emulator_auth.principals import ASSUMED_ROLE, USER, Expired, Identities, Principal

log = logging.getLogger("localcloud.emulator_auth")

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


# --- decisions, for whoever keeps a log of them -------------------------------------------

@dataclass(frozen=True)
class Decided:
    """One authorization decision the front check made on an IAM action."""
    access_key_id: str
    principal_arn: str
    action: str
    resource: str
    decision: iam_eval.Decision
    operation: str  # service.Operation, e.g. "dynamodb.GetItem"
    timestamp_ms: int


_listeners: tuple[Callable[[Decided], None], ...] = ()
_listeners_lock = threading.Lock()


def listen(listener: Callable[[Decided], None]) -> Callable[[], None]:
    """Hear of every decision any front check of this process makes; returns the call
    that stops it. A listener must be quick and must not raise."""
    global _listeners
    with _listeners_lock:
        _listeners = (*_listeners, listener)

    def stop() -> None:
        global _listeners
        with _listeners_lock:
            _listeners = tuple(each for each in _listeners if each is not listener)
    return stop


def _tell(decided: Decided) -> None:
    for listener in _listeners:
        try:
            listener(decided)
        except Exception:  # noqa: BLE001 -- a listener never decides a request
            log.exception("a decision listener failed")


# --- the request as received --------------------------------------------------------------

# The largest request body the emulator reads, declared or chunked. The largest request
# the modelled services take whole is a deployment package uploaded directly to Lambda:
# CodeSizeZipped, 50 MB (52,428,800 bytes, GetAccountSettings' AccountLimit), sent
# base64 in CreateFunction's / UpdateFunctionCode's JSON, about 70 MB. S3 takes up to
# 5 GB in one PutObject, but the local cloud uploads only small archives, and a body
# is held in memory whole (it is hashed for the signature check before moto sees it).
MAX_BODY_BYTES = 72 * 1024 * 1024
_READ_PIECE = 1024 * 1024


def _declared_length(environ: dict) -> int:
    try:
        return max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _too_large(environ: dict) -> bool:
    """Whether the request declares a body over the cap (known from its headers)."""
    return not environ.get("wsgi.input_terminated") and _declared_length(environ) > MAX_BODY_BYTES


def _read_body(environ: dict) -> bytes | None:
    """The whole body, or None when it is over the cap (a chunked body is read no
    further than one piece past it)."""
    stream = environ["wsgi.input"]
    if not environ.get("wsgi.input_terminated"):
        length = _declared_length(environ)
        if length > MAX_BODY_BYTES:
            return None
        return stream.read(length) if length > 0 else b""
    pieces, total = [], 0  # chunked: the server de-chunks, however long it is
    while True:
        piece = stream.read(_READ_PIECE)
        if not piece:
            return b"".join(pieces)
        total += len(piece)
        if total > MAX_BODY_BYTES:
            return None
        pieces.append(piece)


def _raw_target(environ: dict) -> str:
    """The path and query as the client sent them (what it signed)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    if "://" in raw.split("?", 1)[0]:  # an absolute-form request line
        parts = urlsplit(raw)
        raw = parts.path + (f"?{parts.query}" if parts.query else "")
    return raw or "/"


def received_request(environ: dict, body: bytes) -> sigv4.ReceivedRequest:
    headers = [(key[5:].replace("_", "-").lower(), value) for key, value in environ.items()
               if key.startswith("HTTP_") and isinstance(value, str)]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers.append((key.replace("_", "-").lower(), environ[key]))
    return sigv4.ReceivedRequest(environ.get("REQUEST_METHOD", "GET"), _raw_target(environ),
                                 headers, body, environ.get("REMOTE_ADDR") or "")


def _looks_like(environ: dict) -> str:
    """The protocol an unsigned request looks like, for the form of its refusal."""
    if environ.get("HTTP_X_AMZ_TARGET"):
        return errors.JSON
    if "Action=" in environ.get("QUERY_STRING", "") or \
            environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return errors.QUERY
    return errors.REST_JSON


class _Refused(Exception):
    def __init__(self, kind: str, message: str, shape: str | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.shape = kind, message, shape


def _check_layout(header: str | None, environ: dict) -> None:
    """An Authorization header moto reads as the check does: moto takes the service and
    region from its first part, so Credential comes first, and each part comes once."""
    if header is None:
        return
    names = [part.strip().partition("=")[0].strip()
             for part in header.strip().partition(" ")[2].split(",") if part.strip()]
    if names and (names[0] != "Credential" or len(names) != len(set(names))):
        raise _Refused(errors.INCOMPLETE, "The Authorization header must hold Credential "
                                          "first, then SignedHeaders and Signature, once each. "
                                          f"Authorization={header}", _looks_like(environ))


_SIGV4_KINDS = {sigv4.INCOMPLETE: errors.INCOMPLETE, sigv4.INVALID_SIGNATURE: errors.BAD_SIGNATURE,
                sigv4.UNRECOGNIZED: errors.UNKNOWN_KEY, sigv4.MISSING_TOKEN: errors.UNSIGNED}


def _refused(refusal: sigv4.Refusal) -> _Refused:
    return _Refused(_SIGV4_KINDS.get(refusal.error_type, errors.BAD_SIGNATURE), refusal.message)


# --- the check ----------------------------------------------------------------------------

class FrontCheck:
    """WSGI middleware around moto's ``DomainDispatcherApplication``. ``local_cloud_key``:
    (access key id, secret) of the local cloud's own identity, known only to this process."""

    def __init__(self, dispatcher, local_cloud_key: tuple[str, str]) -> None:
        self.dispatcher = dispatcher
        self.identities = Identities(local_cloud_key)

    def __call__(self, environ: dict, start_response):
        # An unsigned request is refused on its headers alone and a body declared over the
        # cap is refused unread: neither body is read at all.
        signed = bool(environ.get("HTTP_AUTHORIZATION")) and not _too_large(environ)
        body = _read_body(environ) if signed else b""
        too_large = body is None or _too_large(environ)
        body = body or b""
        environ["wsgi.input"] = io.BytesIO(body)
        model = None
        try:
            request = received_request(environ, body)  # before the framing is rewritten
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("wsgi.input_terminated", None)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            if any(key.startswith("HTTP_X_MOTO_") for key in environ):
                raise _Refused(errors.NOT_AWS, "x-moto-* headers are moto's controls; the local "
                                               "cloud's emulator refuses them")
            _check_layout(request.header("authorization"), environ)
            try:
                app = self.dispatcher.get_application(environ)
            except Exception as err:  # noqa: BLE001 -- e.g. dynamodb's scope, no X-Amz-Target
                raise _Refused(errors.UNKNOWN_OPERATION, "moto cannot tell which operation this "
                               f"request calls ({type(err).__name__})",
                               _looks_like(environ)) from None
            model = operations.service_model(app)
            if model is None:
                raise _Refused(errors.NOT_AWS, f"{environ.get('PATH_INFO')} is not an AWS API: "
                                               "moto's own routes are not served here")
            if request.header("authorization") is None:
                shape = _looks_like(environ)
                # moto guesses the service of an unsigned request (S3 by default): the
                # refusal takes the form the request itself has.
                return self._answer(start_response, errors.render(
                    None, errors.UNSIGNED, "Missing Authentication Token"
                    if shape == errors.REST_JSON else "Request is missing Authentication Token",
                    shape=shape))
            if too_large:
                raise _Refused(errors.TOO_LARGE, "The request body is over the emulator's "
                               f"limit of {MAX_BODY_BYTES} bytes: send a deployment package "
                               "this large through S3 (S3Bucket, S3Key), and an S3 object "
                               "this large in a multipart upload")
            self._authorize(request, environ, body, model)
        except _Refused as refused:
            log.info("refused %s %s: %s", environ.get("REQUEST_METHOD"),
                     environ.get("PATH_INFO"), refused.message.splitlines()[0])
            return self._answer(start_response, errors.render(
                None if refused.shape else model, refused.kind, refused.message,
                shape=refused.shape))
        except Exception:  # noqa: BLE001 -- a check that breaks lets nothing through
            log.exception("the emulator's front check failed on %s %s",
                          environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return self._answer(start_response, errors.render(
                model, errors.INTERNAL, "The emulator could not check this request."))
        environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    @staticmethod
    def _answer(start_response, response: tuple[int, list, bytes]) -> list[bytes]:
        status, headers, body = response
        reason = {400: "Bad Request", 403: "Forbidden", 404: "Not Found",
                  413: "Content Too Large", 500: "Internal Server Error",
                  501: "Not Implemented"}.get(status, "Error")
        start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _authorize(self, request: sigv4.ReceivedRequest, environ: dict, body: bytes,
                   model) -> None:
        moto_request = operations.moto_request(environ, body)
        principal, region = self._authenticate(request, moto_request, body, model)
        if principal.administrator:
            return
        call = operations.identify(model, moto_request, region, principal.account)
        if call is None:
            raise _Refused(errors.UNKNOWN_OPERATION,
                           f"{request.method} {request.target.split('?', 1)[0]} is no operation "
                           f"of {model.service_name} this emulator can tell; only the local "
                           "cloud's deployer may send it")
        self._evaluate(principal, model, call, request.source_ip)

    def _authenticate(self, request: sigv4.ReceivedRequest, moto_request, body: bytes,
                      model) -> tuple[Principal, str]:
        """Who signed the request (and the region it acts in), or _Refused."""
        header = request.header("authorization") or ""
        has_date = request.header("x-amz-date") is not None or request.header("date") is not None
        params = sigv4.parse_authorization(header, has_date)
        if isinstance(params, sigv4.Refusal):
            raise _refused(params)
        timestamp = sigv4.request_timestamp(request)
        if isinstance(timestamp, sigv4.Refusal):
            raise _refused(timestamp)
        skew = sigv4.check_clock_skew(timestamp, datetime.datetime.now(datetime.timezone.utc))
        if skew is not None:
            raise _refused(skew)
        key_id, region, service = _credential_scope(params["Credential"], timestamp,
                                                    model.signing_name)
        moto_region, moto_key = operations.moto_region_and_key(moto_request)
        if moto_region != region or moto_key != key_id:
            raise _Refused(errors.INCOMPLETE,
                           f"The request names region {moto_region!r} and key {moto_key!r} "
                           f"elsewhere than in its signature's credential ({region!r}, "
                           f"{key_id!r}); send each once, in the Authorization header")
        signed_names = [name.strip().lower() for name in params["SignedHeaders"].split(";")]
        if "host" not in signed_names:
            raise _Refused(errors.BAD_SIGNATURE, "'Host' or ':authority' must be a "
                                                 "'SignedHeader' in the AWS Authorization.")
        try:
            principal = self.identities.principal(key_id)
        except Expired:
            raise _Refused(errors.EXPIRED, "The security token included in the request is "
                                           "expired") from None
        if principal is None:
            raise _Refused(errors.UNKNOWN_KEY,
                           "The security token included in the request is invalid.")
        _check_session_token(principal, request.header("x-amz-security-token"))
        s3_hash = self._s3_payload_hash(request, body) if model.service_name == "s3" else None
        canonical, string_to_sign, signature = sigv4.expected_signature(
            request, signed_names, timestamp, key_id, principal.secret_access_key, region,
            service, s3_payload_hash=s3_hash)
        if not hmac.compare_digest(signature.encode(), params["Signature"].encode("utf-8",
                                                                                   "replace")):
            raise _refused(sigv4.signature_mismatch(canonical, string_to_sign))
        return principal, region

    @staticmethod
    def _s3_payload_hash(request: sigv4.ReceivedRequest, body: bytes) -> str:
        """What S3 signs in the body's place: the X-Amz-Content-SHA256 the client sent,
        which must be the body's hash unless it declares the payload unsigned."""
        declared = (request.header("x-amz-content-sha256") or "").strip()
        if declared in (UNSIGNED_PAYLOAD, STREAMING_UNSIGNED_PAYLOAD_TRAILER):
            return declared
        if declared.startswith("STREAMING-"):
            raise _Refused(errors.NOT_SUPPORTED,
                           f"x-amz-content-sha256 {declared}: this emulator does not check "
                           "signed chunks; sign the whole payload (botocore does over http)")
        if not declared:
            raise _Refused(errors.INCOMPLETE, "Missing required header for this request: "
                                              "x-amz-content-sha256")
        actual = hashlib.sha256(body).hexdigest()
        if declared != actual:
            raise _Refused(errors.PAYLOAD_MISMATCH,
                           "The provided 'x-amz-content-sha256' header does not match what "
                           "was computed.")
        return declared

    def _evaluate(self, principal: Principal, model, call: operations.Call,
                  source_ip: str) -> None:
        policies = Identities.policies(principal)
        context = principal.context(source_ip)
        session = [principal.session_policy] if principal.session_policy else None
        operation = f"{model.service_name}.{call.operation}"
        for action, resource in call.pairs:
            decision, policy_type = _decide(policies, session, action, resource, context,
                                            principal)
            _tell(Decided(principal.access_key_id, principal.arn, action, resource, decision,
                          operation, int(time.time() * 1000)))
            if not decision.allowed:
                raise _Refused(errors.DENIED, iam_eval.access_denied_message(
                    principal.arn, action, resource, decision, policy_type))


def _credential_scope(credential: str, timestamp: str,
                      signing_name: str) -> tuple[str, str, str]:
    """(access key id, region, service) of a Credential scoped to the request's date, the
    called service and ``aws4_request``; else a refusal naming every part that is wrong
    (in the IAM guide's sentences, as the gateway's check words them). Any region: moto
    serves the one signed for (checked against moto's own reading of the request)."""
    scope = credential.split("/")
    if len(scope) != 5:
        raise _Refused(errors.INCOMPLETE, "Credential must have exactly 5 slash-delimited "
                                          "elements, e.g. keyid/date/region/service/term, "
                                          f"got '{credential}'")
    key_id, date, region, service, terminator = scope
    problems = []
    if service != signing_name:
        problems.append(f"Credential should be scoped to correct service: '{signing_name}'. ")
    if terminator != sigv4.TERMINATOR:
        problems.append("Credential should be scoped with a valid terminator: "
                        f"'{sigv4.TERMINATOR}', not '{terminator}'. ")
    if date != timestamp[:8]:
        problems.append("Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                        f"version of date from HTTP: '{date}' != '{timestamp[:8]}', from "
                        f"'{timestamp}'.")
    if problems:
        raise _Refused(errors.BAD_SIGNATURE, "".join(problems))
    return key_id, region, service


def _check_session_token(principal: Principal, token: str | None) -> None:
    """A temporary key goes with its own session token; a long-term key with none."""
    expected = principal.session_token
    if (expected is None) != (token is None) or (expected is not None and not hmac.compare_digest(
            token.encode("utf-8", "replace"), expected.encode())):
        raise _Refused(errors.BAD_TOKEN, "The security token included in the request is invalid.")


def _decide(policies: list, session: list | None, action: str, resource: str, context: dict,
            principal: Principal) -> tuple[iam_eval.Decision, str]:
    """The identity policies' decision, then the session policy's (both must allow),
    failing closed (:func:`localcloud.policy.identity_decision`)."""
    if iam_eval.always_allowed(action):
        return iam_eval.Decision(iam_eval.ALLOW, "always allowed"), iam_eval.IDENTITY_BASED
    return iam_eval.identity_decision(policies, action, resource, context, principal.arn,
                                      session=session, log=log)


__all__ = ["FrontCheck", "Decided", "listen", "received_request", "USER", "ASSUMED_ROLE"]
