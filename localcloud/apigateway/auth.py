"""``AWS_IAM`` method authorization, decided as API Gateway decides it.

For a method whose ``authorizationType`` is ``AWS_IAM``, :func:`authorize` takes the
request as received and answers either the caller's identity (for the proxy event's
``requestContext.identity``) or API Gateway's refusal, always a 403:

=============================================  ==================================  =====
what is wrong                                  x-amzn-ErrorType                    key
=============================================  ==================================  =====
no ``Authorization`` header                    MissingAuthenticationTokenException message
header not ``key=value`` pairs, a part or      IncompleteSignatureException        message
the date missing, a malformed date or
credential
date more than 5 minutes off, credential       InvalidSignatureException           message
scoped to another region, service,
terminator or date than the request's,
``host`` not signed, signature mismatch
unknown or inactive access key, a session      UnrecognizedClientException         message
token with a long-term key
no identity policy allows                      AccessDeniedException               Message
``execute-api:Invoke`` on the request's ARN,
or one cannot be evaluated (fails closed)
=============================================  ==================================  =====

The wording is API Gateway's own, including what it appends to a signature mismatch (the
canonical request and string to sign it calculated) and the account ids it masks in an
AccessDenied message (whose JSON key is ``Message``, capitalised, as API Gateway sends it).

The signature is recomputed with botocore's SigV4 signer (canonical request, string to
sign, signing key), over exactly the headers the client says it signed; only the
``Authorization`` header is parsed here. Presigned query-string requests are not
accepted (they get ``Missing Authentication Token``).

Not modelled: API Gateway resource policies, STS session credentials (only IAM users'
access keys are known), permission boundaries.
"""
from __future__ import annotations

import datetime
import email.utils
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable, Protocol
from urllib.parse import unquote

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from localcloud import policy as iam_eval

log = logging.getLogger("localcloud.apigateway.auth")

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
TERMINATOR = "aws4_request"
INVOKE_ACTION = "execute-api:Invoke"
MAX_CLOCK_SKEW = datetime.timedelta(minutes=5)

_BASIC_DATE = re.compile(r"\d{8}T\d{6}Z")
_ACCOUNT_IN_ARN = re.compile(r"^(arn:[^:]*:[^:]*:[^:]*:)(\d{12})(:)")

MISSING_TOKEN = "MissingAuthenticationTokenException"
INCOMPLETE = "IncompleteSignatureException"
INVALID_SIGNATURE = "InvalidSignatureException"
UNRECOGNIZED = "UnrecognizedClientException"
ACCESS_DENIED = "AccessDeniedException"


# --- what goes in and what comes out -------------------------------------------------

@dataclass(frozen=True)
class ReceivedRequest:
    """A request as the gateway received it: ``target`` is the raw path and query."""
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"

    def header_values(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return ",".join(values) if values else None


@dataclass(frozen=True)
class Refusal:
    """API Gateway's answer to a request it does not let through."""
    status: int
    message: str
    error_type: str
    message_key: str = "message"

    @property
    def spec(self) -> tuple[int, dict, str]:
        """(status, JSON body, x-amzn-ErrorType), the gateway's error tuple."""
        return self.status, {self.message_key: self.message}, self.error_type


@dataclass(frozen=True)
class CallerIdentity:
    """Who signed the request: the fields API Gateway puts in requestContext.identity."""
    access_key: str
    account_id: str
    user_id: str
    user_arn: str

    def event_fields(self) -> dict[str, str]:
        return {"accessKey": self.access_key, "accountId": self.account_id,
                "caller": self.user_id, "user": self.user_id, "userArn": self.user_arn}


class IdentityStore(Protocol):
    """The emulator's IAM, as :class:`localcloud.control_plane.ControlPlane` answers it."""

    def access_key(self, access_key_id: str) -> dict | None: ...

    def user_policies(self, user_name: str) -> list[dict]: ...


def _incomplete(message: str) -> Refusal:
    return Refusal(403, message, INCOMPLETE)


def _invalid(message: str) -> Refusal:
    return Refusal(403, message, INVALID_SIGNATURE)


UNSIGNED = Refusal(403, "Missing Authentication Token", MISSING_TOKEN)
INVALID_TOKEN = Refusal(403, "The security token included in the request is invalid.",
                        UNRECOGNIZED)
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method. Consult "
                      "the service documentation for details.")


# --- pure steps -----------------------------------------------------------------------

