"""AWS_IAM methods: SigV4 checked by recomputing it with botocore, callers' identity
policies evaluated, API Gateway's refusals; unit-level against the emulator's IAM, then
over real HTTP through the gateway."""
from __future__ import annotations

import datetime
import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from botocore.awsrequest import AWSRequest

from localcloud import control_plane
from localcloud.apigateway import auth
from localcloud.apigateway.auth import ReceivedRequest, Refusal
from localcloud.emulator import ACCOUNT_ID, REGION
from localcloud.iam import callers

from .builders import Caller, add_route, create_api, deploy_function, deploy_stage, \
    grant_invoke, invoke_policy, make_caller, require_iam, send, sign, suffix, uri_for

HOST = "127.0.0.1:8080"
MISMATCH = auth.SIGNATURE_MISMATCH


def received(request: AWSRequest, *, body: bytes | None = None, target: str | None = None,
             drop: tuple[str, ...] = (), replace: dict | None = None) -> ReceivedRequest:
    """The request as a server receives it (Host first, as http.client sends it)."""
    url = urlsplit(request.url)
    headers = [("Host", url.netloc)] + [(k, v) for k, v in request.headers.items()
                                        if k.lower() not in drop]
    for name, value in (replace or {}).items():
        headers = [(k, v) for k, v in headers if k.lower() != name.lower()] + [(name, value)]
    original = url.path + (f"?{url.query}" if url.query else "")
    return ReceivedRequest(request.method, target or original, headers,
                           request.body if body is None else body)


# --- unit: the decision, against the emulator's IAM ------------------------------------

