"""Local callers: an IAM user per deployed stage that may invoke that stage, and only it;
and the local cloud's deployer, an administrator who may not invoke any stage.

Every API method requires SigV4 (``AWS_IAM``), so calling the local cloud needs keys the
emulator's IAM knows. For each stage this makes (or keeps) the user
``localcloud-{stage}-caller`` holding exactly the stage's invoke policy (the stack's
``invokePolicyArn`` output), with one access key; writes every stage's key to an AWS
shared-credentials file ``{state_dir}/credentials`` (one profile per stage, named after
the stage); and gives a ready-to-run curl line per stage (curl 7.75 or later signs with
``--aws-sigv4``).

IAM never shows a secret key again after creating it, so the file is also what lets a
redeploy keep a stage's key: a key still active in IAM and present in the file is reused;
otherwise the user's keys are replaced by a new one.

The deployer (user ``localcloud-deployer``, profile ``deployer`` in the same file, a new
key each time the local cloud starts) stands for the operator who runs ``pulumi up`` on
AWS: full rights on the emulator's API (its front check lets the deployer do anything;
everyone else has what their policies allow), but no stage's invoke policy, so the
promotion tool's smoke checks signed as it are refused until an invoke policy is attached.
The credentials file is written readable by its owner only.

Use::

    make_deployer(cloud, state_dir)
    lines = ensure_stage_callers(cloud, state_dir, {"dev": (invoke_policy_arn, stage_url)})
"""
from __future__ import annotations

import configparser
import json
import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from localcloud.atomic import write_atomic
from localcloud.emulator_auth.principals import DEPLOYER_USER

log = logging.getLogger("localcloud.iam.callers")

CREDENTIALS_FILE = "credentials"
USER_NAME_MAX = 64  # IAM's limit on a user name
_USER_NAME = re.compile(r"[\w+=,.@-]+")
_KEY_TEXT = re.compile(r"[A-Za-z0-9/+=._-]+")  # what access keys and secrets are made of

DEPLOYER_PROFILE = "deployer"
DEPLOYER_POLICY = "deploy-user-service"
# The services a deploy of this program manages: those of the resources it declares
# (apigateway, lambda, iam, s3, dynamodb, and logs for aws:cloudwatch/logGroup) and of the
# calls the local cloud's engine makes (sts), plus what an operator of those reads around
# them (cloudwatch metrics, xray traces when tracing is on). Not execute-api, and not "*":
# on AWS, AdministratorAccess (Action "*") also allows execute-api:Invoke on every stage,
# so an operator holding it passes every smoke check; this deployer stands for the
# narrower operator whose smoke checks need each stage's invoke policy. apigateway:* is
# API Gateway's management API and allows no call of a stage.
DEPLOYER_SERVICES = ("apigateway", "lambda", "iam", "s3", "dynamodb", "logs", "sts",
                     "cloudwatch", "xray")


class CallerError(Exception):
    """A stage caller that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class StageCaller:
    stage: str
    user_name: str
    access_key_id: str
    secret_access_key: str


# --- pure ------------------------------------------------------------------------------

def caller_user_name(stage: str) -> str:
    """The IAM user that calls ``stage``: ``localcloud-{stage}-caller``."""
    name = f"localcloud-{stage}-caller"
    if not _USER_NAME.fullmatch(stage) or len(name) > USER_NAME_MAX:
        raise CallerError(
            f"stage {stage!r} gives the IAM user name {name!r}, which IAM refuses: a user name "
            f"is at most {USER_NAME_MAX} characters of letters, digits and +=,.@_-; "
            f"use a stage name of at most {USER_NAME_MAX - len('localcloud--caller')} characters")
    return name


def is_caller_user(user_name: str) -> bool:
    """Whether an IAM user is one of these stage callers (by its name)."""
    return re.fullmatch(r"localcloud-[\w+=,.@-]+-caller", user_name) is not None


def _checked_key_text(text: str, what: str) -> str:
    if not _KEY_TEXT.fullmatch(text):
        raise CallerError(f"the {what} holds characters no AWS key has: {text!r}")
    return text


def deployer_policy() -> dict:
    """The deployer's identity policy: every action of the deploy's services, none of
    execute-api."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "DeployUserService", "Effect": "Allow",
        "Action": [f"{service}:*" for service in DEPLOYER_SERVICES], "Resource": "*"}]}


def credentials_text(profiles: Mapping[str, tuple[str, str]]) -> str:
    """An AWS shared-credentials file: one ``[profile]`` per (access key id, secret)."""
    lines = ["# Written by the local cloud: one profile per stage, for its caller user, and",
             f"# [{DEPLOYER_PROFILE}], its deployer (who holds no stage's invoke policy).",
             "# Keys of the local AWS emulator only; they are worthless on AWS."]
    for profile in sorted(profiles):
        key_id, secret = profiles[profile]
        if not _USER_NAME.fullmatch(profile):
            raise CallerError(f"{profile!r} cannot name a profile: use letters, digits, _ or -")
        lines += ["", f"[{profile}]",
                  f"aws_access_key_id = {_checked_key_text(key_id, 'access key id')}",
                  f"aws_secret_access_key = {_checked_key_text(secret, 'secret access key')}"]
    return "\n".join(lines) + "\n"


