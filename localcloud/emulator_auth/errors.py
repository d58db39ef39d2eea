"""The emulator's refusals, each in the error format of the service that was called, so
that an SDK reads them as it reads AWS's own (botocore's parsers: JSON ``__type``, the
query protocol's ``ErrorResponse``, REST-JSON's ``x-amzn-ErrorType``, S3's ``Error``).

Which code and status each protocol answers with, per kind of refusal:

==================  ===========================  ======================  =====================  ==========================
kind                JSON (dynamodb, logs, acm)   query (iam, sts),        REST-JSON (lambda,     S3
                                                 REST-XML (route53)       apigateway)
==================  ===========================  ======================  =====================  ==========================
unsigned            400 MissingAuthentication-   403 MissingAuthen-      403 MissingAuthenti-   403 AccessDenied
                    TokenException               ticationToken           cationTokenException
incomplete          400 IncompleteSignature-     400 IncompleteSignature 403 IncompleteSigna-   400 AuthorizationHeader-
                    Exception                                            tureException          Malformed
bad signature,      400 InvalidSignature-        403 SignatureDoesNot-   403 InvalidSignature-  403 SignatureDoesNotMatch
stale date          Exception                    Match                   Exception
unknown key,        400 UnrecognizedClient-      403 InvalidClient-      403 UnrecognizedCli-   403 InvalidAccessKeyId
wrong token         Exception                    TokenId                 entException           (400 InvalidToken)
expired token       400 ExpiredTokenException    403 ExpiredToken        403 ExpiredToken-      400 ExpiredToken
                                                                         Exception
not allowed         400 AccessDeniedException    403 AccessDenied        403 AccessDenied-      403 AccessDenied
                                                                         Exception
==================  ===========================  ======================  =====================  ==========================

A body over the emulator's size cap (too large) is answered 413 RequestEntityTooLarge
(JSON, query), 413 RequestTooLargeException (REST-JSON), 400 EntityTooLarge (S3).

The codes and statuses are those of each protocol's "Common Errors" (e.g. the IAM API
reference's: IncompleteSignature 400, InvalidClientTokenId 403, MissingAuthenticationToken
403, ExpiredToken 403) and of DynamoDB's error handling page (AccessDeniedException,
UnrecognizedClientException: 400, in ``com.amazon.coral.service#...``). Requests for
moto's own routes (not an AWS API) get a 403 in REST-JSON form.
"""
from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

UNSIGNED = "unsigned"
INCOMPLETE = "incomplete"
BAD_SIGNATURE = "bad-signature"
UNKNOWN_KEY = "unknown-key"
BAD_TOKEN = "bad-token"
EXPIRED = "expired"
DENIED = "denied"
UNKNOWN_OPERATION = "unknown-operation"
PAYLOAD_MISMATCH = "payload-mismatch"
NOT_SUPPORTED = "not-supported"
NOT_AWS = "not-aws"
INTERNAL = "internal"
TOO_LARGE = "too-large"

JSON, QUERY, REST_JSON, REST_XML, S3 = "json", "query", "rest-json", "rest-xml", "s3"