@dataclass
class Directory:
    api_id: str
    plane: control_plane.ControlPlane
    dev: Caller
    test: Caller
    nobody: Caller

    def arn(self, stage: str, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{self.api_id}/{stage}/{method}/{path}"


@pytest.fixture(scope="module")
def directory(emulator) -> Directory:
    iam = emulator.client("iam")
    api_id = f"api{suffix()}"
    dev_policy = iam.create_policy(PolicyName=f"invoke-dev-{api_id}",
                                   PolicyDocument=invoke_policy(api_id, "dev"))["Policy"]["Arn"]
    test_policy = iam.create_policy(PolicyName=f"invoke-test-{api_id}",
                                    PolicyDocument=invoke_policy(api_id, "test"))["Policy"]["Arn"]
    return Directory(api_id, control_plane.for_endpoint(emulator.endpoint_url),
                     make_caller(iam, dev_policy, "dev"), make_caller(iam, test_policy, "test"),
                     make_caller(iam, None, "nobody"))


def decide(directory: Directory, request: ReceivedRequest, arn: str, **kwargs):
    return auth.authorize(request, region=REGION, resource_arn=arn, identities=directory.plane,
                          **kwargs)


def test_a_signed_request_allowed_by_the_callers_policy_passes(directory):
    body = b'{"name": "Ada"}'
    request = sign("POST", f"http://{HOST}/dev/users?x=1&a=b%2Fc&x=0", directory.dev, body,
                   headers={"Content-Type": "application/json"})
    identity = decide(directory, received(request), directory.arn("dev", "POST", "users"))
    assert identity == auth.CallerIdentity(directory.dev.key_id, ACCOUNT_ID,
                                           directory.dev.user_id, directory.dev.user_arn)
    assert identity.event_fields() == {
        "accessKey": directory.dev.key_id, "accountId": ACCOUNT_ID,
        "caller": directory.dev.user_id, "user": directory.dev.user_id,
        "userArn": directory.dev.user_arn}


def test_headers_added_after_signing_and_header_name_case_do_not_matter(directory):
    request = sign("GET", f"http://{HOST}/dev/users", directory.dev)
    as_sent = received(request)
    headers = [(k.upper() if k.lower() == "x-amz-date" else k, v) for k, v in as_sent.headers]
    headers.append(("X-Forwarded-For", "10.0.0.1"))
    relaxed = ReceivedRequest("GET", as_sent.target, headers, b"")
    assert isinstance(decide(directory, relaxed, directory.arn("dev", "GET", "users")),
                      auth.CallerIdentity)


def assert_refused(outcome, status: int, error_type: str, message: str | None = None,
                   starts: str | None = None) -> Refusal:
    assert isinstance(outcome, Refusal), outcome
    assert (outcome.status, outcome.error_type) == (status, error_type), outcome
    if message is not None:
        assert outcome.message == message
    if starts is not None:
        assert outcome.message.startswith(starts), outcome.message
    return outcome


def test_a_tampered_body_is_refused_with_what_api_gateway_calculated(directory):
    request = sign("POST", f"http://{HOST}/dev/users", directory.dev, b'{"name": "Ada"}')
    outcome = decide(directory, received(request, body=b'{"name": "Eve"}'),
                     directory.arn("dev", "POST", "users"))
    refusal = assert_refused(outcome, 403, "InvalidSignatureException", starts=MISMATCH)
    assert "\n\nThe Canonical String for this request should have been\n'POST\n/dev/users\n" \
        in refusal.message
    assert "\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in refusal.message


def test_a_declared_unsigned_payload_does_not_let_a_body_change(directory):
    request = sign("POST", f"http://{HOST}/dev/users", directory.dev, b"original",
                   headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    outcome = decide(directory, received(request, body=b"changed"),
                     directory.arn("dev", "POST", "users"))
    assert_refused(outcome, 403, "InvalidSignatureException", starts=MISMATCH)


def test_a_tampered_query_string_is_refused(directory):
    request = sign("GET", f"http://{HOST}/dev/users?limit=1", directory.dev)
    outcome = decide(directory, received(request, target="/dev/users?limit=100"),
                     directory.arn("dev", "GET", "users"))
    assert_refused(outcome, 403, "InvalidSignatureException", starts=MISMATCH)


def test_a_request_replayed_against_another_stage_is_refused(directory):
    request = sign("GET", f"http://{HOST}/dev/users", directory.dev)
    outcome = decide(directory, received(request, target="/test/users"),
                     directory.arn("test", "GET", "users"))
    assert_refused(outcome, 403, "InvalidSignatureException", starts=MISMATCH)


def test_a_signature_for_another_region_or_service_is_refused(directory):
    arn = directory.arn("dev", "GET", "users")
    other_region = sign("GET", f"http://{HOST}/dev/users", directory.dev, region="eu-west-1")
    assert_refused(decide(directory, received(other_region), arn), 403,
                   "InvalidSignatureException",
                   "Credential should be scoped to a valid region. ")
    other_service = sign("GET", f"http://{HOST}/dev/users", directory.dev, service="lambda")
    assert_refused(decide(directory, received(other_service), arn), 403,
                   "InvalidSignatureException",
                   "Credential should be scoped to correct service: 'execute-api'. ")


def test_a_signing_time_more_than_5_minutes_off_is_refused(directory):
    request = received(sign("GET", f"http://{HOST}/dev/users", directory.dev))
    arn = directory.arn("dev", "GET", "users")
    signed_at = datetime.datetime.strptime(request.header("x-amz-date"), "%Y%m%dT%H%M%SZ") \
        .replace(tzinfo=datetime.timezone.utc)
    later = signed_at + datetime.timedelta(minutes=6)
    assert_refused(decide(directory, request, arn, now=later), 403, "InvalidSignatureException",
                   f"Signature expired: {signed_at:%Y%m%dT%H%M%SZ} is now earlier than "
                   f"{signed_at + datetime.timedelta(minutes=1):%Y%m%dT%H%M%SZ} "
                   f"({later:%Y%m%dT%H%M%SZ} - 5 min.)")
    earlier = signed_at - datetime.timedelta(minutes=6)
    assert_refused(decide(directory, request, arn, now=earlier), 403, "InvalidSignatureException",
                   starts=f"Signature not yet current: {signed_at:%Y%m%dT%H%M%SZ} is still "
                          "later than")
    within = signed_at + datetime.timedelta(minutes=4, seconds=59)
    assert isinstance(decide(directory, request, arn, now=within), auth.CallerIdentity)


def test_unknown_inactive_or_token_carrying_keys_are_unrecognized(directory, emulator):
    arn = directory.arn("dev", "GET", "users")
    invalid = "The security token included in the request is invalid."
    stranger = Caller("x", "x", "x", "AKIAZZZZZZZZZZZZZZZZ", "wrong")
    unknown = sign("GET", f"http://{HOST}/dev/users", stranger)
    assert_refused(decide(directory, received(unknown), arn), 403, "UnrecognizedClientException",
                   invalid)
    with_token = sign("GET", f"http://{HOST}/dev/users", directory.dev, token="made-up")
    assert_refused(decide(directory, received(with_token), arn), 403,
                   "UnrecognizedClientException", invalid)
    iam = emulator.client("iam")
    policy = iam.list_attached_user_policies(UserName=directory.dev.user_name)[
        "AttachedPolicies"][0]["PolicyArn"]
    retired = make_caller(iam, policy, "retired")
    iam.update_access_key(UserName=retired.user_name, AccessKeyId=retired.key_id,
                          Status="Inactive")
    inactive = sign("GET", f"http://{HOST}/dev/users", retired)
    assert_refused(decide(directory, received(inactive), arn), 403,
                   "UnrecognizedClientException", invalid)


def test_a_wrong_secret_is_a_signature_mismatch(directory):
    forged = Caller("x", "x", "x", directory.dev.key_id, "not-the-secret")
    request = sign("GET", f"http://{HOST}/dev/users", forged)
    assert_refused(decide(directory, received(request), directory.arn("dev", "GET", "users")),
                   403, "InvalidSignatureException", starts=MISMATCH)


def test_unsigned_requests_are_missing_a_token(directory):
    arn = directory.arn("dev", "GET", "users")
    for headers in ([("Host", HOST)], [("Host", HOST), ("Authorization", "  ")]):
        assert_refused(decide(directory, ReceivedRequest("GET", "/dev/users", headers, b""), arn),
                       403, "MissingAuthenticationTokenException", "Missing Authentication Token")


@pytest.mark.parametrize("authorization,message", [
    ("Bearer abc.def", "'abc.def' not a valid key=value pair (missing equal-sign) in "
                       "Authorization header: 'Bearer abc.def'."),
    ("eyJhbGciOiJIUzI1NiJ9", "Authorization header requires 'Credential' parameter. "
                             "Authorization header requires 'Signature' parameter. "
                             "Authorization header requires 'SignedHeaders' parameter. "
                             "Authorization=eyJhbGciOiJIUzI1NiJ9"),
    ("AWS4-HMAC-SHA256 Credential=AKIAX/20260101/us-east-1/execute-api/aws4_request, "
     "Signature=00", "Authorization header requires 'SignedHeaders' parameter. "
                     "Authorization=AWS4-HMAC-SHA256 Credential=AKIAX/20260101/us-east-1/"
                     "execute-api/aws4_request, Signature=00"),
])
def test_malformed_authorization_headers_are_incomplete(directory, authorization, message):
    request = ReceivedRequest("GET", "/dev/users", [
        ("Host", HOST), ("Authorization", authorization),
        ("X-Amz-Date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"))],
        b"")
    assert_refused(decide(directory, request, directory.arn("dev", "GET", "users")), 403,
                   "IncompleteSignatureException", message)


def test_missing_or_malformed_dates_and_credentials_are_refused(directory):
    arn = directory.arn("dev", "GET", "users")
    signed = sign("GET", f"http://{HOST}/dev/users", directory.dev)
    no_date = decide(directory, received(signed, drop=("x-amz-date",)), arn)
    assert_refused(no_date, 403, "IncompleteSignatureException",
                   starts="Authorization header requires existence of either a 'X-Amz-Date' or "
                          "a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=")
    bad_date = decide(directory, received(signed, replace={"X-Amz-Date": "yesterday"}), arn)
    assert_refused(bad_date, 403, "IncompleteSignatureException",
                   "Date must be in ISO-8601 'basic format'. Got 'yesterday'. "
                   "See http://en.wikipedia.org/wiki/ISO_8601")
    authorization = signed.headers["Authorization"]
    short = authorization.replace("/us-east-1/execute-api/aws4_request", "")
    outcome = decide(directory, received(signed, replace={"Authorization": short}), arn)
    assert_refused(outcome, 403, "IncompleteSignatureException",
                   starts="Credential must have exactly 5 slash-delimited elements")
    unsigned_host = authorization.replace("SignedHeaders=host;x-amz-date",
                                          "SignedHeaders=x-amz-date")
    assert unsigned_host != authorization
    outcome = decide(directory, received(signed, replace={"Authorization": unsigned_host}), arn)
    assert_refused(outcome, 403, "InvalidSignatureException",
                   "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")


def scoped(authorization: str, *, date: str | None = None, region: str | None = None,
           service: str | None = None, terminator: str | None = None) -> str:
    """An Authorization header with parts of its credential scope replaced by hand."""
    credential = authorization.split("Credential=", 1)[1].split(",", 1)[0]
    key, *scope = credential.split("/")
    for index, part in enumerate((date, region, service, terminator)):
        if part is not None:
            scope[index] = part
    return authorization.replace(credential, "/".join([key, *scope]))


def test_the_credential_scope_must_match_the_request_in_every_part(directory):
    arn = directory.arn("dev", "GET", "users")
    signed = sign("GET", f"http://{HOST}/dev/users", directory.dev)
    timestamp = signed.headers["X-Amz-Date"]
    authorization = signed.headers["Authorization"]
    assert f"/{timestamp[:8]}/{REGION}/execute-api/aws4_request," in authorization
    cases = {
        "date": ({"date": "20200101"},
                 "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                 f"date from HTTP: '20200101' != '{timestamp[:8]}', from '{timestamp}'."),
        "terminator": ({"terminator": "aws5_request"},
                       "Credential should be scoped with a valid terminator: 'aws4_request', "
                       "not 'aws5_request'. "),
        "all four": ({"date": "20200101", "region": "eu-west-1", "service": "s3",
                      "terminator": "x"},
                     "Credential should be scoped to a valid region. Credential should be "
                     "scoped to correct service: 'execute-api'. Credential should be scoped "
                     "with a valid terminator: 'aws4_request', not 'x'. Date in Credential "
                     "scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                     f"'20200101' != '{timestamp[:8]}', from '{timestamp}'."),
    }
    for parts, message in cases.values():
        altered = received(signed, replace={"Authorization": scoped(authorization, **parts)})
        assert_refused(decide(directory, altered, arn), 403, "InvalidSignatureException", message)


class Unreadable:
    """Policies the evaluator cannot read, each beside one that allows everything."""
    ALLOW_ALL = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:*", "Resource": "*"}]}
    DOCUMENTS = {
        "an operator not modelled": {"Statement": [{
            "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*",
            "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}]},
        "a condition that is a list": {"Statement": [{
            "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*",
            "Condition": ["aws:SourceIp"]}]},
        "an action that is an object": {"Statement": [{
            "Effect": "Deny", "Action": {"execute-api": "Invoke"}, "Resource": "*"}]},
        "not JSON": "{Statement: [",
        "a policy variable": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Action": "execute-api:Invoke",
            "Resource": "arn:aws:execute-api:*:*:*/${aws:username}/*"}]},
    }


@pytest.mark.parametrize("case", sorted(Unreadable.DOCUMENTS))
def test_a_policy_that_cannot_be_evaluated_refuses_the_request(case):
    arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:api/dev/GET/users"
    allowed = auth.identity_decision([Unreadable.ALLOW_ALL], arn, {}, "arn:aws:iam::1:user/u")
    assert allowed.allowed
    for policies in ([Unreadable.ALLOW_ALL, Unreadable.DOCUMENTS[case]],
                     [Unreadable.DOCUMENTS[case], Unreadable.ALLOW_ALL]):
        decision = auth.identity_decision(policies, arn, {}, "arn:aws:iam::1:user/u")
        assert decision.result == "ImplicitDeny"


def test_a_deny_the_evaluator_cannot_read_is_not_skipped(directory, emulator):
    # IAM takes ForAnyValue: (this Deny matches every caller), the local evaluator does
    # not model it: the caller is refused rather than let through on its Allow.
    iam = emulator.client("iam")
    caller = make_caller(iam, iam.list_attached_user_policies(UserName=directory.dev.user_name)[
        "AttachedPolicies"][0]["PolicyArn"], "unreadable")
    request = received(sign("GET", f"http://{HOST}/dev/users", caller))
    arn = directory.arn("dev", "GET", "users")
    assert isinstance(decide(directory, request, arn), auth.CallerIdentity)
    iam.put_user_policy(UserName=caller.user_name, PolicyName="deny-everyone",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                            "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*",
                            "Condition": {"ForAnyValue:StringLike": {"aws:username": "*"}}}]}))
    assert_refused(decide(directory, request, arn), 403, "AccessDeniedException")