def parse_credentials(text: str) -> dict[str, tuple[str, str]]:
    """(access key id, secret) by profile, from a shared-credentials file's text.
    Profiles without both keys are left out. Raises configparser.Error if unreadable."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    profiles = {}
    for profile in parser.sections():
        key_id = parser.get(profile, "aws_access_key_id", fallback="").strip()
        secret = parser.get(profile, "aws_secret_access_key", fallback="").strip()
        if key_id and secret:
            profiles[profile] = (key_id, secret)
    return profiles


def _checked_url(stage_url: str) -> str:
    if not re.fullmatch(r"https?://[A-Za-z0-9.:\[\]_~/-]+", stage_url):
        raise CallerError(f"not a stage URL: {stage_url!r}")
    return stage_url


def curl_line(region: str, access_key_id: str, secret: str, stage_url: str,
              connect_to: str | None = None) -> str:
    """A curl (7.75 or later) command that signs a GET of the stage's /users; with
    `connect_to` (HOST:PORT:ADDRESS:PORT), curl connects to ADDRESS:PORT for the URL's
    host, and signs and sends the URL's own host."""
    key = _checked_key_text(access_key_id, "access key id")
    secret = _checked_key_text(secret, "secret access key")
    stage_url = _checked_url(stage_url)
    if connect_to is not None and not re.fullmatch(r"[a-z0-9.-]+:[0-9]+:[0-9.]+:[0-9]+",
                                                   connect_to):
        raise CallerError(f"not a --connect-to argument: {connect_to!r}")
    connect = f"--connect-to {connect_to} " if connect_to else ""
    return (f'curl {connect}--aws-sigv4 "aws:amz:{region}:execute-api" --user "{key}:{secret}" '
            f"{stage_url.rstrip('/')}/users")


def awscurl_line(region: str, access_key_id: str, secret: str, stage_url: str,
                 awscurl: str = "awscurl") -> str:
    """An awscurl command that signs a GET of the stage's /users with these keys.

    awscurl 0.44 takes its keys from --access_key/--secret_key, else from
    AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else from the profile in ~/.aws/credentials
    (read by itself: AWS_SHARED_CREDENTIALS_FILE is not looked at), else from botocore's
    default chain; and a session token from AWS_SESSION_TOKEN or AWS_SECURITY_TOKEN.
    So the keys are passed as flags, and the tokens as '' (which it reads as none): an
    operator's own AWS keys or session in the environment cannot take their place."""
    key = _checked_key_text(access_key_id, "access key id")
    secret = _checked_key_text(secret, "secret access key")
    stage_url = _checked_url(stage_url)
    return (f"{shlex.quote(awscurl)} --service execute-api --region {region} --access_key {key} "
            f"--secret_key \"{secret}\" --session_token '' --security_token '' "
            f"{stage_url.rstrip('/')}/users")


def deployer_line(state_dir: str | Path) -> str:
    """Where the deployer's keys are and what it may do, for the run command's output."""
    return (f"profile {DEPLOYER_PROFILE!r} in {credentials_path(state_dir)}: IAM user "
            f"{DEPLOYER_USER}, the operator (as who runs `pulumi up` on AWS), a new key each "
            f"start; it may do every action of {', '.join(DEPLOYER_SERVICES)} in the emulator "
            "and call no stage (no execute-api) until a stage's invokePolicyArn is attached "
            "to it")


def domain_curl_line(region: str, access_key_id: str, secret: str, custom_url: str,
                     gateway_url: str) -> str:
    """The curl line of a stage's custom domain on the local gateway: the domain's URL in
    plain HTTP (the local gateway does not speak TLS), connected to the gateway's address
    with --connect-to, so no hosts-file entry is needed."""
    custom, gateway = urlsplit(custom_url), urlsplit(gateway_url)
    if not custom.hostname or not gateway.hostname or not gateway.port:
        raise CallerError(f"not a custom domain URL and a gateway URL: {custom_url!r}, "
                          f"{gateway_url!r}")
    return curl_line(region, access_key_id, secret, f"http://{custom.hostname}{custom.path}",
                     connect_to=f"{custom.hostname}:80:{gateway.hostname}:{gateway.port}")


# --- in the emulator ----------------------------------------------------------------------

