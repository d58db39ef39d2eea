"""What `python -m localcloud up` tells a user besides the stage lines: where the local
cloud's deployer's keys are and what it may do, true of the running emulator."""
from __future__ import annotations

import configparser
import io
import json
import os
import sys
import threading

import boto3

from localcloud.engine.state import StateStore


def test_up_prints_the_deployers_profile_and_what_it_may_do(running_up):
    [line] = [line for line in running_up.lines if line.startswith("the deployer: ")]
    credentials = running_up.state_dir / "credentials"
    assert line.startswith(f"the deployer: profile 'deployer' in {credentials}: IAM user "
                           "localcloud-deployer")
    services = ["apigateway", "lambda", "iam", "s3", "dynamodb", "logs", "sts", "cloudwatch",
                "xray"]
    assert f"every action of {', '.join(services)} in the emulator" in line
    assert "call no stage (no execute-api) until a stage's invokePolicyArn is attached" in line

    # True of the emulator: the profile's key is the deployer's, and its policy allows
    # exactly those services.
    endpoint = StateStore(running_up.state_dir).load_session().endpoint_url
    profiles = configparser.ConfigParser()
    profiles.read(credentials)
    session = boto3.Session(region_name="us-east-1",
                            aws_access_key_id=profiles["deployer"]["aws_access_key_id"],
                            aws_secret_access_key=profiles["deployer"]["aws_secret_access_key"])
    identity = session.client("sts", endpoint_url=endpoint).get_caller_identity()
    assert identity["Arn"] == "arn:aws:iam::123456789012:user/localcloud-deployer"
    iam = session.client("iam", endpoint_url=endpoint)
    [name] = iam.list_user_policies(UserName="localcloud-deployer")["PolicyNames"]
    document = iam.get_user_policy(UserName="localcloud-deployer", PolicyName=name)[
        "PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    [statement] = document["Statement"]
    assert sorted(statement["Action"]) == sorted(f"{s}:*" for s in services)
    assert not iam.list_attached_user_policies(UserName="localcloud-deployer")[
        "AttachedPolicies"]


def test_lines_printed_by_many_threads_at_once_stay_whole(monkeypatch):
    """While `up` serves, the log follower's thread, the watcher's and the main thread
    ("stopping") print at once, to a pipe as a terminal or a test reads it. Each line
    arrives whole: none merged with another's (print() writes a line and its newline
    apart, and a pipe write lets another thread in between)."""
    from localcloud.__main__ import say
    read_end, write_end = os.pipe()
    received = []
    reader = threading.Thread(target=lambda: received.append(open(read_end, "rb").read()))
    reader.start()
    pipe = io.TextIOWrapper(open(write_end, "wb", buffering=0), write_through=True,
                            line_buffering=True)
    monkeypatch.setattr(sys, "stdout", pipe)
    threads = [threading.Thread(target=lambda n=n: [say(f"thread {n} line {i}")
                                                    for i in range(5000)])
               for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipe.close()
    reader.join()
    assert sorted(received[0].decode().splitlines()) == sorted(
        f"thread {n} line {i}" for n in range(4) for i in range(5000))