def test_a_caller_is_allowed_its_own_stage_only(directory):
    request = sign("GET", f"http://{HOST}/test/users/u-1", directory.dev)
    arn = directory.arn("test", "GET", "users/u-1")
    masked_account = f"********{ACCOUNT_ID[-4:]}"
    user_arn = directory.dev.user_arn.replace(ACCOUNT_ID, masked_account)
    refusal = assert_refused(
        decide(directory, received(request), arn), 403, "AccessDeniedException",
        f"User: {user_arn} is not authorized to perform: execute-api:Invoke on resource: "
        f"{arn.replace(ACCOUNT_ID, masked_account)}")
    assert refusal.spec == (403, {"Message": refusal.message}, "AccessDeniedException")
    own = sign("GET", f"http://{HOST}/test/users/u-1", directory.test)
    assert isinstance(decide(directory, received(own), arn), auth.CallerIdentity)
    nobody = sign("GET", f"http://{HOST}/dev/users", directory.nobody)
    assert_refused(decide(directory, received(nobody), directory.arn("dev", "GET", "users")),
                   403, "AccessDeniedException")


def test_an_explicit_deny_in_a_group_policy_wins(directory, emulator):
    iam = emulator.client("iam")
    policy = iam.list_attached_user_policies(UserName=directory.test.user_name)[
        "AttachedPolicies"][0]["PolicyArn"]
    caller = make_caller(iam, policy, "denied")
    group = f"no-test-{suffix()}"
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="deny",
                         PolicyDocument=invoke_policy(directory.api_id, "test", "Deny"))
    arn = directory.arn("test", "GET", "users")
    request = received(sign("GET", f"http://{HOST}/test/users", caller))
    assert isinstance(decide(directory, request, arn), auth.CallerIdentity)
    iam.add_user_to_group(GroupName=group, UserName=caller.user_name)
    assert_refused(decide(directory, request, arn), 403, "AccessDeniedException")
    assert decide(directory, request, arn).message.endswith(" with an explicit deny")


