"""The smoke check: a SigV4-signed GET {stageUrl}/users?limit=1 must answer 200 (every
method requires IAM authorization). botocore signs; urllib sends."""
from __future__ import annotations

import urllib.error
import urllib.request

from infra.signing import signed_headers


def smoke_check(stage_url: str, credentials, region: str, timeout: float = 10.0) -> str | None:
    """None when the stage answers 200; otherwise what went wrong."""
    url = f"{stage_url.rstrip('/')}/users?limit=1"
    if credentials is None:
        return f"no credentials to sign GET {url} with"
    request = urllib.request.Request(url, headers=signed_headers(url, credentials, region))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return None if reply.status == 200 else f"GET {url}: HTTP {reply.status}"
    except urllib.error.HTTPError as error:
        return f"GET {url}: HTTP {error.code}: {error.read()[:200].decode(errors='replace')}"
    except (urllib.error.URLError, OSError) as error:
        return f"GET {url}: {getattr(error, 'reason', error)}"
