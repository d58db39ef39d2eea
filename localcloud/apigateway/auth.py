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
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from localcloud import policy as iam_eval
from localcloud import sigv4
# The SigV4 steps every service's check shares (moved to localcloud.sigv4), under the
# names this module has always given them.
from localcloud.sigv4 import (  # noqa: F401 -- re-exported
    ACCESS_DENIED, ALGORITHM, INCOMPLETE, INVALID_SIGNATURE, INVALID_TOKEN, MAX_CLOCK_SKEW,
    MISSING_TOKEN, SIGNATURE_MISMATCH, TERMINATOR, UNRECOGNIZED, UNSIGNED, ReceivedRequest,
    Refusal, _incomplete, _invalid, check_clock_skew, parse_authorization, request_timestamp,
    signature_mismatch)

log = logging.getLogger("localcloud.apigateway.auth")

SERVICE = "execute-api"
INVOKE_ACTION = "execute-api:Invoke"

_ACCOUNT_IN_ARN = re.compile(r"^(arn:[^:]*:[^:]*:[^:]*:)(\d{12})(:)")


# --- what goes in and what comes out -------------------------------------------------

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


# --- pure steps -----------------------------------------------------------------------

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


def expected_signature(request: ReceivedRequest, signed_header_names: Iterable[str],
                       timestamp: str, access_key: str, secret_key: str,
                       region: str) -> tuple[str, str, str]:
    """(canonical request, string to sign, signature) botocore computes for an
    execute-api request (its body always hashed)."""
    return sigv4.expected_signature(request, signed_header_names, timestamp, access_key,
                                    secret_key, region, SERVICE)


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
    """The caller's identity policies' decision on ``execute-api:Invoke``, failing closed
    (:func:`localcloud.policy.identity_decision`)."""
    return iam_eval.identity_decision(policies, INVOKE_ACTION, resource_arn, context,
                                      caller_arn, log=log)[0]


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