def test_mask_account_hides_all_but_the_last_four_digits():
    assert auth.mask_account("arn:aws:iam::123456789012:user/a") == \
        "arn:aws:iam::********9012:user/a"
    assert auth.mask_account("anonymous") == "anonymous"


# --- over HTTP through the gateway ---------------------------------------------------

@dataclass
class World:
    api_id: str
    dev: str
    test: str
    table: str
    dev_caller: Caller
    test_caller: Caller
    dev_policy: str


@pytest.fixture(scope="module")
def world(emulator, state_dir) -> World:
    s = suffix()
    dev, test = f"dev{s}", f"test{s}"
    users_fn = deploy_function(emulator, state_dir, handler="app.users", prefix=f"a{s}-")
    echo_fn = deploy_function(emulator, state_dir, handler="app.echo", prefix=f"ae{s}-")
    apigw, lam, iam = (emulator.client(n) for n in ("apigateway", "lambda", "iam"))
    api = create_api(apigw, {"/users": ["GET"], "/users/{id}": ["GET", "PUT"]},
                     name=f"iam-{s}")
    add_route(apigw, api, "/echo/{proxy+}", ["ANY"], uri=uri_for("echoFunction"))
    policies = {}
    for stage in (dev, test):
        deployment = deploy_stage(apigw, state_dir, api, stage,
                                  {"functionName": users_fn.name, "echoFunction": echo_fn.name})
        require_iam(state_dir, deployment)
        grant_invoke(lam, users_fn.name, api.id, stage, "*", "users*")
        grant_invoke(lam, echo_fn.name, api.id, stage, "*", "echo/*")
        policies[stage] = iam.create_policy(PolicyName=f"invoke-{stage}",
                                            PolicyDocument=invoke_policy(api.id, stage)
                                            )["Policy"]["Arn"]
    return World(api.id, dev, test, users_fn.table, make_caller(iam, policies[dev], "dev"),
                 make_caller(iam, policies[test], "test"), policies[dev])