def ensure_stage_caller(iam, stage: str, invoke_policy_arn: str,
                        known_key: tuple[str, str] | None = None) -> StageCaller:
    """The stage's caller user, holding exactly ``invoke_policy_arn``, with an active key.

    ``known_key`` (access key id, secret) is reused while IAM still has it active;
    idempotent: calling again with the key it returned changes nothing.
    """
    user_name = caller_user_name(stage)
    try:
        iam.get_user(UserName=user_name)
    except iam.exceptions.NoSuchEntityException:
        iam.create_user(UserName=user_name,
                        Tags=[{"Key": "localcloud:stage", "Value": stage}])
    attached = [p["PolicyArn"] for p in
                iam.list_attached_user_policies(UserName=user_name)["AttachedPolicies"]]
    if invoke_policy_arn not in attached:
        try:
            iam.attach_user_policy(UserName=user_name, PolicyArn=invoke_policy_arn)
        except ClientError as err:
            raise CallerError(
                f"cannot give {user_name} the invoke policy of stage {stage} "
                f"({invoke_policy_arn}): {err.response['Error']['Message']}; deploy the "
                "stage first, and pass its invokePolicyArn output") from err
    for arn in attached:
        if arn != invoke_policy_arn:  # e.g. the stage's previous policy
            iam.detach_user_policy(UserName=user_name, PolicyArn=arn)
    keys = iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]
    if known_key is not None and any(k["AccessKeyId"] == known_key[0] and k["Status"] == "Active"
                                     for k in keys):
        return StageCaller(stage, user_name, *known_key)
    for key in keys:  # keys whose secrets nobody has any more
        iam.delete_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"])
    created = iam.create_access_key(UserName=user_name)["AccessKey"]
    return StageCaller(stage, user_name, created["AccessKeyId"], created["SecretAccessKey"])


def credentials_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / CREDENTIALS_FILE


def read_credentials(state_dir: str | Path) -> dict[str, tuple[str, str]]:
    """The profiles of ``{state_dir}/credentials``; {} when it is missing or unreadable
    (its keys are then replaced)."""
    path = credentials_path(state_dir)
    try:
        return parse_credentials(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (configparser.Error, UnicodeDecodeError, OSError) as err:
        log.warning("%s is unreadable (%s); its stages get new keys", path, err)
        return {}


def ensure_stage_callers(cloud, state_dir: str | Path,
                         stages: Mapping[str, tuple[str, str]]) -> list[str]:
    """For each ``{stage: (invoke policy ARN, stage URL)}``: its caller and key, written to
    ``{state_dir}/credentials`` (other stages' profiles kept); returns one curl line per
    stage. ``cloud`` is anything with ``client(service)`` and ``region`` (the engine's
    Cloud, the Emulator)."""
    if DEPLOYER_PROFILE in stages:
        raise CallerError(f"a stage named {DEPLOYER_PROFILE!r} would take the profile name of "
                          "the local cloud's deployer in the credentials file; give the stage "
                          "another name (user-service:stage in its stack file)")
    iam = cloud.client("iam")
    profiles = read_credentials(state_dir)
    callers = [ensure_stage_caller(iam, stage, policy_arn, profiles.get(stage))
               for stage, (policy_arn, _) in stages.items()]
    for caller in callers:
        profiles[caller.stage] = (caller.access_key_id, caller.secret_access_key)
    write_atomic(credentials_path(state_dir), credentials_text(profiles).encode("utf-8"))
    return [curl_line(cloud.region, c.access_key_id, c.secret_access_key, stages[c.stage][1])
            for c in callers]


def make_deployer(cloud, state_dir: str | Path) -> StageCaller:
    """The deployer user with its policy and a new access key (its older keys deleted),
    written as profile ``deployer`` to ``{state_dir}/credentials`` (other profiles kept).
    ``cloud``: anything with ``client(service)``."""
    iam = cloud.client("iam")
    try:
        iam.get_user(UserName=DEPLOYER_USER)
    except iam.exceptions.NoSuchEntityException:
        iam.create_user(UserName=DEPLOYER_USER, Tags=[{"Key": "localcloud:role",
                                                       "Value": "deployer"}])
    iam.put_user_policy(UserName=DEPLOYER_USER, PolicyName=DEPLOYER_POLICY,
                        PolicyDocument=json.dumps(deployer_policy()))
    for key in iam.list_access_keys(UserName=DEPLOYER_USER)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=DEPLOYER_USER, AccessKeyId=key["AccessKeyId"])
    created = iam.create_access_key(UserName=DEPLOYER_USER)["AccessKey"]
    profiles = read_credentials(state_dir)
    profiles[DEPLOYER_PROFILE] = (created["AccessKeyId"], created["SecretAccessKey"])
    write_atomic(credentials_path(state_dir), credentials_text(profiles).encode("utf-8"))
    return StageCaller(DEPLOYER_PROFILE, DEPLOYER_USER, created["AccessKeyId"],
                       created["SecretAccessKey"])


# --- calling a stage as its caller ------------------------------------------------------

def stage_credentials(state_dir: str | Path, stage: str) -> Credentials | None:
    """The credentials of a profile in the credentials file: a stage's local caller (the
    profile named after the stage) or the deployer."""
    found = read_credentials(state_dir).get(stage)
    return Credentials(*found) if found else None
