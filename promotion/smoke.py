"""The smoke check: a SigV4-signed GET {stageUrl}/users?limit=1 (its customUrl where the
API's default endpoint is off) must answer 200 (every
method requires IAM authorization). botocore signs; urllib sends.

With AWS_IAM on every method, API Gateway answers 403 before the function runs when the
signer may not call the stage (no `execute-api:Invoke` on it: `User: arn:... is not
authorized to perform: execute-api:Invoke on resource: ...`), or its key, session or
signature is not accepted: such a 403 is about the identity that signed. Its 403 `Missing
Authentication Token` is not: it answers that to a request matching no deployed stage,
resource and method, before any identity is looked at. Any other failure is the stage's.
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
        return self.status == 403 and NO_ROUTE not in self.detail

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