def stored(emulator, world: World, user_id: str) -> bool:
    item = emulator.client("dynamodb").get_item(TableName=world.table,
                                                Key={"id": {"S": user_id}})
    return "Item" in item


def test_a_signed_call_from_the_stages_caller_reaches_the_function(gateway, world, emulator):
    url = f"{gateway.url}/{world.dev}/users/ann"
    response = send(gateway, sign("PUT", url, world.dev_caller, b"Ann"))
    assert response.status == 201, response.body
    assert stored(emulator, world, "ann")
    got = send(gateway, sign("GET", url, world.dev_caller))
    assert got.status == 200 and got.json() == {"id": "ann", "name": "Ann"}


def test_the_proxy_event_carries_the_callers_identity(gateway, world):
    response = send(gateway, sign("GET", f"{gateway.url}/{world.dev}/echo/me", world.dev_caller))
    assert response.status == 200, response.body
    identity = response.json()["event"]["requestContext"]["identity"]
    assert identity["accessKey"] == world.dev_caller.key_id
    assert identity["accountId"] == ACCOUNT_ID
    assert identity["caller"] == identity["user"] == world.dev_caller.user_id
    assert identity["userArn"] == world.dev_caller.user_arn
    assert identity["sourceIp"] == "127.0.0.1"


@pytest.mark.parametrize("case", ["unsigned", "tampered", "expired", "unknown key",
                                  "other stage's caller", "replayed on another stage"])
