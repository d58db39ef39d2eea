"""A stage's custom domain name, its base path and its certificate, checked against the
rules API Gateway, ACM and DNS hold them to. Pure, so the config check, the tests and
the local cloud ask the same questions the same way.

Sources:
- Domain names follow RFC 1035: "a maximum of 63 octets per label and 255 octets in
  total" (API Gateway's custom-domain guide); 255 octets on the wire are 253 characters
  of text (each label's length octet, and the root's). CDK: "Uppercase letters are not
  supported". A Regional domain's certificate "must be in the same Region as your API"
  (apigateway-regional-api-custom-domain-create).
- A base path is one segment of letters, digits and $-_.+!*'() (aws-cdk
  @aws-cdk/aws-apigateway lib/base-path-mapping.js: "A base path may only contain
  letters, numbers, and one of "$-_.+!*'()"". Multi-level paths need API Gateway v2's
  ApiMapping, which this program does not use). "(none)" is the API's word for no base
  path (CreateBasePathMapping), so it cannot be one.
"""
from __future__ import annotations

import re

from infra import partitions

# 253 characters of text fill the 255 octets RFC 1035 allows on the wire.
MAX_DOMAIN_LENGTH = 253
LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
BASE_PATH = re.compile(r"[A-Za-z0-9$_.+!*'()-]+")
NO_BASE_PATH = "(none)"  # how API Gateway names an empty base path
# arn:{partition}:acm:{region}:{account}:certificate/{id}
CERTIFICATE_ARN = re.compile(r"arn:(?P<partition>[^:]*):(?P<service>[^:]*):(?P<region>[^:]*):"
                             r"(?P<account>[^:]*):(?P<resource>.*)")
ACCOUNT_ID = re.compile(r"[0-9]{12}")
CERTIFICATE_ID = re.compile(r"certificate/[0-9a-f-]{1,64}")
# Route 53 hosted zone ids: upper-case letters and digits (Z1D633PJN98FT9).
HOSTED_ZONE_ID = re.compile(r"[A-Z0-9]{1,32}")


def domain_name_problem(name: str) -> str | None:
    """Why API Gateway would refuse `name` as a stage's custom domain, or None."""
    if name.startswith("*."):
        return (f"is {name!r}, a wildcard: a stage's domain is one host, mapped to this "
                "stage by a base path mapping; use the host callers will use, e.g. "
                "api.example.com")
    if name != name.lower():
        return f"is {name!r}; API Gateway takes domain names in lower case: {name.lower()!r}"
    if name.endswith("."):
        return f"is {name!r}; write it without the final dot: {name.rstrip('.')!r}"
    if len(name) > MAX_DOMAIN_LENGTH:
        return (f"is {len(name)} characters long; a domain name has at most "
                f"{MAX_DOMAIN_LENGTH} (RFC 1035)")
    labels = name.split(".")
    if len(labels) < 2:
        return (f"is {name!r}, which is not a fully qualified domain name; use the whole "
                "host name, e.g. api.example.com")
    bad = [label for label in labels if not LABEL.fullmatch(label)]
    if bad:
        return (f"is {name!r}; its label {bad[0]!r} is not a DNS label: each label is 1-63 "
                "letters, digits or '-', neither starting nor ending with '-' (RFC 1035)")
    if labels[-1].isdigit():
        return f"is {name!r}, an address, not a domain name"
    return None


def base_path_problem(base_path: str) -> str | None:
    """Why API Gateway would refuse `base_path` (non-empty) for a mapping, or None."""
    if base_path == NO_BASE_PATH:
        return (f"is {base_path!r}, API Gateway's name for no base path; leave basePath "
                "empty (the default) to serve the stage at the domain's root")
    if "/" in base_path:
        return (f"is {base_path!r}; a base path is one path segment, without '/' (e.g. "
                f"{base_path.strip('/').split('/')[0] or 'v1'!r})")
    if not BASE_PATH.fullmatch(base_path):
        return (f"is {base_path!r}; a base path may hold only letters, digits and "
                "$-_.+!*'()")
    return None


