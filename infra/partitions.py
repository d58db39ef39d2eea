"""Which AWS partition a region belongs to, from botocore's partition data
(botocore/data/partitions.json: each partition's id, DNS suffix and region regex).

Pure, so the config check, the tests' mocks and the local cloud ask the same question the
same way. The program itself takes its partition from `aws.get_partition_output()`, which
the AWS provider answers for its region; `provider_partition_result` is that answer, as
the provider's `aws_partition` data source gives it (terraform-provider-aws
internal/service/meta/partition_data_source.go: `partition` and `id` are the partition,
`dns_suffix` its DNS suffix, `reverse_dns_prefix` that suffix reversed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from botocore.loaders import create_loader


@dataclass(frozen=True)
class Partition:
    name: str        # aws, aws-us-gov, aws-cn, ...: what ARNs start with (arn:{name}:)
    dns_suffix: str  # amazonaws.com; amazonaws.com.cn in aws-cn


@lru_cache(maxsize=1)
def _partitions() -> tuple[tuple[re.Pattern, Partition], ...]:
    data = create_loader().load_data("partitions")
    # The patterns are written for the SDKs' regex engines (Go's, JavaScript's), where \w and
    # \d are ASCII only; Python's would also take e.g. "us-éast-1" or Arabic digits.
    return tuple((re.compile(p["regionRegex"], re.ASCII),
                  Partition(p["id"], p["outputs"]["dnsSuffix"]))
                 for p in data["partitions"])


def known_partitions() -> tuple[str, ...]:
    return tuple(partition.name for _, partition in _partitions())


def partition_of(region: str) -> Partition | None:
    """The partition whose region pattern the region matches, or None (not a region)."""
    for pattern, partition in _partitions():
        if pattern.fullmatch(region):
            return partition
    return None


def provider_partition_result(region: str) -> dict:
    """What `aws.get_partition()` answers for a provider configured with this region
    (the engine's camelCase keys)."""
    partition = partition_of(region)
    if partition is None:
        raise ValueError(f"{region!r} is in no AWS partition")
    return {"partition": partition.name, "id": partition.name,
            "dnsSuffix": partition.dns_suffix,
            "reverseDnsPrefix": ".".join(reversed(partition.dns_suffix.split(".")))}