def test_refused_calls_never_reach_the_function(gateway, world, emulator, monkeypatch, case):
    user_id = f"u-{suffix()}"
    url = f"{gateway.url}/{world.dev}/users/{user_id}"
    path = None
    if case == "unsigned":
        request = AWSRequest(method="PUT", url=url, data=b"Eve")
    elif case == "tampered":
        request = sign("PUT", url, world.dev_caller, b"Ann")
    elif case == "expired":
        ten_minutes_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
            minutes=10)
        monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: ten_minutes_ago)
        request = sign("PUT", url, world.dev_caller, b"Eve")
    elif case == "unknown key":
        request = sign("PUT", url, Caller("x", "x", "x", "AKIAZZZZZZZZZZZZZZZZ", "x"), b"Eve")
    elif case == "other stage's caller":
        request = sign("PUT", url, world.test_caller, b"Eve")
    else:  # signed for test, sent to dev
        request = sign("PUT", url.replace(f"/{world.dev}/", f"/{world.test}/"),
                       world.test_caller, b"Eve")
        path = f"/{world.dev}/users/{user_id}"
    response = send(gateway, request, body=b"Eve", path=path)
    expected = {"unsigned": ("MissingAuthenticationTokenException", "message"),
                "tampered": ("InvalidSignatureException", "message"),
                "expired": ("InvalidSignatureException", "message"),
                "unknown key": ("UnrecognizedClientException", "message"),
                "other stage's caller": ("AccessDeniedException", "Message"),
                "replayed on another stage": ("InvalidSignatureException", "message")}[case]
    assert response.status == 403, response.body
    assert response.headers["x-amzn-ErrorType"] == expected[0]
    assert set(response.json()) == {expected[1]}
    assert response.headers["x-amzn-RequestId"]
    assert not stored(emulator, world, user_id)


