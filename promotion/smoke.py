"""The smoke check: a SigV4-signed GET {stageUrl}/users?limit=1 (its customUrl where the
API's default endpoint is off) must answer 200 (every
method requires IAM authorization). botocore signs; urllib sends.

With AWS_IAM on every method, API Gateway answers 403 before the function runs when the
signer may not call the stage (no `execute-api:Invoke` on it: `User: arn:... is not
authorized to perform: execute-api:Invoke on resource: ...`), or its key, session or
signature is not accepted: such a 403 is about the identity that signed, and its message
says which (IDENTITY_REFUSALS). Its other 403s are not: `Missing Authentication Token` to a
request matching no deployed stage, resource and method, before any identity is looked at,
and `Forbidden` from an endpoint that serves nothing there (the API's default endpoint
turned off, an unmapped path on a custom domain). Any other failure is the stage's.
"""
from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from infra.signing import signed_headers

SMOKE_PATH = "/users?limit=1"
NO_ROUTE = "Missing Authentication Token"           # no such stage, path or method
# The messages of API Gateway's 403s about the identity that signed (what
# localcloud/apigateway/auth.py answers, in API Gateway's words): a policy, the key or
# session, the signature, its time or its credential scope.
IDENTITY_REFUSALS = ("is not authorized to perform", "security token included in the request",
                     "request signature we calculated does not match", "Signature expired",
                     "Signature not yet current", "Credential should be scoped",
                     "Date in Credential scope", "Authorization header requires",
                     "Credential must have exactly", "in Authorization header",
                     "Date must be in ISO-8601", "Unsupported Authorization Type")
NOT_AUTHORIZED = "is not authorized to perform"     # no policy allows the identity


@dataclass(frozen=True)
class SmokeResult:
    """What a stage answered: `status` None when nothing answered (or nothing was sent)."""
    url: str
    status: int | None
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == 200

    @property
    def identity_refused(self) -> bool:
        """API Gateway refused the identity that signed (not the stage failing)."""
        return self.status == 403 and any(said in self.detail for said in IDENTITY_REFUSALS)

    @property
    def lacks_permission(self) -> bool:
        """Refused because no policy of the identity allows execute-api:Invoke here (not
        because its credentials were not accepted)."""
        return self.identity_refused and NOT_AUTHORIZED in self.detail

    def __str__(self) -> str:
        if self.status is None:
            return self.detail
        return f"GET {self.url}: HTTP {self.status}" + (f": {self.detail}" if self.detail else "")


def smoke_url(stage_url: str) -> str:
    return f"{stage_url.rstrip('/')}{SMOKE_PATH}"


def stage_base_url(outputs: dict) -> str | None:
    """The URL a stage's smoke checks call: its custom domain's (customUrl) when the API's
    default endpoint is off, where every stageUrl answers 403 Forbidden; else its stageUrl.
    The owner's choice reaches every stage as its disableExecuteApiEndpoint output."""
    if outputs.get("disableExecuteApiEndpoint") in (True, "true") and outputs.get("customUrl"):
        return outputs["customUrl"]
    return outputs.get("stageUrl") or None


def unreachable_hint(stack: str, outputs: dict, result: SmokeResult) -> str:
    """Why a stage answers 403 Forbidden where its endpoint serves nothing, or ""."""
    if (result.status == 403 and "Forbidden" in result.detail
            and outputs.get("disableExecuteApiEndpoint") in (True, "true")
            and not outputs.get("customUrl")):
        return (f"; the API's default endpoint is off (the owner stack's user-service:"
                f"disableExecuteApiEndpoint) and {stack} has no custom domain, so nothing can "
                f"call it: set user-service:domainName for {stack}, or turn the default "
                "endpoint back on")
    return ""


def smoke_check(stage_url: str, credentials, region: str, timeout: float = 10.0,
                connect_to: str | None = None) -> SmokeResult:
    """Send the signed GET; the stage's answer. `connect_to` (HOST:PORT) sends it, in plain
    HTTP, to that address instead of the URL's host, signed for and naming the URL's host
    (as curl --connect-to does: the local gateway serves custom domains by Host)."""
    url = smoke_url(stage_url)
    if credentials is None:
        return SmokeResult(url, None, f"no credentials to sign GET {url} with")
    try:
        headers = signed_headers(url, credentials, region)
    except (BotoCoreError, ClientError) as error:  # e.g. a role's keys that fail to refresh
        return SmokeResult(url, None, f"cannot sign GET {url}: {error}")
    target = url
    if connect_to is not None:
        parts = urlsplit(url)
        target = urlunsplit(("http", connect_to, parts.path, parts.query, ""))
        headers = {**headers, "Host": parts.netloc}
    request = urllib.request.Request(target, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return SmokeResult(url, reply.status)
    except urllib.error.HTTPError as error:
        return SmokeResult(url, error.code, error.read()[:300].decode(errors="replace"))
    except (urllib.error.URLError, OSError) as error:
        return SmokeResult(url, None, f"GET {url}: {getattr(error, 'reason', error)}")
