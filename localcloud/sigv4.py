"""SigV4 as an AWS service checks it on a request it received: the pieces that API
Gateway's ``AWS_IAM`` check (:mod:`localcloud.apigateway.auth`) and the emulator's front
check (:mod:`localcloud.emulator_auth`) share.

The signature is recomputed with botocore's SigV4 signer (canonical request, string to
sign, signing key), over exactly the headers the client says it signed; only the
``Authorization`` header is parsed here. A refusal carries the error type JSON services
and API Gateway send (``IncompleteSignatureException``...); each caller renders it in its
own protocol.
"""
from __future__ import annotations

import datetime
import email.utils
import re
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import unquote

from botocore.auth import SIGV4_TIMESTAMP, S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
# "In most cases, a request must reach AWS within five minutes of the time stamp in the
# request" (IAM user guide, "Elements of an AWS API request signature").
MAX_CLOCK_SKEW = datetime.timedelta(minutes=5)

_BASIC_DATE = re.compile(r"\d{8}T\d{6}Z")

MISSING_TOKEN = "MissingAuthenticationTokenException"
INCOMPLETE = "IncompleteSignatureException"
INVALID_SIGNATURE = "InvalidSignatureException"
UNRECOGNIZED = "UnrecognizedClientException"
ACCESS_DENIED = "AccessDeniedException"


# --- what goes in and what comes out -------------------------------------------------

@dataclass(frozen=True)
class ReceivedRequest:
    """A request as a service received it: ``target`` is the raw path and query."""
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
    """A service's answer to a request it does not let through."""
    status: int
    message: str
    error_type: str
    message_key: str = "message"

    @property
    def spec(self) -> tuple[int, dict, str]:
        """(status, JSON body, x-amzn-ErrorType), the gateway's error tuple."""
        return self.status, {self.message_key: self.message}, self.error_type


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


def _parse_basic(timestamp: str) -> datetime.datetime:
    """``20260101T120000Z`` as a UTC datetime; ValueError if it is not one (strptime's
    answer, without its cost on every request)."""
    if not _BASIC_DATE.fullmatch(timestamp):
        raise ValueError(f"not an ISO-8601 basic timestamp: {timestamp!r}")
    return datetime.datetime(int(timestamp[0:4]), int(timestamp[4:6]), int(timestamp[6:8]),
                             int(timestamp[9:11]), int(timestamp[11:13]), int(timestamp[13:15]),
                             tzinfo=datetime.timezone.utc)


def check_clock_skew(timestamp: str, now: datetime.datetime) -> Refusal | None:
    """A signing time within 5 minutes of the service's own clock, else the refusal."""
    try:
        signed_at = _parse_basic(timestamp)
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


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's SigV4 signer, over the headers the client listed in SignedHeaders."""

    def __init__(self, credentials: Credentials, service: str, region: str,
                 signed: HTTPHeaders) -> None:
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed


class _ReceivedS3RequestSigner(_ReceivedRequestSigner):
    # S3 signs the path as sent, not normalised and encoded again (botocore's S3SigV4Auth).
    _normalize_url_path = S3SigV4Auth._normalize_url_path


def _query_pairs(query: str) -> list[tuple[str, str]]:
    # Decoded here so that botocore re-encodes each name and value canonically.
    pairs = []
    for item in query.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def expected_signature(request: ReceivedRequest, signed_header_names: Iterable[str],
                       timestamp: str, access_key: str, secret_key: str, region: str,
                       service: str, *, s3_payload_hash: str | None = None
                       ) -> tuple[str, str, str]:
    """(canonical request, string to sign, signature) botocore computes for the request.

    The body is hashed, whatever X-Amz-Content-SHA256 says; except for S3
    (``s3_payload_hash`` given: the header's value, which S3 signs in the body's place,
    and whose match with the body the caller checks), whose path is also signed as sent.
    """
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
    if s3_payload_hash is not None:
        aws_request.headers["X-Amz-Content-SHA256"] = s3_payload_hash
    aws_request.context["timestamp"] = timestamp
    signer_class = _ReceivedS3RequestSigner if s3_payload_hash is not None \
        else _ReceivedRequestSigner
    signer = signer_class(Credentials(access_key, secret_key), service, region, signed)
    canonical = signer.canonical_request(aws_request)
    string_to_sign = signer.string_to_sign(aws_request, canonical)
    return canonical, string_to_sign, signer.signature(string_to_sign, aws_request)


def signature_mismatch(canonical: str, string_to_sign: str) -> Refusal:
    """The mismatch message, with what API Gateway appends to it."""
    return _invalid(f"{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have "
                    f"been\n'{canonical}'\n\nThe String-to-Sign should have been\n"
                    f"'{string_to_sign}'\n")