# kind -> protocol family -> (status, code)
_CODES = {
    UNSIGNED: {JSON: (400, "MissingAuthenticationTokenException"),
               QUERY: (403, "MissingAuthenticationToken"),
               REST_JSON: (403, "MissingAuthenticationTokenException"),
               S3: (403, "AccessDenied")},
    INCOMPLETE: {JSON: (400, "IncompleteSignatureException"), QUERY: (400, "IncompleteSignature"),
                 REST_JSON: (403, "IncompleteSignatureException"),
                 S3: (400, "AuthorizationHeaderMalformed")},
    BAD_SIGNATURE: {JSON: (400, "InvalidSignatureException"), QUERY: (403, "SignatureDoesNotMatch"),
                    REST_JSON: (403, "InvalidSignatureException"),
                    S3: (403, "SignatureDoesNotMatch")},
    UNKNOWN_KEY: {JSON: (400, "UnrecognizedClientException"), QUERY: (403, "InvalidClientTokenId"),
                  REST_JSON: (403, "UnrecognizedClientException"),
                  S3: (403, "InvalidAccessKeyId")},
    BAD_TOKEN: {JSON: (400, "UnrecognizedClientException"), QUERY: (403, "InvalidClientTokenId"),
                REST_JSON: (403, "UnrecognizedClientException"), S3: (400, "InvalidToken")},
    EXPIRED: {JSON: (400, "ExpiredTokenException"), QUERY: (403, "ExpiredToken"),
              REST_JSON: (403, "ExpiredTokenException"), S3: (400, "ExpiredToken")},
    DENIED: {JSON: (400, "AccessDeniedException"), QUERY: (403, "AccessDenied"),
             REST_JSON: (403, "AccessDeniedException"), S3: (403, "AccessDenied")},
    UNKNOWN_OPERATION: {JSON: (400, "UnknownOperationException"), QUERY: (400, "InvalidAction"),
                        REST_JSON: (404, "UnknownOperationException"),
                        S3: (400, "InvalidRequest")},
    PAYLOAD_MISMATCH: {JSON: (400, "SerializationException"), QUERY: (400, "InvalidRequest"),
                       REST_JSON: (400, "BadRequestException"),
                       S3: (400, "XAmzContentSHA256Mismatch")},
    NOT_SUPPORTED: {JSON: (400, "ValidationException"), QUERY: (400, "InvalidRequest"),
                    REST_JSON: (400, "BadRequestException"), S3: (501, "NotImplemented")},
    NOT_AWS: {REST_JSON: (403, "AccessDeniedException")},
    # No common error of these protocols is about size: HTTP's 413 (RFC 9110, 15.5.14),
    # with the codes Lambda (RequestTooLargeException) and S3 (EntityTooLarge, 400) use.
    TOO_LARGE: {JSON: (413, "RequestEntityTooLarge"), QUERY: (413, "RequestEntityTooLarge"),
                REST_JSON: (413, "RequestTooLargeException"), S3: (400, "EntityTooLarge")},
    INTERNAL: {JSON: (500, "InternalFailure"), QUERY: (500, "InternalFailure"),
               REST_JSON: (500, "InternalFailure"), S3: (500, "InternalError")},
}

# What S3 says instead of the generic wording.
_S3_MESSAGES = {
    UNSIGNED: "Access Denied",
    UNKNOWN_KEY: "The AWS Access Key Id you provided does not exist in our records.",
    BAD_TOKEN: "The provided token is malformed or otherwise invalid.",
    EXPIRED: "The provided token has expired.",
}


def family(model) -> str:
    """The error format of a botocore service model; REST-JSON when there is none."""
    if model is None:
        return REST_JSON
    if model.service_name == "s3":
        return S3
    protocol = model.protocol
    if protocol in ("query", "ec2"):
        return QUERY
    if protocol == "rest-xml":
        return REST_XML
    return JSON if protocol == "json" else REST_JSON


def render(model, kind: str, message: str, *,
           shape: str | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of a refusal of ``kind`` by the service ``model`` (None:
    not a service; ``shape`` then names the protocol the request looks like)."""
    protocol = shape or family(model)
    codes = _CODES[kind]
    # REST-XML services other than S3 (route53) answer with the query protocol's codes.
    status, code = codes.get(QUERY if protocol == REST_XML else protocol) or codes[REST_JSON]
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id)]
    if protocol == JSON:
        version = (model.metadata.get("jsonVersion") if model is not None else None) or "1.0"
        body = json.dumps({"__type": f"com.amazon.coral.service#{code}", "message": message})
        headers.append(("Content-Type", f"application/x-amz-json-{version}"))
    elif protocol in (QUERY, REST_XML):
        namespace = (model.metadata.get("xmlNamespace") if model is not None else None) \
            or "https://iam.amazonaws.com/doc/2010-05-08/"
        body = (f'<ErrorResponse xmlns="{escape(namespace)}"><Error><Type>Sender</Type>'
                f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
        headers.append(("Content-Type", "text/xml"))
    elif protocol == S3:
        message = _S3_MESSAGES.get(kind, message)
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId>"
                "</Error>")
        headers += [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    else:
        key = "Message" if model is not None and model.service_name == "lambda" else "message"
        body = json.dumps({key: message})
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    return status, headers, body.encode("utf-8")
