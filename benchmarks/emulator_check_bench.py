"""What the emulator's front check costs a function's DynamoDB call. Figures, not
assertions.

One GetItem signed with a role session's credentials (as a function worker's calls are:
signature recomputed, key and session looked up, the role's policies evaluated), sent to
the local cloud's emulator, over the same GetItem sent to moto's own server with no
check, both in this process and reading the same moto backends. The local cloud's own
identity (full rights: signature only) is measured beside them.

The machine is noisy, so each figure is a ratio of medians over interleaved batches.
"""
from __future__ import annotations

import json
import logging
import statistics
import time

ROUNDS, BATCH = 25, 40


def _batch(call, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n


def main() -> dict:
    import boto3
    from botocore.config import Config
    from moto.server import ThreadedMotoServer

    from localcloud.emulator import REGION, Emulator

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    bare = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    bare.start()
    try:
        with Emulator() as emulator:
            iam, ddb = emulator.client("iam"), emulator.client("dynamodb")
            ddb.create_table(TableName="bench-User", BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "id",
                                                    "AttributeType": "S"}])
            ddb.put_item(TableName="bench-User", Item={"id": {"S": "u1"}, "name": {"S": "A"}})
            role = iam.create_role(RoleName="bench-role", AssumeRolePolicyDocument="{}")["Role"]
            iam.put_role_policy(RoleName="bench-role", PolicyName="function", PolicyDocument=(
                json.dumps({"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem",
                                                  "dynamodb:Scan"],
                    "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/bench-User"}]})))
            issued = emulator.client("sts").assume_role(
                RoleArn=role["Arn"], RoleSessionName="bench")["Credentials"]
            host, port = bare.get_host_and_port()

            def client(endpoint: str, key: str, secret: str, token: str | None):
                return boto3.session.Session(
                    aws_access_key_id=key, aws_secret_access_key=secret,
                    aws_session_token=token, region_name=REGION,
                ).client("dynamodb", endpoint_url=endpoint, config=Config(
                    retries={"max_attempts": 1}))

            session = (issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])
            checked = client(emulator.endpoint_url, *session)
            unchecked = client(f"http://{host}:{port}", *session)
            own = emulator.client("dynamodb")

            def get(c):
                return lambda: c.get_item(TableName="bench-User", Key={"id": {"S": "u1"}})

            calls = {"role, checked": get(checked), "unchecked": get(unchecked),
                     "local cloud, checked": get(own)}
            for call in calls.values():  # warm: connections, the check's caches
                for _ in range(20):
                    call()
            times = {name: [] for name in calls}
            for _ in range(ROUNDS):
                for name, call in calls.items():
                    times[name].append(_batch(call, BATCH))
    finally:
        bare.stop()

    medians = {name: statistics.median(values) for name, values in times.items()}
    role_ratio = medians["role, checked"] / medians["unchecked"]
    own_ratio = medians["local cloud, checked"] / medians["unchecked"]
    print(f"DynamoDB GetItem as a function's role through the emulator's front check / "
          f"without a check: {role_ratio:.2f} ({medians['role, checked'] * 1e3:.2f} ms vs "
          f"{medians['unchecked'] * 1e3:.2f} ms)")
    print(f"the same as the local cloud itself (signature only): {own_ratio:.2f} "
          f"({medians['local cloud, checked'] * 1e3:.2f} ms)")
    results = {"role_checked_over_unchecked": round(role_ratio, 3),
               "local_cloud_checked_over_unchecked": round(own_ratio, 3),
               "median_ms": {name: round(value * 1e3, 3) for name, value in medians.items()}}
    print(json.dumps(results), flush=True)
    return results


if __name__ == "__main__":
    main()