def parse_authorization(header: str, has_date: bool) -> dict[str, str] | Refusal:
    """The ``Credential``, ``SignedHeaders`` and ``Signature`` of an Authorization header
    (plus ``algorithm``), or API Gateway's IncompleteSignature refusal."""
    algorithm, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {"algorithm": algorithm}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            return _incomplete(f"'{part}' not a valid key=value pair (missing equal-sign) in "
                               f"Authorization header: '{header}'.")
        key, _, value = part.partition("=")
        params[key.strip()] = value.strip()
    problems = [f"Authorization header requires '{name}' parameter."
                for name in ("Credential", "Signature", "SignedHeaders") if not params.get(name)]
    if not has_date:
        problems.append("Authorization header requires existence of either a 'X-Amz-Date' or "
                        "a 'Date' header.")
    if problems:
        return _incomplete(" ".join(problems) + f" Authorization={header}")
    if algorithm != ALGORITHM:
        return _incomplete(f"Unsupported Authorization Type: '{algorithm}'; sign the request "
                           f"with {ALGORITHM} (Signature Version 4).")
    return params


def request_timestamp(request: ReceivedRequest) -> str | Refusal:
    """The signing time in ISO-8601 basic format, from X-Amz-Date (else Date)."""
    amz_date = request.header("x-amz-date")
    if amz_date is not None:
        if not _BASIC_DATE.fullmatch(amz_date.strip()):
            return _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
                               "See http://en.wikipedia.org/wiki/ISO_8601")
        return amz_date.strip()
    date = request.header("date") or ""
    try:
        parsed = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{date}'. "
                           "See http://en.wikipedia.org/wiki/ISO_8601")
    return parsed.astimezone(datetime.timezone.utc).strftime(SIGV4_TIMESTAMP)


def check_clock_skew(timestamp: str, now: datetime.datetime) -> Refusal | None:
    """API Gateway accepts a signing time within 5 minutes of its own clock."""
    try:
        signed_at = datetime.datetime.strptime(timestamp, SIGV4_TIMESTAMP).replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        return _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{timestamp}'. "
                           "See http://en.wikipedia.org/wiki/ISO_8601")
    now = now.astimezone(datetime.timezone.utc).replace(microsecond=0)

    def basic(moment: datetime.datetime) -> str:
        return moment.strftime(SIGV4_TIMESTAMP)

    if signed_at < now - MAX_CLOCK_SKEW:
        return _invalid(f"Signature expired: {timestamp} is now earlier than "
                        f"{basic(now - MAX_CLOCK_SKEW)} ({basic(now)} - 5 min.)")
    if signed_at > now + MAX_CLOCK_SKEW:
        return _invalid(f"Signature not yet current: {timestamp} is still later than "
                        f"{basic(now + MAX_CLOCK_SKEW)} ({basic(now)} + 5 min.)")
    return None