@pytest.mark.parametrize("part,value,message", [
    ("date", "20200101", "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                         "version of date from HTTP: '20200101' != '{date}', from '{timestamp}'."),
    ("terminator", "aws5_request", "Credential should be scoped with a valid terminator: "
                                   "'aws4_request', not 'aws5_request'. "),
])
def test_a_hand_altered_credential_scope_is_refused_over_http(gateway, world, emulator, part,
                                                              value, message):
    user_id = f"u-{suffix()}"
    request = sign("PUT", f"{gateway.url}/{world.dev}/users/{user_id}", world.dev_caller, b"Ann")
    timestamp = request.headers["X-Amz-Date"]
    altered = scoped(request.headers["Authorization"], **{part: value})
    response = send(gateway, request, headers={"Authorization": altered})
    assert response.status == 403, response.body
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert response.json() == {"message": message.format(date=timestamp[:8],
                                                         timestamp=timestamp)}
    assert not stored(emulator, world, user_id)
    assert send(gateway, request).status == 201  # the same request, as signed


def test_a_curl_line_from_callers_works_for_its_stage(gateway, world, state_dir, emulator):
    curl = shutil.which("curl")
    version = subprocess.run([curl, "--version"], capture_output=True, text=True).stdout if curl \
        else ""
    parts = version.split()[1].split(".") if version else []
    if not curl or tuple(int(p) for p in parts[:2]) < (7, 75):
        pytest.skip("needs curl 7.75 or later (--aws-sigv4)")
    stage_url = f"{gateway.url}/{world.dev}"
    [line] = callers.ensure_stage_callers(emulator, state_dir, {world.dev: (world.dev_policy,
                                                                            stage_url)})
    done = subprocess.run(shlex.split(line) + ["-s", "-w", "\n%{http_code}"],
                          capture_output=True, text=True, timeout=30)
    body, _, status = done.stdout.rpartition("\n")
    assert status == "200", done.stdout + done.stderr
    assert isinstance(json.loads(body), list)
    unsigned = subprocess.run([curl, "-s", "-w", "\n%{http_code}", f"{stage_url}/users"],
                              capture_output=True, text=True, timeout=30)
    assert unsigned.stdout.rpartition("\n")[2] == "403"


header_text = st.text(st.characters(blacklist_characters="\r\n", max_codepoint=0x2FF),
                      max_size=120)


@settings(max_examples=300, deadline=None)
@given(authorization=st.one_of(header_text, st.builds(
           lambda cred, signed, sig: f"AWS4-HMAC-SHA256 Credential={cred}, "
                                     f"SignedHeaders={signed}, Signature={sig}",
           header_text, header_text, header_text)),
       amz_date=st.one_of(st.none(), header_text, st.just("20260101T000000Z")),
       date=st.one_of(st.none(), header_text),
       target=st.from_regex(r"/dev/[A-Za-z0-9%./?&=_-]{0,30}", fullmatch=True))
def test_any_malformed_signing_input_is_a_403_never_an_error(directory, authorization, amz_date,
                                                              date, target):
    headers = [("Host", HOST), ("Authorization", authorization)]
    headers += [("X-Amz-Date", amz_date)] if amz_date is not None else []
    headers += [("Date", date)] if date is not None else []
    outcome = decide(directory, ReceivedRequest("GET", target, headers, b""),
                     directory.arn("dev", "GET", "users"))
    assert isinstance(outcome, Refusal) and outcome.status == 403
    assert outcome.error_type in {"MissingAuthenticationTokenException",
                                  "IncompleteSignatureException", "InvalidSignatureException",
                                  "UnrecognizedClientException"}
