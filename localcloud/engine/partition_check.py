"""The local cloud refuses an ARN of another partition, as AWS does: a resource in
cn-north-1 cannot name `arn:aws:...`, one in us-east-1 cannot name `arn:aws-us-gov:...`.
Every ARN in a resource's inputs is checked, including those inside strings (policy
documents, an integration URI that holds a second ARN). Pure, so tests call it."""
from __future__ import annotations

import re

from infra import partitions

# Every place an ARN starts (a lookahead, so an ARN inside another is found too); it ends
# at whitespace or a JSON quote.
_ARN = re.compile(r"(?<![A-Za-z0-9])(?=(arn:([^:\s\"]*):[^\s\"]*))")


def arns_of(value, path: str = "") -> list[tuple[str, str, str]]:
    """(input path, ARN, its partition) for every ARN anywhere in `value`."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in arns_of(item, f"{path}.{key}")]
    if isinstance(value, (list, tuple)):
        return [found for index, item in enumerate(value)
                for found in arns_of(item, f"{path}[{index}]")]
    if isinstance(value, str):
        return [(path.lstrip(".") or "(the input)", match.group(1), match.group(2))
                for match in _ARN.finditer(value)]
    return []


def partition_problem(type_: str, name: str, inputs: dict, region: str) -> str | None:
    """Why a resource declared in `region` names an ARN of another partition, or None."""
    expected = partitions.partition_of(region)
    if expected is None:
        return f"{type_} {name!r}: the region {region!r} is in no AWS partition"
    wrong = [(path, arn, partition) for path, arn, partition in arns_of(inputs)
             if partition != expected.name]
    if not wrong:
        return None
    path, arn, partition = wrong[0]
    more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
    return (f"{type_} {name!r}: its input {path} names {arn}, an ARN of partition "
            f"{partition!r}{more}, but the region {region} is in partition {expected.name!r} "
            f"and AWS refuses ARNs of another partition; write arn:{expected.name}:..., taking "
            "the partition from aws.get_partition_output()")