def check_credential_scope(credential: str, timestamp: str, region: str) -> str | Refusal:
    """The access key id of a credential scoped to the request's date, this region,
    execute-api and ``aws4_request``; else one refusal naming every part that is wrong.

    The sentences are the IAM guide's ("Troubleshoot signed requests"); AWS's services
    put every failing one in one message, in this order (region, service, terminator,
    date). execute-api's region sentence is the short one, as API Gateway has been seen
    to answer it: "Credential should be scoped to a valid region. Credential should be
    scoped to correct service: 'execute-api'. " (a quote of API Gateway's body in
    ServiceNow's documentation; the IAM guide's own gives no ", not ..." either)."""
    parts = credential.split("/")
    if len(parts) != 5:
        return _incomplete("Credential must have exactly 5 slash-delimited elements, e.g. "
                           f"keyid/date/region/service/term, got '{credential}'")
    key_id, date, scope_region, service, terminator = parts
    problems = []
    if scope_region != region:
        problems.append("Credential should be scoped to a valid region. ")
    if service != SERVICE:
        problems.append(f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if terminator != TERMINATOR:
        problems.append("Credential should be scoped with a valid terminator: "
                        f"'{TERMINATOR}', not '{terminator}'. ")
    if date != timestamp[:8]:
        problems.append("Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                        f"version of date from HTTP: '{date}' != '{timestamp[:8]}', from "
                        f"'{timestamp}'.")
    return _invalid("".join(problems)) if problems else key_id


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's SigV4 signer, over the headers the client listed in SignedHeaders."""

    def __init__(self, credentials: Credentials, region: str, signed: HTTPHeaders) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed


def _query_pairs(query: str) -> list[tuple[str, str]]:
    # Decoded here so that botocore re-encodes each name and value canonically.
    pairs = []
    for item in query.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def expected_signature(request: ReceivedRequest, signed_header_names: Iterable[str],
                       timestamp: str, access_key: str, secret_key: str,
                       region: str) -> tuple[str, str, str]:
    """(canonical request, string to sign, signature) botocore computes for the request."""
    signed = HTTPHeaders()
    for name in signed_header_names:
        for value in request.header_values(name):
            signed[name] = value
    path, _, query = request.target.partition("?")
    # The signer reads the signed headers from `signed` only. Leaving the request's own
    # headers empty also means the body is always hashed: a declared X-Amz-Content-SHA256
    # (e.g. UNSIGNED-PAYLOAD) cannot stand in for it.
    aws_request = AWSRequest(method=request.method, url=f"http://localhost{path}",
                             data=request.body, params=_query_pairs(query))
    aws_request.context["timestamp"] = timestamp
    signer = _ReceivedRequestSigner(Credentials(access_key, secret_key), region, signed)
    canonical = signer.canonical_request(aws_request)
    string_to_sign = signer.string_to_sign(aws_request, canonical)
    return canonical, string_to_sign, signer.signature(string_to_sign, aws_request)


def signature_mismatch(canonical: str, string_to_sign: str) -> Refusal:
    """The mismatch message, with what API Gateway appends to it."""
    return _invalid(f"{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have "
                    f"been\n'{canonical}'\n\nThe String-to-Sign should have been\n"
                    f"'{string_to_sign}'\n")


def mask_account(arn: str) -> str:
    """An ARN with its account id masked as API Gateway prints it (``********1234``)."""
    return _ACCOUNT_IN_ARN.sub(lambda m: f"{m.group(1)}********{m.group(2)[-4:]}{m.group(3)}",
                               arn)


def access_denied(caller_arn: str, resource_arn: str, decision: iam_eval.Decision) -> Refusal:
    reason = " with an explicit deny" if decision.result == iam_eval.EXPLICIT_DENY else ""
    return Refusal(403, f"User: {mask_account(caller_arn)} is not authorized to perform: "
                        f"{INVOKE_ACTION} on resource: {mask_account(resource_arn)}{reason}",
                   ACCESS_DENIED, message_key="Message")


def account_of(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def policy_context(request: ReceivedRequest, key: dict) -> dict[str, Any]:
    """The global condition keys IAM sets for an IAM user's request."""
    return {"aws:username": key["userName"], "aws:userid": key["userId"],
            "aws:PrincipalArn": key["userArn"], "aws:PrincipalAccount": account_of(key["userArn"]),
            "aws:PrincipalType": "User", "aws:SourceIp": request.source_ip,
            "aws:SecureTransport": "false"}


def identity_decision(policies: list, resource_arn: str, context: dict[str, Any],
                      caller_arn: str) -> iam_eval.Decision:
    """The caller's identity policies' decision on ``execute-api:Invoke``, failing closed:
    a policy the evaluator cannot read (a condition operator it does not model, a
    statement of the wrong shape) refuses the request, whatever the other policies say,
    since what it would deny cannot be known. The log says which caller and why."""
    try:
        return iam_eval.evaluate_identity(policies, INVOKE_ACTION, resource_arn, context)
    except (ValueError, TypeError, AttributeError) as err:
        log.warning("%s is refused %s on %s: one of its policies cannot be evaluated here "
                    "(%s: %s)", caller_arn, INVOKE_ACTION, resource_arn, type(err).__name__, err)
        return iam_eval.Decision(iam_eval.IMPLICIT_DENY)


# --- the decision -----------------------------------------------------------------------

def authorize(request: ReceivedRequest, *, region: str, resource_arn: str,
              identities: IdentityStore,
              now: datetime.datetime | None = None) -> CallerIdentity | Refusal:
    """API Gateway's AWS_IAM check of one request for ``resource_arn``
    (``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}``)."""
    header = request.header("authorization")
    if not header or not header.strip():
        return UNSIGNED
    has_date = request.header("x-amz-date") is not None or request.header("date") is not None
    params = parse_authorization(header, has_date)
    if isinstance(params, Refusal):
        return params
    timestamp = request_timestamp(request)
    if isinstance(timestamp, Refusal):
        return timestamp
    skew = check_clock_skew(timestamp, now or datetime.datetime.now(datetime.timezone.utc))
    if skew is not None:
        return skew
    key_id = check_credential_scope(params["Credential"], timestamp, region)
    if isinstance(key_id, Refusal):
        return key_id
    signed_names = [name.strip().lower() for name in params["SignedHeaders"].split(";")]
    if "host" not in signed_names:
        return _invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                        "Authorization.")
    key = identities.access_key(key_id)
    # IAM users' long-term keys carry no session token: one sent along is not valid.
    if key is None or key.get("status") != "Active" or request.header("x-amz-security-token"):
        return INVALID_TOKEN
    canonical, string_to_sign, signature = expected_signature(
        request, signed_names, timestamp, key_id, key["secretAccessKey"], region)
    if not hmac.compare_digest(signature.encode(), params["Signature"].encode("utf-8", "replace")):
        return signature_mismatch(canonical, string_to_sign)
    decision = identity_decision(identities.user_policies(key["userName"]), resource_arn,
                                 policy_context(request, key), key["userArn"])
    if not decision.allowed:
        return access_denied(key["userArn"], resource_arn, decision)
    return CallerIdentity(access_key=key_id, account_id=account_of(key["userArn"]),
                          user_id=key["userId"], user_arn=key["userArn"])
