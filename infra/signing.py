"""Signing a call to the API as its callers do: AWS Signature Version 4 for
``execute-api``, by botocore's signer. Every method of the API requires it (``AWS_IAM``);
the promotion tool's smoke check signs with it, and so do the tests and benchmarks that
call a stage, on AWS or on the local cloud.
"""
from __future__ import annotations

from typing import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sigv4_url(url: str) -> str:
    """The URL with its query in SigV4's canonical encoding (RFC 3986 unreserved characters
    only). botocore signs a URL's query as it stands while API Gateway re-encodes it, so a
    query with e.g. `!` must be sent in this form to match its signature."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    return parts._replace(query=urlencode(pairs, quote_via=quote, safe="-_.~")).geturl()


def signed_headers(url: str, credentials: Credentials, region: str, method: str = "GET",
                   body: bytes | None = None, headers: Mapping[str, str] | None = None
                   ) -> dict[str, str]:
    """The headers of a SigV4-signed request for execute-api, signed by botocore. `url`
    must already carry its query in SigV4's encoding (`sigv4_url`): what is signed is what
    is sent."""
    request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers or {}))
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())