def certificate_arn_problem(arn: str, region: str) -> str | None:
    """Why `arn` cannot be the certificate of a Regional domain in `region`, or None.
    API Gateway refuses a certificate of another region ("Invalid certificate ARN: ...
    Certificate must be in '{region}'."); an ARN of another partition does not exist there."""
    match = CERTIFICATE_ARN.fullmatch(arn)
    expected = partitions.partition_of(region)
    partition = expected.name if expected else "aws"
    example = f"arn:{partition}:acm:{region}:123456789012:certificate/<id>"
    if not match:
        return f"is {arn!r}, which is not an ARN; use an ACM certificate's ARN, e.g. {example}"
    if match["service"] != "acm":
        return (f"is {arn!r}, an ARN of service {match['service']!r}; API Gateway takes "
                f"certificates from ACM only, e.g. {example}")
    if expected is not None and match["partition"] != expected.name:
        return (f"is {arn!r}, in partition {match['partition']!r}, but the stack's region "
                f"{region} is in partition {expected.name!r}; request or import the "
                f"certificate in ACM in {region}")
    if match["region"] != region:
        return (f"is {arn!r}, a certificate in {match['region'] or 'no region'}, but the "
                f"domain is REGIONAL: API Gateway takes only a certificate in the API's own "
                f"region ({region}); request or import it in ACM in {region}")
    if not ACCOUNT_ID.fullmatch(match["account"]) or not CERTIFICATE_ID.fullmatch(
            match["resource"]):
        return f"is {arn!r}, which is not an ACM certificate ARN; e.g. {example}"
    return None


def hosted_zone_id_problem(zone_id: str) -> str | None:
    if zone_id.startswith("/hostedzone/"):
        return (f"is {zone_id!r}; give the zone's id alone: "
                f"{zone_id[len('/hostedzone/'):]!r}")
    if not HOSTED_ZONE_ID.fullmatch(zone_id):
        return (f"is {zone_id!r}, which is not a Route 53 hosted zone id (upper-case letters "
                "and digits, e.g. Z0123456789ABCDEFGHIJ)")
    return None


def custom_url(domain: str, base_path: str | None) -> str:
    """The stage's URL on its domain, without a trailing slash, as stageUrl is."""
    return f"https://{domain}/{base_path}" if base_path else f"https://{domain}"


def mapping_base_path(base_path: str | None) -> str:
    """The base path as API Gateway lists it: "(none)" for the domain's root."""
    return base_path or NO_BASE_PATH


def default_endpoint_warning(stack: str, stage: str, api_owner: bool, owner_stack: str | None,
                             endpoint_disabled: bool, has_domain: bool) -> str | None:
    """What a stack should be told when the shared API's default (execute-api) endpoint
    is off: API Gateway then answers 403 Forbidden there, for every stage of the API, and
    a stage without a custom domain cannot be reached at all. The owner sees only its own
    stack, so it says what to check in the others."""
    if not endpoint_disabled:
        return None
    if api_owner:
        own = ("" if has_domain else
               f" This stack declares no domainName itself: its own stage {stage} cannot be "
               "reached.")
        return (f"user-service:disableExecuteApiEndpoint is true in Pulumi.{stack}.yaml: every "
                "stage of the shared REST API answers only on its custom domain, and its "
                "execute-api URL (stageUrl) answers 403 Forbidden. This stack sees only itself: "
                f"check that every stack whose apiStack is {stack} sets user-service:domainName "
                "in its stack file, and that their callers use its customUrl." + own)
    if has_domain:
        return None
    return (f"the shared REST API (owned by {owner_stack}) has its default endpoint turned off "
            "(disableExecuteApiEndpoint), and this stack declares no domainName: its stage "
            f"{stage} cannot be reached. Set user-service:domainName (with certificateArn or "
            f"hostedZoneId) in Pulumi.{stack}.yaml, or turn the endpoint back on in the owner's "
            "stack file")
